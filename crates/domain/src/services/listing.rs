//! [`UserListing`]: validated, paged lists of users with sealed cursors.

use std::sync::Arc;

use tracing::instrument;

use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::listing::{ListInput, ListedUsers, UserListQuery};
use crate::ports::{CursorCodec, UserDirectory};
use crate::role::RoleName;

/// Why a list could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A parameter is malformed or out of range, the cursor does not open, or the role is
    /// unknown; one entry per field.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// A page as answered, with the sealed cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserList {
    /// The users and paging facts.
    pub listed: ListedUsers,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// The listing use cases.
#[derive(Clone)]
pub struct UserListing {
    directory: Arc<dyn UserDirectory>,
    cursors: Arc<dyn CursorCodec>,
}

impl UserListing {
    /// A service over `directory`, sealing cursors with `cursors`.
    pub fn new(directory: Arc<dyn UserDirectory>, cursors: Arc<dyn CursorCodec>) -> Self {
        Self { directory, cursors }
    }

    /// Validates a request: every broken rule is one entry (422), the cursor is opened
    /// against the request's own filters, sort and order.
    ///
    /// # Errors
    /// [`ValidationErrors`] as [`ListInput::parse`] reports them.
    pub fn parse(&self, input: &ListInput) -> Result<UserListQuery, ValidationErrors> {
        let cursors = self.cursors.clone();
        input.parse(&move |binding: &str, cursor: &str| cursors.open(binding, cursor))
    }

    /// One page of the users `query` selects.
    ///
    /// # Errors
    /// [`ListError::Invalid`] (field `role`, code `unknown_role`) when the role filter names
    /// no existing role; [`ListError::Infra`] when storage fails.
    #[instrument(skip_all, fields(sort = query.sort.as_str(), limit = query.limit), level = "debug")]
    pub async fn list(&self, query: &UserListQuery) -> Result<UserList, ListError> {
        if let Some(role) = &query.filters.role {
            self.require_role(role).await?;
        }
        let page = self.directory.list(query).await?;
        let listed = ListedUsers::new(query, page);
        let next_cursor = listed
            .next
            .as_ref()
            .map(|keyset| self.cursors.seal(&query.binding(), keyset));
        Ok(UserList {
            listed,
            next_cursor,
        })
    }

    async fn require_role(&self, role: &RoleName) -> Result<(), ListError> {
        if self.directory.role_exists(role).await? {
            Ok(())
        } else {
            Err(ListError::Invalid(ValidationErrors(vec![FieldError::new(
                "role",
                "unknown_role",
                format!("there is no role {role}"),
            )])))
        }
    }
}
