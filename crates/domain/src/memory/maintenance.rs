//! [`MemoryMaintenance`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Lease, Shared};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::error::InfraError;
use crate::ports::{CleanupCutoffs, CleanupReport, Maintenance};
use crate::session::SessionId;
use crate::token::TokenPurpose;
use crate::user::{UserId, UserStatus};

/// Job leases and cleanup over a [`super::MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryMaintenance {
    shared: Shared,
}

impl MemoryMaintenance {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl Maintenance for MemoryMaintenance {
    async fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut state = self.shared.lock();
        let free = state
            .leases
            .get(job)
            .is_none_or(|lease| lease.until <= now || lease.holder == holder);
        if free {
            state.leases.insert(
                job.to_owned(),
                Lease {
                    holder: holder.to_owned(),
                    until,
                },
            );
        }
        Ok(free)
    }

    async fn cleanup(&self, cutoffs: CleanupCutoffs) -> Result<CleanupReport, InfraError> {
        let mut state = self.shared.lock();
        let now = cutoffs.now;
        // A pending account whose confirmation was resent keeps its newer link alive.
        let stale: Vec<UserId> = state
            .users
            .values()
            .filter(|r| {
                r.user.status == UserStatus::Pending
                    && r.user.created_at <= cutoffs.pending_created_before
                    && !state.tokens.values().any(|t| {
                        t.user_id == r.user.id
                            && t.purpose == TokenPurpose::EmailConfirmation
                            && t.expires_at > now
                    })
            })
            .map(|r| r.user.id)
            .collect();
        let mut report = CleanupReport::default();
        for id in stale {
            if state.erase_user(id) {
                report.pending_accounts += 1;
                state.audit.push(
                    AuditEvent::new(
                        now,
                        Actor::System,
                        AuditAction::PendingUserExpired,
                        Some(id),
                        &RequestContext::default(),
                    )
                    .with("reason", "cleanup"),
                );
            }
        }
        let before = state.tokens.len();
        state.tokens.retain(|_, t| t.expires_at > now);
        report.tokens = (before - state.tokens.len()) as u64;
        let dead: Vec<SessionId> = state
            .sessions
            .values()
            .filter(|s| {
                s.revoked_at
                    .is_some_and(|at| at <= cutoffs.sessions_dead_before)
                    || s.expires_at <= cutoffs.sessions_dead_before
            })
            .map(|s| s.id)
            .collect();
        report.sessions = dead.len() as u64;
        for id in dead {
            state.erase_session(id);
        }
        Ok(report)
    }
}
