//! [`MemoryUserDirectory`].

use std::cmp::Ordering;

use async_trait::async_trait;

use super::Shared;
use crate::error::InfraError;
use crate::listing::{Paging, SortOrder, SortValue, UserFilters, UserListQuery, UserPage};
use crate::ports::UserDirectory;
use crate::role::RoleName;
use crate::user::User;

/// Lists of the users in a [`super::MemoryStore`], with the database adapter's filters,
/// order and keyset semantics (here a scan, not an index range: the store is small).
#[derive(Debug, Clone)]
pub struct MemoryUserDirectory {
    shared: Shared,
}

impl MemoryUserDirectory {
    pub(super) fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

/// Whether `user` matches every filter.
fn selected(user: &User, f: &UserFilters) -> bool {
    f.statuses().contains(&user.status)
        && f.email_key
            .as_deref()
            .is_none_or(|key| user.email.as_ref().is_some_and(|e| e.key() == key))
        && f.username_key
            .as_deref()
            .is_none_or(|key| user.username.key() == key)
        && f.q.as_deref().is_none_or(|q| {
            user.username.key().contains(q)
                || user
                    .name
                    .as_ref()
                    .is_some_and(|n| n.as_str().to_lowercase().contains(q))
        })
        && f.role.as_ref().is_none_or(|r| user.has_role(r))
        && f.tenant_id
            .as_ref()
            .is_none_or(|t| user.tenants.iter().any(|m| &m.tenant_id == t))
}

/// Ascending order of two sort values; a missing value is the smallest.
fn compare_values(a: &SortValue, b: &SortValue) -> Ordering {
    match (a, b) {
        (SortValue::Time(a), SortValue::Time(b)) => a.cmp(b),
        (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
        // A cursor's value always fits its sort (the query checked it); a mix sorts as equal.
        (SortValue::Time(_), SortValue::Text(_)) | (SortValue::Text(_), SortValue::Time(_)) => {
            Ordering::Equal
        }
    }
}

#[async_trait]
impl UserDirectory for MemoryUserDirectory {
    async fn list(&self, query: &UserListQuery) -> Result<UserPage, InfraError> {
        let state = self.shared.lock();
        let sort = query.sort;
        let directed = |ord: Ordering| match query.order {
            SortOrder::Asc => ord,
            SortOrder::Desc => ord.reverse(),
        };
        let mut found: Vec<(SortValue, &User)> = state
            .users
            .values()
            .map(|r| &r.user)
            .filter(|u| selected(u, &query.filters))
            .map(|u| (SortValue::of(u, sort), u))
            .collect();
        let total = query
            .wants_totals()
            .then(|| u64::try_from(found.len()).unwrap_or(u64::MAX));
        found.sort_by(|(va, a), (vb, b)| {
            directed(compare_values(va, vb).then_with(|| a.id.as_uuid().cmp(&b.id.as_uuid())))
        });
        let start = match &query.paging {
            Paging::Page(_) => usize::try_from(query.offset()).unwrap_or(usize::MAX),
            // Strictly after the keyset position, in the list's order.
            Paging::After(keyset) => found
                .iter()
                .position(|(value, u)| {
                    directed(
                        compare_values(value, &keyset.value)
                            .then_with(|| u.id.as_uuid().cmp(&keyset.id.as_uuid())),
                    ) == Ordering::Greater
                })
                .unwrap_or(found.len()),
        };
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let mut users: Vec<User> = found
            .into_iter()
            .skip(start)
            .take(limit.saturating_add(1))
            .map(|(_, u)| u.clone())
            .collect();
        let has_more = users.len() > limit;
        users.truncate(limit);
        Ok(UserPage {
            users,
            has_more,
            total,
        })
    }

    async fn role_exists(&self, role: &RoleName) -> Result<bool, InfraError> {
        Ok(self.shared.lock().roles.contains_key(role))
    }
}
