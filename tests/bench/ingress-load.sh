#!/usr/bin/env bash
# Ingress measured from outside: the real `notify-gateway serve` (release build, its dispatcher
# running) driven by wrk over loopback with a bearer token, one message to a `log` channel per
# request, on Postgres (a fresh database, dropped at exit) and SQLite (a temp file), at 1, 16, 64
# and 256 connections. Prints a Markdown table: accepted/s, p50/p99/p99.9, the server's CPU per
# 1,000 accepted messages (during the run, and including the dispatcher's drain after it), its
# RSS, and the load average before/after each level. See BENCHMARKS.md.
#
#   tests/bench/ingress-load.sh [--quick] [--backends postgres,sqlite] [--levels 1,16,64,256]
#                               [--duration SECONDS] [--perf postgres:64]
#
# --quick       5 s per level instead of 20 s.
# --perf B:N    also record a CPU profile of the server and its Postgres backends (perf, call
#               graphs) during level N on backend B, and write docs/perf/ingress-B-N.{folded,svg}
#               (needs inferno or the FlameGraph scripts; see docs/perf/README.md).
# --perf B:N:drain  the same, but in the seconds after wrk stops, while the dispatcher drains
#               what the level queued: docs/perf/ingress-B-N-drain.{folded,svg}.
#
# Environment: NOTIFY_BENCH_PG (default postgres://postgres@127.0.0.1:5432/postgres: the server
# the fresh database is created on), BENCH_BIN (use this binary instead of building one).
# Installs wrk (and perf for --perf) with apt-get when missing. Loopback only; everything it
# makes (database, temp dir, server) is removed at exit, also on failure or Ctrl-C.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
ROOT=$BENCH_ROOT
DURATION=20
BACKENDS=postgres,sqlite
LEVELS=1,16,64,256
PERF=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DURATION=5 ;;
    --backends) BACKENDS=$2; shift ;;
    --levels) LEVELS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --perf) PERF=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
PERF_HZ=499
PERF_SECONDS=$(( DURATION > 10 ? 8 : DURATION - 2 ))
SECRET="bench-secret-$(date +%s)-$$"

need_apt wrk wrk
need_apt curl curl
if [[ ",$BACKENDS," == *",postgres,"* ]]; then need_apt postgresql-client psql; fi
if [ -n "$PERF" ]; then need_apt linux-perf perf; fi

BIN=$(bench_bin)

WORK=$(mktemp -d /tmp/notify-ingress-load.XXXXXX)
SERVER_PID=""
cleanup() {
  stop_pid "$SERVER_PID"
  SERVER_PID=""
  # The server's warnings (a deadlock, a failed commit) say more than its figures.
  local log
  for log in "$WORK"/server-*.log; do
    [ -f "$log" ] || continue
    if grep -q ' WARN \| ERROR ' "$log"; then
      echo "server warnings in $(basename "$log"): $(grep -c ' WARN \| ERROR ' "$log"), the first:" >&2
      grep ' WARN \| ERROR ' "$log" | head -3 | cut -c1-240 >&2
    fi
    rm -f "$log"
  done
  drop_db
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# The Postgres backends serving the bench database (the server's pool and its listener); the
# cluster's shared processes (WAL writer, checkpointer) are not counted.
pg_pids() {
  [ -n "$DB_NAME" ] || return 0
  psql "$PG_ADMIN" -AtXc "SELECT pid FROM pg_stat_activity WHERE datname = '$DB_NAME'" 2>/dev/null
}
# pg_ticks: "pid:ticks …" of those backends now; pg_ticks START: the ticks they used since START
# (a backend missing from START counts from zero). Empty on SQLite.
pg_ticks() {
  [ -n "$DB_NAME" ] || return 0
  local pid line total=0 t
  if [ $# -eq 0 ]; then
    for pid in $(pg_pids); do [ -r "/proc/$pid/stat" ] && echo -n "$pid:$(cpu_ticks "$pid") "; done
    return 0
  fi
  for pid in $(pg_pids); do
    [ -r "/proc/$pid/stat" ] || continue
    t=$(cpu_ticks "$pid")
    for line in $1; do [ "${line%%:*}" = "$pid" ] && t=$((t - ${line#*:})); done
    total=$((total + t))
  done
  echo "$total"
}

start_server() { # backend
  local backend=$1 port url
  port=$(free_port)
  if [ "$backend" = postgres ]; then
    create_db notify_bench
    url=$DB_URL
  else
    url="sqlite://$WORK/bench.db"
    rm -f "$WORK"/bench.db*
  fi
  cat >"$WORK/gateway.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[log]
# The log channel writes each delivery at info; warn keeps the terminal out of the figures.
level = "warn"
[sandbox]
enabled = false
[database]
url = "$url"
[[auth.clients]]
name = "bench"
access_key = "AK_BENCH"
secret_key = "$SECRET"
scopes = ["send", "read"]
[channels.log]
kind = "log"
TOML
  "$BIN" serve --config "$WORK/gateway.toml" >"$WORK/server-$backend.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  wait_ready "$BASE/readyz" "$SERVER_PID" "$WORK/server-$backend.log" || exit 1
}

run_level() { # backend connections
  local backend=$1 conns=$2 threads=2 t0 t1 t2 l0 l1 out res perf_pid="" pg0 pg1 pids
  [ "$conns" -lt 2 ] && threads=1
  wait_idle "$SERVER_PID"
  l0=$(load1)
  t0=$(cpu_ticks "$SERVER_PID")
  pg0=$(pg_ticks)
  if [ "$PERF" = "$backend:$conns" ]; then
    (sleep 2; record_profile) >"$WORK/perf.log" 2>&1 &
    perf_pid=$!
  fi
  out=$(BENCH_SECRET=$SECRET wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s --latency \
    -s "$ROOT/tests/bench/ingress-bearer.lua" "$BASE/v1/messages" 2>"$WORK/wrk.err")
  t1=$(cpu_ticks "$SERVER_PID")
  pg1=$(pg_ticks "$pg0")
  if [ "$PERF" = "$backend:$conns:drain" ]; then
    record_profile >"$WORK/perf.log" 2>&1 &
    perf_pid=$!
  fi
  l1=$(load1)
  rss=$(rss_mb "$SERVER_PID")
  [ -n "$perf_pid" ] && wait "$perf_pid" || true
  wait_idle "$SERVER_PID"
  t2=$(cpu_ticks "$SERVER_PID")
  res=$(grep '^RESULT' <<<"$out" || true)
  if [ -z "$res" ]; then echo "wrk gave no result:" >&2; echo "$out" >&2; cat "$WORK/wrk.err" >&2; exit 1; fi
  [ -s "$WORK/wrk.err" ] && sed 's/^/  wrk: /' "$WORK/wrk.err" >&2
  # shellcheck disable=SC2086
  eval "$(sed 's/^RESULT //' <<<"$res")"
  awk -v b="$backend" -v c="$conns" -v a="$accepted" -v r="$refused" -v e="$errors" \
      -v d="$duration_us" -v p50="$p50_us" -v p99="$p99_us" -v p999="$p999_us" \
      -v t0="$t0" -v t1="$t1" -v t2="$t2" -v hz="$HZ" -v rss="$rss" -v l0="$l0" -v l1="$l1" \
      -v pg="$pg1" 'BEGIN {
    rate = a / (d / 1e6)
    cpu_run = a ? (t1 - t0) / hz * 1000 / (a / 1000) : 0
    cpu_all = a ? (t2 - t0) / hz * 1000 / (a / 1000) : 0
    cpu_pg = pg == "" ? "–" : sprintf("%.0f ms", a ? pg / hz * 1000 / (a / 1000) : 0)
    printf "| %s | %d | %.0f | %.2f ms | %.2f ms | %.2f ms | %.0f ms | %.0f ms | %s | %d | %d | %s → %s |\n",
      b, c, rate, p50 / 1000, p99 / 1000, p999 / 1000, cpu_run, cpu_all, cpu_pg, rss, r + e, l0, l1
  }'
  if [ -n "$perf_pid" ]; then
    [[ "$PERF" == *:drain ]] && DRAIN_SUFFIX=-drain
    make_flamegraph "$backend" "$conns" "$(awk -v a="$accepted" -v d="$duration_us" 'BEGIN { print a / (d / 1e6) }')"
  fi
}

# Samples the server and its Postgres backends for PERF_SECONDS. DWARF call graphs: the release
# build keeps no frame pointers.
record_profile() {
  local pids=$SERVER_PID
  [ -n "$DB_NAME" ] && pids="$pids,$(pg_pids | paste -sd,)"
  perf record -e cpu-clock -F "$PERF_HZ" --call-graph dwarf,16384 -p "${pids%,}" \
    -o "$WORK/perf.data" -- sleep "$PERF_SECONDS"
}

make_flamegraph() { # backend connections accepted/s
  local name="ingress-$1-$2${DRAIN_SUFFIX:-}" out="$ROOT/docs/perf"
  mkdir -p "$out"
  if ! [ -s "$WORK/perf.data" ]; then
    echo "perf recorded nothing:" >&2; cat "$WORK/perf.log" >&2; return 0
  fi
  perf script -i "$WORK/perf.data" 2>/dev/null >"$WORK/perf.txt"
  if command -v inferno-collapse-perf >/dev/null 2>&1; then
    inferno-collapse-perf <"$WORK/perf.txt" >"$out/$name.folded"
    inferno-flamegraph --minwidth 0.5 --title "notify-gateway serve, $1, $2 connections" \
      <"$out/$name.folded" >"$out/$name.svg"
  elif command -v stackcollapse-perf.pl >/dev/null 2>&1; then
    stackcollapse-perf.pl <"$WORK/perf.txt" >"$out/$name.folded"
    flamegraph.pl --title "notify-gateway serve, $1, $2 connections" <"$out/$name.folded" >"$out/$name.svg"
  else
    echo "no flamegraph tool (cargo install inferno): kept perf script output only" >&2
    gzip -c "$WORK/perf.txt" >"$out/$name.perf.txt.gz"
    return 0
  fi
  gzip -9 -f "$out/$name.folded"
  echo "profile: docs/perf/$name.svg, docs/perf/$name.folded.gz" >&2
  python3 "$ROOT/tests/bench/profile-table.py" "$out/$name.folded.gz" "$PERF_HZ" "$3" "$PERF_SECONDS"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), ${DURATION}s per level, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| backend | connections | accepted/s | p50 | p99 | p99.9 | server CPU / 1,000 msgs (run) | (run + drain) | Postgres backends' CPU / 1,000 (run) | RSS MB | non-202 + errors | load 1 min before → after |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
IFS=, read -ra backend_list <<<"$BACKENDS"
IFS=, read -ra level_list <<<"$LEVELS"
for backend in "${backend_list[@]}"; do
  start_server "$backend"
  for conns in "${level_list[@]}"; do
    run_level "$backend" "$conns"
  done
  cleanup
done
