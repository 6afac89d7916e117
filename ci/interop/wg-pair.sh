#!/usr/bin/env bash
# Two network namespaces joined by a veth pair, each running one end of a WireGuard tunnel: `sluice wg up` or
# wireguard-go (configured with wg setconf + ip). Used by Tests/TunnelTests (interop).
#
#   wg-pair.sh up NAME KIND_A KIND_B    KIND is sluice or wggo (or, side a only, wgquick); NAME is ≤ 8 letters/digits
#   wg-pair.sh down NAME
#
# Side a: namespace swg-NAME-a, veth 192.0.2.1/24, tunnel 203.0.113.1/24, UDP 51820, interface wg-NAME-a.
# Side b: namespace swg-NAME-b, veth 192.0.2.2/24, tunnel 203.0.113.2/24, UDP 51821, interface wg-NAME-b.
# Documentation address ranges (RFC 5737), used only inside these namespaces.
# Environment: MTU (tunnel MTU, default 1420; the veth gets MTU + 80), PSK=1 (a preshared key on both sides),
# SLUICE_EXTRA (lines for the [Sluice] section of sluice ends, e.g. "RekeyAfterMessages = 20"),
# SLUICE_BIN (default .build/debug/sluice). State, keys and logs: /tmp/sluice-wg/NAME/.
#
# KIND_A wgquick: wg-quick(8) brings side a up from NAME/wg-NAME-a.conf with WG_QUICK_USERSPACE_IMPLEMENTATION=
# ci/sluice-wg (`sluice wg NAME`, a daemon): Address, MTU, DNS (a stub resolvconf on PATH logs to
# NAME/resolvconf.log), Table = auto, PostUp/PreDown (logged to NAME/hooks) and AllowedIPs = 0.0.0.0/0, so
# wg-quick installs its fwmark policy routing. Side a's only route to side b's endpoint 198.51.100.2 is then a
# default route via 192.0.2.2: without SO_MARK on sluice's socket its datagrams would loop into the tunnel.
# Side b has 10.99.0.1/32 on its tunnel interface, reachable from a only through the tunnel's default route.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

fail() { echo "wg-pair: $*" >&2; exit 1; }

name_check() {
  [[ "$1" =~ ^[a-z0-9]{1,8}$ ]] || fail "NAME '$1' must be 1 to 8 lower-case letters or digits"
}

down() {
  local name=$1 dir=/tmp/sluice-wg/$1
  # A wg-quick side: its daemon lives in the namespace, which stays alive as long as the daemon does.
  if [[ -f $dir/a.wgquick ]]; then
    for pid in $(ip netns pids "swg-$name-a" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    for pid in $(ip netns pids "swg-$name-a" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  fi
  for side in a b; do
    if [[ -f $dir/$side.pid ]]; then
      local pid; pid=$(cat "$dir/$side.pid")
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
    fi
    ip netns del "swg-$name-$side" 2>/dev/null || true
  done
  rm -f "/var/run/wireguard/wg-$name-a.sock" "/var/run/wireguard/wg-$name-b.sock"
  rm -rf "$dir"
}

start_sluice() {  # side ns ifname address port peer-pub peer-endpoint
  local side=$1 ns=$2 ifname=$3 address=$4 port=$5 peer=$6 endpoint=$7 dir=$8
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$dir/$side.key")"
    echo "ListenPort = $port"
    echo "Address = $address/24"
    echo "MTU = $MTU"
    echo
    echo "[Peer]"
    echo "PublicKey = $peer"
    [[ "${PSK:-0}" == 1 ]] && echo "PresharedKey = $(cat "$dir/psk")"
    echo "Endpoint = $endpoint"
    echo "AllowedIPs = ${address%.*}.0/24"
    if [[ -n "${SLUICE_EXTRA:-}" ]]; then echo; echo "[Sluice]"; echo -e "$SLUICE_EXTRA"; fi
  } >"$dir/$side.conf"
  ip netns exec "$ns" "$SLUICE_BIN" wg up "$dir/$side.conf" --name "$ifname" >"$dir/$side.log" 2>&1 &
  echo $! >"$dir/$side.pid"
}

start_wgquick() {  # side ns ifname address port peer-pub peer-endpoint dir
  local side=$1 ns=$2 ifname=$3 address=$4 port=$5 peer=$6 dir=$8
  touch "$dir/a.wgquick"
  mkdir -p "$dir/bin"
  # A stub resolvconf(8): -a IFACE keeps stdin, -l IFACE prints it (wg-quick save reads DNS back), -d IFACE forgets
  # it; every call is logged to resolvconf.log.
  cat >"$dir/bin/resolvconf" <<STUB
#!/bin/bash
d=$dir; op=\$1; iface=\$2
case \$op in
  -a) input=\$(cat); echo "resolvconf \$* : \$input" >>\$d/resolvconf.log; echo "\$input" >"\$d/resolv.\$iface" ;;
  -l) echo "resolvconf \$*" >>\$d/resolvconf.log; cat "\$d/resolv.\$iface" 2>/dev/null ;;
  *) echo "resolvconf \$*" >>\$d/resolvconf.log; rm -f "\$d/resolv.\$iface" ;;
esac
STUB
  chmod +x "$dir/bin/resolvconf"
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$dir/$side.key")"
    echo "ListenPort = $port"
    echo "Address = $address/24"
    echo "MTU = $MTU"
    echo "DNS = 203.0.113.53"
    echo "Table = auto"
    echo "PostUp = echo postup %i >> $dir/hooks"
    echo "PreDown = echo predown %i >> $dir/hooks"
    echo
    echo "[Peer]"
    echo "PublicKey = $peer"
    [[ "${PSK:-0}" == 1 ]] && echo "PresharedKey = $(cat "$dir/psk")"
    echo "Endpoint = 198.51.100.2:51821"
    echo "AllowedIPs = 0.0.0.0/0"
  } >"$dir/$ifname.conf"
  ip -n "$ns" route add default via 192.0.2.2
  ip netns exec "$ns" env PATH="$dir/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION="$root/ci/sluice-wg" \
    SLUICE="$SLUICE_BIN" SLUICE_WG_LOG="$dir/a.daemon.log" wg-quick up "$dir/$ifname.conf" >"$dir/$side.log" 2>&1 \
    || { cat "$dir/$side.log" "$dir/a.daemon.log" >&2; fail "wg-quick up $ifname failed"; }
}

start_wggo() {
  local side=$1 ns=$2 ifname=$3 address=$4 port=$5 peer=$6 endpoint=$7 dir=$8
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$dir/$side.key")"
    echo "ListenPort = $port"
    echo
    echo "[Peer]"
    echo "PublicKey = $peer"
    [[ "${PSK:-0}" == 1 ]] && echo "PresharedKey = $(cat "$dir/psk")"
    echo "Endpoint = $endpoint"
    echo "AllowedIPs = ${address%.*}.0/24"
  } >"$dir/$side.conf"
  ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifname" >"$dir/$side.log" 2>&1 &
  echo $! >"$dir/$side.pid"
  for _ in $(seq 100); do [[ -S /var/run/wireguard/$ifname.sock ]] && break; sleep 0.1; done
  [[ -S /var/run/wireguard/$ifname.sock ]] || { cat "$dir/$side.log" >&2; fail "wireguard-go $ifname did not open its UAPI socket"; }
  ip netns exec "$ns" wg setconf "$ifname" "$dir/$side.conf" || fail "wg setconf $ifname failed"
  ip -n "$ns" address add "$address/24" dev "$ifname"
  ip -n "$ns" link set dev "$ifname" mtu "$MTU" up
}

wait_up() {  # side kind ns ifname dir — until the interface is up (sluice: until it logged "up", routes included)
  local side=$1 kind=$2 ns=$3 ifname=$4 dir=$5 pid=
  [[ $kind == wgquick ]] || pid=$(cat "$dir/$side.pid")
  for _ in $(seq 150); do
    if ip -n "$ns" -o link show dev "$ifname" 2>/dev/null | grep -q "[<,]UP[,>]"; then
      [[ $kind == wggo || $kind == wgquick ]] && return 0
      grep -q ": up," "$dir/$side.log" 2>/dev/null && return 0
    fi
    [[ $kind == wgquick ]] || kill -0 "$pid" 2>/dev/null || { cat "$dir/$side.log" >&2; fail "side $side ($kind, $ifname) exited during start-up"; }
    sleep 0.1
  done
  cat "$dir/$side.log" >&2
  fail "side $side: interface $ifname did not come up within 15 s"
}

up() {
  local name=$1 kind_a=$2 kind_b=$3 dir=/tmp/sluice-wg/$1
  name_check "$name"
  MTU=${MTU:-1420}
  SLUICE_BIN=${SLUICE_BIN:-$root/.build/debug/sluice}
  for k in "$kind_a" "$kind_b"; do [[ $k == sluice || $k == wggo || $k == wgquick ]] || fail "KIND '$k' must be sluice, wggo or wgquick"; done
  [[ $kind_b != wgquick ]] || fail "wgquick is for side a only"
  ((EUID == 0)) || fail "needs root (network namespaces, TUN devices)"
  bash "$here/ensure-tools.sh"
  if [[ $kind_a != wggo || $kind_b == sluice ]]; then
    [[ -x $SLUICE_BIN ]] || fail "no sluice binary at $SLUICE_BIN: build it with 'swift build --product sluice'"
    "$SLUICE_BIN" wg --help >/dev/null 2>&1 || fail "$SLUICE_BIN has no 'wg' subcommand: register WG in Sources/sluice/Sluice.swift"
  fi
  down "$name"
  umask 077
  mkdir -p "$dir"
  for side in a b; do
    wg genkey >"$dir/$side.key"
    wg pubkey <"$dir/$side.key" >"$dir/$side.pub"
    ip netns add "swg-$name-$side"
    ip -n "swg-$name-$side" link set lo up
  done
  wg genpsk >"$dir/psk"
  ip link add "v$name-a" type veth peer name "v$name-b"
  ip link set "v$name-a" netns "swg-$name-a"
  ip link set "v$name-b" netns "swg-$name-b"
  ip -n "swg-$name-a" address add 192.0.2.1/24 dev "v$name-a"
  ip -n "swg-$name-b" address add 192.0.2.2/24 dev "v$name-b"
  ip -n "swg-$name-a" link set "v$name-a" mtu $((MTU + 80)) up
  ip -n "swg-$name-b" link set "v$name-b" mtu $((MTU + 80)) up
  [[ $kind_a != wgquick ]] || ip -n "swg-$name-b" address add 198.51.100.2/32 dev "v$name-b"
  "start_$kind_a" a "swg-$name-a" "wg-$name-a" 203.0.113.1 51820 "$(cat "$dir/b.pub")" 192.0.2.2:51821 "$dir"
  "start_$kind_b" b "swg-$name-b" "wg-$name-b" 203.0.113.2 51821 "$(cat "$dir/a.pub")" 192.0.2.1:51820 "$dir"
  wait_up a "$kind_a" "swg-$name-a" "wg-$name-a" "$dir"
  wait_up b "$kind_b" "swg-$name-b" "wg-$name-b" "$dir"
  [[ $kind_a != wgquick ]] || ip -n "swg-$name-b" address add 10.99.0.1/32 dev "wg-$name-b"
  echo "wg-pair: $name up ($kind_a 203.0.113.1 ⇄ $kind_b 203.0.113.2, MTU $MTU${PSK:+, psk})"
}

case "${1:-}" in
  up) (($# == 4)) || fail "usage: wg-pair.sh up NAME KIND_A KIND_B"; up "$2" "$3" "$4" ;;
  down) (($# == 2)) || fail "usage: wg-pair.sh down NAME"; name_check "$2"; down "$2" ;;
  *) fail "usage: wg-pair.sh up NAME KIND_A KIND_B | down NAME" ;;
esac
