#!/usr/bin/env bash
# The reference server under attack (issue 12): for each case, hostile clients (benches/attack.rs)
# hold their connections while an honest client (the floor, benches/floor.rs: fresh connection,
# login → sdkStateReady → logout, 200 cycles/s for 3 s) measures login → ready; then again once
# the server has shed the attackers. Prints the attackers' fates (close codes / statuses), the
# honest client's p50/p99 and errors during and after, and the server's RSS (before, peak, after).
#
#   silent   5,000 upgraded WebSockets that never send      → shed by the login deadline (1008)
#   partial  300 WebSockets holding 1,000 KiB of a 1 MiB message → frame budget (1009)
#   fill     5,000 plain TCP sockets against a server whose open-file limit is 4,096
#            → past --max-connections (fd limit − 256) 503, the rest shed by the request timeout
#   fdlimit  the same with --max-connections above the fd limit, so accept itself fails (EMFILE):
#            queued connections are closed, warnings are rate-limited, the open ones kept
#
# The server runs with --login-timeout 10s (default 30 s) so the script takes ~2 minutes; the
# other budgets are the defaults. Server pinned to CPU 0, clients to CPU 1.
#
#   bash benches/attack.sh               # all three
#   CASES="partial" bash benches/attack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm --example floor --example attack
BIN=$PWD/target/dist/loginstorm
FLOOR=$PWD/target/dist/examples/floor
ATTACK=$PWD/target/dist/examples/attack
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
CASES=${CASES:-silent partial fill fdlimit}
LOGIN_TIMEOUT=10

"$FLOOR" credentials 2000 'honest-{n}' >"$WORK/creds.csv"

# start NOFILE [SERVE FLAGS…]: the server with that open-file limit ("-": as it is), pinned to CPU 0.
start() {
  local limit=$1; shift
  bash -c "[ '$limit' = - ] || ulimit -n $limit; exec taskset -c 0 '$BIN' serve --listen 127.0.0.1:0 --workers 1 --login-timeout ${LOGIN_TIMEOUT}s $*" \
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
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
peak() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status"; }
honest() {
  taskset -c 1 "$FLOOR" open "$URL" "$WORK/creds.csv" 200 3 |
    sed -E 's/.*cycles=([0-9]+) errors=([0-9]+).*ready_p50_us=([0-9]+) ready_p99_us=([0-9]+).*/cycles \1 errors \2 p50 \3us p99 \4us/'
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $BIN ($("$BIN" --version))"
for case in $CASES; do
  echo
  case $case in
    silent) start -; args=(silent "$ADDR" 5000 60); what="5,000 silent upgraded WebSockets" ;;
    partial) start -; args=(partial "$ADDR" 300 1000 60); what="300 connections holding 1,000 KiB of a 1 MiB message" ;;
    fill) start 4096; args=(fill "$ADDR" 5000 60); what="5,000 silent TCP sockets, server open-file limit 4,096" ;;
    fdlimit) start 4096 --max-connections 100000; args=(fill "$ADDR" 5000 60); what="5,000 silent TCP sockets, open-file limit 4,096 below --max-connections" ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
  esac
  echo "== $case: $what =="
  before=$(rss)
  taskset -c 1 "$ATTACK" "${args[@]}" >"$WORK/attack.out" &
  attacker=$!
  sleep 3
  echo "server RSS before ${before} KiB, with the attackers $(rss) KiB"
  echo "honest client during the attack: $(honest)"
  wait "$attacker"
  echo "attackers: $(cat "$WORK/attack.out")"
  echo "honest client after they were shed: $(honest)"
  echo "server RSS after $(rss) KiB, peak $(peak) KiB"
  echo "server stderr: $(sort "$WORK/server.err" | uniq -c | head -5 | tr '\n' ';')"
  stop
done
