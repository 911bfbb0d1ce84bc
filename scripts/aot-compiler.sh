#!/usr/bin/env bash
# Prints the clang that Native AOT can link the deltasnap tool with, or nothing (exit 1) when it cannot be built
# here: not x86_64, DELTASNAP_AOT=0, no clang, or no zlib headers (apt-get install clang zlib1g-dev). Used by
# scripts/pack.sh (the linux-x64 tool package) and benchmarks/publish-tool.sh (the tool the benchmarks time).
[ "${DELTASNAP_AOT:-1}" != 0 ] && [ "$(uname -m)" = x86_64 ] && [ -e /usr/include/zlib.h ] || exit 1
for candidate in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
  if command -v "$candidate" >/dev/null; then echo "$candidate"; exit 0; fi
done
exit 1
