#!/usr/bin/env bash
# Peak RSS of `deltasnap refresh` against the volume's size: a sparse volume with 4 MiB written at 16 scattered
# offsets, snapshotted, refreshed to a new volume (first refresh: everything allocated is sent), then 16 more
# scattered 256 KiB writes, a second snapshot and a second refresh (incremental). Peak RSS and wall time from
# /usr/bin/time -v. Routes: file: -> file: (the checksum route) and lvol -> lvol (the lvol store's native route).
#
# Usage: benchmarks/checksums/refresh-rss.sh [SIZES] [DIR]
#   SIZES: volume sizes (default "1G 4G 16G 64G"), DIR: scratch directory (default /var/tmp/deltasnap-rss, emptied).
#   The tool: $DELTASNAP, else what benchmarks/publish-tool.sh publishes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
sizes=${1:-1G 4G 16G 64G}
dir=${2:-/var/tmp/deltasnap-rss}
tool=${DELTASNAP:-$repo/artifacts/tool/DeltaSnap.Cli}
[ -x "$tool" ] || tool=$("$repo/benchmarks/publish-tool.sh")
rm -rf "$dir"; mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

# scatter FILE SIZE_BYTES SEED COUNT KIB: writes COUNT random blocks of KIB KiB at spread-out offsets into FILE
scatter() {
  local file=$1 bytes=$2 seed=$3 count=$4 kib=$5 i
  for ((i = 0; i < count; i++)); do
    local offset=$(( ((bytes / count) * i + (seed * 7919 + i * 104729) % (bytes / count / 2)) / 1048576 * 1024 ))
    head -c $((kib * 1024)) /dev/urandom | dd of="$file" bs=1K seek="$offset" conv=notrunc status=none
  done
}
# measure LABEL CMD...: one line "LABEL peak_rss_MiB wall_s"
measure() {
  local label=$1; shift
  /usr/bin/time -v -o "$dir/time" "$@" > "$dir/out" 2>&1 || { cat "$dir/out" "$dir/time" >&2; return 1; }
  awk -v l="$label" '/Maximum resident/ { rss = $6 } /Elapsed \(wall/ { wall = $8 } END { printf "%-34s %8.1f MiB  %s\n", l, rss / 1024, wall }' "$dir/time"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for size in $sizes; do
  bytes=$(numfmt --from=iec "$size")
  # file: -> file:
  mkdir -p "$dir/$size"
  truncate -s "$size" "$dir/$size/a"
  scatter "$dir/$size/a" "$bytes" 1 16 256
  "$tool" snapshot create "file:$dir/$size/a" s1 > /dev/null
  measure "file $size first refresh" "$tool" refresh "file:$dir/$size/a" "file:$dir/$size/b"
  scatter "$dir/$size/a" "$bytes" 2 16 256
  "$tool" snapshot create "file:$dir/$size/a" s2 > /dev/null
  measure "file $size second refresh" "$tool" refresh "file:$dir/$size/a" "file:$dir/$size/b"
  # lvol -> lvol
  "$tool" lvol create-store "$dir/$size/a.lvs" > /dev/null
  "$tool" lvol create-store "$dir/$size/b.lvs" > /dev/null
  "$tool" lvol create "$dir/$size/a.lvs" vm --size "$size" --thin > /dev/null
  "$tool" lvol import "$dir/$size/a.lvs" vm "$dir/$size/a" > /dev/null
  "$tool" lvol snapshot "$dir/$size/a.lvs" vm s1 > /dev/null
  measure "lvol $size first refresh" "$tool" refresh "lvol:$dir/$size/a.lvs#vm" "lvol:$dir/$size/b.lvs#vm"
  truncate -s 0 "$dir/$size/a"; truncate -s "$size" "$dir/$size/a"
  scatter "$dir/$size/a" "$bytes" 3 16 256
  "$tool" lvol import "$dir/$size/a.lvs" vm "$dir/$size/a" > /dev/null
  "$tool" lvol snapshot "$dir/$size/a.lvs" vm s2 > /dev/null
  measure "lvol $size second refresh" "$tool" refresh "lvol:$dir/$size/a.lvs#vm" "lvol:$dir/$size/b.lvs#vm"
  rm -rf "${dir:?}/$size"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
