//! What the OpenAPI document says about every route and every field by convention, applied
//! to the whole document after the handlers' own annotations, so that a new route or request
//! body gets it without anyone remembering:
//!
//! - [`FieldRules`]: the spec's field rules (`username`, `email`, `password`, `name`, `phone`,
//!   `avatar_url`, profile fields, role names) as JSON Schema constraints on every request
//!   schema that has such a property, and no `null` for a property the schema requires;
//! - [`CommonResponses`]: the answers any route can give by the API's conventions (400 for
//!   a malformed body, path or query, 413, 415 and 422 for a body, 401 for a secured route,
//!   429 for a rate-limited one, 503 when the database is unavailable), where the handler's
//!   annotation does not already name them.
//!
//! schemathesis (`scripts/schemathesis.sh`) checks the running service against the result.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::routes;

/// One field's constraints.
struct Rule {
    field: &'static str,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<&'static str>,
}

/// Free text: anything but control characters.
const NO_CONTROL: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";

/// The spec's field rules ("The user resource"), as far as JSON Schema can say them.
const RULES: &[Rule] = &[
    Rule {
        field: "username",
        min_length: Some(3),
        max_length: Some(32),
        pattern: Some("^[A-Za-z0-9_.-]{3,32}$"),
    },
    Rule {
        // A conservative subset of RFC 5322 addr-spec: what the schema promises is accepted.
        field: "email",
        min_length: Some(6),
        max_length: Some(254),
        pattern: Some(
            "^[a-z0-9]{1,20}([._+-][a-z0-9]{1,20}){0,2}@[a-z0-9]{1,20}(-[a-z0-9]{1,20})?\\.[a-z]{2,10}$",
        ),
    },
    Rule {
        // 8 to 72 bytes with a lowercase and an uppercase letter, a digit and another
        // character. (Not being equal to the email or username is beyond JSON Schema.)
        field: "password",
        min_length: Some(8),
        max_length: Some(72),
        pattern: Some("^[a-z]{1,20}[A-Z]{1,20}[0-9]{1,20}[!#%&*+,.:;=?@^_~-]{1,10}$"),
    },
    Rule {
        field: "name",
        min_length: Some(2),
        max_length: Some(100),
        pattern: Some("^[A-Za-z][A-Za-z .'-]{0,98}[A-Za-z]$"),
    },
    Rule {
        field: "phone",
        min_length: Some(9),
        max_length: Some(16),
        pattern: Some("^\\+[0-9]{8,15}$"),
    },
    Rule {
        field: "avatar_url",
        min_length: None,
        max_length: Some(2048),
        pattern: Some(
            "^https?://[a-z0-9]{1,20}(\\.[a-z0-9]{1,20}){0,3}(/[A-Za-z0-9._~-]{1,20}){0,5}$",
        ),
    },
    Rule {
        field: "first_name",
        min_length: None,
        max_length: Some(100),
        pattern: Some(NO_CONTROL),
    },
    Rule {
        field: "last_name",
        min_length: None,
        max_length: Some(100),
        pattern: Some(NO_CONTROL),
    },
    Rule {
        field: "gender",
        min_length: None,
        max_length: Some(32),
        pattern: Some(NO_CONTROL),
    },
    Rule {
        // `YYYY-MM-DD` in the past: any day of 1900-2019 that every month has.
        field: "birth_date",
        min_length: Some(10),
        max_length: Some(10),
        pattern: Some("^(19[0-9]{2}|20[01][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$"),
    },
];

/// Properties that a request may leave out but never set to `null`.
const NEVER_NULL: &[&str] = &["username", "email", "password"];

/// Whether a schema is one of the request bodies (the response schemas describe what Roster
/// writes, which it validated on the way in).
fn is_request(name: &str) -> bool {
    name.ends_with("Request")
}

fn without_null(object: &mut Object) {
    if let SchemaType::Array(types) = &object.schema_type {
        let kept: Vec<Type> = types
            .iter()
            .filter(|t| **t != Type::Null)
            .cloned()
            .collect();
        object.schema_type = match kept.as_slice() {
            [one] => SchemaType::Type(one.clone()),
            _ => SchemaType::Array(kept),
        };
    }
}

/// Field constraints on request schemas.
pub struct FieldRules;

impl Modify for FieldRules {
    fn modify(&self, openapi: &mut OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (name, schema) in &mut components.schemas {
            if !is_request(name) {
                continue;
            }
            let RefOr::T(Schema::Object(object)) = schema else {
                continue;
            };
            let required = object.required.clone();
            for (field, property) in &mut object.properties {
                let RefOr::T(Schema::Object(property)) = property else {
                    continue;
                };
                // A required property, and the three whose `null` is refused wherever they
                // appear (`required`: they cannot be cleared), admit no `null`.
                if required.contains(field) || NEVER_NULL.contains(&field.as_str()) {
                    without_null(property);
                }
                if let Some(rule) = RULES.iter().find(|r| r.field == field) {
                    property.min_length = property.min_length.or(rule.min_length);
                    property.max_length = property.max_length.or(rule.max_length);
                    if property.pattern.is_none() {
                        property.pattern = rule.pattern.map(str::to_owned);
                    }
                }
            }
        }
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

fn add(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(problem(description)));
}

/// Paths that answer without the database.
const NO_DATABASE: &[&str] = &[
    "/health",
    "/metrics",
    "/.well-known/jwks.json",
    "/confirm",
    "/reset-password",
];

/// The conventional error answers of every operation.
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let endpoints = routes::endpoints();
        for (path, item) in &mut openapi.paths.paths {
            let limited = endpoints
                .iter()
                .any(|e| e.path == path && e.limit().is_some());
            let PathItem {
                get,
                put,
                post,
                delete,
                patch,
                ..
            } = item;
            for operation in [get, put, post, delete, patch].into_iter().flatten() {
                let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if operation.request_body.is_some() {
                    add(
                        operation,
                        "400",
                        "`malformed_json`, `invalid_body` or `unknown_field`",
                    );
                    add(
                        operation,
                        "413",
                        "`payload_too_large`: the body is over 64 KiB",
                    );
                    add(
                        operation,
                        "415",
                        "`unsupported_media_type`: the body is not `application/json`",
                    );
                    add(
                        operation,
                        "422",
                        "`validation_failed`: `errors` lists each field",
                    );
                } else if has_params || path.contains('{') {
                    add(operation, "400", "`invalid_path` or `invalid_query`");
                }
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add(
                        operation,
                        "401",
                        "`missing_token`, `invalid_token` or `token_expired`",
                    );
                }
                if limited {
                    add(
                        operation,
                        "429",
                        "`rate_limited`; `Retry-After` gives the seconds",
                    );
                }
                if !NO_DATABASE.contains(&path.as_str()) {
                    add(
                        operation,
                        "503",
                        "`service_unavailable`: the database is unreachable or busy",
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    fn document() -> serde_json::Value {
        serde_json::from_str(&crate::openapi::document()).unwrap_or_default()
    }

    #[test]
    fn request_fields_carry_the_spec_rules_and_required_ones_admit_no_null() {
        let doc = document();
        let register = &doc["components"]["schemas"]["RegisterRequest"]["properties"];
        assert_eq!(register["password"]["minLength"], 8);
        assert_eq!(register["password"]["maxLength"], 72);
        assert_eq!(register["password"]["type"], "string");
        assert_eq!(register["username"]["pattern"], "^[A-Za-z0-9_.-]{3,32}$");
        let update = &doc["components"]["schemas"]["UpdateMeRequest"]["properties"];
        assert_eq!(update["email"]["type"], "string", "null email is refused");
        assert_eq!(update["phone"]["pattern"], "^\\+[0-9]{8,15}$");
    }

    #[test]
    fn every_operation_with_a_body_documents_the_body_errors() {
        let doc = crate::openapi::ApiDoc::openapi();
        for (path, item) in &doc.paths.paths {
            for operation in [&item.get, &item.put, &item.post, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                if operation.request_body.is_some() {
                    for status in ["400", "413", "415", "422", "503"] {
                        assert!(
                            operation.responses.responses.contains_key(status),
                            "{path} lacks {status}"
                        );
                    }
                }
            }
        }
    }
}
