#!/usr/bin/env bash
# Four `sluice mesh up` agents in network namespaces on one LAN (a Linux bridge in its own namespace), with one
# PKI made by `sluice mesh ca` and one registry.json: a and b (plain nodes), r1 and r2 (relays, r1 preferred).
#   1. ping and iperf3 a → b on the direct path;
#   1b. SIGHUP: a's registry gains a node x and loses nothing; a reloads, routes x, and keeps its session with b
#       (same session index, no new handshake) while pinging b;
#   2. nftables in a's namespace drops UDP between a and b: a → b goes through a relay (status says which; with
#      static routing r1, the first listed);
#   3. that relay is killed: a → b recovers through the other one;
#   4. SIGTERM: every agent exits 0 and its interface and routes are gone.
# Usage: bash ci/interop/mesh-agents.sh /path/to/sluice   (root; needs ip, ping, iperf3, nft). MESH_ROUTING=static
# runs the agents with `routing: static` (default babel). Exits non-zero on a failed check; prints
# "mesh-agents: RESULT key=value …" lines with the numbers.
set -uo pipefail
SLUICE=${1:?usage: mesh-agents.sh SLUICE}
ROUTING=${MESH_ROUTING:-babel}
P=${MESH_PREFIX:-sm$$}
DIR=$(mktemp -d /tmp/sluice-mesh-agents.XXXXXX)
NODES=(a b r1 r2)
declare -A IP=([a]=192.0.2.1 [b]=192.0.2.2 [r1]=192.0.2.3 [r2]=192.0.2.4)
declare -A OV=([a]=10.99.0.1 [b]=10.99.0.2 [r1]=10.99.0.3 [r2]=10.99.0.4)
declare -A PID=()
failures=0
check() { if eval "$2"; then echo "mesh-agents: ok: $1"; else echo "mesh-agents: FAILED: $1"; failures=$((failures + 1)); fi; }
ns() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
cleanup() {
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  sleep 0.3
  for n in "${NODES[@]}" lan; do ip netns del "$P-$n" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT

# The LAN.
ip netns add "$P-lan"
ns lan ip link add br0 type bridge
ns lan ip link set br0 up
for n in "${NODES[@]}"; do
  ip netns add "$P-$n"
  ip link add "v$P$n" type veth peer name eth0 netns "$P-$n"
  ip link set "v$P$n" netns "$P-lan"
  ns lan ip link set "v$P$n" master br0 up
  ns "$n" ip addr add "${IP[$n]}/24" dev eth0
  ns "$n" ip link set eth0 up
  ns "$n" ip link set lo up
done

# The PKI: a root, one key and certificate per node (relays with the relay capability).
"$SLUICE" mesh ca init --name root --addresses 10.99.0.0/16 --groups '*' --capabilities relay --days 60 --out "$DIR/root" >/dev/null || exit 1
entries=()
for n in "${NODES[@]}"; do
  (umask 077; "$SLUICE" wg genkey > "$DIR/$n.key")
  pub=$("$SLUICE" wg pubkey < "$DIR/$n.key")
  caps=""; relay=false
  [[ $n == r* ]] && { caps="--capabilities relay"; relay=true; }
  "$SLUICE" mesh ca sign --ca-key "$DIR/root/ca.key" --ca-cert "$DIR/root/ca.crt" --public-key "$pub" --name "$n" \
    --addresses "${OV[$n]}/24" $caps --days 30 --out "$DIR/$n.crt" >/dev/null || exit 1
  entries+=("{ \"common_name\": \"$n\", \"endpoints\": [ { \"serial_number\": 0, \"address\": \"${IP[$n]}\", \"port\": 51820 } ],
      \"remarks\": { \"network\": \"fd99::${OV[$n]##*.}/128\", \"extra_network\": [\"10.98.${OV[$n]##*.}.0/24\"] },
      \"sluice\": { \"public_key\": \"$pub\", \"addresses\": [\"${OV[$n]}/24\"], \"relay\": $relay } }")
  cat > "$DIR/$n.yml" <<YML
# mesh.yml of node $n
private-key: $n.key
certificate: $n.crt
roots: root/ca.crt
registry: registry.json
listen-port: 51820
tun: mesh0
routing: $ROUTING
control: $DIR/$n.sock
YML
done
write_registry() {
  local joined; joined=$(IFS=,; echo "${entries[*]}")
  cat > "$DIR/registry.json" <<JSON
[ { "organization": "lab",
    "public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\n-----END PUBLIC KEY-----",
    "nodes": [ $joined ] } ]
JSON
}
write_registry

for n in "${NODES[@]}"; do
  ip netns exec "$P-$n" "$SLUICE" mesh up "$DIR/$n.yml" > "$DIR/$n.log" 2>&1 &
  PID[$n]=$!
done
for i in $(seq 50); do
  all=1; for n in "${NODES[@]}"; do [[ -S $DIR/$n.sock ]] || all=0; done
  ((all)) && break; sleep 0.1
done
for n in "${NODES[@]}"; do echo "mesh-agents: $n: $(head -1 "$DIR/$n.log")"; done
check "a routes b's prefix 10.98.2.0/24 to mesh0" '[[ $(ns a ip route show 10.98.2.0/24) == *"dev mesh0"* ]]'
status() { ns "$1" "$SLUICE" mesh status --control "$DIR/$1.sock"; }
rtt() { sed -n 's:.* = [0-9.]*/\([0-9.]*\)/.*:\1:p' <<<"$1"; }
iperf() {  # iperf3 from a to b's overlay address; prints Mbit/s
  ns b iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local s=$!; sleep 0.5
  local out; out=$(ns a iperf3 -c "${OV[b]}" -p 5201 -t "${1:-3}" -J 2>/dev/null)
  wait $s 2>/dev/null
  python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))' <<<"$out" 2>/dev/null || echo 0
}

# 1. Direct (one ping first, so the handshake is not in the measured RTT).
ns a ping -c 1 -W 3 "${OV[b]}" >/dev/null
ping1=$(ns a ping -c 5 -i 0.2 -W 2 "${OV[b]}")
check "ping a → b direct" '[[ $ping1 == *" 0% packet loss"* ]]'
ping_all=1
for x in "${NODES[@]}"; do for y in "${NODES[@]}"; do
  [[ $x == "$y" ]] && continue
  ns "$x" ping -c 1 -W 3 "${OV[$y]}" >/dev/null || { ping_all=0; echo "mesh-agents: $x → $y: no reply"; }
done; done
check "all 12 pairs answer a ping" '((ping_all))'
direct_mbit=$(iperf 3)
check "iperf3 a → b direct moved data" '((direct_mbit > 0))'
st=$(status a)
echo "$st" | sed 's/^/mesh-agents: status a: /'
json=$(ns a "$SLUICE" mesh status --control "$DIR/a.sock" --json)
check "status --json: b's path is direct" 'python3 -c "import json,sys; d=json.load(sys.stdin); p=[p for p in d[\"peers\"] if p[\"name\"].endswith(\"CN=b\")][0]; sys.exit(p[\"path\"] != \"direct\" or not p[\"session\"])" <<<"$json"'
check "status: b is direct with a handshake" 'grep -q "peer lab/b\|peer O=lab,CN=b: direct 192.0.2.2:51820, handshake [0-9]" <<<"$st"'
if [[ $ROUTING == babel ]]; then
  check "status: babel routes b's address through b" 'grep -q "route 10.99.0.2/32 via O=lab,CN=b metric" <<<"$st"'
  check "status: b's link has a cost" 'grep -q "CN=b: direct .*, cost [0-9]" <<<"$st"'
fi

# 1b. SIGHUP: a new node x (behind NAT) in the registry; a keeps its session with b.
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); p=[p for p in d['peers'] if p['name'].endswith('CN=b')][0]; print($1)"; }
before=$(ns a "$SLUICE" mesh status --control "$DIR/a.sock" --json)
index_before=$(jget "p.get('sessionIndex')" <<<"$before")
est_before=$(python3 -c "import json,sys; print(json.load(sys.stdin)['counters']['sessionsEstablished'])" <<<"$before")
xpub=$("$SLUICE" wg genkey | "$SLUICE" wg pubkey)
entries+=("{ \"common_name\": \"x\", \"endpoints\": [ { \"serial_number\": 0, \"address\": null, \"port\": 51820 } ],
    \"remarks\": { \"network\": \"fd99::9/128\", \"extra_network\": [\"10.98.9.0/24\"] },
    \"sluice\": { \"public_key\": \"$xpub\", \"addresses\": [\"10.99.0.9/24\"] } }")
write_registry
t0=$(date +%s.%N)
kill -HUP "${PID[a]}"
for i in $(seq 50); do grep -q "SIGHUP: reloaded" "$DIR/a.log" && break; sleep 0.1; done
echo "mesh-agents: RESULT reload_seconds=$(python3 -c "print(round($(date +%s.%N)-$t0,2))")"
check "a logs the reload with x added" 'grep -q "SIGHUP: reloaded .*peers added O=lab,CN=x, removed none" "$DIR/a.log"'
check "a routes x's prefix 10.98.9.0/24 after the reload" '[[ $(ns a ip route show 10.98.9.0/24) == *"dev mesh0"* ]]'
ping_reload=$(ns a ping -c 3 -i 0.2 -W 2 "${OV[b]}")
check "ping a → b after the reload" '[[ $ping_reload == *" 0% packet loss"* ]]'
after=$(ns a "$SLUICE" mesh status --control "$DIR/a.sock" --json)
index_after=$(jget "p.get('sessionIndex')" <<<"$after")
est_after=$(python3 -c "import json,sys; print(json.load(sys.stdin)['counters']['sessionsEstablished'])" <<<"$after")
echo "mesh-agents: RESULT reload_session_index_before=$index_before after=$index_after sessions_established_before=$est_before after=$est_after"
check "the session with b survived the reload (same index)" '[[ -n $index_before && $index_before == "$index_after" ]]'
check "no handshake because of the reload" '((est_before == est_after))'
check "x is a peer after the reload" 'grep -q "CN=x" <<<"$after"'

# 2. a ↔ b blocked: through r1.
ns a nft add table inet meshblock
ns a nft add chain inet meshblock out '{ type filter hook output priority 0; }'
ns a nft add chain inet meshblock in '{ type filter hook input priority 0; }'
ns a nft add rule inet meshblock out ip daddr "${IP[b]}" udp dport 51820 drop
ns a nft add rule inet meshblock in ip saddr "${IP[b]}" udp sport 51820 drop
t0=$(date +%s.%N)
recovered=""
for i in $(seq 100); do
  if ns a ping -c 1 -W 1 "${OV[b]}" >/dev/null 2>&1; then recovered=$(date +%s.%N); break; fi
done
[[ -n $recovered ]] && echo "mesh-agents: RESULT failover_to_relay_seconds=$(python3 -c "print(round($recovered-$t0,2))")"
ping2=$(ns a ping -c 5 -i 0.2 -W 2 "${OV[b]}")
check "ping a → b with the direct path blocked" '[[ $ping2 == *" 0% packet loss"* ]]'
st=$(status a)
echo "$st" | sed 's/^/mesh-agents: status a: /'
via=$(sed -n 's/.*CN=b: relayed via O=lab,CN=\(r[12]\).*/\1/p' <<<"$st")
other=r2; [[ $via == r2 ]] && other=r1
if [[ $ROUTING == static ]]; then
  check "status: b relayed via r1" '[[ $via == r1 ]]'
else
  check "status: b relayed via r1 or r2" '[[ -n $via ]]'
fi
[[ -z $via ]] && via=r1
relay_mbit=$(iperf 3)
check "iperf3 a → b through $via moved data" '((relay_mbit > 0))'
str1=$(status $via)
check "$via counted relayed envelopes" '[[ $(sed -n "s/.*relayed \([0-9]*\).*/\1/p" <<<"$str1") -gt 0 ]]'

# 3. The relay in use killed.
kill -TERM "${PID[$via]}"; wait "${PID[$via]}"; r1_exit=$?; unset "PID[$via]"
check "$via exits 0 on SIGTERM" '((r1_exit == 0))'
t0=$(date +%s.%N)
recovered=""
for i in $(seq 30); do
  if ns a ping -c 1 -W 1 "${OV[b]}" >/dev/null 2>&1; then recovered=$(date +%s.%N); break; fi
done
if [[ -n $recovered ]]; then
  echo "mesh-agents: RESULT failover_to_${other}_seconds=$(python3 -c "print(round($recovered-$t0,2))")"
else
  echo "mesh-agents: RESULT failover_to_${other}_seconds=none"
fi
st=$(status a)
echo "$st" | sed "s/^/mesh-agents: status a ($via gone): /"
check "a → b recovers through $other after $via died" '[[ -n $recovered ]]'
check "status: b relayed via $other" 'grep -q "CN=b: relayed via O=lab,CN=$other" <<<"$st"'

echo "mesh-agents: RESULT rtt_direct_ms=$(rtt "$ping1") rtt_relayed_ms=$(rtt "$ping2") iperf_direct_mbit=$direct_mbit iperf_relayed_mbit=$relay_mbit"

# 4. Clean shutdown.
for n in a b $other; do
  kill -TERM "${PID[$n]}"; wait "${PID[$n]}"; code=$?; unset "PID[$n]"
  check "$n exits 0 on SIGTERM" '((code == 0))'
  check "$n: mesh0 is gone" '! ns "$n" ip link show mesh0 >/dev/null 2>&1'
  check "$n: control socket removed" '[[ ! -e $DIR/$n.sock ]]'
done
for n in "${NODES[@]}"; do sed "s/^/mesh-agents: log $n: /" "$DIR/$n.log" | tail -3; done
echo "mesh-agents: $failures failed checks"
((failures == 0))
