#!/usr/bin/env bash
# iperf3 TCP between two network namespaces, (a) through `sluice bridge` TAP ports and (b) through
# a Linux bridge with veth pairs, measured in the same run at the same MTU. Needs root.
# Usage: ci/bench/tap-vs-linux-bridge.sh [seconds=5] [mtu=1500]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}; mtu=${2:-1500}
[[ $(id -u) -eq 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "bench: iperf3 missing (apt-get install iperf3)" >&2; exit 1; }
swift build -c release --product sluice >/dev/null
bin=.build/release/sluice
tag=b$$; work=$(mktemp -d)
cleanup() {
  [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  for n in ${tag}s1 ${tag}s2 ${tag}l1 ${tag}l2; do ip netns del $n 2>/dev/null || true; done
  ip link del ${tag}br 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

run_iperf() { # server-ns client-ns server-ip
  ip netns exec "$1" iperf3 -s -1 -D -p 5201 >/dev/null 2>&1; sleep 0.3
  ip netns exec "$2" iperf3 -c "$3" -p 5201 -t "$secs" -J | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

# (a) sluice: two TAP ports, one in each namespace.
for n in s1 s2; do ip netns add ${tag}$n; ip -n ${tag}$n link set lo up; done
cat > "$work/br.yml" <<YML
name: bench
taps:
  - { name: ${tag}t1, namespace: ${tag}s1 }
  - { name: ${tag}t2, namespace: ${tag}s2 }
YML
$bin bridge "$work/br.yml" > "$work/bridge.log" 2>&1 & pid=$!
for i in $(seq 50); do grep -q "TAP ${tag}t2" "$work/bridge.log" && break; sleep 0.1; done
for i in 1 2; do
  ip -n ${tag}s$i link set ${tag}t$i mtu $mtu up
  ip -n ${tag}s$i addr add 10.99.0.$i/24 dev ${tag}t$i
done
ip netns exec ${tag}s1 ping -c 1 -W 2 10.99.0.2 >/dev/null
sluice_gbps=$(run_iperf ${tag}s2 ${tag}s1 10.99.0.2)

# (b) Linux bridge: veth pairs into a kernel bridge.
ip link add ${tag}br type bridge; ip link set ${tag}br up
for i in 1 2; do
  ip netns add ${tag}l$i; ip -n ${tag}l$i link set lo up
  ip link add ${tag}v$i type veth peer name ${tag}p$i
  ip link set ${tag}v$i master ${tag}br mtu $mtu up
  ip link set ${tag}p$i netns ${tag}l$i
  ip -n ${tag}l$i link set ${tag}p$i mtu $mtu up
  ip -n ${tag}l$i addr add 10.98.0.$i/24 dev ${tag}p$i
done
ip netns exec ${tag}l1 ping -c 1 -W 2 10.98.0.2 >/dev/null
linux_gbps=$(run_iperf ${tag}l2 ${tag}l1 10.98.0.2)

ratio=$(python3 -c "print('%.3f' % ($sluice_gbps / $linux_gbps))")
echo "| path | MTU | iperf3 TCP Gbit/s |"
echo "|---|---|---|"
echo "| sluice bridge (TAP ports, release) | $mtu | $sluice_gbps |"
echo "| Linux bridge (veth) | $mtu | $linux_gbps |"
echo "| ratio sluice / Linux | | $ratio |"
