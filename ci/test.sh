#!/usr/bin/env bash
# The whole test suite: set-up, C shim tests (cmocka), then every Swift test.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/setup.sh
bash ci/test-cshims.sh
swift build --build-tests
set +e
swift test --skip-build 2>&1 | grep --line-buffered -v " started\.$" | tee ci/out/swift-test.log
status=${PIPESTATUS[0]}
set -e
if ((status != 0)); then echo "test: FAILED (exit $status; full log: ci/out/swift-test.log)" >&2; exit "$status"; fi
echo "test: all passed"
