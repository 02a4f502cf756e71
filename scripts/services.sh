#!/usr/bin/env bash
# PostgreSQL and Redis for the test suite, private to this checkout.
#
#   scripts/services.sh start   # free loopback ports, servers under .run/, writes .run/env
#   scripts/services.sh stop    # stops what start started; safe to run any time
#
# Ports are picked free at start, never fixed, and everything lives under this checkout's
# .run/, so copies in other worktrees run side by side. `source .run/env` afterwards gives
# DATABASE_URL, REDIS_URL, PG_BIN, PG_PORT, REDIS_PORT and libpq's PG* variables for psql.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
run_dir="$root/.run"
state="$run_dir/services.state"
env_file="$run_dir/env"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=portal
PG_DB=portal

log() { printf 'services: %s\n' "$*" >&2; }

# initdb and pg_ctl refuse to run as root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Two distinct free loopback ports (both bound at once so they differ).
free_ports() {
    python3 -c 'import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))'
}

remember() { printf '%s=%q\n' "$1" "$2" >>"$state"; }

# A folder for PostgreSQL that its OS user can enter and whose socket path fits the
# 107-byte limit; under .run/ when possible, else under /tmp (recorded for stop).
make_pg_dir() {
    local base=$1 dir="$1/pg"
    if [ "$(id -u)" = 0 ]; then
        install -d -o postgres -g postgres -m 755 "$dir"
        if ! runuser -u postgres -- test -w "$dir" || [ ${#dir} -gt 80 ]; then
            rmdir "$dir"
            dir=$(mktemp -d /tmp/portal-pg.XXXXXX)
            chown postgres:postgres "$dir"
            chmod 755 "$dir"
        fi
    else
        mkdir -m 755 "$dir"
        if [ ${#dir} -gt 80 ]; then
            rmdir "$dir"
            dir=$(mktemp -d /tmp/portal-pg.XXXXXX)
        fi
    fi
    printf '%s\n' "$dir"
}

start_postgres() {
    local dir=$1 port=$2
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 2>&1
}

start_redis() {
    local dir=$1 port=$2 i
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        >/dev/null || return 1
    for i in $(seq 100); do
        [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        [ "$i" -gt 5 ] && [ ! -s "$dir/redis.pid" ] && return 1  # it gave up (port taken)
        sleep 0.1
    done
    return 1
}

start() {
    stop # leftovers of a run that was killed
    mkdir -p "$run_dir"
    chmod 755 "$run_dir"
    local base pgdir pg_port redis_port try
    base=$(mktemp -d "$run_dir/svc.XXXXXX")
    chmod 755 "$base"
    : >"$state"
    remember BASE "$base"
    trap 'log "start failed; cleaning up"; stop; exit 1' ERR

    pgdir=$(make_pg_dir "$base")
    remember PGDIR "$pgdir"
    if ! as_pg "$PG_BIN/initdb" -D "$pgdir/data" -U "$PG_USER" -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync --no-instructions >"$pgdir/initdb.log" 2>&1; then
        cat "$pgdir/initdb.log" >&2
        false
    fi
    mkdir -p "$base/redis"

    # A port found free may be taken by someone else before the server binds it: retry.
    for try in 1 2 3; do
        read -r pg_port redis_port < <(free_ports)
        start_postgres "$pgdir" "$pg_port" && break
        [ "$try" = 3 ] && { tail -n 20 "$pgdir/postgres.log" >&2; false; }
    done
    remember PG_PORT "$pg_port"
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U "$PG_USER" "$PG_DB"

    for try in 1 2 3; do
        start_redis "$base/redis" "$redis_port" && break
        [ "$try" = 3 ] && { tail -n 20 "$base/redis/redis.log" >&2; false; }
        read -r _ redis_port < <(free_ports)
    done
    remember REDIS_PORT "$redis_port"
    trap - ERR

    cat >"$env_file" <<EOF
# Written by scripts/services.sh start; removed by stop.
export PG_BIN=$PG_BIN
export PG_PORT=$pg_port
export REDIS_PORT=$redis_port
export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=$PG_USER PGDATABASE=$PG_DB
export DATABASE_URL=postgres://$PG_USER@127.0.0.1:$pg_port/$PG_DB
export REDIS_URL=redis://127.0.0.1:$redis_port/0
EOF
    log "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port (source .run/env)"
}

# Waits up to five seconds for a process to go away.
wait_gone() {
    local i
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

stop() {
    [ -f "$state" ] || { rm -f "$env_file"; return 0; }
    (
        set +e
        BASE='' PGDIR='' REDIS_PORT=''
        # shellcheck disable=SC1090  # written by start with printf %q
        . "$state"
        if [ -n "$PGDIR" ] && [ -f "$PGDIR/data/postmaster.pid" ]; then
            if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 20 stop >/dev/null 2>&1; then
                pid=$(head -n 1 "$PGDIR/data/postmaster.pid" 2>/dev/null)
                [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null && wait_gone "$pid"
            fi
        fi
        pidfile="$BASE/redis/redis.pid"
        if [ -n "$BASE" ] && [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            if grep -q redis "/proc/$pid/comm" 2>/dev/null; then
                redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 ||
                    kill "$pid" 2>/dev/null
                wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null
            fi
        fi
        case "$PGDIR" in /tmp/portal-pg.*) rm -rf "$PGDIR" ;; esac
        case "$BASE" in "$run_dir"/svc.*) rm -rf "$BASE" ;; esac
    )
    rm -f "$state" "$env_file"
    return 0
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
