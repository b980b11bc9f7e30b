//! [`SessionRepository`](crate::ports::SessionRepository) checks: live sessions, the
//! session cap, refresh rotation and reuse detection (also under concurrency), revocation.

use chrono::Duration;
use futures_util::future::join_all;

use super::{
    Check, Store, checks, is_live, login_event, new_user, plain, rotation, session_for, t0,
    user_with_session,
};
use crate::ports::RefreshOutcome;
use crate::role::RoleName;
use crate::session::{RevokeReason, SessionId};
use crate::token::TokenHash;
use crate::user::{UserId, UserStatus};

/// Every [`SessionRepository`](crate::ports::SessionRepository) check, in order.
pub fn checks() -> Vec<Check> {
    checks![
        a_login_session_is_live_until_it_ends,
        max_sessions_revokes_the_oldest,
        a_session_of_an_inactive_user_is_not_live,
        a_refresh_token_rotates_once_and_its_reuse_revokes_the_session,
        refresh_tokens_expire_and_never_outlive_their_session,
        a_refresh_of_a_revoked_session_or_inactive_user_is_invalid,
        concurrent_refreshes_with_one_token_rotate_it_once,
        sessions_are_listed_and_revoked_one_by_one_or_all_at_once,
    ]
}

/// A login session is live until it ends.
pub async fn a_login_session_is_live_until_it_ends(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let session = session_for(user.id, t0());
    let after = s
        .sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    assert_eq!(after.login_count, 1);
    assert_eq!(after.last_login_at, Some(t0()));

    let live = s
        .sessions
        .live_session_user(session.id, user.id, t0() + Duration::days(29))
        .await
        .unwrap();
    assert_eq!(live.unwrap().id, user.id);
    assert!(
        s.sessions
            .live_session_user(session.id, UserId::generate(), t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_session_user(SessionId::generate(), user.id, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_session_user(session.id, user.id, t0() + Duration::days(30))
            .await
            .unwrap()
            .is_none()
    );

    let second = s
        .sessions
        .start(session_for(user.id, t0()), login_event(user.id), 0)
        .await
        .unwrap();
    assert_eq!(second.login_count, 2);
}

/// Max sessions revokes the oldest.
pub async fn max_sessions_revokes_the_oldest(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Active);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let first = session_for(user.id, t0());
    let second = session_for(user.id, t0() + Duration::seconds(1));
    let third = session_for(user.id, t0() + Duration::seconds(2));
    for session in [&first, &second, &third] {
        s.sessions
            .start(session.clone(), login_event(user.id), 2)
            .await
            .unwrap();
    }
    let now = t0() + Duration::seconds(3);
    assert!(
        s.sessions
            .live_session_user(first.id, user.id, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .live_session_user(second.id, user.id, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.sessions
            .live_session_user(third.id, user.id, now)
            .await
            .unwrap()
            .is_some()
    );
}

/// A session of an inactive user is not live.
pub async fn a_session_of_an_inactive_user_is_not_live(s: Store) {
    let user = new_user("ada@example.com", "ada", UserStatus::Pending);
    s.users.create(user.clone(), plain(&user)).await.unwrap();
    let session = session_for(user.id, t0());
    s.sessions
        .start(session.clone(), login_event(user.id), 0)
        .await
        .unwrap();
    assert!(
        s.sessions
            .live_session_user(session.id, user.id, t0())
            .await
            .unwrap()
            .is_none()
    );
}

/// A refresh token rotates once and its reuse revokes the session.
pub async fn a_refresh_token_rotates_once_and_its_reuse_revokes_the_session(s: Store) {
    let (user, session) = user_with_session(&s).await;
    let later = t0() + Duration::hours(1);
    let outcome = s
        .sessions
        .rotate_refresh(rotation("r0", "r1", later))
        .await
        .unwrap();
    let RefreshOutcome::Rotated {
        session_id,
        user: refreshed,
    } = outcome
    else {
        panic!("expected a rotation, got {outcome:?}");
    };
    assert_eq!(session_id, session.id);
    assert_eq!(refreshed.id, user);
    assert_eq!(refreshed.roles, vec![RoleName::user()]);
    let listed = s.sessions.live_sessions(user, later).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].last_used_at, later,
        "a refresh marks the session used"
    );
    assert_eq!(listed[0].created_at, t0());

    let successor = s
        .sessions
        .rotate_refresh(rotation("r1", "r2", later + Duration::minutes(1)))
        .await
        .unwrap();
    assert!(
        matches!(successor, RefreshOutcome::Rotated { .. }),
        "{successor:?}"
    );

    let replay = s
        .sessions
        .rotate_refresh(rotation("r0", "r3", later + Duration::minutes(2)))
        .await
        .unwrap();
    assert_eq!(
        replay,
        RefreshOutcome::Reused {
            session_id: session.id
        }
    );
    assert!(!is_live(&s, &session, later + Duration::minutes(2)).await);
    let after = s
        .sessions
        .rotate_refresh(rotation("r2", "r4", later + Duration::minutes(3)))
        .await
        .unwrap();
    assert_eq!(after, RefreshOutcome::Invalid, "the whole chain is dead");
}

/// Refresh tokens expire and never outlive their session.
pub async fn refresh_tokens_expire_and_never_outlive_their_session(s: Store) {
    let (_, session) = user_with_session(&s).await;
    assert_eq!(
        s.sessions
            .rotate_refresh(rotation("nope", "x", t0()))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    // r0 lives 7 days; at its expiry it is refused and changes nothing.
    let expired = s
        .sessions
        .rotate_refresh(rotation("r0", "r1", t0() + Duration::days(7)))
        .await
        .unwrap();
    assert_eq!(expired, RefreshOutcome::Invalid);
    let day_6 = t0() + Duration::days(6);
    assert!(matches!(
        s.sessions
            .rotate_refresh(rotation("r0", "r1", day_6))
            .await
            .unwrap(),
        RefreshOutcome::Rotated { .. }
    ));
    // Rotating every 6 days: on day 24 the successor would live to day 31, but the session
    // ends on day 30, so a refresh on day 30 is refused.
    let mut previous = "r1".to_owned();
    for (n, day) in [12, 18, 24].into_iter().enumerate() {
        let next = format!("r{}", n + 2);
        let outcome = s
            .sessions
            .rotate_refresh(rotation(&previous, &next, t0() + Duration::days(day)))
            .await
            .unwrap();
        assert!(
            matches!(outcome, RefreshOutcome::Rotated { .. }),
            "day {day}: {outcome:?}"
        );
        previous = next;
    }
    let at_end = s
        .sessions
        .rotate_refresh(rotation(&previous, "late", session.expires_at))
        .await
        .unwrap();
    assert_eq!(at_end, RefreshOutcome::Invalid);
    let just_before = s
        .sessions
        .rotate_refresh(rotation(
            &previous,
            "late",
            session.expires_at - Duration::seconds(1),
        ))
        .await
        .unwrap();
    assert!(matches!(just_before, RefreshOutcome::Rotated { .. }));
}

/// A refresh of a revoked session or inactive user is invalid.
pub async fn a_refresh_of_a_revoked_session_or_inactive_user_is_invalid(s: Store) {
    let (user, session) = user_with_session(&s).await;
    let revoked = s
        .sessions
        .revoke(
            session.id,
            user,
            t0(),
            RevokeReason::Logout,
            login_event(user),
        )
        .await
        .unwrap();
    assert!(revoked);
    assert!(!is_live(&s, &session, t0()).await);
    assert_eq!(
        s.sessions
            .rotate_refresh(rotation("r0", "r1", t0()))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );

    let pending = new_user("bob@example.com", "bob", UserStatus::Pending);
    s.users
        .create(pending.clone(), plain(&pending))
        .await
        .unwrap();
    let mut other = session_for(pending.id, t0());
    other.refresh_token_hash = TokenHash::new("p0");
    s.sessions
        .start(other, login_event(pending.id), 0)
        .await
        .unwrap();
    assert_eq!(
        s.sessions
            .rotate_refresh(rotation("p0", "p1", t0()))
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
}

/// Concurrent refreshes with one token rotate it once.
pub async fn concurrent_refreshes_with_one_token_rotate_it_once(s: Store) {
    let (_, session) = user_with_session(&s).await;
    let sessions = s.sessions.clone();
    let attempts = (0..6).map(|n| {
        let sessions = sessions.clone();
        async move {
            sessions
                .rotate_refresh(rotation("r0", &format!("next-{n}"), t0()))
                .await
                .unwrap()
        }
    });
    let outcomes = join_all(attempts).await;
    let rotated: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Rotated { .. }))
        .collect();
    assert_eq!(rotated.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            RefreshOutcome::Rotated { .. } | RefreshOutcome::Reused { .. }
        )),
        "{outcomes:?}"
    );
    // The losers presented a token that was already used: the session is revoked, so no
    // successor can start a second chain.
    assert!(!is_live(&s, &session, t0()).await);
    for n in 0..6 {
        let outcome = s
            .sessions
            .rotate_refresh(rotation(&format!("next-{n}"), "again", t0()))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RefreshOutcome::Invalid,
            "no successor of next-{n} is live"
        );
    }
}

/// Sessions are listed and revoked one by one or all at once.
pub async fn sessions_are_listed_and_revoked_one_by_one_or_all_at_once(s: Store) {
    let (user, first) = user_with_session(&s).await;
    let second = session_for(user, t0() + Duration::seconds(1));
    let third = session_for(user, t0() + Duration::seconds(2));
    for session in [&second, &third] {
        s.sessions
            .start(session.clone(), login_event(user), 0)
            .await
            .unwrap();
    }
    let bob = new_user("bob@example.com", "bob", UserStatus::Active);
    s.users.create(bob.clone(), plain(&bob)).await.unwrap();
    let bobs = session_for(bob.id, t0());
    s.sessions
        .start(bobs.clone(), login_event(bob.id), 0)
        .await
        .unwrap();

    let now = t0() + Duration::minutes(1);
    let listed: Vec<_> = s
        .sessions
        .live_sessions(user, now)
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.id)
        .collect();
    assert_eq!(
        listed,
        vec![third.id, second.id, first.id],
        "most recently used first"
    );
    let info = &s.sessions.live_sessions(user, now).await.unwrap()[0];
    assert_eq!(info.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(info.user_agent.as_deref(), Some("test"));

    // Someone else's session is not revoked, and says so.
    assert!(
        !s.sessions
            .revoke(
                bobs.id,
                user,
                now,
                RevokeReason::RevokedByUser,
                login_event(user)
            )
            .await
            .unwrap()
    );
    assert!(is_live(&s, &bobs, now).await);
    assert!(
        s.sessions
            .revoke(
                second.id,
                user,
                now,
                RevokeReason::RevokedByUser,
                login_event(user)
            )
            .await
            .unwrap()
    );
    assert!(
        !s.sessions
            .revoke(
                second.id,
                user,
                now,
                RevokeReason::RevokedByUser,
                login_event(user)
            )
            .await
            .unwrap(),
        "a revoked session cannot be revoked again"
    );
    assert!(!is_live(&s, &second, now).await);
    assert_eq!(s.sessions.live_sessions(user, now).await.unwrap().len(), 2);

    let ended = s
        .sessions
        .revoke_all(user, now, RevokeReason::LogoutAll, login_event(user))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert!(
        s.sessions
            .live_sessions(user, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!is_live(&s, &first, now).await);
    assert!(!is_live(&s, &third, now).await);
    assert!(
        is_live(&s, &bobs, now).await,
        "other users keep their sessions"
    );
    // Ended sessions are not listed either.
    assert!(
        s.sessions
            .live_sessions(bob.id, bobs.expires_at)
            .await
            .unwrap()
            .is_empty()
    );
}
