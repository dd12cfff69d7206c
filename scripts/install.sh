#!/usr/bin/env bash
# Installs Tern as a systemd service, idempotently: release binaries into /usr/local/bin, the
# unit into /etc/systemd/system, a default /etc/tern/ternd.conf (kept if present), the `tern`
# system user and /var/lib/tern. Run as root from the repository: sudo scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

# The Swift runtime linked in statically, as in the container image: the installed binaries need
# no Swift toolchain at run time, and the broker maps ~9 MiB fewer shared-library pages.
swift build -c release --static-swift-stdlib --scratch-path .build-static --product ternd
swift build -c release --static-swift-stdlib --scratch-path .build-static --product tern
install -m 0755 .build-static/release/ternd .build-static/release/tern /usr/local/bin/

getent group tern >/dev/null || groupadd --system tern
id -u tern >/dev/null 2>&1 || useradd --system --gid tern --home-dir /var/lib/tern --shell /usr/sbin/nologin tern
install -d -m 0750 -o tern -g tern /var/lib/tern

install -d -m 0755 /etc/tern
if [ ! -e /etc/tern/ternd.conf ]; then
    sed -e 's|^log.dirs = .*|log.dirs = /var/lib/tern|' Config/ternd.conf >/etc/tern/ternd.conf
    chmod 0644 /etc/tern/ternd.conf
fi

install -m 0644 scripts/systemd/ternd.service /etc/systemd/system/ternd.service
install -d -m 0755 /usr/local/share/doc/tern
install -m 0644 README.md /usr/local/share/doc/tern/README.md
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "installed; start with: systemctl enable --now ternd"
else
    echo "installed; systemd is not running here, so the service was not loaded"
fi
