-- Indexes for listing users (GET /api/users): one (sort key, id) index per sort, the same
-- behind a status for the status filter, so that page 1 and a deep cursor page are both an
-- index range. `created_at` has its indexes since the initial migration; email and username
-- filters use the unique key indexes; role and tenant filters probe the primary keys of
-- user_roles and tenant_memberships. `q` (a substring) has no index: it filters the rows of
-- the sort index.
CREATE INDEX users_username_key_id_idx ON users (username_key, id);
CREATE INDEX users_status_username_key_idx ON users (status, username_key, id);
CREATE INDEX users_status_name_idx ON users (status, name, id);
CREATE INDEX users_status_last_login_at_idx ON users (status, last_login_at, id);
