//! [`MemoryAuditLog`].

use async_trait::async_trait;

use super::Shared;
use crate::audit::AuditEvent;
use crate::error::InfraError;
use crate::ports::AuditLog;

/// The audit log of a [`super::MemoryStore`]; read it back with
/// [`super::MemoryStore::audit_events`].
#[derive(Debug, Clone)]
pub struct MemoryAuditLog {
    shared: Shared,
}

impl MemoryAuditLog {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl AuditLog for MemoryAuditLog {
    async fn record(&self, event: AuditEvent) -> Result<(), InfraError> {
        self.shared.lock().audit.push(event);
        Ok(())
    }
}
