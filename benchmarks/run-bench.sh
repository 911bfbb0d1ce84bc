#!/bin/bash
# One command: brings up the test backends when they are not up (scripts/backends/up.sh, as the tests use them),
# installs the peers (syncoid, btrbk) when missing, builds deltasnap-bench and the deltasnap tool in Release, runs a
# matrix and writes the report. Needs root (zfs, btrfs). Usage:
#   benchmarks/run-bench.sh [MATRIX] [RESULTS_DIR]      (default: the small matrix into bench-results/UTC-TIMESTAMP)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
matrix=${1:-$repo/benchmarks/DeltaSnap.Bench/matrices/small.json}
out=${2:-$repo/bench-results/$(date -u +%Y%m%d-%H%M%S)}
run_dir=${DELTASNAP_RUN_DIR:-/tmp/dsb}

if [ ! -f "$run_dir/env.sh" ] || ! grep -q "DELTASNAP_BACKENDS_UP='[a-z]" "$run_dir/env.sh"; then
  "$repo/scripts/install-deps.sh"
  "$repo/scripts/backends/up.sh" "$run_dir"
fi
# shellcheck disable=SC1091
. "$run_dir/env.sh"

missing=()
command -v syncoid >/dev/null || missing+=(sanoid)
command -v btrbk >/dev/null || missing+=(btrbk)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

dotnet build "$repo/benchmarks/DeltaSnap.Bench/DeltaSnap.Bench.csproj" -c Release -nologo -v q -clp:NoSummary
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The deltasnap tool as users install it (precompiled on linux-x64), not the JIT-compiled build output.
cli=$("$repo/benchmarks/publish-tool.sh")
dotnet "$repo/benchmarks/DeltaSnap.Bench/bin/Release/net10.0/deltasnap-bench.dll" run "$matrix" -o "$out" --cli "$cli"
echo "report: $out/report.html"
