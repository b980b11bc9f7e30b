-- Roster's schema for the whole spec, SQLite dialect. Timestamps are UTC text
-- (diesel's `Timestamp`); ids are 16-byte BLOBs holding UUID v7s. Mirrors the PostgreSQL migration.

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT,
    built_in    BOOLEAN NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL
);

INSERT INTO roles (name, description, built_in, created_at) VALUES
    ('ADMIN', 'Everything', 1, strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('MANAGER', 'Reads all users; edits profile fields of users who are not ADMIN', 1, strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('USER', 'Own account only', 1, strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('MAINTAINER', 'Own account only', 1, strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('CONTRIBUTOR', 'Own account only', 1, strftime('%Y-%m-%d %H:%M:%f', 'now'));

CREATE TABLE users (
    id             BLOB PRIMARY KEY,
    external_id    TEXT,
    email          TEXT,
    email_key      TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT 0,
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL,
    name           TEXT,
    phone          TEXT,
    avatar_url     TEXT,
    first_name     TEXT,
    last_name      TEXT,
    birth_date     DATE,
    gender         TEXT,
    password_hash  TEXT,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'active', 'deactivated')),
    last_login_at  TIMESTAMP,
    login_count    BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    deactivated_at TIMESTAMP
);
CREATE UNIQUE INDEX users_email_key_uq ON users (email_key);
CREATE UNIQUE INDEX users_username_key_uq ON users (username_key);
CREATE UNIQUE INDEX users_external_id_uq ON users (external_id);
CREATE INDEX users_created_at_idx ON users (created_at, id);
CREATE INDEX users_status_created_at_idx ON users (status, created_at, id);
CREATE INDEX users_last_login_at_idx ON users (last_login_at, id);
CREATE INDEX users_name_idx ON users (name, id);

CREATE TABLE user_roles (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL REFERENCES roles (name),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role_idx ON user_roles (role, user_id);

CREATE TABLE tenant_memberships (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    role       TEXT NOT NULL REFERENCES roles (name),
    is_main    BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX tenant_memberships_tenant_idx ON tenant_memberships (tenant_id, user_id);
CREATE UNIQUE INDEX tenant_memberships_one_main_uq ON tenant_memberships (user_id) WHERE is_main = 1;

CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP,
    revoke_reason TEXT,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Every refresh token a session was ever given; rotated ones keep used_at so that reuse
-- of a rotated token is recognised and revokes the session.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- No foreign key on user_id: events outlive the users they describe.
CREATE TABLE audit_events (
    id       BLOB PRIMARY KEY,
    at       TIMESTAMP NOT NULL,
    actor_id TEXT NOT NULL,
    action   TEXT NOT NULL,
    user_id  BLOB,
    ip       TEXT,
    details  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at, id);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, at);
CREATE INDEX audit_events_action_idx ON audit_events (action, at);

CREATE TABLE mail_outbox (
    id              BLOB PRIMARY KEY,
    template        TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMP,
    sent_at         TIMESTAMP,
    abandoned_at    TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND abandoned_at IS NULL;

-- Leases for background jobs, so that one instance at a time runs each.
CREATE TABLE job_leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    leased_until TIMESTAMP NOT NULL
);
