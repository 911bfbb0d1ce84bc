#!/bin/bash
# The rsync route's fixed cost, paired: two builds of the tool (DELTASNAP_CLI, say after a change, and
# DELTASNAP_CLI_BASE, before it) refresh their own Btrfs target from one zfs-fuse source, 1 % of the 4 KiB blocks of a
# SIZE_MIB file (default 64) rewritten and a snapshot taken per round, ROUNDS rounds (default 7), the order alternating.
# Each refresh runs under `strace -f -e trace=execve,exit_group` and prints its wall time, the time spent inside rsync
# processes and the rest (wall minus rsync: what the refresh adds around rsync and does not overlap with it), in ms.
# strace makes each process start dearer, for both builds alike. Under load, compare the rest, not the walls.
set -e
source /tmp/dsb/env.sh
SIZE_MIB=${SIZE_MIB:-64}; ROUNDS=${ROUNDS:-7}
NEW=${DELTASNAP_CLI:?name the tool to time}; BASE=${DELTASNAP_CLI_BASE:?name the tool to compare with}
work=$(mktemp -d)
Z=dsnapa/benchfix$$; B=$DELTASNAP_BTRFS_MOUNT_B/benchfix$$
zfs create $Z; mkdir -p $B; btrfs -q subvolume create $B/new; btrfs -q subvolume create $B/base
head -c ${SIZE_MIB}M /dev/urandom > /$Z/big; for i in $(seq 1 50); do head -c 10000 /dev/urandom > /$Z/small$i; done
$NEW snapshot create zfs:$Z s0 >/dev/null
$NEW refresh zfs:$Z btrfs:$B/new >/dev/null; $BASE refresh zfs:$Z btrfs:$B/base >/dev/null
one() { # label tool
  strace -f -e trace=execve,exit_group -tt -o $work/$1 $2 refresh zfs:$Z btrfs:$B/$1 >/dev/null 2>&1
  python3 - "$work/$1" "$1" <<'PY'
import re, sys
def t(s):
    h, m, x = s.split(':'); return int(h) * 3600 + int(m) * 60 + float(x)
start, end, prog = {}, {}, {}
for line in open(sys.argv[1]):
    m = re.match(r'(\d+)\s+(\S+)\s+(.*)', line)
    if not m: continue
    pid, ts, rest = m.group(1), t(m.group(2)), m.group(3)
    if rest.startswith('execve('):  # whole, or "<unfinished ...>" when strace splits it (a failed PATH lookup costs microseconds)
        start.setdefault(pid, ts); prog[pid] = rest.split('"')[1]
    elif '+++ exited' in rest or 'exit_group' in rest:
        end[pid] = ts
first = min(start.values()); last = max(end.values())
rsync = sum(end.get(p, last) - start[p] for p in start if prog[p].endswith('/rsync'))
print(f"{sys.argv[2]} wall={(last - first) * 1000:.0f} rsync={rsync * 1000:.0f} rest={(last - first - rsync) * 1000:.0f}", end='')
PY
}
for r in $(seq 1 $ROUNDS); do
  python3 -c "
import os,random
f=open('/$Z/big','r+b'); n=$SIZE_MIB*1024*1024//4096; rnd=random.Random($r)
for i in range(n//100): f.seek(rnd.randrange(n)*4096); f.write(os.urandom(4096))
f.close()"
  $NEW snapshot create zfs:$Z s$r >/dev/null
  sync
  if [ $((r % 2)) = 1 ]; then x=$(one new "$NEW"); y=$(one base "$BASE"); else y=$(one base "$BASE"); x=$(one new "$NEW"); fi
  echo "round $r $x | $y | load=$(cut -d' ' -f1 /proc/loadavg)"
done
cmp /$Z/big $B/new/big && cmp /$Z/big $B/base/big && echo same
sleep 2
for v in $(zfs list -H -o name | grep "^dsnapa/deltasnap-views/"); do o=$(zfs get -H -o value origin $v); case "$o" in $Z@*) zfs destroy $v || (sleep 3; zfs destroy $v);; esac; done
for i in $(seq 1 10); do zfs destroy -r $Z 2>/dev/null && break; sleep 1; done
find $B -xdev -maxdepth 4 -type d | while read d; do [ "$(stat -c %i "$d")" = 256 ] && echo "$d"; done | sort -r | while read v; do btrfs -q subvolume delete "$v"; done
rm -rf $B $work; echo cleaned
