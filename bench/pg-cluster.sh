#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for bench/run.sh (PostgreSQL 15 binaries on PATH, or in
# /usr/lib/postgresql/15/bin).
#   pg-cluster.sh start    -> fresh initdb + pg_ctl start, prints the postmaster PID
#   pg-cluster.sh stop     -> pg_ctl stop -m fast
#   pg-cluster.sh destroy  -> stop (if running) and delete the cluster directory
#   pg-cluster.sh url DB   -> prints a connection URL (creates DB if missing)
#   pg-cluster.sh pid | status
# Env: PGB_DIR (/tmp/orgd-bench-pg), PGB_PORT (required for start/url), PGB_CPUS (taskset CPU
# list for the server, e.g. "1").
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` OS user (runuser).
# Durability is off (fsync, synchronous_commit, full_page_writes): the cluster is thrown away
# and the benchmark measures orgd, not the disk.
set -euo pipefail
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  [ -x "$d/pg_ctl" ] && { PATH="$d:$PATH"; break; }
done
export PATH
DIR="${PGB_DIR:-/tmp/orgd-bench-pg}"
PORT="${PGB_PORT:-}"
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  RUNAS=(runuser -u postgres --)
fi
case "${1:-}" in
  start)
    : "${PORT:?PGB_PORT not set}"
    if [ -f "$DIR/data/postmaster.pid" ] && "${RUNAS[@]}" pg_ctl -D "$DIR/data" status >/dev/null 2>&1; then
      echo "a cluster is already running in $DIR" >&2; exit 1
    fi
    rm -rf "$DIR"; mkdir -p "$DIR"
    [ "${#RUNAS[@]}" -gt 0 ] && chown postgres: "$DIR"
    "${RUNAS[@]}" initdb -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >"$DIR/initdb.log"
    cat >>"$DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 200
shared_buffers = 1GB
effective_cache_size = 4GB
work_mem = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    PIN=(); [ -n "${PGB_CPUS:-}" ] && PIN=(taskset -c "$PGB_CPUS")
    "${PIN[@]}" "${RUNAS[@]}" pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null
    head -1 "$DIR/data/postmaster.pid"
    ;;
  pid)
    head -1 "$DIR/data/postmaster.pid" 2>/dev/null || true
    ;;
  status)
    [ -d "$DIR/data" ] && "${RUNAS[@]}" pg_ctl -D "$DIR/data" status >/dev/null 2>&1
    ;;
  stop)
    "${RUNAS[@]}" pg_ctl -D "$DIR/data" -m fast -w stop >/dev/null && echo "stopped"
    ;;
  destroy)
    if [ -d "$DIR/data" ] && "${RUNAS[@]}" pg_ctl -D "$DIR/data" status >/dev/null 2>&1; then
      "${RUNAS[@]}" pg_ctl -D "$DIR/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$DIR"
    ;;
  url)
    : "${PORT:?PGB_PORT not set}"
    DB="${2:?db name}"
    psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
      || psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$DB\"" >/dev/null
    echo "postgres://postgres@127.0.0.1:$PORT/$DB"
    ;;
  *) echo "usage: $0 start|stop|destroy|pid|status|url DB" >&2; exit 2 ;;
esac
