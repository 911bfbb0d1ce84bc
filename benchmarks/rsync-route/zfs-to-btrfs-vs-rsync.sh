#!/bin/bash
# Whole-process wall time: `deltasnap refresh zfs:… btrfs:…` (rsync route) against plain
# `rsync -aHAX --inplace --no-whole-file` of the same trees, 1 % of the 4 KiB blocks of a SIZE_MIB file (default
# 1024, as issue 14 asks) rewritten per round (plus 50 small files), ROUNDS rounds (default 6) interleaved (odd:
# deltasnap first). Needs /tmp/dsb/env.sh (scripts/backends/up.sh; a 1 GiB tree twice on the target needs
# DELTASNAP_ZFS_POOL_GIB=4 DELTASNAP_BTRFS_GIB=4). Times the tool as users install it (benchmarks/publish-tool.sh)
# unless DELTASNAP_CLI names another. Prints one line per round.
set -e
source /tmp/dsb/env.sh
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-6}
DS=${DELTASNAP_CLI:-$("$(cd "$(dirname "$0")/.." && pwd)/publish-tool.sh")}
case "$DS" in *.dll) DS="dotnet $DS" ;; esac
Z=dsnapa/benchrs$$; B=$DELTASNAP_BTRFS_MOUNT_B/benchrs$$
zfs create $Z
mkdir -p $B; btrfs -q subvolume create $B/vol; btrfs -q subvolume create $B/plain
head -c ${SIZE_MIB}M /dev/urandom > /$Z/big; for i in $(seq 1 50); do head -c 10000 /dev/urandom > /$Z/small$i; done
$DS snapshot create zfs:$Z s0 >/dev/null
$DS refresh zfs:$Z btrfs:$B/vol >/dev/null
rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/
for r in $(seq 1 "$ROUNDS"); do
  python3 -c "
import os,random
f=open('/$Z/big','r+b'); n=$SIZE_MIB*1024*1024//4096; rnd=random.Random($r)
for i in range(n//100): f.seek(rnd.randrange(n)*4096); f.write(os.urandom(4096))
f.close()"
  $DS snapshot create zfs:$Z s$r >/dev/null
  if [ $((r % 2)) = 1 ]; then
    a=$( { /usr/bin/time -f %e $DS refresh zfs:$Z btrfs:$B/vol >/dev/null; } 2>&1 ); b=$( { /usr/bin/time -f %e rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/; } 2>&1 )
  else
    b=$( { /usr/bin/time -f %e rsync -aHAX --inplace --no-whole-file /$Z/ $B/plain/; } 2>&1 ); a=$( { /usr/bin/time -f %e $DS refresh zfs:$Z btrfs:$B/vol >/dev/null; } 2>&1 )
  fi
  echo "round $r deltasnap=$a rsync=$b"
done
cmp /$Z/big $B/vol/big && cmp /$Z/big $B/plain/big && echo same
sleep 3
for v in $(zfs list -H -o name | grep "^dsnapa/deltasnap-views/"); do o=$(zfs get -H -o value origin $v); case "$o" in $Z@*) zfs destroy $v || (sleep 3; zfs destroy $v);; esac; done
zfs destroy -r $Z
find $B -xdev -maxdepth 4 -type d | while read d; do [ "$(stat -c %i "$d")" = 256 ] && echo "$d"; done | sort -r | while read v; do btrfs -q subvolume delete "$v"; done
rm -rf $B
echo cleaned
