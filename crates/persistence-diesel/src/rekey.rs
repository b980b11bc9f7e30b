//! `roster rekey`: rewrites, in batches and while the service runs, every encrypted email
//! field that is not under the current key (written under a previous key, or before
//! encryption), and re-indexes `users.email_key` with the current key.
//!
//! Each row is rewritten by its own conditional update (`... WHERE id = ? AND email = <the
//! value read>`): a row that a request changed in the meantime is left alone (the request
//! wrote it under the current key already). Rows are walked by primary key, so a row that
//! cannot be rewritten (unreadable, or its address taken under the current key) is counted
//! and skipped, never retried forever.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::user::Email;

use crate::db::Database;
use crate::error::DbError;
use crate::schema::{mail_outbox, one_time_tokens, users};
use crate::types::Id;
use crate::vault::Field;

/// What a rekey pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RekeyReport {
    /// Users whose email (and blind index) were rewritten under the current key.
    pub users: u64,
    /// One-time tokens whose pending address was rewritten.
    pub tokens: u64,
    /// Outbox messages whose recipient and payload were rewritten.
    pub outbox: u64,
    /// Rows that could not be rewritten (logged with their id): unreadable under every
    /// configured key, or, for a user, the address is held by another account.
    pub failed: u64,
}

/// What one batch did: rows seen, the last key seen, rows rewritten, rows failed.
struct Batch<K> {
    seen: usize,
    last: Option<K>,
    rewritten: u64,
    failed: u64,
}

impl Database {
    /// Rewrites every email field not under the current key, `batch` rows at a time.
    /// Safe to run while instances serve requests (each of which must already know the
    /// current key, as current or previous) and to run again: a second pass finds nothing.
    ///
    /// # Errors
    /// [`InfraError`] when the database fails; unreadable rows are counted, not errors.
    pub async fn rekey_emails(&self, batch: u32) -> Result<RekeyReport, InfraError> {
        self.rekey_inner(i64::from(batch.max(1)))
            .await
            .map_err(InfraError::from)
    }

    async fn rekey_inner(&self, limit: i64) -> Result<RekeyReport, DbError> {
        let mut report = RekeyReport::default();
        let mut after = Id(uuid::Uuid::nil());
        loop {
            let batch = self.rekey_users(after, limit).await?;
            report.users += batch.rewritten;
            report.failed += batch.failed;
            tracing::info!(rewritten = report.users, "rekey: users");
            match batch.last {
                Some(last) if batch.seen as i64 == limit => after = last,
                _ => break,
            }
        }
        let mut after = String::new();
        loop {
            let batch = self.rekey_tokens(&after, limit).await?;
            report.tokens += batch.rewritten;
            report.failed += batch.failed;
            match batch.last {
                Some(last) if batch.seen as i64 == limit => after = last,
                _ => break,
            }
        }
        let mut after = Id(uuid::Uuid::nil());
        loop {
            let batch = self.rekey_outbox(after, limit).await?;
            report.outbox += batch.rewritten;
            report.failed += batch.failed;
            match batch.last {
                Some(last) if batch.seen as i64 == limit => after = last,
                _ => break,
            }
        }
        Ok(report)
    }

    async fn rekey_users(&self, after: Id, limit: i64) -> Result<Batch<Id>, DbError> {
        let pattern = self.keys.current_pattern();
        crate::with_conn!(self, conn => {
            let rows: Vec<(Id, Option<String>)> = users::table
                .filter(users::id.gt(after))
                .filter(users::email.is_not_null())
                .filter(users::email.not_like(&pattern))
                .order(users::id.asc())
                .limit(limit)
                .select((users::id, users::email))
                .load(conn)
                .await?;
            let mut batch = Batch { seen: rows.len(), last: rows.last().map(|r| r.0), rewritten: 0, failed: 0 };
            for (id, stored) in rows {
                let Some(stored) = stored else { continue };
                let rewritten = self
                    .keys
                    .decrypt(Field::UserEmail, id.0.as_bytes(), &stored)
                    .map_err(DbError::from)
                    .and_then(|plain| Email::parse(&plain).map_err(|e| crate::error::corrupt(format!("stored email: {e}"))))
                    .and_then(|email| {
                        let value = self.keys.encrypt(Field::UserEmail, id.0.as_bytes(), email.as_str())?;
                        Ok((value, self.keys.index(email.key())))
                    });
                let (value, index) = match rewritten {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::error!(user_id = %id.0, %error, "rekey: cannot read this user's email");
                        batch.failed += 1;
                        continue;
                    }
                };
                let updated = diesel::update(users::table.filter(users::id.eq(id)).filter(users::email.eq(&stored)))
                    .set((users::email.eq(value), users::email_key.eq(index)))
                    .execute(conn)
                    .await
                    .map_err(DbError::from);
                match updated {
                    Ok(n) => batch.rewritten += n as u64,
                    Err(error) if error.unique_clash().is_some() => {
                        tracing::error!(user_id = %id.0, "rekey: another account holds this user's address under the current key");
                        batch.failed += 1;
                    }
                    Err(error) => return Err(error),
                }
            }
            Ok(batch)
        })
    }

    async fn rekey_tokens(&self, after: &str, limit: i64) -> Result<Batch<String>, DbError> {
        let pattern = self.keys.current_pattern();
        crate::with_conn!(self, conn => {
            let rows: Vec<(String, Option<String>)> = one_time_tokens::table
                .filter(one_time_tokens::token_hash.gt(after))
                .filter(one_time_tokens::email.is_not_null())
                .filter(one_time_tokens::email.not_like(&pattern))
                .order(one_time_tokens::token_hash.asc())
                .limit(limit)
                .select((one_time_tokens::token_hash, one_time_tokens::email))
                .load(conn)
                .await?;
            let mut batch = Batch { seen: rows.len(), last: rows.last().map(|r| r.0.clone()), rewritten: 0, failed: 0 };
            for (hash, stored) in rows {
                let Some(stored) = stored else { continue };
                let value = self
                    .keys
                    .decrypt(Field::TokenEmail, hash.as_bytes(), &stored)
                    .and_then(|plain| self.keys.encrypt(Field::TokenEmail, hash.as_bytes(), &plain));
                let value = match value {
                    Ok(value) => value,
                    Err(error) => {
                        // The hash identifies a secret token: log that one failed, not which.
                        tracing::error!(%error, "rekey: cannot read a one-time token's address");
                        batch.failed += 1;
                        continue;
                    }
                };
                let n = diesel::update(
                    one_time_tokens::table
                        .filter(one_time_tokens::token_hash.eq(&hash))
                        .filter(one_time_tokens::email.eq(&stored)),
                )
                .set(one_time_tokens::email.eq(value))
                .execute(conn)
                .await?;
                batch.rewritten += n as u64;
            }
            Ok(batch)
        })
    }

    async fn rekey_outbox(&self, after: Id, limit: i64) -> Result<Batch<Id>, DbError> {
        let pattern = self.keys.current_pattern();
        crate::with_conn!(self, conn => {
            let rows: Vec<(Id, String, String)> = mail_outbox::table
                .filter(mail_outbox::id.gt(after))
                .filter(
                    mail_outbox::recipient.not_like(&pattern).or(mail_outbox::payload
                        .not_like(&pattern)
                        .and(mail_outbox::payload.ne(SENT_PAYLOAD))),
                )
                .order(mail_outbox::id.asc())
                .limit(limit)
                .select((mail_outbox::id, mail_outbox::recipient, mail_outbox::payload))
                .load(conn)
                .await?;
            let mut batch = Batch { seen: rows.len(), last: rows.last().map(|r| r.0), rewritten: 0, failed: 0 };
            for (id, recipient, payload) in rows {
                let row = id.0.as_bytes();
                let rewrite = |field: Field, stored: &str| -> Result<String, crate::vault::VaultError> {
                    if stored == SENT_PAYLOAD {
                        return Ok(stored.to_owned());
                    }
                    let plain = self.keys.decrypt(field, row, stored)?;
                    self.keys.encrypt(field, row, &plain)
                };
                let values = rewrite(Field::OutboxRecipient, &recipient)
                    .and_then(|r| Ok((r, rewrite(Field::OutboxPayload, &payload)?)));
                let (new_recipient, new_payload) = match values {
                    Ok(values) => values,
                    Err(error) => {
                        tracing::error!(mail_id = %id.0, %error, "rekey: cannot read an outbox message");
                        batch.failed += 1;
                        continue;
                    }
                };
                let n = diesel::update(
                    mail_outbox::table
                        .filter(mail_outbox::id.eq(id))
                        .filter(mail_outbox::recipient.eq(&recipient))
                        .filter(mail_outbox::payload.eq(&payload)),
                )
                .set((mail_outbox::recipient.eq(new_recipient), mail_outbox::payload.eq(new_payload)))
                .execute(conn)
                .await?;
                batch.rewritten += n as u64;
            }
            Ok(batch)
        })
    }
}

/// The payload of a delivered message: emptied, it holds nothing to protect.
pub(crate) const SENT_PAYLOAD: &str = "{}";
