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
use utoipa::openapi::schema::{ArrayItems, Object, Schema, SchemaType, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::routes;

/// One field's constraints (a property of a request body, or a path or query parameter).
#[derive(Default)]
struct Rule {
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<&'static str>,
    one_of: &'static [&'static str],
    minimum: Option<usize>,
    maximum: Option<usize>,
}

/// Free text: anything but control characters.
const NO_CONTROL: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";
/// A role name (built in or custom).
const ROLE: &str = "^[A-Z][A-Z0-9_]{1,31}$";
/// The built-in roles.
const BUILT_IN_ROLES: &[&str] = &["ADMIN", "MANAGER", "USER", "MAINTAINER", "CONTRIBUTOR"];
/// A UUID v7, as Roster issues ids.
const UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";
/// The sorts and orders of a list.
const SORTS: &[&str] = &["created_at", "username", "name", "last_login_at"];
const ORDERS: &[&str] = &["asc", "desc"];
const STATUSES: &[&str] = &["pending", "active", "deactivated"];
/// Every audit action (`AuditAction::as_str`), checked against the domain by a test.
const ACTIONS: &[&str] = &[
    "user.created",
    "user.email_confirmed",
    "user.pending_expired",
    "user.confirmation_resent",
    "user.password_reset_requested",
    "user.password_reset",
    "user.updated",
    "user.deleted",
    "session.login",
    "session.login_failed",
    "session.logout",
    "session.logout_all",
    "session.revoked",
    "user.deactivated",
    "user.reactivated",
    "user.role_added",
    "user.role_removed",
    "user.tenant_set",
    "user.tenant_removed",
    "role.created",
];

fn text(min: Option<usize>, max: usize, pattern: &'static str) -> Rule {
    Rule {
        min_length: min,
        max_length: Some(max),
        pattern: Some(pattern),
        ..Rule::default()
    }
}

fn choice(values: &'static [&'static str]) -> Rule {
    Rule {
        one_of: values,
        ..Rule::default()
    }
}

fn range(minimum: usize, maximum: usize) -> Rule {
    Rule {
        minimum: Some(minimum),
        maximum: Some(maximum),
        ..Rule::default()
    }
}

/// The spec's field rules ("The user resource", the list query, the audit filters), as far
/// as JSON Schema can say them. `schema` is the request schema the field belongs to (`None`
/// for a path or query parameter): a role's `name` is not a person's.
fn rule(schema: Option<&str>, field: &str) -> Option<Rule> {
    Some(match (schema, field) {
        (Some("CreateRoleRequest"), "name") | (None, "role") => text(Some(2), 32, ROLE),
        // In a body, a role must exist (else 422 `unknown_role`): the document promises the
        // built-in ones; custom roles exist only once an ADMIN creates them.
        (Some(_), "role" | "roles") => choice(BUILT_IN_ROLES),
        (_, "username") => text(Some(3), 32, "^[A-Za-z0-9_.-]{3,32}$"),
        // A conservative subset of RFC 5322 addr-spec: what the schema promises is accepted.
        (_, "email") => text(
            Some(6),
            254,
            "^[a-z0-9]{1,20}([._+-][a-z0-9]{1,20}){0,2}@[a-z0-9]{1,20}(-[a-z0-9]{1,20})?\\.[a-z]{2,10}$",
        ),
        // 8 to 72 bytes with a lowercase and an uppercase letter, a digit and another
        // character. (Not being equal to the email or username is beyond JSON Schema.)
        (_, "password") => text(
            Some(8),
            72,
            "^[a-z]{1,20}[A-Z]{1,20}[0-9]{1,20}[!#%&*+,.:;=?@^_~-]{1,10}$",
        ),
        (_, "name") => text(Some(2), 100, "^[A-Za-z][A-Za-z .'-]{0,98}[A-Za-z]$"),
        (_, "phone") => text(Some(9), 16, "^\\+[0-9]{8,15}$"),
        (_, "avatar_url") => text(
            None,
            2048,
            "^https?://[a-z0-9]{1,20}(\\.[a-z0-9]{1,20}){0,3}(/[A-Za-z0-9._~-]{1,20}){0,5}$",
        ),
        (_, "first_name" | "last_name") => text(None, 100, NO_CONTROL),
        (_, "gender") => text(None, 32, NO_CONTROL),
        // `YYYY-MM-DD` in the past: any day of 1900-2019 that every month has.
        (_, "birth_date") => text(
            Some(10),
            10,
            "^(19[0-9]{2}|20[01][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$",
        ),
        (_, "external_id") => text(Some(1), 128, "^[A-Za-z0-9_.:-]{1,128}$"),
        (_, "tenant_id") => text(Some(1), 64, "^[A-Za-z0-9_.:-]{1,64}$"),
        (_, "q") => text(Some(1), 100, "^[^\\x00-\\x1f\\x7f-\\x9f]{1,100}$"),
        (_, "sort") => choice(SORTS),
        (_, "order") => choice(ORDERS),
        (_, "status") => choice(STATUSES),
        (_, "action") => choice(ACTIONS),
        (_, "page") => range(1, 1_000_000_000),
        (_, "limit") => range(1, 100),
        (None, "id" | "user_id") => text(Some(36), 36, UUID),
        (_, "actor_id") => text(
            Some(6),
            200,
            "^(system|service:[a-z0-9_-]{1,20}|[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$",
        ),
        (Some("CreateRoleRequest"), "description") => text(None, 200, NO_CONTROL),
        (_, "since" | "until") => text(
            Some(20),
            20,
            "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$",
        ),
        _ => return None,
    })
}

/// Applies `rule` to a property or parameter schema: string constraints, choices, ranges;
/// on an array (`roles`), to its items, and at least one item.
fn apply(rule: &Rule, schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::Object(object)) => {
            object.min_length = object.min_length.or(rule.min_length);
            object.max_length = object.max_length.or(rule.max_length);
            if object.pattern.is_none() {
                object.pattern = rule.pattern.map(str::to_owned);
            }
            if !rule.one_of.is_empty() && object.enum_values.is_none() {
                object.enum_values = Some(rule.one_of.iter().map(|v| (*v).into()).collect());
            }
            if let Some(minimum) = rule.minimum {
                object.minimum = Some(utoipa::Number::UInt(minimum));
            }
            if let Some(maximum) = rule.maximum {
                object.maximum = Some(utoipa::Number::UInt(maximum));
            }
        }
        RefOr::T(Schema::Array(array)) => {
            array.min_items = array.min_items.or(Some(1));
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                apply(rule, items);
            }
        }
        _ => {}
    }
}

/// Properties that a request may leave out but never set to `null`.
const NEVER_NULL: &[&str] = &[
    "username",
    "email",
    "password",
    "email_verified",
    "roles",
    "external_id",
];

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
        if let Some(components) = openapi.components.as_mut() {
            for (name, schema) in &mut components.schemas {
                if !is_request(name) {
                    continue;
                }
                let RefOr::T(Schema::Object(object)) = schema else {
                    continue;
                };
                let required = object.required.clone();
                for (field, property) in &mut object.properties {
                    // A required property, and those whose `null` is refused wherever they
                    // appear (they cannot be cleared), admit no `null`.
                    if required.contains(field) || NEVER_NULL.contains(&field.as_str()) {
                        match property {
                            RefOr::T(Schema::Object(object)) => without_null(object),
                            RefOr::T(Schema::Array(array)) => {
                                array.schema_type = SchemaType::Type(Type::Array);
                            }
                            _ => {}
                        }
                    }
                    if let Some(rule) = rule(Some(name), field) {
                        apply(&rule, property);
                    }
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            let PathItem {
                get,
                put,
                post,
                delete,
                patch,
                ..
            } = item;
            for operation in [get, put, post, delete, patch].into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    if let (Some(rule), Some(schema)) =
                        (rule(None, &parameter.name), parameter.schema.as_mut())
                    {
                        apply(&rule, schema);
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
    fn the_audit_action_choices_are_the_domains() {
        let domain: Vec<&str> = roster_domain::audit::AuditAction::ALL
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(domain, super::ACTIONS);
    }

    #[test]
    fn list_parameters_state_their_choices_and_ranges() {
        let doc = document();
        let params = doc["paths"]["/api/users"]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let schema = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"].clone())
                .unwrap_or_default()
        };
        assert_eq!(schema("order")["enum"], serde_json::json!(["asc", "desc"]));
        assert_eq!(schema("limit")["maximum"], 100);
        assert_eq!(
            doc["components"]["schemas"]["CreateRoleRequest"]["properties"]["name"]["pattern"],
            "^[A-Z][A-Z0-9_]{1,31}$",
            "a role's name is not a person's"
        );
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
