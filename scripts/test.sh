#!/usr/bin/env bash
# The test runs behind `make test`, `make security`, `make screens`, `make lint` and
# `make messages` (the Makefile installs first).
#
#   scripts/test.sh [all]     checks (ruff, manage.py check, migrations, messages), then
#                             pytest on PostgreSQL and Redis started for this run only
#   scripts/test.sh security  pytest -m security, output shown
#   scripts/test.sh screens   pytest -m screens
#   scripts/test.sh lint | messages
#
# PYTEST_ARGS (split on spaces) and PYTEST_ADDOPTS pass through to pytest. The services
# are stopped on every exit, Ctrl-C included. The exit status is pytest's, or 1 when
# pytest passed but a check failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root" || exit 1
mode=${1:-all}

[ -x .venv/bin/python ] || { echo "no .venv: run 'make install' first" >&2; exit 1; }
export PATH="$root/.venv/bin:$PATH"
# Playwright's sync API runs an event loop in the test thread; live_server tests need this.
export DJANGO_ALLOW_ASYNC_UNSAFE=true
read -r -a pytest_args <<<"${PYTEST_ARGS:-}"

lint() {
    ruff check --output-format=concise . && ruff format --check .
}

messages() {
    if find . -path ./.venv -prune -o -name '*.po' -print -quit | grep -q .; then
        python manage.py compilemessages --ignore=.venv --ignore=.git --verbosity 0
    else
        echo "no .po files: nothing to compile"
    fi
}

# Runs one check with a heading; a failure is remembered, the run goes on.
failed=()
check() {
    local name=$1
    shift
    printf '\n=== %s\n' "$name"
    "$@" || failed+=("$name")
}

start_services() {
    mkdir -p .run
    exec 9>.run/test.lock
    flock -n 9 || { echo "another test run is using this checkout's .run/" >&2; exit 1; }
    trap 'bash scripts/services.sh stop' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    bash scripts/services.sh start 9>&- || exit 1
    # shellcheck source=/dev/null
    . .run/env
}

# pytest -m MARK; no test carrying the mark is a failure, not a quiet pass.
marked() {
    local mark=$1 status
    shift
    pytest -m "$mark" "$@" "${pytest_args[@]}"
    status=$?
    if [ "$status" = 5 ]; then
        echo "no test is marked '$mark' (or PYTEST_ARGS selected none): nothing was checked" >&2
        return 1
    fi
    return "$status"
}

case "$mode" in
lint) lint ;;
messages) messages ;;
security)
    start_services
    marked security -s -rA
    ;;
screens)
    start_services
    marked screens
    ;;
all)
    start_services
    check "ruff" lint
    check "manage.py check" python manage.py check
    check "migrations up to date" python manage.py makemigrations --check --dry-run
    check "compilemessages" messages
    if [ ${#failed[@]} -gt 0 ]; then
        printf '\nFAILED checks: %s (pytest runs anyway; the run fails)\n' "${failed[*]}"
    fi
    printf '\n=== pytest on PostgreSQL %s, Redis %s\n' "$PG_PORT" "$REDIS_PORT"
    pytest "${pytest_args[@]}"
    status=$?
    if [ "$status" = 0 ] && [ ${#failed[@]} -gt 0 ]; then status=1; fi
    exit "$status"
    ;;
*)
    echo "usage: $0 [all|security|screens|lint|messages]" >&2
    exit 2
    ;;
esac
