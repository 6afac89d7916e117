#!/usr/bin/env bash
# Installs what Sluice needs to build and test, only when it is missing. Safe to run again.
# Usage: ci/setup.sh            (build + test dependencies)
set -euo pipefail

# Debian packages, by the command or file that proves each is present.
declare -A NEED=(
  [libsodium-dev]="pkg-config --exists libsodium"
  [libpcap-dev]="pkg-config --exists libpcap"
  [libcmocka-dev]="pkg-config --exists cmocka"
  [pkg-config]="command -v pkg-config"
  [tshark]="command -v tshark"
  [gcc]="command -v gcc"
  [busybox]="command -v busybox"
  [isc-dhcp-client]="command -v dhclient"
  [systemd]="command -v systemd-analyze"
  [python3]="test -x /usr/bin/python3"
  [prometheus]="command -v promtool"
)

missing=()
for pkg in $(printf '%s\n' "${!NEED[@]}" | sort); do
  if ! bash -c "${NEED[$pkg]}" >/dev/null 2>&1; then missing+=("$pkg"); fi
done
# pkg-config itself is needed to test the others.
if ! command -v pkg-config >/dev/null 2>&1; then missing+=(pkg-config); fi

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
      echo "setup: ERROR: need root (or sudo) to install: ${missing[*]}" >&2
      echo "setup: install them yourself: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/sluice-apt.log 2>&1; then
    echo "setup: ERROR: apt-get could not install: ${missing[*]}" >&2
    tail -20 /tmp/sluice-apt.log >&2
    echo "setup: see /tmp/sluice-apt.log; check the network and Debian mirror, then run again" >&2
    exit 1
  fi
fi

# Swift: /opt/swift on these machines, or whatever is on PATH.
if ! command -v swift >/dev/null 2>&1; then
  if [[ -x /opt/swift/usr/bin/swift ]]; then export PATH=/opt/swift/usr/bin:$PATH
  else echo "setup: ERROR: no Swift toolchain on PATH or at /opt/swift (need Swift 6.0 or later)" >&2; exit 1; fi
fi
echo "setup: ok ($(swift --version 2>/dev/null | head -1))"
