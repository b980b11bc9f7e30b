//! [`PasswordHasher`] checks: a hash verifies its own password and nothing else, keeps no
//! plaintext, and an absent hash answers "no".

use crate::ports::PasswordHasher;
use crate::user::{Password, PasswordAttempt};

/// Runs every [`PasswordHasher`] check on `hasher`.
///
/// Timing (an absent hash MUST cost as much as a real verification) cannot be checked
/// without timed assertions; it stays the adapter's own test.
pub async fn password_hasher_contract(hasher: &dyn PasswordHasher) {
    let password = Password::parse("Correct-Horse-42", &[]).unwrap();
    let hash = hasher.hash(&password).await.unwrap();
    assert!(
        !hash.as_str().contains("Correct-Horse-42"),
        "the hash keeps no plaintext"
    );
    let right = PasswordAttempt::new("Correct-Horse-42");
    assert!(
        hasher.verify(&right, Some(&hash)).await.unwrap(),
        "a hash verifies its own password"
    );
    for wrong in [
        "correct-horse-42",
        "Correct-Horse-4",
        "Correct-Horse-42 ",
        "",
    ] {
        assert!(
            !hasher
                .verify(&PasswordAttempt::new(wrong), Some(&hash))
                .await
                .unwrap(),
            "a hash verifies no other password ({wrong:?})"
        );
    }
    assert!(
        !hasher.verify(&right, None).await.unwrap(),
        "no hash (unknown account) is a no"
    );
    let other = hasher
        .hash(&Password::parse("Other-Horse-43", &[]).unwrap())
        .await
        .unwrap();
    assert!(
        !hasher.verify(&right, Some(&other)).await.unwrap(),
        "a password does not verify against another's hash"
    );
}
