#!/usr/bin/env bash
# Installs the Debian packages slm needs to build and test, only those missing.
# Idempotent; a no-op when everything is present. Needs root to install anything.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libcmocka-dev libssl-dev libcjson-dev libpcre2-dev libutf8proc-dev
      libsqlite3-dev libcurl4-openssl-dev libmicrohttpd-dev libinih-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
