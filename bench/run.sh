#!/usr/bin/env bash
# orgd load benchmark, one command: builds orgd and the baseline server, measures the
# "physical limit" baselines (with the database-driver comparison), then seeds and drives orgd
# on SQLite and PostgreSQL at two sizes with wrk, and writes a markdown table with ratios against
# the same run's baselines.
#
#   bench/run.sh                          full run (~10 min on 2 idle cores)
#   BENCH_QUICK=1 bench/run.sh            smoke test: 3 s runs, small size, SQLite only
#   BENCH_ENGINES=sqlite BENCH_SIZES=large bench/run.sh
#   BENCH_BASELINES_ONLY=1 BENCH_ENGINES="sqlite postgres" bench/run.sh   baselines and drivers only
#
# Knobs (env):
#   BENCH_ENGINES    "sqlite postgres"     engines to run
#   BENCH_SIZES      "small large"         small: 1,000 orgs x 10 members; large: 50,000 x 20 (1M)
#   BENCH_WORKLOADS  "W1 W2 W3 W4 W5 W6 W7 W8 W9 W10"   (W8 runs once for each of
#                                          BENCH_W8_WRITE_PCTS; W9 once for each of
#                                          BENCH_W9_WRITE_PCTS with single checks, then once for
#                                          each with batches of 20 checks)
#   BENCH_CALLERS    400                   W8's and W9's callers: users who own an organization
#                                          each, with a session token each (orgd admin seed --callers)
#   BENCH_W8_WRITE_PCTS "0 1 5"           W8's write fractions, in % of requests
#   BENCH_W9_WRITE_PCTS "0 1"             W9's write fractions (role changes), in % of requests
#   BENCH_CACHE_OFF  1                     1 = also run the read workloads (W1-W4, W8, W9) against an
#                                          orgd with ORGD_CACHE_TTL_MS=0, before the main pass;
#                                          0 = skip that pass
#   BENCH_DURATION   10s   BENCH_WARMUP 3s   BENCH_CONNS 64   BENCH_THREADS 2   BENCH_TIMEOUT 5s
#   BENCH_RETRIES    1     re-runs of a measurement disturbed by foreign CPU load (see lib.sh)
#   SERVER_CPUS      1     CPU list for orgd, PostgreSQL and the baseline server
#   LOADGEN_CPUS     0     CPU list for wrk and pgbench
#   BENCH_OUT        /tmp/orgd-bench/<timestamp>   raw outputs, results.tsv, meta.tsv
#   BENCH_REPORT     bench/results/latest.md (quick mode: bench/results/quick.md)
#   BENCH_DRIVER_POOL 16                   connections of each pooled driver in the baselines B1s,
#                                          B2s and B2t (orgd's default pool size)
#   BENCH_BASELINES_ONLY 0                 1 = measure the baselines only: no orgd build, no orgd
#                                          runs (BENCH_ENGINES still selects the PostgreSQL rows)
#   BENCH_ORGD_ENV   extra environment for `orgd serve` (both passes); with ORGD_CACHE_TTL_MS=0
#                    in it the main pass is the cache-off pass and no second pass runs
#   BENCH_QUICK      1 = BENCH_DURATION=3s BENCH_WARMUP=1s BENCH_RETRIES=0 and, unless set,
#                    BENCH_ENGINES=sqlite BENCH_SIZES=small
# Exit status: 0 when every measurement was clean, 3 when some run had a non-2xx response or a
# socket error (the report shows those as FAILED), other values for setup errors (1 also when a
# W9 preflight gets no 2xx answer: the permission-check route is missing or refuses the request).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  export BENCH_DURATION="${BENCH_DURATION:-3s}" BENCH_WARMUP="${BENCH_WARMUP:-1s}" BENCH_RETRIES="${BENCH_RETRIES:-0}"
  BENCH_ENGINES="${BENCH_ENGINES:-sqlite}"; BENCH_SIZES="${BENCH_SIZES:-small}"
  BENCH_REPORT="${BENCH_REPORT:-$HERE/results/quick.md}"
fi
BENCH_ENGINES="${BENCH_ENGINES:-sqlite postgres}"
BENCH_SIZES="${BENCH_SIZES:-small large}"
BENCH_WORKLOADS="${BENCH_WORKLOADS:-W1 W2 W3 W4 W5 W6 W7 W8 W9 W10}"
BENCH_CALLERS="${BENCH_CALLERS:-400}"
BENCH_W8_WRITE_PCTS="${BENCH_W8_WRITE_PCTS:-0 1 5}"
BENCH_W9_WRITE_PCTS="${BENCH_W9_WRITE_PCTS:-0 1}"
BENCH_CACHE_OFF="${BENCH_CACHE_OFF:-1}"
BENCH_DRIVER_POOL="${BENCH_DRIVER_POOL:-16}"
BENCH_BASELINES_ONLY="${BENCH_BASELINES_ONLY:-0}"
PGBENCH_SCALE=10  # pgbench -i -s 10: 1,000,000 pgbench_accounts rows
BENCH_REPORT="${BENCH_REPORT:-$HERE/results/latest.md}"
export BENCH_OUT="${BENCH_OUT:-/tmp/orgd-bench/$(date +%Y%m%d-%H%M%S)}"
export BENCH_ROOT_PID=$$
declare -A SIZE_ARGS=(
  [small]="--orgs 1000 --members-per-org 10"
  [large]="--orgs 50000 --members-per-org 20"
)
for s in $BENCH_SIZES; do [ -n "${SIZE_ARGS[$s]:-}" ] || { echo "unknown size $s (small, large)" >&2; exit 2; }; done
for e in $BENCH_ENGINES; do case "$e" in sqlite | postgres) ;; *) echo "unknown engine $e (sqlite, postgres)" >&2; exit 2 ;; esac; done
for w in $BENCH_WORKLOADS; do case "$w" in W[1-9] | W10) ;; *) echo "unknown workload $w (W1 ... W10)" >&2; exit 2 ;; esac; done
[[ "$BENCH_DRIVER_POOL" =~ ^[1-9][0-9]*$ ]] || { echo "bad BENCH_DRIVER_POOL '$BENCH_DRIVER_POOL' (a positive number)" >&2; exit 2; }
case "$BENCH_BASELINES_ONLY" in 0 | 1) ;; *) echo "bad BENCH_BASELINES_ONLY '$BENCH_BASELINES_ONLY' (0, 1)" >&2; exit 2 ;; esac
for p in $BENCH_W8_WRITE_PCTS; do [[ "$p" =~ ^[0-9]+$ && "$p" -le 100 ]] || { echo "bad W8 write % $p (0 ... 100)" >&2; exit 2; }; done
for p in $BENCH_W9_WRITE_PCTS; do [[ "$p" =~ ^[0-9]+$ && "$p" -le 100 ]] || { echo "bad W9 write % $p (0 ... 100)" >&2; exit 2; }; done
for w in W8 W9; do
  if [[ " $BENCH_WORKLOADS " == *" $w "* ]] && ! [[ "$BENCH_CALLERS" =~ ^[0-9]+$ && "$BENCH_CALLERS" -ge "${BENCH_THREADS:-2}" ]]; then
    echo "$w needs BENCH_CALLERS >= BENCH_THREADS (${BENCH_THREADS:-2}), not '$BENCH_CALLERS'" >&2; exit 2
  fi
done
want_pg=0; [[ " $BENCH_ENGINES " == *" postgres "* ]] && want_pg=1

# --- prerequisites -----------------------------------------------------------------------------
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  [ -x "$d/pg_ctl" ] && { export PATH="$d:$PATH"; break; }
done
if ! command -v wrk >/dev/null; then
  echo "wrk not found: installing it with apt-get"
  [ "$(id -u)" = 0 ] || { echo "run as root, or install wrk first" >&2; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
need=(cargo curl python3 taskset wrk); [ "$want_pg" = 1 ] && need+=(initdb pg_ctl psql pgbench)
for c in "${need[@]}"; do command -v "$c" >/dev/null || { echo "missing: $c" >&2; exit 2; }; done
if [ "$(nproc)" -lt 2 ]; then
  echo "warning: fewer than 2 CPUs; server and load generator share CPU 0" >&2
  export SERVER_CPUS=0 LOADGEN_CPUS=0
fi

source "$HERE/lib.sh"
# One benchmark at a time on this machine: two runs would measure each other.
mkdir -p /tmp/orgd-bench
exec 9>/tmp/orgd-bench/run.lock
if ! flock -n 9; then
  echo "another bench/run.sh is running; waiting for it to finish"
  flock 9
fi
echo "raw outputs -> $BENCH_OUT"
PG="$HERE/pg-cluster.sh"
export PGB_DIR="${PGB_DIR:-/tmp/orgd-bench-pg}"
SERVER_PID=""; BASE_PID=""; PG_STARTED=0
stop_pid() { # stop_pid PID: SIGTERM, then wait for it
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$SERVER_PID"; SERVER_PID=""
  stop_pid "$BASE_PID"; BASE_PID=""
  if [ "$PG_STARTED" = 1 ]; then "$PG" destroy || true; PG_STARTED=0; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "date: $(date -Is)"
  echo "host: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "orgd: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes under src/')"
  rustc --version; (wrk --version 2>&1 || true) | head -1
  [ "$want_pg" = 1 ] && postgres --version
} >"$BENCH_OUT/env.txt"
meta settings "wrk -t$BENCH_THREADS -c$BENCH_CONNS -d$BENCH_DURATION --timeout $BENCH_TIMEOUT, warm-up $BENCH_WARMUP; server on CPU $SERVER_CPUS, load generator on CPU $LOADGEN_CPUS"
meta quick "${BENCH_QUICK:-0}"
meta driver_pool "$BENCH_DRIVER_POOL"
meta baselines_only "$BENCH_BASELINES_ONLY"
ORGD_EXTRA_ENV=(); [ -n "${BENCH_ORGD_ENV:-}" ] && read -r -a ORGD_EXTRA_ENV <<<"$BENCH_ORGD_ENV"
meta orgd_env "ORGD_LOG=warn ORGD_RATE_LIMITS_ENABLED=false${BENCH_ORGD_ENV:+ $BENCH_ORGD_ENV}"
# The main pass runs with orgd's read cache unless BENCH_ORGD_ENV switches it off; the cache-off
# pass then has nothing to add.
MAIN_CACHE=on
for kv in "${ORGD_EXTRA_ENV[@]}"; do
  case "$kv" in ORGD_CACHE_TTL_MS=*) [[ "${kv#*=}" =~ ^0+$ ]] && MAIN_CACHE=off || MAIN_CACHE=on ;; esac
done
[ "$MAIN_CACHE" = off ] && BENCH_CACHE_OFF=0
meta main_cache "$MAIN_CACHE"
meta cache_off_pass "$BENCH_CACHE_OFF"

# --- builds ------------------------------------------------------------------------------------
if [ "$BENCH_BASELINES_ONLY" = 0 ]; then
  echo "== building orgd (cargo build --release)"
  (cd "$ROOT" && cargo build --release) >"$BENCH_OUT/build-orgd.log" 2>&1 || { tail -20 "$BENCH_OUT/build-orgd.log" >&2; exit 1; }
fi
ORGD="$ROOT/target/release/orgd"
echo "== building the baseline server (bench/baseline)"
locked=(); [ -f "$HERE/baseline/Cargo.lock" ] && locked=(--locked)
cargo build --release "${locked[@]}" --manifest-path "$HERE/baseline/Cargo.toml" --target-dir "$HERE/baseline/target" \
  >"$BENCH_OUT/build-baseline.log" 2>&1 || { tail -20 "$BENCH_OUT/build-baseline.log" >&2; exit 1; }
BASELINE="$HERE/baseline/target/release/orgd-bench-baseline"

if [ "$want_pg" = 1 ]; then
  export PGB_PORT="$(free_port)"
  echo "== PostgreSQL: throwaway cluster in $PGB_DIR on port $PGB_PORT, CPU $SERVER_CPUS"
  PGB_CPUS="$SERVER_CPUS" "$PG" start >/dev/null 9>&-; PG_STARTED=1
fi

# --- baselines ---------------------------------------------------------------------------------
ITEMS_DB="/tmp/orgd-bench/baseline-items-1000000.sqlite"
if [ ! -f "$ITEMS_DB" ]; then
  echo "== seeding the baseline's 1M-row SQLite table"
  mkdir -p "$(dirname "$ITEMS_DB")"
  "$BASELINE" seed "$ITEMS_DB.$$" 1000000 >/dev/null && mv "$ITEMS_DB.$$" "$ITEMS_DB"
fi
# The pgbench database serves B2 and the PostgreSQL driver rows B2s and B2t.
pg_args=()
if [ "$want_pg" = 1 ]; then
  url="$("$PG" url pgbench)"
  pgbench -i -q -s "$PGBENCH_SCALE" "$url" >"$BENCH_OUT/raw/pgbench-init.txt" 2>&1
  pg_args=(--pg "$url")
fi
port="$(free_port)"
taskset -c "$SERVER_CPUS" "$BASELINE" serve "127.0.0.1:$port" "$ITEMS_DB" --pool "$BENCH_DRIVER_POOL" "${pg_args[@]}" \
  >"$BENCH_OUT/baseline-server.log" 2>&1 9>&- &
BASE_PID=$!; export SERVER_PIDS="$BASE_PID"
echo "== baselines (axum server pid $BASE_PID on CPU $SERVER_CPUS; driver pools of $BENCH_DRIVER_POOL connections)"
wait_http "http://127.0.0.1:$port/json" || { tail -5 "$BENCH_OUT/baseline-server.log" >&2; exit 1; }
wrk_run baseline B0_axum_hello_json "http://127.0.0.1:$port/json" get.lua
BENCH_ROWS=1000000 wrk_run baseline B1_axum_sqlite_pk_1M "http://127.0.0.1:$port/" random-item.lua
BENCH_ROWS=1000000 BENCH_ITEM_PATH=/sqlx/item/ wrk_run baseline B1s_axum_sqlx_sqlite_pk_1M "http://127.0.0.1:$port/" random-item.lua
BENCH_ROWS=1000000 wrk_run baseline B3_axum_sqlite_update_1M "http://127.0.0.1:$port/" random-item-update.lua
if [ "$want_pg" = 1 ]; then
  accounts=$((PGBENCH_SCALE * 100000))
  BENCH_ROWS="$accounts" BENCH_ITEM_PATH=/pg/sqlx/ \
    wrk_run baseline "B2s_axum_sqlx_pg_pk_pool$BENCH_DRIVER_POOL" "http://127.0.0.1:$port/" random-item.lua
  BENCH_ROWS="$accounts" BENCH_ITEM_PATH=/pg/tokio/ \
    wrk_run baseline "B2t_axum_tokio_postgres_pk_pool$BENCH_DRIVER_POOL" "http://127.0.0.1:$port/" random-item.lua
fi
stop_pid "$BASE_PID"; BASE_PID=""
if [ "$want_pg" = 1 ]; then
  pgbench_run baseline "B2_pgbench_S_prepared_c$BENCH_CONNS" "$url" prepared "$BENCH_CONNS"
fi

# --- orgd --------------------------------------------------------------------------------------
# seed_field NAME: a field of the seed report (dotted path; arrays print one item a line)
seed_field() {
  python3 - "$SEED" "$1" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print("\n".join(map(str, v)) if isinstance(v, list) else v)
PY
}
# preflight NAME METHOD PATH TOKEN [BODY]: one request with curl before the load, logged; sets
# PREFLIGHT_CODE to the HTTP status (000: no answer)
preflight() {
  local name="$1" method="$2" path="$3" token="$4" body="${5:-}" args=()
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local code
  code="$(curl -s -o "$BENCH_OUT/raw/${suite}__preflight_$name.json" -w '%{http_code}' -X "$method" "${args[@]}" "$BASE$path" || echo 000)"
  PREFLIGHT_CODE="$code"
  echo "$name $method $path -> $code" >>"$BENCH_OUT/raw/${suite}__preflight.txt"
  case "$code" in 2??) ;; *) echo "   preflight $name: $method $path -> $code $(head -c 200 "$BENCH_OUT/raw/${suite}__preflight_$name.json")" >&2 ;; esac
}
# preflight_or_exit NAME METHOD PATH TOKEN BODY [EXPECT]: preflight, and end the run (status 1)
# unless the answer is 2xx and, when EXPECT is given, its body contains EXPECT; for routes whose
# absence would otherwise only show as a FAILED row after the whole load
preflight_or_exit() {
  local expect="${6:-}" out="$BENCH_OUT/raw/${suite}__preflight_$1.json"
  preflight "$@"
  case "$PREFLIGHT_CODE" in 2??) ;; *) echo "!! $suite: preflight $1 failed ($2 $3 -> $PREFLIGHT_CODE); stopping" >&2; exit 1 ;; esac
  if [ -n "$expect" ] && ! grep -qF -- "$expect" "$out"; then
    echo "!! $suite: preflight $1: $2 $3 -> $PREFLIGHT_CODE without $expect: $(head -c 200 "$out"); stopping" >&2; exit 1
  fi
}

# callers_file FILE: W8's and W9's callers from the seed report, "<token> <org id> <member id>" a line
callers_file() {
  python3 - "$SEED" >"$1" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1])).get("callers", []):
    print(c["token"], c["org"], c["member"])
PY
}
UNLIMITED_PLANS="$(for p in free team business; do for k in members projects applications tokens service_accounts; do printf '%s.%s=unlimited;' "$p" "$k"; done; done)"
# start_orgd SUITE [NAME=VALUE ...]: `orgd serve` on a free port with BENCH_ORGD_ENV and then the
# given environment, pinned to SERVER_CPUS; sets SERVER_PID and BASE and records the idle RSS.
start_orgd() {
  local s="$1" port; shift
  port="$(free_port)"; BASE="http://127.0.0.1:$port"
  # Rate limits off: W7 logs in from one address far above the per-address login limit. Plans
  # without limits: the seeded organizations are on the free plan, and the write workloads add
  # members, projects and tokens far beyond its seats.
  env ORGD_DATABASE_URL="$DBURL" ORGD_LISTEN="127.0.0.1:$port" ORGD_LOG=warn ORGD_RATE_LIMITS_ENABLED=false \
    ORGD_PLANS="$UNLIMITED_PLANS" "${ORGD_EXTRA_ENV[@]}" "$@" taskset -c "$SERVER_CPUS" "$ORGD" serve >"$BENCH_OUT/$s-server.log" 2>&1 9>&- &
  SERVER_PID=$!; export SERVER_PIDS="$SERVER_PID"
  wait_http "$BASE/readyz" || { tail -5 "$BENCH_OUT/$s-server.log" >&2; exit 1; }
  sleep 2
  meta "$s.rss_idle_kb" "$(rss_kb "$SERVER_PID" VmRSS)"
  echo "   orgd pid $SERVER_PID on CPU $SERVER_CPUS${*:+ with $*}, idle RSS $(rss_kb "$SERVER_PID" VmRSS) kB"
}
# stop_orgd SUITE: records the settled and the peak RSS, then stops orgd
stop_orgd() {
  sleep 2
  meta "$1.rss_after_kb" "$(rss_kb "$SERVER_PID" VmRSS)"
  meta "$1.rss_peak_kb" "$(rss_kb "$SERVER_PID" VmHWM)"
  stop_pid "$SERVER_PID"; SERVER_PID=""; unset SERVER_PIDS
}
# is_read WL: the workloads that also run in the cache-off pass
is_read() { case "$1" in W1 | W2 | W3 | W4 | W8 | W9 | W10) return 0 ;; *) return 1 ;; esac; }
# W9: the permissions checked, in rotation, and the checks in one batch request
W9_PERMISSIONS="organization:read organization:update organization:delete members:read members:write
  invitations:read invitations:write projects:read projects:write applications:read applications:write
  service_accounts:read service_accounts:write roles:read roles:write"
W9_BATCH=20
# w9_batch_body MEMBER: the first batch check-permission.lua sends for a caller whose member is
# MEMBER: W9_BATCH checks taking W9_PERMISSIONS in turn, alternately about the caller and MEMBER
w9_batch_body() {
  # shellcheck disable=SC2206
  local perms=($W9_PERMISSIONS) k checks=()
  for ((k = 0; k < W9_BATCH; k++)); do
    local i=$((k % ${#perms[@]})) round=$((k / ${#perms[@]}))
    if (((i + round) % 2)); then
      checks+=("{\"permission\":\"${perms[i]}\",\"user_id\":\"$1\"}")
    else
      checks+=("{\"permission\":\"${perms[i]}\"}")
    fi
  done
  local IFS=,
  echo "{\"checks\":[${checks[*]}]}"
}
# run_workload WL: preflight and measure one workload (W8, W9: one run per write fraction)
# against the orgd at BASE, as rows of $suite
run_workload() {
  case "$1" in
    W1) preflight W1 GET "/organizations/$ORGX" "$MEMBER"
        BENCH_TOKEN="$MEMBER" wrk_run "$suite" W1_get_org "$BASE/organizations/$ORGX" get.lua ;;
    W2) preflight W2 GET /organizations "$OWNER"
        BENCH_TOKEN="$OWNER" wrk_run "$suite" W2_list_my_orgs_20 "$BASE/organizations" get.lua ;;
    W3) preflight W3 GET "/organizations/$BIG/members?limit=100" "$MEMBER"
        BENCH_TOKEN="$MEMBER" wrk_run "$suite" W3_list_members_1k_lim100 "$BASE/organizations/$BIG/members?limit=100" get.lua ;;
    W4) preflight W4 GET "/organizations/$BIG/members/$FIRST_ID" "$MEMBER"
        BENCH_TOKEN="$MEMBER" BENCH_IDS_FILE="$IDS" BENCH_PATH_PREFIX="/organizations/$BIG/members/" \
          wrk_run "$suite" W4_get_member "$BASE/" get-each.lua ;;
    W5) preflight W5 POST /organizations "$OWNER" '{"name":"W5 preflight"}'
        BENCH_TOKEN="$OWNER" wrk_run "$suite" W5_create_org "$BASE/organizations" create-org.lua ;;
    W6) preflight W6 PATCH "/organizations/$BIG/members/$FIRST_ID" "$OWNER" '{"role":"member"}'
        BENCH_TOKEN="$OWNER" BENCH_IDS_FILE="$IDS" BENCH_PATH_PREFIX="/organizations/$BIG/members/" \
          wrk_run "$suite" W6_change_role "$BASE/" update-role.lua ;;
    W7) preflight W7 POST /auth/login "" "$LOGIN_BODY"
        BENCH_TOKEN="" BENCH_BODY="$LOGIN_BODY" wrk_run "$suite" W7_login "$BASE/auth/login" post.lua ;;
    W8) read -r c_token c_org c_member <"$CALLERS"
        preflight W8_get GET "/organizations/$c_org" "$c_token"
        preflight W8_patch_org PATCH "/organizations/$c_org" "$c_token" '{"description":"W8 preflight"}'
        preflight W8_patch_member PATCH "/organizations/$c_org/members/$c_member" "$c_token" '{"role":"member"}'
        for pct in $BENCH_W8_WRITE_PCTS; do
          BENCH_CALLERS_FILE="$CALLERS" BENCH_WRITE_PCT="$pct" \
            wrk_run "$suite" "W8_own_org_${pct}pct_writes" "$BASE/" own-org.lua
        done ;;
    W9) read -r c_token c_org c_member <"$CALLERS"
        c_check="/organizations/$c_org/permissions/check"
        preflight_or_exit W9_check_self POST "$c_check" "$c_token" '{"permission":"members:read"}' '"allowed"'
        preflight_or_exit W9_check_member POST "$c_check" "$c_token" "{\"permission\":\"members:read\",\"user_id\":\"$c_member\"}" '"allowed"'
        preflight_or_exit "W9_check_batch$W9_BATCH" POST "$c_check" "$c_token" "$(w9_batch_body "$c_member")" '"results"'
        preflight_or_exit W9_patch_member PATCH "/organizations/$c_org/members/$c_member" "$c_token" '{"role":"member"}'
        for pct in $BENCH_W9_WRITE_PCTS; do
          BENCH_CALLERS_FILE="$CALLERS" BENCH_PERMISSIONS="$W9_PERMISSIONS" BENCH_CHECK_BATCH=0 BENCH_WRITE_PCT="$pct" \
            wrk_run "$suite" "W9_check_${pct}pct_writes" "$BASE/" check-permission.lua
        done
        for pct in $BENCH_W9_WRITE_PCTS; do
          BENCH_CALLERS_FILE="$CALLERS" BENCH_PERMISSIONS="$W9_PERMISSIONS" BENCH_CHECK_BATCH="$W9_BATCH" BENCH_WRITE_PCT="$pct" \
            wrk_run "$suite" "W9_check_batch${W9_BATCH}_${pct}pct_writes" "$BASE/" check-permission.lua
        done ;;
    W10) read -r c_token c_org _ <"$CALLERS"
        code="$(curl -s -o "$BENCH_OUT/raw/${suite}__preflight_W10.html" -w '%{http_code}' \
          -H "Cookie: orgd_session=$c_token" "$BASE/console/orgs/$c_org/members" || echo 000)"
        echo "W10 GET /console/orgs/$c_org/members -> $code" >>"$BENCH_OUT/raw/${suite}__preflight.txt"
        if [ "$code" != 200 ] || ! grep -q 'id="members"' "$BENCH_OUT/raw/${suite}__preflight_W10.html"; then
          echo "!! $suite: preflight W10 failed (GET /console/orgs/$c_org/members -> $code); stopping" >&2; exit 1
        fi
        BENCH_CALLERS_FILE="$CALLERS" wrk_run "$suite" W10_console_members_page "$BASE/" console-page.lua ;;
  esac
  meta "$suite.rss_after_${1}_kb" "$(rss_kb "$SERVER_PID" VmRSS)"
}

READS=""; for wl in $BENCH_WORKLOADS; do is_read "$wl" && READS+="${READS:+ }$wl"; done
meta callers "$BENCH_CALLERS"
meta w8_write_pcts "$BENCH_W8_WRITE_PCTS"
meta w9_write_pcts "$BENCH_W9_WRITE_PCTS"
mkdir -p "$BENCH_OUT/data"
[ "$BENCH_BASELINES_ONLY" = 1 ] && echo "== orgd skipped (BENCH_BASELINES_ONLY=1)"
for engine in $BENCH_ENGINES; do
  [ "$BENCH_BASELINES_ONLY" = 1 ] && break
  for size in $BENCH_SIZES; do
    suite="$engine-$size"
    if [ "$engine" = postgres ]; then
      PGOPTIONS="-c client_min_messages=warning" psql -q "$("$PG" url postgres)" -c "DROP DATABASE IF EXISTS orgd_$size" >/dev/null
      DBURL="$("$PG" url "orgd_$size")"
    else
      rm -f "$BENCH_OUT/data/orgd-$size.db"*
      DBURL="sqlite://$BENCH_OUT/data/orgd-$size.db"
    fi
    SEED="$BENCH_OUT/$suite-seed.json"
    echo "== $suite: orgd admin seed ${SIZE_ARGS[$size]} --callers $BENCH_CALLERS"
    t0="$(date +%s.%N)"
    # shellcheck disable=SC2086
    ORGD_DATABASE_URL="$DBURL" ORGD_LOG=warn "$ORGD" admin seed ${SIZE_ARGS[$size]} --callers "$BENCH_CALLERS" \
      >"$SEED" 2>"$BENCH_OUT/$suite-seed.log" || { tail -5 "$BENCH_OUT/$suite-seed.log" >&2; exit 1; }
    t1="$(date +%s.%N)"
    seed_secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')"
    meta "$suite.seed_secs" "$seed_secs"
    meta "$suite.memberships" "$(seed_field memberships)"
    echo "   seeded $(seed_field memberships) memberships in ${seed_secs}s"

    OWNER="$(seed_field owner.token)"; MEMBER="$(seed_field member.token)"
    OWNER_NAME="$(seed_field owner.username)"; PASSWORD="$(seed_field password)"
    ORGX="$(seed_field org_x.id)"; BIG="$(seed_field big_org.id)"
    IDS="$BENCH_OUT/$suite-big-org-members.txt"; seed_field big_org_members >"$IDS"
    FIRST_ID="$(head -1 "$IDS")"
    CALLERS="$BENCH_OUT/$suite-callers.txt"; callers_file "$CALLERS"
    LOGIN_BODY="{\"login\":\"$OWNER_NAME\",\"password\":\"$PASSWORD\"}"

    # The cache-off pass runs first, on the freshly seeded data: W2 must see the owner's 20
    # organizations, before W5 of the main pass adds more.
    if [ "$BENCH_CACHE_OFF" = 1 ] && [ -n "$READS" ]; then
      suite="$engine-$size-cacheoff"
      echo "== $suite: $READS with the read cache off"
      start_orgd "$suite" ORGD_CACHE_TTL_MS=0
      for wl in $READS; do run_workload "$wl"; done
      stop_orgd "$suite"
      suite="$engine-$size"
    fi
    echo "== $suite: $BENCH_WORKLOADS (read cache $MAIN_CACHE)"
    start_orgd "$suite"
    for wl in $BENCH_WORKLOADS; do run_workload "$wl"; done
    stop_orgd "$suite"
  done
done
cleanup

# --- report ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$BENCH_REPORT")"
python3 "$HERE/report.py" "$BENCH_OUT" >"$BENCH_OUT/results.md"
cp "$BENCH_OUT/results.md" "$BENCH_REPORT"
echo
cat "$BENCH_OUT/results.md"
echo
echo "table -> $BENCH_REPORT; raw outputs -> $BENCH_OUT"
if awk -F'\t' 'NR > 1 && ($6 != "0" || $7 != "0") {bad = 1} END {exit !bad}' "$RESULTS"; then
  echo "some runs FAILED (non-2xx responses or socket errors): see the table" >&2
  exit 3
fi
