#!/usr/bin/env bash
# Measures what an attacker could: the time of a login with a wrong password for an existing
# account against a login for an account that does not exist. Starts a release build on a
# throwaway SQLite folder with the default bcrypt cost, and interleaves the two kinds.
# Usage: scripts/login-timing.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-30}"
cargo build --release -q
dir="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ROSTER_CONFIG= ROSTER_DATA_DIR="$dir" ROSTER_BIND="127.0.0.1:$port" ROSTER_LOG=warn ./target/release/roster &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null && break; sleep 0.1; done
json='content-type: application/json'
curl -fs "$base/api/auth/register" -H "$json" -d '{"email":"ada@example.com","password":"Str0ng!pass"}' >/dev/null
sleep 1
token=$(grep -ho 'confirm?token=[A-Za-z0-9_-]*' "$dir"/outbox/*.eml | head -1 | cut -d= -f2)
curl -fs "$base/api/auth/confirm" -H "$json" -d "{\"token\":\"$token\"}" >/dev/null
time_login() {
  curl -s -o /dev/null -w '%{time_total}\n' "$base/api/auth/login" -H "$json" -d "{\"login\":\"$1\",\"password\":\"Wr0ng!pass\"}"
}
wrong=(); unknown=()
for _ in $(seq 1 "$rounds"); do
  wrong+=("$(time_login ada@example.com)")
  unknown+=("$(time_login nobody@example.com)")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1; s+=$1} END {printf "mean %.1f ms, median %.1f ms, min %.1f ms, max %.1f ms\n", s/NR*1000, a[int((NR+1)/2)]*1000, a[1]*1000, a[NR]*1000}'; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "bcrypt cost 12, $rounds rounds each, interleaved"
echo "wrong password, existing account: $(stats "${wrong[@]}")"
echo "unknown account:                  $(stats "${unknown[@]}")"
