//! Access tokens on the wire: EdDSA with a published JWKS, and every kind of bad token.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use roster_persistence_diesel::BackendKind;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, spawn_app, spawn_with};
use crate::on_both_backends;

const SEED: [u8; 32] = [42; 32];

/// `SEED` as a PEM PKCS#8 Ed25519 private key (RFC 8410), written to a file.
fn key_file() -> std::path::PathBuf {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&SEED);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der)
    );
    let path = std::env::temp_dir().join(format!("roster-ed25519-{}.pem", uuid::Uuid::now_v7()));
    std::fs::write(&path, pem).unwrap();
    path
}

async fn eddsa_app(kind: BackendKind) -> TestApp {
    spawn_with(
        kind,
        Options {
            vars: vec![(
                "ROSTER_JWT_ED25519_KEY_FILE",
                key_file().display().to_string(),
            )],
            ..Options::default()
        },
    )
    .await
}

fn part(token: &str, n: usize) -> Value {
    let raw = token.split('.').nth(n).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).unwrap()).unwrap()
}

/// A token signed by this test, independently of Roster, with `SEED`.
fn sign(header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = SigningKey::from_bytes(&SEED).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

async fn eddsa_tokens_verify_with_nothing_but_the_published_jwks(kind: BackendKind) {
    let app = eddsa_app(kind).await;
    let access = app.active_user("ada@example.com").await;
    let header = part(&access, 0);
    assert_eq!(header["alg"], "EdDSA");
    let kid = header["kid"].as_str().unwrap().to_owned();

    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200, "{jwks:?}");
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let jwk = &keys[0];
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["kid"], kid.as_str());
    assert!(jwk.get("d").is_none(), "no private part");

    // An independent verifier: ed25519-dalek with the JWK's `x`, no JWT library.
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&x).unwrap();
    let (input, signature) = access.rsplit_once('.').unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    key.verify(input.as_bytes(), &signature)
        .expect("the signature verifies with the published key");
    let mut tampered = input.to_owned();
    tampered.push('x');
    assert!(key.verify(tampered.as_bytes(), &signature).is_err());
    let claims = part(&access, 1);
    assert_eq!(claims["iss"], "roster");
    assert_eq!(claims["aud"], "roster");

    assert_eq!(app.get("/api/users/me", Some(&access)).await.status, 200);
    // A token this test signs itself with the same key and sound claims is accepted too:
    // the independent signature is the real one.
    let own = sign(&header, &claims);
    assert_eq!(app.get("/api/users/me", Some(&own)).await.status, 200);
}

async fn forged_foreign_and_expired_tokens_are_refused(kind: BackendKind) {
    let app = eddsa_app(kind).await;
    let access = app.active_user("ada@example.com").await;
    let header = part(&access, 0);
    let claims = part(&access, 1);
    let x = app.get("/.well-known/jwks.json", None).await.body["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();

    let with = |key: &str, value: Value| {
        let mut changed = claims.clone();
        changed[key] = value;
        sign(&header, &changed)
    };
    let hs256 = {
        let h = json!({"alg": "HS256", "typ": "JWT"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // Signed with the public key as an HMAC secret: the algorithm-confusion attack.
        use hmac_free::mac;
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac(x.as_bytes(), input.as_bytes()))
        )
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let forged = {
        let (input, _) = access.rsplit_once('.').unwrap();
        let mut sig = [0u8; 64];
        sig[0] = 1;
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let mut admin = claims.clone();
    admin["roles"] = json!(["ADMIN"]);
    let swapped_payload = format!(
        "{}.{}.{}",
        access.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(admin.to_string()),
        access.split('.').nth(2).unwrap()
    );
    for (what, token) in [
        ("HS256 under the public key", hs256),
        ("alg none", none),
        ("forged signature", forged),
        ("payload swapped under a real signature", swapped_payload),
        ("wrong issuer", with("iss", json!("someone-else"))),
        ("wrong audience", with("aud", json!("another-api"))),
        ("string exp", with("exp", json!("9999999999"))),
    ] {
        let reply = app.get("/api/users/me", Some(&token)).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        assert_eq!(reply.code(), "invalid_token", "{what}");
    }

    let stale = with("exp", json!(claims["iat"].as_i64().unwrap() - 1));
    let reply = app.get("/api/users/me", Some(&stale)).await;
    assert_eq!(reply.code(), "token_expired");
    app.clock.advance(Duration::seconds(1800));
    let reply = app.get("/api/users/me", Some(&access)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "token_expired");
}

async fn under_hs256_the_jwks_is_empty(kind: BackendKind) {
    let app = spawn_app(kind).await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.body, json!({"keys": []}));
    let access = app.active_user("ada@example.com").await;
    assert_eq!(part(&access, 0)["alg"], "HS256");
}

/// HMAC-SHA256 from its definition (RFC 2104), so the test needs no MAC crate.
mod hmac_free {
    use sha2::{Digest, Sha256};

    pub fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .to_vec()
    }
}

on_both_backends!(
    eddsa_tokens_verify_with_nothing_but_the_published_jwks,
    forged_foreign_and_expired_tokens_are_refused,
    under_hs256_the_jwks_is_empty,
);
