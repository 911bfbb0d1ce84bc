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
python3 - "$SRC" "$FILES" "$FILE_KIB" <<'EOF'
import os, random, sys
root, files, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(1)
for i in range(files):
    d = os.path.join(root, f"d{i % 40:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(rnd.randbytes(kib * 1024))
EOF

change() { # round: rewrite 4 KiB in 1 % of the files, add one, delete one
  python3 - "$SRC" "$FILES" "$1" <<'EOF'
import os, random, sys
root, files, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(100 + r)
paths = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs)
for p in rnd.sample(paths, max(1, files // 100)):
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.seek(rnd.randrange(max(1, size - 4096)) // 4096 * 4096)
        f.write(rnd.randbytes(4096))
os.remove(rnd.choice(paths))
with open(os.path.join(root, "d00", f"new{r}.bin"), "wb") as f:
    f.write(rnd.randbytes(64 * 1024))
EOF
}

elapsed() { # command...: wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
deltasnap_round() { $DS snapshot create "dir:$SRC" "s$1" && $DS refresh "dir:$SRC" "dir:$DST"; }
linkdest_round() { rsync -aHAX --numeric-ids --delete --link-dest="$LD/b$(($1 - 1))" "$SRC/" "$LD/b$1/"; }

# The first copies, untimed.
$DS snapshot create "dir:$SRC" s0 >/dev/null
$DS refresh "dir:$SRC" "dir:$DST" >/dev/null
rsync -aHAX --numeric-ids "$SRC/" "$LD/b0/"

echo "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg); $FILES files of $FILE_KIB KiB, 1 % changed per round"
ds=() ld=() ratio=()
for r in $(seq 1 "$ROUNDS"); do
  change "$r"
  sync
  if [ $((r % 2)) = 1 ]; then
    a=$(elapsed deltasnap_round "$r"); b=$(elapsed linkdest_round "$r")
  else
    b=$(elapsed linkdest_round "$r"); a=$(elapsed deltasnap_round "$r")
  fi
  ds+=("$a") ld+=("$b") ratio+=("$(echo "scale=3; $a / $b" | bc)")
  echo "round $r deltasnap=$a s rsync-link-dest=$b s ratio=${ratio[-1]}"
done
diff -r "$SRC" "$DST" >/dev/null && diff -r "$SRC" "$LD/b$ROUNDS" >/dev/null && echo "both copies equal the source"
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "median deltasnap $(median "${ds[@]}") s, rsync --link-dest $(median "${ld[@]}") s, median of paired ratios $(median "${ratio[@]}")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
du -sh "$WORK/dst" "$LD" 2>/dev/null | sed 's/^/space: /'
