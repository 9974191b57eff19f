#!/usr/bin/env bash
# Alert sources measured from outside: the real `notify-gateway serve` (release build, sandbox
# on: its simulator stands in for WeLink and counts every upstream call) driven by wrk over
# loopback, on SQLite (a temp file) or Postgres (a fresh database, dropped at exit).
#
#  1. Hook ingestion: Alertmanager webhook v4 payloads of 1 and of 25 alerts to
#     POST /v1/hooks/prom, each a new alert group: notifications accepted per second, p50/p99.
#  2. Storm: firing messages of ONE alert key (dedup_window 30 s) as fast as wrk can post them
#     for DURATION seconds: messages accepted per second, p99 of the answer, and the upstream
#     calls (WeLink cards at the simulator) the storm caused — storm control allows the lead and,
#     after the window ends, one digest: at most 2 per target.
#
#   tests/bench/alert-storm.sh [--backend sqlite|postgres] [--duration SECONDS] [--connections N]
#
# Environment: NOTIFY_BENCH_PG (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_BIN
# (use this binary instead of building one). Installs wrk with apt-get when missing. Loopback
# only; everything it makes is removed at exit. See BENCHMARKS.md.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
ROOT=$BENCH_ROOT
BACKEND=sqlite
DURATION=10
CONNS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
SECRET="bench-secret-$(date +%s)-$$-0123456789abcdef"
TOKEN="bench-hook-token-$$"

need_apt wrk wrk
need_apt curl curl
[ "$BACKEND" = postgres ] && need_apt postgresql-client psql
BIN=$(bench_bin)

WORK=$(mktemp -d /tmp/notify-alert-storm.XXXXXX)
SERVER_PID=""
cleanup() {
  stop_pid "$SERVER_PID"
  drop_db
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
if [ "$BACKEND" = postgres ]; then
  create_db notify_alert_bench
  url=$DB_URL
else
  url="sqlite://$WORK/bench.db"
fi
cat >"$WORK/gateway.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[log]
level = "warn"
[sandbox]
enabled = true
[database]
url = "$url"
[[auth.clients]]
name = "bench"
access_key = "AK_BENCH"
secret_key = "$SECRET"
scopes = ["send", "read"]
[hooks.prom]
format = "alertmanager"
token = "$TOKEN"
tenant = "default"
targets = [{ channel = "welink", users = ["oncall"] }]
dedup_window = "30s"
TOML
"$BIN" serve --config "$WORK/gateway.toml" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$port"
wait_ready "$BASE/readyz" "$SERVER_PID" "$WORK/server.log" || exit 1
SIM=$(grep -o 'sandbox simulator: [^ ]*' "$WORK/server.log" | head -1 | sed 's/sandbox simulator: //; s#/_sim/.*##')
[ -n "$SIM" ] || { echo "no simulator address in the start-up block" >&2; cat "$WORK/server.log" >&2; exit 1; }

run_wrk() { # mode alerts token key → RESULT line
  BENCH_MODE=$1 BENCH_ALERTS=$2 BENCH_TOKEN=$3 BENCH_KEY=$4 \
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency \
    -s "$ROOT/tests/bench/alert-hook.lua" "$BASE" | grep '^RESULT'
}
row() { # label RESULT-line extra
  eval "$(sed 's/^RESULT //' <<<"$2")"
  # shellcheck disable=SC2154
  awk -v l="$1" -v a="$accepted" -v r="$refused" -v e="$errors" -v d="$duration_us" \
      -v p50="$p50_us" -v p99="$p99_us" -v x="$3" 'BEGIN {
    printf "| %s | %.0f | %.1f ms | %.1f ms | %d | %s |\n", l, a / (d / 1e6), p50 / 1000, p99 / 1000, r + e, x }'
}
welink_cards() { # WeLink send calls the simulator received whose body mentions every argument
  curl -fsS "$SIM/_sim/calls?path_prefix=/api/messages/" | python3 -c '
import json, sys
calls = json.load(sys.stdin)["calls"]
print(sum(1 for c in calls if all(n in json.dumps(c["body"], ensure_ascii=False) for n in sys.argv[1:])))' "$@"
}

echo "backend $BACKEND, $CONNS connections, ${DURATION} s per run, $(nproc) cores, load $(load1)"
echo
echo "| run | accepted/s | p50 | p99 | refused | upstream |"
echo "|---|---|---|---|---|---|"
KEY="storm-$$"
start=$(date +%s)
res=$(BENCH_MODE=storm BENCH_KEY=$KEY BENCH_TOKEN=$SECRET BENCH_ALERTS=1 \
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency \
  -s "$ROOT/tests/bench/alert-hook.lua" "$BASE" | grep '^RESULT')
during=$(welink_cards "$KEY")
# The window (30 s from the lead) ends; its digest goes out once. Polled for up to a minute.
digests=0
for _ in $(seq 1 90); do
  digests=$(welink_cards "$KEY" "more")
  [ "$digests" -ge 1 ] && [ $(( $(date +%s) - start )) -ge 35 ] && break
  sleep 1
done
total=$(welink_cards "$KEY")
row "storm, one key" "$res" "WeLink cards: $during during the storm, $total in all ($digests digest)"
for n in 1 25; do
  row "hook, $n alert(s) per notification" "$(run_wrk hook "$n" "$TOKEN" -)" "(one card per notification, paced by the lane)"
done
