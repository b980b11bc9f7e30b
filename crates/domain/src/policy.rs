//! The authorization policy: who may do what to whom. Every administration route asks it,
//! through [`crate::services::Administration`].
//!
//! The rules of the contract:
//!
//! * `ADMIN` may do everything.
//! * `MANAGER` reads every user (by id, email, username, in lists) and the roles, and changes
//!   only `name`, `phone`, `avatar_url` and `profile` of users who are not `ADMIN`.
//! * Every other user reads their own account by id and nothing else; reading another id is
//!   refused whether or not it exists ([`Policy::may_read`] decides on the id alone).
//! * A trusted service (`service:<name>`, the internal API) and Roster itself (`system`)
//!   bypass user roles.
//! * Nobody removes `ADMIN` from, deactivates or deletes the last active ADMIN. That rule
//!   needs the current count of active administrators and must hold under concurrent
//!   changes, so storage adapters apply [`last_admin_guard`] inside the transaction that
//!   makes the change; it is checked before any other business rule (such as `last_role`).

use crate::role::RoleName;
use crate::user::{User, UserId, UserStatus};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An authenticated user, as currently stored (current roles and status).
    User(Box<User>),
    /// A trusted backend service, by the name of its API key.
    Service(String),
    /// Roster itself (jobs, the command line).
    System,
}

impl Caller {
    /// The audit actor of this caller.
    pub fn actor(&self) -> crate::audit::Actor {
        match self {
            Self::User(user) => crate::audit::Actor::User(user.id),
            Self::Service(name) => crate::audit::Actor::Service(name.clone()),
            Self::System => crate::audit::Actor::System,
        }
    }
}

/// A field of a user that an administrative change may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `username`.
    Username,
    /// `name`.
    Name,
    /// `phone`.
    Phone,
    /// `avatar_url`.
    AvatarUrl,
    /// `profile`.
    Profile,
    /// `email`.
    Email,
    /// `email_verified`.
    EmailVerified,
    /// `external_id` (internal API only).
    ExternalId,
}

impl Field {
    /// The fields a MANAGER may change (of users who are not ADMIN).
    pub const MANAGER_FIELDS: [Self; 4] = [Self::Name, Self::Phone, Self::AvatarUrl, Self::Profile];
}

/// What the caller wants to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read one user by id.
    ReadUser,
    /// Look a user up by email or username.
    FindUser,
    /// List or search users.
    ListUsers,
    /// Create a user.
    CreateUser,
    /// Change these fields of a user.
    UpdateUser(Vec<Field>),
    /// Erase a user.
    DeleteUser,
    /// Deactivate (soft-delete) a user.
    DeactivateUser,
    /// Reactivate a user.
    ReactivateUser,
    /// Give a user a role.
    AddRole,
    /// Take a role from a user.
    RemoveRole,
    /// Add or change a tenant membership.
    SetTenant,
    /// Remove a tenant membership.
    RemoveTenant,
    /// List the roles.
    ListRoles,
    /// Create a custom role.
    CreateRole,
    /// Read the audit log.
    ReadAudit,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Authenticated but not allowed (403).
    Forbidden,
}

/// The roles that matter for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Admin,
    Manager,
    Plain,
    Trusted,
}

fn standing(caller: &Caller) -> Standing {
    match caller {
        Caller::Service(_) | Caller::System => Standing::Trusted,
        Caller::User(user) if user.roles.iter().any(RoleName::is_admin) => Standing::Admin,
        Caller::User(user) if user.roles.iter().any(|r| r.as_str() == RoleName::MANAGER) => {
            Standing::Manager
        }
        Caller::User(_) => Standing::Plain,
    }
}

fn allow(yes: bool) -> Decision {
    if yes {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// The authorization policy. Stateless: every decision depends on its arguments alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy;

impl Policy {
    /// Whether `caller` may read the user with id `target`. Decided on the id alone, before
    /// any lookup, so that a refusal says nothing about whether the id exists.
    pub fn may_read(caller: &Caller, target: UserId) -> Decision {
        match (standing(caller), caller) {
            (Standing::Plain, Caller::User(me)) => allow(me.id == target),
            (Standing::Plain, _) => Decision::Forbidden,
            _ => Decision::Allow,
        }
    }

    /// Whether `caller` may do `action`. `target` is the user acted upon, when the action has
    /// one and it exists; without it, the decision is the one for a target that is not ADMIN
    /// (the caller then learns only that the user does not exist, which a caller allowed
    /// to read users may learn).
    pub fn decide(caller: &Caller, action: &Action, target: Option<&User>) -> Decision {
        let target_is_admin = target.is_some_and(|t| t.roles.iter().any(RoleName::is_admin));
        match standing(caller) {
            Standing::Trusted | Standing::Admin => Decision::Allow,
            Standing::Manager => match action {
                Action::ReadUser | Action::FindUser | Action::ListUsers | Action::ListRoles => {
                    Decision::Allow
                }
                Action::UpdateUser(fields) => allow(
                    !target_is_admin
                        && !fields.is_empty()
                        && fields.iter().all(|f| Field::MANAGER_FIELDS.contains(f)),
                ),
                _ => Decision::Forbidden,
            },
            Standing::Plain => match (action, caller, target) {
                (Action::ReadUser, Caller::User(me), Some(target)) => allow(me.id == target.id),
                _ => Decision::Forbidden,
            },
        }
    }
}

/// Whether a change may take `ADMIN` away from `target` (by removing the role, deactivating
/// or deleting it), given the number of active administrators, the target included. The
/// change is refused when the target is an active ADMIN and no other active ADMIN would
/// remain.
///
/// Storage adapters MUST call this inside the transaction that makes the change, after taking
/// a lock that serialises every such change (so two concurrent demotions of the last two
/// administrators cannot both pass), and before checking any other rule.
pub fn last_admin_guard(target: &LastAdminFacts) -> Result<(), LastAdmin> {
    if target.is_active_admin && target.active_admins <= 1 {
        Err(LastAdmin)
    } else {
        Ok(())
    }
}

/// What [`last_admin_guard`] decides on, read inside the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAdminFacts {
    /// The target holds ADMIN and is active.
    pub is_active_admin: bool,
    /// Active users holding ADMIN, the target included.
    pub active_admins: u64,
}

impl LastAdminFacts {
    /// The facts for `user` given the count of active administrators.
    pub fn of(roles: &[RoleName], status: UserStatus, active_admins: u64) -> Self {
        Self {
            is_active_admin: status == UserStatus::Active && roles.iter().any(RoleName::is_admin),
            active_admins,
        }
    }
}

/// The change would leave no active ADMIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the last active ADMIN cannot be removed, deactivated or deleted")]
pub struct LastAdmin;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::{Profile, Username};
    use chrono::Utc;

    fn user(roles: &[&str]) -> User {
        let now = Utc::now();
        User {
            id: UserId::generate(),
            external_id: None,
            email: None,
            email_verified: true,
            username: Username::parse("someone").unwrap(),
            name: None,
            phone: None,
            avatar_url: None,
            profile: Profile::default(),
            status: UserStatus::Active,
            roles: roles.iter().map(|r| RoleName::parse(r).unwrap()).collect(),
            tenants: Vec::new(),
            last_login_at: None,
            login_count: 0,
            created_at: now,
            updated_at: now,
            deactivated_at: None,
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Who {
        Admin,
        Manager,
        Plain,
        Custom,
        Service,
        System,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Whom {
        Nobody,
        Itself,
        OtherPlain,
        OtherManager,
        OtherAdmin,
    }

    fn caller(who: Who) -> Caller {
        match who {
            Who::Admin => Caller::User(Box::new(user(&["ADMIN"]))),
            Who::Manager => Caller::User(Box::new(user(&["MANAGER", "USER"]))),
            Who::Plain => Caller::User(Box::new(user(&["USER", "MAINTAINER", "CONTRIBUTOR"]))),
            Who::Custom => Caller::User(Box::new(user(&["AUDITOR"]))),
            Who::Service => Caller::Service("crm".to_owned()),
            Who::System => Caller::System,
        }
    }

    fn target(caller: &Caller, whom: Whom) -> Option<User> {
        match whom {
            Whom::Nobody => None,
            Whom::Itself => match caller {
                Caller::User(me) => Some((**me).clone()),
                _ => None,
            },
            Whom::OtherPlain => Some(user(&["USER"])),
            Whom::OtherManager => Some(user(&["MANAGER"])),
            Whom::OtherAdmin => Some(user(&["ADMIN", "USER"])),
        }
    }

    const ALL_WHO: [Who; 6] = [
        Who::Admin,
        Who::Manager,
        Who::Plain,
        Who::Custom,
        Who::Service,
        Who::System,
    ];
    const ALL_WHOM: [Whom; 5] = [
        Whom::Nobody,
        Whom::Itself,
        Whom::OtherPlain,
        Whom::OtherManager,
        Whom::OtherAdmin,
    ];

    fn all_actions() -> Vec<Action> {
        vec![
            Action::ReadUser,
            Action::FindUser,
            Action::ListUsers,
            Action::CreateUser,
            Action::UpdateUser(vec![Field::Name]),
            Action::UpdateUser(vec![
                Field::Name,
                Field::Phone,
                Field::AvatarUrl,
                Field::Profile,
            ]),
            Action::UpdateUser(vec![Field::Username]),
            Action::UpdateUser(vec![Field::Email]),
            Action::UpdateUser(vec![Field::EmailVerified]),
            Action::UpdateUser(vec![Field::Name, Field::Email]),
            Action::UpdateUser(vec![Field::ExternalId]),
            Action::DeleteUser,
            Action::DeactivateUser,
            Action::ReactivateUser,
            Action::AddRole,
            Action::RemoveRole,
            Action::SetTenant,
            Action::RemoveTenant,
            Action::ListRoles,
            Action::CreateRole,
            Action::ReadAudit,
        ]
    }

    /// The contract, written out independently of the implementation.
    fn expected(who: Who, action: &Action, whom: Whom) -> Decision {
        use Decision::{Allow, Forbidden};
        let target_admin = matches!(whom, Whom::OtherAdmin);
        match who {
            Who::Admin | Who::Service | Who::System => Allow,
            Who::Manager => match action {
                Action::ReadUser | Action::FindUser | Action::ListUsers | Action::ListRoles => {
                    Allow
                }
                Action::UpdateUser(fields) => {
                    let profile_only = fields.iter().all(|f| {
                        matches!(
                            f,
                            Field::Name | Field::Phone | Field::AvatarUrl | Field::Profile
                        )
                    });
                    if profile_only && !target_admin {
                        Allow
                    } else {
                        Forbidden
                    }
                }
                _ => Forbidden,
            },
            Who::Plain | Who::Custom => match (action, whom) {
                (Action::ReadUser, Whom::Itself) => Allow,
                _ => Forbidden,
            },
        }
    }

    #[test]
    fn every_actor_action_and_target_gets_the_contracts_answer() {
        let mut checked = 0;
        for who in ALL_WHO {
            let caller = caller(who);
            for action in all_actions() {
                for whom in ALL_WHOM {
                    let target = target(&caller, whom);
                    if whom == Whom::Itself && target.is_none() {
                        continue;
                    }
                    let got = Policy::decide(&caller, &action, target.as_ref());
                    assert_eq!(
                        got,
                        expected(who, &action, whom),
                        "{who:?} {action:?} {whom:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "{checked}");
    }

    #[test]
    fn reading_by_id_is_decided_on_the_id_alone() {
        for who in ALL_WHO {
            let caller = caller(who);
            let stranger = UserId::generate();
            let expected_other = match who {
                Who::Plain | Who::Custom => Decision::Forbidden,
                _ => Decision::Allow,
            };
            assert_eq!(
                Policy::may_read(&caller, stranger),
                expected_other,
                "{who:?}"
            );
            if let Caller::User(me) = &caller {
                assert_eq!(Policy::may_read(&caller, me.id), Decision::Allow, "{who:?}");
            }
        }
    }

    #[test]
    fn a_manager_may_not_change_an_empty_field_list_or_any_field_of_an_admin() {
        let manager = caller(Who::Manager);
        assert_eq!(
            Policy::decide(&manager, &Action::UpdateUser(vec![]), None),
            Decision::Forbidden
        );
        let admin = user(&["ADMIN"]);
        for field in Field::MANAGER_FIELDS {
            assert_eq!(
                Policy::decide(&manager, &Action::UpdateUser(vec![field]), Some(&admin)),
                Decision::Forbidden
            );
        }
    }

    #[test]
    fn the_last_active_admin_is_kept() {
        let admin = [RoleName::admin()];
        let plain = [RoleName::user()];
        let cases = [
            (&admin[..], UserStatus::Active, 1, false),
            (&admin[..], UserStatus::Active, 0, false),
            (&admin[..], UserStatus::Active, 2, true),
            (&admin[..], UserStatus::Deactivated, 1, true),
            (&admin[..], UserStatus::Pending, 1, true),
            (&plain[..], UserStatus::Active, 1, true),
            (&plain[..], UserStatus::Active, 0, true),
        ];
        for (roles, status, count, allowed) in cases {
            let facts = LastAdminFacts::of(roles, status, count);
            assert_eq!(
                last_admin_guard(&facts).is_ok(),
                allowed,
                "{roles:?} {status:?} {count}"
            );
        }
    }

    #[test]
    fn callers_act_as_their_audit_actor() {
        assert_eq!(caller(Who::Service).actor().to_string(), "service:crm");
        assert_eq!(caller(Who::System).actor().to_string(), "system");
        let admin = caller(Who::Admin);
        if let Caller::User(me) = &admin {
            assert_eq!(admin.actor().to_string(), me.id.to_string());
        }
    }
}
