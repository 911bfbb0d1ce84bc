#!/usr/bin/env bash
# Starts the real storage backends for the DeltaSnap integration tests under RUN_DIR
# and writes RUN_DIR/env.sh. Usage: up.sh RUN_DIR   (keep RUN_DIR short, e.g. /tmp/dsb)
#
# Env:  DELTASNAP_BACKENDS  comma list of zfs,btrfs,ceph (default: all)
#                           ("all" and "none" are accepted too)
#       DELTASNAP_SMOKE=1   run smoke.sh RUN_DIR afterwards
#       DELTASNAP_ZFS_POOL_GIB, DELTASNAP_BTRFS_GIB  sizes of the sparse pool/file-system images (default 1)
# Each backend starts independently (in parallel); a backend that is already up in
# RUN_DIR is torn down and started afresh. Exit status is non-zero when any requested
# backend failed; env.sh still lists every backend that did come up.
set -euo pipefail
set +m # no job control: background jobs must not become process-group leaders (setsid)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$SCRIPT_DIR/lib.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 RUN_DIR" >&2
  exit 2
fi
RUN=$(ds_abspath "$1")
RUN=${RUN%/}
cd / # never keep a mount point below RUN_DIR busy (daemons inherit the cwd)
if [[ "$RUN" =~ [[:space:]] ]]; then
  ds_err "RUN_DIR must not contain white space: '$RUN'"
  exit 2
fi
# longest socket path: RUN/ceph/mon.a.asok (+ NUL) must fit in sun_path (108 bytes)
if [ $((${#RUN} + 20)) -gt 107 ]; then
  ds_err "RUN_DIR '$RUN' is too long (unix socket paths are limited to 108 bytes); use e.g. /tmp/dsb"
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  ds_err "up.sh must run as root (zfs-fuse, loop mounts)"
  exit 2
fi

# A sourced env.sh from an earlier run must not leak into the daemons we start.
unset CEPH_CONF CEPH_KEYRING CEPH_ARGS

backends_list=${DELTASNAP_BACKENDS:-all}
backends_list=${backends_list//[[:space:]]/}
case "$backends_list" in
  all) backends_list=zfs,btrfs,ceph ;;
  none) backends_list= ;;
esac
IFS=, read -r -a WANTED <<<"$backends_list"
for b in "${WANTED[@]}"; do
  case "$b" in
    zfs | btrfs | ceph) ;;
    *)
      ds_err "unknown backend '$b' in DELTASNAP_BACKENDS (use zfs,btrfs,ceph)"
      exit 2
      ;;
  esac
done

mkdir -p "$RUN/logs" "$RUN/env.d"

# ---------------------------------------------------------------------- ZFS
start_zfs() {
  local t0 pid i pool
  t0=$(ds_now)
  rm -f "$RUN/env.d/zfs.sh"
  mkdir -p "$RUN/zfs"

  pid=$(ds_read_pid "$RUN/zfs-fuse.pid")
  if [ -n "$pid" ] && ds_proc_alive "$pid" zfs-fuse && ds_zfs_answers; then
    echo "zfs: reusing running zfs-fuse (pid $pid)"
  elif ds_zfs_answers; then
    # a zfs-fuse we did not start (another run dir, or a crashed run): only one
    # can run per machine, so use it; down.sh will not stop it
    rm -f "$RUN/zfs-fuse.pid"
    echo "zfs: using an already running zfs-fuse that this run dir did not start"
  else
    rm -f "$RUN/zfs-fuse.pid"
    ds_zfs_umount_stale
    (exec setsid zfs-fuse --no-daemon --no-kstat-mount </dev/null >>"$RUN/logs/zfs-fuse.log" 2>&1) &
    pid=$!
    echo "$pid" >"$RUN/zfs-fuse.pid"
    for ((i = 0; i < 200; i++)); do # up to 10 s
      ds_zfs_answers && break
      if ! ds_proc_alive "$pid"; then
        echo "zfs-fuse exited during start-up; see $RUN/logs/zfs-fuse.log" >&2
        cat "$RUN/logs/zfs-fuse.log" >&2 || true
        return 1
      fi
      sleep 0.05
    done
    if ! ds_zfs_answers; then
      echo "zfs-fuse (pid $pid) did not answer 'zpool list' within 10 s" >&2
      return 1
    fi
    echo "zfs: zfs-fuse started (pid $pid) in $(ds_since "$t0") s"
  fi

  # the pool names are fixed: whatever holds them now is a leftover
  ds_zfs_destroy_pools "$RUN" any
  # 1 GiB pools suit the tests; the 1 GiB benchmarks need more (DELTASNAP_ZFS_POOL_GIB).
  local pool_gib=${DELTASNAP_ZFS_POOL_GIB:-1}
  if ! [[ "$pool_gib" =~ ^[0-9]+$ ]] || [ "$pool_gib" -lt 1 ]; then
    ds_err "DELTASNAP_ZFS_POOL_GIB must be a whole number of GiB, at least 1: '$pool_gib'"
    return 1
  fi
  for pool in "${DS_ZFS_POOLS[@]}"; do
    rm -f "$RUN/zfs/$pool.img"
    truncate -s "${pool_gib}G" "$RUN/zfs/$pool.img"
    # cachefile=none: a crashed run leaves nothing for the next zfs-fuse to import
    zpool create -f -o cachefile=none "$pool" "$RUN/zfs/$pool.img" 2>&1 |
      grep -v 'Defaulting to 4K blocksize' || true
    zpool list -H "$pool" >/dev/null
  done

  {
    ds_export DELTASNAP_ZFS_POOL_A "${DS_ZFS_POOLS[0]}"
    ds_export DELTASNAP_ZFS_POOL_B "${DS_ZFS_POOLS[1]}"
  } >"$RUN/env.d/zfs.sh"
  echo "zfs: pools ${DS_ZFS_POOLS[*]} ready (mounted at /${DS_ZFS_POOLS[0]}, /${DS_ZFS_POOLS[1]}) in $(ds_since "$t0") s"
}

# ---------------------------------------------------------------------- Btrfs
# btrfs_loop_mount IMG MNT: attach IMG to a free loop device and mount it, retrying: another process can
# take the device that `losetup -f` named before we attach it, and a kernel that was booted with few loop
# devices may hand out one whose /dev node does not exist yet (made here with mknod).
btrfs_loop_mount() {
  local img=$1 mnt=$2 attempt loop free minor
  modprobe btrfs 2>/dev/null || true
  modprobe loop 2>/dev/null || true
  for attempt in 1 2 3 4 5; do
    free=$(losetup -f 2>/dev/null || true)
    if [ -n "$free" ] && [ ! -e "$free" ] && [[ "$free" =~ ^/dev/loop([0-9]+)$ ]]; then
      minor=${BASH_REMATCH[1]}
      mknod "$free" b 7 "$minor" 2>/dev/null || true
    fi
    if loop=$(losetup --find --show "$img" 2>>"$RUN/logs/btrfs-losetup.log"); then
      if mount -t btrfs "$loop" "$mnt" 2>>"$RUN/logs/btrfs-mount.log" && ds_is_mounted "$mnt"; then
        return 0
      fi
      losetup -d "$loop" 2>/dev/null || true
    fi
    echo "btrfs: attempt $attempt to mount $img on a loop device failed; retrying" >&2
    sleep "$attempt"
  done
  {
    echo "btrfs: could not mount $img on $mnt after 5 attempts"
    echo "--- losetup errors:"; cat "$RUN/logs/btrfs-losetup.log" 2>/dev/null || true
    echo "--- mount errors:"; cat "$RUN/logs/btrfs-mount.log" 2>/dev/null || true
    echo "--- loop devices:"; losetup -a 2>&1 || true; ls -l /dev/loop* 2>&1 | head -20 || true
    echo "--- btrfs in /proc/filesystems:"; grep btrfs /proc/filesystems || echo "(absent)"
    echo "--- kernel log:"; dmesg 2>/dev/null | tail -n 20 || true
  } >&2
  return 1
}

start_btrfs() {
  local t0 n img mnt
  t0=$(ds_now)
  ds_btrfs_stop "$RUN"
  mkdir -p "$RUN/btrfs"
  for n in "${DS_BTRFS_NAMES[@]}"; do
    img="$RUN/btrfs/$n.img"
    mnt="$RUN/btrfs-$n"
    truncate -s "${DELTASNAP_BTRFS_GIB:-1}G" "$img"
    mkfs.btrfs -q -f "$img" >/dev/null
    mkdir -p "$mnt"
    btrfs_loop_mount "$img" "$mnt"
  done
  {
    ds_export DELTASNAP_BTRFS_MOUNT_A "$RUN/btrfs-a"
    ds_export DELTASNAP_BTRFS_MOUNT_B "$RUN/btrfs-b"
  } >"$RUN/env.d/btrfs.sh"
  echo "btrfs: $RUN/btrfs-a and $RUN/btrfs-b mounted in $(ds_since "$t0") s"
}

# ---------------------------------------------------------------------- Ceph
# ceph_wait_asok ASOK COMMAND STATE PID TIMEOUT: poll a daemon's admin socket until
# the "state" field of COMMAND's JSON answer is STATE. Fails early when PID dies.
# (Talks the admin-socket protocol directly: a `ceph --admin-daemon` call costs ~0.2 s.)
ceph_wait_asok() {
  python3 - "$@" <<'PY'
import json, socket, struct, sys, time
path, command, want, pid, timeout = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])

def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X", "x")
    except OSError:
        return False

def ask():
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(path)
        s.sendall(json.dumps({"prefix": command}).encode() + b"\0")
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("short answer")
            buf += chunk
        return json.loads(buf[4:4 + struct.unpack(">I", buf[:4])[0]])

deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if not alive():
        sys.exit(2)
    try:
        if ask().get("state") == want:
            sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.05)
sys.exit(1)
PY
}

# 1 mon + 1 OSD (bluestore on a sparse file) on 127.0.0.1, cephx on, no mgr.
start_ceph() {
  local t0 D fsid osd_uuid p1 p2 mon_pid osd_pid mkfs_pid i pool
  t0=$(ds_now)
  D="$RUN/ceph"
  ds_ceph_stop "$RUN"
  mkdir -p "$D/log" "$D/run" "$D/crash" "$D/mon.a" "$D/osd.0"

  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  # two free loopback ports (msgr v2 and v1) for the mon
  read -r p2 p1 < <(python3 -c '
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))')

  # The OSD's bluestore lives on a sparse file; 8 GiB suits the tests, 16 GiB the 1 GiB benchmarks.
  # The file sits on a disk the OSD takes for rotational, where it sleeps 5 s between snapshot trims
  # (osd snap trim sleep hdd; 'osd snap trim sleep = 0' only means "use the device's value"): deleted
  # snapshots then kept their space for minutes and two benchmark runs filled 48 GiB. No sleep here.
  local osd_gib=${DELTASNAP_CEPH_OSD_GIB:-8}
  if ! [[ "$osd_gib" =~ ^[0-9]+$ ]] || [ "$osd_gib" -lt 2 ]; then
    ds_err "DELTASNAP_CEPH_OSD_GIB must be a whole number of GiB, at least 2: '$osd_gib'"
    return 1
  fi
  cat >"$D/ceph.conf" <<EOF
# Throw-away single-node test cluster written by scripts/backends/up.sh
[global]
fsid = $fsid
mon initial members = a
mon host = [v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $D/run
crash dir = $D/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false

[mon]
mon data = $D/mon.a
keyring = $D/mon.a/keyring
admin socket = $D/mon.a.asok
log file = $D/log/mon.a.log
mon cluster log file = $D/log/cluster.log
paxos propose interval = 0.1
mon data avail warn = 2
mon data avail crit = 1

[osd]
osd data = $D/osd.0
keyring = $D/osd.0.keyring
admin socket = $D/osd.0.asok
log file = $D/log/osd.0.log
osd objectstore = bluestore
bluestore block path = $D/osd.0.block
bluestore block create = true
bluestore block size = $((osd_gib << 30))
bdev aio poll ms = 10
osd snap trim sleep hdd = 0
osd snap trim sleep hybrid = 0
osd memory target = 1073741824

[client]
keyring = $D/client.admin.keyring
rados osd op timeout = 60
rados mon op timeout = 60
client mount timeout = 30
EOF

  local C=(-c "$D/ceph.conf")
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/osd.0.keyring" --gen-key -n osd.0 \
    --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/client.admin.keyring" >/dev/null
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/osd.0.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]" "$D/monmap" >/dev/null
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring" \
    >"$D/log/mon.a.mkfs.out" 2>&1
  # OSD mkfs needs no running mon: run it while the mon starts
  ceph-osd "${C[@]}" --mkfs -i 0 --osd-uuid "$osd_uuid" --monmap "$D/monmap" --no-mon-config \
    >"$D/log/osd.0.mkfs.out" 2>&1 &
  mkfs_pid=$!

  (exec setsid ceph-mon "${C[@]}" -f -i a </dev/null >"$D/log/mon.a.out" 2>&1) &
  mon_pid=$!
  echo "$mon_pid" >"$D/mon.a.pid"

  # the first client command doubles as the wait for the mon's quorum
  if ! timeout 30 ceph "${C[@]}" --connect-timeout 25 osd new "$osd_uuid" 0 >/dev/null 2>"$D/log/setup.err"; then
    echo "ceph: mon did not come up (or 'osd new' failed); see $D/log/mon.a.log and $D/log/setup.err" >&2
    cat "$D/log/setup.err" >&2 || true
    wait "$mkfs_pid" || true
    return 1
  fi
  echo "ceph: mon up (pid $mon_pid, v2 port $p2, v1 port $p1) in $(ds_since "$t0") s"

  if ! wait "$mkfs_pid"; then
    echo "ceph: ceph-osd --mkfs failed; see $D/log/osd.0.mkfs.out and $D/log/osd.0.log" >&2
    tail -n 20 "$D/log/osd.0.mkfs.out" >&2 || true
    return 1
  fi
  (exec setsid ceph-osd "${C[@]}" -f -i 0 </dev/null >"$D/log/osd.0.out" 2>&1) &
  osd_pid=$!
  echo "$osd_pid" >"$D/osd.0.pid"

  # pools can be created while the OSD boots
  timeout 30 ceph "${C[@]}" --connect-timeout 25 osd pool create rbd 8 8 replicated >/dev/null 2>>"$D/log/setup.err"
  timeout 30 ceph "${C[@]}" --connect-timeout 25 osd pool create rbd2 8 8 replicated >/dev/null 2>>"$D/log/setup.err"

  # Wait until the OSD itself reports "active" (booted and marked up). Running an rbd
  # client before that costs ~5 s: its op waits for the objecter's next tick.
  if ! ceph_wait_asok "$D/osd.0.asok" status active "$osd_pid" 60; then
    echo "ceph: ceph-osd did not become active; see $D/log/osd.0.log and $D/log/osd.0.out" >&2
    tail -n 20 "$D/log/osd.0.out" >&2 || true
    return 1
  fi
  echo "ceph: osd.0 active (pid $osd_pid) in $(ds_since "$t0") s"

  for pool in rbd rbd2; do
    if ! timeout 60 rbd "${C[@]}" pool init "$pool" 2>>"$D/log/setup.err"; then
      if ! ds_proc_alive "$osd_pid"; then
        echo "ceph: ceph-osd exited; see $D/log/osd.0.log and $D/log/osd.0.out" >&2
        tail -n 20 "$D/log/osd.0.out" >&2 || true
      else
        echo "ceph: 'rbd pool init $pool' failed; see $D/log/setup.err and $D/log/osd.0.log" >&2
      fi
      return 1
    fi
  done
  for i in "$mon_pid:ceph-mon" "$osd_pid:ceph-osd"; do
    if ! ds_proc_alive "${i%%:*}" "${i##*:}"; then
      echo "ceph: ${i##*:} (pid ${i%%:*}) is not running; see $D/log/" >&2
      return 1
    fi
  done

  {
    ds_export CEPH_CONF "$D/ceph.conf"
    ds_export CEPH_KEYRING "$D/client.admin.keyring"
    ds_export DELTASNAP_CEPH_POOL_A rbd
    ds_export DELTASNAP_CEPH_POOL_B rbd2
  } >"$D/../env.d/ceph.sh"
  echo "ceph: cluster up (mon pid $mon_pid, osd pid $osd_pid), pools rbd and rbd2 initialised in $(ds_since "$t0") s"
}

# ---------------------------------------------------------------------- main
T0=$(ds_now)
echo "up.sh: starting ${WANTED[*]:-no backend} under $RUN"
declare -A JOB
for b in "${WANTED[@]}"; do
  (
    # A backend that fails to start is started once more (each start_* tears down what it finds first):
    # CI must not lose a whole backend's tests to one transient failure.
    for try in 1 2; do
      rc=0
      (
        set -eE
        trap 'rc=$?; [[ $BASH_COMMAND == return* ]] || echo "$b: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR
        "start_$b"
      ) &
      wait $! || rc=$? # (run apart, not in an || list, where bash would ignore set -e)
      [ "$rc" -eq 0 ] && exit 0
      [ "$try" -eq 1 ] && echo "$b: start-up failed (exit $rc); trying once more" >&2
    done
    exit "$rc"
  ) >"$RUN/logs/up-$b.log" 2>&1 &
  JOB[$b]=$!
done

FAILED=()
for b in "${WANTED[@]}"; do
  rc=0
  wait "${JOB[$b]}" || rc=$?
  if [ "$rc" -eq 0 ]; then
    sed 's/^/  /' "$RUN/logs/up-$b.log"
  else
    FAILED+=("$b")
    case "$b" in
      zfs) blog="$RUN/logs/zfs-fuse.log" ;;
      btrfs) blog="(kernel log: dmesg)" ;;
      ceph) blog="$RUN/ceph/log/" ;;
    esac
    ds_err "backend $b FAILED to start (exit $rc); start-up log: $RUN/logs/up-$b.log, daemon logs: $blog"
    sed 's/^/  | /' "$RUN/logs/up-$b.log" >&2
    # leave nothing half-started behind
    case "$b" in
      zfs) ds_zfs_stop "$RUN" own >/dev/null 2>&1 || true ;;
      btrfs) ds_btrfs_stop "$RUN" >/dev/null 2>&1 || true ;;
      ceph) ds_ceph_kill "$RUN" >/dev/null 2>&1 || true ;;
    esac
  fi
done

ds_write_env "$RUN"
echo "up.sh: done in $(ds_since "$T0") s; env: $RUN/env.sh"

if [ "${#FAILED[@]}" -gt 0 ]; then
  ds_err "failed backends: ${FAILED[*]} (the others are up; see $RUN/env.sh)"
  exit 1
fi

if [ "${DELTASNAP_SMOKE:-0}" = 1 ]; then
  "$SCRIPT_DIR/smoke.sh" "$RUN"
fi
