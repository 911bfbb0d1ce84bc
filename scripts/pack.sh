#!/usr/bin/env bash
# Packs every src/ project into a folder (default artifacts/packages), as users get them:
#   bash scripts/pack.sh [OUTPUT_DIR] [MSBUILD_ARGS...]      (./build.sh pack; scripts/check-packages.sh)
# The deltasnap tool is RID-specific (see src/DeltaSnap.Cli/DeltaSnap.Cli.csproj): `dotnet pack` of the solution makes
# the pointer package, DeltaSnap.Cli.any (framework-dependent) and DeltaSnap.Cli.linux-x64 (ReadyToRun). Where the
# Native AOT compiler's toolchain is here (clang, and zlib's headers), DeltaSnap.Cli.linux-x64 is then packed again
# as Native AOT (`dotnet pack -r linux-x64 -p:PublishAot=true`, the .NET 10 way to pack an AOT tool), replacing the
# ReadyToRun one: a refresh starts its first child process in about 0.03 s instead of 0.37 s (benchmarks/README.md).
# Without the toolchain the ReadyToRun package stays and a line says so. DELTASNAP_AOT=0 keeps ReadyToRun.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-artifacts/packages}
shift || true
dotnet pack DeltaSnap.sln -c Release -o "$out" --nologo -v quiet -clp:NoSummary "$@"

if clang=$(bash scripts/aot-compiler.sh); then
  dotnet pack src/DeltaSnap.Cli -c Release -r linux-x64 -o "$out" --nologo -v quiet -clp:NoSummary \
    -p:PublishAot=true -p:PublishReadyToRun=false -p:CppCompilerAndLinker="$clang" "$@"
  echo "pack: the linux-x64 tool package is Native AOT (linked with $clang)"
else
  echo "pack: no Native AOT here (x86_64 with clang and zlib1g-dev, DELTASNAP_AOT not 0): the linux-x64 tool package stays ReadyToRun"
fi
