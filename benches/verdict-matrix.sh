#!/usr/bin/env bash
# Soundness and completeness of the verdict, full size. For each shipped scenario:
#   - SEEDS runs (seeds 1..SEEDS) against the correct embedded server: each must pass with
#     0 violations and 0 warnings;
#   - one run per fault switch at 0.3: the classes it was caught by, and the exit code.
# Prints two tables; figures are in docs/checks.md. Not a test: ~25 minutes on two cores.
#
#   bash benches/verdict-matrix.sh                 # all scenarios, 20 seeds
#   SEEDS=3 bash benches/verdict-matrix.sh smoke   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet
BIN=$PWD/target/dist/loginstorm
SEEDS=${SEEDS:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ $# -gt 0 ]; then scenarios=("$@"); else
  scenarios=(smoke kick-storm multi-platform admin-kick capacity expiry)
fi
faults=(drop_kick zombie over_admit kick_newest wrong_kick_type no_ready extra_victim foreign_kick)

counter() { awk -F, -v k="$2" '$1==k{print $2}' "$1/counters.csv"; }
# The classes with violations in a report, as "class N" pairs.
caught() {
  awk -F, '$1 ~ /^violations_/ && $1 != "violations_total" && $2 > 0 {sub("violations_", "", $1); printf "%s %s, ", $1, $2}' "$1/counters.csv" | sed 's/, $//'
}

echo "## Correct server, seeds 1..$SEEDS"
printf '%-16s %6s %6s %10s %9s %s\n' scenario runs passed violations warnings "not judged (every seed)"
for s in "${scenarios[@]}"; do
  passed=0 v=0 w=0 nj=""
  for seed in $(seq "$SEEDS"); do
    out=$WORK/$s-$seed
    if "$BIN" run "scenarios/$s.toml" --seed "$seed" --quiet --out "$out" >/dev/null 2>&1; then
      passed=$((passed + 1))
    fi
    d=$(ls -d "$out"/*/)
    v=$((v + $(counter "$d" violations_total)))
    w=$((w + $(counter "$d" warnings_total)))
    nj=$(awk -F, '$1 ~ /^judged_/ && $2 == 0 {sub("judged_", "", $1); printf "%s ", $1}' "$d/counters.csv")
    rm -rf "$out"
  done
  printf '%-16s %6s %6s %10s %9s %s\n' "$s" "$SEEDS" "$passed" "$v" "$w" "${nj:--}"
done

echo
echo "## Each fault switch at 0.3 (exit code, classes caught)"
for s in "${scenarios[@]}"; do
  for f in "${faults[@]}"; do
    out=$WORK/$s-$f
    set +e
    "$BIN" run "scenarios/$s.toml" --quiet --out "$out" --set "server.faults.$f=0.3" >/dev/null 2>&1
    code=$?
    set -e
    d=$(ls -d "$out"/*/)
    printf '%-16s %-16s exit %s  %s\n' "$s" "$f" "$code" "$(caught "$d")"
    rm -rf "$out"
  done
done
