//! Row structs and their conversion to and from domain types.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use roster_domain::audit::AuditEvent;
use roster_domain::mail::{MailKind, OutgoingMail};
use roster_domain::role::RoleName;
use roster_domain::tenant::{TenantId, TenantMembership};
use roster_domain::user::{
    AvatarUrl, Email, Name, NewUser, Phone, Profile, User, UserId, UserStatus, Username,
};

use crate::error::{DbError, corrupt};
use crate::schema::{
    audit_events, mail_outbox, one_time_tokens, tenant_memberships, user_roles, users,
};
use crate::types::Id;
use crate::vault::{EmailKeys, Field};

pub(crate) fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

pub(crate) fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct UserRow {
    pub id: Id,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<String>,
    pub status: String,
    pub last_login_at: Option<NaiveDateTime>,
    pub login_count: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deactivated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenant_memberships, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct TenantRow {
    pub tenant_id: String,
    pub role: String,
    pub is_main: bool,
    pub created_at: NaiveDateTime,
}

fn optional<T, E: std::fmt::Display>(
    value: Option<String>,
    parse: impl Fn(&str) -> Result<T, E>,
    what: &str,
) -> Result<Option<T>, DbError> {
    value
        .map(|v| parse(&v).map_err(|e| corrupt(format!("stored {what}: {e}"))))
        .transpose()
}

impl UserRow {
    pub(crate) fn into_user(
        self,
        roles: Vec<String>,
        tenants: Vec<TenantRow>,
        keys: &EmailKeys,
    ) -> Result<User, DbError> {
        let email = self
            .email
            .map(|stored| keys.decrypt(Field::UserEmail, self.id.0.as_bytes(), &stored))
            .transpose()?;
        let roles = roles
            .iter()
            .map(|r| RoleName::parse(r).map_err(|e| corrupt(format!("stored role: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if roles.is_empty() {
            return Err(corrupt("user without roles"));
        }
        let tenants = tenants
            .into_iter()
            .map(|t| {
                Ok(TenantMembership {
                    tenant_id: TenantId::parse(&t.tenant_id)
                        .map_err(|e| corrupt(format!("tenant id: {e}")))?,
                    role: RoleName::parse(&t.role)
                        .map_err(|e| corrupt(format!("tenant role: {e}")))?,
                    main: t.is_main,
                    created_at: utc(t.created_at),
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        Ok(User {
            id: UserId::from_uuid(self.id.0),
            external_id: self.external_id,
            email: optional(email, Email::parse, "email")?,
            email_verified: self.email_verified,
            username: Username::parse(&self.username)
                .map_err(|e| corrupt(format!("stored username: {e}")))?,
            name: optional(self.name, Name::parse, "name")?,
            phone: optional(self.phone, Phone::parse, "phone")?,
            avatar_url: optional(self.avatar_url, AvatarUrl::parse, "avatar_url")?,
            profile: Profile::restore(
                self.first_name,
                self.last_name,
                self.birth_date,
                self.gender,
            ),
            status: UserStatus::parse(&self.status).ok_or_else(|| corrupt("stored status"))?,
            roles,
            tenants,
            last_login_at: self.last_login_at.map(utc),
            login_count: self.login_count,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            deactivated_at: self.deactivated_at.map(utc),
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow {
    pub id: Id,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub email_key: Option<String>,
    pub email_verified: bool,
    pub username: String,
    pub username_key: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<String>,
    pub password_hash: Option<String>,
    pub status: String,
    pub login_count: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewUserRow {
    /// The row of a new user, its email encrypted and indexed under the current key.
    pub(crate) fn new(user: &NewUser, keys: &EmailKeys) -> Result<Self, DbError> {
        let id = user.id.as_uuid();
        Ok(Self {
            id: Id(id),
            external_id: user.external_id.clone(),
            email: user
                .email
                .as_ref()
                .map(|e| keys.encrypt(Field::UserEmail, id.as_bytes(), e.as_str()))
                .transpose()?,
            email_key: user.email.as_ref().map(|e| keys.index(e.key())),
            email_verified: user.email_verified,
            username: user.username.as_str().to_owned(),
            username_key: user.username.key().to_owned(),
            name: user.name.as_ref().map(|n| n.as_str().to_owned()),
            phone: user.phone.as_ref().map(|p| p.as_str().to_owned()),
            avatar_url: user.avatar_url.as_ref().map(|a| a.as_str().to_owned()),
            first_name: user.profile.first_name().map(str::to_owned),
            last_name: user.profile.last_name().map(str::to_owned),
            birth_date: user.profile.birth_date(),
            gender: user.profile.gender().map(str::to_owned),
            password_hash: user.password_hash.as_ref().map(|h| h.as_str().to_owned()),
            status: user.status.as_str().to_owned(),
            login_count: 0,
            created_at: naive(user.created_at),
            updated_at: naive(user.created_at),
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_roles)]
pub(crate) struct UserRoleRow {
    pub user_id: Id,
    pub role: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = one_time_tokens, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct TokenRow {
    pub token_hash: String,
    pub purpose: String,
    pub user_id: Id,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl TokenRow {
    /// The row of a new one-time token; its pending address is encrypted, bound to the
    /// token's hash.
    pub(crate) fn new(
        token: &roster_domain::token::NewOneTimeToken,
        keys: &EmailKeys,
    ) -> Result<Self, DbError> {
        let token_hash = token.hash.as_str().to_owned();
        Ok(Self {
            email: token
                .email
                .as_ref()
                .map(|e| keys.encrypt(Field::TokenEmail, token_hash.as_bytes(), e.as_str()))
                .transpose()?,
            token_hash,
            purpose: token.purpose.as_str().to_owned(),
            user_id: Id(token.user_id.as_uuid()),
            created_at: naive(token.created_at),
            expires_at: naive(token.expires_at),
        })
    }

    /// The pending address this token confirms, decrypted.
    pub(crate) fn pending_email(&self, keys: &EmailKeys) -> Result<Option<Email>, DbError> {
        let Some(stored) = &self.email else {
            return Ok(None);
        };
        let raw = keys.decrypt(Field::TokenEmail, self.token_hash.as_bytes(), stored)?;
        Email::parse(&raw)
            .map(Some)
            .map_err(|e| corrupt(format!("token email: {e}")))
    }
}

/// The columns a change of an account sets; `None` leaves a column alone.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct UserChangeRow {
    pub username: Option<String>,
    pub username_key: Option<String>,
    pub name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub birth_date: Option<Option<chrono::NaiveDate>>,
    pub gender: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub email_key: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub password_hash: Option<Option<String>>,
    pub updated_at: NaiveDateTime,
}

impl UserChangeRow {
    /// The changes of an account update; a new email is encrypted and indexed under the
    /// current key.
    pub(crate) fn new(
        u: &roster_domain::ports::AccountUpdate,
        keys: &EmailKeys,
    ) -> Result<Self, DbError> {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        let email = u
            .email
            .as_ref()
            .map(|e| keys.encrypt(Field::UserEmail, u.user.as_uuid().as_bytes(), e.as_str()))
            .transpose()?;
        Ok(Self {
            username: u.username.as_ref().map(|n| n.as_str().to_owned()),
            username_key: u.username.as_ref().map(|n| n.key().to_owned()),
            name: u
                .name
                .as_ref()
                .map(|n| n.as_ref().map(|n| n.as_str().to_owned())),
            phone: u
                .phone
                .as_ref()
                .map(|p| p.as_ref().map(|p| p.as_str().to_owned())),
            avatar_url: u
                .avatar_url
                .as_ref()
                .map(|a| a.as_ref().map(|a| a.as_str().to_owned())),
            first_name: u.profile.as_ref().map(|p| owned(p.first_name())),
            last_name: u.profile.as_ref().map(|p| owned(p.last_name())),
            birth_date: u
                .profile
                .as_ref()
                .map(roster_domain::user::Profile::birth_date),
            gender: u.profile.as_ref().map(|p| owned(p.gender())),
            email: email.map(Some),
            email_key: u.email.as_ref().map(|e| Some(keys.index(e.key()))),
            email_verified: u.email.as_ref().map(|_| false),
            password_hash: u
                .password_hash
                .as_ref()
                .map(|h| Some(h.as_str().to_owned())),
            updated_at: naive(u.now),
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub(crate) struct AuditRow {
    pub id: Id,
    pub at: NaiveDateTime,
    pub actor_id: String,
    pub action: String,
    pub user_id: Option<Id>,
    pub ip: Option<String>,
    pub details: String,
}

impl From<&AuditEvent> for AuditRow {
    fn from(event: &AuditEvent) -> Self {
        Self {
            id: Id(event.id),
            at: naive(event.at),
            actor_id: event.actor.to_string(),
            action: event.action.as_str().to_owned(),
            user_id: event.user_id.map(|u| Id(u.as_uuid())),
            ip: event.ip.clone(),
            // Details never hold an address; should a caller put one there, it is not stored.
            details: serde_json::to_string(
                &event
                    .details
                    .iter()
                    .map(|(k, v)| (k, crate::vault::without_addresses(v)))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = mail_outbox)]
pub(crate) struct NewOutboxRow {
    pub id: Id,
    pub template: String,
    pub recipient: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub attempts: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct OutboxRow {
    pub id: Id,
    pub recipient: String,
    pub payload: String,
    pub attempts: i32,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Payload {
    Confirmation {
        to_name: Option<String>,
        token: String,
        expires_at: DateTime<Utc>,
    },
    PasswordReset {
        to_name: Option<String>,
        token: String,
        expires_at: DateTime<Utc>,
    },
}

impl NewOutboxRow {
    /// The outbox row of a message: recipient and payload (which holds a live token) are
    /// encrypted, bound to the message's id.
    pub(crate) fn new(
        mail: &OutgoingMail,
        now: DateTime<Utc>,
        keys: &EmailKeys,
    ) -> Result<Self, DbError> {
        let payload = match &mail.kind {
            MailKind::Confirmation { token, expires_at } => Payload::Confirmation {
                to_name: mail.to_name.clone(),
                token: token.clone(),
                expires_at: *expires_at,
            },
            MailKind::PasswordReset { token, expires_at } => Payload::PasswordReset {
                to_name: mail.to_name.clone(),
                token: token.clone(),
                expires_at: *expires_at,
            },
        };
        let id = uuid::Uuid::now_v7();
        let payload =
            serde_json::to_string(&payload).map_err(|e| corrupt(format!("outbox payload: {e}")))?;
        Ok(Self {
            id: Id(id),
            template: mail.kind.template().to_owned(),
            recipient: keys.encrypt(Field::OutboxRecipient, id.as_bytes(), &mail.to)?,
            payload: keys.encrypt(Field::OutboxPayload, id.as_bytes(), &payload)?,
            created_at: naive(now),
            next_attempt_at: naive(now),
            attempts: 0,
        })
    }
}

impl OutboxRow {
    pub(crate) fn into_mail(
        self,
        keys: &EmailKeys,
    ) -> Result<roster_domain::mail::QueuedMail, DbError> {
        let id = self.id.0;
        let recipient = keys.decrypt(Field::OutboxRecipient, id.as_bytes(), &self.recipient)?;
        let payload = keys.decrypt(Field::OutboxPayload, id.as_bytes(), &self.payload)?;
        let payload: Payload =
            serde_json::from_str(&payload).map_err(|e| corrupt(format!("outbox payload: {e}")))?;
        let (to_name, kind) = match payload {
            Payload::Confirmation {
                to_name,
                token,
                expires_at,
            } => (to_name, MailKind::Confirmation { token, expires_at }),
            Payload::PasswordReset {
                to_name,
                token,
                expires_at,
            } => (to_name, MailKind::PasswordReset { token, expires_at }),
        };
        Ok(roster_domain::mail::QueuedMail {
            id: self.id.0,
            mail: OutgoingMail {
                to: recipient,
                to_name,
                kind,
            },
            attempts: u32::try_from(self.attempts).unwrap_or(0),
        })
    }
}
