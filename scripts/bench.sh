#!/usr/bin/env bash
# The benchmark harness (`just bench`): builds a release, starts Roster on SQLite and on
# PostgreSQL, and drives load with wrk from a separate process. Writes the table into
# docs/benchmarks.md between the BENCH markers, and prints it.
# Environment: BENCH_DURATION (seconds per scenario, default 15), BENCH_BACKENDS
# (default "sqlite postgres"), ROSTER_TEST_POSTGRES_URL (admin URL of the PostgreSQL server),
# BENCH_USERS (users seeded by scripts/seed-users.sh before the list scenarios, default
# 1,000,000).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${BENCH_DURATION:-15}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
pg_admin="${ROSTER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
bench_users="${BENCH_USERS:-1000000}"
cost=12

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q
hash_seconds=$(cargo run --release -q -p roster-crypto --example hash_time -- "$cost" 8)
cores=$(nproc)
limit=$(awk -v c="$cores" -v h="$hash_seconds" 'BEGIN {printf "%.1f", c / h}')

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json='content-type: application/json'

# wrk's summary: requests/s, p50 and p99 latency (ms).
summarise() {
  awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    END {printf "%.0f|%.1f|%.1f", rps, ms(p50), ms(p99)}' "$1"
}

rows=()
for backend in $backends; do
  if [ "$backend" = sqlite ]; then
    url="sqlite://$work/sqlite/roster.db"
  else
    db="roster_bench_$(date +%s)"
    psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
    url="${pg_admin%/*}/$db"
  fi
  port=$(free_port)
  base="http://127.0.0.1:$port"
  ROSTER_CONFIG= ROSTER_DATA_DIR="$work/$backend" ROSTER_DATABASE_URL="$url" ROSTER_BIND="127.0.0.1:$port" \
    ROSTER_DATABASE_POOL_SIZE=16 ROSTER_RATE_LIMITS=off ROSTER_LOG=warn \
    ROSTER_BOOTSTRAP_ADMIN_EMAIL=bench-admin@example.com ROSTER_BOOTSTRAP_ADMIN_PASSWORD='Str0ng!pass' \
    ./target/release/roster &
  pid=$!
  for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null && break; sleep 0.1; done

  # One confirmed user for /me and login.
  curl -fs "$base/api/auth/register" -H "$json" -d '{"email":"bench@example.com","password":"Str0ng!pass"}' >/dev/null
  for _ in $(seq 1 50); do ls "$work/$backend"/outbox/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
  token=$(grep -ho 'confirm?token=[A-Za-z0-9_-]*' "$work/$backend"/outbox/*.eml | head -1 | cut -d= -f2)
  curl -fs "$base/api/auth/confirm" -H "$json" -d "{\"token\":\"$token\"}" >/dev/null
  access=$(curl -fs "$base/api/auth/login" -H "$json" -d '{"login":"bench","password":"Str0ng!pass"}' \
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["access_token"])')

  wrk -t2 -c64 -d"${duration}s" --timeout 30s --latency -H "Authorization: Bearer $access" "$base/api/users/me" > "$work/me.txt"
  rows+=("| $backend | \`GET /api/users/me\` | 64 | $(summarise "$work/me.txt" | sed 's/|/ | /g') | |")

  # Refresh: each connection holds a live refresh token and trades it for the next (a
  # rotated token used again would revoke its session, so every request must use the newest).
  # 64 connections, and one token more per thread: wrk calls request() once per thread to check it.
  seq 1 66 | xargs -P 2 -I{} curl -fs "$base/api/auth/login" -H "$json" \
    -d '{"login":"bench","password":"Str0ng!pass"}' -o "$work/login-{}.json"
  cat "$work"/login-*.json | python3 -c 'import sys,json
for line in sys.stdin.read().replace("}{", "}\n{").splitlines(): print(json.loads(line)["data"]["refresh_token"])' > "$work/refresh-tokens.txt"
  cat > "$work/refresh.lua" <<'LUA'
local all = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do all[#all + 1] = line end
local threads, made = tonumber(os.getenv("BENCH_THREADS")), 0
function setup(thread)
  made = made + 1
  local mine = {}
  for i = made, #all, threads do mine[#mine + 1] = all[i] end
  thread:set("tokens", table.concat(mine, ","))
end
function init(args)
  queue = {}
  for t in string.gmatch(tokens, "[^,]+") do queue[#queue + 1] = t end
end
function request()
  local t = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"refresh_token":"' .. t .. '"}')
end
function response(status, headers, body)
  local t = string.match(body, '"refresh_token":"([^"]+)"')
  if t then queue[#queue + 1] = t elseif status ~= 200 and not printed then printed = true; print(status, body) end
end
LUA
  BENCH_TOKENS="$work/refresh-tokens.txt" BENCH_THREADS=2 wrk -t2 -c64 -d"${duration}s" --timeout 30s --latency \
    -s "$work/refresh.lua" "$base/api/auth/refresh" > "$work/refresh.txt"
  failed=$(awk '/Non-2xx/ {print $5}' "$work/refresh.txt"); failed=${failed:-0}
  rows+=("| $backend | \`POST /api/auth/refresh\` (rotation) | 64 | $(summarise "$work/refresh.txt" | sed 's/|/ | /g') | ${failed} refused |")

  cat > "$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login":"bench","password":"Str0ng!pass"}'
LUA
  wrk -t2 -c16 -d"${duration}s" --timeout 30s --latency -s "$work/login.lua" "$base/api/auth/login" > "$work/login.txt"
  s=$(summarise "$work/login.txt"); rps=${s%%|*}
  eff=$(awk -v r="$rps" -v l="$limit" 'BEGIN {printf "%.0f%%", 100 * r / l}')
  rows+=("| $backend | \`POST /api/auth/login\` | 16 | $(echo "$s" | sed 's/|/ | /g') | $eff of $limit/s |")

  # /me while a login flood saturates hashing: the hashing semaphore must keep /me fast.
  wrk -t1 -c8 -d"${duration}s" --timeout 30s --latency -H "Authorization: Bearer $access" "$base/api/users/me" > "$work/me-quiet.txt"
  wrk -t1 -c64 -d"$((duration + 4))s" --timeout 60s -s "$work/login.lua" "$base/api/auth/login" > /dev/null &
  flood=$!
  sleep 2
  wrk -t1 -c8 -d"${duration}s" --timeout 30s --latency -H "Authorization: Bearer $access" "$base/api/users/me" > "$work/me-flood.txt"
  wait "$flood" || true
  # The flood's last requests are still being hashed after wrk hangs up (a request already
  # read is served whatever the client does): let the queue drain so that the next
  # scenario measures itself, not the flood's tail.
  for _ in $(seq 1 300); do
    depth=$(curl -fs "$base/metrics" | awk '/^roster_password_hash_queue / {print $2}')
    [ "${depth:-0}" = 0 ] && break; sleep 0.1
  done
  sleep 1
  quiet=$(summarise "$work/me-quiet.txt"); loud=$(summarise "$work/me-flood.txt")
  ratio=$(awk -v a="${quiet##*|}" -v b="${loud##*|}" 'BEGIN {printf "%.1fx", b / a}')
  rows+=("| $backend | \`GET /api/users/me\`, 8 connections, alone | 8 | $(echo "$quiet" | sed 's/|/ | /g') | |")
  rows+=("| $backend | \`GET /api/users/me\`, 8 connections, during a 64-connection login flood | 8 | $(echo "$loud" | sed 's/|/ | /g') | p99 $ratio of alone |")

  cat > "$work/register.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email":"load-%d-%d@example.com","password":"Str0ng!pass"}', math.random(1, 1000000000), counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA
  wrk -t2 -c16 -d"${duration}s" --timeout 30s --latency -s "$work/register.lua" "$base/api/auth/register" > "$work/register.txt"
  s=$(summarise "$work/register.txt"); rps=${s%%|*}
  eff=$(awk -v r="$rps" -v l="$limit" 'BEGIN {printf "%.0f%%", 100 * r / l}')
  rows+=("| $backend | \`POST /api/auth/register\` | 16 | $(echo "$s" | sed 's/|/ | /g') | $eff of $limit/s |")

  # Listing at depth: seed users with bulk SQL, then page 1 (page number, with its COUNT) and
  # a page about 80% deep by cursor (scripts/bench-listing.sh measures every sort and filter).
  bash scripts/seed-users.sh "$url" "$bench_users" >/dev/null
  admin=$(curl -fs "$base/api/auth/login" -H "$json" -d '{"login":"bench-admin","password":"Str0ng!pass"}' \
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["access_token"])')
  wrk -t1 -c8 -d"${duration}s" --timeout 30s --latency -H "Authorization: Bearer $admin" \
    "$base/api/users?limit=20" > "$work/users-page1.txt"
  rows+=("| $backend | users_page1: \`GET /api/users?limit=20\` over $bench_users users (with COUNT) | 8 | $(summarise "$work/users-page1.txt" | sed 's/|/ | /g') | |")
  total=$(curl -fs -H "Authorization: Bearer $admin" "$base/api/users?limit=20" \
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["meta"]["total_items"])')
  deep=$(( total * 8 / 10 / 20 ))
  cursor=$(curl -fs -H "Authorization: Bearer $admin" "$base/api/users?limit=20&page=$deep" \
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["meta"]["next_cursor"])')
  wrk -t1 -c8 -d"${duration}s" --timeout 30s --latency -H "Authorization: Bearer $admin" \
    "$base/api/users?limit=20&cursor=$cursor" > "$work/users-deep.txt"
  rows+=("| $backend | users_deep_cursor: page $((deep + 1)) of \`GET /api/users?limit=20\` by cursor | 8 | $(summarise "$work/users-deep.txt" | sed 's/|/ | /g') | |")

  peak=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  rows+=("| $backend | peak server memory (VmHWM) | | ${peak} MiB | | | |")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  [ "$backend" = postgres ] && psql "$pg_admin" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
done

table="$(mktemp)"
{
  echo "<!-- BENCH:START -->"
  echo "Command: \`just bench\` (\`scripts/bench.sh\`, ${duration} s per scenario), $(date -u +%Y-%m-%d)."
  echo "Machine: ${cores} cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB;"
  echo "wrk on the same machine. bcrypt cost ${cost}: one hash takes $(awk -v h="$hash_seconds" 'BEGIN {printf "%.0f", h*1000}') ms, so the hashing limit is ${limit} hashes/s."
  echo
  echo "| backend | scenario | connections | requests/s | p50 ms | p99 ms | against the hashing limit |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo "<!-- BENCH:END -->"
} > "$table"
cat "$table"
python3 - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read().strip()
path = "docs/benchmarks.md"
text = open(path).read()
if "<!-- BENCH:START -->" in text:
    text = re.sub(r"<!-- BENCH:START -->.*?<!-- BENCH:END -->", lambda _: table, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## HTTP throughput and latency\n\n" + table + "\n"
open(path, "w").write(text)
PY
