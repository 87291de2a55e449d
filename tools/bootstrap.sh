#!/usr/bin/env bash
# Install what hotline-cti needs on Debian 12 and create the virtualenv .venv.
#
#   tools/bootstrap.sh          the engine, pbxsim and the demo (PostgreSQL server binaries)
#   tools/bootstrap.sh --test   also the test tools: Chromium for the browser tests, SIPp,
#                               HAProxy (the front of two engines in the standby tests),
#                               Kamailio (its shipped configuration is checked)
#
# Debian packages are installed only when missing (with sudo when not root);
# Python packages go into .venv, never into the system Python.
set -euo pipefail
cd "$(dirname "$0")/.."

extra=""
if [ "${1:-}" = "--test" ]; then
    extra="test"
fi

packages=(python3-venv python3-dev postgresql)
if [ -n "$extra" ]; then
    packages+=(chromium sip-tester espeak-ng sox fonts-wqy-zenhei haproxy kamailio)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ -n "$extra" ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
else
    .venv/bin/python -m pip install -q -e .
fi
echo "hotline-cti installed in .venv ($(.venv/bin/hotline --help >/dev/null && echo ok))"
