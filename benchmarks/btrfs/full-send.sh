#!/usr/bin/env bash
# Whole-process wall time of a FULL copy of a Btrfs subvolume to another Btrfs file system (issue 16, item 3), three ways:
#   raw        btrfs send SNAP | btrfs receive DIR           (the backend's own pipe, from a read-only snapshot)
#   raw-live   the same, then `btrfs subvolume snapshot` of the received snapshot as a writable live subvolume: what
#              DeltaSnap's target ends with (a live state beside its snapshots). Btrfs commits a transaction to create
#              a snapshot and writes the received data first, which the bare pipe leaves to the kernel to write later
#   btrbk      btrbk run                                     (snapshot of the live subvolume + the same pipe, to an empty target)
#   deltasnap  deltasnap refresh btrfs:SRC btrfs:DST         (into a target that does not exist: its full route)
# The source holds SIZE_MIB of random data in 16 MiB files and one read-only snapshot. Each round runs the three in a
# rotating order, each after `sync` and a cache drop (every contender reads cold, as a first copy does); the targets
# are deleted untimed after each round. Needs root, two Btrfs mounts (DELTASNAP_BTRFS_MOUNT_A/B, e.g. from
# scripts/backends/up.sh), btrbk, and the tool (benchmarks/publish-tool.sh, or DELTASNAP_CLI).
# Env: SIZE_MIB (default 1024), ROUNDS (default 5), CACHE (cold|warm, default cold).
# Prints one line per round, then per contender the median and the median of its per-round ratios to raw.
set -euo pipefail
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-5}
CACHE=${CACHE:-cold}
A=${DELTASNAP_BTRFS_MOUNT_A:?set DELTASNAP_BTRFS_MOUNT_A (scripts/backends/up.sh)}
B=${DELTASNAP_BTRFS_MOUNT_B:?set DELTASNAP_BTRFS_MOUNT_B (scripts/backends/up.sh)}
DS=${DELTASNAP_CLI:-$("$(cd "$(dirname "$0")/.." && pwd)/publish-tool.sh")}
case "$DS" in *.dll) DS="dotnet $DS" ;; esac
command -v btrbk >/dev/null || { echo "btrbk is not installed (apt-get install btrbk)" >&2; exit 2; }

ID=fullsend$$
SRC=$A/$ID DST=$B/$ID
delete_subvolumes() { # DIR...: every subvolume under them (subvolume roots have inode 256), deepest first
  find "$@" -mindepth 1 -inum 256 -type d 2>/dev/null | sort -r | while read -r d; do btrfs -q subvolume delete "$d" >/dev/null; done
}
cleanup() { delete_subvolumes "$SRC" "$DST"; btrfs -q subvolume delete "$SRC/live" >/dev/null 2>&1 || true; rm -rf "$SRC" "$DST"; }
trap cleanup EXIT
mkdir -p "$SRC/snaps" "$DST"
btrfs -q subvolume create "$SRC/live"
python3 - "$SRC/live" "$SIZE_MIB" <<'PY'
import os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
for i in range(mib // 16):
    with open(os.path.join(root, f"f{i:04d}.bin"), "wb") as f:
        f.write(rnd.randbytes(16 << 20))
PY
sync
$DS snapshot create "btrfs:$SRC/live" base >/dev/null
SNAP=$SRC/.deltasnap-snapshots/live/base # where the Btrfs driver keeps the snapshot (src/DeltaSnap.Btrfs/README.md)
[ -d "$SNAP" ] || { echo "no snapshot at $SNAP" >&2; exit 1; }
cat > "$DST/btrbk.conf.in" <<CONF
snapshot_preserve_min all
target_preserve_min all
lockfile $DST/btrbk.lock
volume $SRC
  snapshot_dir snaps
  target send-receive TARGET
  subvolume live
CONF

settle() { sync; btrfs filesystem sync "$A" >/dev/null; btrfs filesystem sync "$B" >/dev/null; [ "$CACHE" = cold ] && echo 3 > /proc/sys/vm/drop_caches || true; }
elapsed() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
run_raw() { mkdir -p "$DST/raw$1"; btrfs -q send "$SNAP" | btrfs -q receive "$DST/raw$1"; }
run_raw-live() { mkdir -p "$DST/rawlive$1"; btrfs -q send "$SNAP" | btrfs -q receive "$DST/rawlive$1"; btrfs -q subvolume snapshot "$DST/rawlive$1/base" "$DST/rawlive$1/live"; }
run_btrbk() { mkdir -p "$DST/btrbk$1"; sed "s#TARGET#$DST/btrbk$1#" "$DST/btrbk.conf.in" > "$DST/btrbk$1.conf"; btrbk -c "$DST/btrbk$1.conf" -q run; }
run_deltasnap() { $DS refresh "btrfs:$SRC/live" "btrfs:$DST/ds$1" --snapshots-only --quiet; }
reset() { delete_subvolumes "$DST" "$SRC/snaps"; rm -rf "$DST"/raw* "$DST"/rawlive* "$DST"/btrbk*.conf "$DST"/btrbk[0-9]* "$DST"/.deltasnap-snapshots; btrfs subvolume sync "$B" >/dev/null 2>&1 || true; }

echo "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg); $SIZE_MIB MiB in 16 MiB files, $CACHE cache, $ROUNDS rounds"
names=(raw raw-live btrbk deltasnap)
declare -A times
for r in $(seq 1 "$ROUNDS"); do
  line="round $r"
  for k in 0 1 2 3; do
    c=${names[$(( (k + r) % 4 ))]}
    settle
    t=$(elapsed "run_$c" "$r")
    times[$c,$r]=$t
    line+=" $c=$t"
    reset # each copy is deleted before the next (the target file system need only hold one)
  done
  echo "$line"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for c in "${names[@]}"; do
  ts=() rs=()
  for r in $(seq 1 "$ROUNDS"); do ts+=("${times[$c,$r]}"); rs+=("$(echo "scale=4; ${times[$c,$r]} / ${times[raw,$r]}" | bc)"); done
  echo "$c: median $(median "${ts[@]}") s, paired ratio to raw $(median "${rs[@]}")"
done
