#!/usr/bin/env bash
# Makes sure the WireGuard interop tools are installed: wireguard-go, wg (wireguard-tools), iperf3, ip (iproute2),
# ping (iputils-ping), python3 (ci/interop/wg-attack.py). Installs the missing ones with apt-get (needs root). Exit 0 when all are present.
set -euo pipefail
declare -A package=([wireguard-go]=wireguard-go [wg]=wireguard-tools [iperf3]=iperf3 [ip]=iproute2 [ping]=iputils-ping [python3]=python3)
missing=()
for tool in wireguard-go wg iperf3 ip ping python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
((${#missing[@]} == 0)) && exit 0
if ((EUID != 0)); then
  echo "ensure-tools: missing ${missing[*]} and not root: install them with apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "ensure-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >/tmp/sluice-ensure-tools.log 2>&1; then
  echo "ensure-tools: apt-get install ${missing[*]} failed; its output:" >&2
  tail -20 /tmp/sluice-ensure-tools.log >&2
  exit 1
fi
for tool in wireguard-go wg iperf3 ip ping python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-tools: $tool still missing after apt-get install" >&2; exit 1; }
done
