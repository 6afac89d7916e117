#!/usr/bin/env bash
# The whole test suite: set-up, C shim tests (cmocka), then every Swift test.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/check-imports.sh     # Package.swift declares exactly what each module imports (fails fast, before any build)
source ci/setup.sh
bash ci/build-test-guest.sh   # the QEMU test guest (kernel + busybox initramfs), cached in ci/cache/
# wireguard-go, wireguard-tools, iperf3, python3 for the interop and WAN tests (root only: without
# root those tests skip and say why, so a missing tool is not an error here).
if ((EUID == 0)); then bash ci/interop/ensure-tools.sh; fi
bash ci/test-cshims.sh
swift build --build-tests
set +e
swift test --skip-build 2>&1 | grep --line-buffered -v " started\.$" | tee ci/out/swift-test.log
status=${PIPESTATUS[0]}
set -e
if ((status != 0)); then echo "test: FAILED (exit $status; full log: ci/out/swift-test.log)" >&2; exit "$status"; fi

# Allocation budgets: tests that count mallocs need the CMallocCounter interposer preloaded and
# must run alone and one at a time (the counter is process-wide: it counts every running test).
gcc -shared -fPIC -O2 -ISources/CMallocCounter/include Sources/CMallocCounter/malloc_counter.c -o ci/out/libmalloc_counter.so
# The no-growth and no-leak checks that measure the whole process (heap, descriptors) run here too,
# alone (SLUICE_ALONE=1): beside the parallel tests their figures carry the others' noise.
SLUICE_ALONE=1 LD_PRELOAD=$PWD/ci/out/libmalloc_counter.so swift test --skip-build --no-parallel \
  --filter "AllocationBudget|DoesNotGrowTheHeap|LeaksNothing" 2>&1 \
  | grep -v " started\.$" | tee ci/out/allocation-tests.log
if grep -q "skipped" ci/out/allocation-tests.log || ! grep -q "✔ Test run" ci/out/allocation-tests.log; then
  echo "test: FAILED: allocation-budget tests did not run or did not pass (ci/out/allocation-tests.log)" >&2; exit 1
fi
# Fuzzing (docs/fuzzing.md): the libFuzzer build in .build-fuzz, every regression input replayed,
# each parser's target fuzzed for 10 s, then coverage per target; exits 1 on any crash.
bash ci/fuzz.sh ci 2>&1 | tee ci/out/fuzz.log
# The README's main command, as a user runs it: the release build (a whole-module build can fail
# where the debug build passed) and the scenario suite on the simulator with a report.
bash ci/main.sh
# The 1,000-host scale scenario (fixtures/scale/, kept out of the default suite for time), once, on
# the release build main.sh made: every host's lease, pings and flow, under `sluice bench sim`'s load.
.build/release/sluice lab run fixtures/scale --backend sim --report ci/out/scale-report
# The 64-node mesh (fixtures/mesh-scale/, docs/scenarios.md "Mesh scenarios"), once, on the same build: a full mesh
# of pings converged within 30 s, control traffic under 16 kB/s per node, no routing loops.
.build/release/sluice lab run fixtures/mesh-scale --backend sim --report ci/out/mesh-scale-report
# The soak (docs/scenarios.md, Soak runs): fixtures/soak's churn for one simulated hour on the same
# build; heap in use, descriptors and mappings must not grow from one run's end to the next.
.build/release/sluice lab run fixtures/soak --soak 1h --report ci/out/soak
# The 100 MB TCP check (fixtures/tcp/, also out of the default suite for time), once, on the same
# build: NewReno in the Mathis band and CUBIC above it, a byte-identical rerun, and tshark's
# analysis of the capture against the senders' retransmission counters.
bash ci/tcp-100mb.sh .build/release/sluice
echo "test: all passed"
