//! The one portable schema, valid for SQLite and PostgreSQL alike. Ids use [`DbUuid`],
//! `uuid` on PostgreSQL and a 16-byte BLOB on SQLite; timestamps are UTC `Timestamp`.

diesel::table! {
    use diesel::sql_types::*;

    roles (name) {
        name -> Text,
        description -> Nullable<Text>,
        built_in -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    users (id) {
        id -> DbUuid,
        external_id -> Nullable<Text>,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        email_verified -> Bool,
        username -> Text,
        username_key -> Text,
        name -> Nullable<Text>,
        phone -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        gender -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        status -> Text,
        last_login_at -> Nullable<Timestamp>,
        login_count -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deactivated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    user_roles (user_id, role) {
        user_id -> DbUuid,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    tenant_memberships (user_id, tenant_id) {
        user_id -> DbUuid,
        tenant_id -> Text,
        role -> Text,
        is_main -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    one_time_tokens (token_hash) {
        token_hash -> Text,
        purpose -> Text,
        user_id -> DbUuid,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    sessions (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoke_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> DbUuid,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    audit_events (id) {
        id -> DbUuid,
        at -> Timestamp,
        actor_id -> Text,
        action -> Text,
        user_id -> Nullable<DbUuid>,
        ip -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    mail_outbox (id) {
        id -> DbUuid,
        template -> Text,
        recipient -> Text,
        payload -> Text,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        abandoned_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    job_leases (name) {
        name -> Text,
        holder -> Text,
        leased_until -> Timestamp,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role));
diesel::joinable!(tenant_memberships -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    roles,
    users,
    user_roles,
    tenant_memberships,
    one_time_tokens,
    sessions,
    refresh_tokens,
    audit_events,
    mail_outbox,
    job_leases,
);
