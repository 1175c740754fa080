#!/usr/bin/env bash
# loginstorm's MQTT cycle beside the MQTT floor (benches/mqtt_floor.rs: a bare client with its own
# WebSocket framing, benches/bare_ws.rs, packets by hand, nothing of loginstorm's), each against a fresh Mosquitto
# pinned to CPU 0, the client pinned to CPU 1: open model, a fresh connection per arrival —
# connect → CONNECT → CONNACK → DISCONNECT → close — one ClientId per instance. Per rate, per
# pair: CPU per cycle of each and the ratio, CONNACK p50/p99 of each (loginstorm's
# login_service), and loginstorm's errors. Not a test: figures go to docs/performance.md.
#
#   bash benches/mqtt.sh                       # RATES="200 500 1000" SECS=10 REPEAT=3
#   RATES=500 SECS=5 REPEAT=1 bash benches/mqtt.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm --example mqtt_floor
BIN=${LOGINSTORM:-$PWD/target/dist/loginstorm}
FLOOR=$PWD/target/dist/examples/mqtt_floor
RATES=${RATES:-"200 500 1000"}
SECS=${SECS:-10}
REPEAT=${REPEAT:-3}
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
WORK=$(mktemp -d)
MPID=""
trap 'stop_broker; rm -rf "$WORK"' EXIT

# A fresh broker on CPU 0, loopback only (the WebSocket listener in its interface form). Each
# run starts and stops its own, inside the subshell that captures the run's figures.
stop_broker() {
  if [ -n "$MPID" ]; then
    kill "$MPID" 2>/dev/null || true
    wait "$MPID" 2>/dev/null || true
    MPID=""
  fi
}
start_broker() {
  stop_broker
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  TCP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'per_listener_settings false\nallow_anonymous true\npersistence false\nmax_connections -1\nlistener %s 127.0.0.1\nlistener %s lo\nprotocol websockets\n' \
    "$TCP" "$PORT" >"$WORK/m.conf"
  taskset -c 0 "$MOSQ" -c "$WORK/m.conf" >"$WORK/m.log" 2>&1 &
  MPID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
  done
  URL="ws://127.0.0.1:$PORT/mqtt"
}

ls_run() {
  start_broker
  taskset -c 1 "$BIN" run benches/mqtt.toml --quiet --target "$URL" --out "$WORK/out" \
    --set load.stages="$1,1us;$1,${SECS}s" --set accounts.count="$(awk -v r="$1" -v s="$SECS" 'BEGIN{print int(r*s)+100}')" \
    >"$WORK/run.out" 2>&1 || true
  stop_broker
  python3 - "$(ls -td "$WORK"/out/*/ | head -1)" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
g = json.load(open(os.path.join(d, "run.json")))["generator"]
s = {r["metric"]: r for r in csv.DictReader(open(os.path.join(d, "summary.csv")))}
c = {r["counter"]: r["value"] for r in csv.DictReader(open(os.path.join(d, "counters.csv")))}
print(c["logins_ok"], "%.1f" % g["cpu_us_per_cycle"], s["login_service"]["p50_us"], s["login_service"]["p99_us"], c["errors_total"])
PY
}

floor_run() {
  start_broker
  taskset -c 1 "$FLOOR" "$URL" "$1" "$SECS"
  stop_broker
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $BIN ($("$BIN" --version)); broker: $("$MOSQ" -h 2>/dev/null | head -1)"
echo
printf '%-6s | %-44s | %-44s | %s\n' rate "floor: cycles cpu/cycle connack p50/p99" "loginstorm: logins cpu/cycle login p50/p99 errors" "cpu ratio"
for rate in $RATES; do
  for _ in $(seq "$REPEAT"); do
    f=$(floor_run "$rate")
    read -r lcycles lcpu lp50 lp99 lerr <<<"$(ls_run "$rate")"
    fcycles=$(sed -n 's/.*cycles=\([0-9]*\).*/\1/p' <<<"$f")
    fcpu=$(sed -n 's/.*cpu_us_per_cycle=\([0-9.]*\).*/\1/p' <<<"$f")
    fp50=$(sed -n 's/.*connack_p50_us=\([0-9]*\).*/\1/p' <<<"$f")
    fp99=$(sed -n 's/.*connack_p99_us=\([0-9]*\).*/\1/p' <<<"$f")
    ferr=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$f")
    printf '%-6s | %6s %7s us %6s / %6s us (err %s) | %6s %7s us %6s / %6s us  err %-5s | %s\n' \
      "$rate" "$fcycles" "$fcpu" "$fp50" "$fp99" "$ferr" "$lcycles" "$lcpu" "$lp50" "$lp99" "$lerr" \
      "$(awk -v a="$lcpu" -v b="$fcpu" 'BEGIN{printf "%.2fx", a/b}')"
  done
done
