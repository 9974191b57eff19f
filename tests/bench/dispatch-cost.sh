#!/usr/bin/env bash
# Delivery side: the dispatcher's own CPU per upstream call. The real `notify-gateway serve`
# (release) with 40 WeLink channels, each its own client_id and egress group, so each is one
# lane capped at 25 calls/s (per_minute = 1500, per_second = 25): 1,000 calls/s in all, against
# `notify-gateway simulate` in its own process (its IP cap raised, so only the gateway's lane
# limits pace the calls). The messages are queued first, all due at one instant a few seconds
# ahead (`not_before`), so the ingress' CPU is over before the measured window opens; then the
# server's CPU (utime + stime from /proc) is read from that instant until every delivery is sent.
#
#   tests/bench/dispatch-cost.sh [--quick] [--backend postgres|sqlite] [--lanes 40]
#                                [--per-lane 25] [--seconds 20]
#
# --quick: 5 s of sending instead of 20. Environment: NOTIFY_BENCH_PG, BENCH_BIN (as in
# ingress-load.sh). Loopback only; removes its database, temp dir and processes at exit.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
BACKEND=postgres
LANES=40
PER_LANE=25
SECONDS_OF_SENDING=20
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SECONDS_OF_SENDING=5 ;;
    --backend) BACKEND=$2; shift ;;
    --lanes) LANES=$2; shift ;;
    --per-lane) PER_LANE=$2; shift ;;
    --seconds) SECONDS_OF_SENDING=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
SECRET="bench-secret-$(date +%s)-$$"
need_apt curl curl
[ "$BACKEND" = postgres ] && need_apt postgresql-client psql
BIN=$(bench_bin)

WORK=$(mktemp -d /tmp/notify-dispatch-cost.XXXXXX)
SERVER_PID="" SIM_PID=""
cleanup() {
  stop_pid "$SERVER_PID"
  stop_pid "$SIM_PID"
  drop_db
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SIM_PORT=$(free_port)
"$BIN" simulate --listen "127.0.0.1:$SIM_PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
SIM="http://127.0.0.1:$SIM_PORT"
wait_ready "$SIM/_sim/caps" "$SIM_PID" "$WORK/sim.log"
# Every call comes from 127.0.0.1: WeLink's per-IP cap (3000 per 20 s) would pace all the lanes
# together. Per-client caps stay as documented; the gateway's lane limits stay under them.
curl -fsS -X POST -H 'content-type: application/json' -d '{"per_ip_20s": 100000000}' \
  "$SIM/_sim/caps" >/dev/null

if [ "$BACKEND" = postgres ]; then
  create_db notify_dispatch_bench
else
  DB_URL="sqlite://$WORK/bench.db"
fi
PORT=$(free_port)
{
  cat <<TOML
[server]
listen = "127.0.0.1:$PORT"
[log]
level = "warn"
[sandbox]
enabled = false
[database]
url = "$DB_URL"
[[auth.clients]]
name = "bench"
access_key = "AK_BENCH"
secret_key = "$SECRET"
scopes = ["send", "read"]
TOML
  for i in $(seq -w 1 "$LANES"); do
    cat <<TOML
[channels.wl$i]
kind = "welink"
base_url = "$SIM/api"
client_id = "bench-$i"
client_secret = "s"
owner = "Bench"
egress_group = "g$i"
limits = { per_second = $PER_LANE, per_minute = $((PER_LANE * 60)) }
TOML
  done
} >"$WORK/gateway.toml"
"$BIN" serve --config "$WORK/gateway.toml" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
wait_ready "$BASE/readyz" "$SERVER_PID" "$WORK/server.log"

# One message per call: PER_LANE x SECONDS per lane, due at one instant after ingress is done.
PER_CHANNEL=$((PER_LANE * SECONDS_OF_SENDING))
TOTAL=$((PER_CHANNEL * LANES))
# About a second per batch of 1,000 on a busy machine, and 5 s to spare.
LEAD=$((5 + TOTAL / 1000))
DUE=$(date -u -d "+$LEAD seconds" '+%Y-%m-%dT%H:%M:%SZ')
DUE_EPOCH=$(date -u -d "$DUE" +%s)
python3 - "$WORK" "$LANES" "$PER_CHANNEL" "$DUE" <<'PY'
import json, sys
work, lanes, per, due = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
msgs = [{"idempotency_key": f"k{l}-{n}", "title": f"Bench {l}-{n}", "content": "dispatch cost",
         "not_before": due,
         "targets": [{"channel": f"wl{l:0{len(str(lanes))}d}", "users": [f"u{n % 50}@welink"]}]}
        for n in range(per) for l in range(1, lanes + 1)]
for i in range(0, len(msgs), 1000):
    with open(f"{work}/batch-{i // 1000:05d}.json", "w") as f:
        json.dump({"messages": msgs[i:i + 1000]}, f)
PY
for f in "$WORK"/batch-*.json; do
  code=$(curl -sS -o "$WORK/answer.json" -w '%{http_code}' -H "Authorization: Bearer $SECRET" \
    -H 'content-type: application/json' --data-binary "@$f" "$BASE/v1/messages/batch")
  if [ "$code" != 200 ] || grep -q '"status":"\(conflict\|invalid\)' "$WORK/answer.json"; then
    echo "batch refused ($code):" >&2; head -c 600 "$WORK/answer.json" >&2; exit 1
  fi
done
NOW=$(date -u +%s)
if [ "$NOW" -ge "$DUE_EPOCH" ]; then
  echo "queueing took past the due time (LEAD in this script)" >&2; exit 1
fi
sleep $((DUE_EPOCH - NOW - 1))
l0=$(load1)
t0=$(cpu_ticks "$SERVER_PID")
sim0=$(cpu_ticks "$SIM_PID")
start_ns=$(date +%s%N)
# Until the simulator has accepted TOTAL calls, at most 4 x the planned time (+ 30 s).
# Card calls the simulator answered with code "0" (token calls are not counted as calls).
sim_calls() {
  curl -fsS "$SIM/_sim/stats" | python3 -c 'import json, sys
p = json.load(sys.stdin).get("by_path", {}).get("/api/messages/v2/card/common", {})
print(p.get("by_code", {}).get("0", 0))'
}
deadline=$(( $(date +%s) + 4 * SECONDS_OF_SENDING + 30 ))
while :; do
  n=$(sim_calls)
  [ "$n" -ge "$TOTAL" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "only $n of $TOTAL calls by the deadline" >&2; break; fi
  sleep 0.5
done
end_ns=$(date +%s%N)
t1=$(cpu_ticks "$SERVER_PID")
sim1=$(cpu_ticks "$SIM_PID")
l1=$(load1)
rss=$(rss_mb "$SERVER_PID")
awk -v n="$n" -v t0="$t0" -v t1="$t1" -v s0="$sim0" -v s1="$sim1" -v hz="$HZ" -v ns=$((end_ns - start_ns)) \
    -v lanes="$LANES" -v per="$PER_LANE" -v rss="$rss" -v l0="$l0" -v l1="$l1" -v b="$BACKEND" 'BEGIN {
  secs = ns / 1e9
  printf "# %s, %d lanes x %d calls/s, %s\n", b, lanes, per, strftime("%Y-%m-%d %H:%M UTC", systime(), 1)
  printf "| backend | lanes | calls | seconds | calls/s | gateway CPU µs / call | gateway CPU %% of a core | simulator CPU µs / call | RSS MB | load 1 min before → after |\n"
  printf "|---|---|---|---|---|---|---|---|---|---|\n"
  printf "| %s | %d | %d | %.1f | %.0f | %.0f | %.1f %% | %.0f | %d | %s → %s |\n", b, lanes, n, secs, n / secs,
    (t1 - t0) / hz * 1e6 / n, (t1 - t0) / hz / secs * 100, (s1 - s0) / hz * 1e6 / n, rss, l0, l1
}'
