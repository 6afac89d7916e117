#!/usr/bin/env bash
# iperf3 TCP through WireGuard between two network namespaces, in one run: sluice ⇄ sluice against
# wireguard-go ⇄ wireguard-go, at each MTU, beside the bare veth underneath. Needs root. Prints a Markdown table.
#
#   ci/interop/bench-wg.sh [SECONDS] [MTUS]      defaults: 10 "1420 8920"
#
# The sluice binary is .build/release/sluice (swift build -c release --product sluice) unless SLUICE_BIN is set.
# Each row is the best of ROUNDS (default 2) runs of iperf3 -t SECONDS from side a to side b.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds=${1:-10}
mtus=${2:-"1420 8920"}
rounds=${ROUNDS:-2}
export SLUICE_BIN=${SLUICE_BIN:-$root/.build/release/sluice}
[[ -x $SLUICE_BIN ]] || { echo "bench-wg: no $SLUICE_BIN; run: swift build -c release --product sluice" >&2; exit 1; }
bash "$here/ensure-tools.sh"

gbps() {  # iperf3 -J output on stdin → Gbit/s received
  python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

measure() {  # name target → best Gbit/s over the rounds
  local name=$1 target=$2 best=0 r
  for _ in $(seq "$rounds"); do
    ip netns exec "swg-$name-b" iperf3 -s -1 -B "$target" >/dev/null 2>&1 &
    local server=$!
    sleep 0.5
    r=$(ip netns exec "swg-$name-a" iperf3 -c "$target" -t "$seconds" -J | gbps) || r=0
    wait "$server" 2>/dev/null || true
    best=$(python3 -c "print(max($best, $r))")
  done
  echo "$best"
}

echo "| MTU | veth (no tunnel) Gbit/s | wireguard-go ⇄ wireguard-go Gbit/s | sluice ⇄ sluice Gbit/s | sluice / wireguard-go |"
echo "|---|---|---|---|---|"
for mtu in $mtus; do
  MTU=$mtu bash "$here/wg-pair.sh" up benchg wggo wggo >/dev/null
  veth=$(measure benchg 192.0.2.2)
  wggo=$(measure benchg 203.0.113.2)
  bash "$here/wg-pair.sh" down benchg
  MTU=$mtu bash "$here/wg-pair.sh" up benchs sluice sluice >/dev/null
  sluice=$(measure benchs 203.0.113.2)
  bash "$here/wg-pair.sh" down benchs
  ratio=$(python3 -c "print('%.2f×' % ($sluice / $wggo) if $wggo > 0 else 'n/a')")
  echo "| $mtu | $veth | $wggo | $sluice | $ratio |"
done
