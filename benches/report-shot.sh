#!/usr/bin/env bash
# Look at report.html in a real browser: headless Chromium (Debian's `chromium` package:
# `apt-get install chromium`) loads a run's report page with every network request logged,
# the script fails if the page asked for anything but itself or logged a console error, and
# leaves a full-page screenshot to look at. Not a test: it needs Chromium.
#
#   bash benches/report-shot.sh                      # runs scenarios/kick-storm.toml first
#   bash benches/report-shot.sh reports/<run dir>    # an existing report
#   OUT=/tmp/shot.png bash benches/report-shot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$CHROME" ] || { echo "needs chromium (apt-get install chromium)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ $# -ge 1 ]; then
  DIR=$1
else
  cargo build --profile dist --quiet --bin loginstorm
  target/dist/loginstorm run scenarios/kick-storm.toml --quiet --out "$WORK/reports" >/dev/null
  DIR=$(ls -d "$WORK"/reports/*/)
fi
PAGE=$(realpath "$DIR/report.html")
OUT=${OUT:-$PWD/reports/report-shot.png}
mkdir -p "$(dirname "$OUT")"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$WORK/profile" --log-net-log="$WORK/net.json" --net-log-capture-mode=Default
       --enable-logging=stderr --v=0)
# The page is about 1200 px wide; tall enough for every chart.
"$CHROME" "${flags[@]}" --window-size=1280,5200 --screenshot="$OUT" "file://$PAGE" \
  >"$WORK/chrome.out" 2>"$WORK/chrome.err" || true
[ -s "$OUT" ] || { echo "no screenshot; chromium said:" >&2; tail -20 "$WORK/chrome.err" >&2; exit 1; }
# Requests the page made: the net log's requests that have the page as their initiator (the
# browser's own background requests — clock sync, sign-in, spelling dictionaries — have "not an
# origin"), other than the page itself.
requests=$(python3 - "$WORK/net.json" "file://$PAGE" <<'PY'
import json, sys
text = open(sys.argv[1]).read().rstrip().rstrip(',')
try:
    log = json.loads(text)
except ValueError:
    log = json.loads(text + "]}")
urls = set()
for e in log.get("events", []):
    p = e.get("params") or {}
    u, who = p.get("url"), p.get("initiator")
    if u and who is not None and who != "not an origin" and not u.startswith(sys.argv[2]):
        urls.add(u)
print("\n".join(sorted(urls)))
PY
)
errors=$(grep -iE 'CONSOLE.*(error|uncaught)|Failed to load|ERR_' "$WORK/chrome.err" | grep -v -iE 'dbus|gpu|sandbox|crashpad|fontconfig|viz' || true)
echo "page:        $PAGE ($(wc -c <"$PAGE") bytes, $(grep -o '<svg' "$PAGE" | wc -l) charts)"
echo "screenshot:  $OUT"
echo "requests:    ${requests:-none}"
echo "console:     ${errors:-no errors}"
[ -z "$requests" ] && [ -z "$errors" ]
