#!/usr/bin/env bash
# A push refresh to a dir: volume on "another machine" (a `deltasnap serve --stdio` reached through the ssh transport,
# with `ssh` replaced by a local stand-in that runs the remote command here, so no sshd is needed), the way a plain
# backup server without ZFS or Btrfs is fed: per round FILES/100 files get 4 KiB rewritten, one file is added and one
# deleted (tree-data.sh), then a source snapshot and `deltasnap refresh dir:SRC ssh://localhost/dir:DST`. Every tool named on the
# command line gets its own source and target trees and runs (client and server are the same tool) in each round, in
# turn; prints per round each tool's wall seconds and the target's disk use (du, hard links counted once), then medians.
# Usage: remote-dir-push.sh TOOL... (e.g. two builds to compare). Env: FILES (2000), FILE_KIB (100), ROUNDS (6),
# WORK (/var/tmp/dsdir-push-PID, removed at the end). The target's file system decides the kind of dir: volume:
# without reflinks (ext4) snapshots share files by hard links and a refresh receives each tree aside.
set -euo pipefail
FILES=${FILES:-2000}
FILE_KIB=${FILE_KIB:-100}
ROUNDS=${ROUNDS:-6}
WORK=${WORK:-/var/tmp/dsdir-push-$$}
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bin"
cat > "$WORK/bin/ssh" <<'SH'
#!/bin/sh
# Stands in for ssh to this machine: drops ssh's options and the host, runs the remote command as sshd would.
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift 2
exec /bin/sh -c "$*"
SH
chmod +x "$WORK/bin/ssh"

# shellcheck source=tree-data.sh
. "$(dirname "$0")/tree-data.sh"

tools=("$@")
for k in "${!tools[@]}"; do
  mkdir -p "$WORK/$k/src" "$WORK/$k/dst"
  make_tree "$WORK/$k/src/tree" "$FILES" "$FILE_KIB"
  DS=${tools[$k]}
  $DS volume create "dir:$WORK/$k/dst/tree" --filesystem >/dev/null 2>&1 || true
done
refresh() { # k round
  local DS=${tools[$1]}
  $DS snapshot create "dir:$WORK/$1/src/tree" "s$2" >/dev/null
  PATH="$WORK/bin:$PATH" $DS refresh "dir:$WORK/$1/src/tree" "ssh://localhost/dir:$WORK/$1/dst/tree" \
    --ssh-command "$DS serve --stdio" >/dev/null
}
declare -A wall
for r in $(seq 0 "$ROUNDS"); do
  line="round $r"
  order=("${!tools[@]}"); if [ $((r % 2)) = 1 ]; then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for k in "${order[@]}"; do
    [ "$r" = 0 ] || change_tree "$WORK/$k/src/tree" "$FILES" "$r"
    sync
    s=$(date +%s.%N); refresh "$k" "$r"; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc)
    [ "$r" = 0 ] || wall[$k]+="$t "
    line="$line | tool$k $(printf '%.3f' "$t") s, target $(du -sm "$WORK/$k/dst" | cut -f1) MiB"
  done
  [ "$r" = 0 ] && line="$line (the first refresh, a full copy: not counted)"
  echo "$line"
done
for k in "${!tools[@]}"; do
  echo "tool$k (${tools[$k]}): median $(printf '%s\n' ${wall[$k]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') s"
done
