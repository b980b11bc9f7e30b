#!/usr/bin/env bash
# Seeds N users (default 1,000,000) into a migrated Roster database with bulk SQL, for the
# listing benchmarks: `scripts/seed-users.sh DATABASE_URL [N]`, where DATABASE_URL is
# `sqlite://PATH` or `postgres://...` (run `roster migrate` on it first).
#
# Population (i = 1..N): username `user<i>`; email `user<i>@bench.invalid` stored as its own
# identity key (a placeholder: where emails are stored encrypted, `email_key` holds a blind
# index and these rows are not decryptable, which listing never needs); name missing for
# every 5th user, else `Person <i mod 100000>` (ties); status deactivated for i mod 20 = 0,
# pending for i mod 20 = 1, else active; last login missing for even i, else one of 86,400
# seconds (ties); created one second apart from 2020 on, except pending users, created within
# the last 22 hours (older pending accounts are deleted by the cleanup job at start); every user USER, every 100th (i mod 100 = 3) also MANAGER;
# 30% in one of 50 tenants (`tenant-<i / 10 mod 50>`). Ids follow creation order (UUID v7 layout on
# PostgreSQL; random 16-byte blobs on SQLite, which ties are broken by all the same).
# Ends with ANALYZE so each planner knows the table's shape.
set -euo pipefail
url="${1:?usage: seed-users.sh DATABASE_URL [N]}"
n="${2:-1000000}"
base="2020-01-01 00:00:00"

case "$url" in
  sqlite://*|sqlite:*)
    command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
    path="${url#sqlite://}"; path="${path#sqlite:}"
    sqlite3 "$path" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO users (id, email, email_key, email_verified, username, username_key, name, status,
                   last_login_at, login_count, created_at, updated_at, deactivated_at)
SELECT randomblob(16),
       'user' || i || '@bench.invalid', 'user' || i || '@bench.invalid', 1,
       'user' || i, 'user' || i,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'Person ' || (i % 100000) END,
       CASE i % 20 WHEN 0 THEN 'deactivated' WHEN 1 THEN 'pending' ELSE 'active' END,
       CASE WHEN i % 2 = 0 THEN NULL
            ELSE strftime('%Y-%m-%d %H:%M:%S', '$base', '+400 days', '+' || (i % 86400) || ' seconds') END,
       i % 7,
       CASE WHEN i % 20 = 1 THEN strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (i % 80000) || ' seconds')
            ELSE strftime('%Y-%m-%d %H:%M:%S', '$base', '+' || i || ' seconds') END,
       CASE WHEN i % 20 = 1 THEN strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (i % 80000) || ' seconds')
            ELSE strftime('%Y-%m-%d %H:%M:%S', '$base', '+' || i || ' seconds') END,
       CASE WHEN i % 20 = 0 THEN strftime('%Y-%m-%d %H:%M:%S', '$base', '+' || i || ' seconds') END
FROM s;
INSERT INTO user_roles (user_id, role, created_at)
SELECT id, 'USER', created_at FROM users WHERE username LIKE 'user%';
INSERT INTO user_roles (user_id, role, created_at)
SELECT id, 'MANAGER', created_at FROM users
WHERE username LIKE 'user%' AND CAST(substr(username, 5) AS INTEGER) % 100 = 3;
INSERT INTO tenant_memberships (user_id, tenant_id, role, is_main, created_at)
SELECT id, 'tenant-' || (CAST(substr(username, 5) AS INTEGER) / 10 % 50), 'USER', 1, created_at FROM users
WHERE username LIKE 'user%' AND CAST(substr(username, 5) AS INTEGER) % 10 < 3;
COMMIT;
ANALYZE;
SQL
    ;;
  postgres://*|postgresql://*)
    psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
SET synchronous_commit = off;
BEGIN;
INSERT INTO users (id, email, email_key, email_verified, username, username_key, name, status,
                   last_login_at, login_count, created_at, updated_at, deactivated_at)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       'user' || i || '@bench.invalid', 'user' || i || '@bench.invalid', TRUE,
       'user' || i, 'user' || i,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'Person ' || (i % 100000) END,
       CASE i % 20 WHEN 0 THEN 'deactivated' WHEN 1 THEN 'pending' ELSE 'active' END,
       CASE WHEN i % 2 = 0 THEN NULL
            ELSE TIMESTAMP '$base' + INTERVAL '400 days' + (i % 86400) * INTERVAL '1 second' END,
       i % 7,
       CASE WHEN i % 20 = 1 THEN date_trunc('second', now() AT TIME ZONE 'utc') - (i % 80000) * INTERVAL '1 second'
            ELSE TIMESTAMP '$base' + i * INTERVAL '1 second' END,
       CASE WHEN i % 20 = 1 THEN date_trunc('second', now() AT TIME ZONE 'utc') - (i % 80000) * INTERVAL '1 second'
            ELSE TIMESTAMP '$base' + i * INTERVAL '1 second' END,
       CASE WHEN i % 20 = 0 THEN TIMESTAMP '$base' + i * INTERVAL '1 second' END
FROM generate_series(1, $n) AS i;
INSERT INTO user_roles (user_id, role, created_at)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'USER', TIMESTAMP '$base'
FROM generate_series(1, $n) AS i;
INSERT INTO user_roles (user_id, role, created_at)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'MANAGER', TIMESTAMP '$base'
FROM generate_series(3, $n, 100) AS i;
INSERT INTO tenant_memberships (user_id, tenant_id, role, is_main, created_at)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'tenant-' || (i / 10 % 50), 'USER', TRUE, TIMESTAMP '$base'
FROM generate_series(1, $n) AS i WHERE i % 10 < 3;
COMMIT;
ANALYZE;
SQL
    ;;
  *) echo "unsupported URL: $url" >&2; exit 2 ;;
esac
