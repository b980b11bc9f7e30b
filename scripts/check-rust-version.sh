#!/usr/bin/env bash
# The declared minimum Rust (`rust-version` in [workspace.package]) against the pinned
# toolchain (rust-toolchain.toml): every crate inherits it, it is not newer than the pinned
# channel, and the compiler in use is the pinned one. The build and tests that CI runs with
# that compiler then prove the workspace builds on the version it pins.
set -euo pipefail
cd "$(dirname "$0")/.."

declared="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^rust-version *= *"\([^"]*\)".*/\1/p' Cargo.toml)"
channel="$(sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' rust-toolchain.toml)"
[ -n "$declared" ] || { echo "no rust-version in [workspace.package] of Cargo.toml"; exit 1; }
[ -n "$channel" ] || { echo "no channel in rust-toolchain.toml"; exit 1; }

fail=0
for manifest in crates/*/Cargo.toml; do
  if ! grep -qE '^rust-version\.workspace *= *true' "$manifest"; then
    echo "$manifest does not inherit rust-version from the workspace"; fail=1
  fi
done

# rust-version may be older than the pinned channel, never newer.
newest="$(printf '%s\n%s\n' "$declared" "$channel" | sort -V | tail -n1)"
if [ "$newest" != "$channel" ] && [ "$declared" != "$channel" ]; then
  # "1.95" and "1.95.0" name the same release.
  case "$channel" in "$declared".*) ;; *)
    echo "rust-version $declared is newer than the pinned toolchain $channel"; fail=1 ;;
  esac
fi

used="$(rustc --version | awk '{print $2}')"
case "$used" in
  "$channel" | "$channel".*) ;;
  *) echo "rustc $used is not the pinned toolchain $channel"; fail=1 ;;
esac

[ "$fail" = 0 ] && echo "rust-version $declared, pinned toolchain $channel, rustc $used: consistent"
exit "$fail"
