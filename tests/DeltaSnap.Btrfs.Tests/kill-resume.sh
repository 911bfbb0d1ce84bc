#!/bin/bash
# By hand (root, Btrfs loop mounts from scripts/backends/up.sh): a real `kill -9` of `deltasnap refresh` (its process
# group: the CLI, btrfs send and btrfs receive) when the spool of a Btrfs native full send reaches half the volume,
# then the rerun; prints what the rerun sent and checks the target's files against the source's.
#   MIB=480 MODE=live|snap DELTASNAP_CLI=src/DeltaSnap.Cli/bin/Release/net10.0/DeltaSnap.Cli.dll \
#   DELTASNAP_BTRFS_MOUNT_A=... DELTASNAP_BTRFS_MOUNT_B=... bash tests/DeltaSnap.Btrfs.Tests/kill-resume.sh
# MODE=live (default): the source has no snapshot (the live-state capture is sent and kept across the kill) and a file
# is added before the rerun; MODE=snap: snapshot s1 is sent.
set -u
CLI="dotnet ${DELTASNAP_CLI:?path of DeltaSnap.Cli.dll}"
ID=kr$$
A=${DELTASNAP_BTRFS_MOUNT_A:?}/$ID; B=${DELTASNAP_BTRFS_MOUNT_B:?}/$ID; CK=$(mktemp -d)
MIB=${MIB:-480}; MODE=${MODE:-live}
mkdir -p "$A" "$B"
btrfs -q subvolume create "$A/vm"
head -c $((MIB * 1024 * 1024)) /dev/urandom > "$A/vm/big.bin"; echo small > "$A/vm/small.txt"; sync
[ "$MODE" = snap ] && $CLI snapshot create "btrfs:$A/vm" s1 > /dev/null
HALF=$((MIB * 1024 * 1024 / 2))
setsid $CLI refresh "btrfs:$A/vm" "btrfs:$B/vm" --checkpoint-dir "$CK" --json > /dev/null 2>&1 &
PID=$!
while kill -0 $PID 2> /dev/null; do
  s=$(stat -c %s "$CK"/*.spool 2> /dev/null || echo 0)
  if [ "$s" -ge $HALF ]; then kill -9 -- -$PID; echo "killed with $s bytes spooled"; break; fi
  sleep 0.005
done
wait $PID 2> /dev/null
echo "source snapshots after the kill: $(ls -A "$A/.deltasnap-snapshots/vm" 2> /dev/null | tr '\n' ' ')"
[ "$MODE" = live ] && echo "changed after the kill" > "$A/vm/after.txt"
$CLI refresh "btrfs:$A/vm" "btrfs:$B/vm" --checkpoint-dir "$CK" --json; echo "rerun exit $?"
(cd "$A/vm" && find . -type f | sort | xargs sha256sum) > "$CK/a.sum"; (cd "$B/vm" && find . -type f | sort | xargs sha256sum) > "$CK/b.sum"
cmp -s "$CK/a.sum" "$CK/b.sum" && echo "target equals source (every file's sha256)" || echo "TARGET DIFFERS"
rm "$CK/a.sum" "$CK/b.sum"
echo "left in the checkpoint directory: $(ls -A "$CK" | tr '\n' ' ')"
echo "snapshots left: source $(ls -A "$A/.deltasnap-snapshots/vm" 2> /dev/null | tr '\n' ' ') target $(ls -A "$B/.deltasnap-snapshots/vm" 2> /dev/null | tr '\n' ' ')"
for d in "$A/.deltasnap-snapshots/vm"/* "$B/.deltasnap-snapshots/vm"/* "$A/vm" "$B/vm"; do [ -d "$d" ] && btrfs -q subvolume delete "$d"; done
rm -rf "$A" "$B" "$CK"
