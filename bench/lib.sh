# Shared settings and helpers for bench/run.sh (source it).
# Knobs (env): BENCH_DURATION (10s), BENCH_WARMUP (3s, 0 = none), BENCH_THREADS (2),
#   BENCH_CONNS (64), BENCH_TIMEOUT (5s), LOADGEN_CPUS (0), SERVER_CPUS (1),
#   BENCH_OUT (raw logs + results.tsv)
# Noise control (the machine may be shared):
#   QUIET_BUSY_MAX (10)  before each run, wait until whole-machine busy% < this ...
#   QUIET_MAX_WAIT (30)  ... for at most this many seconds
#   NOISE_MAX (5)        re-run a measurement when foreign processes used > this % of all CPUs
#   STEAL_MAX (10)       ... or when hypervisor steal was > this %
#   BENCH_RETRIES (1)    extra attempts for a noisy measurement
#   SERVER_PIDS          our server processes (their CPU is not counted as noise)
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BENCH_LUA_DIR="$BENCH_DIR/wrk"
export BENCH_THREADS="${BENCH_THREADS:-2}"
export BENCH_ROOT_PID="${BENCH_ROOT_PID:-$$}"
BENCH_DURATION="${BENCH_DURATION:-10s}"
BENCH_WARMUP="${BENCH_WARMUP:-3s}"
BENCH_CONNS="${BENCH_CONNS:-64}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-5s}"
LOADGEN_CPUS="${LOADGEN_CPUS:-0}"
SERVER_CPUS="${SERVER_CPUS:-1}"
QUIET_BUSY_MAX="${QUIET_BUSY_MAX:-10}"
QUIET_MAX_WAIT="${QUIET_MAX_WAIT:-30}"
NOISE_MAX="${NOISE_MAX:-5}"
STEAL_MAX="${STEAL_MAX:-10}"
BENCH_RETRIES="${BENCH_RETRIES:-1}"
BENCH_OUT="${BENCH_OUT:-/tmp/orgd-bench/manual}"
mkdir -p "$BENCH_OUT/raw"
RESULTS="$BENCH_OUT/results.tsv"
[ -f "$RESULTS" ] || printf 'suite\tworkload\treq_s\tp50_ms\tp99_ms\tnon2xx\tsock_err\trequests\tforeign_cpu_pct\tsteal_pct\tattempts\tcommand\n' >"$RESULTS"

our_pids() { echo "$BENCH_ROOT_PID ${SERVER_PIDS:-} $("$BENCH_DIR/pg-cluster.sh" pid 2>/dev/null)"; }
noise_snap() { # shellcheck disable=SC2046
  python3 "$BENCH_DIR/noise.py" snap $(our_pids); }

# noise_ok "FOREIGN STEAL": true when both are under their limits
noise_ok() { awk -v f="${1%% *}" -v s="${1##* }" -v m="$NOISE_MAX" -v sm="$STEAL_MAX" 'BEGIN{exit !(f <= m && s <= sm)}'; }

# wait_quiet: block (a while) until other work leaves the machine (mostly) idle
wait_quiet() {
  local waited=0 b
  while :; do
    b="$(python3 "$BENCH_DIR/noise.py" busy 2)"
    if awk -v b="$b" -v m="$QUIET_BUSY_MAX" 'BEGIN{exit !(b < m)}'; then return 0; fi
    if [ "$waited" -ge "$QUIET_MAX_WAIT" ]; then echo "   (machine still ${b}% busy after ${waited}s; measuring anyway)" >&2; return 0; fi
    [ "$waited" = 0 ] && echo "   (machine ${b}% busy by other work; waiting up to ${QUIET_MAX_WAIT}s)" >&2
    sleep 3; waited=$((waited + 5))
  done
}

# bench_get FIELD LINE: one key=value field of a BENCH_RESULT line
bench_get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# wrk_run SUITE WORKLOAD URL LUA  (extra BENCH_* env is passed through to the Lua script)
# Appends one row to results.tsv; a run with any non-2xx or socket error is kept as a row with
# those counts, and the report shows it as FAILED.
wrk_run() {
  local suite="$1" wl="$2" url="$3" lua="$4"
  local raw="$BENCH_OUT/raw/${suite}__${wl}.txt"
  local cmd=(taskset -c "$LOADGEN_CPUS" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$BENCH_DURATION" --timeout "$BENCH_TIMEOUT" --latency -s "$BENCH_LUA_DIR/$lua" "$url")
  local attempt=0 line="" noise="" a b n score best_score=""
  while [ "$attempt" -le "$BENCH_RETRIES" ]; do
    attempt=$((attempt + 1))
    wait_quiet
    if [ "$BENCH_WARMUP" != 0 ]; then
      BENCH_RUN_ID="warm$RANDOM$$" taskset -c "$LOADGEN_CPUS" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$BENCH_WARMUP" --timeout "$BENCH_TIMEOUT" -s "$BENCH_LUA_DIR/$lua" "$url" >"$raw.warmup" 2>&1 || true
    fi
    a="$(noise_snap)"
    BENCH_RUN_ID="run$RANDOM$$" "${cmd[@]}" >"$raw.attempt$attempt" 2>&1 || true
    b="$(noise_snap)"
    n="$(python3 "$BENCH_DIR/noise.py" diff "$a" "$b")"
    echo "foreign_cpu_pct/steal_pct: $n" >>"$raw.attempt$attempt"
    grep -q '^BENCH_RESULT' "$raw.attempt$attempt" || { cp "$raw.attempt$attempt" "$raw"; break; }
    # keep the cleanest attempt (least foreign CPU + steal)
    score="$(awk -v f="${n%% *}" -v s="${n##* }" 'BEGIN{printf "%.1f", f + s}')"
    if [ -z "$best_score" ] || awk -v x="$score" -v y="$best_score" 'BEGIN{exit !(x < y)}'; then
      best_score="$score"; noise="$n"; cp "$raw.attempt$attempt" "$raw"
    fi
    if noise_ok "$n"; then break; fi
    # a failed run is a failure, not noise: do not retry it away
    line="$(grep '^BENCH_RESULT' "$raw.attempt$attempt")"
    [ "$(bench_get non2xx "$line")" = 0 ] || break
    echo "   ($suite/$wl attempt $attempt: foreign processes used ${n%% *}% CPU, steal ${n##* }%)" >&2
  done
  echo "kept attempt with foreign_cpu_pct/steal_pct: $noise (of $attempt attempts)" >>"$raw"
  line="$(grep '^BENCH_RESULT' "$raw" || true)"
  if [ -z "$line" ]; then
    echo "!! $suite/$wl: no result, see $raw" >&2; tail -5 "$raw" >&2
    printf '%s\t%s\t\t\t\t%s\t%s\t0\t\t\t%s\t%s\n' "$suite" "$wl" "no-result" "no-result" "$attempt" "${cmd[*]}" >>"$RESULTS"
    return 0
  fi
  local sockerr=$(( $(bench_get sock_connect "$line") + $(bench_get sock_read "$line") + $(bench_get sock_write "$line") + $(bench_get sock_timeout "$line") ))
  local non2xx; non2xx="$(bench_get non2xx "$line")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$suite" "$wl" "$(bench_get rps "$line")" "$(bench_get p50_ms "$line")" "$(bench_get p99_ms "$line")" "$non2xx" "$sockerr" "$(bench_get requests "$line")" "${noise%% *}" "${noise##* }" "$attempt" "${cmd[*]}" >>"$RESULTS"
  local verdict=ok; { [ "$non2xx" != 0 ] || [ "$sockerr" != 0 ]; } && verdict=FAILED
  printf '%-16s %-30s %9s req/s  p50 %8s ms  p99 %8s ms  non2xx %s  sockerr %s  foreign %s%% steal %s%%  %s\n' "$suite" "$wl" "$(bench_get rps "$line")" "$(bench_get p50_ms "$line")" "$(bench_get p99_ms "$line")" "$non2xx" "$sockerr" "${noise%% *}" "${noise##* }" "$verdict"
  grep '^BENCH_FIRST_NON2XX' "$raw" >&2 || true
}

# pgbench_run SUITE NAME URL MODE CONNS: pgbench -S pinned to LOADGEN_CPUS, same duration and
# warm-up as wrk; p50/p99 from the per-transaction log. Appends one row to results.tsv.
pgbench_run() {
  local suite="$1" name="$2" url="$3" mode="$4" conns="$5"
  local secs="${BENCH_DURATION%s}" wsecs="${BENCH_WARMUP%s}"
  local d="$BENCH_OUT/raw/pgbench-$mode-c$conns"
  local cmd=(taskset -c "$LOADGEN_CPUS" pgbench -S -M "$mode" -c "$conns" -j "$BENCH_THREADS" -T "$secs" "$url")
  local attempt=0 best_score="" noise="" a b n score
  rm -rf "$d"
  while [ "$attempt" -le "$BENCH_RETRIES" ]; do
    attempt=$((attempt + 1)); rm -rf "$d.try"; mkdir -p "$d.try"
    wait_quiet
    [ "$wsecs" != 0 ] && { taskset -c "$LOADGEN_CPUS" pgbench -S -M "$mode" -c "$conns" -j "$BENCH_THREADS" -T "$wsecs" "$url" >/dev/null 2>&1 || true; }
    a="$(noise_snap)"
    taskset -c "$LOADGEN_CPUS" pgbench -S -M "$mode" -c "$conns" -j "$BENCH_THREADS" -T "$secs" -l --log-prefix="$d.try/txn" "$url" >"$d.try/out.txt" 2>&1 || true
    b="$(noise_snap)"
    n="$(python3 "$BENCH_DIR/noise.py" diff "$a" "$b")"
    score="$(awk -v f="${n%% *}" -v s="${n##* }" 'BEGIN{printf "%.1f", f + s}')"
    if [ -z "$best_score" ] || awk -v x="$score" -v y="$best_score" 'BEGIN{exit !(x < y)}'; then
      best_score="$score"; noise="$n"; rm -rf "$d"; mv "$d.try" "$d"
    fi
    noise_ok "$n" && break
    echo "   ($name attempt $attempt: foreign processes used ${n%% *}% CPU, steal ${n##* }%)" >&2
  done
  rm -rf "$d.try"
  local tps failed txns p50 p99
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$d/out.txt")"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$d/out.txt")"
  txns="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$d/out.txt")"
  read -r p50 p99 < <(cat "$d"/txn* 2>/dev/null | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.3f %.3f\n", a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000; else print "- -"}')
  rm -f "$d"/txn*
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$suite" "$name" "${tps:-}" "$p50" "$p99" "${failed:-0}" 0 "${txns:-0}" "${noise%% *}" "${noise##* }" "$attempt" "${cmd[*]}" >>"$RESULTS"
  printf '%-16s %-30s %9s tps    p50 %8s ms  p99 %8s ms  failed %s  foreign %s%% steal %s%%\n' "$suite" "$name" "${tps:-?}" "$p50" "$p99" "${failed:-0}" "${noise%% *}" "${noise##* }"
}

# wait_http URL [tries]: until URL answers 2xx (0.2 s apart)
wait_http() {
  for _ in $(seq 1 "${2:-150}"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "not ready: $1" >&2; return 1
}

# free_port: a TCP port nobody listens on right now
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# rss_kb PID FIELD: VmRSS or VmHWM of a process, in kB
rss_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null; }

# meta KEY VALUE: one fact for the report (seed times, memory, versions)
meta() { printf '%s\t%s\n' "$1" "$2" >>"$BENCH_OUT/meta.tsv"; }
