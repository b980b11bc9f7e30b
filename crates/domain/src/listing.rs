//! Listing users: the validated list query, its keyset cursor, and one page of answers.
//!
//! A list request arrives as raw text ([`ListInput`]: query-string values, or a JSON body
//! converted to text) and is parsed here into a [`UserListQuery`], reporting every broken
//! rule as one [`FieldError`] (422), never clamping. Paging is either by page number
//! (`OFFSET`, with totals) or by an opaque cursor (keyset: as fast at depth as on page 1).
//!
//! Order: the sort key, then the id as tie-breaker, so the order is total and stable. A
//! missing `name` or `last_login_at` sorts as the smallest value: first with `asc`, last
//! with `desc`.
//!
//! Cursors are sealed by a [`crate::ports::CursorCodec`] (an HMAC in the crypto adapter) over
//! the query's [`UserListQuery::binding`] (filters, sort and order), so a cursor that was
//! altered, or that belongs to other filters or another sort, does not open: 422.

use chrono::{DateTime, Utc};

use crate::error::{Collector, FieldError, ValidationErrors, Violation};
use crate::role::RoleName;
use crate::tenant::TenantId;
use crate::user::{Email, User, UserId, UserStatus, Username};

/// Smallest page size.
pub const MIN_LIMIT: u64 = 1;
/// Largest page size.
pub const MAX_LIMIT: u64 = 100;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u64 = 10;
/// Largest page number accepted (keeps `OFFSET` inside every backend's integer range).
pub const MAX_PAGE: u64 = 1_000_000_000;
/// Longest `q` accepted, in characters.
pub const MAX_Q_CHARS: usize = 100;
/// Longest cursor accepted, in bytes.
pub const MAX_CURSOR_LEN: usize = 1024;

/// The key a list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Creation time (never missing). The default.
    CreatedAt,
    /// Username, case-insensitively (its identity key).
    Username,
    /// Display name (may be missing: sorts as the smallest value).
    Name,
    /// Last login (may be missing: sorts as the smallest value).
    LastLoginAt,
}

impl SortKey {
    /// The name clients use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::Username => "username",
            Self::Name => "name",
            Self::LastLoginAt => "last_login_at",
        }
    }

    fn parse(raw: &str) -> Result<Self, Violation> {
        match raw {
            "created_at" => Ok(Self::CreatedAt),
            "username" => Ok(Self::Username),
            "name" => Ok(Self::Name),
            "last_login_at" => Ok(Self::LastLoginAt),
            _ => Err(Violation::new(
                "invalid_sort",
                "sort must be one of created_at, username, name, last_login_at",
            )),
        }
    }

    /// Whether the key may be missing on a user.
    pub fn nullable(self) -> bool {
        matches!(self, Self::Name | Self::LastLoginAt)
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first. The default.
    Desc,
}

impl SortOrder {
    /// The name clients use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    fn parse(raw: &str) -> Result<Self, Violation> {
        match raw {
            "asc" => Ok(Self::Asc),
            "desc" => Ok(Self::Desc),
            _ => Err(Violation::new("invalid_order", "order must be asc or desc")),
        }
    }
}

/// The value of the sort key on one user, as a cursor remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// A time (`created_at`, `last_login_at`); `None` when missing.
    Time(Option<DateTime<Utc>>),
    /// A text (`username` key, `name`); `None` when missing.
    Text(Option<String>),
}

impl SortValue {
    /// The value of `key` on `user`.
    pub fn of(user: &User, key: SortKey) -> Self {
        match key {
            SortKey::CreatedAt => Self::Time(Some(user.created_at)),
            SortKey::LastLoginAt => Self::Time(user.last_login_at),
            SortKey::Username => Self::Text(Some(user.username.key().to_owned())),
            SortKey::Name => Self::Text(user.name.as_ref().map(|n| n.as_str().to_owned())),
        }
    }

    /// Whether this value can belong to `key` (a cursor may not mix them).
    pub fn fits(&self, key: SortKey) -> bool {
        matches!(
            (self, key),
            (Self::Time(Some(_)), SortKey::CreatedAt)
                | (Self::Text(Some(_)), SortKey::Username)
                | (Self::Time(_), SortKey::LastLoginAt)
                | (Self::Text(_), SortKey::Name)
        )
    }

    /// Whether the value is missing.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Time(None) | Self::Text(None))
    }
}

/// Where a cursor points: after the last user of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// The sort key's value on that user.
    pub value: SortValue,
    /// That user's id (the tie-breaker).
    pub id: UserId,
    /// The number of the page the cursor leads to (for `meta.page`).
    pub page: u64,
}

/// How the list is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// Page number, from 1: skips `(page - 1) * limit` users.
    Page(u64),
    /// The page after a cursor's position.
    After(Keyset),
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilters {
    /// Exact email, by identity key ([`Email::key`]).
    pub email_key: Option<String>,
    /// Exact username, by identity key.
    pub username_key: Option<String>,
    /// Lowercased text that the username or the name contains; `%`, `_` and `\` are plain.
    pub q: Option<String>,
    /// Users holding this role.
    pub role: Option<RoleName>,
    /// Users in this status.
    pub status: Option<UserStatus>,
    /// Users with a membership of this tenant.
    pub tenant_id: Option<TenantId>,
    /// Include deactivated users when no `status` is given.
    pub include_inactive: bool,
}

impl UserFilters {
    /// The statuses the list may show: `status` when given, else every status but
    /// `deactivated` unless `include_inactive`.
    pub fn statuses(&self) -> Vec<UserStatus> {
        match self.status {
            Some(status) => vec![status],
            None if self.include_inactive => vec![
                UserStatus::Pending,
                UserStatus::Active,
                UserStatus::Deactivated,
            ],
            None => vec![UserStatus::Pending, UserStatus::Active],
        }
    }
}

/// A valid list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListQuery {
    /// Filters.
    pub filters: UserFilters,
    /// Sort key.
    pub sort: SortKey,
    /// Order.
    pub order: SortOrder,
    /// Page size, 1 to 100.
    pub limit: u64,
    /// Page number or cursor.
    pub paging: Paging,
    /// Whether to count the matching users (always done with page numbers).
    pub count: bool,
}

fn push_opt(out: &mut String, name: &str, value: Option<&str>) {
    out.push_str(name);
    match value {
        Some(v) => {
            out.push('=');
            out.push_str(&v.len().to_string());
            out.push(':');
            out.push_str(v);
        }
        None => out.push('-'),
    }
    out.push(';');
}

impl UserListQuery {
    /// The text a cursor is bound to: every filter, the sort and the order (not the limit or
    /// `count`, which may change from page to page). Unambiguous: values are length-prefixed.
    pub fn binding(&self) -> String {
        let f = &self.filters;
        let mut out = String::from("users.v1;");
        push_opt(&mut out, "email", f.email_key.as_deref());
        push_opt(&mut out, "username", f.username_key.as_deref());
        push_opt(&mut out, "q", f.q.as_deref());
        push_opt(&mut out, "role", f.role.as_ref().map(RoleName::as_str));
        push_opt(&mut out, "status", f.status.map(UserStatus::as_str));
        push_opt(
            &mut out,
            "tenant",
            f.tenant_id.as_ref().map(TenantId::as_str),
        );
        push_opt(
            &mut out,
            "inactive",
            Some(if f.include_inactive { "1" } else { "0" }),
        );
        push_opt(&mut out, "sort", Some(self.sort.as_str()));
        push_opt(&mut out, "order", Some(self.order.as_str()));
        out
    }

    /// The page number this query answers.
    pub fn page_number(&self) -> u64 {
        match &self.paging {
            Paging::Page(page) => *page,
            Paging::After(keyset) => keyset.page,
        }
    }

    /// Users to skip with page numbers (`(page - 1) * limit`); zero with a cursor.
    pub fn offset(&self) -> u64 {
        match &self.paging {
            Paging::Page(page) => page.saturating_sub(1).saturating_mul(self.limit),
            Paging::After(_) => 0,
        }
    }

    /// Whether the answer carries `total_items` and `total_pages`.
    pub fn wants_totals(&self) -> bool {
        self.count || matches!(self.paging, Paging::Page(_))
    }
}

/// A list request as received: every value as text, `None` when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListInput {
    /// `page`.
    pub page: Option<String>,
    /// `limit`.
    pub limit: Option<String>,
    /// `sort`.
    pub sort: Option<String>,
    /// `order`.
    pub order: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `q`.
    pub q: Option<String>,
    /// `role`.
    pub role: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `tenant_id`.
    pub tenant_id: Option<String>,
    /// `include_inactive` (`true` or `false`).
    pub include_inactive: Option<String>,
    /// `cursor`.
    pub cursor: Option<String>,
    /// `count` (`true` or `false`).
    pub count: Option<String>,
}

fn number(raw: &str, min: u64, max: u64, what: &str) -> Result<u64, Violation> {
    let parsed: Option<u64> = if raw.bytes().all(|b| b.is_ascii_digit()) && !raw.is_empty() {
        raw.parse().ok()
    } else {
        None
    };
    match parsed {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(Violation::new(
            "out_of_range",
            format!("{what} must be between {min} and {max}"),
        )),
        None => Err(Violation::new(
            "invalid_number",
            format!("{what} must be a whole number between {min} and {max}"),
        )),
    }
}

fn boolean(raw: &str, what: &str) -> Result<bool, Violation> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Violation::new(
            "invalid_boolean",
            format!("{what} must be true or false"),
        )),
    }
}

fn status(raw: &str) -> Result<UserStatus, Violation> {
    UserStatus::parse(raw).ok_or_else(|| {
        Violation::new(
            "invalid_status",
            "status must be pending, active or deactivated",
        )
    })
}

fn search_text(raw: &str) -> Result<String, Violation> {
    let chars = raw.chars().count();
    if chars == 0 || chars > MAX_Q_CHARS || raw.chars().any(char::is_control) {
        return Err(Violation::new(
            "invalid_q",
            format!("q must be 1 to {MAX_Q_CHARS} characters, without control characters"),
        ));
    }
    Ok(raw.to_lowercase())
}

/// Opens a cursor: checks its seal against the query's binding and that its value fits the
/// sort. The codec is a port, so this stays free of cryptography.
pub type OpenCursor<'a> = &'a dyn Fn(&str, &str) -> Option<Keyset>;

impl ListInput {
    /// Parses the request into a query, or reports every broken rule. `open` is the cursor
    /// codec's `open` (binding, cursor).
    ///
    /// # Errors
    /// [`ValidationErrors`] with one entry per broken field: `page`, `limit` out of range;
    /// `sort`, `order`, `status`, `include_inactive`, `count` not one of their values;
    /// `email`, `username`, `role`, `tenant_id` malformed; `q` empty or too long; `cursor`
    /// given with `page`, tampered with, or made for other filters or another sort.
    pub fn parse(&self, open: OpenCursor<'_>) -> Result<UserListQuery, ValidationErrors> {
        let mut errors = Collector::new();
        let page = self
            .page
            .as_deref()
            .and_then(|p| errors.field("page", number(p, 1, MAX_PAGE, "page")));
        let limit = match self.limit.as_deref() {
            Some(l) => errors.field("limit", number(l, MIN_LIMIT, MAX_LIMIT, "limit")),
            None => Some(DEFAULT_LIMIT),
        };
        let sort = match self.sort.as_deref() {
            Some(s) => errors.field("sort", SortKey::parse(s)),
            None => Some(SortKey::CreatedAt),
        };
        let order = match self.order.as_deref() {
            Some(o) => errors.field("order", SortOrder::parse(o)),
            None => Some(SortOrder::Desc),
        };
        let email = self
            .email
            .as_deref()
            .and_then(|e| errors.field("email", Email::parse(e)));
        let username = self
            .username
            .as_deref()
            .and_then(|u| errors.field("username", Username::parse(u)));
        let q = self
            .q
            .as_deref()
            .and_then(|q| errors.field("q", search_text(q)));
        let role = self
            .role
            .as_deref()
            .and_then(|r| errors.field("role", RoleName::parse(r)));
        let status = self
            .status
            .as_deref()
            .and_then(|s| errors.field("status", status(s)));
        let tenant_id = self
            .tenant_id
            .as_deref()
            .and_then(|t| errors.field("tenant_id", TenantId::parse(t)));
        let include_inactive = match self.include_inactive.as_deref() {
            Some(b) => errors.field("include_inactive", boolean(b, "include_inactive")),
            None => Some(false),
        };
        let count = match self.count.as_deref() {
            Some(b) => errors.field("count", boolean(b, "count")),
            None => Some(false),
        };
        if self.cursor.is_some() && self.page.is_some() {
            errors.push(FieldError::new(
                "cursor",
                "cursor_with_page",
                "cursor and page cannot be combined: a cursor already says where the page starts",
            ));
        }
        // The binding needs every filter, the sort and the order: a cursor is only judged
        // when those parsed (else its error would be noise beside theirs).
        let binding_ok = sort.is_some()
            && order.is_some()
            && include_inactive.is_some()
            && (self.email.is_none() || email.is_some())
            && (self.username.is_none() || username.is_some())
            && (self.q.is_none() || q.is_some())
            && (self.role.is_none() || role.is_some())
            && (self.status.is_none() || status.is_some())
            && (self.tenant_id.is_none() || tenant_id.is_some());
        let sort = sort.unwrap_or(SortKey::CreatedAt);
        let mut query = UserListQuery {
            filters: UserFilters {
                email_key: email.map(|e| e.key().to_owned()),
                username_key: username.map(|u| u.key().to_owned()),
                q,
                role,
                status,
                tenant_id,
                include_inactive: include_inactive.unwrap_or(false),
            },
            sort,
            order: order.unwrap_or(SortOrder::Desc),
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            paging: Paging::Page(page.unwrap_or(1)),
            count: count.unwrap_or(false),
        };
        if let (Some(cursor), None, true) =
            (self.cursor.as_deref(), self.page.as_deref(), binding_ok)
        {
            let keyset = if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
                None
            } else {
                open(&query.binding(), cursor).filter(|k| k.value.fits(sort) && k.page >= 2)
            };
            match keyset {
                Some(keyset) => query.paging = Paging::After(keyset),
                None => errors.push(FieldError::new(
                    "cursor",
                    "invalid_cursor",
                    "the cursor is not valid for this list: it was altered, or made for other \
                     filters or another sort",
                )),
            }
        }
        errors.finish()?;
        Ok(query)
    }
}

/// One page of users, as the directory returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// The users of the page, in order; at most `limit`.
    pub users: Vec<User>,
    /// Whether more users follow the last one.
    pub has_more: bool,
    /// Users matching the filters on all pages, when counted.
    pub total: Option<u64>,
}

/// A page as answered: the users, the paging facts and the next cursor's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUsers {
    /// The users, in order.
    pub users: Vec<User>,
    /// Page number.
    pub page: u64,
    /// Page size.
    pub limit: u64,
    /// Users across all pages (when counted).
    pub total_items: Option<u64>,
    /// Pages (when counted): `total_items / limit` rounded up.
    pub total_pages: Option<u64>,
    /// The position after the last user, when another page follows.
    pub next: Option<Keyset>,
}

impl ListedUsers {
    /// Builds the answer to `query` from a `page` of the directory.
    pub fn new(query: &UserListQuery, page: UserPage) -> Self {
        let number = query.page_number();
        let next = if page.has_more {
            page.users.last().map(|last| Keyset {
                value: SortValue::of(last, query.sort),
                id: last.id,
                page: number.saturating_add(1),
            })
        } else {
            None
        };
        Self {
            total_items: page.total,
            total_pages: page.total.map(|t| t.div_ceil(query.limit.max(1))),
            users: page.users,
            page: number,
            limit: query.limit,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str, _: &str) -> Option<Keyset> {
        None
    }

    fn input(pairs: &[(&str, &str)]) -> ListInput {
        let mut input = ListInput::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "page" => input.page = v,
                "limit" => input.limit = v,
                "sort" => input.sort = v,
                "order" => input.order = v,
                "email" => input.email = v,
                "username" => input.username = v,
                "q" => input.q = v,
                "role" => input.role = v,
                "status" => input.status = v,
                "tenant_id" => input.tenant_id = v,
                "include_inactive" => input.include_inactive = v,
                "cursor" => input.cursor = v,
                "count" => input.count = v,
                other => panic!("unknown {other}"),
            }
        }
        input
    }

    fn fields(result: Result<UserListQuery, ValidationErrors>) -> Vec<(String, &'static str)> {
        result
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn an_empty_query_takes_the_defaults() {
        let q = input(&[]).parse(&none).unwrap();
        assert_eq!(q.limit, 10);
        assert_eq!(q.sort, SortKey::CreatedAt);
        assert_eq!(q.order, SortOrder::Desc);
        assert_eq!(q.paging, Paging::Page(1));
        assert!(!q.filters.include_inactive);
        assert!(q.wants_totals());
        assert_eq!(
            q.filters.statuses(),
            vec![UserStatus::Pending, UserStatus::Active]
        );
    }

    #[test]
    fn out_of_range_values_are_refused_one_entry_per_field() {
        let errors = fields(
            input(&[
                ("page", "0"),
                ("limit", "101"),
                ("sort", "email"),
                ("order", "up"),
                ("status", "gone"),
                ("include_inactive", "yes"),
                ("count", "1"),
                ("role", "admin"),
                ("tenant_id", ""),
                ("email", "nope"),
                ("username", "a"),
                ("q", ""),
            ])
            .parse(&none),
        );
        let names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "page",
                "limit",
                "sort",
                "order",
                "email",
                "username",
                "q",
                "role",
                "status",
                "tenant_id",
                "include_inactive",
                "count"
            ]
        );
        assert_eq!(errors[0].1, "out_of_range");
        assert_eq!(errors[1].1, "out_of_range");
    }

    #[test]
    fn limits_at_the_edges_are_accepted_and_never_clamped() {
        assert_eq!(input(&[("limit", "1")]).parse(&none).unwrap().limit, 1);
        assert_eq!(input(&[("limit", "100")]).parse(&none).unwrap().limit, 100);
        assert_eq!(
            fields(input(&[("limit", "0")]).parse(&none)),
            [("limit".to_owned(), "out_of_range")]
        );
        for bad in ["-1", "ten", "1.5", " 5", "99999999999999999999999"] {
            assert_eq!(
                fields(input(&[("limit", bad)]).parse(&none))[0].0,
                "limit",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_cursor_with_a_page_is_refused() {
        let errors = fields(input(&[("cursor", "abc"), ("page", "2")]).parse(&none));
        assert_eq!(errors, [("cursor".to_owned(), "cursor_with_page")]);
    }

    #[test]
    fn a_cursor_that_does_not_open_is_refused() {
        let errors = fields(input(&[("cursor", "abc")]).parse(&none));
        assert_eq!(errors, [("cursor".to_owned(), "invalid_cursor")]);
    }

    #[test]
    fn a_cursor_opens_against_the_binding_of_the_same_filters_only() {
        let made = input(&[("q", "Ada"), ("sort", "name")])
            .parse(&none)
            .unwrap();
        let binding = made.binding();
        let keyset = Keyset {
            value: SortValue::Text(None),
            id: UserId::generate(),
            page: 2,
        };
        let open = |b: &str, c: &str| (b == binding && c == "sealed").then(|| keyset.clone());
        let same = input(&[
            ("q", "ada"),
            ("sort", "name"),
            ("cursor", "sealed"),
            ("limit", "50"),
        ])
        .parse(&open)
        .unwrap();
        assert_eq!(same.paging, Paging::After(keyset.clone()));
        assert_eq!(same.page_number(), 2);
        assert!(!same.wants_totals());
        for other in [
            vec![("q", "bob"), ("sort", "name")],
            vec![("q", "ada"), ("sort", "username")],
            vec![("q", "ada"), ("sort", "name"), ("order", "asc")],
            vec![("q", "ada"), ("sort", "name"), ("include_inactive", "true")],
        ] {
            let mut pairs = other.clone();
            pairs.push(("cursor", "sealed"));
            assert_eq!(
                fields(input(&pairs).parse(&open)),
                [("cursor".to_owned(), "invalid_cursor")],
                "{other:?}"
            );
        }
    }

    #[test]
    fn a_cursor_whose_value_does_not_fit_the_sort_is_refused() {
        let keyset = Keyset {
            value: SortValue::Text(None),
            id: UserId::generate(),
            page: 2,
        };
        let open = |_: &str, _: &str| Some(keyset.clone());
        assert_eq!(
            fields(input(&[("cursor", "x")]).parse(&open)),
            [("cursor".to_owned(), "invalid_cursor")]
        );
    }

    #[test]
    fn the_binding_tells_filters_apart() {
        let a = input(&[("q", "a;b")]).parse(&none).unwrap().binding();
        let b = input(&[("q", "a"), ("tenant_id", "b")])
            .parse(&none)
            .unwrap()
            .binding();
        assert_ne!(a, b);
    }

    #[test]
    fn q_is_lowercased_and_keeps_wildcards_as_text() {
        let q = input(&[("q", "50%_A\\")]).parse(&none).unwrap();
        assert_eq!(q.filters.q.as_deref(), Some("50%_a\\"));
    }

    #[test]
    fn an_explicit_status_wins_over_include_inactive() {
        let q = input(&[("status", "deactivated")]).parse(&none).unwrap();
        assert_eq!(q.filters.statuses(), vec![UserStatus::Deactivated]);
        let all = input(&[("include_inactive", "true")]).parse(&none).unwrap();
        assert_eq!(all.filters.statuses().len(), 3);
    }

    #[test]
    fn page_numbers_become_offsets() {
        let q = input(&[("page", "3"), ("limit", "25")])
            .parse(&none)
            .unwrap();
        assert_eq!(q.offset(), 50);
        let max = input(&[("page", &MAX_PAGE.to_string()), ("limit", "100")])
            .parse(&none)
            .unwrap();
        assert!(i64::try_from(max.offset()).is_ok());
    }

    #[test]
    fn totals_round_up_and_the_next_position_is_the_last_user() {
        let q = input(&[("limit", "2")]).parse(&none).unwrap();
        let listed = ListedUsers::new(
            &q,
            UserPage {
                users: vec![],
                has_more: false,
                total: Some(5),
            },
        );
        assert_eq!(listed.total_pages, Some(3));
        assert_eq!(listed.next, None);
    }
}
