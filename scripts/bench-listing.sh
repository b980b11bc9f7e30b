#!/usr/bin/env bash
# The listing benchmark (`just bench-listing`): builds a release, seeds BENCH_USERS users
# (default 1,000,000) on SQLite and on PostgreSQL with scripts/seed-users.sh, starts Roster on
# each, and measures `GET /api/users` with wrk for each sort and filter: page 1 (by page
# number, so with the COUNT that totals need) and a deep page by cursor (the cursor of a page
# about 80% into the list, fetched once by page number). Writes the table into
# docs/benchmarks.md between the LISTING markers, and prints it.
# Environment: BENCH_USERS, BENCH_DURATION (seconds per measurement, default 5),
# BENCH_CONNECTIONS (default 4), BENCH_BACKENDS (default "sqlite postgres"),
# ROSTER_TEST_POSTGRES_URL (admin URL of the PostgreSQL server).
set -euo pipefail
cd "$(dirname "$0")/.."
users="${BENCH_USERS:-1000000}"
duration="${BENCH_DURATION:-5}"
conns="${BENCH_CONNECTIONS:-4}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
pg_admin="${ROSTER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
limit=20
password='Str0ng!pass'

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p roster-app

work="$(mktemp -d)"
pid=""
db=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null
  [ -n "$db" ] && psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json='content-type: application/json'
field() { python3 -c "import sys,json; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

# wrk's summary: requests/s, p50 and p99 latency (ms).
summarise() {
  awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    END {printf "%.1f | %.1f | %.0f", ms(p50), ms(p99), rps}' "$1"
}

# name | query (URL-encoded, without limit/page/cursor)
scenarios=(
  "newest first (default: created_at desc)|sort=created_at&order=desc"
  "created_at asc|sort=created_at&order=asc"
  "username asc|sort=username&order=asc"
  "name asc (missing names first)|sort=name&order=asc"
  "name desc|sort=name&order=desc"
  "last_login_at desc (never logged in last)|sort=last_login_at&order=desc"
  "last_login_at asc|sort=last_login_at&order=asc"
  "status=pending (5%)|status=pending"
  "status=deactivated, by name|status=deactivated&sort=name&order=asc"
  "include_inactive=true|include_inactive=true"
  "role=MANAGER (1%)|role=MANAGER"
  "tenant_id=tenant-7 (0.6%)|tenant_id=tenant-7"
  "email= (one user)|email=user500001%40bench.invalid"
  "username= (one user)|username=USER500001"
  "q=person 12 (common)|q=person%2012"
  "q=person 1234 (rare: 0.01%)|q=person%201234"
)

rows=()
for backend in $backends; do
  if [ "$backend" = sqlite ]; then
    url="sqlite://$work/sqlite/roster.db"
  else
    db="roster_bench_list_$(date +%s)"
    psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
    url="${pg_admin%/*}/$db"
  fi
  mkdir -p "$work/$backend"
  env ROSTER_CONFIG= ROSTER_DATA_DIR="$work/$backend" ROSTER_DATABASE_URL="$url" ROSTER_LOG=warn \
    ./target/release/roster migrate >/dev/null
  started=$(date +%s)
  bash scripts/seed-users.sh "$url" "$users"
  seeded=$(( $(date +%s) - started ))
  echo "$backend: seeded $users users in ${seeded} s"

  port=$(free_port)
  base="http://127.0.0.1:$port"
  env ROSTER_CONFIG= ROSTER_DATA_DIR="$work/$backend" ROSTER_DATABASE_URL="$url" ROSTER_BIND="127.0.0.1:$port" \
    ROSTER_DATABASE_POOL_SIZE=8 ROSTER_RATE_LIMITS=off ROSTER_LOG=warn \
    ROSTER_BOOTSTRAP_ADMIN_EMAIL=bench-admin@example.com ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$password" \
    ./target/release/roster &
  pid=$!
  for _ in $(seq 1 300); do curl -fs "$base/health" >/dev/null && break; sleep 0.1; done
  access=""
  for _ in $(seq 1 30); do
    access=$(curl -fs "$base/api/auth/login" -H "$json" -d "{\"login\":\"bench-admin\",\"password\":\"$password\"}" \
      | field '["data"]["access_token"]' 2>/dev/null) && break
    sleep 1
  done
  [ -n "$access" ] || { echo "cannot log in as the bench ADMIN" >&2; exit 1; }
  auth="Authorization: Bearer $access"

  for scenario in "${scenarios[@]}"; do
    name="${scenario%%|*}"; query="${scenario#*|}"
    first=$(curl -fs -H "$auth" "$base/api/users?$query&limit=$limit")
    total=$(echo "$first" | field '["meta"]["total_items"]')
    wrk -t1 -c"$conns" -d"${duration}s" --timeout 30s --latency -H "$auth" \
      "$base/api/users?$query&limit=$limit" > "$work/page1.txt"
    page1=$(summarise "$work/page1.txt")
    deep_page=$(( total * 8 / 10 / limit ))
    if [ "$deep_page" -ge 2 ]; then
      cursor=$(curl -fs -H "$auth" "$base/api/users?$query&limit=$limit&page=$deep_page" | field '["meta"]["next_cursor"]')
      wrk -t1 -c"$conns" -d"${duration}s" --timeout 30s --latency -H "$auth" \
        "$base/api/users?$query&limit=$limit&cursor=$cursor" > "$work/deep.txt"
      deep="page $((deep_page + 1)) | $(summarise "$work/deep.txt")"
    else
      deep="(one page) | | |"
    fi
    rows+=("| $backend | $name | $total | $page1 | $deep |")
    echo "${rows[-1]}"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  rows+=("| $backend | (seeding $users users with scripts/seed-users.sh: ${seeded} s) | | | | | | | | |")
  if [ "$backend" = postgres ]; then psql "$pg_admin" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null; db=""; fi
done

table="$(mktemp)"
{
  echo "<!-- LISTING:START -->"
  echo "Command: \`just bench-listing\` (\`scripts/bench-listing.sh\`: ${users} users, ${duration} s per measurement, wrk with ${conns} connections, limit ${limit}), $(date -u +%Y-%m-%d)."
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; wrk on the same machine; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| backend | list | matching users | page 1: p50 ms | p99 ms | req/s | deep page by cursor | p50 ms | p99 ms | req/s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo "<!-- LISTING:END -->"
} > "$table"
cat "$table"
python3 - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read().strip()
path = "docs/benchmarks.md"
text = open(path).read()
if "<!-- LISTING:START -->" in text:
    text = re.sub(r"<!-- LISTING:START -->.*?<!-- LISTING:END -->", lambda _: table, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Listing users at 1,000,000\n\n" + table + "\n"
open(path, "w").write(text)
PY
