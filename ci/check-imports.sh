#!/usr/bin/env bash
# Package.swift declares exactly what each module imports: for every Swift target, the modules its
# `dependencies:` list names must equal the package modules its sources import (system modules —
# Foundation, Glibc, Testing, … — are not declared and are ignored). A product dependency counts
# as the module of the same name (.product(name: "Yams", …) is `import Yams`).
# Usage: bash ci/check-imports.sh [Package.swift]   (exits 1 and names every mismatch)
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=${1:-Package.swift}
system='^(Foundation|FoundationEssentials|FoundationXML|FoundationNetworking|Glibc|Musl|Darwin|Dispatch|Synchronization|Testing|XCTest|Swift|_Concurrency|os)$'

# One line per target: kind name path|- dep dep …  (the manifest flattened, split at each target).
targets=$(sed 's://.*$::' "$manifest" | tr '\n' ' ' |
  sed -E 's/\.(target|testTarget|executableTarget|systemLibrary)\(/\n\1(/g' | tail -n +2 |
  awk '{
    kind = $0; sub(/\(.*/, "", kind)
    if (!match($0, /name: *"[^"]+"/)) next
    name = substr($0, RSTART, RLENGTH); sub(/name: *"/, "", name); sub(/"$/, "", name)
    path = "-"
    if (match($0, /path: *"[^"]+"/)) { path = substr($0, RSTART, RLENGTH); sub(/path: *"/, "", path); sub(/"$/, "", path) }
    deps = ""
    if (match($0, /dependencies: *\[[^]]*\]/)) {
      d = substr($0, RSTART, RLENGTH); sub(/dependencies: *\[/, "", d); sub(/\]$/, "", d)
      gsub(/\.product\(name: */, "", d); gsub(/, *package: *"[^"]*" *\)/, "", d)
      gsub(/[",]/, " ", d); deps = d
    }
    print kind, name, path, deps
  }')

if [[ -z "$targets" ]]; then echo "check-imports: ERROR: no targets found in $manifest" >&2; exit 1; fi

status=0
checked=0
while read -r kind name path deps; do
  [[ "$kind" == systemLibrary ]] && continue
  if [[ "$path" == "-" ]]; then
    if [[ "$kind" == testTarget ]]; then path="Tests/$name"; else path="Sources/$name"; fi
  fi
  [[ -d "$path" ]] || { echo "check-imports: $name: no directory $path" >&2; status=1; continue; }
  files=$(find "$path" -name '*.swift')
  [[ -z "$files" ]] && continue   # a C target
  checked=$((checked + 1))
  imported=$(cat $files | sed -nE 's/^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*import[[:space:]]+((struct|class|enum|protocol|func|var|let|typealias)[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*).*/\4/p' |
    grep -Ev "$system" | grep -vx "$name" | sort -u || true)
  declared=$(printf '%s\n' $deps | grep -v '^$' | sort -u || true)
  missing=$(comm -23 <(printf '%s\n' "$imported") <(printf '%s\n' "$declared") | grep -v '^$' || true)
  unused=$(comm -13 <(printf '%s\n' "$imported") <(printf '%s\n' "$declared") | grep -v '^$' || true)
  if [[ -n "$missing" ]]; then
    echo "check-imports: $name imports $(echo $missing | sed 's/ /, /g') but Package.swift does not declare it" >&2; status=1
  fi
  if [[ -n "$unused" ]]; then
    echo "check-imports: $name declares $(echo $unused | sed 's/ /, /g') in Package.swift but never imports it" >&2; status=1
  fi
done <<< "$targets"

if ((status != 0)); then
  echo "check-imports: FAILED — make each target's dependencies in $manifest equal the modules its sources import" >&2
  exit 1
fi
echo "check-imports: $checked Swift targets declare exactly what they import"
