#!/usr/bin/env bash
# Whole-process wall time of keeping a dated copy of a directory tree, the way people script it by hand today:
#   rsync -aHAX --numeric-ids --delete --link-dest=PREVIOUS SRC/ BACKUPS/N/   (one new hard-linked tree per run)
# against DeltaSnap with dir: volumes on both sides:
#   deltasnap snapshot create dir:SRC sN && deltasnap refresh dir:SRC dir:DST   (a source snapshot, then a refresh
#   that sends it and leaves a snapshot of it on the target)
# Both keep every earlier version on the target, unchanged files shared (hard links, or reflinks where the file
# system has them). Per round FILES/100 files get 4 KiB rewritten in place, one file is added and one deleted;
# ROUNDS rounds, interleaved (odd: deltasnap first). Needs rsync, python3 and a built tool (benchmarks/publish-tool.sh,
# or DELTASNAP_CLI). Env: FILES (default 2000), FILE_KIB (default 100), ROUNDS (default 6), WORK (default
# /var/tmp/dsdir-bench-PID, removed at the end). Prints one line per round, then the medians and the paired ratio.
set -euo pipefail
FILES=${FILES:-2000}
FILE_KIB=${FILE_KIB:-100}
ROUNDS=${ROUNDS:-6}
WORK=${WORK:-/var/tmp/dsdir-bench-$$}
DS=${DELTASNAP_CLI:-$("$(cd "$(dirname "$0")/.." && pwd)/publish-tool.sh")}
case "$DS" in *.dll) DS="dotnet $DS" ;; esac
trap 'rm -rf "$WORK"' EXIT

SRC=$WORK/src/tree DST=$WORK/dst/tree LD=$WORK/linkdest
mkdir -p "$SRC" "$WORK/dst" "$LD"
# shellcheck source=tree-data.sh
. "$(dirname "$0")/tree-data.sh"
make_tree "$SRC" "$FILES" "$FILE_KIB"
change() { change_tree "$SRC" "$FILES" "$1"; } # round: rewrite 4 KiB in 1 % of the files, add one, delete one

elapsed() { # command...: wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
# The two commands are timed apart too (SNAP, REFRESH: seconds), so a round shows what the refresh itself costs.
deltasnap_round() {
  SNAP=$(elapsed $DS snapshot create "dir:$SRC" "s$1")
  REFRESH=$(elapsed $DS refresh "dir:$SRC" "dir:$DST")
  echo "$SNAP + $REFRESH" | bc
}
linkdest_round() { rsync -aHAX --numeric-ids --delete --link-dest="$LD/b$(($1 - 1))" "$SRC/" "$LD/b$1/"; }

# The first copies, untimed.
$DS snapshot create "dir:$SRC" s0 >/dev/null
$DS refresh "dir:$SRC" "dir:$DST" >/dev/null
rsync -aHAX --numeric-ids "$SRC/" "$LD/b0/"

echo "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg); $FILES files of $FILE_KIB KiB, 1 % changed per round"
ds=() ld=() ratio=() refresh=() rratio=()
for r in $(seq 1 "$ROUNDS"); do
  change "$r"
  sync
  if [ $((r % 2)) = 1 ]; then
    deltasnap_round "$r" > "$WORK/round"; b=$(elapsed linkdest_round "$r")
  else
    b=$(elapsed linkdest_round "$r"); deltasnap_round "$r" > "$WORK/round"
  fi
  a=$(cat "$WORK/round")
  ds+=("$a") ld+=("$b") ratio+=("$(echo "scale=3; $a / $b" | bc)")
  refresh+=("$REFRESH") rratio+=("$(echo "scale=3; $REFRESH / $b" | bc)")
  echo "round $r deltasnap=$a s (snapshot $SNAP s + refresh $REFRESH s) rsync-link-dest=$b s ratio=${ratio[-1]} refresh-alone-ratio=${rratio[-1]}"
done
diff -r "$SRC" "$DST" >/dev/null && diff -r "$SRC" "$LD/b$ROUNDS" >/dev/null && echo "both copies equal the source"
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "median deltasnap $(median "${ds[@]}") s, rsync --link-dest $(median "${ld[@]}") s, median of paired ratios $(median "${ratio[@]}")"
echo "the refresh alone: median $(median "${refresh[@]}") s, median of its ratios to rsync --link-dest $(median "${rratio[@]}")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
du -sh "$WORK/dst" "$LD" 2>/dev/null | sed 's/^/space: /'
