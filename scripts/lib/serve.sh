# Sourced by scripts that need a running Roster: `start_roster` builds the debug binary,
# starts it on a free port with a data directory of its own (SQLite, mail to .eml files)
# and the extra environment given as arguments, waits until it is ready, and sets
# ROSTER_URL, ROSTER_PID and ROSTER_DATA_DIR. `stop_roster` stops it and removes the data.

start_roster() {
  cargo build -q -p roster-app --bin roster
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ROSTER_DATA_DIR=$(mktemp -d)
  export ROSTER_DATA_DIR
  ROSTER_URL="http://127.0.0.1:$port"
  env ROSTER_BIND="127.0.0.1:$port" ROSTER_PUBLIC_URL="$ROSTER_URL" \
    ROSTER_DATABASE_URL="sqlite://$ROSTER_DATA_DIR/roster.db" ROSTER_LOG=warn "$@" \
    target/debug/roster serve >"$ROSTER_DATA_DIR/roster.log" 2>&1 &
  ROSTER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "$ROSTER_URL/ready" >/dev/null 2>&1 && return 0
    kill -0 "$ROSTER_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "Roster did not become ready; its log:"; cat "$ROSTER_DATA_DIR/roster.log"
  return 1
}

stop_roster() {
  [ -n "${ROSTER_PID:-}" ] && kill "$ROSTER_PID" 2>/dev/null && wait "$ROSTER_PID" 2>/dev/null
  [ -n "${ROSTER_DATA_DIR:-}" ] && rm -rf "$ROSTER_DATA_DIR"
  return 0
}
