//! `whiz-backoffice`: the Back Office server and its administration commands.
//!
//! ```text
//! whiz-backoffice serve [--listen 0.0.0.0:5000] [--database PATH]
//! whiz-backoffice device add --branch NAME --name TILL1 [--kind desktop|mobile]
//! whiz-backoffice device list
//! whiz-backoffice device revoke ID-OR-NAME
//! whiz-backoffice user add --role owner|manager [--name NAME] USERNAME
//! whiz-backoffice user list
//! whiz-backoffice user password USERNAME
//! whiz-backoffice user disable|enable USERNAME
//! whiz-backoffice restore-epoch
//! whiz-backoffice versions list --entity product --id ID
//! whiz-backoffice versions restore VERSION_ID
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use backoffice::devices::{self, DeviceInfo, DeviceKind};
use backoffice::web::session::{self, Role};
use backoffice::{AppState, Config, db, full_sync};
use clap::{Parser, Subcommand, ValueEnum};
use pos_domain::{Clock, SystemClock, Timestamp};
use sync_protocol::EntityKind;

#[derive(Debug, Parser)]
#[command(
    name = "whiz-backoffice",
    version,
    about = "WHIZ POS Back Office: the sync hub for every branch and device"
)]
struct Cli {
    /// The database file (created if missing).
    #[arg(long, global = true, env = "WHIZ_BACKOFFICE_DB", default_value = backoffice::DEFAULT_DATABASE)]
    database: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server until Ctrl-C or SIGTERM.
    Serve {
        /// Address and port to listen on.
        #[arg(long, env = "WHIZ_BACKOFFICE_LISTEN", default_value = backoffice::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Requests a second one API key may make, sustained (0: no limit).
        #[arg(long, env = "WHIZ_BACKOFFICE_RATE", default_value_t = 20)]
        rate_per_second: u32,
        /// Requests one API key may make at once after a quiet spell.
        #[arg(long, env = "WHIZ_BACKOFFICE_BURST", default_value_t = 40)]
        rate_burst: u32,
    },
    /// Add, list or revoke devices and their API keys.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Dashboard accounts (owners and managers who sign in from a browser).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Give the database a new epoch after restoring it from a backup, so
    /// every device re-bootstraps instead of trusting its old cursor.
    RestoreEpoch,
    /// List or restore the states Full Cloud Synchronization replaced.
    Versions {
        #[command(subcommand)]
        command: VersionsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum VersionsCommand {
    /// The saved versions of one record, oldest first.
    List {
        /// settings, tax_rate, category, product, user, customer or expense.
        #[arg(long)]
        entity: String,
        /// The record's id (a tax rate's code; `settings` for the settings).
        #[arg(long)]
        id: String,
    },
    /// Make a saved version the record's current state again (the state it
    /// replaces is saved as a version too; every till pulls the change).
    Restore { version_id: i64 },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Add a device (and its branch, if new) and print its API key once.
    Add {
        #[arg(long)]
        branch: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value_t = Kind::Desktop)]
        kind: Kind,
    },
    /// List every device, revoked ones included.
    List,
    /// Revoke a device's key by the device's id or name.
    Revoke { id_or_name: String },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Make an account. The password is asked for twice (not echoed), or
    /// read from the first line of standard input with --password-stdin.
    Add {
        username: String,
        #[arg(long, value_enum)]
        role: AccountRole,
        /// The name the dashboard shows (default: the username).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Set a new password (ends the account's sessions).
    Password {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop an account from signing in (ends its sessions).
    Disable { username: String },
    /// Let a disabled account sign in again.
    Enable { username: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AccountRole {
    Owner,
    Manager,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Desktop,
    Mobile,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let result = match cli.command {
        Command::Serve {
            listen,
            rate_per_second,
            rate_burst,
        } => {
            let rate_limit = (rate_per_second > 0).then_some(backoffice::rate_limit::RateLimit {
                per_second: rate_per_second,
                burst: rate_burst,
            });
            serve(listen, cli.database, rate_limit, clock)
        }
        Command::Device { command } => device(command, &cli.database, clock.as_ref()),
        Command::User { command } => user(command, &cli.database, clock.as_ref()),
        Command::RestoreEpoch => restore_epoch(&cli.database, clock.as_ref()),
        Command::Versions { command } => versions(command, &cli.database, clock.as_ref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("whiz-backoffice: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

fn serve(
    listen: SocketAddr,
    database: PathBuf,
    rate_limit: Option<backoffice::rate_limit::RateLimit>,
    clock: Arc<dyn Clock>,
) -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info")),
        )
        .init();
    let config = Config {
        listen,
        database,
        rate_limit,
        ..Config::default()
    };
    let state = AppState::open(config.clone(), clock)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                format!(
                    "could not listen on {}: {e}; pick another --listen address",
                    config.listen
                )
            })?;
        tracing::info!(
            listen = %config.listen,
            database = %config.database.display(),
            version = env!("CARGO_PKG_VERSION"),
            "whiz-backoffice serving"
        );
        backoffice::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok::<(), BoxError>(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

fn device(
    command: DeviceCommand,
    database: &std::path::Path,
    clock: &dyn Clock,
) -> Result<(), BoxError> {
    let mut conn = db::open(database, clock)?;
    match command {
        DeviceCommand::Add { branch, name, kind } => {
            let kind = match kind {
                Kind::Desktop => DeviceKind::Desktop,
                Kind::Mobile => DeviceKind::Mobile,
            };
            let new = devices::add_device(&mut conn, clock, &branch, &name, kind)?;
            let d = &new.device;
            if new.new_branch {
                println!("Created branch {} ({}).", d.branch_name, d.branch_code);
            }
            println!(
                "Added {} device '{}' as {} in branch {} ({}); id {}.",
                d.kind, d.name, d.code, d.branch_name, d.branch_code, d.id
            );
            println!();
            println!("API key (shown only now; enter it in the device's Back Office settings):");
            println!("{}", new.api_key);
        }
        DeviceCommand::List => {
            let list = devices::list_devices(&conn)?;
            if list.is_empty() {
                println!(
                    "No devices yet: add one with `whiz-backoffice device add --branch NAME --name TILL1`."
                );
            }
            print_devices(&list);
        }
        DeviceCommand::Revoke { id_or_name } => {
            let d = devices::revoke_device(&mut conn, clock, &id_or_name)?;
            println!(
                "Revoked device '{}' ({} in branch {}); its key {}… no longer works.",
                d.name, d.code, d.branch_name, d.key_prefix
            );
        }
    }
    Ok(())
}

/// A new password: from standard input's first line, or asked twice on the
/// terminal without echo.
fn read_password(from_stdin: bool) -> Result<String, BoxError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    if first != again {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(first)
}

fn user(
    command: UserCommand,
    database: &std::path::Path,
    clock: &dyn Clock,
) -> Result<(), BoxError> {
    let conn = db::open(database, clock)?;
    match command {
        UserCommand::Add {
            username,
            role,
            name,
            password_stdin,
        } => {
            let role = match role {
                AccountRole::Owner => Role::Owner,
                AccountRole::Manager => Role::Manager,
            };
            let password = read_password(password_stdin)?;
            let name = name.unwrap_or_else(|| username.clone());
            let a = session::add_account(&conn, clock, &username, &name, role, &password)?;
            println!(
                "Added {} account '{}' ({}). Sign in at the Back Office's address, e.g. http://localhost:5000/login",
                a.role.as_str(),
                a.username,
                a.name
            );
        }
        UserCommand::List => {
            let list = session::list_accounts(&conn)?;
            if list.is_empty() {
                println!(
                    "No accounts yet: add one with `whiz-backoffice user add --role owner USERNAME`."
                );
            }
            for a in list {
                let state = if a.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<8} {:<9} {}",
                    a.username,
                    a.role.as_str(),
                    state,
                    a.name
                );
            }
        }
        UserCommand::Password {
            username,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            session::set_password(&conn, &username, &password)?;
            println!("Set a new password for '{username}'; its sessions were ended.");
        }
        UserCommand::Disable { username } => {
            session::set_disabled(&conn, clock, &username, true)?;
            println!("Disabled '{username}'; its sessions were ended.");
        }
        UserCommand::Enable { username } => {
            session::set_disabled(&conn, clock, &username, false)?;
            println!("'{username}' may sign in again.");
        }
    }
    Ok(())
}

fn print_devices(list: &[DeviceInfo]) {
    if list.is_empty() {
        return;
    }
    let when = |t: Option<Timestamp>| {
        t.map_or_else(
            || "-".to_string(),
            |t| t.to_datetime().format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    println!(
        "{:<10} {:<16} {:<8} {:<4} {:<11} {:<16} {:<16} {:<16} {:<16} {:<16} ID",
        "BRANCH",
        "NAME",
        "KIND",
        "CODE",
        "KEY",
        "CREATED",
        "LAST SEEN",
        "LAST PUSH",
        "LAST PULL",
        "REVOKED"
    );
    for d in list {
        println!(
            "{:<10} {:<16} {:<8} {:<4} {:<11} {:<16} {:<16} {:<16} {:<16} {:<16} {}",
            d.branch_code,
            d.name,
            d.kind,
            d.code,
            format!("{}…", d.key_prefix),
            when(Some(d.created_at)),
            when(d.last_seen_at),
            when(d.last_push_at),
            when(d.last_pull_at),
            when(d.revoked_at),
            d.id
        );
    }
}

fn restore_epoch(database: &std::path::Path, clock: &dyn Clock) -> Result<(), BoxError> {
    let conn = db::open(database, clock)?;
    let old = db::epoch(&conn)?;
    let new = db::restore_epoch(&conn, clock)?;
    println!("The database's epoch is now {new} (was {old}).");
    println!("Every device will pull everything again from the beginning on its next sync.");
    Ok(())
}

fn versions(
    command: VersionsCommand,
    database: &std::path::Path,
    clock: &dyn Clock,
) -> Result<(), BoxError> {
    let mut conn = db::open(database, clock)?;
    match command {
        VersionsCommand::List { entity, id } => {
            let kind: EntityKind = serde_json::from_value(serde_json::Value::String(
                entity.clone(),
            ))
            .ok()
            .filter(|k: &EntityKind| !k.is_append_only())
            .ok_or_else(|| {
                format!(
                    "'{entity}' is not a kind of record with versions; use settings, tax_rate, category, product, user, customer or expense"
                )
            })?;
            let list = full_sync::list_versions(&conn, kind, &id)?;
            if list.is_empty() {
                println!(
                    "No saved versions of {} {id}: Full Cloud Synchronization has not replaced or removed it.",
                    kind.as_str()
                );
                return Ok(());
            }
            println!(
                "{:<8} {:<19} {:<24} {:<20} SESSION",
                "VERSION", "REPLACED AT (UTC)", "BY", "REASON"
            );
            for v in list {
                println!(
                    "{:<8} {:<19} {:<24} {:<20} {}",
                    v.id,
                    v.replaced_at.to_datetime().format("%Y-%m-%d %H:%M:%S"),
                    v.device.unwrap_or_else(|| match v.replaced_by {
                        Some(d) => d.to_string(),
                        None => "whiz-backoffice (CLI)".to_string(),
                    }),
                    v.reason,
                    v.session.unwrap_or_else(|| "-".to_string())
                );
            }
        }
        VersionsCommand::Restore { version_id } => {
            let restored = full_sync::restore_version(&mut conn, clock, version_id)?;
            match restored.saved_as {
                Some(saved) => println!(
                    "Restored version {version_id} of {} {}; the state it replaced is saved as version {saved}. Every till pulls the change on its next sync.",
                    restored.entity.as_str(),
                    restored.entity_id
                ),
                None => println!(
                    "{} {} already has the values of version {version_id}; nothing changed.",
                    restored.entity.as_str(),
                    restored.entity_id
                ),
            }
        }
    }
    Ok(())
}
