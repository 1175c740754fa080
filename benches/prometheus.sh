#!/usr/bin/env bash
# A real Prometheus scraping loginstorm while it runs: a reference server and a 40 s open-model
# run against it, both with --metrics-listen; Prometheus (Debian's `prometheus` package:
# `apt-get install prometheus`) scrapes them every SCRAPE (15s by default, Prometheus's common
# setting); during the run the script asks its query API for the run's login rate and p99 (the
# queries docs/reports.md gives for Grafana), and after the run — the endpoint lingers 20 s for a
# last scrape — whether Prometheus holds the final value of every counter, against the run's own
# counters.csv. Not a test: it needs Prometheus.
#
#   bash benches/prometheus.sh
#   SCRAPE=1s bash benches/prometheus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v prometheus >/dev/null || { echo "needs prometheus (apt-get install prometheus)" >&2; exit 2; }
cargo build --profile dist --quiet --bin loginstorm
BIN=$PWD/target/dist/loginstorm
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT_RUN=${PORT_RUN:-19101}
PORT_SERVER=${PORT_SERVER:-19102}
PORT_PROM=${PORT_PROM:-19103}
SCRAPE=${SCRAPE:-15s}

"$BIN" serve --listen 127.0.0.1:0 --limits Web=2 --metrics-listen "127.0.0.1:$PORT_SERVER" \
  >"$WORK/server.out" 2>"$WORK/server.err" &
for _ in $(seq 100); do
  URL=$(sed -n 's/^listening on //p' "$WORK/server.out"); [ -n "$URL" ] && break; sleep 0.05
done

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: $SCRAPE
  evaluation_interval: $SCRAPE
scrape_configs:
  - job_name: loginstorm
    static_configs:
      - targets: ['127.0.0.1:$PORT_RUN']
  - job_name: loginstorm-server
    static_configs:
      - targets: ['127.0.0.1:$PORT_SERVER']
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PORT_PROM" >"$WORK/prometheus.log" 2>&1 &
for _ in $(seq 100); do
  curl -sf "127.0.0.1:$PORT_PROM/-/ready" >/dev/null && break; sleep 0.1
done

cat >"$WORK/run.toml" <<'EOF'
name = "prometheus-demo"
[policy]
limits = "Web=2"
[accounts]
count = 2000
id_pattern = "prom-{n}"
instances = "Web*3"
[cycle]
hold = "100ms"
connection = "fresh"
end = "logout_close"
[load]
model = "open"
stages = "100,5s;100,35s"
EOF
echo "run: 40 s, open model at 100 arrivals/s (300 logins/s) against $URL; Prometheus on :$PORT_PROM"
"$BIN" run "$WORK/run.toml" --quiet --target "$URL" --out "$WORK/out" \
  --metrics-listen "127.0.0.1:$PORT_RUN" --summary-json "$WORK/summary.json" >/dev/null 2>&1 &
run=$!
sleep 36   # query while the run is still going, over its steady part

q() {
  curl -sG "127.0.0.1:$PORT_PROM/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "no data")'
}
echo "Prometheus says, during the run (over its last 30 s):"
echo "  login rate /s          $(q 'sum(rate(loginstorm_events_total{counter="logins_ok"}[30s]))')"
echo "  login p99 (s)          $(q 'histogram_quantile(0.99, sum by (le) (rate(loginstorm_latency_seconds_bucket{metric="login"}[30s])))')"
echo "  live sessions          $(q 'sum(loginstorm_live_sessions)')"
echo "  offered arrivals /s    $(q 'sum(loginstorm_offered_arrivals_per_second)')"
echo "  multipleAccount kicks  $(q 'sum(loginstorm_kicks_total{kick="multipleAccount"})')"
echo "  server kicks delivered $(q 'sum(loginstorm_server_kicks_total{kick="multipleAccount"})')"
echo "  server logins admitted $(q 'sum(loginstorm_server_events_total{counter="logins_admitted"})')"
wait "$run" || true
# The run has ended; its endpoint lingered long enough for one more scrape. What Prometheus
# holds now must be the run's final figures, every counter.
sleep 2
python3 - "$WORK/out" "$PORT_PROM" <<'PY'
import csv, glob, json, sys, urllib.parse, urllib.request
out, port = sys.argv[1], sys.argv[2]
counters = {r[0]: r[1] for r in csv.reader(open(glob.glob(out + "/*/counters.csv")[0]))}
# The endpoint is gone by now (Prometheus marks its series stale): the last value scraped.
q = 'last_over_time(loginstorm_events_total{job="loginstorm"}[5m])'
url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
seen = {r["metric"]["counter"]: r["value"][1] for r in json.load(urllib.request.urlopen(url))["data"]["result"]}
names = [n for n in seen if n in counters]
wrong = [(n, seen[n], counters[n]) for n in names if float(seen[n]) != float(counters[n])]
print(f"After the run: Prometheus holds {len(names)} counters of counters.csv; "
      f"{len(names) - len(wrong)} at their final value" + (f"; differing: {wrong}" if wrong else ""))
PY
python3 - "$WORK/summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c, l = d["counters"], d["latency_us"]["login"]
print("The run's summary.json says (whole run):")
print(f"  login rate /s          {c['logins_per_sec']}")
print(f"  login p99 (s)          {l['p99'] / 1e6}")
print(f"  multipleAccount kicks  {c['kicks_multipleAccount']}")
PY
