//! [`MemorySessionRepository`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{RefreshRecord, SessionRecord, Shared};
use crate::audit::AuditEvent;
use crate::error::InfraError;
use crate::ports::{RefreshOutcome, RefreshRotation, SessionRepository};
use crate::session::{
    NewSession, PresentedRefreshToken, RefreshDecision, RevokeReason, SessionId, SessionInfo,
    decide_refresh,
};
use crate::user::{User, UserId, UserStatus};

/// Sessions in a [`super::MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemorySessionRepository {
    shared: Shared,
}

impl MemorySessionRepository {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

/// Whether a session is live at `now`: not revoked, not past its absolute end.
fn live_at(session: &SessionRecord, now: DateTime<Utc>) -> bool {
    session.revoked_at.is_none() && now < session.expires_at
}

#[async_trait]
impl SessionRepository for MemorySessionRepository {
    async fn start(
        &self,
        session: NewSession,
        audit: AuditEvent,
        max_sessions: u32,
    ) -> Result<User, InfraError> {
        let mut state = self.shared.lock();
        if !state.users.contains_key(&session.user_id) {
            return Err(InfraError::unexpected("a session for an unknown user"));
        }
        if state.sessions.contains_key(&session.id)
            || state
                .refresh
                .contains_key(session.refresh_token_hash.as_str())
        {
            return Err(InfraError::unexpected("duplicate session id or token hash"));
        }
        let now = session.created_at;
        if max_sessions > 0 {
            let keep = usize::try_from(max_sessions)
                .unwrap_or(usize::MAX)
                .saturating_sub(1);
            let mut live: Vec<&SessionRecord> = state
                .sessions
                .values()
                .filter(|s| s.user_id == session.user_id && live_at(s, now))
                .collect();
            // Newest first; the newest `keep` stay beside the new one.
            live.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id.as_uuid())));
            let excess: Vec<SessionId> = live.iter().skip(keep).map(|s| s.id).collect();
            for id in excess {
                if let Some(old) = state.sessions.get_mut(&id) {
                    old.revoked_at = Some(now);
                    old.revoke_reason = Some("max_sessions");
                }
            }
        }
        state.sessions.insert(
            session.id,
            SessionRecord {
                id: session.id,
                user_id: session.user_id,
                created_at: now,
                last_used_at: now,
                expires_at: session.expires_at,
                ip: session.ip,
                user_agent: session.user_agent,
                revoked_at: None,
                revoke_reason: None,
            },
        );
        state.refresh.insert(
            session.refresh_token_hash.as_str().to_owned(),
            RefreshRecord {
                session_id: session.id,
                expires_at: session.refresh_expires_at,
                used_at: None,
            },
        );
        state.audit.push(audit);
        let Some(record) = state.users.get_mut(&session.user_id) else {
            return Err(InfraError::unexpected("a session for an unknown user"));
        };
        record.user.last_login_at = Some(now);
        record.user.login_count += 1;
        Ok(record.user.clone())
    }

    async fn live_session_user(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, InfraError> {
        let state = self.shared.lock();
        let live = state
            .sessions
            .get(&session)
            .is_some_and(|s| s.user_id == user && live_at(s, now));
        if !live {
            return Ok(None);
        }
        Ok(state
            .users
            .get(&user)
            .filter(|r| r.user.status == UserStatus::Active)
            .map(|r| r.user.clone()))
    }

    async fn rotate_refresh(
        &self,
        rotation: RefreshRotation,
    ) -> Result<RefreshOutcome, InfraError> {
        let mut state = self.shared.lock();
        let presented = rotation.presented.as_str();
        let Some(token) = state.refresh.get(presented).cloned() else {
            return Ok(RefreshOutcome::Invalid);
        };
        let Some(session) = state.sessions.get(&token.session_id).cloned() else {
            return Err(InfraError::unexpected(
                "a refresh token without its session",
            ));
        };
        let Some(status) = state.users.get(&session.user_id).map(|r| r.user.status) else {
            return Err(InfraError::unexpected("a session without its user"));
        };
        let found = PresentedRefreshToken {
            session_id: session.id,
            user_id: session.user_id,
            token_expires_at: token.expires_at,
            used: token.used_at.is_some(),
            session_expires_at: session.expires_at,
            session_revoked: session.revoked_at.is_some(),
            user_status: status,
        };
        let now = rotation.now;
        // Under the lock nobody can rotate the token between the read and the write, so
        // the decision needs no second look.
        match decide_refresh(&found, now, rotation.refresh_ttl, &rotation.ctx) {
            RefreshDecision::Rotate { next_expires_at } => {
                if state.refresh.contains_key(rotation.next.as_str()) {
                    return Err(InfraError::unexpected("duplicate refresh token hash"));
                }
                if let Some(token) = state.refresh.get_mut(presented) {
                    token.used_at = Some(now);
                }
                state.refresh.insert(
                    rotation.next.as_str().to_owned(),
                    RefreshRecord {
                        session_id: session.id,
                        expires_at: next_expires_at,
                        used_at: None,
                    },
                );
                if let Some(session) = state.sessions.get_mut(&session.id) {
                    session.last_used_at = now;
                }
                let Some(user) = state.users.get(&session.user_id).map(|r| r.user.clone()) else {
                    return Err(InfraError::unexpected("a session without its user"));
                };
                Ok(RefreshOutcome::Rotated {
                    session_id: session.id,
                    user: Box::new(user),
                })
            }
            RefreshDecision::RevokeForReuse { audit } => {
                if let Some(session) = state.sessions.get_mut(&session.id)
                    && session.revoked_at.is_none()
                {
                    session.revoked_at = Some(now);
                    session.revoke_reason = Some(RevokeReason::TokenReused.as_str());
                }
                state.audit.push(*audit);
                Ok(RefreshOutcome::Reused {
                    session_id: session.id,
                })
            }
            RefreshDecision::Refuse => Ok(RefreshOutcome::Invalid),
        }
    }

    async fn revoke(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: AuditEvent,
    ) -> Result<bool, InfraError> {
        let mut state = self.shared.lock();
        let Some(found) = state
            .sessions
            .get_mut(&session)
            .filter(|s| s.user_id == user && live_at(s, now))
        else {
            return Ok(false);
        };
        found.revoked_at = Some(now);
        found.revoke_reason = Some(reason.as_str());
        state.audit.push(audit);
        Ok(true)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        reason: RevokeReason,
        audit: AuditEvent,
    ) -> Result<u64, InfraError> {
        let mut state = self.shared.lock();
        let mut revoked: u64 = 0;
        for session in state.sessions.values_mut() {
            if session.user_id == user && live_at(session, now) {
                session.revoked_at = Some(now);
                session.revoke_reason = Some(reason.as_str());
                revoked += 1;
            }
        }
        state
            .audit
            .push(audit.with("sessions_revoked", revoked.to_string()));
        Ok(revoked)
    }

    async fn live_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionInfo>, InfraError> {
        let state = self.shared.lock();
        let mut live: Vec<&SessionRecord> = state
            .sessions
            .values()
            .filter(|s| s.user_id == user && live_at(s, now))
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse((s.last_used_at, s.id.as_uuid())));
        Ok(live
            .into_iter()
            .map(|s| SessionInfo {
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
            })
            .collect())
    }
}
