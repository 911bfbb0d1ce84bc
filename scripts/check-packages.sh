#!/usr/bin/env bash
# Checks the NuGet packages the way a user meets them: packs every src/ project into artifacts/packages, installs
# the `deltasnap` tool from that folder into an empty temporary directory and refreshes a volume with it, then
# builds and runs a sample project that references the DeltaSnap and DeltaSnap.Lvol *packages* (not the projects).
#
#   bash scripts/check-packages.sh        (./build.sh packcheck; ./build.sh test runs it after the tests)
#
# Prints one "packcheck: ok|FAILED <check>" line per check, and last "packcheck: N passed, N failed".
# Exits non-zero when a check failed.
#
# Fresh bits: every run packs a version of its own, 0.1.0-ci.<time>.<pid>, so neither the tool install nor the
# sample's restore can pick up a stale 0.1.0 from the global packages folder; that version is removed from the
# global packages folder again at the end. Restore uses the local folder plus the machine's default sources.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

feed="$root/artifacts/packages"
prefix=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' Directory.Build.props)
suffix="ci.$(date -u +%Y%m%d%H%M%S).$$"
version="$prefix-$suffix"
work=$(mktemp -d /tmp/deltasnap-packcheck-XXXXXX)
global_packages=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')
passed=0 failed=0

cleanup() {
  rm -rf "$work"
  # This run's version only: other runs and other versions are left alone.
  if [ -n "$global_packages" ]; then
    for dir in "$global_packages"/deltasnap*/"$version"; do
      [ -d "$dir" ] && rm -rf "$dir" && rmdir --ignore-fail-on-non-empty "$(dirname "$dir")"
    done
  fi
}
trap cleanup EXIT

ok() { echo "packcheck: ok $1"; passed=$((passed + 1)); }
fail() { echo "packcheck: FAILED $1" >&2; failed=$((failed + 1)); }
finish() {
  echo "packcheck: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

# 1. Pack. Every src/ project must give a package and a symbol package, each package with its README.
echo "packcheck: packing $version into $feed"
rm -f "$feed"/*.nupkg "$feed"/*.snupkg
if bash scripts/pack.sh "$feed" -p:VersionSuffix="$suffix" | tee "$work/pack.log"; then
  missing=()
  for project in src/*/*.csproj; do
    id=$(sed -n 's:.*<PackageId>\(.*\)</PackageId>.*:\1:p' "$project")
    id=${id:-$(basename "$project" .csproj)}
    files=("$id.$version.nupkg" "$id.$version.snupkg")
    rids=$(sed -n 's:.*<ToolPackageRuntimeIdentifiers>\(.*\)</ToolPackageRuntimeIdentifiers>.*:\1:p' "$project")
    if [ -n "$rids" ]; then
      # A RID-specific tool: a pointer package without code (so without symbols) and a package per RID with both.
      files=("$id.$version.nupkg")
      for rid in ${rids//;/ }; do files+=("$id.$rid.$version.nupkg" "$id.$rid.$version.snupkg"); done
    fi
    for file in "${files[@]}"; do
      [ -f "$feed/$file" ] || missing+=("$file")
    done
    # Entry names are stored uncompressed in a zip: no unzip needed to see whether README.md is in it.
    if [ -f "$feed/$id.$version.nupkg" ] && ! grep -aq 'README\.md' "$feed/$id.$version.nupkg"; then
      missing+=("README.md in $id.$version.nupkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then ok "pack: $(ls "$feed"/*."$version".nupkg | wc -l) packages with symbols and READMEs"; else fail "pack: missing ${missing[*]}"; fi
else
  fail "pack: dotnet pack failed"
  finish
fi

# 2. The tool, installed from the local folder into an empty directory (no repository configuration applies there),
#    refreshes a volume between two lvol stores; the copy must read back byte for byte.
tool_check() {
  cd "$work" || return 1
  dotnet tool install --tool-path "$work/tools" --add-source "$feed" DeltaSnap.Cli --version "$version" || return 1
  local deltasnap="$work/tools/deltasnap"
  "$deltasnap" --help >/dev/null || return 1
  # On linux-x64 the install must have picked the precompiled package, not the framework-dependent fallback: Native
  # AOT (one executable, no managed assembly) when scripts/pack.sh said it packed that, ReadyToRun otherwise.
  if [ "$(uname -m)" = x86_64 ]; then
    local store="$work/tools/.store"
    if grep -q "is Native AOT" "$work/pack.log"; then
      if ! find "$store" -path '*deltasnap.cli.linux-x64*' -name DeltaSnap.Cli -type f -perm -u+x | grep -q . \
        || find "$store" -path '*deltasnap.cli.linux-x64*' -name DeltaSnap.Cli.dll | grep -q .; then
        echo "packcheck: the tool installed is not the linux-x64 Native AOT package" >&2
        return 1
      fi
    elif ! find "$store" -path '*deltasnap.cli.linux-x64*' -name DeltaSnap.Cli.dll | grep -q .; then
      echo "packcheck: the tool installed is not the linux-x64 (ReadyToRun) package" >&2
      return 1
    fi
  fi
  head -c $((3 << 20)) /dev/urandom >monday.bin
  head -c $((5 << 20)) /dev/urandom >tuesday.bin
  cp monday.bin expected.bin && dd if=tuesday.bin of=expected.bin bs=1M seek=6 conv=notrunc status=none
  "$deltasnap" lvol create-store a.lvs && "$deltasnap" lvol create-store b.lvs || return 1
  "$deltasnap" lvol create a.lvs vm --size 16M --thin && "$deltasnap" lvol create b.lvs vm --size 16M --thin || return 1
  "$deltasnap" lvol import a.lvs vm monday.bin && "$deltasnap" lvol snapshot a.lvs vm monday || return 1
  "$deltasnap" refresh 'lvol:a.lvs#vm' 'lvol:b.lvs#vm' || return 1
  "$deltasnap" lvol import a.lvs vm tuesday.bin --offset 6M && "$deltasnap" lvol snapshot a.lvs vm tuesday || return 1
  "$deltasnap" refresh 'lvol:a.lvs#vm' 'lvol:b.lvs#vm' || return 1
  "$deltasnap" lvol export b.lvs vm@tuesday copy.bin || return 1
  truncate -s 16M expected.bin
  cmp expected.bin copy.bin || return 1
  "$deltasnap" lvol fsck b.lvs >/dev/null || return 1
}
if (tool_check); then ok "tool: deltasnap $version installed from $feed refreshed an lvol volume, copy equal"; else fail "tool: install or refresh with deltasnap $version"; fi

# 3. A consumer project: the Hello World sample's code against the DeltaSnap and DeltaSnap.Lvol packages.
sample_check() {
  local dir="$work/sample"
  mkdir -p "$dir" && cp samples/Sample1_HelloWorld/Program.cs "$dir/" || return 1
  cat >"$dir/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <!-- The packages just packed, besides the machine's default sources (which serve their dependencies). -->
    <add key="deltasnap-local" value="$feed" />
  </packageSources>
</configuration>
EOF
  cat >"$dir/Sample.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="DeltaSnap" Version="[$version]" />
    <PackageReference Include="DeltaSnap.Lvol" Version="[$version]" />
  </ItemGroup>
</Project>
EOF
  cd "$dir" || return 1
  dotnet build -c Release --nologo -v quiet -clp:NoSummary || return 1
  # The sample proves the copy equal and exits 1 otherwise; the output must say so too.
  dotnet run -c Release --no-build | tee run.log || return 1
  grep -q "The copy matches the source." run.log
}
if (sample_check); then ok "sample: Sample1_HelloWorld built against packages $version and ran"; else fail "sample: build or run against packages $version"; fi

finish
