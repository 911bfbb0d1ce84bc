#!/bin/bash
set -e
source /tmp/dsb/env.sh
NEW=/work/main/artifacts/tool/DeltaSnap.Cli; OLD=/tmp/base-wt/artifacts/tool/DeltaSnap.Cli
Z=dsnapa/space$$; A=$DELTASNAP_BTRFS_MOUNT_A/space$$; B=$DELTASNAP_BTRFS_MOUNT_B/space$$
zfs create $Z; mkdir -p $A $B; btrfs -q subvolume create $A/vol; btrfs -q subvolume create $B/vol
head -c 1024M /dev/urandom > /$Z/big
used() { sync; btrfs filesystem sync $1 >/dev/null; btrfs filesystem usage -b $1 2>/dev/null | awk '/Used:/{print $2; exit}'; }
$NEW snapshot create zfs:$Z s0 >/dev/null
$OLD refresh zfs:$Z btrfs:$A/vol >/dev/null; $NEW refresh zfs:$Z btrfs:$B/vol >/dev/null
a0=$(used $DELTASNAP_BTRFS_MOUNT_A); b0=$(used $DELTASNAP_BTRFS_MOUNT_B)
for r in 1 2 3 4; do
  python3 -c "
import os,random
f=open('/$Z/big','r+b'); n=1024*1024*1024//4096; rnd=random.Random($r)
for i in range(n//100): f.seek(rnd.randrange(n)*4096); f.write(os.urandom(4096))
f.close()"
  $NEW snapshot create zfs:$Z s$r >/dev/null
  wo=$($OLD refresh zfs:$Z btrfs:$A/vol --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytesWritten"])')
  wn=$($NEW refresh zfs:$Z btrfs:$B/vol --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytesWritten"])')
  a=$(used $DELTASNAP_BTRFS_MOUNT_A); b=$(used $DELTASNAP_BTRFS_MOUNT_B)
  echo "round $r: written old=$wo new=$wn; space added since the first copy: old=$((a-a0)) new=$((b-b0))"
done
cmp /$Z/big $A/vol/big && cmp /$Z/big $B/vol/big && echo same
for root in $A $B; do find $root -xdev -maxdepth 4 -type d | while read d; do [ "$(stat -c %i "$d")" = 256 ] && echo "$d"; done | sort -r | while read v; do btrfs -q subvolume delete "$v"; done; rm -rf $root; done
sleep 3; for v in $(zfs list -H -o name | grep "^dsnapa/deltasnap-views/"); do zfs destroy $v 2>/dev/null || true; done
for i in $(seq 1 10); do zfs destroy -r $Z 2>/dev/null && break; sleep 1; done
