#!/usr/bin/env bash
# Runs every ```sh block of docs/api-guide.md, in order, in one shell, against a freshly
# started Roster configured as the guide says. Fails at the first command that fails, so the
# guide cannot drift from what the service does.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
. scripts/lib/serve.sh
trap stop_roster EXIT

key=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
start_roster ROSTER_BOOTSTRAP_ADMIN_EMAIL=root@example.com \
  ROSTER_BOOTSTRAP_ADMIN_PASSWORD='R00t!password' \
  ROSTER_INTERNAL_API_KEYS="billing:$key" ROSTER_BCRYPT_COST=4

script=$(mktemp)
{
  echo 'set -euo pipefail'
  echo "export R='$ROSTER_URL' KEY='$key'"
  awk '/^```sh$/ {on=1; n++; printf "echo \"--- block %d\" >&2\n", n; next} /^```$/ {on=0; next} on' docs/api-guide.md
} >"$script"
blocks=$(grep -c '^```sh$' docs/api-guide.md)
echo "running the $blocks sh blocks of docs/api-guide.md against $ROSTER_URL"
if ! bash "$script"; then
  echo "docs/api-guide.md: a block failed (see the block number above); server log:"
  tail -n 30 "$ROSTER_DATA_DIR/roster.log"
  exit 1
fi
echo "docs/api-guide.md: all $blocks blocks ran"
