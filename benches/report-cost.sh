#!/usr/bin/env bash
# What writing the reports costs at the end of a large run: 19,000 concurrent sessions (9,500
# accounts × 2 Web instances, one cycle each, held 2 s) against `serve` in its own process (the
# generator's open-file limit is 20,000, so the embedded server cannot share it), then
# `report_write_secs` from run.json — every end-of-run file (CSV tables, thresholds, junit,
# summary.json, report.html). Target (issue 10): under 1 s. Figures in docs/performance.md.
#
#   bash benches/report-cost.sh            # REPEAT=3 for a spread
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
BIN=$PWD/target/dist/loginstorm
. benches/server.sh
start_server --limits Web=2
cat >"$WORK/big.toml" <<'TOML'
name = "report-cost"
[policy]
limits = "Web=2"
[accounts]
count = 9500
id_pattern = "big-{n}"
instances = "Web*2"
[cycle]
cycles = 1
hold = "2s"
[load]
ramp = 5000.0
TOML
for i in $(seq "${REPEAT:-1}"); do
  "$BIN" run "$WORK/big.toml" --quiet --target "$URL" --out "$WORK/out$i" >"$WORK/run.out" 2>&1 || true
  d=$(ls -d "$WORK/out$i"/*/)
  python3 - "$d" <<'PY'
import json, os, sys
d = sys.argv[1]
r = json.load(open(os.path.join(d, "run.json")))
s = json.load(open(os.path.join(d, "summary.json")))
sizes = {f: os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)}
print(f"sessions {s['counters']['logins_ok']}  verdict {s['verdict']['status']}  run {r['elapsed_secs']:.1f}s  "
      f"report writing {r['report_write_secs']*1000:.0f} ms  (report.html {sizes['report.html']//1024} KiB, "
      f"kicks.csv {sizes['kicks.csv']//1024} KiB, all files {sum(sizes.values())//1024} KiB)")
PY
done
