#!/usr/bin/env bash
# p50/p99 of client_credentials, refresh, authorize (remembered consent) +
# code exchange, API-key introspection and sign-in, one request at a time,
# on an empty SQLite database and on one filled by seed-scale (issue 19),
# same binary, same run (scripts/scale_latency.py).
#
#   scripts/scale-latency.sh [SCALE] [N]       # defaults 1 (the issue's sizes), 300
#   SCALE_PROFILE=debug scripts/scale-latency.sh 0.1 100
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-1}"
N="${2:-300}"
PROFILE="${SCALE_PROFILE:-release}"
if [ "$PROFILE" = release ]; then cargo build -q --release --bin skedcast-auth; else cargo build -q --bin skedcast-auth; fi
BIN="target/$PROFILE/skedcast-auth"
TMP="$(mktemp -d)"
PID=
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SKEDCAST__ISSUER="http://127.0.0.1:$PORT" SKEDCAST__SERVER__BIND="127.0.0.1:$PORT"
export SKEDCAST__LOG__LEVEL=warn SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE=100000
export SKEDCAST__CLIENTS__PENDING_REQUESTS_PER_MINUTE_PER_IP=1000000
export SKEDCAST__LOGIN__MAX_FAILURES=1000000 SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES=1000000
PASSWORD="latency passphrase 0123"

for db in empty seeded; do
    export SKEDCAST__DATABASE__URL="sqlite://$TMP/$db.db?mode=rwc"
    if [ "$db" = seeded ]; then
        "$BIN" seed-scale --scale "$SCALE" 2>&1 | tail -1
    fi
    "$BIN" agency create --name Latency >/dev/null
    printf '%s\n' "$PASSWORD" | "$BIN" user create --email lat@example.com --agency Latency \
        --role owner --password-stdin >/dev/null
    RS="$("$BIN" resource-server create --name API --resource http://127.0.0.1:8081 2>/dev/null | paste -sd:)"
    CC="$("$BIN" client create --name Job --grant client_credentials --scopes agency:read 2>/dev/null | paste -sd:)"
    "$BIN" api-key create --email lat@example.com --agency Latency --name k --scopes agency:read \
        --expires-in-days 30 >"$TMP/keys" 2>/dev/null
    if [ "$db" = seeded ]; then
        # Seeded keys (src/seed.rs `api_key`): random ones among all of them.
        python3 - "$SCALE" >>"$TMP/keys" <<'PY'
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
    fi
    "$BIN" serve >"$TMP/$db.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 100); do curl -fsS "$SKEDCAST__ISSUER/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    echo "$db database:"
    python3 scripts/scale_latency.py --auth "$SKEDCAST__ISSUER" --email lat@example.com \
        --password "$PASSWORD" --cc "$CC" --rs "$RS" --api-keys "$TMP/keys" -n "$N"
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
