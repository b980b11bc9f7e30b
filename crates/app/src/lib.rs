//! # roster-app
//!
//! The `roster` binary's library: typed settings, secrets, wiring of adapters into the
//! domain's services, background jobs and telemetry. It holds no business rule; `main.rs`
//! only parses the command line and calls into here.

pub mod jobs;
pub mod metrics;
pub mod secrets;
pub mod settings;
pub mod startup;
pub mod telemetry;
