#!/usr/bin/env bash
# loginstorm's XMPP cycle beside the XMPP floor (benches/xmpp_floor.rs: a bare client with its
# own WebSocket framing, nothing of loginstorm's), each against a fresh server pinned to CPU 0
# — Prosody 0.12 and ejabberd 23.01, started as tests/it/real_servers.rs starts them (loopback,
# a temporary directory) — the client pinned to CPU 1: open model, a fresh connection per
# arrival, a resource per instance, USERS accounts registered. Per server, rate and pair: CPU
# per cycle of each and the ratio, login → ready p50/p99 of each (loginstorm's ready_service),
# the cycles done and the errors. Not a test: figures go to docs/performance.md. Needs root
# (ejabberdctl runs as the ejabberd user).
#
#   bash benches/xmpp.sh                        # SERVERS="prosody ejabberd" RATES="100 200 400" SECS=10 REPEAT=2
#   SERVERS=ejabberd RATES=200 SECS=5 REPEAT=1 bash benches/xmpp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm --example xmpp_floor
BIN=${LOGINSTORM:-$PWD/target/dist/loginstorm}
FLOOR=$PWD/target/dist/examples/xmpp_floor
SERVERS=${SERVERS:-"prosody ejabberd"}
RATES=${RATES:-"100 200 400"}
SECS=${SECS:-10}
REPEAT=${REPEAT:-2}
USERS=${USERS:-1000}
WORK=$(mktemp -d)
chmod 755 "$WORK"
SPID=""
trap 'stop_server; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

{ echo "userID,password"; for i in $(seq 0 $((USERS - 1))); do echo "bx-$i,pw-$i"; done; } >"$WORK/users.csv"

stop_server() {
  if [ -n "$SPID" ]; then
    pkill -KILL -P "$SPID" 2>/dev/null || true
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=""
  fi
}

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server did not listen on $1" >&2
  exit 1
}

start_prosody() {
  local d="$WORK/prosody" port
  rm -rf "$d" && mkdir -p "$d/data/localhost/accounts"
  port=$(free_port)
  python3 - "$d/data/localhost/accounts" "$USERS" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    name = "bx%2d" + str(i)
    open(f"{d}/{name}.dat", "w").write('return {\n\t["password"] = "pw-%d";\n};\n' % i)
PY
  cat >"$d/prosody.cfg.lua" <<CFG
daemonize = false
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
log = { error = "$d/prosody.log" }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "websocket" }
modules_disabled = { "s2s" }
authentication = "internal_plain"
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
consider_websocket_secure = true
interfaces = { "127.0.0.1" }
c2s_ports = { }
s2s_ports = { }
http_ports = { $port }
http_interfaces = { "127.0.0.1" }
https_ports = { }
VirtualHost "localhost"
CFG
  taskset -c 0 prosody --config "$d/prosody.cfg.lua" >/dev/null 2>&1 &
  SPID=$!
  wait_port "$port"
  URL="ws://127.0.0.1:$port/xmpp-websocket"
}

start_ejabberd() {
  local d="$WORK/ejabberd" port dist
  rm -rf "$d" && mkdir -p "$d/spool" "$d/logs"
  port=$(free_port)
  dist=$(free_port)
  cat >"$d/ejabberd.yml" <<CFG
loglevel: warning
hosts:
  - localhost
listen:
  -
    port: $port
    ip: "127.0.0.1"
    backlog: 1024
    module: ejabberd_http
    request_handlers:
      /ws: ejabberd_http_ws
      /api: mod_http_api
auth_method: internal
auth_password_format: plain
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  c2s:
    allow: all
api_permissions:
  "loopback admin":
    from:
      - mod_http_api
    who:
      acl: loopback
    what:
      - register
shaper_rules:
  max_user_sessions: 10
modules:
  mod_http_api: {}
  mod_ping: {}
  mod_roster: {}
  mod_disco: {}
CFG
  printf 'ERL_DIST_PORT=%s\nINET_DIST_INTERFACE=127.0.0.1\nERLANG_NODE=bench%s@localhost\n' "$dist" "$port" >"$d/ejabberdctl.cfg"
  cp /etc/ejabberd/inetrc "$d/"
  chown -R ejabberd: "$d"
  HOME="$d" taskset -c 0 setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
    /usr/sbin/ejabberdctl --config-dir "$d" --config "$d/ejabberd.yml" --ctl-config "$d/ejabberdctl.cfg" \
    --spool "$d/spool" --logs "$d/logs" foreground >/dev/null 2>&1 &
  SPID=$!
  wait_port "$port"
  for i in $(seq 0 $((USERS - 1))); do
    printf '{"user":"bx-%s","host":"localhost","password":"pw-%s"}\n' "$i" "$i"
  done | python3 -c '
import sys, http.client
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for line in sys.stdin:
    c.request("POST", "/api/register", line.strip(), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit("register failed: %d" % r.status)
' "$port"
  URL="ws://127.0.0.1:$port/ws"
}

ls_run() {
  "start_$1"
  taskset -c 1 "$BIN" run benches/xmpp.toml --quiet --target "$URL" --out "$WORK/out" \
    --set target.credentials="$WORK/users.csv" --set accounts.count="$USERS" \
    --set load.stages="$2,1us;$2,${SECS}s" >"$WORK/run.out" 2>&1 || true
  stop_server
  python3 - "$(ls -td "$WORK"/out/*/ | head -1)" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
g = json.load(open(os.path.join(d, "run.json")))["generator"]
s = {r["metric"]: r for r in csv.DictReader(open(os.path.join(d, "summary.csv")))}
c = {r["counter"]: r["value"] for r in csv.DictReader(open(os.path.join(d, "counters.csv")))}
print(c["readies"], "%.1f" % g["cpu_us_per_cycle"], s["ready_service"]["p50_us"], s["ready_service"]["p99_us"], c["errors_total"])
PY
}

floor_run() {
  "start_$1"
  taskset -c 1 "$FLOOR" "$URL" localhost "$WORK/users.csv" "$2" "$SECS"
  stop_server
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $BIN ($("$BIN" --version)); prosody $(dpkg-query -W -f='${Version}' prosody 2>/dev/null || true); ejabberd $(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null || true)"
echo
printf '%-9s %-5s | %-50s | %-52s | %s\n' server rate "floor: ready cpu/cycle ready p50/p99 (err)" "loginstorm: ready cpu/cycle ready p50/p99 errors" "cpu ratio"
for server in $SERVERS; do
  for rate in $RATES; do
    for _ in $(seq "$REPEAT"); do
      f=$(floor_run "$server" "$rate")
      read -r lready lcpu lp50 lp99 lerr <<<"$(ls_run "$server" "$rate")"
      fcycles=$(sed -n 's/.*cycles=\([0-9]*\).*/\1/p' <<<"$f")
      fcpu=$(sed -n 's/.*cpu_us_per_cycle=\([0-9.]*\).*/\1/p' <<<"$f")
      fp50=$(sed -n 's/.*ready_p50_us=\([0-9]*\).*/\1/p' <<<"$f")
      fp99=$(sed -n 's/.*ready_p99_us=\([0-9]*\).*/\1/p' <<<"$f")
      ferr=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$f")
      printf '%-9s %-5s | %6s %7s us %7s / %7s us (err %s) | %6s %7s us %7s / %7s us  err %-5s | %s\n' \
        "$server" "$rate" "$fcycles" "$fcpu" "$fp50" "$fp99" "$ferr" "$lready" "$lcpu" "$lp50" "$lp99" "$lerr" \
        "$(awk -v a="$lcpu" -v b="$fcpu" 'BEGIN{printf "%.2fx", a/b}')"
    done
  done
done
