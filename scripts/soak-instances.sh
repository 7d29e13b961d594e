#!/usr/bin/env bash
# Many instances (issue 19, item 4): three skedcast-auth instances (release
# builds) on ONE Postgres database, a skedcast-api trusting them, and the
# soak mix of scripts/soak.py spread over the three for SECONDS (default
# 120): every request goes to an instance at random, so one flow signs in at
# one, consents at another and redeems its code at a third. On top of the
# mix, races: one code, or one refresh token, sent to two instances at the
# same instant (exactly one may win). Then SQL checks on the database:
#   - no refresh family with two unused tokens (two winners of a rotation),
#     nor with two live ones (unused, unexpired, family not revoked);
#   - no authorization code that started two families (two winners of a
#     redemption);
# and the races counted by the driver, each with exactly one winner.
# Exit status 1 on any failed request, race or check.
#
#   scripts/soak-instances.sh [SECONDS] [WORKERS]      # defaults 120, 6
#   SKEDCAST_TEST_PG_URL=postgres://user@host:5432/postgres scripts/soak-instances.sh
#   SOAK_INSTANCES=3 SOAK_KEEP_DB=1 scripts/soak-instances.sh   # keep the database
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL="${1:-120}"
WORKERS="${2:-6}"
INSTANCES="${SOAK_INSTANCES:-3}"
INTERVAL="${SOAK_INTERVAL:-10}"
ADMIN_URL="${SKEDCAST_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

cargo build -q --release --bins
AUTH_BIN="target/release/skedcast-auth"
API_BIN="target/release/skedcast-api"

DB_NAME="skedcast_soak_$(date +%s)_$$"
DB_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$DB_NAME")"
psql -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE \"$DB_NAME\""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -z "${SOAK_KEEP_DB:-}" ]; then
        psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" || true
    else
        echo "database kept: $DB_URL"
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

API_PORT="$(free_port)"
API="http://127.0.0.1:$API_PORT"
PORTS=()
for _ in $(seq 1 "$INSTANCES"); do
    PORTS+=("$(free_port)")
done
# One public issuer (what a load balancer would answer at): the first
# instance. Every instance signs with the keys in the shared database.
ISSUER="http://127.0.0.1:${PORTS[0]}"

export SKEDCAST__DATABASE__URL="$DB_URL"
export SKEDCAST__ISSUER="$ISSUER"
export SKEDCAST__RESOURCE__DEFAULT="$API"
export SKEDCAST__LOG__LEVEL=warn
export SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE=1000
# One address drives every flow: raise the per-address limits.
export SKEDCAST__CLIENTS__PENDING_REQUESTS_PER_MINUTE_PER_IP=1000000
export SKEDCAST__LOGIN__MAX_FAILURES=1000000
export SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES=1000000
EMAIL=soak@example.com
PASSWORD="soak passphrase $(date +%s)"

"$AUTH_BIN" migrate 2>/dev/null
"$AUTH_BIN" agency create --name Soak >/dev/null
printf '%s\n' "$PASSWORD" | "$AUTH_BIN" user create --email "$EMAIL" --agency Soak \
    --role owner --password-stdin >/dev/null

wait_up() {
    for _ in $(seq 1 150); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$2 did not start:" >&2
    cat "$3" >&2
    exit 1
}

URLS=()
AUTH_PIDS=()
for i in $(seq 0 $((INSTANCES - 1))); do
    SKEDCAST__SERVER__BIND="127.0.0.1:${PORTS[$i]}" "$AUTH_BIN" serve >"$TMP/auth$i.log" 2>&1 &
    PIDS+=("$!")
    AUTH_PIDS+=("$!")
    URLS+=("http://127.0.0.1:${PORTS[$i]}")
done
for i in $(seq 0 $((INSTANCES - 1))); do
    wait_up "${URLS[$i]}/healthz" "skedcast-auth #$i" "$TMP/auth$i.log"
done

SKEDCAST_API__ISSUER="$ISSUER" SKEDCAST_API__RESOURCE="$API" \
    SKEDCAST_API__SERVER__BIND="127.0.0.1:$API_PORT" SKEDCAST_API__LOG__LEVEL=warn \
    "$API_BIN" >"$TMP/api.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
wait_up "$API/healthz" skedcast-api "$TMP/api.log"

join() { local IFS=,; echo "$*"; }
echo "soak: $INSTANCES skedcast-auth instances on one Postgres database ($DB_NAME), $SECONDS_TOTAL s, $WORKERS workers; load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
python3 scripts/soak.py --auth "$(join "${URLS[@]}")" --api "$API" \
    --auth-pid "$(join "${AUTH_PIDS[@]}")" --api-pid "$API_PID" \
    --email "$EMAIL" --password "$PASSWORD" --seconds "$SECONDS_TOTAL" --workers "$WORKERS" \
    --interval "$INTERVAL" --burst 0 --settle 0 \
    --w-race-code "${SOAK_W_RACE_CODE:-1}" --w-race-refresh "${SOAK_W_RACE_REFRESH:-1}" \
    || status=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# The database's word, whatever the driver saw.
check() {
    local what="$1" sql="$2" n
    n="$(psql -At -v ON_ERROR_STOP=1 "$DB_URL" -c "$sql")"
    if [ "$n" = 0 ]; then
        echo "check ok: $what: 0"
    else
        echo "CHECK FAILED: $what: $n" >&2
        status=1
    fi
}
echo
echo "database:"
psql -At "$DB_URL" -c "SELECT 'refresh families ' || count(*) || ', revoked ' || count(revoked_at) FROM refresh_families"
psql -At "$DB_URL" -c "SELECT 'refresh tokens ' || count(*) || ', used ' || count(used_at) FROM refresh_tokens"
psql -At "$DB_URL" -c "SELECT 'authorization codes ' || count(*) || ', redeemed ' || count(used_at) FROM authorization_codes"
check "families with two unused tokens" \
    "SELECT count(*) FROM (SELECT family_id FROM refresh_tokens WHERE used_at IS NULL
       GROUP BY family_id HAVING count(*) > 1) t"
check "families with two live tokens" \
    "SELECT count(*) FROM (SELECT t.family_id FROM refresh_tokens t
       JOIN refresh_families f ON f.id = t.family_id
       WHERE t.used_at IS NULL AND f.revoked_at IS NULL
         AND t.expires_at > extract(epoch FROM now()) AND f.expires_at > extract(epoch FROM now())
       GROUP BY t.family_id HAVING count(*) > 1) t"
check "codes that started two families" \
    "SELECT count(*) FROM (SELECT code_hash FROM refresh_families GROUP BY code_hash HAVING count(*) > 1) t"
check "families of a code never redeemed" \
    "SELECT count(*) FROM refresh_families f JOIN authorization_codes c ON c.code_hash = f.code_hash
       WHERE c.used_at IS NULL"

if grep -qi panicked "$TMP"/auth*.log "$TMP/api.log"; then
    echo "a server panicked:" >&2
    grep -i -A3 panicked "$TMP"/auth*.log "$TMP/api.log" >&2
    status=1
fi
for i in $(seq 0 $((INSTANCES - 1))); do
    errs="$(grep -c -E ' (ERROR|error) ' "$TMP/auth$i.log" || true)"
    echo "instance #$i: $errs error lines in its log"
done
exit "$status"
