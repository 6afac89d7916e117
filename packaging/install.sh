#!/usr/bin/env bash
# Installs Sluice as a service: the binary, the systemd units (sluice-bridge@.service,
# sluice-wg@.service), a sample bridge.yml and the operator's page (docs/operating.md).
# Existing configurations are never overwritten. Run as root after a release build:
#   swift build -c release --product sluice && sudo bash packaging/install.sh
# Settings (environment): BINARY (.build/release/sluice), PREFIX (/usr/local), SYSCONFDIR (/etc),
# UNITDIR (/etc/systemd/system), DESTDIR (empty; staging root for packagers).
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${BINARY:-.build/release/sluice}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}
DESTDIR=${DESTDIR:-}

if [[ ! -x "$BINARY" ]]; then
  echo "install.sh: $BINARY is not built; run: swift build -c release --product sluice" >&2
  exit 1
fi

install -D -m 0755 "$BINARY" "$DESTDIR$PREFIX/bin/sluice"
install -d -m 0755 "$DESTDIR$UNITDIR"
for unit in packaging/systemd/*.service; do
  # The units name the default paths; point them at where this install puts things.
  sed -e "s#/usr/local/bin/sluice#$PREFIX/bin/sluice#g" \
      -e "s#/usr/local/share/doc/sluice#$PREFIX/share/doc/sluice#g" \
      -e "s#/etc/sluice/#$SYSCONFDIR/sluice/#g" "$unit" > "$DESTDIR$UNITDIR/$(basename "$unit")"
  chmod 0644 "$DESTDIR$UNITDIR/$(basename "$unit")"
done
install -d -m 0750 "$DESTDIR$SYSCONFDIR/sluice"
install -m 0640 packaging/bridge.yml.example "$DESTDIR$SYSCONFDIR/sluice/bridge.yml.example"
install -D -m 0644 docs/operating.md "$DESTDIR$PREFIX/share/doc/sluice/operating.md"
install -D -m 0644 docs/config.md "$DESTDIR$PREFIX/share/doc/sluice/config.md"

if [[ -z "$DESTDIR" && -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  systemctl daemon-reload
fi
echo "installed $PREFIX/bin/sluice ($("$DESTDIR$PREFIX/bin/sluice" --version 2>/dev/null || echo '?'))"
echo "units in $UNITDIR; a sample configuration in $SYSCONFDIR/sluice/bridge.yml.example"
echo "next: cp $SYSCONFDIR/sluice/bridge.yml.example $SYSCONFDIR/sluice/br0.yml, edit it, then"
echo "      systemctl enable --now sluice-bridge@br0   (see $PREFIX/share/doc/sluice/operating.md)"
