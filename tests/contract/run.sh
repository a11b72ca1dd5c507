#!/usr/bin/env bash
# Contract fuzzing: schemathesis against a running orgd's /openapi.json, all operations, as an
# owner and as a member, with schemathesis' default checks. Fails on any failure.
#   tests/contract/run.sh            (needs `schemathesis` on PATH, or SCHEMATHESIS=path)
#   ST_MAX_EXAMPLES=50 tests/contract/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
st="${SCHEMATHESIS:-schemathesis}"
# The runs below change directory: make a relative path absolute.
case "$st" in */*) st="$(cd "$(dirname "$st")" && pwd)/$(basename "$st")" ;; esac
max_examples="${ST_MAX_EXAMPLES:-25}"
work="$(mktemp -d /tmp/orgd-contract.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export ORGD_URL="http://127.0.0.1:$port"

cargo build --quiet --manifest-path "$root/Cargo.toml"
"$root/target/debug/orgd" serve --listen "127.0.0.1:$port" --data-dir "$work" \
  --rate-limits-enabled false >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf "$ORGD_URL/readyz" >/dev/null && break; sleep 0.2; done

signup() {
  curl -sf -X POST "$ORGD_URL/auth/signup" -H 'content-type: application/json' \
    -d "{\"email\": \"$1@example.com\", \"username\": \"$1\", \"password\": \"contract-password\"}" >/dev/null
}
signup contract-owner
signup contract-member
# Logins by email: fuzzed profile updates may change usernames, never emails.
export ORGD_OWNER_LOGIN=contract-owner@example.com ORGD_OWNER_PASSWORD=contract-password
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks

status=0
for actor in owner member; do
  echo "== schemathesis as the $actor"
  export ORGD_ACTOR_LOGIN="contract-$actor@example.com" ORGD_ACTOR_PASSWORD=contract-password ORGD_ACTOR_ROLE="$actor"
  (cd "$here" && "$st" run "$ORGD_URL/openapi.json" --max-examples "$max_examples" \
    --seed 1 --workers 1 --no-color) || status=1
done
exit $status
