//! [`UserDirectory`](crate::ports::UserDirectory) checks: filters, the total order of every
//! sort (a missing value sorts as the smallest), page numbers and keyset paging that walk the
//! same list, totals, complete users, and which roles exist.

use chrono::{DateTime, Duration, Utc};

use super::user_administration::{admin_change, deactivate};
use super::{Check, Store, checks, login_event, new_user, plain, session_for, t0};
use crate::audit::AuditAction;
use crate::listing::{
    Keyset, Paging, SortKey, SortOrder, SortValue, UserFilters, UserListQuery, UserPage,
};
use crate::ports::{Role, TenantChange};
use crate::role::RoleName;
use crate::tenant::TenantId;
use crate::user::{Email, Name, User, UserId, UserStatus, Username};

/// Every [`UserDirectory`](crate::ports::UserDirectory) check, in order.
pub fn checks() -> Vec<Check> {
    checks![
        filters_select_by_status_email_username_q_role_and_tenant,
        every_sort_is_a_total_order_with_missing_values_smallest,
        page_numbers_and_cursors_walk_the_same_list,
        q_takes_wildcards_literally_and_matches_the_lowercased_name,
        role_exists_knows_built_in_and_custom_roles,
    ]
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

/// A query for every user the filters select: first page of 100, newest first.
pub fn list_query(filters: UserFilters) -> UserListQuery {
    UserListQuery {
        filters,
        sort: SortKey::CreatedAt,
        order: SortOrder::Desc,
        limit: 100,
        paging: Paging::Page(1),
        count: false,
    }
}

/// One user of the population: username, name, status, roles, creation minute, login
/// minute, tenants.
type Spec = (
    &'static str,
    Option<&'static str>,
    UserStatus,
    &'static [&'static str],
    i64,
    Option<i64>,
    &'static [&'static str],
);

/// Six users with ties on creation and login times, missing names and logins, every status,
/// roles and memberships. Names and usernames are lowercase ASCII letters, so that every
/// backend's text order agrees.
const POPULATION: [Spec; 6] = [
    (
        "alice",
        Some("alice"),
        UserStatus::Active,
        &["ADMIN", "USER"],
        1,
        Some(30),
        &["acme"],
    ),
    (
        "bob",
        None,
        UserStatus::Active,
        &["USER"],
        2,
        None,
        &["acme", "beta"],
    ),
    (
        "carol",
        Some("carol"),
        UserStatus::Pending,
        &["USER"],
        3,
        None,
        &[],
    ),
    (
        "dave",
        Some("dave"),
        UserStatus::Deactivated,
        &["MANAGER"],
        4,
        Some(40),
        &[],
    ),
    (
        "erin",
        None,
        UserStatus::Active,
        &["USER"],
        4,
        Some(30),
        &[],
    ),
    (
        "frank",
        Some("bob"),
        UserStatus::Active,
        &["USER"],
        5,
        None,
        &[],
    ),
];

/// Creates six users with ties on creation and login times, missing names and logins,
/// every status, roles and memberships; returns them as stored, in creation order.
pub async fn populate(s: &Store) -> Vec<User> {
    let mut ids = Vec::new();
    for (username, name, status, roles, created, login, tenants) in POPULATION {
        let initial = if status == UserStatus::Deactivated {
            UserStatus::Active
        } else {
            status
        };
        let mut new = new_user(&format!("{username}@example.com"), username, initial);
        new.name = name.map(|n| Name::parse(n).unwrap());
        new.roles = roles.iter().map(|r| RoleName::parse(r).unwrap()).collect();
        new.created_at = at(created);
        s.users.create(new.clone(), plain(&new)).await.unwrap();
        if let Some(login) = login {
            s.sessions
                .start(session_for(new.id, at(login)), login_event(new.id), 0)
                .await
                .unwrap();
        }
        for (n, tenant) in tenants.iter().enumerate() {
            let mut c = admin_change(new.id, AuditAction::TenantSet);
            c.tenant = Some(TenantChange::Set {
                tenant: TenantId::parse(tenant).unwrap(),
                role: RoleName::user(),
                main: None,
            });
            c.now = at(created) + Duration::seconds(i64::try_from(n).unwrap());
            s.admin.apply(c).await.unwrap();
        }
        if status == UserStatus::Deactivated {
            s.admin.apply(deactivate(new.id)).await.unwrap();
        }
        ids.push(new.id);
    }
    let mut users = Vec::new();
    for id in ids {
        users.push(s.users.find_by_id(id).await.unwrap().unwrap());
    }
    users
}

fn names(page: &UserPage) -> Vec<&str> {
    let mut names: Vec<&str> = page.users.iter().map(|u| u.username.as_str()).collect();
    names.sort_unstable();
    names
}

/// Each filter selects exactly the users it names, combined filters all of them; listed
/// users are complete (roles, memberships, logins) as stored.
pub async fn filters_select_by_status_email_username_q_role_and_tenant(s: Store) {
    let users = populate(&s).await;
    let list = |filters: UserFilters| {
        let directory = s.directory.clone();
        async move { directory.list(&list_query(filters)).await.unwrap() }
    };
    let everyone = list(UserFilters {
        include_inactive: true,
        ..UserFilters::default()
    })
    .await;
    assert_eq!(everyone.users.len(), 6);
    for listed in &everyone.users {
        let stored = users.iter().find(|u| u.id == listed.id).unwrap();
        assert_eq!(listed, stored, "listed users are complete");
    }
    assert_eq!(everyone.total, Some(6), "page numbers count the total");
    assert!(!everyone.has_more);

    let cases: Vec<(UserFilters, Vec<&str>)> = vec![
        (
            UserFilters::default(),
            vec!["alice", "bob", "carol", "erin", "frank"],
        ),
        (
            UserFilters {
                status: Some(UserStatus::Deactivated),
                ..UserFilters::default()
            },
            vec!["dave"],
        ),
        (
            UserFilters {
                status: Some(UserStatus::Pending),
                include_inactive: true,
                ..UserFilters::default()
            },
            vec!["carol"],
        ),
        (
            UserFilters {
                email_key: Some(Email::parse("ERIN@Example.com").unwrap().key().to_owned()),
                ..UserFilters::default()
            },
            vec!["erin"],
        ),
        (
            UserFilters {
                username_key: Some(Username::parse("Bob").unwrap().key().to_owned()),
                ..UserFilters::default()
            },
            vec!["bob"],
        ),
        (
            UserFilters {
                q: Some("bo".into()),
                ..UserFilters::default()
            },
            vec!["bob", "frank"],
        ),
        (
            UserFilters {
                q: Some("ro".into()),
                ..UserFilters::default()
            },
            vec!["carol"],
        ),
        (
            UserFilters {
                role: Some(RoleName::admin()),
                ..UserFilters::default()
            },
            vec!["alice"],
        ),
        (
            UserFilters {
                role: Some(RoleName::parse("MANAGER").unwrap()),
                ..UserFilters::default()
            },
            vec![],
        ),
        (
            UserFilters {
                role: Some(RoleName::parse("MANAGER").unwrap()),
                include_inactive: true,
                ..UserFilters::default()
            },
            vec!["dave"],
        ),
        (
            UserFilters {
                tenant_id: Some(TenantId::parse("acme").unwrap()),
                ..UserFilters::default()
            },
            vec!["alice", "bob"],
        ),
        (
            UserFilters {
                tenant_id: Some(TenantId::parse("acme").unwrap()),
                q: Some("b".into()),
                role: Some(RoleName::user()),
                ..UserFilters::default()
            },
            vec!["bob"],
        ),
        (
            UserFilters {
                q: Some("nobody".into()),
                ..UserFilters::default()
            },
            vec![],
        ),
    ];
    for (filters, expected) in cases {
        let page = list(filters.clone()).await;
        assert_eq!(names(&page), expected, "{filters:?}");
        assert_eq!(page.total, Some(expected.len() as u64), "{filters:?}");
    }
}

/// The order a list promises: the sort key (missing smallest), then the id.
fn reference(users: &[User], sort: SortKey, order: SortOrder) -> Vec<UserId> {
    let mut sorted: Vec<&User> = users.iter().collect();
    sorted.sort_by(|a, b| {
        let key = |u: &User| match SortValue::of(u, sort) {
            SortValue::Time(t) => (t, None),
            SortValue::Text(t) => (None, t),
        };
        (key(a), a.id.as_uuid()).cmp(&(key(b), b.id.as_uuid()))
    });
    if order == SortOrder::Desc {
        sorted.reverse();
    }
    sorted.into_iter().map(|u| u.id).collect()
}

const SORTS: [SortKey; 4] = [
    SortKey::CreatedAt,
    SortKey::Username,
    SortKey::Name,
    SortKey::LastLoginAt,
];

fn everyone(sort: SortKey, order: SortOrder, limit: u64, paging: Paging) -> UserListQuery {
    UserListQuery {
        filters: UserFilters {
            include_inactive: true,
            ..UserFilters::default()
        },
        sort,
        order,
        limit,
        paging,
        count: false,
    }
}

/// Every sort, both ways, is by the key and then the id; a missing name or login sorts as
/// the smallest value (first ascending, last descending).
pub async fn every_sort_is_a_total_order_with_missing_values_smallest(s: Store) {
    let users = populate(&s).await;
    let id = |name: &str| {
        users
            .iter()
            .find(|u| u.username.as_str() == name)
            .unwrap()
            .id
    };
    let by_id = |a: &'static str, b: &'static str| {
        if id(a).as_uuid() < id(b).as_uuid() {
            [a, b]
        } else {
            [b, a]
        }
    };
    for sort in SORTS {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let page = s
                .directory
                .list(&everyone(sort, order, 100, Paging::Page(1)))
                .await
                .unwrap();
            let got: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
            assert_eq!(got, reference(&users, sort, order), "{sort:?} {order:?}");
        }
    }
    // Spelled out: names ascending start with the users without one.
    let page = s
        .directory
        .list(&everyone(
            SortKey::Name,
            SortOrder::Asc,
            100,
            Paging::Page(1),
        ))
        .await
        .unwrap();
    let got: Vec<&str> = page.users.iter().map(|u| u.username.as_str()).collect();
    let [first, second] = by_id("bob", "erin");
    assert_eq!(got, vec![first, second, "alice", "frank", "carol", "dave"]);
    // Logins descending end with the users who never logged in, ties by id descending.
    let page = s
        .directory
        .list(&everyone(
            SortKey::LastLoginAt,
            SortOrder::Desc,
            100,
            Paging::Page(1),
        ))
        .await
        .unwrap();
    let got: Vec<&str> = page.users.iter().map(|u| u.username.as_str()).collect();
    let [low, high] = by_id("alice", "erin");
    assert_eq!(&got[..3], &["dave", high, low]);
    assert_eq!(got.len(), 6);
}

/// Page by page, with page numbers or with the keyset position of the last user, every
/// sort walks the same list; `has_more` says whether a page follows; page numbers (and
/// `count`) carry the total.
pub async fn page_numbers_and_cursors_walk_the_same_list(s: Store) {
    let users = populate(&s).await;
    for sort in SORTS {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let expected = reference(&users, sort, order);
            for limit in [1_u64, 2, 4] {
                // Page numbers.
                let mut walked = Vec::new();
                for number in 1..=4 {
                    let page = s
                        .directory
                        .list(&everyone(sort, order, limit, Paging::Page(number)))
                        .await
                        .unwrap();
                    assert_eq!(page.total, Some(6));
                    let end = usize::try_from(number * limit).unwrap().min(6);
                    assert_eq!(page.has_more, end < 6, "{sort:?} {order:?} page {number}");
                    walked.extend(page.users.iter().map(|u| u.id));
                    if !page.has_more {
                        break;
                    }
                }
                let shown = usize::try_from(4 * limit).unwrap().min(6);
                assert_eq!(
                    walked,
                    expected[..shown].to_vec(),
                    "{sort:?} {order:?} by page"
                );
                // Cursors: after the last user of each page.
                let mut walked = Vec::new();
                let mut paging = Paging::Page(1);
                for number in 1_u64.. {
                    let mut query = everyone(sort, order, limit, paging.clone());
                    query.count = number == 2;
                    let page = s.directory.list(&query).await.unwrap();
                    if query.count {
                        assert_eq!(page.total, Some(6), "count asks for the total");
                    }
                    walked.extend(page.users.iter().map(|u| u.id));
                    let Some(last) = page.users.last().filter(|_| page.has_more) else {
                        break;
                    };
                    paging = Paging::After(Keyset {
                        value: SortValue::of(last, sort),
                        id: last.id,
                        page: number + 1,
                    });
                    assert!(number < 10, "the walk ends");
                }
                assert_eq!(
                    walked, expected,
                    "{sort:?} {order:?} limit {limit} by cursor"
                );
            }
        }
    }
    // The page after the last user is empty.
    let last = users
        .iter()
        .find(|u| u.username.as_str() == "frank")
        .unwrap();
    let page = s
        .directory
        .list(&everyone(
            SortKey::CreatedAt,
            SortOrder::Asc,
            10,
            Paging::After(Keyset {
                value: SortValue::of(last, SortKey::CreatedAt),
                id: last.id,
                page: 2,
            }),
        ))
        .await
        .unwrap();
    assert!(page.users.is_empty() && !page.has_more);
}

/// `q` matches a substring of the username or of the lowercased name, with `%`, `_` and
/// `\` taken literally.
pub async fn q_takes_wildcards_literally_and_matches_the_lowercased_name(s: Store) {
    for (username, name) in [
        ("deal", "Half 50%_Off"),
        ("other", "Half 50xyOff"),
        ("slash", "Back \\ Slash"),
    ] {
        let mut new = new_user(
            &format!("{username}@example.com"),
            username,
            UserStatus::Active,
        );
        new.name = Some(Name::parse(name).unwrap());
        s.users.create(new.clone(), plain(&new)).await.unwrap();
    }
    for (q, expected) in [
        ("50%_", vec!["deal"]),
        ("%", vec!["deal"]),
        ("_", vec!["deal"]),
        ("\\", vec!["slash"]),
        ("half 50", vec!["deal", "other"]),
        ("ea", vec!["deal"]),
    ] {
        let page = s
            .directory
            .list(&list_query(UserFilters {
                q: Some(q.into()),
                ..UserFilters::default()
            }))
            .await
            .unwrap();
        assert_eq!(names(&page), expected, "q {q:?}");
    }
}

/// Built-in roles exist from the start, a custom one once created, others not.
pub async fn role_exists_knows_built_in_and_custom_roles(s: Store) {
    for role in RoleName::BUILT_IN {
        assert!(
            s.directory
                .role_exists(&RoleName::parse(role).unwrap())
                .await
                .unwrap()
        );
    }
    let auditor = RoleName::parse("AUDITOR").unwrap();
    assert!(!s.directory.role_exists(&auditor).await.unwrap());
    s.admin
        .create_role(
            Role {
                name: auditor.clone(),
                description: None,
                built_in: false,
                created_at: t0(),
            },
            super::user_administration::admin_event(AuditAction::RoleCreated, UserId::generate()),
        )
        .await
        .unwrap();
    assert!(s.directory.role_exists(&auditor).await.unwrap());
}
