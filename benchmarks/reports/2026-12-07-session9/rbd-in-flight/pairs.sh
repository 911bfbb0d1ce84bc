#!/bin/bash
# Interleaved whole-process pairs: the raw `rbd export-diff --from-snap s1 | rbd import-diff` pipe against one or more
# deltasnap tools, each timed from the outside (date before and after the process), the target reset in between.
# Set-up (1 GiB image of random data, 1 % or 10 % of its 4 KiB blocks rewritten with random data):
#   head -c 1G /dev/urandom > /tmp/img && rbd import /tmp/img rbd/IMG && rbd snap create rbd/IMG@s1
#   TOOL refresh rbd:rbd/IMG rbd:rbd2/IMG                       # the common base
#   python3 scattered-diff.py $((1<<30)) 1 /tmp/d && rbd import-diff /tmp/d rbd/IMG && rbd snap create rbd/IMG@s2
# Usage: pairs.sh ROUNDS IMG TOOL...   (per round: raw, then each tool; ratio = tool / raw of that round)
N=$1; IMG=$2; shift 2
reset() { rbd snap rm rbd2/$IMG@s2 >/dev/null 2>&1; rbd snap rollback rbd2/$IMG@s1 >/dev/null 2>&1; sync; }
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1 || echo FAIL >&2; local e=$(date +%s.%N); echo "$e - $s" | bc; }
raw() { sh -c "rbd export-diff --no-progress --from-snap s1 rbd/$IMG@s2 - | rbd import-diff --no-progress - rbd2/$IMG"; }
for i in $(seq 1 $N); do
  reset; r=$(t raw); line="raw $r"
  for v in "$@"; do reset; a=$(t $v refresh rbd:rbd/$IMG rbd:rbd2/$IMG); line="$line | $v $a $(echo "scale=3; $a/$r" | bc)"; done
  echo "$line"
done
