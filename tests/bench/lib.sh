# Shared by the scripts of tests/bench: tools, the binary, process figures. Sourced, not run.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HZ=$(getconf CLK_TCK)

# need_apt PACKAGE COMMAND: installs the Debian package when COMMAND is missing.
need_apt() {
  command -v "$2" >/dev/null 2>&1 && return 0
  echo "installing $1 (apt-get)…" >&2
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >&2; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >&2
}

# bench_bin: prints the path of the release binary, building it unless BENCH_BIN names one.
# Line tables only: the same code as a plain release build, but perf can name the frames.
bench_bin() {
  if [ -n "${BENCH_BIN:-}" ]; then echo "$BENCH_BIN"; return 0; fi
  (cd "$BENCH_ROOT" && CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --locked --bin notify-gateway >&2)
  echo "$BENCH_ROOT/target/release/notify-gateway"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# cpu_ticks PID: utime + stime of the process (all its threads), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# rss_mb PID: resident set size in MB.
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# wait_idle PID: until the process has used under 3 % of a core for two seconds in a row (at
# most 90 s), e.g. until the dispatcher has drained what a run queued.
wait_idle() {
  local quiet=0 i a b
  for i in $(seq 1 90); do
    a=$(cpu_ticks "$1"); sleep 1; b=$(cpu_ticks "$1")
    if [ $((b - a)) -le $((HZ * 3 / 100)) ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ $quiet -ge 2 ] && return 0
  done
  echo "warning: process $1 still busy after 90 s" >&2
}

# wait_ready URL PID LOG: until URL answers 2xx; shows LOG and fails if PID dies or 30 s pass.
wait_ready() {
  for _ in $(seq 1 300); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "not ready: $1; output:" >&2
  cat "$3" >&2
  return 1
}

# stop_pid PID: ends a process this script started and waits for it.
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

# The Postgres server the benchmark databases are made on (NOTIFY_BENCH_PG).
PG_ADMIN=${NOTIFY_BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=""

# create_db PREFIX: creates a fresh database named PREFIX_PID_TIME on PG_ADMIN's server, keeps
# its name in DB_NAME (for drop_db) and sets DB_URL to it.
create_db() {
  DB_NAME="$1_$$_$(date +%s)"
  psql "$PG_ADMIN" -qXc "CREATE DATABASE $DB_NAME" >/dev/null
  DB_URL="${PG_ADMIN%/*}/$DB_NAME"
}

# drop_db: drops the database create_db made, if any (for the scripts' exit traps).
drop_db() {
  if [ -n "$DB_NAME" ]; then
    psql "$PG_ADMIN" -qXc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    DB_NAME=""
  fi
}
