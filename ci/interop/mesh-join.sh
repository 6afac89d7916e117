#!/usr/bin/env bash
# Joining with an invite (docs/mesh.md, "Joining"), with real processes in network namespaces on one LAN: a (the
# admission node: a member that also holds the CA key and reads invites), b (a member), c (new: no key, no
# certificate). The PKI comes from `sluice mesh ca`, the registry lists a and b.
#   1. a wrong secret (the token altered) is refused at a, counted, and no join is listed;
#   2. `sluice mesh invite` on a; `sluice mesh join TOKEN` in c waits, `sluice mesh status` on a lists the join
#      waiting, `sluice mesh approve c` approves it, and the join writes c's key, certificate and root;
#   3. the same token again (another key) is refused (usedInvite) and counted;
#   4. c comes up as a normal node (`sluice mesh up` with the files the join wrote; the operator added c to the
#      registry c reads): c pings b and b pings c.
# Usage: bash ci/interop/mesh-join.sh /path/to/sluice   (root; needs ip, ping, python3). Exits non-zero on a failed
# check; prints "mesh-join: RESULT key=value …" lines with the numbers.
set -uo pipefail
SLUICE=${1:?usage: mesh-join.sh SLUICE}
P=${MESH_PREFIX:-sj$$}
DIR=$(mktemp -d /tmp/sluice-mesh-join.XXXXXX)
NODES=(a b c)
declare -A IP=([a]=192.0.2.1 [b]=192.0.2.2 [c]=192.0.2.3)
declare -A OV=([a]=10.99.0.1 [b]=10.99.0.2 [c]=10.99.0.5)
declare -A PID=()
failures=0
check() { if eval "$2"; then echo "mesh-join: ok: $1"; else echo "mesh-join: FAILED: $1"; failures=$((failures + 1)); fi; }
ns() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
cleanup() {
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  sleep 0.3
  for n in "${NODES[@]}" lan; do ip netns del "$P-$n" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT

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

"$SLUICE" mesh ca init --name root --addresses 10.99.0.0/16 --groups '*' --capabilities relay --days 60 --out "$DIR/root" >/dev/null || exit 1
entry() {  # name pub
  echo "{ \"common_name\": \"$1\", \"endpoints\": [ { \"serial_number\": 0, \"address\": \"${IP[$1]}\", \"port\": 51820 } ],
      \"remarks\": { \"network\": \"fd99::${OV[$1]##*.}/128\" },
      \"sluice\": { \"public_key\": \"$2\", \"addresses\": [\"${OV[$1]}/24\"] } }"
}
registry() {  # entries…
  local joined; joined=$(IFS=,; echo "$*")
  echo "[ { \"organization\": \"lab\", \"public_key\": \"DqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=\", \"nodes\": [ $joined ] } ]"
}
entries=()
for n in a b; do
  (umask 077; "$SLUICE" wg genkey > "$DIR/$n.key")
  "$SLUICE" wg pubkey < "$DIR/$n.key" > "$DIR/$n.pub"
  "$SLUICE" mesh ca sign --ca-key "$DIR/root/ca.key" --ca-cert "$DIR/root/ca.crt" --public-key "$(cat "$DIR/$n.pub")" --name "$n" \
    --addresses "${OV[$n]}/24" --days 30 --out "$DIR/$n.crt" >/dev/null || exit 1
  entries+=("$(entry "$n" "$(cat "$DIR/$n.pub")")")
  printf 'private-key: %s.key\ncertificate: %s.crt\nroots: root/ca.crt\nregistry: registry.json\ntun: mesh0\ncontrol: %s/%s.sock\n' \
    "$n" "$n" "$DIR" "$n" > "$DIR/$n.yml"
done
registry "${entries[@]}" > "$DIR/registry.json"
mkdir -m 0700 "$DIR/invites"
printf 'admission-ca-key: root/ca.key\nadmission-ca-cert: root/ca.crt\ninvites: invites\n' >> "$DIR/a.yml"

for n in a b; do
  ip netns exec "$P-$n" "$SLUICE" mesh up "$DIR/$n.yml" > "$DIR/$n.log" 2>&1 &
  PID[$n]=$!
done
for i in $(seq 50); do [[ -S $DIR/a.sock && -S $DIR/b.sock && -S $DIR/a.sock.admission ]] && break; sleep 0.1; done
check "a serves its admission socket" '[[ -S $DIR/a.sock.admission ]]'
status_json() { ns a "$SLUICE" mesh status --control "$DIR/a.sock" --json; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin)['admission']; print(eval(sys.argv[1]))" "$1"; }

# The invite.
token=$("$SLUICE" mesh invite --ca-key "$DIR/root/ca.key" --ca-cert "$DIR/root/ca.crt" --invites "$DIR/invites" \
  --admission-key "$DIR/a.pub" --endpoint "${IP[a]}:51820" --name c --addresses "${OV[c]}/24" --days 7 --expires-hours 1 2>"$DIR/invite.err")
check "sluice mesh invite printed a token and wrote the invite" '[[ $token == sluicejoin1:* ]] && ls "$DIR"/invites/*.invite >/dev/null 2>&1'
check "the invite file is 0600" '[[ $(stat -c %a "$DIR"/invites/*.invite) == 600 ]]'

# 1. A wrong secret: the token's secret bytes altered (base64 characters in the secret's range).
bad=$(python3 - "$token" <<'PY'
import base64, sys
t = sys.argv[1]; p = "sluicejoin1:"; b = bytearray(base64.b64decode(t[len(p):]))
b[60] ^= 0xFF  # inside the secret (bytes 54..85)
print(p + base64.b64encode(bytes(b)).decode())
PY
)
ns c "$SLUICE" mesh join "$bad" --out "$DIR/c-bad" --timeout 3 > "$DIR/join-bad.log" 2>&1; bad_exit=$?
check "a wrong secret gets no certificate" '((bad_exit != 0)) && [[ ! -e $DIR/c-bad/node.crt ]]'
status_json | python3 -c "import json,sys; print(\"mesh-join: admission after the wrong secret:\", json.load(sys.stdin)[\"admission\"])"
check "a counted the wrong secret (badInviteProof) and lists no join" \
  '[[ $(status_json | field "d[\"drops\"].get(\"wrong invite secret\", 0)") -ge 1 && $(status_json | field "len(d[\"joins\"])") == 0 ]]'

# 2. The join, waiting for approval, then approved.
t0=$(date +%s.%N)
ns c "$SLUICE" mesh join "$token" --out "$DIR/c" --timeout 60 > "$DIR/join.log" 2>&1 &
PID[join]=$!
waiting=""
for i in $(seq 100); do
  [[ $(status_json | field "[j['state'] for j in d['joins'] if j['name']=='c']") == "['waiting']" ]] && { waiting=1; break; }
  sleep 0.1
done
check "sluice mesh status on a lists c's join as waiting" '[[ -n $waiting ]]'
echo "mesh-join: RESULT join_waiting_seconds=$(python3 -c "print(round($(date +%s.%N)-$t0,2))")"
ns a "$SLUICE" mesh status --control "$DIR/a.sock" | grep -E "admission|join" | sed 's/^/mesh-join: status a: /'
check "the invite file was marked used" 'ls "$DIR"/invites/*.used >/dev/null 2>&1 && ! ls "$DIR"/invites/*.invite >/dev/null 2>&1'
sleep 1
check "no certificate before approval" '[[ ! -e $DIR/c/node.crt ]]'
approve_out=$(ns a "$SLUICE" mesh approve c --control "$DIR/a.sock.admission" 2>&1)
echo "mesh-join: approve: $approve_out"
wait "${PID[join]}"; join_exit=$?; unset 'PID[join]'
t1=$(date +%s.%N)
sed 's/^/mesh-join: join: /' "$DIR/join.log"
check "sluice mesh join exits 0 after approval" '((join_exit == 0))'
check "the join wrote node.key (0600), node.crt and root.crt" '[[ $(stat -c %a "$DIR/c/node.key") == 600 && -s $DIR/c/node.crt && -s $DIR/c/root.crt ]]'
check "c's certificate validates under the root" '"$SLUICE" mesh ca inspect "$DIR/c/node.crt" --roots "$DIR/root/ca.crt" | grep -q "chain valid: c"'
echo "mesh-join: RESULT join_to_certificate_seconds=$(python3 -c "print(round($t1-$t0,2))")"

# 3. The same token again, from another key: refused.
ns c "$SLUICE" mesh join "$token" --out "$DIR/c-again" --timeout 3 > "$DIR/join-again.log" 2>&1; again_exit=$?
check "a used token is refused" '((again_exit != 0)) && [[ ! -e $DIR/c-again/node.crt ]]'
check "a counted the reuse (usedInvite)" '[[ $(status_json | field "d[\"drops\"].get(\"invite already used\", 0)") -ge 1 ]]'
check "status: c approved" '[[ $(status_json | field "[j[\"state\"] for j in d[\"joins\"]]") == "['"'"'approved'"'"']" ]]'

# 4. c comes up as a normal node and pings.
cpub=$("$SLUICE" wg pubkey < "$DIR/c/node.key")
registry "${entries[@]}" "$(entry c "$cpub")" > "$DIR/c/registry.json"
printf 'private-key: node.key\ncertificate: node.crt\nroots: root.crt\nregistry: registry.json\ntun: mesh0\ncontrol: %s/c.sock\n' "$DIR" > "$DIR/c/mesh.yml"
ip netns exec "$P-c" "$SLUICE" mesh up "$DIR/c/mesh.yml" > "$DIR/c.log" 2>&1 &
PID[c]=$!
for i in $(seq 50); do [[ -S $DIR/c.sock ]] && break; sleep 0.1; done
ns c ping -c 1 -W 3 "${OV[b]}" >/dev/null
pingcb=$(ns c ping -c 5 -i 0.2 -W 2 "${OV[b]}")
check "c → b ping" '[[ $pingcb == *" 0% packet loss"* ]]'
pingbc=$(ns b ping -c 3 -i 0.2 -W 2 "${OV[c]}")
check "b → c ping" '[[ $pingbc == *" 0% packet loss"* ]]'
echo "mesh-join: RESULT rtt_c_b_ms=$(sed -n 's:.* = [0-9.]*/\([0-9.]*\)/.*:\1:p' <<<"$pingcb")"

for n in a b c; do
  kill -TERM "${PID[$n]}"; wait "${PID[$n]}"; code=$?; unset "PID[$n]"
  check "$n exits 0 on SIGTERM" '((code == 0))'
done
check "a removed its admission socket" '[[ ! -e $DIR/a.sock.admission ]]'
for n in a c; do sed "s/^/mesh-join: log $n: /" "$DIR/$n.log" | tail -6; done
echo "mesh-join: $failures failed checks"
((failures == 0))
