#!/usr/bin/env bash
# Stops every backend that up.sh started under RUN_DIR and removes RUN_DIR.
# Usage: down.sh RUN_DIR
# Best effort: works after a half-finished up.sh, after a crash, or twice in a row,
# and always exits 0 (problems are printed, not fatal).
set -uo pipefail
set +m

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$SCRIPT_DIR/lib.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 RUN_DIR" >&2
  exit 0
fi
RUN=$(ds_abspath "$1")
RUN=${RUN%/}
cd / # never keep a mount point below RUN_DIR busy (daemons inherit the cwd)
case "$RUN" in
  "" | / | /tmp | /root | /home | /var | /usr | /etc)
    ds_err "refusing to remove '$RUN'"
    exit 0
    ;;
esac
unset CEPH_CONF CEPH_KEYRING CEPH_ARGS

T0=$(ds_now)
rm -f "$RUN/env.sh"
if [ ! -d "$RUN" ]; then
  echo "down.sh: $RUN does not exist, nothing to stop"
  exit 0
fi

t=$(ds_now)
ds_ceph_stop "$RUN"
echo "down.sh: ceph stopped ($(ds_since "$t") s)"
t=$(ds_now)
ds_btrfs_stop "$RUN"
echo "down.sh: btrfs unmounted ($(ds_since "$t") s)"
t=$(ds_now)
ds_zfs_stop "$RUN" own
echo "down.sh: zfs done ($(ds_since "$t") s)"

# anything still mounted below RUN_DIR would make rm -rf fail (or delete its content)
ds_umount_below "$RUN"
if ! rm -rf "$RUN" 2>/dev/null; then
  ds_err "could not remove all of $RUN"
fi
echo "down.sh: done in $(ds_since "$T0") s"
exit 0
