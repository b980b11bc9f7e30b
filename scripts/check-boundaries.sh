#!/usr/bin/env bash
# The hexagon's rule, checked: the domain depends on no I/O crate, and adapters depend on the
# domain only, never on each other.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
for bad in diesel diesel-async actix-web bcrypt jsonwebtoken lettre tokio-postgres serde_json tokio; do
  # `cargo tree -i` prints nothing (and exits 0) when the crate is not in the tree.
  if [ -n "$(cargo tree -p roster-domain -e normal -i "$bad" 2>/dev/null)" ]; then
    echo "roster-domain depends on $bad"; fail=1
  fi
done
adapters="roster-persistence-diesel roster-crypto roster-mailer roster-http-actix"
for a in $adapters; do
  for b in $adapters; do
    [ "$a" = "$b" ] && continue
    if [ -n "$(cargo tree -p "$a" -e normal -i "$b" 2>/dev/null)" ]; then
      echo "$a depends on $b: adapters must depend on the domain only"; fail=1
    fi
  done
done
[ "$fail" = 0 ] && echo "boundaries hold"
exit "$fail"
