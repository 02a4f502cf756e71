#!/usr/bin/env bash
# Installs the Debian packages that the tests and tools need, only those missing, so it
# costs a few milliseconds when everything is there. Installing starts no service here.
set -euo pipefail

packages=(
    postgresql-15 redis-server        # test database and Celery broker (scripts/services.sh)
    chromium fonts-liberation         # browser tests and screenshots (tests/servers.py)
    gettext                           # compilemessages
    pdns-server pdns-backend-sqlite3  # PowerDNS for DNS record tests
    dovecot-imapd                     # IMAP for the mail intake tests
    wrk                               # load measurements (make bench)
    python3-venv                      # the venv on Debian's optimised CPython (Makefile)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "apt: missing ${missing[*]}; install them as root" >&2; exit 1; }
    sudo=(sudo)
fi
echo "apt: installing ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo[@]}" apt-get update -q &&
    "${sudo[@]}" apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "apt: installing ${missing[*]} failed" >&2
    exit 1
fi
