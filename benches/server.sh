# Sourced by the bench scripts: the reference server under test, as its own process pinned to
# CPU 0 (`serve --workers 1`), so "one core" for the server is literal. Needs BIN and WORK;
# SERVER_BIN runs another build's server (to compare two generators against one server).
start_server() {
  taskset -c 0 "${SERVER_BIN:-$BIN}" serve --listen 127.0.0.1:0 --workers 1 "$@" >"$WORK/server.out" 2>/dev/null &
  SERVER=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
    [ -n "$URL" ] && return
    sleep 0.05
  done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
