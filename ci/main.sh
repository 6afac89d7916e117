#!/usr/bin/env bash
# The main job: runs the embedded default — the scenarios/ suite on the in-process simulator —
# and says where the report is. Extra arguments go to `sluice lab run` (e.g. --seed 42 --filter dhcp).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/setup.sh
echo "main: building sluice (release)…"
swift build -c release --product sluice 2>&1 | tail -1
run="reports/$(date -u +%Y%m%dT%H%M%SZ)"
exec .build/release/sluice lab run scenarios --backend sim --report "$run" "$@"
