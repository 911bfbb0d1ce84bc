#!/usr/bin/env bash
# DeltaSnap build entry point.
#   ./build.sh test    install what the tests need (apt, as root), start the real backends, build
#                      Release with warnings as errors, run every test project, print "N passed, N failed, N skipped"
#   ./build.sh build   restore and build Release
#   ./build.sh pack    pack the NuGet packages into artifacts/packages
#   ./build.sh packcheck  pack with a unique version, install the deltasnap tool from artifacts/packages and refresh
#                      a volume with it, build and run a sample against the packages (scripts/check-packages.sh);
#                      ./build.sh test runs it after the tests and counts each of its checks in the summary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

build() {
  dotnet build DeltaSnap.sln -c Release -warnaserror -nologo -v quiet -clp:NoSummary
}

# Sums the counters of every TRX file in $1.
summarize() {
  local dir=$1 passed=0 failed=0 skipped=0 total=0 executed=0
  for trx in "$dir"/*.trx; do
    [ -f "$trx" ] || continue
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
    total=$((total + $(get total)))
    executed=$((executed + $(get executed)))
    passed=$((passed + $(get passed)))
    failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  done
  skipped=$((total - executed))
  echo "$passed $failed $skipped"
}

run_tests() {
  local results="$root/artifacts/test-results"
  rm -rf "$results" && mkdir -p "$results"

  if [ "$(id -u)" = 0 ]; then
    bash scripts/install-deps.sh
  else
    echo "build.sh: not root; not installing packages (tests needing missing tools will say so)." >&2
  fi

  # The real backends, started for this run and stopped afterwards whatever happens (run_dir is global:
  # the EXIT trap runs after this function has returned).
  run_dir=/tmp/dsnap-$$
  if [ "$(id -u)" = 0 ] && [ -x scripts/backends/up.sh ] && [ "${DELTASNAP_BACKENDS:-all}" != none ]; then
    trap 'bash scripts/backends/down.sh "$run_dir" >/dev/null 2>&1 || true' EXIT
    if bash scripts/backends/up.sh "$run_dir"; then :; else echo "build.sh: some backends failed to start (see above)." >&2; fi
    # shellcheck disable=SC1091
    [ -f "$run_dir/env.sh" ] && source "$run_dir/env.sh"
  fi
  # The command starts every backend itself, so a test that finds one missing fails instead of skipping.
  export DELTASNAP_REQUIRE_BACKENDS=${DELTASNAP_REQUIRE_BACKENDS:-1}

  build
  local status=0
  for project in tests/*.Tests/*.Tests.csproj; do
    local name
    name=$(basename "$project" .csproj)
    echo "== $name"
    if ! dotnet test "$project" -c Release --no-build --nologo \
        --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
        --blame-hang --blame-hang-timeout 15m -- NUnit.DefaultTimeout=900000; then
      status=1
    fi
  done

  read -r passed failed skipped < <(summarize "$results")
  if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "build.sh: no test ran" >&2
    status=1
  fi

  # The packages as users get them: pack, install the tool, build a sample against them. Each check counts.
  local packcheck="$results/packcheck.log" pack_passed=0 pack_failed=1
  if bash scripts/check-packages.sh 2>&1 | tee "$packcheck"; then :; else status=1; fi
  # Its last line, "packcheck: N passed, N failed"; without it the script died early: one failed check.
  read -r pack_passed pack_failed < <(sed -n 's/^packcheck: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$packcheck" | tail -n 1) || true
  passed=$((passed + ${pack_passed:-0}))
  failed=$((failed + ${pack_failed:-1}))
  [ "$failed" -eq 0 ] || status=1
  echo "$passed passed, $failed failed, $skipped skipped"
  return $status
}

case "${1:-build}" in
  build) build ;;
  test) run_tests ;;
  pack) bash scripts/pack.sh artifacts/packages ;;
  packcheck) bash scripts/check-packages.sh ;;
  *) echo "usage: ./build.sh [build|test|pack|packcheck]" >&2; exit 2 ;;
esac
