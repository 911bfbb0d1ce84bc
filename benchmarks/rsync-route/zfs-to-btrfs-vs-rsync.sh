#!/bin/bash
# Whole-process wall time: `deltasnap refresh zfs:… btrfs:…` (rsync route) against plain
# `rsync -aHAX --inplace --no-whole-file` of the same trees, 1 % of the 4 KiB blocks of a SIZE_MIB file (default
# 1024, as issue 14 asks) rewritten per round (plus 50 small files), ROUNDS rounds (default 6) interleaved (odd:
# deltasnap first). Needs /tmp/dsb/env.sh (scripts/backends/up.sh; a 1 GiB tree twice on the target needs
# DELTASNAP_ZFS_POOL_GIB=4 DELTASNAP_BTRFS_GIB=4). Times the tool as users install it (benchmarks/publish-tool.sh)
# unless DELTASNAP_CLI names another. Drops the page cache before each timed command (DROP_CACHES=0: not).
# DELTASNAP_CLI_BASE names a second build (say, the one before a change) to time in the same rounds, refreshing its own
# target on the other Btrfs mount ($DELTASNAP_BTRFS_MOUNT_A: a third 1 GiB copy would crowd the first), the three
# commands in an order that rotates per round. Prints one line per round.
set -e
source /tmp/dsb/env.sh
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-6}
DS=${DELTASNAP_CLI:-$("$(cd "$(dirname "$0")/.." && pwd)/publish-tool.sh")}
case "$DS" in *.dll) DS="dotnet $DS" ;; esac
BASE=${DELTASNAP_CLI_BASE:-}
case "$BASE" in *.dll) BASE="dotnet $BASE" ;; esac
Z=dsnapa/benchrs$$; B=$DELTASNAP_BTRFS_MOUNT_B/benchrs$$; A=$DELTASNAP_BTRFS_MOUNT_A/benchrs$$
zfs create $Z
mkdir -p $B; btrfs -q subvolume create $B/vol; btrfs -q subvolume create $B/plain
if [ -n "$BASE" ]; then mkdir -p $A; btrfs -q subvolume create $A/vol; fi
head -c ${SIZE_MIB}M /dev/urandom > /$Z/big; for i in $(seq 1 50); do head -c 10000 /dev/urandom > /$Z/small$i; done
$DS snapshot create zfs:$Z s0 >/dev/null
$DS refresh zfs:$Z btrfs:$B/vol >/dev/null
if [ -n "$BASE" ]; then $BASE refresh zfs:$Z btrfs:$A/vol >/dev/null; fi
rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/
cold() { if [ "${DROP_CACHES:-1}" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi; }
# timed CMD...: prints the command's wall seconds; a failing command's standard error goes to ours and the run stops.
errors=$(mktemp)
timed() {
  if ! /usr/bin/time -f %e -o $errors.time "$@" >/dev/null 2>$errors; then echo "failed: $*" >&2; tail -20 $errors >&2; return 1; fi
  cat $errors.time
}
for r in $(seq 1 "$ROUNDS"); do
  python3 -c "
import os,random
f=open('/$Z/big','r+b'); n=$SIZE_MIB*1024*1024//4096; rnd=random.Random($r)
for i in range(n//100): f.seek(rnd.randrange(n)*4096); f.write(os.urandom(4096))
f.close()"
  $DS snapshot create zfs:$Z s$r >/dev/null
  # Both read cold (DROP_CACHES=1, the default): DeltaSnap reads the snapshot through a freshly mounted view, whose
  # pages are never cached, while the live file just written is; without this, plain rsync reads from the page cache
  # (measured: 3.5 s warm against 8.4 s cold for the same 1 GiB rsync on zfs-fuse).
  if [ -n "$BASE" ]; then
    for k in $(seq 0 2); do
      case $(( (r + k) % 3 )) in
        0) cold; a=$(timed $DS refresh zfs:$Z btrfs:$B/vol) ;;
        1) cold; b=$(timed rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/) ;;
        2) cold; c=$(timed $BASE refresh zfs:$Z btrfs:$A/vol) ;;
      esac
    done
    echo "round $r deltasnap=$a rsync=$b base=$c load=$(cut -d' ' -f1 /proc/loadavg)"
    continue
  fi
  if [ $((r % 2)) = 1 ]; then
    cold; a=$(timed $DS refresh zfs:$Z btrfs:$B/vol); cold; b=$(timed rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/)
  else
    cold; b=$(timed rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/); cold; a=$(timed $DS refresh zfs:$Z btrfs:$B/vol)
  fi
  echo "round $r deltasnap=$a rsync=$b load=$(cut -d' ' -f1 /proc/loadavg)"
done
cmp /$Z/big $B/vol/big && cmp /$Z/big $B/plain/big && echo same
if [ -n "$BASE" ]; then cmp /$Z/big $A/vol/big && echo "base same"; fi
# The space each target subvolume holds on its own (btrfs filesystem du: total, exclusive, set shared): a target
# snapshot's exclusive bytes are what its in-place updates rewrote rather than kept shared with the one before.
echo "space (bytes: total exclusive set-shared path):"
for root in $B ${BASE:+$A}; do
  find $root -xdev -maxdepth 4 -type d | while read d; do [ "$(stat -c %i "$d")" = 256 ] && echo "$d"; done | sort | while read v; do
    btrfs filesystem du -s --raw "$v" | tail -1
  done
done
sleep 3
for v in $(zfs list -H -o name | grep "^dsnapa/deltasnap-views/"); do o=$(zfs get -H -o value origin $v); case "$o" in $Z@*) zfs destroy $v || (sleep 3; zfs destroy $v);; esac; done
for i in $(seq 1 10); do zfs destroy -r $Z 2>/dev/null && break; sleep 1; done # zfs-fuse says "busy" for a while after a view goes
find $B -xdev -maxdepth 4 -type d | while read d; do [ "$(stat -c %i "$d")" = 256 ] && echo "$d"; done | sort -r | while read v; do btrfs -q subvolume delete "$v"; done
rm -rf $B
if [ -n "$BASE" ]; then
  find $A -xdev -maxdepth 4 -type d | while read d; do [ "$(stat -c %i "$d")" = 256 ] && echo "$d"; done | sort -r | while read v; do btrfs -q subvolume delete "$v"; done
  rm -rf $A
fi
rm -f $errors $errors.time
echo cleaned
