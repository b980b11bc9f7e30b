//! [`DieselUserDirectory`]: filtered, sorted, paged lists of users on both backends.
//!
//! Keyset paging without an offset: the page after a cursor is an index range
//! `(sort_col, id) > (v, id)` (a row-value comparison, which both SQLite and PostgreSQL turn
//! into a range scan of the `(sort_col, id)` index), so page 100,000 costs what page 1 costs.
//!
//! Nullable sort keys (`name`, `last_login_at`) are paged in two segments: the users
//! without a value (which sort as the smallest: first in `asc`, last in `desc`, ordered by
//! id) and the users with one. Each segment is its own index range (`col IS NULL AND id > ?`,
//! or `col IS NOT NULL AND (col, id) > (?, ?)`), and a page that crosses from one segment to
//! the next runs a second query for the rest. The same holds for page numbers, where the
//! first segment is counted to know how much of the offset it takes. No `OR` across
//! segments and no `COALESCE` in the order, so every query stays an index range on both
//! backends.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::dsl::{exists, sql};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamp};
use diesel_async::RunQueryDsl;
use roster_domain::InfraError;
use roster_domain::listing::{Paging, SortKey, SortOrder, SortValue, UserListQuery, UserPage};
use roster_domain::ports::UserDirectory;
use roster_domain::role::RoleName;
use roster_domain::user::{User, UserStatus};
use tracing::instrument;

use crate::db::Database;
use crate::error::DbError;
use crate::models::{TenantRow, UserRow, naive};
use crate::schema::{roles, tenant_memberships, user_roles, users};
use crate::types::{DbUuid, Id};

/// Lists users on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct DieselUserDirectory {
    db: Database,
}

impl DieselUserDirectory {
    /// A directory over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The filters, as bound values.
#[derive(Debug, Clone)]
struct Filters {
    /// `Some` for one exact status; `None` with `hide_deactivated` for the default.
    status: Option<&'static str>,
    hide_deactivated: bool,
    /// Every blind index the address may be stored under (several during a key rotation).
    email_indexes: Option<Vec<String>>,
    username_key: Option<String>,
    /// A LIKE pattern: `%text%` with `%`, `_` and `\` escaped by `\`.
    like: Option<String>,
    role: Option<String>,
    tenant_id: Option<String>,
}

/// A value of the sort key, bound into a keyset comparison.
#[derive(Debug, Clone)]
enum Bound {
    Time(NaiveDateTime),
    Text(String),
}

/// One index range of the list.
#[derive(Debug, Clone)]
enum Segment {
    /// Every user (the sort key is never missing), after a position or from the start.
    Valued { after: Option<(Bound, Id)> },
    /// Users without a value of the (nullable) key, after an id or from the start.
    Missing { after: Option<Id> },
}

/// `text` as a LIKE pattern that matches it anywhere, wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn bound(value: &SortValue) -> Option<Bound> {
    match value {
        SortValue::Time(Some(at)) => Some(Bound::Time(naive(*at))),
        SortValue::Text(Some(text)) => Some(Bound::Text(text.clone())),
        SortValue::Time(None) | SortValue::Text(None) => None,
    }
}

/// The segments a query walks, in order.
fn segments(query: &UserListQuery) -> Vec<Segment> {
    let after = match &query.paging {
        Paging::After(keyset) => Some(keyset),
        Paging::Page(_) => None,
    };
    let valued_after =
        |k: &roster_domain::listing::Keyset| bound(&k.value).map(|b| (b, Id(k.id.as_uuid())));
    if !query.sort.nullable() {
        return vec![Segment::Valued {
            after: after.and_then(valued_after),
        }];
    }
    match (query.order, after) {
        (SortOrder::Asc, None) => vec![
            Segment::Missing { after: None },
            Segment::Valued { after: None },
        ],
        (SortOrder::Asc, Some(k)) if k.value.is_missing() => vec![
            Segment::Missing {
                after: Some(Id(k.id.as_uuid())),
            },
            Segment::Valued { after: None },
        ],
        (SortOrder::Asc, Some(k)) => vec![Segment::Valued {
            after: valued_after(k),
        }],
        (SortOrder::Desc, None) => vec![
            Segment::Valued { after: None },
            Segment::Missing { after: None },
        ],
        (SortOrder::Desc, Some(k)) if k.value.is_missing() => vec![Segment::Missing {
            after: Some(Id(k.id.as_uuid())),
        }],
        (SortOrder::Desc, Some(k)) => vec![
            Segment::Valued {
                after: valued_after(k),
            },
            Segment::Missing { after: None },
        ],
    }
}

/// The users table filtered by `$f` (a `&Filters`), boxed for the connection's backend.
///
/// Role and tenant filters are a correlated `EXISTS` for a page (probe the membership's primary
/// key for each row met along the sort index, which stops once the page is full), and an
/// `IN (SELECT user_id ...)` for a count (with `count`: driven from the membership's
/// `(role|tenant_id, user_id)` index instead of probing a million users).
macro_rules! filtered {
    ($f:expr) => {
        filtered!($f, page)
    };
    ($f:expr, $purpose:ident) => {{
        let counting = stringify!($purpose) == "count";
        let f: &Filters = $f;
        let mut q = users::table.into_boxed();
        if let Some(status) = f.status {
            q = q.filter(users::status.eq(status));
        } else if f.hide_deactivated {
            // `<>` rather than `IN ('pending', 'active')`: an IN list would tempt SQLite
            // into the status index and a sort of every matching row.
            q = q.filter(users::status.ne(UserStatus::Deactivated.as_str()));
        }
        if let Some(indexes) = &f.email_indexes {
            q = q.filter(users::email_key.eq_any(indexes.clone()));
        }
        if let Some(key) = &f.username_key {
            q = q.filter(users::username_key.eq(key.clone()));
        }
        if let Some(like) = &f.like {
            q = q.filter(
                sql::<Bool>("(users.username_key LIKE ")
                    .bind::<Text, _>(like.clone())
                    .sql(" ESCAPE '\\' OR lower(users.name) LIKE ")
                    .bind::<Text, _>(like.clone())
                    .sql(" ESCAPE '\\')"),
            );
        }
        if let Some(role) = &f.role {
            q = if counting {
                q.filter(
                    users::id.eq_any(
                        user_roles::table
                            .filter(user_roles::role.eq(role.clone()))
                            .select(user_roles::user_id),
                    ),
                )
            } else {
                q.filter(exists(
                    user_roles::table
                        .filter(user_roles::user_id.eq(users::id))
                        .filter(user_roles::role.eq(role.clone())),
                ))
            };
        }
        if let Some(tenant) = &f.tenant_id {
            q = if counting {
                q.filter(
                    users::id.eq_any(
                        tenant_memberships::table
                            .filter(tenant_memberships::tenant_id.eq(tenant.clone()))
                            .select(tenant_memberships::user_id),
                    ),
                )
            } else {
                q.filter(exists(
                    tenant_memberships::table
                        .filter(tenant_memberships::user_id.eq(users::id))
                        .filter(tenant_memberships::tenant_id.eq(tenant.clone())),
                ))
            };
        }
        q
    }};
}

/// `filtered!` narrowed to one segment of `$sort` in `$order`, without ordering.
macro_rules! in_segment {
    ($f:expr, $segment:expr, $sort:expr, $order:expr) => {
        in_segment!($f, $segment, $sort, $order, page)
    };
    ($f:expr, $segment:expr, $sort:expr, $order:expr, $purpose:ident) => {{
        let mut q = filtered!($f, $purpose);
        let cmp = match $order {
            SortOrder::Asc => ">",
            SortOrder::Desc => "<",
        };
        let column = match $sort {
            SortKey::CreatedAt => "users.created_at",
            SortKey::Username => "users.username_key",
            SortKey::Name => "users.name",
            SortKey::LastLoginAt => "users.last_login_at",
        };
        match $segment {
            Segment::Missing { after } => {
                q = match $sort {
                    SortKey::Name => q.filter(users::name.is_null()),
                    SortKey::LastLoginAt => q.filter(users::last_login_at.is_null()),
                    SortKey::CreatedAt | SortKey::Username => q,
                };
                if let Some(id) = after {
                    q = match $order {
                        SortOrder::Asc => q.filter(users::id.gt(*id)),
                        SortOrder::Desc => q.filter(users::id.lt(*id)),
                    };
                }
            }
            Segment::Valued { after } => {
                q = match $sort {
                    SortKey::Name => q.filter(users::name.is_not_null()),
                    SortKey::LastLoginAt => q.filter(users::last_login_at.is_not_null()),
                    SortKey::CreatedAt | SortKey::Username => q,
                };
                match after {
                    Some((Bound::Time(at), id)) => {
                        q = q.filter(
                            sql::<Bool>(&format!("({column}, users.id) {cmp} ("))
                                .bind::<Timestamp, _>(*at)
                                .sql(", ")
                                .bind::<DbUuid, _>(*id)
                                .sql(")"),
                        );
                    }
                    Some((Bound::Text(text), id)) => {
                        q = q.filter(
                            sql::<Bool>(&format!("({column}, users.id) {cmp} ("))
                                .bind::<Text, _>(text.clone())
                                .sql(", ")
                                .bind::<DbUuid, _>(*id)
                                .sql(")"),
                        );
                    }
                    None => {}
                }
            }
        }
        q
    }};
}

/// `$q` ordered by `$sort` then id, in `$order`.
macro_rules! ordered {
    ($q:expr, $sort:expr, $order:expr) => {{
        let q = $q;
        match ($sort, $order) {
            (SortKey::CreatedAt, SortOrder::Asc) => {
                q.order_by((users::created_at.asc(), users::id.asc()))
            }
            (SortKey::CreatedAt, SortOrder::Desc) => {
                q.order_by((users::created_at.desc(), users::id.desc()))
            }
            (SortKey::Username, SortOrder::Asc) => {
                q.order_by((users::username_key.asc(), users::id.asc()))
            }
            (SortKey::Username, SortOrder::Desc) => {
                q.order_by((users::username_key.desc(), users::id.desc()))
            }
            (SortKey::Name, SortOrder::Asc) => q.order_by((users::name.asc(), users::id.asc())),
            (SortKey::Name, SortOrder::Desc) => q.order_by((users::name.desc(), users::id.desc())),
            (SortKey::LastLoginAt, SortOrder::Asc) => {
                q.order_by((users::last_login_at.asc(), users::id.asc()))
            }
            (SortKey::LastLoginAt, SortOrder::Desc) => {
                q.order_by((users::last_login_at.desc(), users::id.desc()))
            }
        }
    }};
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl DieselUserDirectory {
    fn filters(&self, query: &UserListQuery) -> Filters {
        let f = &query.filters;
        Filters {
            status: f.status.map(UserStatus::as_str),
            hide_deactivated: f.status.is_none() && !f.include_inactive,
            email_indexes: f.email_key.as_deref().map(|key| self.db.email_indexes(key)),
            username_key: f.username_key.clone(),
            like: f.q.as_deref().map(contains_pattern),
            role: f.role.as_ref().map(|r| r.as_str().to_owned()),
            tenant_id: f.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
        }
    }

    async fn list_inner(&self, query: &UserListQuery) -> Result<UserPage, DbError> {
        let f = self.filters(query);
        let (sort, order) = (query.sort, query.order);
        let segments = segments(query);
        // One more than a page, to know whether another page follows.
        let wanted = query.limit.saturating_add(1);
        crate::with_conn!(self.db, conn => {
            let total: Option<u64> = if query.wants_totals() {
                let n: i64 = filtered!(&f, count).count().get_result(conn).await?;
                Some(to_u64(n))
            } else {
                None
            };
            let mut skip = query.offset();
            let mut rows: Vec<UserRow> = Vec::new();
            let last = segments.len().saturating_sub(1);
            for (i, segment) in segments.iter().enumerate() {
                let remaining = wanted.saturating_sub(rows.len() as u64);
                if remaining == 0 {
                    break;
                }
                if skip > 0 && i < last {
                    let n: i64 = in_segment!(&f, segment, sort, order, count)
                        .count()
                        .get_result(conn)
                        .await?;
                    let n = to_u64(n);
                    if skip >= n {
                        skip -= n;
                        continue;
                    }
                }
                let found: Vec<UserRow> = ordered!(in_segment!(&f, segment, sort, order), sort, order)
                    .select(UserRow::as_select())
                    .offset(to_i64(skip))
                    .limit(to_i64(remaining))
                    .load(conn)
                    .await?;
                skip = 0;
                rows.extend(found);
            }
            let has_more = rows.len() as u64 > query.limit;
            rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
            let ids: Vec<Id> = rows.iter().map(|r| r.id).collect();
            let role_rows: Vec<(Id, String)> = user_roles::table
                .filter(user_roles::user_id.eq_any(ids.clone()))
                .select((user_roles::user_id, user_roles::role))
                .order((user_roles::user_id.asc(), user_roles::role.asc()))
                .load(conn)
                .await?;
            let tenant_rows: Vec<(Id, TenantRow)> = tenant_memberships::table
                .filter(tenant_memberships::user_id.eq_any(ids))
                .select((tenant_memberships::user_id, TenantRow::as_select()))
                .order((
                    tenant_memberships::user_id.asc(),
                    tenant_memberships::created_at.asc(),
                    tenant_memberships::tenant_id.asc(),
                ))
                .load(conn)
                .await?;
            let mut roles: HashMap<Id, Vec<String>> = HashMap::new();
            for (id, role) in role_rows {
                roles.entry(id).or_default().push(role);
            }
            let mut tenants: HashMap<Id, Vec<TenantRow>> = HashMap::new();
            for (id, tenant) in tenant_rows {
                tenants.entry(id).or_default().push(tenant);
            }
            let users = rows
                .into_iter()
                .map(|row| {
                    let id = row.id;
                    row.into_user(
                        roles.remove(&id).unwrap_or_default(),
                        tenants.remove(&id).unwrap_or_default(),
                        &self.db.keys,
                    )
                })
                .collect::<Result<Vec<User>, DbError>>()?;
            Ok(UserPage { users, has_more, total })
        })
    }

    async fn role_exists_inner(&self, role: &RoleName) -> Result<bool, DbError> {
        let name = role.as_str().to_owned();
        crate::with_conn!(self.db, conn => {
            let found: Option<String> = roles::table
                .filter(roles::name.eq(name))
                .select(roles::name)
                .first(conn)
                .await
                .optional()?;
            Ok(found.is_some())
        })
    }
}

#[async_trait]
impl UserDirectory for DieselUserDirectory {
    #[instrument(skip_all, fields(sort = query.sort.as_str(), limit = query.limit), level = "debug")]
    async fn list(&self, query: &UserListQuery) -> Result<UserPage, InfraError> {
        let (this, query) = (self.clone(), query.clone());
        self.db
            .spawn(async move { this.list_inner(&query).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }

    #[instrument(skip(self), level = "debug")]
    async fn role_exists(&self, role: &RoleName) -> Result<bool, InfraError> {
        let (this, role) = (self.clone(), role.clone());
        self.db
            .spawn(async move { this.role_exists_inner(&role).await })
            .await
            .map_err(InfraError::unexpected)?
            .map_err(InfraError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_q_are_escaped() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern("ada"), "%ada%");
    }
}
