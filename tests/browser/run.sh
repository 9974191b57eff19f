#!/usr/bin/env bash
# The Juzi sidebar in a real browser. Installs what it needs when missing (Debian's chromium,
# playwright-core from package-lock.json), builds and starts the simulator and the gateway
# (two Juzi channels on the simulator, one with auto_send, and a fixed demo caller), runs
# sidebar.test.mjs, and stops both; then starts a gateway in sandbox mode (its own in-process
# simulator and channels) and runs sandbox.test.mjs against its simulator pages and
# console.test.mjs against its admin console (/console/) and ack.test.mjs against the
# acknowledge link's page (/ack/{token}).
# Leaves screenshots in tests/browser/artifacts/ (sidebar.png, sandbox-recipients.png,
# sandbox-juzi-chat.png, console-*.png, ack-*.png). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
ROOT=$(cd ../.. && pwd)

if [ ! -x /usr/bin/chromium ]; then
  echo "tests/browser: installing chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The console's zh labels need a CJK font to be drawn in the screenshots.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "tests/browser: installing a CJK font" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null || true
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi

BIN=$(cd "$ROOT" && cargo build --quiet --bin notify-gateway --message-format=json \
  | grep -o '"executable":"[^"]*notify-gateway"' | tail -n1 | cut -d'"' -f4)
[ -x "$BIN" ] || { echo "tests/browser: notify-gateway was not built" >&2; exit 1; }

WORK=$(mktemp -d)
GW_PID=""
SIM_PID=""
SANDBOX_PID=""
cleanup() {
  for pid in $GW_PID $SIM_PID $SANDBOX_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits until the gateway started as PID has written every PATTERN to LOG (its start-up block
# names its addresses; a log line is the only event a process boundary offers); stops the run
# with the log when the gateway exits or is not there within 30 s.
await_start() {
  local log=$1 pid=$2 p
  shift 2
  for _ in $(seq 1 150); do
    local all=1
    for p in "$@"; do grep -q "$p" "$log" || all=0; done
    [ "$all" = 1 ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "tests/browser: the gateway exited ($log)" >&2; exit 1; }
    sleep 0.2
  done
  cat "$log" >&2
  echo "tests/browser: the gateway did not start ($log)" >&2
  exit 1
}

# The http:// address that follows PREFIX in LOG.
address_in() { grep -o "$2http://[0-9.:]*" "$1" | head -n1 | sed "s/$2//"; }

# Runs one test file with the given VAR=value settings (`run_test LOG VAR=… node FILE`); on
# failure shows the tail of the gateway's LOG and keeps the failing status for the end.
run_test() {
  local log=$1 s=0
  shift
  env "$@" || s=$?
  if [ "$s" -ne 0 ]; then
    echo "--- $log ---" >&2
    tail -n 50 "$log" >&2
    status=$s
  fi
}

# The simulator plays Juzi and WeCom. The channels are configured explicitly (not the sandbox's)
# so that a second Juzi channel can send without a click (auto_send).
SIM_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SIM="http://127.0.0.1:$SIM_PORT"
"$BIN" simulate --listen "127.0.0.1:$SIM_PORT" >"$WORK/simulator.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 150); do
  curl -fsS "$SIM/_sim/calls" >/dev/null 2>&1 && break
  kill -0 "$SIM_PID" 2>/dev/null || { cat "$WORK/simulator.log" >&2; echo "tests/browser: the simulator exited" >&2; exit 1; }
  sleep 0.2
done

DEMO_SECRET="browser-test-demo-secret"
cat >"$WORK/config.toml" <<EOF
[server]
listen = "127.0.0.1:0"
session_secret = "browser-test-session-secret-32-bytes-long"

[database]
url = "sqlite://$WORK/notify.db"

[sandbox]
enabled = false

[channels.wecom]
kind = "wecom_app"
base_url = "$SIM"
corp_id = "sandbox-corp"
corp_secret = "sandbox-secret"
agent_id = 1000002

[channels.juzi]
kind = "juzi"
base_url = "$SIM"
jssdk_channel = "wecom"

[channels.juzi-auto]
kind = "juzi"
base_url = "$SIM"
auto_send = true

[log]
level = "warn"

[[auth.clients]]
name = "demo"
access_key = "demo"
secret_key = "$DEMO_SECRET"
tenant = "default"
scopes = ["send", "recall", "read", "admin"]
EOF

"$BIN" serve --config "$WORK/config.toml" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
await_start "$WORK/gateway.log" "$GW_PID" "Juzi sidebar:"
GATEWAY=$(address_in "$WORK/gateway.log" "listening on ")

mkdir -p "$HERE/artifacts"
status=0
run_test "$WORK/gateway.log" GATEWAY="$GATEWAY" DEMO_SECRET="$DEMO_SECRET" ARTIFACTS="$HERE/artifacts" \
  node sidebar.test.mjs

# The sandbox: no channels configured, so the gateway points its five sandbox channels at the
# simulator it starts in-process; the demo caller is fixed so that the test can send.
cat >"$WORK/sandbox.toml" <<EOF
[server]
listen = "127.0.0.1:0"
session_secret = "browser-test-sandbox-session-secret"

[database]
url = "sqlite://$WORK/sandbox.db"

[sandbox]
enabled = true

[log]
level = "warn"

[[auth.clients]]
name = "demo"
access_key = "demo"
secret_key = "$DEMO_SECRET"
tenant = "default"
scopes = ["send", "recall", "read", "admin"]
EOF

"$BIN" serve --config "$WORK/sandbox.toml" >"$WORK/sandbox.log" 2>&1 &
SANDBOX_PID=$!
await_start "$WORK/sandbox.log" "$SANDBOX_PID" "sandbox simulator:" "Juzi sidebar:"
SANDBOX_GATEWAY=$(address_in "$WORK/sandbox.log" "listening on ")
SANDBOX_SIM=$(address_in "$WORK/sandbox.log" "sandbox simulator: ")
run_test "$WORK/sandbox.log" GATEWAY="$SANDBOX_GATEWAY" SIMULATOR="$SANDBOX_SIM" \
  DEMO_SECRET="$DEMO_SECRET" ARTIFACTS="$HERE/artifacts" node sandbox.test.mjs
run_test "$WORK/sandbox.log" GATEWAY="$SANDBOX_GATEWAY" DEMO_SECRET="$DEMO_SECRET" \
  ARTIFACTS="$HERE/artifacts" node console.test.mjs
run_test "$WORK/sandbox.log" GATEWAY="$SANDBOX_GATEWAY" DEMO_SECRET="$DEMO_SECRET" \
  ARTIFACTS="$HERE/artifacts" node ack.test.mjs
exit "$status"
