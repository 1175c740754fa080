#!/usr/bin/env bash
# The protocol profile's cost in instructions, not seconds: valgrind's callgrind counts the
# instructions the generator executes, the same for the same binary and inputs whatever else
# the machine does (CPU time here varies ±30 % between runs of one build). Both builds run the
# same closed, kept-connection scenario to a fixed number of cycles (checks on) against one
# server (the older build's, outside valgrind), twice — CYCLES and 3×CYCLES cycles per instance —
# and the figure is the difference over the difference: instructions per completed cycle, without
# the fixed cost of starting, creating actors and writing reports.
# Not a test; figures in docs/performance.md.
#
#   BEFORE=/path/to/older/loginstorm bash benches/profile-instructions.sh
#   INSTANCES=512 CYCLES=10 BEFORE=… bash benches/profile-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BEFORE:?set BEFORE to a loginstorm binary built before protocol profiles}"
cargo build --profile dist --quiet --bin loginstorm --example floor
AFTER=$PWD/target/dist/loginstorm
BIN=$BEFORE
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
INSTANCES=${INSTANCES:-64}
CYCLES=${CYCLES:-20}
target/dist/examples/floor credentials "$INSTANCES" 'ins-{n}' >"$WORK/creds.csv"
. benches/server.sh
# run BUILD BIN CYCLES: prints "instructions cycles errors"
run() {
  start_server
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1.$3" "$2" run benches/cycles.toml \
    --quiet --target "$URL" --out "$WORK/out-$1-$3" \
    --set target.credentials="$WORK/creds.csv" --set accounts.count="$INSTANCES" \
    --set accounts.id_pattern='ins-{n}' --set cycle.cycles="$3" --set load.duration=0s \
    --set checks.enabled=true --set timeouts.login=60s --set timeouts.ready=60s \
    --set timeouts.logout=60s --set timeouts.kick=60s >"$WORK/run-$1-$3.log" 2>&1 || true
  stop_server
  local dir
  dir=$(ls -d "$WORK/out-$1-$3"/*/)
  echo "$(sed -n 's/^summary: //p' "$WORK/cg.$1.$3")" \
    "$(awk -F, '$1=="cycles_completed"{print $2}' "$dir/counters.csv")" \
    "$(awk -F, '$1=="errors_total"{print $2}' "$dir/counters.csv")"
}
for build in before after; do
  bin=$BEFORE
  [ "$build" = after ] && bin=$AFTER
  read -r i1 c1 e1 < <(run "$build" "$bin" "$CYCLES")
  read -r i2 c2 e2 < <(run "$build" "$bin" $((CYCLES * 3)))
  echo "$build: $c1 cycles $i1 instructions ($e1 errors); $c2 cycles $i2 instructions ($e2 errors): $(awk -v a="$i1" -v b="$i2" -v c="$c1" -v d="$c2" 'BEGIN{printf "%.0f", (b-a)/(d-c)}') instructions per cycle"
done
