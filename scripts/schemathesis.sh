#!/usr/bin/env bash
# Schemathesis against openapi/openapi.json and a running skedcast-auth on a
# free loopback port with a temporary SQLite database. Checks: no 5xx
# (not_a_server_error) and responses match the schema
# (response_schema_conformance). Exits non-zero on any failure.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]      # default 25 per operation
#
# The virtualenv is created once under target/venv-schemathesis (pip install
# schemathesis from PyPI) and reused. The server binary is the release one
# when it is at least as new as the debug one, else the debug one; it is
# built (debug) when neither exists. SKEDCAST_BIN overrides.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${1:-25}"
VENV=target/venv-schemathesis
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"

if [ ! -x "$VENV/bin/st" ]; then
    echo "creating $VENV (schemathesis $SCHEMATHESIS_VERSION)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

BIN="${SKEDCAST_BIN:-}"
if [ -z "$BIN" ]; then
    if [ -x target/release/skedcast-auth ] && { [ ! -x target/debug/skedcast-auth ] \
        || [ target/release/skedcast-auth -nt target/debug/skedcast-auth ]; }; then
        BIN=target/release/skedcast-auth
    else
        cargo build -q --bin skedcast-auth
        BIN=target/debug/skedcast-auth
    fi
fi

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

BASE="http://127.0.0.1:$PORT"
export SKEDCAST__SERVER__BIND="127.0.0.1:$PORT"
export SKEDCAST__ISSUER="$BASE"
export SKEDCAST__DATABASE__URL="sqlite://$TMP/schemathesis.db?mode=rwc"
export SKEDCAST__LOG__LEVEL=warn
# Registration is rate limited per minute; schemathesis registers a lot.
export SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE=1000000
# Client metadata documents would make the server fetch URLs schemathesis
# invents; that is not what this run is about.
export SKEDCAST__CIMD__ENABLED=false

"$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "skedcast-auth exited at start-up:" >&2
        cat "$TMP/server.log" >&2
        exit 1
    fi
    sleep 0.1
done

# RFC 7592 management needs a client and its registration access token:
# one client for GET/PUT, another for DELETE (so that deleting does not
# turn the others into 401s).
register() {
    curl -fsS -X POST "$BASE/oauth/register" -H 'Content-Type: application/json' \
        -d '{"client_name":"schemathesis","redirect_uris":["https://client.example/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}' \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["client_id"], d["registration_access_token"])'
}
read -r CID RAT < <(register)
read -r DEL_CID DEL_RAT < <(register)
cat >"$TMP/schemathesis.toml" <<TOML
[[operations]]
include-path-regex = "^/oauth/register/"
include-method-regex = "^(GET|PUT)$"
headers = { Authorization = "Bearer $RAT" }
parameters = { "path.client_id" = "$CID" }

[[operations]]
include-path-regex = "^/oauth/register/"
include-method = "DELETE"
headers = { Authorization = "Bearer $DEL_RAT" }
parameters = { "path.client_id" = "$DEL_CID" }
TOML

echo "schemathesis: $BIN on $BASE, $MAX_EXAMPLES examples per operation"
status=0
"$VENV/bin/st" --config-file "$TMP/schemathesis.toml" run openapi/openapi.json \
    --url "$BASE" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --phases examples,coverage,fuzzing \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 2 \
    --request-timeout 10 \
    --no-color \
    --generation-database none \
    --report junit --report-dir "$TMP/report" || status=$?

if grep -qiE 'panicked|stack backtrace' "$TMP/server.log"; then
    echo "the server panicked:" >&2
    grep -iE -A5 'panicked' "$TMP/server.log" >&2 || true
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "schemathesis FAILED (exit $status); server log tail:" >&2
    tail -n 40 "$TMP/server.log" >&2
fi
exit "$status"
