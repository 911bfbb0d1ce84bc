#!/usr/bin/env bash
# Publishes the deltasnap tool as users install it (the DeltaSnap.Cli.linux-x64 tool package: Native AOT where
# scripts/aot-compiler.sh finds a toolchain, as scripts/pack.sh packs it, else ReadyToRun)
# into artifacts/tool and prints the executable's path. Whole-process benchmarks time this build, not the
# JIT-compiled `dotnet build` output, whose start-up costs about twice the CPU. Usage: benchmarks/publish-tool.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rid=linux-x64
[ "$(uname -m)" = x86_64 ] || rid=any # the platforms without a precompiled package get the framework-dependent one
out=$repo/artifacts/tool
if [ "$rid" = any ]; then
  dotnet publish "$repo/src/DeltaSnap.Cli" -c Release -o "$out" -nologo -v q -clp:NoSummary >&2
elif clang=$(bash "$repo/scripts/aot-compiler.sh"); then
  # As scripts/pack.sh packs it where it can: Native AOT.
  dotnet publish "$repo/src/DeltaSnap.Cli" -c Release -r "$rid" -o "$out" -nologo -v q -clp:NoSummary \
    -p:PublishAot=true -p:PublishReadyToRun=false -p:CppCompilerAndLinker="$clang" >&2
else
  dotnet publish "$repo/src/DeltaSnap.Cli" -c Release -r "$rid" --self-contained false -o "$out" -nologo -v q -clp:NoSummary >&2
fi
echo "$out/DeltaSnap.Cli"
