//! The confirmation and reset pages in a real browser: headless Chromium driven over the
//! WebDriver protocol (chromedriver), clicking the page's own button.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages; `.ci/run` installs them). Without
//! them the tests say so and pass, unless `ROSTER_REQUIRE_BROWSER=1` (set by `.ci/run`),
//! which makes a missing browser a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roster_persistence_diesel::BackendKind;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::on_both_backends;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_binary(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|path| std::path::Path::new(path).exists())
        .map(|path| (*path).to_owned())
}

/// chromedriver and Chromium, or `None` (with a note) when the machine has none.
fn browser() -> Option<(String, String)> {
    let driver = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let chromium = find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    match (driver, chromium) {
        (Some(driver), Some(chromium)) => Some((driver, chromium)),
        _ => {
            assert!(
                std::env::var("ROSTER_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "ROSTER_REQUIRE_BROWSER=1 but chromium / chromedriver are not installed"
            );
            eprintln!("skipping the browser test: chromium and chromium-driver are not installed");
            None
        }
    }
}

/// A chromedriver process with one headless Chromium session; both end on drop.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn start(driver: &str, chromium: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let root = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{root}/status")).send().await;
            if let Ok(reply) = ready
                && let Ok(body) = reply.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let session: Value = http
            .post(format!("{root}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--no-first-run"]
                }
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        Self {
            driver: child,
            http,
            base: format!("{root}/session/{id}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request.send().await.unwrap().json().await.unwrap();
        reply["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Waits for the element's text to contain `expected`; returns the text.
    async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let id = self.element(css).await;
            let text = self
                .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await;
            let text = text.as_str().unwrap_or_default().to_owned();
            if text.contains(expected) || Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The link in a mail, pointed at the running test server instead of the public URL.
fn local(app: &TestApp, link: &str) -> String {
    link.replacen("http://roster.test", &app.address, 1)
}

async fn the_mailed_confirmation_link_opens_a_page_whose_button_activates_the_account(
    kind: BackendKind,
) {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let mail = app
        .mailbox
        .next_for("ada@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    let link = mail.confirmation_link().unwrap();

    // Opening the page changes nothing: the account is still pending.
    let browser = Browser::start(&driver, &chromium).await;
    browser.open(&local(&app, &link)).await;
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.code(),
        "email_not_confirmed"
    );

    browser.click("#submit").await;
    let outcome = browser.wait_for_text("#outcome", "confirmed").await;
    assert!(
        outcome.contains("Your email address is confirmed"),
        "{outcome}"
    );
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
}

async fn the_mailed_reset_link_opens_a_page_that_sets_the_new_password(kind: BackendKind) {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let app = spawn_app(kind).await;
    app.active_user("ada@example.com").await;
    let requested = app
        .post(
            "/api/auth/password-reset/request",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(requested.status, 202);
    let mail = app
        .mailbox
        .next_for("ada@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    let link = mail.link("/reset-password").unwrap();

    let browser = Browser::start(&driver, &chromium).await;
    browser.open(&local(&app, &link)).await;
    browser.type_into("#password", "weak").await;
    browser.type_into("#repeat", "weak").await;
    browser.click("#submit").await;
    let refused = browser.wait_for_text("#outcome", "at least").await;
    assert!(
        refused.contains("at least"),
        "each broken rule is shown: {refused}"
    );

    browser.open(&local(&app, &link)).await;
    browser.type_into("#password", "N3w!passphrase").await;
    browser.type_into("#repeat", "N3w!passphrase").await;
    browser.click("#submit").await;
    let outcome = browser.wait_for_text("#outcome", "password is set").await;
    assert!(outcome.contains("Your password is set"), "{outcome}");
    assert_eq!(
        app.login("ada@example.com", "N3w!passphrase").await.status,
        200
    );
}

async fn the_pages_are_served_under_a_strict_policy_and_a_get_changes_nothing(kind: BackendKind) {
    let app = spawn_app(kind).await;
    assert_eq!(app.register("ada@example.com", PASSWORD).await.status, 201);
    let token = app.confirmation_token("ada@example.com").await;
    for path in [
        format!("/confirm?token={token}"),
        format!("/reset-password?token={token}"),
    ] {
        let page = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let header = |name: &str| {
            page.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with("text/html"));
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(header("referrer-policy"), "no-referrer");
        assert_eq!(header("cache-control"), "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains("<form"), "{html}");
        assert!(!html.contains(&token), "the page does not echo the token");
    }
    for asset in ["/assets/pages.js", "/assets/pages.css"] {
        assert_eq!(
            app.client
                .get(app.url(asset))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        app.confirm(&token).await.status,
        200,
        "the GETs consumed nothing"
    );
}

on_both_backends!(
    the_pages_are_served_under_a_strict_policy_and_a_get_changes_nothing,
    the_mailed_confirmation_link_opens_a_page_whose_button_activates_the_account,
    the_mailed_reset_link_opens_a_page_that_sets_the_new_password,
);
