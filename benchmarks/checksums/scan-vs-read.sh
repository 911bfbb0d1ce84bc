#!/usr/bin/env bash
# `deltasnap checksums` (XXH3-128, 1 MiB clusters) of a page-cached file against a plain read of it (`cat FILE >
# /dev/null`), whole processes, paired and interleaved: each run times both, in an order that alternates, and the
# figures are medians of the per-pair ratios. Start-up (`deltasnap checksums --help`, timed the same way) is
# subtracted from the tool's times. Also prints the in-process pair: the seconds the tool reports for its scan
# (its own stopwatch around ClusterChecksums.ComputeAsync) against `dd bs=128K`'s own copy time. The start-up taken
# off each pair is the median of all the runs' start-ups (one pair's can exceed its own scan under load).
#
# Usage: benchmarks/checksums/scan-vs-read.sh [CPUS] [RUNS] [FILE] [SIZE]
#   CPUS: the processors for `taskset -c` (default 0; 0,1 for two cores), RUNS: pairs (default 7),
#   FILE: the image (default /var/tmp/deltasnap-bench/scan-1g.img, made from /dev/urandom when missing),
#   SIZE: its size when made (default 1G). The tool: $DELTASNAP, else what benchmarks/publish-tool.sh publishes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cpus=${1:-0}
runs=${2:-7}
file=${3:-/var/tmp/deltasnap-bench/scan-1g.img}
size=${4:-1G}
tool=${DELTASNAP:-$repo/artifacts/tool/DeltaSnap.Cli}
[ -x "$tool" ] || tool=$("$repo/benchmarks/publish-tool.sh")
if [ ! -f "$file" ]; then
  mkdir -p "$(dirname "$file")"
  head -c "$size" /dev/urandom > "$file.tmp" && mv "$file.tmp" "$file"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat "$file" > /dev/null # into the page cache
bytes=$(stat -c %s "$file")

# timed NAME CMD...: appends "wall cpu" of one whole process to $work/NAME, its stderr and stdout to $work/NAME.out
timed() {
  local name=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$work/time" taskset -c "$cpus" "$@" >> "$work/$name.out" 2>&1
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$work/time" >> "$work/$name"
}
read_cmd() { timed read sh -c 'exec cat "$0" > /dev/null' "$file"; timed dd dd if="$file" of=/dev/null bs=128K; }
scan_cmd() { timed scan "$tool" checksums -o "$work/map" "$file"; timed help "$tool" checksums --help; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); cpus $cpus; $runs pairs; $bytes bytes"
read_cmd; scan_cmd; : > "$work/read"; : > "$work/scan"; : > "$work/help"; : > "$work/dd"; : > "$work/dd.out"; : > "$work/scan.out" # warm-up
for ((i = 0; i < runs; i++)); do
  if ((i % 2 == 0)); then read_cmd; scan_cmd; else scan_cmd; read_cmd; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -o '[0-9.]* s: ' "$work/scan.out" | awk '{ print $1 }' > "$work/scan.inproc"
grep -o 'copied, [0-9.]* s' "$work/dd.out" | awk '{ print $2 }' > "$work/dd.inproc"
paste "$work/read" "$work/scan" "$work/help" "$work/dd.inproc" "$work/scan.inproc" | python3 -c '
import statistics, sys
bytes = int(sys.argv[1]); rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = statistics.median
print("pair  cat wall/cpu   tool wall/cpu   start-up wall/cpu   ratio wall/cpu (read time / (tool - median start-up))   in-process dd / tool")
rw, rc, ip = [], [], []
mhw, mhc = med(r[4] for r in rows), med(r[5] for r in rows)
for i, (cw, cc, tw, tc, hw, hc, dd, ts) in enumerate(rows):
    w, c = cw / max(tw - mhw, 0.01), cc / max(tc - mhc, 0.01); rw.append(w); rc.append(c); ip.append(dd / ts)
    print(f"{i:4}  {cw:.3f}/{cc:.3f}    {tw:.3f}/{tc:.3f}    {hw:.3f}/{hc:.3f}        {w:.2f} / {c:.2f}    {dd:.3f} / {ts:.3f} = {dd / ts:.2f}")
print(f"median cat {med(r[0] for r in rows):.3f} s wall {med(r[1] for r in rows):.3f} s cpu; tool {med(r[2] for r in rows):.3f} / {med(r[3] for r in rows):.3f}; start-up {med(r[4] for r in rows):.3f} / {med(r[5] for r in rows):.3f}")
print(f"median ratio (scan throughput / read throughput): whole process, start-up off: wall {med(rw):.2f}x, cpu {med(rc):.2f}x; in-process (dd bs=128K / tool stopwatch): {med(ip):.2f}x")
print(f"median in-process scan {med(r[7] for r in rows):.3f} s = {bytes / med(r[7] for r in rows) / 2**30:.2f} GiB/s; dd {med(r[6] for r in rows):.3f} s = {bytes / med(r[6] for r in rows) / 2**30:.2f} GiB/s")
' "$bytes"
