#!/usr/bin/env bash
# Run every fuzz target (fuzz/fuzz_targets/) for RUNS executions or SECONDS, whichever comes
# first, and print one line per target: executions, seconds, executions/s, corpus size, crashes.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Figures go to
# docs/reliability.md. Crashes are left in fuzz/artifacts/TARGET/.
#
#   bash benches/fuzz.sh                         # every target, 10^7 runs or 30 min each
#   RUNS=100000 TARGETS="request frame" bash benches/fuzz.sh
#   SANITIZER=address bash benches/fuzz.sh       # with AddressSanitizer (3-5x slower)
#
# The default is no sanitizer: no decoder reaches loginstorm's `unsafe` blocks (system calls, see
# docs/reliability.md), so what fuzzing can find is a
# panic, an abort, an endless loop or a blow-up in memory — all caught without ASan — and the
# runs go several times faster. Set SANITIZER=address to look under the dependencies' unsafe.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
RUNS=${RUNS:-10000000}
SECONDS_EACH=${SECONDS_EACH:-1800}
TARGETS=${TARGETS:-request frame usersig usersig_oracle units threshold scenario percent run_json intervals accounts compare_report}
SANITIZER=${SANITIZER:-none}
cargo +nightly fuzz build -O -s "$SANITIZER" >/dev/null
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); runs ${RUNS} or ${SECONDS_EACH}s each; sanitizer ${SANITIZER}"
for t in $TARGETS; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  start=$(date +%s)
  status=0
  cargo +nightly fuzz run -O -s "$SANITIZER" "$t" "corpus/$t" "seeds/$t" -- \
    -runs="$RUNS" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  secs=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(ls "artifacts/$t" 2>/dev/null | grep -c . || true)
  printf '%-15s runs %12s  %5ss  %9s exec/s  corpus %5s  exit %s  crashes %s\n' "$t" "${runs:-?}" "$secs" \
    "$(awk -v r="${runs:-0}" -v s="$secs" 'BEGIN{ if (s > 0) printf "%.0f", r/s; else print "-" }')" \
    "$(ls "corpus/$t" | wc -l)" "$status" "$crashes"
  if [ "$status" -ne 0 ]; then tail -30 "$log"; fi
  rm -f "$log"
done
