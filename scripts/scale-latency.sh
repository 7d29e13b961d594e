#!/usr/bin/env bash
# p50/p99 of client_credentials, code exchange, refresh, API-key
# introspection, sign-in and authorize with a remembered consent, one request
# at a time, on an empty database and on one filled by seed-scale (issue 19),
# both served at once by the same binary and measured alternately request by
# request (scripts/scale_latency.py compare). The "empty" one holds seed-scale
# at 0.003 (300 API keys, 300 users, ~7k rows in all), so that both sides
# introspect API keys used for the first time (a write of last_used_at). Then about a million expired
# rows (times SCALE) are added to the seeded database and the same paths are
# measured on it before and during a housekeeping pass that deletes them
# (`skedcast-auth housekeeping`, another process, as another instance's
# hourly pass would), with any failed request counted, the empty server
# measured in turn with it as a control for the machine's load.
#
#   scripts/scale-latency.sh [sqlite|postgres] [SCALE] [N]   # defaults sqlite 1 300
#   SCALE_PROFILE=debug scripts/scale-latency.sh sqlite 0.01 50
#   SCALE_PRUNE=0 ...                    # skip the prune part
#   SCALE_COMPARE=0 ...                  # skip the empty-vs-seeded part
#   SCALE_BIN=path/to/skedcast-auth ...  # that binary, no build
#   SCALE_PG_URL=postgres://postgres@127.0.0.1:5432/postgres   # where databases are made
#   SCALE_ENV="SKEDCAST__DATABASE__X=Y ..."   # extra settings for the servers
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
SCALE="${2:-1}"
N="${3:-300}"
PROFILE="${SCALE_PROFILE:-release}"
PG_ADMIN="${SCALE_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
case "$BACKEND" in sqlite|postgres) ;; *) sed -n '2,17p' "$0" >&2; exit 2 ;; esac
BIN="${SCALE_BIN:-target/$PROFILE/skedcast-auth}"
if [ -z "${SCALE_BIN:-}" ]; then
    if [ "$PROFILE" = release ]; then cargo build -q --release --bin skedcast-auth; else cargo build -q --bin skedcast-auth; fi
fi
TMP="$(mktemp -d)"
PIDS=()
PG_DBS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    for d in "${PG_DBS[@]}"; do psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
export SKEDCAST__LOG__LEVEL=warn SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE=100000
export SKEDCAST__CLIENTS__PENDING_REQUESTS_PER_MINUTE_PER_IP=1000000
export SKEDCAST__LOGIN__MAX_FAILURES=1000000 SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES=1000000
PASSWORD="latency passphrase 0123"

# The URL of database $1 (a new Postgres database, dropped at exit). Not in a
# subshell: PG_DBS must keep the name.
make_db() {
    if [ "$BACKEND" = sqlite ]; then
        DB_URL="sqlite://$TMP/$1.db?mode=rwc"
    else
        local name="skedcast_scale_${1}_$$"
        psql -q "$PG_ADMIN" -c "CREATE DATABASE $name" >/dev/null
        PG_DBS+=("$name")
        DB_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' "$PG_ADMIN" "$name")"
    fi
}

# Seeded keys (src/seed.rs `api_key`) at scale $1: random ones among all.
seeded_keys() {
    python3 - "$1" <<'PY'
import random, sys, zlib
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
n = max(1, round(100000 * float(sys.argv[1])))
for i in random.sample(range(n), min(n, 2000)):
    r = f"seed{i:026d}"
    c, out = zlib.crc32(r.encode()), ""
    for _ in range(6):
        out = A[c % 62] + out
        c //= 62
    print(f"sked_live_{r}{out}")
PY
}

# Make database $1 (seeded or not), its member, clients and keys; serve it.
# Prints the target spec for scale_latency.py.
TARGETS=()
declare -A URLS
start() {
    local db="$1" url port
    make_db "$db"
    url="$DB_URL"
    URLS[$db]="$url"
    export SKEDCAST__DATABASE__URL="$url"
    local scale="$SCALE"
    [ "$db" = empty ] && scale=0.003
    "$BIN" seed-scale --scale "$scale" 2>&1 | tail -1 >&2
    "$BIN" agency create --name Latency >/dev/null
    printf '%s\n' "$PASSWORD" | "$BIN" user create --email lat@example.com --agency Latency \
        --role owner --password-stdin >/dev/null
    local rs cc
    rs="$("$BIN" resource-server create --name API --resource http://127.0.0.1:8081 2>/dev/null | paste -sd:)"
    cc="$("$BIN" client create --name Job --grant client_credentials --scopes agency:read 2>/dev/null | paste -sd:)"
    "$BIN" api-key create --email lat@example.com --agency Latency --name k --scopes agency:read \
        --expires-in-days 30 >"$TMP/$db.keys" 2>/dev/null
    seeded_keys "$scale" >>"$TMP/$db.keys"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    # shellcheck disable=SC2086
    env SKEDCAST__ISSUER="http://127.0.0.1:$port" SKEDCAST__SERVER__BIND="127.0.0.1:$port" ${SCALE_ENV:-} \
        "$BIN" serve >"$TMP/$db.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    TARGETS+=(--target "$db=http://127.0.0.1:$port,$cc,$rs,$TMP/$db.keys")
}

start empty
start seeded
echo "$BACKEND, scale $SCALE, $(nproc) cores, $(date -u +%FT%TZ); load before: $(uptime | sed 's/.*load average: //')"
if [ "${SCALE_COMPARE:-1}" != 0 ]; then
    python3 scripts/scale_latency.py compare "${TARGETS[@]}" --email lat@example.com \
        --password "$PASSWORD" -n "$N"
    echo "load after: $(uptime | sed 's/.*load average: //')"
fi

[ "${SCALE_PRUNE:-1}" = 0 ] && exit 0
# The seeded server first (pruned), the empty one as the control.
SEEDED=("${TARGETS[2]}" "${TARGETS[3]}" "${TARGETS[0]}" "${TARGETS[1]}")
export SKEDCAST__DATABASE__URL="${URLS[seeded]}"
"$BIN" seed-scale --scale "$SCALE" --expired-only 2>&1 | grep -E '^seeding' >&2
python3 scripts/scale_latency.py prune "${SEEDED[@]}" --email lat@example.com \
    --password "$PASSWORD" --before "$N" --ready "$TMP/ready" --until "$TMP/done" &
PY=$!
while [ ! -f "$TMP/ready" ]; do
    kill -0 "$PY" 2>/dev/null || { wait "$PY"; exit 1; }
    sleep 0.2
done
echo "pass started, load: $(uptime | sed 's/.*load average: //')"
SKEDCAST__LOG__LEVEL=warn "$BIN" housekeeping 2>&1 | tail -1
touch "$TMP/done"
wait "$PY"
echo "load after: $(uptime | sed 's/.*load average: //')"
