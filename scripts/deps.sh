#!/usr/bin/env bash
# Installs the Debian 12 packages devpki needs to build and test, when missing.
# Usage: scripts/deps.sh [build|test]   (test adds the external verifiers)
set -euo pipefail
want=(g++ cmake ninja-build pkg-config libssl-dev libyaml-cpp-dev libcli11-dev doctest-dev
      libsqlite3-dev nlohmann-json3-dev openssl jq)
if [ "${1:-build}" = test ]; then
  want+=(gnutls-bin sqlite3 xxd)
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
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
