#!/usr/bin/env bash
# Fuzzing every parser (docs/fuzzing.md). One libFuzzer binary, Fuzz/SluiceFuzz, holds every target;
# SLUICE_FUZZ_TARGET picks one. It is built in its own folder (.build-fuzz) with the fuzzer and
# AddressSanitizer, and with coverage mapping so `coverage` can show what the corpus reaches; the
# normal build never sees it (Package.swift declares it only when SLUICE_FUZZ=1).
#
# Usage: bash ci/fuzz.sh COMMAND [options]
#   build                      build .build-fuzz/release/SluiceFuzz
#   list                       the targets
#   seed                       rewrite fixtures/fuzz/<target>/seed-* from the real encoders and captures
#   regressions                run every input in fixtures/fuzz/regressions/ once (each must pass)
#   run [SECONDS] [TARGET…]    fuzz each target for SECONDS (default 20), starting from
#                              fixtures/fuzz/<target>/ plus what earlier runs found (.build-fuzz/corpus/);
#                              prints executions, exec/s, edges (cov), features (ft) and crashes per target
#   coverage [TARGET…]         line coverage of each target's corpus (llvm-cov), per source folder
#   merge [TARGET…]            minimize the found corpus into fixtures/fuzz/<target>/ (to commit)
#   ci                         build, regressions, run 10 s per target, coverage: CI's bounded step
#   long [SECONDS]             build, regressions, run SECONDS per target (default 600), coverage
# A crash leaves its input in .build-fuzz/crashes/<target>/ and makes `run` exit 1; reproduce it
# with: SLUICE_FUZZ_TARGET=<target> .build-fuzz/release/SluiceFuzz <input>
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
scratch=.build-fuzz
binary=${SLUICE_FUZZ_BINARY:-$scratch/release/SluiceFuzz}   # SLUICE_FUZZ_BINARY: another build of the harness
# Swift's own crash backtracer reads the crashed process's memory and trips AddressSanitizer;
# libFuzzer prints the stack instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
# The profile each run writes (coverage mapping is built in); only `coverage` keeps it.
export LLVM_PROFILE_FILE=/dev/null

targets() { SLUICE_FUZZ_TARGET=list "$binary" 2>/dev/null | cut -f1; }

# swiftc keeps only the last -sanitize= flag it is given, and SwiftPM emits one per --sanitize in
# an order that varies from run to run: a build got either the fuzzer's coverage or AddressSanitizer
# in the Swift modules, never both. The -Xswiftc flag comes after SwiftPM's own, so it is the one
# swiftc keeps; the --sanitize flags still instrument the C targets and pick the link runtimes.
compile() {
  SLUICE_FUZZ=1 swift build --scratch-path "$scratch" -c release --product SluiceFuzz \
    --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address --enable-code-coverage
}

# libFuzzer's count of coverage counters in the binary (about 254,000 when every module is instrumented).
counters() {
  SLUICE_FUZZ_TARGET=checksum-incremental "$binary" -runs=0 2>&1 |
    sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline.*/\1/p' | head -1
}

# AddressSanitizer checks in a library module's objects (0 when the module was built without it).
asan_checks() {
  nm -u "$scratch"/release/Wire.build/*.o 2>/dev/null | grep -c '__asan_report_' || true
}

build() {
  compile
  # Both instruments must reach the library modules, or libFuzzer fuzzes blind (about 4,000
  # counters: the runtime's own) or memory errors go unseen. Say so and stop.
  local n a; n=$(counters); a=$(asan_checks)
  if (( ${n:-0} < 20000 || ${a:-0} == 0 )); then
    echo "fuzz: the build is not fully instrumented: ${n:-no} coverage counters (want about 47,000)," \
      "${a:-no} AddressSanitizer checks in Sources/Wire; see compile() in ci/fuzz.sh" >&2
    exit 1
  fi
  echo "fuzz: $binary built, $n coverage counters, AddressSanitizer in the library modules"
}

need_binary() { [[ -x "$binary" ]] || { echo "fuzz: no $binary — run: bash ci/fuzz.sh build" >&2; exit 1; }; }

# Per-target libFuzzer options: maximum input length, and a dictionary when there is one.
options() {
  local t=$1 max=4096
  case $t in pcap-reader|scenario-yaml) max=16384 ;; bridge-yaml|machine-yaml|wg-quick) max=2048 ;; mesh-handshake|mesh-registry) max=8192 ;; esac
  local o=(-max_len=$max -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [[ -f fixtures/fuzz/dict/$t.dict ]] && o+=(-dict=fixtures/fuzz/dict/$t.dict)
  echo "${o[@]}"
}

seed() {
  need_binary
  for t in $(targets); do
    mkdir -p "fixtures/fuzz/$t"
    rm -f "fixtures/fuzz/$t"/seed-*
    SLUICE_FUZZ_TARGET=$t SLUICE_FUZZ_WRITE_SEEDS=fixtures/fuzz/$t "$binary"
  done
}

regressions() {
  need_binary
  local n=0 failed=0
  shopt -s nullglob
  for f in fixtures/fuzz/regressions/*--*; do
    local name t
    name=$(basename "$f")
    t=${name%%--*}   # files are named <target>--<what it was>
    n=$((n + 1))
    if ! SLUICE_FUZZ_TARGET=$t "$binary" -runs=1 "$f" >"$scratch/regression.log" 2>&1; then
      echo "fuzz: REGRESSION $name crashes again:" >&2; tail -30 "$scratch/regression.log" >&2; failed=1
    fi
  done
  echo "fuzz: $n regression inputs replayed, $([[ $failed == 0 ]] && echo 'all pass' || echo 'FAILED')"
  return $failed
}

run() {
  need_binary
  local seconds=${1:-20}; shift || true
  local list=("$@"); [[ ${#list[@]} -gt 0 ]] || list=($(targets))
  local status=0
  mkdir -p "$scratch/logs"
  printf '%-22s %8s %10s %8s %6s %7s %8s %s\n' target seconds execs exec/s cov ft corpus crashes
  for t in "${list[@]}"; do
    mkdir -p "$scratch/corpus/$t" "$scratch/crashes/$t" "fixtures/fuzz/$t"
    local log=$scratch/logs/$t.log
    # shellcheck disable=SC2046
    SLUICE_FUZZ_TARGET=$t "$binary" $(options "$t") -max_total_time="$seconds" \
      -artifact_prefix="$scratch/crashes/$t/" "$scratch/corpus/$t" "fixtures/fuzz/$t" >"$log" 2>&1 || true
    local execs rate cov ft corpus crashes
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
    corpus=$(find "$scratch/corpus/$t" -type f | wc -l)
    crashes=$(find "$scratch/crashes/$t" -type f | wc -l)
    printf '%-22s %8s %10s %8s %6s %7s %8s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes"
    if ((crashes > 0)) || grep -qE 'ERROR: (libFuzzer|AddressSanitizer)|Fatal error|Precondition failed' "$log"; then
      echo "fuzz: $t CRASHED (log $log, inputs in $scratch/crashes/$t/):" >&2
      grep -E 'Fatal error|Precondition failed|ERROR:|SUMMARY' "$log" | head -5 >&2
      status=1
    fi
    if [[ -z "$execs" ]]; then echo "fuzz: $t did not finish a run (log $log)" >&2; status=1; fi
  done
  return $status
}

coverage() {
  need_binary
  local list=("$@"); [[ ${#list[@]} -gt 0 ]] || list=($(targets))
  mkdir -p "$scratch/coverage"
  printf '%-22s %s\n' target 'line coverage of the modules it feeds (llvm-cov; files with 0% listed in the report file)'
  for t in "${list[@]}"; do
    local profile=$scratch/coverage/$t
    rm -f "$profile".profraw "$profile".profdata
    mkdir -p "$scratch/corpus/$t"
    LLVM_PROFILE_FILE=$profile.profraw SLUICE_FUZZ_TARGET=$t "$binary" -runs=0 $(options "$t") \
      "$scratch/corpus/$t" "fixtures/fuzz/$t" >"$scratch/coverage/$t.log" 2>&1 || true
    [[ -f $profile.profraw ]] || { echo "fuzz: $t wrote no profile" >&2; continue; }
    llvm-profdata merge -sparse "$profile.profraw" -o "$profile.profdata"
    local sources
    case $t in
      wire-frame) sources=Sources/Wire ;;
      checksum-incremental) sources=Sources/Wire/InternetChecksum.swift ;;
      nat-rewrite) sources=Sources/Datapath/NAT ;;
      wireguard-receive) sources=Sources/WireGuard ;;
      virtio-queue) sources=Sources/Virtio ;;
      vhost-user) sources=Sources/VhostUser ;;
      pcap-reader) sources=Sources/Capture ;;
      bridge-yaml) sources="Sources/Engine/Config Sources/YAMLSchema" ;;
      machine-yaml) sources="Sources/QEMU/MachineConfig+YAML.swift Sources/QEMU/MachineConfig.swift Sources/QEMU/QEMUCommandLine.swift" ;;
      wg-quick) sources="Sources/Tunnel/TunnelConfigurationParser.swift Sources/Tunnel/TunnelConfiguration.swift" ;;
      scenario-yaml) sources=Sources/Lab/Scenario ;;
      bridge-frames) sources="Sources/Engine Sources/Datapath" ;;
      mesh-certificate) sources="Sources/Mesh/Certificate.swift Sources/Mesh/CertificateVerifier.swift Sources/Mesh/RevocationList.swift Sources/Mesh/Armor.swift Sources/Mesh/ByteCodec.swift Sources/Mesh/OverlayNetwork.swift" ;;
      mesh-handshake) sources="Sources/Mesh Sources/WireGuard/KeypairTransport.swift Sources/WireGuard/Cookie.swift" ;;
      babel-router) sources=Sources/Mesh/Babel ;;
      wg-uapi) sources="Sources/WireGuard/ConfigurationProtocol.swift Sources/WireGuard/DeviceConfigure.swift" ;;
      mesh-registry) sources="Sources/Mesh/MeshRegistry.swift Sources/Mesh/JSONDocument.swift" ;;
      noise-wireguard) sources="Sources/Noise Sources/WireGuard/NoiseIK.swift Sources/WireGuard/DeviceHandshake.swift" ;;
      socks5-server) sources="Sources/Streams/SOCKS5Messages.swift Sources/Streams/SOCKS5Server.swift Sources/Streams/StreamDestination.swift" ;;
      http-connect) sources="Sources/Streams/HTTPConnect.swift Sources/Streams/StreamDestination.swift" ;;
      tls-client-hello) sources=Sources/Streams/TLSClientHello.swift ;;
      gate-yaml) sources="Sources/Streams/GateRules.swift Sources/YAMLSchema" ;;
      *) sources=Sources ;;
    esac
    # shellcheck disable=SC2086
    llvm-cov report "$binary" -instr-profile="$profile.profdata" $sources >"$scratch/coverage/$t.txt" 2>/dev/null || true
    local total
    total=$(awk '/^TOTAL/ {print $(NF-3) " of lines (" $(NF-5) " lines)"}' "$scratch/coverage/$t.txt")
    printf '%-22s %-40s %s\n' "$t" "${total:-no report}" "$sources"
  done
  echo "fuzz: per-file tables in $scratch/coverage/<target>.txt"
}

merge() {
  need_binary
  local list=("$@"); [[ ${#list[@]} -gt 0 ]] || list=($(targets))
  for t in "${list[@]}"; do
    mkdir -p "$scratch/merged/$t"; rm -f "$scratch/merged/$t"/*
    # shellcheck disable=SC2046
    SLUICE_FUZZ_TARGET=$t "$binary" -merge=1 $(options "$t") "$scratch/merged/$t" "fixtures/fuzz/$t" "$scratch/corpus/$t" \
      >"$scratch/logs/merge-$t.log" 2>&1
    # Keep the generated seeds under their names; add the minimized finds beside them.
    find "fixtures/fuzz/$t" -type f ! -name 'seed-*' -delete
    cp "$scratch/merged/$t"/* "fixtures/fuzz/$t/" 2>/dev/null || true
    echo "fuzz: $t corpus: $(find "fixtures/fuzz/$t" -type f | wc -l) files"
  done
}

command=${1:-ci}; shift || true
case $command in
  build) build ;;
  list) need_binary; SLUICE_FUZZ_TARGET=list "$binary" ;;
  seed) seed ;;
  regressions) regressions ;;
  run) run "$@" ;;
  coverage) coverage "$@" ;;
  merge) merge "$@" ;;
  ci) build; regressions; run 10; coverage ;;
  long) build; regressions; run "${1:-600}"; coverage ;;
  *) echo "usage: bash ci/fuzz.sh build|list|seed|regressions|run [SECONDS] [TARGET…]|coverage|merge|ci|long [SECONDS]" >&2; exit 2 ;;
esac
