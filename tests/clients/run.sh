#!/usr/bin/env bash
# Generated-client stories: clients generated from the committed openapi.json must work.
# Starts an orgd built beforehand on a free port with a fresh data directory and no rate limits;
# generates a Python client (openapi-python-client) and a TypeScript one (openapi-typescript
# types + openapi-fetch), runs the same story with each (python/story.py, ts/story.ts), and lints
# the document with @redocly/cli (redocly.yaml: errors fail, warnings are shown).
#   tests/clients/run.sh [path/to/orgd]      (default target/debug/orgd; needs python3, node, npm)
# The pinned tools (python/requirements.txt, ts/package-lock.json) are installed under
# target/clients/ on the first run and reused while their pins are unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orgd="${1:-$root/target/debug/orgd}"
case "$orgd" in /*) ;; *) orgd="$PWD/$orgd" ;; esac
[ -x "$orgd" ] || { echo "no orgd binary at $orgd (build it first: cargo build)" >&2; exit 1; }
spec="$root/openapi.json"
tools="$root/target/clients"
mkdir -p "$tools"

echo "== tools: openapi-python-client, openapi-typescript, openapi-fetch, @redocly/cli"
venv="$tools/python-venv"
if ! cmp -s "$here/python/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/python/requirements.txt"
  cp "$here/python/requirements.txt" "$venv/requirements.txt"
fi
ts="$tools/ts"
mkdir -p "$ts"
if ! cmp -s "$here/ts/package-lock.json" "$ts/node_modules/.orgd-package-lock.json"; then
  cp "$here/ts/package.json" "$here/ts/package-lock.json" "$ts/"
  (cd "$ts" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$here/ts/package-lock.json" "$ts/node_modules/.orgd-package-lock.json"
fi

echo "== lint: redocly lint openapi.json"
# No usage reports or update checks: CI has no network beyond the package registries.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$ts/node_modules/.bin/redocly" lint "$spec" --config "$root/redocly.yaml" --format stylish

echo "== generate: the Python and TypeScript clients from openapi.json"
rm -rf "$tools/python" && mkdir -p "$tools/python"
PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$spec" \
  --config "$here/python/config.yaml" --meta none --output-path "$tools/python/orgd_client" \
  >"$tools/python/generate.log" 2>&1 || { cat "$tools/python/generate.log"; exit 1; }
if grep -q "^WARNING\|^ERROR" "$tools/python/generate.log"; then
  cat "$tools/python/generate.log"
  echo "openapi-python-client could not use part of openapi.json" >&2
  exit 1
fi
cp "$here/ts/story.ts" "$here/ts/tsconfig.json" "$ts/"
"$ts/node_modules/.bin/openapi-typescript" "$spec" --redocly "$root/redocly.yaml" --output "$ts/schema.d.ts"
echo "== typecheck: tsc (the story against the generated types)"
rm -rf "$ts/build"
(cd "$ts" && node_modules/.bin/tsc -p tsconfig.json)

work="$(mktemp -d /tmp/orgd-clients.XXXXXX)"
server=""
stop() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT
start() {
  rm -rf "$work/data" && mkdir -p "$work/data"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  export ORGD_URL="http://127.0.0.1:$port"
  ORGD_RATE_LIMITS_ENABLED=false "$orgd" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
    >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "$ORGD_URL/readyz" >/dev/null && return 0; sleep 0.1; done
  cat "$work/server.log"
  echo "orgd did not become ready" >&2
  exit 1
}
restart() {
  kill "$server" && wait "$server" 2>/dev/null || true
  server=""
  start
}

echo "== story: the Python client"
start
PYTHONPATH="$tools/python" "$venv/bin/python" "$here/python/story.py"
echo "== story: the TypeScript client"
# The same names again: a fresh server.
restart
node "$ts/build/story.js"
