#!/usr/bin/env bash
# Fill an empty database with production-sized tables (issue 19): 10k
# agencies, 100k users (user{i}@seed.example, one membership and one consent
# each), 100k public clients (seed-client-{i}), 300k refresh families with
# 1M refresh tokens, 1M consumed authorization codes and 100k API keys,
# times SCALE. Then ANALYZE. For load tests only: never a real deployment.
# --expired adds about a million rows (times SCALE) that ended long ago, for
# the next housekeeping pass to delete; --expired-only adds only those.
#
#   scripts/seed-scale.sh DATABASE_URL [SCALE] [--expired|--expired-only]
#   scripts/seed-scale.sh "sqlite:///tmp/scale.db?mode=rwc"
#   scripts/seed-scale.sh postgres://postgres@127.0.0.1:5432/scale 0.1
#   SEED_PASSWORD=... SEED_PROFILE=debug scripts/seed-scale.sh URL
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
    sed -n '2,14p' "$0" >&2
    exit 2
fi
URL="$1"
SCALE="${2:-1}"
EXTRA=("${@:3}")
PROFILE="${SEED_PROFILE:-release}"
PASSWORD="${SEED_PASSWORD:-seed passphrase 0123}"

if [ "$PROFILE" = release ]; then
    cargo build -q --release --bin skedcast-auth
else
    cargo build -q --bin skedcast-auth
fi
start=$(date +%s)
SKEDCAST__DATABASE__URL="$URL" SKEDCAST__LOG__LEVEL=warn \
    "target/$PROFILE/skedcast-auth" seed-scale --scale "$SCALE" --password "$PASSWORD" "${EXTRA[@]}"
echo "seeded in $(( $(date +%s) - start )) s" >&2
