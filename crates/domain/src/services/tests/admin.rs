//! `Administration`: the policy is asked first, then the ports, with the right changes.

use std::sync::{Arc, Mutex};

use super::{clock, ctx, sample_user, storage_down, t0, user_from_new};
use crate::audit::{Actor, AuditAction};
use crate::policy::{Caller, LastAdmin};
use crate::ports::{
    AdminChange, AdminChangeError, CreateUserError, CreationEffects, MockPasswordHasher,
    MockUserAdministration, MockUserRepository, Role, RoleChange, StatusChange,
};
use crate::role::RoleName;
use crate::services::{
    AdminError, AdminUpdateInput, Administration, AdministrationPorts, AuditQueryInput,
    CreateUserInput,
};
use crate::user::{NewUser, User, UserId, UserStatus};

fn admin_service(
    users: MockUserRepository,
    admin: MockUserAdministration,
    hasher: MockPasswordHasher,
) -> Administration {
    Administration::new(AdministrationPorts {
        users: Arc::new(users),
        admin: Arc::new(admin),
        hasher: Arc::new(hasher),
        clock: clock(),
    })
}

fn with_roles(roles: &[&str]) -> User {
    let mut user = sample_user(UserStatus::Active);
    user.roles = roles.iter().map(|r| RoleName::parse(r).unwrap()).collect();
    user
}

fn as_caller(user: &User) -> Caller {
    Caller::User(Box::new(user.clone()))
}

fn built_in_roles() -> Vec<Role> {
    RoleName::BUILT_IN
        .iter()
        .map(|name| Role {
            name: RoleName::parse(name).unwrap(),
            description: None,
            built_in: true,
            created_at: t0(),
        })
        .collect()
}

/// A repository that finds `target` by id.
fn users_finding(target: &User) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    let found = target.clone();
    users
        .expect_find_by_id()
        .returning(move |id| Ok((id == found.id).then(|| found.clone())));
    users
}

type Applied = Arc<Mutex<Vec<AdminChange>>>;

/// Administration storage recording every change and answering with `answer`.
fn admin_recording(answer: User) -> (MockUserAdministration, Applied) {
    let mut admin = MockUserAdministration::new();
    let applied = Applied::default();
    let seen = Arc::clone(&applied);
    admin.expect_apply().returning(move |change| {
        seen.lock().unwrap().push(change);
        Ok(answer.clone())
    });
    (admin, applied)
}

#[tokio::test]
async fn a_plain_user_reading_another_id_is_refused_without_a_lookup() {
    let me = with_roles(&["USER", "CONTRIBUTOR"]);
    // No expectations: any storage call fails the test.
    let service = admin_service(
        MockUserRepository::new(),
        MockUserAdministration::new(),
        MockPasswordHasher::new(),
    );
    let err = service
        .get_user(&as_caller(&me), UserId::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Forbidden), "{err:?}");
}

#[tokio::test]
async fn a_manager_may_not_deactivate_and_storage_is_not_touched() {
    let manager = with_roles(&["MANAGER"]);
    let service = admin_service(
        MockUserRepository::new(),
        MockUserAdministration::new(),
        MockPasswordHasher::new(),
    );
    let err = service
        .deactivate(&as_caller(&manager), UserId::generate(), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Forbidden), "{err:?}");
}

#[tokio::test]
async fn a_manager_may_not_touch_an_admins_name() {
    let manager = with_roles(&["MANAGER"]);
    let target = with_roles(&["ADMIN"]);
    let service = admin_service(
        users_finding(&target),
        MockUserAdministration::new(),
        MockPasswordHasher::new(),
    );
    let input = AdminUpdateInput {
        name: Some(Some("New Name".to_owned())),
        ..AdminUpdateInput::default()
    };
    let err = service
        .update_user(&as_caller(&manager), target.id, input, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Forbidden), "{err:?}");
}

#[tokio::test]
async fn deactivation_asks_storage_to_deactivate_with_the_admin_as_actor() {
    let admin_user = with_roles(&["ADMIN"]);
    let target = with_roles(&["USER"]);
    let (admin, applied) = admin_recording(target.clone());
    let service = admin_service(users_finding(&target), admin, MockPasswordHasher::new());
    service
        .deactivate(&as_caller(&admin_user), target.id, &ctx())
        .await
        .unwrap();
    let applied = applied.lock().unwrap();
    assert_eq!(applied.len(), 1);
    let change = &applied[0];
    assert_eq!(change.status, Some(StatusChange::Deactivate));
    assert_eq!(change.user, target.id);
    assert_eq!(change.audit.actor, Actor::User(admin_user.id));
    assert_eq!(change.audit.action, AuditAction::UserDeactivated);
    assert_eq!(change.audit.ip.as_deref(), Some("203.0.113.7"));
}

#[tokio::test]
async fn a_refusal_of_the_store_is_the_callers_answer() {
    let admin_user = with_roles(&["ADMIN"]);
    let mut admin = MockUserAdministration::new();
    admin
        .expect_apply()
        .returning(|_| Err(AdminChangeError::LastAdmin(LastAdmin)));
    let service = admin_service(users_finding(&admin_user), admin, MockPasswordHasher::new());
    let err = service
        .remove_role(&as_caller(&admin_user), admin_user.id, "ADMIN", &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::LastAdmin), "{err:?}");
}

#[tokio::test]
async fn removing_a_role_names_it_for_storage_and_in_the_audit_event() {
    let admin_user = with_roles(&["ADMIN"]);
    let target = with_roles(&["USER", "MANAGER"]);
    let (admin, applied) = admin_recording(target.clone());
    let service = admin_service(users_finding(&target), admin, MockPasswordHasher::new());
    service
        .remove_role(&as_caller(&admin_user), target.id, "MANAGER", &ctx())
        .await
        .unwrap();
    let change = applied.lock().unwrap()[0].clone();
    assert_eq!(
        change.role,
        Some(RoleChange::Remove(RoleName::parse("MANAGER").unwrap()))
    );
    assert_eq!(
        change.audit.details.get("role").map(String::as_str),
        Some("MANAGER")
    );
}

type Created = Arc<Mutex<Vec<(NewUser, CreationEffects)>>>;

fn users_creating(failures: Vec<CreateUserError>) -> (MockUserRepository, Created) {
    let mut users = MockUserRepository::new();
    users.expect_username_exists().returning(|_| Ok(false));
    let created = Created::default();
    let seen = Arc::clone(&created);
    let failures = Mutex::new(failures);
    users.expect_create().returning(move |new, effects| {
        let user = user_from_new(&new);
        seen.lock().unwrap().push((new, effects));
        match failures.lock().unwrap().pop() {
            Some(e) => Err(e),
            None => Ok(user),
        }
    });
    (users, created)
}

fn admin_with_roles() -> MockUserAdministration {
    let mut admin = MockUserAdministration::new();
    admin.expect_roles().returning(|| Ok(built_in_roles()));
    admin
}

#[tokio::test]
async fn an_admin_creates_an_active_user_without_password_and_no_address_is_audited() {
    let admin_user = with_roles(&["ADMIN"]);
    let (users, created) = users_creating(vec![]);
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    let service = admin_service(users, admin_with_roles(), hasher);
    let user = service
        .create_user(
            &as_caller(&admin_user),
            CreateUserInput {
                email: Some("grace@example.com".to_owned()),
                ..CreateUserInput::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(user.status, UserStatus::Active);
    assert_eq!(user.roles, vec![RoleName::user()]);
    assert_eq!(user.username.as_str(), "grace");
    let created = created.lock().unwrap();
    let (new, effects) = &created[0];
    assert!(new.password_hash.is_none());
    assert!(effects.mail.is_none() && effects.token.is_none());
    assert_eq!(effects.audit.actor, Actor::User(admin_user.id));
    assert!(
        effects.audit.details.values().all(|v| !v.contains('@')),
        "{:?}",
        effects.audit.details
    );
}

#[tokio::test]
async fn users_need_an_email_but_services_may_omit_it() {
    let admin_user = with_roles(&["ADMIN"]);
    let service = admin_service(
        MockUserRepository::new(),
        admin_with_roles(),
        MockPasswordHasher::new(),
    );
    let err = service
        .create_user(&as_caller(&admin_user), CreateUserInput::default(), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Invalid(_)), "{err:?}");

    let (users, created) = users_creating(vec![]);
    let service = admin_service(users, admin_with_roles(), MockPasswordHasher::new());
    let user = service
        .create_user(
            &Caller::Service("crm".to_owned()),
            CreateUserInput {
                external_id: Some("tg-42".to_owned()),
                ..CreateUserInput::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(user.username.as_str(), "tg-42");
    assert_eq!(
        created.lock().unwrap()[0].1.audit.actor,
        Actor::Service("crm".to_owned())
    );
}

#[tokio::test]
async fn an_upsert_that_loses_the_creation_race_updates_the_winner() {
    let winner = {
        let mut u = sample_user(UserStatus::Active);
        u.external_id = Some("race-1".to_owned());
        u
    };
    let (users, _) = users_creating(vec![CreateUserError::ExternalIdTaken]);
    let mut admin = admin_with_roles();
    let lookups = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&lookups);
    let found = winner.clone();
    admin.expect_find_by_external_id().returning(move |_| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        // Absent before the creation attempt, present after it lost.
        Ok((*n > 1).then(|| found.clone()))
    });
    let answer = winner.clone();
    admin.expect_apply().times(1).returning(move |change| {
        assert_eq!(change.user, answer.id);
        assert!(change.fields.name.is_some());
        Ok(answer.clone())
    });
    let service = admin_service(users, admin, MockPasswordHasher::new());
    let (user, created) = service
        .upsert_by_external_id(
            &Caller::Service("crm".to_owned()),
            "race-1",
            CreateUserInput {
                name: Some("Racing Ada".to_owned()),
                ..CreateUserInput::default()
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert!(!created, "the loser answers 200");
    assert_eq!(user.id, winner.id);
}

#[tokio::test]
async fn bad_audit_queries_are_refused_before_storage_and_only_admins_read_it() {
    let admin_user = with_roles(&["ADMIN"]);
    let service = admin_service(
        MockUserRepository::new(),
        MockUserAdministration::new(),
        MockPasswordHasher::new(),
    );
    for input in [
        AuditQueryInput {
            limit: Some("0".into()),
            ..AuditQueryInput::default()
        },
        AuditQueryInput {
            page: Some("x".into()),
            ..AuditQueryInput::default()
        },
        AuditQueryInput {
            action: Some("user.exploded".into()),
            ..AuditQueryInput::default()
        },
        AuditQueryInput {
            since: Some("yesterday".into()),
            ..AuditQueryInput::default()
        },
    ] {
        let err = service
            .audit_events(&as_caller(&admin_user), input)
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err:?}");
    }
    let manager = with_roles(&["MANAGER"]);
    let err = service
        .audit_events(&as_caller(&manager), AuditQueryInput::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Forbidden));
}

#[tokio::test]
async fn a_storage_failure_is_reported_as_such() {
    let admin_user = with_roles(&["ADMIN"]);
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().returning(|_| Err(storage_down()));
    let service = admin_service(
        users,
        MockUserAdministration::new(),
        MockPasswordHasher::new(),
    );
    let err = service
        .get_user(&as_caller(&admin_user), UserId::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Infra(_)), "{err:?}");
}

#[test]
fn an_external_id_is_short_plain_text_and_never_an_email_address() {
    use crate::services::parse_external_id;
    assert_eq!(
        parse_external_id("tg:12345").ok().as_deref(),
        Some("tg:12345")
    );
    assert!(parse_external_id("cust-42_a.b").is_ok());
    for bad in ["", "ada@example.com", "with space", "é", &"x".repeat(129)] {
        let refused = parse_external_id(bad).err().map(|v| v.code);
        let refused: Option<&str> = refused;
        assert_eq!(refused, Some("invalid_external_id"), "{bad:?}");
    }
}
