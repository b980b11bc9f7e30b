#!/usr/bin/env bash
# Fuzzes the running service against its own OpenAPI document with schemathesis (PyPI):
# generated valid and invalid requests for every operation, checked for 5xx answers, status
# codes, content types and bodies that the document does not declare, and more.
# Usage: scripts/schemathesis.sh [seconds]   (default 120; installs schemathesis if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-120}"
command -v st >/dev/null 2>&1 || python3 -m pip install -q 'schemathesis>=4,<5'
. scripts/lib/serve.sh
trap stop_roster EXIT

key=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
start_roster ROSTER_BOOTSTRAP_ADMIN_EMAIL=root@example.com \
  ROSTER_BOOTSTRAP_ADMIN_PASSWORD='R00t!password' \
  ROSTER_INTERNAL_API_KEYS="fuzz:$key" ROSTER_BCRYPT_COST=4 ROSTER_RATE_LIMITS=off

token=$(curl -sS --fail-with-body -X POST "$ROSTER_URL/api/auth/login" \
  -H 'Content-Type: application/json' \
  -d '{"login":"root@example.com","password":"R00t!password"}' | jq -r .data.access_token)

# The admin's token is sent with every request, so the authorised paths are explored, not
# only the 401s. Operations that would end that session or that account are left out:
# their own behaviour is covered by the end-to-end tests. Which checks run, and the
# exceptions, are in schemathesis.toml.
set +e
st run "$ROSTER_URL/api/openapi.json" \
  -H "Authorization: Bearer $token" -H "X-Api-Key: $key" \
  --exclude-path /api/auth/logout --exclude-path /api/auth/logout-all \
  --exclude-path-regex '^/api/auth/sessions/' \
  --max-time "$budget" --workers 2 --suppress-health-check all \
  --report junit --report-dir "$ROSTER_DATA_DIR/report"
status=$?
set -e
# A failure is a finding about Roster; an error is schemathesis failing in itself (seen: an
# internal Hypothesis error while it builds cases for one operation). Findings fail the run;
# the tool's own errors are reported and do not.
report=$(ls "$ROSTER_DATA_DIR"/report/junit-*.xml 2>/dev/null | head -n 1)
if [ -z "$report" ]; then
  echo "schemathesis wrote no report (exit $status)"; exit 1
fi
failures=$(grep -c '<failure' "$report" || true)
errors=$(grep -c '<error' "$report" || true)
echo "schemathesis: ${failures} failures, ${errors} tool errors (exit ${status})"
if [ "$failures" -ne 0 ]; then
  echo "server log tail:"; tail -n 30 "$ROSTER_DATA_DIR/roster.log"
  exit 1
fi
if [ "$status" -ne 0 ] && [ "$errors" -eq 0 ]; then
  echo "schemathesis failed without a finding or a tool error"; exit 1
fi
exit 0
