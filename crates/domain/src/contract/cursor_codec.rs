//! [`CursorCodec`] checks: a cursor opens to the position it sealed, only for its own
//! binding, and not once altered; it is URL-safe.

use chrono::Duration;

use super::t0;
use crate::listing::{Keyset, SortValue};
use crate::ports::CursorCodec;
use crate::user::UserId;

fn url_safe(cursor: &str) -> bool {
    !cursor.is_empty()
        && cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Runs every check on `codec`.
pub fn cursor_codec_contract(codec: &dyn CursorCodec) {
    let binding = "users.v1;sort=10:created_at;";
    let other = "users.v1;sort=4:name;";
    let positions = [
        SortValue::Time(Some(t0() + Duration::microseconds(7))),
        SortValue::Time(None),
        SortValue::Text(Some("ada lovelace, 50% _off_ \\ é".into())),
        SortValue::Text(None),
    ];
    for (n, value) in positions.into_iter().enumerate() {
        let keyset = Keyset {
            value,
            id: UserId::generate(),
            page: u64::try_from(n).unwrap() + 2,
        };
        let cursor = codec.seal(binding, &keyset);
        assert!(url_safe(&cursor), "URL-safe: {cursor:?}");
        assert_eq!(
            codec.open(binding, &cursor),
            Some(keyset.clone()),
            "opens to what it sealed"
        );
        assert_eq!(codec.open(other, &cursor), None, "bound to its query");
        assert_eq!(codec.open("", &cursor), None, "bound to its query");
        // Altered: a character changed at the start and in the middle, cut, or extended.
        for at in [0, cursor.len() / 2] {
            let mut bytes = cursor.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert_eq!(codec.open(binding, &altered), None, "altered at {at}");
        }
        let cut = &cursor[..cursor.len() - 1];
        assert_eq!(codec.open(binding, cut), None, "cut");
        assert_eq!(codec.open(binding, &format!("{cursor}A")), None, "extended");
        // The same position under another binding is another cursor.
        let elsewhere = codec.seal(other, &keyset);
        assert_eq!(codec.open(other, &elsewhere), Some(keyset));
        assert_eq!(codec.open(binding, &elsewhere), None);
    }
    for garbage in ["", "not a cursor", "AAAA", "%00", &"A".repeat(2048)] {
        assert_eq!(codec.open(binding, garbage), None, "{garbage:?}");
    }
}
