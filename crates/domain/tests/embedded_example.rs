//! Runs `examples/embedded.rs` as part of `cargo test`, so the example cannot rot.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/embedded.rs"]
mod embedded;

#[tokio::test]
async fn the_embedded_example_walks_an_account_through_its_life() {
    // The example's own checks say what went wrong.
    let outcome = embedded::run().await.map_err(|e| e.to_string());
    assert_eq!(outcome, Ok(()));
}
