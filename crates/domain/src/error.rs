//! Errors shared by every use case: per-field validation failures and infrastructure failures.

use std::fmt;

/// A boxed error from an adapter, kept as the source of an [`InfraError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One broken field rule: which field, a stable snake_case `code`, and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as clients send it (`password`, `profile.birth_date`).
    pub field: String,
    /// Stable machine-readable code (`too_short`, `invalid_email`, ...).
    pub code: &'static str,
    /// Human-readable explanation; never echoes secrets.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// A rule violation found by a value parser, before it is attached to a field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl Violation {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Attaches this violation to a field.
    pub fn on(self, field: &str) -> FieldError {
        FieldError {
            field: field.to_owned(),
            code: self.code,
            message: self.message,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Violation {}

/// Every broken field rule of one request, in the order found. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} field rule(s) broken", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

/// Collects field errors while parsing a request, then yields the parsed values or all errors.
#[derive(Debug, Default)]
pub struct Collector {
    errors: Vec<FieldError>,
}

impl Collector {
    /// A collector with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the violation against `field` and yields `None`.
    pub fn field<T>(&mut self, field: &str, result: Result<T, Violation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.errors.push(violation.on(field));
                None
            }
        }
    }

    /// Records several violations against `field` (the password policy reports each rule).
    pub fn many<T>(&mut self, field: &str, result: Result<T, Vec<Violation>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violations) => {
                self.errors
                    .extend(violations.into_iter().map(|v| v.on(field)));
                None
            }
        }
    }

    /// Records a "required" error for a missing field.
    pub fn required(&mut self, field: &str) {
        self.errors.push(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        ));
    }

    /// Records an arbitrary error.
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `Ok(())` when nothing was recorded, else every recorded error.
    ///
    /// # Errors
    /// [`ValidationErrors`] with each recorded rule.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }
}

/// A failure of the infrastructure behind a port, not of a business rule.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The database (or another required backing service) cannot be reached or did not hand
    /// out a connection in time. Callers answer 503 and retry later.
    #[error("backing service unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else that went wrong; a bug or corrupted data. Callers answer 500.
    #[error("unexpected infrastructure failure")]
    Unexpected(#[source] BoxError),
}

impl InfraError {
    /// Wraps an unexpected error.
    pub fn unexpected(error: impl Into<BoxError>) -> Self {
        Self::Unexpected(error.into())
    }

    /// Wraps an availability error.
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        Self::Unavailable(error.into())
    }
}
