//! [`TestCursorCodec`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

use crate::listing::Keyset;
use crate::ports::CursorCodec;

/// A [`CursorCodec`] stand-in for tests: a cursor is a random handle to a position it
/// remembers with its binding, so it opens only in this codec (and its clones), only for the
/// same binding, and not once altered. **Insecure by design** (unbounded memory, positions
/// lost with the codec); never wire it into a service.
#[derive(Debug, Clone, Default)]
pub struct TestCursorCodec {
    sealed: Arc<Mutex<HashMap<String, (String, Keyset)>>>,
}

impl TestCursorCodec {
    /// A codec that has sealed nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CursorCodec for TestCursorCodec {
    fn seal(&self, binding: &str, keyset: &Keyset) -> String {
        let cursor = format!("tc-{}", Uuid::now_v7().simple());
        self.sealed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cursor.clone(), (binding.to_owned(), keyset.clone()));
        cursor
    }

    fn open(&self, binding: &str, cursor: &str) -> Option<Keyset> {
        let sealed = self.sealed.lock().unwrap_or_else(PoisonError::into_inner);
        sealed
            .get(cursor)
            .filter(|(bound, _)| bound == binding)
            .map(|(_, keyset)| keyset.clone())
    }
}
