#!/usr/bin/env bash
# Reproducible performance figures for docs/performance.md. Not a test: it takes ~2 minutes.
#
#   bash benches/bench.sh            # all figures
#   SESSIONS=20000 bash benches/bench.sh hold
#   bash benches/bench.sh cycles
#   HOLD_SET="--set checks.enabled=false" bash benches/bench.sh hold   # extra keys for the hold runs
#   LOGINSTORM=/path/to/other/loginstorm bash benches/bench.sh       # another build
#
# The server runs as its own process (`serve --workers 1`) pinned to CPU 0; the generator runs
# pinned to CPU 1, so "one core" for the server is literal. Memory is resident set size read
# from /proc/PID/status while the sessions are idle and ready.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet
BIN=${LOGINSTORM:-$PWD/target/dist/loginstorm}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
SESSIONS=${SESSIONS:-20000}
BASE_SESSIONS=${BASE_SESSIONS:-1000}
what=${1:-all}

. benches/server.sh
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
counter() { awk -F, -v k="$2" '$1==k{print $2}' "$1/counters.csv"; }
last_report() { ls -td "$WORK"/out/*/ | head -1; }

# cycles MODE CHECKS: the server's throughput; the generator's policy checks are off by default
# here (they cost the generator, not the server), on for the generator's own figure.
cycles() {
  local mode=$1 checks=${2:-false}
  start_server
  local t0; t0=$(cpu_ticks "$SERVER")
  taskset -c 1 "$BIN" run benches/cycles.toml --quiet --target "$URL" --out "$WORK/out" \
    --set cycle.connection="$mode" --set checks.enabled="$checks" >/dev/null
  local t1; t1=$(cpu_ticks "$SERVER")
  stop_server
  local d; d=$(last_report)
  local n; n=$(counter "$d" cycles_completed)
  local hz; hz=$(getconf CLK_TCK)
  printf '%s connection, generator checks %s: measured %s cycles/s (generator on the other core; logins ok %s, errors %s)\n' \
    "$mode" "$checks" "$(counter "$d" cycles_per_sec)" "$(counter "$d" logins_ok)" "$(counter "$d" errors_total)"
  awk -v n="$n" -v t="$((t1 - t0))" -v hz="$hz" 'BEGIN {
    us = t / hz * 1e6 / n;
    printf "  server CPU per cycle %.1f us -> one server core sustains %.0f cycles/s\n", us, 1e6 / us }'
}

# Hold N idle ready sessions; print "server_rss_kib generator_rss_kib ready".
hold_once() {
  local n=$1
  start_server
  local base; base=$(rss_kib "$SERVER")
  taskset -c 1 "$BIN" run benches/hold.toml --quiet --target "$URL" --out "$WORK/out" \
    --set accounts.count="$n" ${HOLD_SET:-} >/dev/null &
  local gen=$!
  # ramp (4000/s) + margin; sessions then sit idle in the ready state
  sleep $(( n / 4000 + 8 ))
  local s g; s=$(rss_kib "$SERVER"); g=$(rss_kib "$gen")
  wait "$gen" || true
  stop_server
  local d; d=$(last_report)
  echo "$((s - base)) $g $(counter "$d" readies) $(counter "$d" errors_total)"
  awk -F, 'NR>1 && $2!="0" && ($1 ~ /failed|lost|timeouts|errors/) {printf "    %s=%s", $1, $2} END {print ""}' "$d/counters.csv" >&2
}

hold() {
  read -r s1 g1 r1 e1 < <(hold_once "$BASE_SESSIONS")
  read -r s2 g2 r2 e2 < <(hold_once "$SESSIONS")
  echo "concurrent ready sessions held: $r2 of $SESSIONS (errors $e2)"
  echo "server memory per idle session: $(( s2 * 1024 / r2 )) bytes (RSS growth $s2 KiB over $r2 sessions)"
  echo "generator memory per session: $(( (g2 - g1) * 1024 / (r2 - r1) )) bytes (RSS $g1 KiB at $r1, $g2 KiB at $r2)"
}

case $what in
  cycles) cycles kept; cycles fresh; cycles kept true ;;
  hold) hold ;;
  # hold first: the fresh-connection run leaves ~70k loopback sockets in TIME_WAIT for 60 s
  all) hold; cycles kept; cycles fresh; cycles kept true ;;
  *) echo "usage: bench.sh [all|cycles|hold]" >&2; exit 2 ;;
esac
