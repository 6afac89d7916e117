#!/usr/bin/env bash
# Regenerates the pcap fixtures the project makes itself, from its own simulator runs (so they are
# reproducible byte for byte). Run it after a change that should alter them; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product sluice >/dev/null
out=$(mktemp -d)
.build/debug/sluice lab run fixtures/scenarios/replay-source.yml --report "$out" >/dev/null
cp "$out/captures/replay-source/client.pcap" fixtures/pcaps/client-traffic.pcap
echo "fixtures/pcaps/client-traffic.pcap: $(sha256sum fixtures/pcaps/client-traffic.pcap | cut -c1-16)…"
rm -rf "$out"

# A two-sided capture (client and server on one LAN, both directions) for `sluice replay --split`.
out=$(mktemp -d)
.build/debug/sluice lab run fixtures/replay/two-sided-source.yml --report "$out" >/dev/null
cp "$out/captures/two-sided-source/both.pcap" fixtures/replay/two-sided.pcap
echo "fixtures/replay/two-sided.pcap: $(sha256sum fixtures/replay/two-sided.pcap | cut -c1-16)…"
rm -rf "$out"
