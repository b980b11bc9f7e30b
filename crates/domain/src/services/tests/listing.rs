//! `UserListing`: role check, paging facts and the sealed next cursor.

use std::sync::Arc;

use super::{sample_user, storage_down};
use crate::listing::{Keyset, ListInput, Paging, SortValue, UserPage};
use crate::ports::{MockCursorCodec, MockUserDirectory};
use crate::services::{ListError, UserListing};
use crate::user::UserStatus;

fn input(pairs: &[(&str, &str)]) -> ListInput {
    let mut input = ListInput::default();
    for (k, v) in pairs {
        let v = Some((*v).to_owned());
        match *k {
            "limit" => input.limit = v,
            "role" => input.role = v,
            "cursor" => input.cursor = v,
            "sort" => input.sort = v,
            _ => unreachable!("{k}"),
        }
    }
    input
}

#[tokio::test]
async fn an_unknown_role_is_refused_before_listing() {
    let mut directory = MockUserDirectory::new();
    directory.expect_role_exists().returning(|_| Ok(false));
    directory.expect_list().never();
    let listing = UserListing::new(Arc::new(directory), Arc::new(MockCursorCodec::new()));
    let query = listing.parse(&input(&[("role", "GHOST")])).unwrap();
    let Err(ListError::Invalid(errors)) = listing.list(&query).await else {
        panic!("expected a validation error");
    };
    assert_eq!(errors.0[0].field, "role");
    assert_eq!(errors.0[0].code, "unknown_role");
}

#[tokio::test]
async fn a_full_page_gets_a_cursor_sealed_for_its_own_query() {
    let users = vec![
        sample_user(UserStatus::Active),
        sample_user(UserStatus::Active),
    ];
    let last = users[1].clone();
    let mut directory = MockUserDirectory::new();
    directory.expect_list().returning(move |_| {
        Ok(UserPage {
            users: users.clone(),
            has_more: true,
            total: Some(5),
        })
    });
    let mut cursors = MockCursorCodec::new();
    let expected = Keyset {
        value: SortValue::Time(Some(last.created_at)),
        id: last.id,
        page: 2,
    };
    let binding = crate::listing::ListInput::default()
        .parse(&|_, _| None)
        .unwrap()
        .binding();
    cursors
        .expect_seal()
        .withf(move |b, k| b == binding && *k == expected)
        .returning(|_, _| "sealed".to_owned());
    let listing = UserListing::new(Arc::new(directory), Arc::new(cursors));
    let query = listing.parse(&input(&[("limit", "2")])).unwrap();
    let list = listing.list(&query).await.unwrap();
    assert_eq!(list.next_cursor.as_deref(), Some("sealed"));
    assert_eq!(list.listed.total_pages, Some(3));
    assert_eq!(list.listed.page, 1);
}

#[tokio::test]
async fn the_last_page_has_no_cursor_and_a_cursor_page_knows_its_number() {
    let mut directory = MockUserDirectory::new();
    directory.expect_list().returning(|query| {
        assert_eq!(query.paging, Paging::After(opened()));
        Ok(UserPage {
            users: vec![sample_user(UserStatus::Active)],
            has_more: false,
            total: None,
        })
    });
    let mut cursors = MockCursorCodec::new();
    cursors
        .expect_open()
        .returning(|_, c| (c == "ok").then(opened));
    cursors.expect_seal().never();
    let listing = UserListing::new(Arc::new(directory), Arc::new(cursors));
    let query = listing.parse(&input(&[("cursor", "ok")])).unwrap();
    let list = listing.list(&query).await.unwrap();
    assert_eq!(list.next_cursor, None);
    assert_eq!(list.listed.page, 4);
    assert_eq!(list.listed.total_items, None);
    assert!(listing.parse(&input(&[("cursor", "bad")])).is_err());
}

#[tokio::test]
async fn a_storage_failure_is_not_a_validation_error() {
    let mut directory = MockUserDirectory::new();
    directory.expect_list().returning(|_| Err(storage_down()));
    let listing = UserListing::new(Arc::new(directory), Arc::new(MockCursorCodec::new()));
    let query = listing.parse(&ListInput::default()).unwrap();
    assert!(matches!(
        listing.list(&query).await,
        Err(ListError::Infra(_))
    ));
}

fn opened() -> Keyset {
    Keyset {
        value: SortValue::Time(Some(super::t0())),
        id: crate::user::UserId::from_uuid(uuid::Uuid::from_u128(42)),
        page: 4,
    }
}
