#!/usr/bin/env bash
# Soak run: skedcast-auth and skedcast-api (release builds) on loopback with
# a temporary SQLite database, under mixed load for SECONDS (default 300):
# authorization flows through the sign-in and consent forms with the code
# exchange, refresh rotations, JWKS fetches and GET /v1/agency. The RSS of
# both processes is sampled every INTERVAL seconds (VmRSS), and the growth
# between the first and the last minute is printed (scripts/soak.py). Then a
# burst of SOAK_BURST sign-in flows at SOAK_BURST_CONCURRENCY (default 200 at
# 16) and SOAK_SETTLE idle seconds (default 60): the peak RSS during the
# burst and the settled RSS after are printed for both services.
#
#   scripts/soak.sh [SECONDS] [WORKERS]          # defaults 300, 4
#   SOAK_INTERVAL=5 SOAK_PROFILE=release scripts/soak.sh 180
#   SOAK_BURST=0 scripts/soak.sh                 # no burst
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL="${1:-300}"
WORKERS="${2:-4}"
INTERVAL="${SOAK_INTERVAL:-5}"
PROFILE="${SOAK_PROFILE:-release}"
BURST="${SOAK_BURST:-200}"
BURST_CONCURRENCY="${SOAK_BURST_CONCURRENCY:-16}"
SETTLE="${SOAK_SETTLE:-60}"

if [ "$PROFILE" = release ]; then
    cargo build -q --release --bins
else
    cargo build -q --bins
fi
AUTH_BIN="target/$PROFILE/skedcast-auth"
API_BIN="target/$PROFILE/skedcast-api"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
AUTH_PORT="$(free_port)"
API_PORT="$(free_port)"
AUTH="http://127.0.0.1:$AUTH_PORT"
API="http://127.0.0.1:$API_PORT"
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

export SKEDCAST__DATABASE__URL="sqlite://$TMP/soak.db?mode=rwc"
export SKEDCAST__ISSUER="$AUTH"
export SKEDCAST__SERVER__BIND="127.0.0.1:$AUTH_PORT"
export SKEDCAST__RESOURCE__DEFAULT="$API"
export SKEDCAST__LOG__LEVEL=warn
export SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE=1000
# One address drives every flow: raise the per-address limits.
export SKEDCAST__CLIENTS__PENDING_REQUESTS_PER_MINUTE_PER_IP=1000000
export SKEDCAST__LOGIN__MAX_FAILURES=1000000
export SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES=1000000
EMAIL=soak@example.com
PASSWORD="soak passphrase $(date +%s)"

"$AUTH_BIN" agency create --name Soak >/dev/null
printf '%s\n' "$PASSWORD" | "$AUTH_BIN" user create --email "$EMAIL" --agency Soak \
    --role owner --password-stdin >/dev/null

"$AUTH_BIN" serve >"$TMP/auth.log" 2>&1 &
AUTH_PID=$!
PIDS+=("$AUTH_PID")
wait_up() {
    for _ in $(seq 1 100); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$2 did not start:" >&2
    cat "$3" >&2
    exit 1
}
wait_up "$AUTH/healthz" skedcast-auth "$TMP/auth.log"

SKEDCAST_API__ISSUER="$AUTH" SKEDCAST_API__RESOURCE="$API" \
    SKEDCAST_API__SERVER__BIND="127.0.0.1:$API_PORT" SKEDCAST_API__LOG__LEVEL=warn \
    "$API_BIN" >"$TMP/api.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
wait_up "$API/healthz" skedcast-api "$TMP/api.log"

echo "soak: $SECONDS_TOTAL s, $WORKERS workers, RSS every $INTERVAL s ($PROFILE builds)"
status=0
python3 scripts/soak.py --auth "$AUTH" --api "$API" --auth-pid "$AUTH_PID" --api-pid "$API_PID" \
    --email "$EMAIL" --password "$PASSWORD" --seconds "$SECONDS_TOTAL" --workers "$WORKERS" \
    --interval "$INTERVAL" --burst "$BURST" --burst-concurrency "$BURST_CONCURRENCY" \
    --settle "$SETTLE" || status=$?
if grep -qi panicked "$TMP/auth.log" "$TMP/api.log"; then
    echo "a server panicked:" >&2
    grep -i -A3 panicked "$TMP/auth.log" "$TMP/api.log" >&2
    status=1
fi
exit "$status"
