//! [`UserAdministration`](crate::ports::UserAdministration) checks: one atomic change per
//! call with its audit event; the last-admin rule, race-free and before every other rule;
//! deactivation revoking sessions; the role and membership rules; uniqueness by identity
//! key; roles; erasure; the audit log as read back.

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join;

use super::{Check, Store, checks, is_live, login_event, new_user, plain, session_for, t0};
use crate::audit::{Actor, AuditAction, AuditEvent, RequestContext};
use crate::ports::{
    AdminChange, AdminChangeError, AuditQuery, CreateRoleError, FieldChanges, Role, RoleChange,
    StatusChange, TenantChange,
};
use crate::role::RoleName;
use crate::tenant::TenantId;
use crate::user::{Email, Name, User, UserId, UserStatus, Username};

/// Every [`UserAdministration`](crate::ports::UserAdministration) check, in order.
pub fn checks() -> Vec<Check> {
    checks![
        concurrent_changes_never_remove_the_last_admin,
        the_last_admin_guard_comes_before_every_other_rule,
        role_rules_are_checked_in_order_and_refusals_change_nothing,
        deactivation_revokes_every_live_session_and_reactivation_restores_the_account,
        field_changes_keep_uniqueness_by_identity_key_and_apply_atomically,
        find_by_external_id_finds_the_user_in_any_status,
        tenant_memberships_keep_exactly_one_main,
        roles_are_listed_by_name_and_an_existing_name_is_refused_even_concurrently,
        delete_erases_the_user_with_its_sessions_and_records_the_event,
        audit_events_are_filtered_newest_first_and_paged,
    ]
}

/// An audit event about `user`, by the system, at [`t0`].
pub fn admin_event(action: AuditAction, user: UserId) -> AuditEvent {
    AuditEvent::new(
        t0(),
        Actor::System,
        action,
        Some(user),
        &RequestContext::default(),
    )
}

/// A change of `user` that changes nothing yet, recorded as `action`, at [`t0`].
pub fn admin_change(user: UserId, action: AuditAction) -> AdminChange {
    AdminChange {
        user,
        fields: FieldChanges::default(),
        status: None,
        role: None,
        tenant: None,
        audit: admin_event(action, user),
        now: t0(),
    }
}

/// Takes ADMIN away from `user`.
pub fn demote(user: UserId) -> AdminChange {
    let mut c = admin_change(user, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(RoleName::admin()));
    c
}

/// Deactivates `user`.
pub fn deactivate(user: UserId) -> AdminChange {
    let mut c = admin_change(user, AuditAction::UserDeactivated);
    c.status = Some(StatusChange::Deactivate);
    c
}

fn role(name: &str) -> RoleName {
    RoleName::parse(name).unwrap()
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

/// Creates an active user named `name` with `roles`.
async fn user(s: &Store, name: &str, roles: &[&str]) -> User {
    let mut new = new_user(&format!("{name}@example.com"), name, UserStatus::Active);
    new.roles = roles.iter().map(|r| role(r)).collect();
    s.users.create(new.clone(), plain(&new)).await.unwrap()
}

async fn stored(s: &Store, id: UserId) -> User {
    s.users.find_by_id(id).await.unwrap().unwrap()
}

/// Events recorded about `user`.
async fn events_about(s: &Store, user: UserId) -> u64 {
    s.admin
        .audit_events(AuditQuery {
            user_id: Some(user),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .total
}

/// Of two administrators, every way of taking ADMIN away from both at once lets exactly one
/// through: the guard is serialised against every other such change.
pub async fn concurrent_changes_never_remove_the_last_admin(s: Store) {
    let mut previous: Vec<UserId> = Vec::new();
    for round in 0..6 {
        let a = user(&s, &format!("a-{round}"), &["ADMIN", "USER"]).await;
        let b = user(&s, &format!("b-{round}"), &["ADMIN", "USER"]).await;
        // Retire the previous pair, so that exactly a and b are active admins.
        for id in previous.drain(..) {
            if stored(&s, id).await.has_role(&RoleName::admin()) {
                s.admin.apply(demote(id)).await.unwrap();
            }
        }
        let (first, second) = match round % 3 {
            0 => (demote(a.id), demote(b.id)),
            1 => (deactivate(a.id), deactivate(b.id)),
            _ => (demote(a.id), deactivate(b.id)),
        };
        let (x, y) = join(s.admin.apply(first), s.admin.apply(second)).await;
        let passed = usize::from(x.is_ok()) + usize::from(y.is_ok());
        let refused = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(AdminChangeError::LastAdmin(_))))
            .count();
        assert_eq!((passed, refused), (1, 1), "round {round}: {x:?} {y:?}");
        assert!(s.users.active_admin_exists().await.unwrap());
        previous = vec![a.id, b.id];
    }
    let mut survivor = None;
    for id in previous {
        let u = stored(&s, id).await;
        if u.status == UserStatus::Active && u.has_role(&RoleName::admin()) {
            survivor = Some(id);
        }
    }
    let survivor = survivor.expect("one active admin");
    for refused in [
        s.admin.apply(demote(survivor)).await,
        s.admin.apply(deactivate(survivor)).await,
        s.admin
            .delete(survivor, admin_event(AuditAction::UserDeleted, survivor))
            .await,
    ] {
        assert!(
            matches!(refused, Err(AdminChangeError::LastAdmin(_))),
            "{refused:?}"
        );
    }
}

/// The last-admin guard runs on the target as stored before any other rule: a change that
/// would also break another rule is refused as `LastAdmin`, and changes nothing. A
/// deactivated ADMIN, or one of several, is not protected.
pub async fn the_last_admin_guard_comes_before_every_other_rule(s: Store) {
    let only = user(&s, "only", &["ADMIN"]).await;
    let other = user(&s, "other", &["USER"]).await;
    // Demoting the last ADMIN whose only role is ADMIN: last_admin, not last_role.
    assert!(matches!(
        s.admin.apply(demote(only.id)).await,
        Err(AdminChangeError::LastAdmin(_))
    ));
    // Deactivating it while taking a username that is taken: last_admin, not username_taken.
    let mut c = deactivate(only.id);
    c.fields.username = Some(other.username.clone());
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::LastAdmin(_))
    ));
    assert_eq!(stored(&s, only.id).await, only, "refusals changed nothing");
    assert_eq!(events_about(&s, only.id).await, 1, "only the creation");

    // With a second active ADMIN, the first may go; then the second is the last one.
    let second = user(&s, "second", &["ADMIN", "USER"]).await;
    let gone = s.admin.apply(deactivate(only.id)).await.unwrap();
    assert_eq!(gone.status, UserStatus::Deactivated);
    assert!(matches!(
        s.admin.apply(deactivate(second.id)).await,
        Err(AdminChangeError::LastAdmin(_))
    ));
    // A deactivated ADMIN does not count, and is not protected.
    let mut c = admin_change(only.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(RoleName::user()));
    s.admin.apply(c).await.unwrap();
    let demoted = s.admin.apply(demote(only.id)).await.unwrap();
    assert!(!demoted.has_role(&RoleName::admin()));
    // An unknown user is not found, whether the change is guarded or not.
    for c in [
        demote(UserId::generate()),
        deactivate(UserId::generate()),
        admin_change(UserId::generate(), AuditAction::UserUpdated),
    ] {
        assert!(matches!(
            s.admin.apply(c).await,
            Err(AdminChangeError::NotFound)
        ));
    }
}

/// Role rules, each refused with its own error, none of which changes anything.
pub async fn role_rules_are_checked_in_order_and_refusals_change_nothing(s: Store) {
    let plain_user = user(&s, "plain", &["USER"]).await;
    let mut c = admin_change(plain_user.id, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(RoleName::user()));
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::LastRole)
    ));
    let mut c = admin_change(plain_user.id, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(role("MANAGER")));
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::RoleNotAssigned)
    ));
    let mut c = admin_change(plain_user.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(role("NOSUCH")));
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::UnknownRole)
    ));
    let mut c = admin_change(plain_user.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(RoleName::user()));
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::RoleAlreadyAssigned)
    ));
    // A refused role change takes its field changes down with it.
    let mut c = admin_change(plain_user.id, AuditAction::RoleAdded);
    c.fields.name = Some(Some(Name::parse("Changed").unwrap()));
    c.role = Some(RoleChange::Add(RoleName::user()));
    assert!(s.admin.apply(c).await.is_err());
    assert_eq!(
        stored(&s, plain_user.id).await,
        plain_user,
        "refusals changed nothing"
    );
    assert_eq!(
        events_about(&s, plain_user.id).await,
        1,
        "only the creation"
    );

    // Adding, then removing, keeps the roles sorted by name and records each change.
    let mut c = admin_change(plain_user.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(role("MANAGER")));
    let promoted = s.admin.apply(c).await.unwrap();
    assert_eq!(promoted.roles, vec![role("MANAGER"), RoleName::user()]);
    let mut c = admin_change(plain_user.id, AuditAction::RoleRemoved);
    c.role = Some(RoleChange::Remove(RoleName::user()));
    let changed = s.admin.apply(c).await.unwrap();
    assert_eq!(changed.roles, vec![role("MANAGER")]);
    assert_eq!(stored(&s, plain_user.id).await, changed);
    assert_eq!(events_about(&s, plain_user.id).await, 3);
}

/// Deactivation sets the status and its time and revokes every live session of the user
/// in the same call; reactivation makes the account active again, its sessions stay ended.
pub async fn deactivation_revokes_every_live_session_and_reactivation_restores_the_account(
    s: Store,
) {
    let ada = user(&s, "ada", &["USER"]).await;
    let bob = user(&s, "bob", &["USER"]).await;
    let phone = session_for(ada.id, t0());
    let laptop = session_for(ada.id, t0());
    let bobs = session_for(bob.id, t0());
    for session in [&phone, &laptop, &bobs] {
        s.sessions
            .start(session.clone(), login_event(session.user_id), 0)
            .await
            .unwrap();
    }
    let later = t0() + Duration::minutes(5);
    let mut c = deactivate(ada.id);
    c.now = later;
    let gone = s.admin.apply(c).await.unwrap();
    assert_eq!(gone.status, UserStatus::Deactivated);
    assert_eq!(gone.deactivated_at, Some(later));
    assert_eq!(stored(&s, ada.id).await, gone);
    assert!(!is_live(&s, &phone, later).await);
    assert!(!is_live(&s, &laptop, later).await);
    assert!(
        is_live(&s, &bobs, later).await,
        "other users' sessions are untouched"
    );
    let listed = s.sessions.live_sessions(ada.id, later).await.unwrap();
    assert!(listed.is_empty(), "no live session left: {listed:?}");

    let mut c = admin_change(ada.id, AuditAction::UserReactivated);
    c.status = Some(StatusChange::Reactivate);
    c.now = later + Duration::minutes(1);
    let back = s.admin.apply(c).await.unwrap();
    assert_eq!(back.status, UserStatus::Active);
    assert_eq!(back.deactivated_at, None);
    assert!(
        !is_live(&s, &phone, later + Duration::minutes(1)).await,
        "a revoked session stays revoked"
    );
    assert_eq!(
        events_about(&s, ada.id).await,
        5,
        "creation, two logins, deactivation, reactivation"
    );
}

/// Email, username and external id stay unique (emails by identity key); a refused change
/// changes nothing; an accepted one changes every field it names and nothing else.
pub async fn field_changes_keep_uniqueness_by_identity_key_and_apply_atomically(s: Store) {
    let ada = user(&s, "ada", &["USER"]).await;
    let mut provisioned = new_user("bob@example.com", "bob", UserStatus::Active);
    provisioned.external_id = Some("ext-bob".into());
    let bob = s
        .users
        .create(provisioned.clone(), plain(&provisioned))
        .await
        .unwrap();

    let mut c = admin_change(ada.id, AuditAction::UserUpdated);
    c.fields.name = Some(Some(Name::parse("Ada").unwrap()));
    c.fields.email = Some(Email::parse("BOB@Example.com").unwrap());
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::EmailTaken)
    ));
    let mut c = admin_change(ada.id, AuditAction::UserUpdated);
    c.fields.name = Some(Some(Name::parse("Ada").unwrap()));
    c.fields.username = Some(Username::parse("BOB").unwrap());
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::UsernameTaken)
    ));
    let mut c = admin_change(ada.id, AuditAction::UserUpdated);
    c.fields.name = Some(Some(Name::parse("Ada").unwrap()));
    c.fields.external_id = Some("ext-bob".into());
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::ExternalIdTaken)
    ));
    assert_eq!(stored(&s, ada.id).await, ada, "refusals changed nothing");
    assert_eq!(events_about(&s, ada.id).await, 1, "only the creation");

    // A user may keep its own values, in another case.
    let later = t0() + Duration::hours(1);
    let mut c = admin_change(bob.id, AuditAction::UserUpdated);
    c.fields.username = Some(Username::parse("Bob").unwrap());
    c.fields.external_id = Some("ext-bob".into());
    c.now = later;
    let same = s.admin.apply(c).await.unwrap();
    assert_eq!(same.username.as_str(), "Bob");
    assert_eq!(same.updated_at, later);

    // A new email is stored unverified, unless the change says otherwise.
    let mut c = admin_change(ada.id, AuditAction::UserUpdated);
    c.fields.email = Some(Email::parse("ada.l@example.com").unwrap());
    c.fields.name = Some(Some(Name::parse("Ada L").unwrap()));
    c.fields.external_id = Some("ext-ada".into());
    let changed = s.admin.apply(c).await.unwrap();
    assert_eq!(
        changed.email.as_ref().map(Email::as_str),
        Some("ada.l@example.com")
    );
    assert!(!changed.email_verified);
    assert_eq!(changed.name.as_ref().map(Name::as_str), Some("Ada L"));
    assert_eq!(changed.external_id.as_deref(), Some("ext-ada"));
    assert_eq!(changed.username, ada.username, "unnamed fields stay");
    let mut c = admin_change(ada.id, AuditAction::UserUpdated);
    c.fields.email = Some(Email::parse("ada@example.com").unwrap());
    c.fields.email_verified = Some(true);
    c.fields.name = Some(None);
    let changed = s.admin.apply(c).await.unwrap();
    assert!(changed.email_verified);
    assert_eq!(changed.name, None, "Some(None) clears");
    assert_eq!(stored(&s, ada.id).await, changed);
    assert_eq!(events_about(&s, ada.id).await, 3);
}

/// `find_by_external_id` finds a provisioned user in any status, and nothing for an unknown
/// id.
pub async fn find_by_external_id_finds_the_user_in_any_status(s: Store) {
    let mut provisioned = new_user("bob@example.com", "bob", UserStatus::Pending);
    provisioned.external_id = Some("ext-bob".into());
    let bob = s
        .users
        .create(provisioned.clone(), plain(&provisioned))
        .await
        .unwrap();
    let found = s.admin.find_by_external_id("ext-bob").await.unwrap();
    assert_eq!(found.as_ref().map(|u| u.id), Some(bob.id));
    assert_eq!(found.map(|u| u.status), Some(UserStatus::Pending));
    s.admin.apply(deactivate(bob.id)).await.unwrap();
    let found = s.admin.find_by_external_id("ext-bob").await.unwrap();
    assert_eq!(found.map(|u| u.status), Some(UserStatus::Deactivated));
    assert!(
        s.admin
            .find_by_external_id("EXT-BOB")
            .await
            .unwrap()
            .is_none(),
        "external ids are compared as given"
    );
    assert!(s.admin.find_by_external_id("nope").await.unwrap().is_none());
}

fn set(user: UserId, tenant_id: &str, role_name: &str, main: Option<bool>) -> AdminChange {
    let mut c = admin_change(user, AuditAction::TenantSet);
    c.tenant = Some(TenantChange::Set {
        tenant: tenant(tenant_id),
        role: role(role_name),
        main,
    });
    c
}

fn mains(user: &User) -> Vec<&str> {
    user.tenants
        .iter()
        .filter(|m| m.main)
        .map(|m| m.tenant_id.as_str())
        .collect()
}

/// A user with memberships has exactly one main: the first is main, `main: true` moves it,
/// `main: false` on the main one is refused, removing the main one makes the oldest
/// remaining one main. Memberships are listed oldest first.
pub async fn tenant_memberships_keep_exactly_one_main(s: Store) {
    let ada = user(&s, "ada", &["USER"]).await;
    let at = |minutes: i64| t0() + Duration::minutes(minutes);
    let mut c = set(ada.id, "acme", "USER", Some(false));
    c.now = at(1);
    let one = s.admin.apply(c).await.unwrap();
    assert_eq!(mains(&one), vec!["acme"], "the first membership is main");
    assert_eq!(one.tenants[0].created_at, at(1));
    let mut c = set(ada.id, "beta", "MANAGER", None);
    c.now = at(2);
    let two = s.admin.apply(c).await.unwrap();
    assert_eq!(mains(&two), vec!["acme"]);
    let mut c = set(ada.id, "corp", "USER", Some(true));
    c.now = at(3);
    let three = s.admin.apply(c).await.unwrap();
    assert_eq!(mains(&three), vec!["corp"]);
    let order: Vec<&str> = three.tenants.iter().map(|m| m.tenant_id.as_str()).collect();
    assert_eq!(order, vec!["acme", "beta", "corp"], "oldest first");

    // Refusals, each changing nothing.
    assert!(matches!(
        s.admin
            .apply(set(ada.id, "corp", "USER", Some(false)))
            .await,
        Err(AdminChangeError::MainRequired)
    ));
    assert!(matches!(
        s.admin.apply(set(ada.id, "delta", "NOSUCH", None)).await,
        Err(AdminChangeError::UnknownRole)
    ));
    let mut c = admin_change(ada.id, AuditAction::TenantRemoved);
    c.tenant = Some(TenantChange::Remove(tenant("nope")));
    assert!(matches!(
        s.admin.apply(c).await,
        Err(AdminChangeError::MembershipNotFound)
    ));
    assert_eq!(stored(&s, ada.id).await, three, "refusals changed nothing");

    // Changing the role of a membership keeps its place and whether it is main.
    let changed = s
        .admin
        .apply(set(ada.id, "beta", "USER", None))
        .await
        .unwrap();
    assert_eq!(changed.tenants[1].role, RoleName::user());
    assert_eq!(changed.tenants[1].created_at, at(2));
    assert_eq!(mains(&changed), vec!["corp"]);
    // `main: false` on a membership that is not main is accepted.
    let unchanged = s
        .admin
        .apply(set(ada.id, "acme", "USER", Some(false)))
        .await
        .unwrap();
    assert_eq!(mains(&unchanged), vec!["corp"]);
    // Removing the main one: the oldest remaining becomes main.
    let mut c = admin_change(ada.id, AuditAction::TenantRemoved);
    c.tenant = Some(TenantChange::Remove(tenant("corp")));
    let removed = s.admin.apply(c).await.unwrap();
    assert_eq!(mains(&removed), vec!["acme"]);
    assert_eq!(removed.tenants.len(), 2);
    let mut c = admin_change(ada.id, AuditAction::TenantRemoved);
    c.tenant = Some(TenantChange::Remove(tenant("acme")));
    let removed = s.admin.apply(c).await.unwrap();
    assert_eq!(mains(&removed), vec!["beta"]);
    let mut c = admin_change(ada.id, AuditAction::TenantRemoved);
    c.tenant = Some(TenantChange::Remove(tenant("beta")));
    let none = s.admin.apply(c).await.unwrap();
    assert!(none.tenants.is_empty());
    assert_eq!(stored(&s, ada.id).await, none);
}

/// Roles are listed by name, the built-in ones marked; a custom role is stored with its
/// audit event; an existing name is refused, also when two callers create it at once.
pub async fn roles_are_listed_by_name_and_an_existing_name_is_refused_even_concurrently(s: Store) {
    let roles = s.admin.roles().await.unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    let mut built_in: Vec<&str> = RoleName::BUILT_IN.to_vec();
    built_in.sort_unstable();
    assert_eq!(names, built_in);
    assert!(roles.iter().all(|r| r.built_in));

    let auditor = Role {
        name: role("AUDITOR"),
        description: Some("Reads the audit log".into()),
        built_in: false,
        created_at: t0(),
    };
    let event = || {
        AuditEvent::new(
            t0(),
            Actor::System,
            AuditAction::RoleCreated,
            None,
            &RequestContext::default(),
        )
    };
    let created = s.admin.create_role(auditor.clone(), event()).await.unwrap();
    assert_eq!(created, auditor);
    let roles = s.admin.roles().await.unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names[..2],
        ["ADMIN", "AUDITOR"],
        "listed by name: {names:?}"
    );
    assert_eq!(roles.len(), 6);
    assert_eq!(roles[1], auditor);
    for existing in [
        auditor.clone(),
        Role {
            name: RoleName::admin(),
            ..auditor
        },
    ] {
        assert!(matches!(
            s.admin.create_role(existing, event()).await,
            Err(CreateRoleError::Exists)
        ));
    }
    let twice = Role {
        name: role("BILLING"),
        description: None,
        built_in: false,
        created_at: t0(),
    };
    let (x, y) = join(
        s.admin.create_role(twice.clone(), event()),
        s.admin.create_role(twice.clone(), event()),
    )
    .await;
    assert_eq!(
        usize::from(x.is_ok()) + usize::from(y.is_ok()),
        1,
        "{x:?} {y:?}"
    );
    assert!(matches!(
        [x, y].into_iter().find(Result::is_err),
        Some(Err(CreateRoleError::Exists))
    ));
    let recorded = s
        .admin
        .audit_events(AuditQuery {
            action: Some(AuditAction::RoleCreated),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(recorded.total, 2, "one event per role created");
    // The new role can be given to a user.
    let ada = user(&s, "ada", &["USER"]).await;
    let mut c = admin_change(ada.id, AuditAction::RoleAdded);
    c.role = Some(RoleChange::Add(role("BILLING")));
    let billing = s.admin.apply(c).await.unwrap();
    assert!(billing.has_role(&role("BILLING")));
}

/// Erasure removes the user with its sessions, returns it as it was and records the event;
/// an unknown user is not found.
pub async fn delete_erases_the_user_with_its_sessions_and_records_the_event(s: Store) {
    let _admin = user(&s, "root", &["ADMIN"]).await;
    let ada = user(&s, "ada", &["USER"]).await;
    let session = session_for(ada.id, t0());
    s.sessions
        .start(session.clone(), login_event(ada.id), 0)
        .await
        .unwrap();
    let before = stored(&s, ada.id).await;
    let erased = s
        .admin
        .delete(ada.id, admin_event(AuditAction::UserDeleted, ada.id))
        .await
        .unwrap();
    assert_eq!(erased, before);
    assert!(s.users.find_by_id(ada.id).await.unwrap().is_none());
    assert!(!is_live(&s, &session, t0()).await);
    assert!(
        !s.users
            .username_exists(&Username::parse("ada").unwrap())
            .await
            .unwrap(),
        "the username is free again"
    );
    let deleted = s
        .admin
        .audit_events(AuditQuery {
            user_id: Some(ada.id),
            action: Some(AuditAction::UserDeleted),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(deleted.total, 1, "the log outlives the account");
    assert!(matches!(
        s.admin
            .delete(ada.id, admin_event(AuditAction::UserDeleted, ada.id))
            .await,
        Err(AdminChangeError::NotFound)
    ));
}

/// The audit log as read back: filtered by user, actor, action and time (`since`
/// inclusive, `until` exclusive), newest first with ties by id descending, paged, with the
/// total across pages.
pub async fn audit_events_are_filtered_newest_first_and_paged(s: Store) {
    let ada = UserId::generate();
    let bob = UserId::generate();
    let at = |minutes: i64| -> DateTime<Utc> { t0() + Duration::minutes(minutes) };
    let ctx = RequestContext {
        ip: Some("192.0.2.1".into()),
        user_agent: None,
    };
    let events = [
        AuditEvent::new(at(0), Actor::System, AuditAction::Login, Some(ada), &ctx),
        AuditEvent::new(
            at(1),
            Actor::User(ada),
            AuditAction::Logout,
            Some(ada),
            &ctx,
        )
        .with("session", "s1"),
        AuditEvent::new(
            at(2),
            Actor::Service("billing".into()),
            AuditAction::UserUpdated,
            Some(bob),
            &ctx,
        ),
        AuditEvent::new(at(2), Actor::System, AuditAction::Login, Some(bob), &ctx),
        AuditEvent::new(at(3), Actor::System, AuditAction::LoginFailed, None, &ctx),
    ];
    for event in &events {
        s.audit.record(event.clone()).await.unwrap();
    }
    let all = s
        .admin
        .audit_events(AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    let mut tied = [events[2].id, events[3].id];
    tied.sort_unstable();
    let expected = vec![events[4].id, tied[1], tied[0], events[1].id, events[0].id];
    let got: Vec<_> = all.events.iter().map(|e| e.id).collect();
    assert_eq!(got, expected, "newest first, ties by id descending");
    let logout = all.events.iter().find(|e| e.id == events[1].id).unwrap();
    assert_eq!(logout.at, at(1));
    assert_eq!(logout.actor_id, ada.to_string());
    assert_eq!(logout.action, AuditAction::Logout.as_str());
    assert_eq!(logout.user_id, Some(ada));
    assert_eq!(logout.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        logout.details.get("session").map(String::as_str),
        Some("s1")
    );

    let query = |q: AuditQuery| {
        let admin = s.admin.clone();
        async move { admin.audit_events(q).await.unwrap() }
    };
    let ids = |page: &crate::ports::AuditPage| page.events.iter().map(|e| e.id).collect::<Vec<_>>();
    let by_user = query(AuditQuery {
        user_id: Some(ada),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&by_user), vec![events[1].id, events[0].id]);
    let by_actor = query(AuditQuery {
        actor_id: Some("service:billing".into()),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&by_actor), vec![events[2].id]);
    let by_action = query(AuditQuery {
        action: Some(AuditAction::Login),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&by_action), vec![events[3].id, events[0].id]);
    let window = query(AuditQuery {
        since: Some(at(1)),
        until: Some(at(3)),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(window.total, 3, "since inclusive, until exclusive");
    assert_eq!(ids(&window), expected[1..4].to_vec());
    let combined = query(AuditQuery {
        user_id: Some(bob),
        action: Some(AuditAction::Login),
        since: Some(at(2)),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ids(&combined), vec![events[3].id]);

    let page = query(AuditQuery {
        offset: 2,
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(page.total, 5, "the total counts every page");
    assert_eq!(ids(&page), expected[2..4].to_vec());
    let past = query(AuditQuery {
        offset: 10,
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!((past.total, past.events.len()), (5, 0));
}
