#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step must fail the test"
)]

//! `DieselUserAdministration` against SQLite and PostgreSQL: the rules the
//! `UserAdministration` port promises, above all the race-free last-ADMIN rule.

use chrono::{DateTime, TimeZone, Utc};
use roster_domain::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use roster_domain::ports::{
    AdminChange, AdminChangeError, CreationEffects, FieldChanges, RoleChange, StatusChange,
    UserAdministration, UserRepository,
};
use roster_domain::role::RoleName;
use roster_domain::user::{NewUser, Profile, User, UserId, UserStatus, Username};
use roster_persistence_diesel::testing::TestDatabase;
use roster_persistence_diesel::{BackendKind, DieselUserAdministration, DieselUserRepository};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn event(action: AuditAction, user: UserId) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::System,
        action,
        Some(user),
        &RequestContext::default(),
    )
}

async fn user(users: &DieselUserRepository, name: &str, roles: &[&str]) -> User {
    let id = UserId::generate();
    let new = NewUser {
        id,
        external_id: None,
        email: None,
        email_verified: false,
        username: Username::parse(name).unwrap(),
        name: None,
        phone: None,
        avatar_url: None,
        profile: Profile::default(),
        status: UserStatus::Active,
        roles: roles.iter().map(|r| RoleName::parse(r).unwrap()).collect(),
        password_hash: None,
        created_at: t0(),
    };
    let effects = CreationEffects {
        token: None,
        mail: None,
        audit: event(AuditAction::UserCreated, id),
    };
    users.create(new, effects).await.unwrap()
}

fn change(user: UserId, action: AuditAction) -> AdminChange {
    AdminChange {
        user,
        fields: FieldChanges::default(),
        status: None,
        role: None,
        tenant: None,
        audit: event(action, user),
        now: t0(),
    }
}

fn demote(user: UserId) -> AdminChange {
    let mut c = change(user, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(RoleName::admin()));
    c
}

fn deactivate(user: UserId) -> AdminChange {
    let mut c = change(user, AuditAction::UserDeactivated);
    c.status = Some(StatusChange::Deactivate);
    c
}

async fn concurrent_changes_never_remove_the_last_admin(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let database = db.connect(4).await;
    let users = DieselUserRepository::new(database.clone());
    let admin = DieselUserAdministration::new(database);
    let mut previous: Vec<UserId> = Vec::new();
    for round in 0..6 {
        let a = user(&users, &format!("a-{round}"), &["ADMIN", "USER"]).await;
        let b = user(&users, &format!("b-{round}"), &["ADMIN", "USER"]).await;
        // Retire the previous pair, so that exactly a and b are active admins.
        for id in previous.drain(..) {
            let before = users.find_by_id(id).await.unwrap().unwrap();
            if before.has_role(&RoleName::admin()) {
                admin.apply(demote(id)).await.unwrap();
            }
        }
        // Every way of taking ADMIN away, on both admins at once: exactly one passes.
        let (first, second) = match round % 3 {
            0 => (demote(a.id), demote(b.id)),
            1 => (deactivate(a.id), deactivate(b.id)),
            _ => (demote(a.id), deactivate(b.id)),
        };
        let (x, y) = tokio::join!(admin.apply(first), admin.apply(second));
        let passed = usize::from(x.is_ok()) + usize::from(y.is_ok());
        let refused = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(AdminChangeError::LastAdmin(_))))
            .count();
        assert_eq!((passed, refused), (1, 1), "round {round}: {x:?} {y:?}");
        assert!(users.active_admin_exists().await.unwrap());
        previous = vec![a.id, b.id];
    }
    // The survivor is the last one: nothing takes ADMIN away from it.
    let mut survivor = None;
    for id in previous {
        let u = users.find_by_id(id).await.unwrap().unwrap();
        if u.status == UserStatus::Active && u.has_role(&RoleName::admin()) {
            survivor = Some(id);
        }
    }
    let survivor = survivor.expect("one active admin");
    for refused in [
        admin.apply(demote(survivor)).await,
        admin.apply(deactivate(survivor)).await,
        admin
            .delete(survivor, event(AuditAction::UserDeleted, survivor))
            .await,
    ] {
        assert!(
            matches!(refused, Err(AdminChangeError::LastAdmin(_))),
            "{refused:?}"
        );
    }
}

async fn role_rules_are_checked_in_order_and_refusals_change_nothing(kind: BackendKind) {
    let db = TestDatabase::create(kind).await;
    let database = db.connect(4).await;
    let users = DieselUserRepository::new(database.clone());
    let admin = DieselUserAdministration::new(database);
    let only = user(&users, "only", &["ADMIN"]).await;
    // The last ADMIN whose only role is ADMIN: last_admin, not last_role.
    assert!(matches!(
        admin.apply(demote(only.id)).await,
        Err(AdminChangeError::LastAdmin(_))
    ));
    let plain = user(&users, "plain", &["USER"]).await;
    let mut c = change(plain.id, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(RoleName::user()));
    assert!(matches!(
        admin.apply(c).await,
        Err(AdminChangeError::LastRole)
    ));
    let mut c = change(plain.id, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(RoleName::parse("MANAGER").unwrap()));
    assert!(matches!(
        admin.apply(c).await,
        Err(AdminChangeError::RoleNotAssigned)
    ));
    let mut c = change(plain.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(RoleName::parse("NOSUCH").unwrap()));
    assert!(matches!(
        admin.apply(c).await,
        Err(AdminChangeError::UnknownRole)
    ));
    let mut c = change(plain.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(RoleName::user()));
    assert!(matches!(
        admin.apply(c).await,
        Err(AdminChangeError::RoleAlreadyAssigned)
    ));
    assert!(matches!(
        admin
            .apply(change(UserId::generate(), AuditAction::UserUpdated))
            .await,
        Err(AdminChangeError::NotFound)
    ));
    let after = users.find_by_id(plain.id).await.unwrap().unwrap();
    assert_eq!(after, plain, "refusals changed nothing");
    let page = admin
        .audit_events(roster_domain::ports::AuditQuery {
            user_id: Some(plain.id),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1, "only the creation was recorded");
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(roster_persistence_diesel::BackendKind::Postgres).await;
                }
            )*
        }
    };
}

on_both!(
    concurrent_changes_never_remove_the_last_admin,
    role_rules_are_checked_in_order_and_refusals_change_nothing,
);
