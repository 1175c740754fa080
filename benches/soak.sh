#!/usr/bin/env bash
# Soak: one reference server (`serve --workers 1 --limits Web=2`, default budgets) for MINUTES
# minutes (default 30) under mixed load with hostile clients beside it. Every minute:
#   - one loginstorm run against it, rotating: barrier kick storms (kicks every wave), an open
#     model of fresh connections with messages, and independent kept-connection cycles;
#   - hostile clients for ~50 s: 500 silent WebSockets (shed at the 30 s login deadline) and
#     40 holding 1,000 KiB of a 1 MiB message (the frame budget, then the deadline);
#   - an honest client (the floor: fresh connection, login → sdkStateReady → logout, 100/s for
#     5 s) measuring login → ready.
# One line per minute: server RSS, honest p50/p99 and errors, the run's verdict. At the end:
# whether the RSS plateaued (the last third within 10 % of the middle third's maximum), and
# every run's verdict. Server on CPU 0, clients on CPU 1 (SERVER_CPU, CLIENT_CPU). The
# binaries are copied first, so a rebuild during the soak does not change them. Figures go to
# docs/reliability.md.
#
#   bash benches/soak.sh              # 30 minutes
#   MINUTES=3 bash benches/soak.sh    # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm --example floor --example attack
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp target/dist/loginstorm target/dist/examples/floor target/dist/examples/attack "$WORK/"
BIN=$WORK/loginstorm
FLOOR=$WORK/floor
ATTACK=$WORK/attack
MINUTES=${MINUTES:-30}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

"$FLOOR" credentials 1000 'soak-honest-{n}' >"$WORK/creds.csv"

# The scenarios share the server's policy (Web=2, multi). Each lasts ~40 s.
cat >"$WORK/storm.toml" <<'EOF'
name = "soak-storm"
[policy]
limits = "Web=2"
[accounts]
count = 300
id_pattern = "soak-storm-{n}"
instances = "Web*3"
[cycle]
cycles = 0
hold = "100ms"
think = "uniform:50ms..150ms"
alignment = "barrier"
connection = "kept"
[load]
ramp = 1000.0
duration = "40s"
[timeouts]
kick = "1s"
EOF
cat >"$WORK/open.toml" <<'EOF'
name = "soak-open"
[policy]
limits = "Web=2"
[accounts]
count = 4000
id_pattern = "soak-open-{n}"
instances = "Web"
[cycle]
hold = "50ms"
message_rate = 20.0
end = "logout_close"
connection = "fresh"
[load]
model = "open"
stages = "300,5s;300,35s"
EOF
cat >"$WORK/kept.toml" <<'EOF'
name = "soak-kept"
[policy]
limits = "Web=2"
[accounts]
count = 500
id_pattern = "soak-kept-{n}"
instances = "Web*2"
[cycle]
cycles = 0
hold = "0..100ms"
think = "uniform:0..50ms"
message_rate = 5.0
connection = "kept"
[load]
ramp = 2000.0
duration = "40s"
EOF

start_server() {
  taskset -c "$SERVER_CPU" "$BIN" serve --listen 127.0.0.1:0 --workers 1 --limits Web=2 \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
    [ -n "$URL" ] && break
    sleep 0.05
  done
  [ -n "$URL" ] || { echo "server did not start" >&2; exit 1; }
  ADDR=${URL#ws://}; ADDR=${ADDR%/ws}
}
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }

start_server
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $("$BIN" --version); soak of $MINUTES minutes against $URL; server on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
printf '%-6s %-10s %-9s %-38s %s\n' minute "rss KiB" scenario "honest (100/s, 5 s)" "run verdict"
scenarios=(storm open kept)
verdicts=()
rss_series=()
began=$(date +%s)
for m in $(seq 1 "$MINUTES"); do
  minute_start=$(( began + (m - 1) * 60 ))
  sc=${scenarios[$(( (m - 1) % 3 ))]}
  taskset -c "$CLIENT_CPU" "$ATTACK" silent "$ADDR" 500 50 >/dev/null &
  a1=$!
  taskset -c "$CLIENT_CPU" "$ATTACK" partial "$ADDR" 40 1000 50 >/dev/null &
  a2=$!
  taskset -c "$CLIENT_CPU" "$BIN" run "$WORK/$sc.toml" --quiet --target "$URL" --out "$WORK/out" \
    >"$WORK/run.out" 2>&1 &
  runner=$!
  sleep 20
  honest=$(taskset -c "$CLIENT_CPU" "$FLOOR" open "$URL" "$WORK/creds.csv" 100 5 |
    sed -E 's/.*cycles=([0-9]+) errors=([0-9]+).*ready_p50_us=([0-9]+) ready_p99_us=([0-9]+).*/p50 \3us p99 \4us errors \2 of \1/')
  wait "$runner" || true
  verdict=$(sed -n 's/^verdict: //p' "$WORK/run.out" | cut -c1-60)
  verdicts+=("$sc: ${verdict:-no verdict (see below)}")
  [ -n "$verdict" ] || tail -5 "$WORK/run.out"
  wait "$a1" "$a2" || true
  r=$(rss)
  rss_series+=("$r")
  printf '%-6s %-10s %-9s %-38s %s\n' "$m" "$r" "$sc" "$honest" "${verdict:-?}"
  now=$(date +%s)
  [ "$now" -lt $(( minute_start + 60 )) ] && sleep $(( minute_start + 60 - now ))
done
n=${#rss_series[@]}
if [ "$n" -ge 3 ]; then
  third=$(( n / 3 ))
  mid_max=$(printf '%s\n' "${rss_series[@]:$third:$third}" | sort -n | tail -1)
  last_max=$(printf '%s\n' "${rss_series[@]:$(( n - third ))}" | sort -n | tail -1)
  awk -v a="$mid_max" -v b="$last_max" 'BEGIN{
    printf "rss plateau: middle third max %d KiB, last third max %d KiB (%+.1f%%): %s\n",
      a, b, (b-a)*100/a, (b <= a*1.10) ? "yes" : "NO — still growing" }'
fi
echo "server warnings: $(sort "$WORK/server.err" | cut -c1-80 | uniq -c | head -5 | tr '\n' ';')"
printf 'verdicts:\n'; printf '  %s\n' "${verdicts[@]}" | sort | uniq -c
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
