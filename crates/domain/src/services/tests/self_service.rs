//! `Accounts`: a user changes or erases their own account.

use std::sync::{Arc, Mutex};

use super::accounts::{accounts, hasher_never_called, secrets_in_turn};
use super::{codes, ctx, sample_user, stored_hash};
use crate::audit::AuditAction;
use crate::mail::MailKind;
use crate::ports::{
    AccountUpdate, MockPasswordHasher, MockSecretTokens, MockUserRepository, StoredCredentials,
};
use crate::services::{DeleteMeError, Principal, UpdateMeError, UpdateMeInput};
use crate::session::SessionId;
use crate::token::TokenPurpose;
use crate::user::UserStatus;

fn me() -> Principal {
    Principal {
        user: sample_user(UserStatus::Active),
        session_id: SessionId::generate(),
    }
}

/// A repository that knows Ada's hash and records every update, answering with Ada.
fn users_recording(principal: &Principal) -> (MockUserRepository, Arc<Mutex<Vec<AccountUpdate>>>) {
    let mut users = MockUserRepository::new();
    let user = principal.user.clone();
    let found = user.clone();
    users.expect_find_for_login().returning(move |_| {
        Ok(Some(StoredCredentials {
            user: found.clone(),
            password_hash: Some(stored_hash()),
        }))
    });
    let updates = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&updates);
    users.expect_update_account().returning(move |update| {
        seen.lock().unwrap().push(update);
        Ok(user.clone())
    });
    (users, updates)
}

fn hasher_verifying(matches: bool, hashes: usize) -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_verify()
        .times(1)
        .returning(move |_, _| Ok(matches));
    hasher
        .expect_hash()
        .times(hashes)
        .returning(|_| Ok(stored_hash()));
    hasher
}

#[tokio::test]
async fn null_clears_an_optional_field_and_absent_leaves_it() {
    let principal = me();
    let (users, updates) = users_recording(&principal);
    let input = UpdateMeInput {
        phone: Some(None),
        name: Some(Some("Ada King".to_owned())),
        ..UpdateMeInput::default()
    };
    accounts(users, hasher_never_called(), MockSecretTokens::new())
        .update_me(&principal, input, &ctx())
        .await
        .unwrap();
    let updates = updates.lock().unwrap();
    let update = &updates[0];
    assert_eq!(update.phone, Some(None), "cleared");
    assert_eq!(
        update.name.as_ref().unwrap().as_ref().unwrap().as_str(),
        "Ada King"
    );
    assert!(
        update.avatar_url.is_none() && update.username.is_none(),
        "unchanged"
    );
    assert!(update.email.is_none() && update.password_hash.is_none());
    assert_eq!(update.audit.action, AuditAction::UserUpdated);
    assert_eq!(update.audit.details["fields"], "name,phone");
}

#[tokio::test]
async fn null_for_a_required_field_and_bad_values_are_each_reported() {
    let principal = me();
    let users = MockUserRepository::new();
    let input = UpdateMeInput {
        username: Some(None),
        phone: Some(Some("12".to_owned())),
        ..UpdateMeInput::default()
    };
    let result = accounts(users, hasher_never_called(), MockSecretTokens::new())
        .update_me(&principal, input, &ctx())
        .await;
    let Err(UpdateMeError::Invalid(errors)) = result else {
        panic!("{result:?}");
    };
    assert_eq!(
        codes(&errors.0),
        vec![("username", "required"), ("phone", "invalid_phone")]
    );
}

#[tokio::test]
async fn a_new_email_without_the_current_password_is_refused_before_anything_is_stored() {
    let principal = me();
    let input = UpdateMeInput {
        email: Some(Some("new@example.com".to_owned())),
        ..UpdateMeInput::default()
    };
    let result = accounts(
        MockUserRepository::new(),
        hasher_never_called(),
        MockSecretTokens::new(),
    )
    .update_me(&principal, input, &ctx())
    .await;
    assert!(
        matches!(result, Err(UpdateMeError::CurrentPasswordRequired)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_new_email_is_stored_unverified_with_a_token_carrying_it_and_a_mail_to_it() {
    let principal = me();
    let (users, updates) = users_recording(&principal);
    let input = UpdateMeInput {
        email: Some(Some("New@Example.com".to_owned())),
        current_password: Some("Str0ng!pass".to_owned()),
        ..UpdateMeInput::default()
    };
    accounts(users, hasher_verifying(true, 0), secrets_in_turn())
        .update_me(&principal, input, &ctx())
        .await
        .unwrap();
    let updates = updates.lock().unwrap();
    let update = &updates[0];
    assert_eq!(update.email.as_ref().unwrap().as_str(), "New@Example.com");
    let token = update.token.as_ref().unwrap();
    assert_eq!(token.purpose, TokenPurpose::EmailConfirmation);
    assert_eq!(token.email.as_ref().unwrap().key(), "new@example.com");
    let mail = update.mail.as_ref().unwrap();
    assert_eq!(mail.to, "New@Example.com");
    assert!(matches!(mail.kind, MailKind::Confirmation { .. }));
    assert!(update.revoke_other_sessions.is_none());
}

#[tokio::test]
async fn a_new_password_revokes_every_session_but_the_callers() {
    let principal = me();
    let (users, updates) = users_recording(&principal);
    let input = UpdateMeInput {
        password: Some(Some("N3w!passphrase".to_owned())),
        current_password: Some("Str0ng!pass".to_owned()),
        ..UpdateMeInput::default()
    };
    accounts(users, hasher_verifying(true, 1), MockSecretTokens::new())
        .update_me(&principal, input, &ctx())
        .await
        .unwrap();
    let updates = updates.lock().unwrap();
    assert_eq!(updates[0].password_hash, Some(stored_hash()));
    assert_eq!(updates[0].revoke_other_sessions, Some(principal.session_id));
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let principal = me();
    let mut users = MockUserRepository::new();
    let found = principal.user.clone();
    users.expect_find_for_login().returning(move |_| {
        Ok(Some(StoredCredentials {
            user: found.clone(),
            password_hash: Some(stored_hash()),
        }))
    });
    users.expect_update_account().never();
    users.expect_delete_account().never();
    let input = UpdateMeInput {
        password: Some(Some("N3w!passphrase".to_owned())),
        current_password: Some("Wr0ng!pass".to_owned()),
        ..UpdateMeInput::default()
    };
    let service = accounts(users, hasher_verifying(false, 0), MockSecretTokens::new());
    let result = service.update_me(&principal, input, &ctx()).await;
    assert!(
        matches!(result, Err(UpdateMeError::WrongPassword)),
        "{result:?}"
    );
}

#[tokio::test]
async fn deleting_needs_the_right_current_password_and_audits_only_the_id() {
    let principal = me();
    let id = principal.user.id;
    let mut users = MockUserRepository::new();
    let found = principal.user.clone();
    users.expect_find_for_login().returning(move |_| {
        Ok(Some(StoredCredentials {
            user: found.clone(),
            password_hash: Some(stored_hash()),
        }))
    });
    users
        .expect_delete_account()
        .withf(move |user, audit| {
            *user == id
                && audit.action == AuditAction::UserDeleted
                && audit.user_id == Some(id)
                && !audit.details.values().any(|v| v.contains('@'))
        })
        .times(1)
        .returning(|_, _| Ok(true));
    let service = accounts(users, hasher_verifying(true, 0), MockSecretTokens::new());
    let missing = service.delete_me(&principal, None, &ctx()).await;
    assert!(matches!(
        missing,
        Err(DeleteMeError::CurrentPasswordRequired)
    ));
    service
        .delete_me(&principal, Some("Str0ng!pass"), &ctx())
        .await
        .unwrap();
}
