//! [`MemoryUserAdministration`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Shared, State};
use crate::audit::AuditEvent;
use crate::error::InfraError;
use crate::policy::{LastAdminFacts, last_admin_guard};
use crate::ports::{
    AdminChange, AdminChangeError, AuditPage, AuditQuery, AuditRecord, CreateRoleError, Role,
    RoleChange, StatusChange, TenantChange, UserAdministration,
};
use crate::role::RoleName;
use crate::tenant::TenantMembership;
use crate::user::{User, UserId, UserStatus};

/// Administration over a [`super::MemoryStore`]: changes of users, roles and memberships,
/// and the audit log as read back.
///
/// The store's one lock serialises every call, so the last-admin rule is race-free: the
/// guard reads the target and counts the active administrators under the same lock that
/// makes the change.
#[derive(Debug, Clone)]
pub struct MemoryUserAdministration {
    shared: Shared,
}

impl MemoryUserAdministration {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

impl State {
    /// The last-admin rule on `id` as stored: `NotFound` for no such user, `LastAdmin` when
    /// the change would take ADMIN away from the last active administrator.
    fn guard_last_admin(&self, id: UserId) -> Result<(), AdminChangeError> {
        let Some(target) = self.users.get(&id) else {
            return Err(AdminChangeError::NotFound);
        };
        let admin = RoleName::admin();
        let active_admins = self
            .users
            .values()
            .filter(|r| r.user.status == UserStatus::Active && r.user.has_role(&admin))
            .count();
        let facts = LastAdminFacts::of(
            &target.user.roles,
            target.user.status,
            u64::try_from(active_admins).unwrap_or(u64::MAX),
        );
        last_admin_guard(&facts).map_err(AdminChangeError::LastAdmin)
    }

    /// Every rule of `change` on `target` as stored, checked before anything is written.
    fn check_change(&self, target: &User, change: &AdminChange) -> Result<(), AdminChangeError> {
        match &change.role {
            Some(RoleChange::Add(role)) => {
                if !self.roles.contains_key(role) {
                    return Err(AdminChangeError::UnknownRole);
                }
                if target.has_role(role) {
                    return Err(AdminChangeError::RoleAlreadyAssigned);
                }
            }
            Some(RoleChange::Remove(role)) => {
                if !target.has_role(role) {
                    return Err(AdminChangeError::RoleNotAssigned);
                }
                if target.roles.len() <= 1 {
                    return Err(AdminChangeError::LastRole);
                }
            }
            None => {}
        }
        match &change.tenant {
            Some(TenantChange::Set { tenant, role, main }) => {
                if !self.roles.contains_key(role) {
                    return Err(AdminChangeError::UnknownRole);
                }
                let current = target.tenants.iter().find(|m| &m.tenant_id == tenant);
                if *main == Some(false) && current.is_some_and(|m| m.main) {
                    return Err(AdminChangeError::MainRequired);
                }
            }
            Some(TenantChange::Remove(tenant))
                if !target.tenants.iter().any(|m| &m.tenant_id == tenant) =>
            {
                return Err(AdminChangeError::MembershipNotFound);
            }
            Some(TenantChange::Remove(_)) | None => {}
        }
        // Uniqueness, in the order the database's unique indexes are checked.
        let id = target.id;
        if let Some(email) = &change.fields.email
            && self.email_taken(email.key(), Some(id))
        {
            return Err(AdminChangeError::EmailTaken);
        }
        if let Some(username) = &change.fields.username
            && self.username_taken(username.key(), Some(id))
        {
            return Err(AdminChangeError::UsernameTaken);
        }
        if let Some(external) = &change.fields.external_id
            && self
                .users
                .values()
                .any(|r| r.user.id != id && r.user.external_id.as_ref() == Some(external))
        {
            return Err(AdminChangeError::ExternalIdTaken);
        }
        Ok(())
    }
}

/// Applies the field changes of `change` to `user`.
fn apply_fields(user: &mut User, change: &AdminChange) {
    let f = change.fields.clone();
    if let Some(username) = f.username {
        user.username = username;
    }
    if let Some(name) = f.name {
        user.name = name;
    }
    if let Some(phone) = f.phone {
        user.phone = phone;
    }
    if let Some(avatar_url) = f.avatar_url {
        user.avatar_url = avatar_url;
    }
    if let Some(profile) = f.profile {
        user.profile = profile;
    }
    if let Some(email) = f.email {
        user.email = Some(email);
        user.email_verified = false;
    }
    if let Some(verified) = f.email_verified {
        user.email_verified = verified;
    }
    if let Some(external) = f.external_id {
        user.external_id = Some(external);
    }
}

/// Applies a (checked) membership change to `tenants`, kept oldest first.
fn apply_tenant(tenants: &mut Vec<TenantMembership>, change: &TenantChange, now: DateTime<Utc>) {
    match change {
        TenantChange::Set { tenant, role, main } => {
            let make_main = *main == Some(true) || tenants.is_empty();
            if make_main {
                for m in tenants.iter_mut().filter(|m| &m.tenant_id != tenant) {
                    m.main = false;
                }
            }
            if let Some(existing) = tenants.iter_mut().find(|m| &m.tenant_id == tenant) {
                existing.role = role.clone();
                existing.main = make_main || existing.main;
            } else {
                tenants.push(TenantMembership {
                    tenant_id: tenant.clone(),
                    role: role.clone(),
                    main: make_main,
                    created_at: now,
                });
            }
        }
        TenantChange::Remove(tenant) => {
            let was_main = tenants.iter().any(|m| &m.tenant_id == tenant && m.main);
            tenants.retain(|m| &m.tenant_id != tenant);
            if was_main {
                sort_tenants(tenants);
                if let Some(next) = tenants.first_mut() {
                    next.main = true;
                }
            }
        }
    }
    sort_tenants(tenants);
}

/// Oldest first, ties by tenant id: the order the database adapter reads them in.
fn sort_tenants(tenants: &mut [TenantMembership]) {
    tenants.sort_by(|a, b| {
        (a.created_at, a.tenant_id.as_str()).cmp(&(b.created_at, b.tenant_id.as_str()))
    });
}

/// An audit event as read back.
fn record_of(event: &AuditEvent) -> AuditRecord {
    AuditRecord {
        id: event.id,
        at: event.at,
        actor_id: event.actor.to_string(),
        action: event.action.as_str().to_owned(),
        user_id: event.user_id,
        ip: event.ip.clone(),
        details: event.details.clone(),
    }
}

/// Whether `event` matches the filters of `query`.
fn matches(event: &AuditEvent, query: &AuditQuery) -> bool {
    query.user_id.is_none_or(|u| event.user_id == Some(u))
        && query
            .actor_id
            .as_ref()
            .is_none_or(|a| event.actor.to_string() == *a)
        && query.action.is_none_or(|a| event.action == a)
        && query.since.is_none_or(|s| event.at >= s)
        && query.until.is_none_or(|u| event.at < u)
}

#[async_trait]
impl UserAdministration for MemoryUserAdministration {
    async fn find_by_external_id(&self, external_id: &str) -> Result<Option<User>, InfraError> {
        Ok(self
            .shared
            .lock()
            .users
            .values()
            .find(|r| r.user.external_id.as_deref() == Some(external_id))
            .map(|r| r.user.clone()))
    }

    async fn apply(&self, change: AdminChange) -> Result<User, AdminChangeError> {
        let mut state = self.shared.lock();
        let guarded = matches!(change.status, Some(StatusChange::Deactivate))
            || matches!(&change.role, Some(RoleChange::Remove(role)) if role.is_admin());
        // The lock held since the first line serialises every such change.
        if guarded {
            state.guard_last_admin(change.user)?;
        }
        let Some(target) = state.users.get(&change.user).map(|r| r.user.clone()) else {
            return Err(AdminChangeError::NotFound);
        };
        state.check_change(&target, &change)?;
        // Checks done: from here on nothing is refused.
        let now = change.now;
        let Some(record) = state.users.get_mut(&change.user) else {
            return Err(AdminChangeError::NotFound);
        };
        let user = &mut record.user;
        apply_fields(user, &change);
        user.updated_at = now;
        match change.status {
            Some(StatusChange::Deactivate) => {
                user.status = UserStatus::Deactivated;
                user.deactivated_at = Some(now);
            }
            Some(StatusChange::Reactivate) => {
                user.status = UserStatus::Active;
                user.deactivated_at = None;
            }
            None => {}
        }
        match &change.role {
            Some(RoleChange::Add(role)) => {
                user.roles.push(role.clone());
                user.roles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            }
            Some(RoleChange::Remove(role)) => user.roles.retain(|r| r != role),
            None => {}
        }
        if let Some(tenant) = &change.tenant {
            apply_tenant(&mut user.tenants, tenant, now);
        }
        let updated = user.clone();
        if change.status == Some(StatusChange::Deactivate) {
            for session in state.sessions.values_mut() {
                if session.user_id == change.user && session.revoked_at.is_none() {
                    session.revoked_at = Some(now);
                    session.revoke_reason = Some("deactivated");
                }
            }
        }
        state.audit.push(change.audit);
        Ok(updated)
    }

    async fn delete(&self, user: UserId, audit: AuditEvent) -> Result<User, AdminChangeError> {
        let mut state = self.shared.lock();
        state.guard_last_admin(user)?;
        let Some(found) = state.users.get(&user).map(|r| r.user.clone()) else {
            return Err(AdminChangeError::NotFound);
        };
        state.erase_user(user);
        state.audit.push(audit);
        Ok(found)
    }

    async fn roles(&self) -> Result<Vec<Role>, InfraError> {
        Ok(self.shared.lock().roles.values().cloned().collect())
    }

    async fn create_role(&self, role: Role, audit: AuditEvent) -> Result<Role, CreateRoleError> {
        let mut state = self.shared.lock();
        if state.roles.contains_key(&role.name) {
            return Err(CreateRoleError::Exists);
        }
        let stored = Role {
            built_in: false,
            ..role
        };
        state.roles.insert(stored.name.clone(), stored.clone());
        state.audit.push(audit);
        Ok(stored)
    }

    async fn audit_events(&self, query: AuditQuery) -> Result<AuditPage, InfraError> {
        let state = self.shared.lock();
        let mut found: Vec<&AuditEvent> =
            state.audit.iter().filter(|e| matches(e, &query)).collect();
        // Newest first, ties by id, descending.
        found.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        let total = u64::try_from(found.len()).unwrap_or(u64::MAX);
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        Ok(AuditPage {
            events: found
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(record_of)
                .collect(),
            total,
        })
    }
}
