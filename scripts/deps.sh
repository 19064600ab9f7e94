#!/usr/bin/env bash
# Installs the Debian 12 packages devpki needs to build and test, when missing.
# Usage: scripts/deps.sh [build|test]   (test adds the external verifiers)
set -euo pipefail
want=(g++ cmake ninja-build pkg-config libssl-dev libyaml-cpp-dev libcli11-dev doctest-dev
      libsqlite3-dev nlohmann-json3-dev libqrencode-dev libpng-dev openssl jq)
if [ "${1:-build}" = test ]; then
  # nginx and curl: tests/cli/tls_nginx_test.sh (a real TLS server checking devpki's CRLs).
  # zbar-tools: zbarimg scans the QR labels back (tests/cli/provision_methods_test.sh).
  # libmagickcore-6.q16-6-extra: the SVG reader of the ImageMagick zbarimg reads images with
  # (only "Suggested" by zbar-tools, so --no-install-recommends leaves it out).
  want+=(gnutls-bin sqlite3 xxd nginx curl zbar-tools libmagickcore-6.q16-6-extra)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "devpki: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian's nginx postinst starts the service, which fails (and fails the
# install) where no init system runs, e.g. in a container. policy-rc.d
# answering 101 ("action not allowed") stops it; one already there is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
  trap 'exit 130' INT TERM HUP
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
