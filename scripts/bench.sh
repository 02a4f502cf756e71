#!/usr/bin/env bash
# make bench: the portal at provider scale, measured against a bare view (issue 9).
#
#   make bench                      full dataset (20,000 customers, 1,000,000 tickets, ...)
#   BENCH_SCALE=small make bench    a tenth of it, for quick runs
#   BENCH_KEEP=1 make bench         leave PostgreSQL and Redis running afterwards, so that
#                                   the next run reuses the dataset (scripts/services.sh
#                                   stop ends them; make test restarts them empty)
#   BENCH_SECONDS=10                seconds of load per page (after 2 s of warm-up)
#
# Steps: PostgreSQL and Redis (scripts/services.sh; running ones are reused and left
# running), the portal_bench database (kept when it holds the same scale built by the
# same builder and migrations, else built anew with bulk SQL), collectstatic, gunicorn
# with 2 workers under the production settings, fresh sessions for the personas, then
# bench/run.py: queries per page with Django's test client, load with wrk at 8
# connections, the table, and bench/results.json (bench/results-small.json for small).
# Everything this script starts is stopped on every exit, failures and Ctrl-C included.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
scale=${BENCH_SCALE:-full}
seconds=${BENCH_SECONDS:-10}
case "$scale" in
full) results=bench/results.json other=bench/results-small.json ;;
small) results=bench/results-small.json other=bench/results.json ;;
*)
    echo "BENCH_SCALE is full or small, not '$scale'" >&2
    exit 2
    ;;
esac
[ -x .venv/bin/python ] || { echo "no .venv: run 'make install' first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: make apt (scripts/apt.sh) installs it" >&2; exit 1; }
export PATH="$root/.venv/bin:$PATH"

work=.run/bench
mkdir -p "$work"
exec 9>.run/test.lock
flock -n 9 || { echo "a test or bench run is using this checkout's .run/ already" >&2; exit 1; }

log() { printf 'bench: %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(round($(now) - $1, 1))"; }

started=$(now)
owned_services=0
gunicorn_pid=''
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$gunicorn_pid" ] && kill -0 "$gunicorn_pid" 2>/dev/null; then
        kill -TERM "$gunicorn_pid" 2>/dev/null
        wait "$gunicorn_pid" 2>/dev/null || true
    fi
    if [ "$owned_services" = 1 ]; then
        if [ -n "${BENCH_KEEP:-}" ]; then
            log "services left running (BENCH_KEEP): scripts/services.sh stop ends them"
        else
            bash scripts/services.sh stop
        fi
    fi
    [ "$status" = 0 ] || log "failed (exit $status); logs in $work/"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- services ---------------------------------------------------------------------------
services_up() {
    [ -f .run/env ] || return 1
    # shellcheck source=/dev/null
    . .run/env
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" &&
        [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}
t=$(now)
if services_up; then
    log "reusing the running PostgreSQL and Redis (.run/env)"
else
    owned_services=1
    # Without the lock's descriptor: servers left running (BENCH_KEEP) must not hold it,
    # or the next run could not take it.
    bash scripts/services.sh start 9>&-
    # shellcheck source=/dev/null
    . .run/env
fi
services_seconds=$(since "$t")

# The production settings (S17): DEBUG off, a secret of this run, the bench database.
export DEBUG=0
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
export SECRET_KEY
export ALLOWED_HOSTS=127.0.0.1,localhost
export SECURE_SSL_REDIRECT=0
export DATABASE_URL="postgres://$PGUSER@127.0.0.1:$PG_PORT/portal_bench"
export PGDATABASE=portal_bench
export REDIS_URL
export LOG_LEVEL=WARNING

# --- the dataset ------------------------------------------------------------------------
t=$(now)
if psql -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'portal_bench'" | grep -q 1 &&
    python manage.py bench_data --scale "$scale" --check; then
    log "the $scale dataset in portal_bench is current: reused"
    built=reused
else
    log "building the $scale dataset in a new portal_bench database"
    PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists portal_bench
    createdb portal_bench
    python manage.py migrate --noinput -v 0
    python manage.py bench_data --scale "$scale"
    built=built
fi
dataset_seconds=$(since "$t")
# Planner costs of a server on SSDs with the data in memory, as production should have
# (docs/PERFORMANCE.md); with the default (4) joins of a page with users or customers
# read whole tables instead of a few index look-ups.
psql -d postgres -qc "ALTER DATABASE portal_bench SET random_page_cost = 1.1"

t=$(now)
python manage.py collectstatic --noinput -v 0
static_seconds=$(since "$t")

# --- the server ------------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
gunicorn portal.wsgi:application --bind "127.0.0.1:$port" --workers 2 \
    --access-logfile "$work/access.log" --error-logfile "$work/gunicorn.log" 9>&- &
gunicorn_pid=$!
for _ in $(seq 150); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$gunicorn_pid" 2>/dev/null || { tail -n 30 "$work/gunicorn.log" >&2; exit 1; }
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { log "gunicorn did not answer"; exit 1; }
log "gunicorn (2 workers, DEBUG=0) on 127.0.0.1:$port"

# --- measure ---------------------------------------------------------------------------
python manage.py bench_data --scale "$scale" --pages "$work/pages.json"
cat >"$work/timings.json" <<EOF
{"dataset": "$built", "services_seconds": $services_seconds, "dataset_seconds": $dataset_seconds,
 "collectstatic_seconds": $static_seconds}
EOF
# The postmaster's pid, so that run.py can add up its backends' CPU time.
db_pid=$(head -n 1 "$(psql -d postgres -Atqc 'SHOW data_directory')/postmaster.pid")
python bench/run.py --pages "$work/pages.json" --base-url "http://127.0.0.1:$port" \
    --out "$results" --other "$other" --seconds "$seconds" --timings "$work/timings.json" \
    --server-pid "$gunicorn_pid" --db-pid "$db_pid"

total=$(since "$started")
python3 - "$results" "$total" <<'EOF'
import json, sys
path, total = sys.argv[1], float(sys.argv[2])
data = json.load(open(path))
data["timings"]["total_seconds"] = round(total)
open(path, "w").write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
EOF
log "done in ${total} s (dataset $built in ${dataset_seconds} s)"
