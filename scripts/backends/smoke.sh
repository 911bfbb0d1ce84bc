#!/usr/bin/env bash
# Smoke test of the backends that up.sh started under RUN_DIR: one full and one
# incremental transfer per backend with the backend's own tools, contents compared,
# everything it created removed again. Usage: smoke.sh RUN_DIR
# Env: DELTASNAP_BACKENDS  limit to these (comma list; default: every backend that is up)
set -euo pipefail

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
if [ ! -f "$RUN/env.sh" ]; then
  ds_err "$RUN/env.sh not found: run up.sh $RUN first"
  exit 2
fi
unset CEPH_CONF CEPH_KEYRING CEPH_ARGS
# shellcheck disable=SC1091
. "$RUN/env.sh"

IFS=, read -r -a UP <<<"${DELTASNAP_BACKENDS_UP:-}"
wanted_list=${DELTASNAP_BACKENDS:-all}
wanted_list=${wanted_list//[[:space:]]/}
case "$wanted_list" in
  all) wanted_list=${DELTASNAP_BACKENDS_UP:-} ;;
  none) wanted_list= ;;
esac
IFS=, read -r -a WANTED <<<"$wanted_list"

TMP=$(mktemp -d "$RUN/smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

same_file() { cmp -s "$1" "$2" || { echo "content differs: $1 vs $2" >&2; return 1; }; }

# ---------------------------------------------------------------------- ZFS
smoke_zfs() {
  local a=$DELTASNAP_ZFS_POOL_A b=$DELTASNAP_ZFS_POOL_B mnt_a mnt_b guid_a guid_b
  ds_zfs_retry zfs destroy -r "$a/smoke" >/dev/null 2>&1 || true
  ds_zfs_retry zfs destroy -r "$b/smoke" >/dev/null 2>&1 || true
  zfs create "$a/smoke"
  mnt_a=$(zfs get -H -o value mountpoint "$a/smoke")
  head -c 1048576 /dev/urandom >"$mnt_a/f1"
  zfs snapshot "$a/smoke@s1"
  zfs send "$a/smoke@s1" | zfs receive "$b/smoke"
  head -c 524288 /dev/urandom >"$mnt_a/f2"
  zfs snapshot "$a/smoke@s2"
  zfs send -i "$a/smoke@s1" "$a/smoke@s2" | zfs receive "$b/smoke"
  mnt_b=$(zfs get -H -o value mountpoint "$b/smoke")
  same_file "$mnt_a/f1" "$mnt_b/f1"
  same_file "$mnt_a/f2" "$mnt_b/f2"
  guid_a=$(zfs get -H -p -o value guid "$a/smoke@s2")
  guid_b=$(zfs get -H -p -o value guid "$b/smoke@s2")
  [ "$guid_a" = "$guid_b" ] || { echo "snapshot GUIDs differ: $guid_a vs $guid_b" >&2; return 1; }
  # zfs-fuse: "dataset is busy" for a moment after the files were read (see lib.sh)
  ds_zfs_retry zfs destroy -r "$a/smoke"
  ds_zfs_retry zfs destroy -r "$b/smoke"
  echo "zfs: create, snapshot, send | receive (full and -i) OK; mounted at $mnt_a, guid $guid_a"
}

# ---------------------------------------------------------------------- Btrfs
smoke_btrfs() {
  local a=$DELTASNAP_BTRFS_MOUNT_A b=$DELTASNAP_BTRFS_MOUNT_B uuid_a recv_b d s
  for d in "$a" "$b"; do
    for s in smoke.s2 smoke.s1 smoke; do
      if [ -d "$d/$s" ]; then btrfs subvolume delete "$d/$s" >/dev/null 2>&1 || true; fi
    done
  done
  btrfs subvolume create "$a/smoke" >/dev/null
  head -c 1048576 /dev/urandom >"$a/smoke/f1"
  btrfs subvolume snapshot -r "$a/smoke" "$a/smoke.s1" >/dev/null
  btrfs send -q "$a/smoke.s1" | btrfs receive -q "$b"
  head -c 524288 /dev/urandom >"$a/smoke/f2"
  btrfs subvolume snapshot -r "$a/smoke" "$a/smoke.s2" >/dev/null
  btrfs send -q -p "$a/smoke.s1" "$a/smoke.s2" | btrfs receive -q "$b"
  same_file "$a/smoke.s2/f1" "$b/smoke.s2/f1"
  same_file "$a/smoke.s2/f2" "$b/smoke.s2/f2"
  uuid_a=$(btrfs subvolume show "$a/smoke.s2" | awk '$1 == "UUID:" { print $2 }')
  recv_b=$(btrfs subvolume show "$b/smoke.s2" | awk '$1 == "Received" && $2 == "UUID:" { print $3 }')
  [ "$uuid_a" = "$recv_b" ] || { echo "received UUID $recv_b != source UUID $uuid_a" >&2; return 1; }
  btrfs subvolume delete "$b/smoke.s2" "$b/smoke.s1" >/dev/null
  btrfs subvolume delete "$a/smoke.s2" "$a/smoke.s1" "$a/smoke" >/dev/null
  echo "btrfs: subvolume create, snapshot -r, send | receive (full and -p) OK; received UUID matches"
}

# ---------------------------------------------------------------------- Ceph
smoke_ceph() {
  local a="$DELTASNAP_CEPH_POOL_A/smoke" b="$DELTASNAP_CEPH_POOL_B/smoke" bench
  rbd rm "$a" >/dev/null 2>&1 || { rbd snap purge "$a" >/dev/null 2>&1 && rbd rm "$a" >/dev/null 2>&1; } || true
  rbd rm "$b" >/dev/null 2>&1 || { rbd snap purge "$b" >/dev/null 2>&1 && rbd rm "$b" >/dev/null 2>&1; } || true
  rbd create --size 16M "$a"
  bench=$(rbd bench --io-type write --io-size 64K --io-total 4M --io-pattern rand "$a" | tail -n 1)
  rbd snap create --no-progress "$a@s1" >/dev/null
  rbd create --size 16M "$b"
  rbd export-diff --no-progress "$a@s1" - | rbd import-diff --no-progress - "$b"
  rbd bench --io-type write --io-size 4K --io-total 256K --io-pattern rand "$a" >/dev/null
  rbd snap create --no-progress "$a@s2" >/dev/null
  rbd export-diff --no-progress --from-snap s1 "$a@s2" - | rbd import-diff --no-progress - "$b"
  rbd export --no-progress "$a@s2" "$TMP/a.img" >/dev/null
  rbd export --no-progress "$b@s2" "$TMP/b.img" >/dev/null
  same_file "$TMP/a.img" "$TMP/b.img"
  rbd snap ls "$b" | grep -qw s1
  rbd snap purge --no-progress "$a" >/dev/null
  rbd snap purge --no-progress "$b" >/dev/null
  rbd rm --no-progress "$a" >/dev/null
  rbd rm --no-progress "$b" >/dev/null
  echo "ceph: rbd create, bench, snap create, export-diff | import-diff (full and --from-snap) OK; bench: $bench"
}

FAILED=()
T0=$(ds_now)
for backend in "${WANTED[@]}"; do
  [ -n "$backend" ] || continue
  if [[ " ${UP[*]} " != *" $backend "* ]]; then
    ds_err "smoke $backend: backend is not up in $RUN"
    FAILED+=("$backend")
    continue
  fi
  t=$(ds_now)
  # not "( ... ) || rc=$?": errexit is ignored inside a subshell tested with ||
  set +e
  (
    set -eE
    trap 'rc=$?; [[ $BASH_COMMAND == return* ]] || echo "$backend: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR
    "smoke_$backend"
  ) >"$TMP/$backend.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    echo "smoke PASS ($(ds_since "$t") s) $(cat "$TMP/$backend.log")"
  else
    FAILED+=("$backend")
    ds_err "smoke FAIL ($(ds_since "$t") s) $backend:"
    sed 's/^/  | /' "$TMP/$backend.log" >&2
  fi
done
if [ "${#FAILED[@]}" -gt 0 ]; then
  ds_err "smoke: failed: ${FAILED[*]}"
  exit 1
fi
echo "smoke: all passed in $(ds_since "$T0") s"
