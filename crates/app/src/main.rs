//! `roster`: the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use roster_app::settings::Settings;
use roster_app::startup::{self, Application, Overrides};
use roster_domain::audit::Actor;
use roster_domain::services::{BootstrapError, NewAdmin};

/// Roster: self-hosted user management behind one REST API.
#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: self-hosted user management behind one REST API",
    long_about = "Roster: self-hosted user management behind one REST API.\n\nConfigured by ROSTER_* environment variables or roster.toml; with none it serves on 127.0.0.1:8080 with SQLite under ./data."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run pending migrations, then serve HTTP and the background jobs until SIGINT/SIGTERM
    /// (the default).
    Serve,
    /// Run pending migrations and exit.
    Migrate,
    /// Run the cleanup job once: delete pending accounts whose confirmation ran out, expired
    /// one-time tokens and dead sessions.
    Cleanup,
    /// Create an active, verified ADMIN. The password comes from ROSTER_ADMIN_PASSWORD or a
    /// prompt, never from the command line.
    /// Print the OpenAPI document (the same as `GET /api/openapi.json`).
    Openapi,
    CreateAdmin {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// The admin's username (default: derived from the email).
        #[arg(long)]
        username: Option<String>,
    },
    /// Rewrite every stored email (users, pending changes, queued mail) that is not under the
    /// current key (ROSTER_EMAIL_ENCRYPTION_KEY), in batches, while the service runs. Run it
    /// after a rotation, then drop the old key from ROSTER_EMAIL_ENCRYPTION_OLD_KEYS.
    Rekey {
        /// Rows read and rewritten per batch.
        #[arg(long, default_value_t = 500)]
        batch_size: u32,
    },
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings, Overrides::default()).await?;
    let handle = app.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("ROSTER_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for the new ADMIN: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn create_admin(
    settings: Settings,
    email: String,
    username: Option<String>,
) -> anyhow::Result<()> {
    let password = read_password()?;
    let database = startup::database(&settings).await?;
    let services = startup::services(&settings, database, &mut Overrides::default()).await?;
    match services
        .accounts
        .create_admin(
            NewAdmin {
                email,
                username,
                password,
            },
            Actor::System,
        )
        .await
    {
        Ok(user) => {
            eprintln!("created ADMIN {} ({})", user.username, user.id);
            Ok(())
        }
        Err(BootstrapError::Invalid(errors)) => {
            let list: Vec<String> = errors
                .0
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            anyhow::bail!("invalid admin: {}", list.join("; "))
        }
        Err(other) => Err(other.into()),
    }
}

async fn cleanup(settings: Settings) -> anyhow::Result<()> {
    let database = startup::database(&settings).await?;
    let services = startup::services(&settings, database, &mut Overrides::default()).await?;
    match services.cleanup.run_once().await? {
        Some(report) => eprintln!(
            "cleanup: deleted {} pending account(s), {} expired token(s), {} dead session(s)",
            report.pending_accounts, report.tokens, report.sessions
        ),
        None => eprintln!("cleanup: another instance holds the job lease; nothing done"),
    }
    Ok(())
}

async fn rekey(settings: Settings, batch_size: u32) -> anyhow::Result<()> {
    let database = startup::database(&settings).await?;
    let report = database.rekey_emails(batch_size).await?;
    eprintln!(
        "rekey: rewrote {} user(s), {} pending address(es), {} queued message(s) under key {}; {} row(s) failed",
        report.users,
        report.tokens,
        report.outbox,
        database.email_keys().current_id(),
        report.failed
    );
    if report.failed > 0 {
        anyhow::bail!(
            "{} row(s) could not be rewritten (see the log); keep the old keys configured",
            report.failed
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Openapi)) {
        // Needs no settings, database or secrets.
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            roster_http_actix::openapi::document()
        );
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("roster: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    roster_app::telemetry::init(&settings.log, settings.log_format);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => startup::database(&settings).await.map(|_| {
            tracing::info!("migrations are up to date");
        }),
        Command::Cleanup => cleanup(settings).await,
        Command::CreateAdmin { email, username } => create_admin(settings, email, username).await,
        Command::Openapi => Ok(()),
        Command::Rekey { batch_size } => rekey(settings, batch_size).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: {error:#}");
            ExitCode::FAILURE
        }
    }
}
