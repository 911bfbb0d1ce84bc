#!/usr/bin/env bash
# Installs the programs the DeltaSnap integration tests need on Debian 12 (run as root).
# Idempotent: when every command and library is already present, apt is not touched.
set -euo pipefail

# command -> Debian package providing it
declare -A CMD_PKG=(
  [xxhsum]=xxhash
  [rsync]=rsync
  [zfs-fuse]=zfs-fuse
  [zpool]=zfs-fuse
  [zfs]=zfs-fuse
  [mkfs.btrfs]=btrfs-progs
  [btrfs]=btrfs-progs
  [ceph-mon]=ceph-mon
  [ceph-osd]=ceph-osd
  [ceph]=ceph-common
  [ceph-authtool]=ceph-common
  [monmaptool]=ceph-common
  [rbd]=ceph-common
  [losetup]=mount
  [mount]=mount
  [truncate]=coreutils
  [timeout]=coreutils
  [setsid]=util-linux
  [python3]=python3
  [sshd]=openssh-server      # the ssh transport's tests run a real sshd on a loopback port
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
  [ip]=iproute2              # two hosts in network namespaces (Remote.Network tests)
  [nsenter]=util-linux
  [openssl]=openssl          # test certificates
  [clang]=clang # the Native AOT compiler's linker: scripts/pack.sh packs the linux-x64 tool as Native AOT with it
)
# packages checked with dpkg -s (libraries have no command)
LIB_PKGS=(librbd1 librados2 zlib1g-dev)

missing=()
for cmd in "${!CMD_PKG[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing+=("${CMD_PKG[$cmd]}")
  fi
done
for pkg in "${LIB_PKGS[@]}"; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all dependencies already present, nothing to do"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root; cannot install" >&2
  exit 1
fi

# unique, sorted package list
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "install-deps: installing ${pkgs[*]}"
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "install-deps: installed ${#pkgs[@]} package(s) in $((SECONDS - start)) s"
