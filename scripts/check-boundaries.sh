#!/usr/bin/env bash
# The hexagon's rule, checked: the domain depends on no I/O crate, and adapters depend on the
# domain only, never on each other.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
forbidden="diesel diesel-async actix-web bcrypt jsonwebtoken lettre tokio-postgres serde_json tokio
  mio hyper reqwest redis libsqlite3-sys sqlx async-std"
# The domain's normal dependencies, one crate name a line, under each feature set a consumer
# may enable: the in-memory adapters and the contract suite must stay free of I/O too.
for features in "" mocks memory contract-tests memory,contract-tests mocks,memory,contract-tests; do
  args=()
  [ -n "$features" ] && args=(--features "$features")
  # A failing `cargo tree` must not read as an empty, clean tree.
  if ! names="$(cargo tree -p roster-domain -e normal "${args[@]}" --prefix none --format '{p}' \
      | awk '{print $1}' | sort -u)"; then
    echo "cargo tree failed for roster-domain (features: ${features:-none})"; fail=1; continue
  fi
  if ! grep -qx roster-domain <<<"$names"; then
    echo "cargo tree listed nothing for roster-domain (features: ${features:-none})"; fail=1; continue
  fi
  for bad in $forbidden; do
    if grep -qx "$bad" <<<"$names"; then
      echo "roster-domain (features: ${features:-none}) depends on $bad"; fail=1
    fi
  done
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
