//! JWT access tokens.
//!
//! One algorithm per instance, pinned: a token signed any other way (`none`, HS384, RS256
//! with the HMAC secret as "public key", HS256 under an EdDSA instance, ...) is invalid.
//! HS256 with a shared secret, or EdDSA (Ed25519) with a private key whose public half is
//! published as a JWKS document under a `kid` that every token names.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roster_domain::InfraError;
use roster_domain::ports::{AccessTokens, TokenRejected};
use roster_domain::role::RoleName;
use roster_domain::session::{AccessClaims, SessionId};
use roster_domain::user::UserId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Fewest bytes in an HS256 secret: as many as the hash's output (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// Why a [`JwtAccessTokens`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// The HMAC secret is too short to be safe.
    #[error("the JWT secret must be at least {MIN_HS256_SECRET_BYTES} bytes, got {0}")]
    SecretTooShort(usize),
    /// Issuer or audience is empty.
    #[error("the JWT {0} must not be empty")]
    Empty(&'static str),
    /// The Ed25519 key is not a PEM PKCS#8 Ed25519 private key.
    #[error("expected a PEM PKCS#8 Ed25519 private key (-----BEGIN PRIVATE KEY-----)")]
    InvalidEd25519Key,
}

/// The DER of a PKCS#8 Ed25519 private key before its 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The DER inside a `PRIVATE KEY` PEM document, if it is an Ed25519 PKCS#8 key.
fn ed25519_pkcs8_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .trim_end()
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let text: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(text).ok()?;
    (der.len() == 48 && der[..16] == ED25519_PKCS8_PREFIX).then_some(der)
}

/// The key material tokens are signed and checked with.
///
/// A new algorithm is a new variant; `algorithm` and `header` are the only places that
/// look inside.
enum SigningKey {
    /// HMAC-SHA256 with a shared secret.
    Hs256 {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    /// EdDSA over Ed25519; `jwk` is the public key as published, named `kid`.
    Ed25519 {
        encoding: EncodingKey,
        decoding: DecodingKey,
        kid: String,
        jwk: Box<Jwk>,
    },
}

impl SigningKey {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Hs256 { .. } => Algorithm::HS256,
            Self::Ed25519 { .. } => Algorithm::EdDSA,
        }
    }

    fn header(&self) -> Header {
        let mut header = Header::new(self.algorithm());
        if let Self::Ed25519 { kid, .. } = self {
            header.kid = Some(kid.clone());
        }
        header
    }

    fn encoding(&self) -> &EncodingKey {
        match self {
            Self::Hs256 { encoding, .. } | Self::Ed25519 { encoding, .. } => encoding,
        }
    }

    fn decoding(&self) -> &DecodingKey {
        match self {
            Self::Hs256 { decoding, .. } | Self::Ed25519 { decoding, .. } => decoding,
        }
    }
}

/// The claims as they travel. `exp` and `iat` are integers: a token with a string `exp`
/// (CVE-2026-25537) fails to decode instead of skipping the expiry check.
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    sub: String,
    sid: String,
    roles: Vec<String>,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    jti: String,
}

/// [`AccessTokens`] as JWTs.
pub struct JwtAccessTokens {
    key: SigningKey,
    issuer: String,
    audience: String,
    validation: Validation,
}

impl fmt::Debug for JwtAccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAccessTokens")
            .field("algorithm", &self.algorithm())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtAccessTokens {
    /// Tokens signed with HS256 under `secret`, naming `issuer` and `audience`, which
    /// verification then requires.
    ///
    /// # Errors
    /// [`JwtConfigError`] for a secret under 32 bytes or an empty issuer or audience.
    pub fn hs256(
        secret: &[u8],
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, JwtConfigError> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(JwtConfigError::SecretTooShort(secret.len()));
        }
        let key = SigningKey::Hs256 {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        };
        Self::with_key(key, issuer.into(), audience.into())
    }

    /// Tokens signed with EdDSA under the Ed25519 private key in `pem` (PKCS#8,
    /// `-----BEGIN PRIVATE KEY-----`), each naming the key's `kid` (its RFC 7638 thumbprint);
    /// [`JwtAccessTokens::jwks`] publishes the public key.
    ///
    /// # Errors
    /// [`JwtConfigError`] for a key that is not such a key, or an empty issuer or audience.
    pub fn ed25519_pem(
        pem: &str,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, JwtConfigError> {
        let der = ed25519_pkcs8_der(pem).ok_or(JwtConfigError::InvalidEd25519Key)?;
        let encoding = EncodingKey::from_ed_der(&der);
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA)
            .map_err(|_| JwtConfigError::InvalidEd25519Key)?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| JwtConfigError::InvalidEd25519Key)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|_| JwtConfigError::InvalidEd25519Key)?;
        let key = SigningKey::Ed25519 {
            encoding,
            decoding,
            kid,
            jwk: Box::new(jwk),
        };
        Self::with_key(key, issuer.into(), audience.into())
    }

    /// The JWKS document (`{"keys": [...]}`) with the public key tokens are verified with:
    /// the Ed25519 key as an OKP JWK (`kid`, `alg: EdDSA`, `use: sig`), or no key under HS256,
    /// whose secret is never published.
    pub fn jwks(&self) -> serde_json::Value {
        match &self.key {
            SigningKey::Hs256 { .. } => serde_json::json!({ "keys": [] }),
            SigningKey::Ed25519 { jwk, .. } => {
                let key = serde_json::to_value(jwk.as_ref()).unwrap_or_default();
                serde_json::json!({ "keys": [key] })
            }
        }
    }

    fn with_key(key: SigningKey, issuer: String, audience: String) -> Result<Self, JwtConfigError> {
        if issuer.is_empty() {
            return Err(JwtConfigError::Empty("issuer"));
        }
        if audience.is_empty() {
            return Err(JwtConfigError::Empty("audience"));
        }
        let mut validation = Validation::new(key.algorithm());
        // Expiry is checked against the caller's clock in `verify`, with no leeway; the
        // library's own check would read the system clock and allow 60 s by default.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        Ok(Self {
            key,
            issuer,
            audience,
            validation,
        })
    }

    /// The algorithm tokens are signed with.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            SigningKey::Hs256 { .. } => "HS256",
            SigningKey::Ed25519 { .. } => "EdDSA",
        }
    }

    fn parse_claims(wire: WireClaims) -> Option<AccessClaims> {
        let sub = Uuid::parse_str(&wire.sub).ok().map(UserId::from_uuid)?;
        let sid = Uuid::parse_str(&wire.sid).ok().map(SessionId::from_uuid)?;
        let jti = Uuid::parse_str(&wire.jti).ok()?;
        let roles = wire
            .roles
            .iter()
            .map(|role| RoleName::parse(role).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(AccessClaims {
            sub,
            sid,
            roles,
            iat: wire.iat,
            exp: wire.exp,
            jti,
        })
    }
}

/// Why signing failed; the source of an [`InfraError`].
#[derive(Debug, thiserror::Error)]
#[error("signing the access token failed")]
struct SigningFailed(#[source] jsonwebtoken::errors::Error);

impl AccessTokens for JwtAccessTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, InfraError> {
        let wire = WireClaims {
            sub: claims.sub.to_string(),
            sid: claims.sid.to_string(),
            roles: claims
                .roles
                .iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
            iat: claims.iat,
            exp: claims.exp,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: claims.jti.to_string(),
        };
        jsonwebtoken::encode(&self.key.header(), &wire, self.key.encoding())
            .map_err(|error| InfraError::unexpected(SigningFailed(error)))
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenRejected> {
        let data = jsonwebtoken::decode::<WireClaims>(token, self.key.decoding(), &self.validation)
            .map_err(|error| {
                tracing::debug!(kind = ?error.kind(), "access token rejected");
                TokenRejected::Invalid
            })?;
        // Only a token whose signature, algorithm, issuer and audience are right gets as far
        // as "expired": an attacker learns nothing from forging an old `exp`.
        if now.timestamp() >= data.claims.exp {
            return Err(TokenRejected::Expired);
        }
        Self::parse_claims(data.claims).ok_or(TokenRejected::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-secret";
    const NOW: i64 = 1_800_000_000;

    fn tokens() -> JwtAccessTokens {
        JwtAccessTokens::hs256(SECRET, "roster", "roster-api").unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            sub: UserId::generate(),
            sid: SessionId::generate(),
            roles: vec![RoleName::admin(), RoleName::user()],
            iat: NOW,
            exp: NOW + 1800,
            jti: Uuid::now_v7(),
        }
    }

    /// A token with arbitrary JSON claims, correctly signed with `SECRET`.
    fn signed(alg: Algorithm, payload: &serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            payload,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn valid_payload(c: &AccessClaims) -> serde_json::Value {
        json!({
            "sub": c.sub.to_string(), "sid": c.sid.to_string(), "roles": ["USER"],
            "iat": c.iat, "exp": c.exp, "iss": "roster", "aud": "roster-api",
            "jti": c.jti.to_string(),
        })
    }

    #[test]
    fn an_issued_token_verifies_to_the_same_claims() {
        let tokens = tokens();
        let claims = claims();
        let token = tokens.issue(&claims).unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(tokens.verify(&token, at(NOW)).unwrap(), claims);
    }

    #[test]
    fn an_issued_token_carries_the_spec_claims_and_an_hs256_header() {
        let claims = claims();
        let token = tokens().issue(&claims).unwrap();
        let mut parts = token.split('.');
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                .unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(payload["sub"], claims.sub.to_string());
        assert_eq!(payload["sid"], claims.sid.to_string());
        assert_eq!(payload["roles"], json!(["ADMIN", "USER"]));
        assert_eq!(payload["iat"], NOW);
        assert_eq!(payload["exp"], NOW + 1800);
        assert_eq!(payload["iss"], "roster");
        assert_eq!(payload["aud"], "roster-api");
        assert_eq!(payload["jti"], claims.jti.to_string());
    }

    #[test]
    fn a_token_is_good_until_the_second_it_expires() {
        let tokens = tokens();
        let claims = claims();
        let token = tokens.issue(&claims).unwrap();
        assert!(tokens.verify(&token, at(claims.exp - 1)).is_ok());
        assert_eq!(
            tokens.verify(&token, at(claims.exp)),
            Err(TokenRejected::Expired)
        );
        assert_eq!(
            tokens.verify(&token, at(claims.exp + 3600)),
            Err(TokenRejected::Expired)
        );
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let other = JwtAccessTokens::hs256(&[7u8; 32], "roster", "roster-api").unwrap();
        let token = other.issue(&claims()).unwrap();
        assert_eq!(
            tokens().verify(&token, at(NOW)),
            Err(TokenRejected::Invalid)
        );
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_invalid() {
        let claims = claims();
        let foreign_iss = JwtAccessTokens::hs256(SECRET, "someone-else", "roster-api").unwrap();
        let foreign_aud = JwtAccessTokens::hs256(SECRET, "roster", "another-api").unwrap();
        for token in [
            foreign_iss.issue(&claims).unwrap(),
            foreign_aud.issue(&claims).unwrap(),
        ] {
            assert_eq!(
                tokens().verify(&token, at(NOW)),
                Err(TokenRejected::Invalid)
            );
        }
    }

    #[test]
    fn a_token_without_iss_aud_or_exp_is_invalid() {
        let claims = claims();
        for missing in ["iss", "aud", "exp", "sub"] {
            let mut payload = valid_payload(&claims);
            payload.as_object_mut().unwrap().remove(missing);
            let token = signed(Algorithm::HS256, &payload);
            assert_eq!(
                tokens().verify(&token, at(NOW)),
                Err(TokenRejected::Invalid),
                "{missing}"
            );
        }
        // The same payload with everything present is accepted: the test above is not vacuous.
        let token = signed(Algorithm::HS256, &valid_payload(&claims));
        assert!(tokens().verify(&token, at(NOW)).is_ok());
    }

    #[test]
    fn an_unsigned_alg_none_token_is_invalid() {
        let claims = claims();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(valid_payload(&claims).to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_eq!(
                tokens().verify(&token, at(NOW)),
                Err(TokenRejected::Invalid)
            );
        }
    }

    #[test]
    fn a_token_signed_with_hs384_under_the_right_secret_is_invalid() {
        let token = signed(Algorithm::HS384, &valid_payload(&claims()));
        assert_eq!(
            tokens().verify(&token, at(NOW)),
            Err(TokenRejected::Invalid)
        );
    }

    #[test]
    fn a_token_whose_exp_is_a_string_is_refused() {
        // CVE-2026-25537: a string `exp` used to skip the expiry check. Correctly signed, an
        // `exp` far in the future and far in the past: both refused as malformed.
        let claims = claims();
        for exp in ["9999999999", "1"] {
            let mut payload = valid_payload(&claims);
            payload["exp"] = json!(exp);
            let token = signed(Algorithm::HS256, &payload);
            assert_eq!(
                tokens().verify(&token, at(NOW)),
                Err(TokenRejected::Invalid),
                "{exp}"
            );
        }
    }

    #[test]
    fn a_tampered_payload_is_invalid() {
        let tokens = tokens();
        let claims = claims();
        let token = tokens.issue(&claims).unwrap();
        let [header, _, signature] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        let mut payload = valid_payload(&claims);
        payload["roles"] = json!(["ADMIN"]);
        let forged = URL_SAFE_NO_PAD.encode(payload.to_string());
        let token = format!("{header}.{forged}.{signature}");
        assert_eq!(tokens.verify(&token, at(NOW)), Err(TokenRejected::Invalid));
    }

    #[test]
    fn garbage_is_invalid() {
        for token in ["", "abc", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9.e30."] {
            assert_eq!(
                tokens().verify(token, at(NOW)),
                Err(TokenRejected::Invalid),
                "{token}"
            );
        }
    }

    #[test]
    fn a_signed_token_with_malformed_ids_or_roles_is_invalid() {
        let claims = claims();
        for (field, value) in [
            ("sub", json!("not-a-uuid")),
            ("sid", json!(42)),
            ("roles", json!(["admin"])),
        ] {
            let mut payload = valid_payload(&claims);
            payload[field] = value;
            let token = signed(Algorithm::HS256, &payload);
            assert_eq!(
                tokens().verify(&token, at(NOW)),
                Err(TokenRejected::Invalid),
                "{field}"
            );
        }
    }

    #[test]
    fn a_secret_under_32_bytes_or_an_empty_issuer_is_refused() {
        assert_eq!(
            JwtAccessTokens::hs256(&[1u8; 31], "roster", "roster").unwrap_err(),
            JwtConfigError::SecretTooShort(31)
        );
        assert_eq!(
            JwtAccessTokens::hs256(&[1u8; 32], "", "roster").unwrap_err(),
            JwtConfigError::Empty("issuer")
        );
        assert_eq!(
            JwtAccessTokens::hs256(&[1u8; 32], "roster", "").unwrap_err(),
            JwtConfigError::Empty("audience")
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let shown = format!("{:?}", tokens());
        assert!(shown.contains("HS256"), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    /// A PEM PKCS#8 Ed25519 private key made from `seed`.
    pub(crate) fn ed25519_pem_from_seed(seed: [u8; 32]) -> String {
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der)
        )
    }

    fn eddsa() -> JwtAccessTokens {
        JwtAccessTokens::ed25519_pem(&ed25519_pem_from_seed([7; 32]), "roster", "roster-api")
            .unwrap()
    }

    #[test]
    fn an_eddsa_token_names_its_key_and_verifies_with_the_published_key_only() {
        let tokens = eddsa();
        let claims = claims();
        let token = tokens.issue(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        let jwks = tokens.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(header.kid.as_deref(), key["kid"].as_str());
        assert!(key.get("d").is_none(), "the private key is never published");
        assert_eq!(tokens.verify(&token, at(NOW)).unwrap(), claims);
        // Anyone holding only the JWKS verifies it.
        let jwk: Jwk = serde_json::from_value(key.clone()).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["roster-api"]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
    }

    #[test]
    fn an_eddsa_instance_refuses_hs256_tokens_and_tokens_of_another_key() {
        let claims = claims();
        // HS256 signed with the public key's bytes as the secret (the classic confusion).
        let x = eddsa().jwks()["keys"][0]["x"].as_str().unwrap().to_owned();
        let confused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &valid_payload(&claims),
            &EncodingKey::from_secret(x.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            eddsa().verify(&confused, at(NOW)),
            Err(TokenRejected::Invalid)
        );
        let hs = tokens().issue(&claims).unwrap();
        assert_eq!(eddsa().verify(&hs, at(NOW)), Err(TokenRejected::Invalid));
        let other =
            JwtAccessTokens::ed25519_pem(&ed25519_pem_from_seed([9; 32]), "roster", "roster-api")
                .unwrap();
        let foreign = other.issue(&claims).unwrap();
        assert_eq!(
            eddsa().verify(&foreign, at(NOW)),
            Err(TokenRejected::Invalid)
        );
        assert_eq!(
            tokens().verify(&foreign, at(NOW)),
            Err(TokenRejected::Invalid)
        );
        assert_eq!(tokens().jwks(), json!({"keys": []}));
    }

    #[test]
    fn a_key_that_is_not_a_pkcs8_ed25519_pem_is_refused() {
        let good = ed25519_pem_from_seed([1; 32]);
        for bad in [
            String::new(),
            "not a key".to_owned(),
            good.replace("PRIVATE KEY", "PUBLIC KEY"),
            good.replace("MC4CAQAwBQYDK2VwBCIEI", "MC4CAQAwBQYDK2VxBCIEI"),
        ] {
            assert_eq!(
                JwtAccessTokens::ed25519_pem(&bad, "roster", "roster").unwrap_err(),
                JwtConfigError::InvalidEd25519Key,
                "{bad}"
            );
        }
    }
}
