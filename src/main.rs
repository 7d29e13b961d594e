//! `skedcast-auth`: the server and its admin CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use poem::listener::{Acceptor, Listener, TcpListener};
use skedcast_auth::oauth::resource;
use skedcast_auth::settings::Settings;
use skedcast_auth::{App, keys, telemetry};

#[derive(Parser)]
#[command(
    name = "skedcast-auth",
    version,
    about = "SkedCast OAuth 2.1 authorization server"
)]
struct Cli {
    /// Configuration file layered over config/default.toml.
    #[arg(long, global = true, env = "SKEDCAST_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage ES256 signing keys.
    SigningKey {
        #[command(subcommand)]
        action: SigningKeyAction,
    },
    /// Manage resource servers (the callers of /oauth/introspect).
    ResourceServer {
        #[command(subcommand)]
        action: ResourceServerAction,
    },
    /// Print the OpenAPI document (regenerate openapi/openapi.json with it).
    Openapi,
}

#[derive(Subcommand)]
enum ResourceServerAction {
    /// Create a resource server: a confidential client allowed to call
    /// /oauth/introspect. Prints its client_id and client_secret (shown
    /// once), one per line.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Its resource identifier (RFC 8707), the `aud` of tokens for it:
        /// the service's public base URL, e.g. https://api.example.com.
        #[arg(long)]
        resource: String,
    },
}

#[derive(Subcommand)]
enum SigningKeyAction {
    /// Publish a new key now; it signs after keys.activation_delay_secs.
    Rotate {
        /// Sign with the new key at once (resource servers refetch the JWKS
        /// on an unknown kid).
        #[arg(long)]
        now: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e:#}")),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = skedcast_auth::db::connect(&settings.database).await?;
            skedcast_auth::db::migrate(&db).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::SigningKey {
            action: SigningKeyAction::Rotate { now },
        } => {
            // Build the app: migrates and makes sure a first key exists.
            let app = App::build(settings).await?;
            let s = &app.state.settings;
            let delay = if now { 0 } else { s.keys.activation_delay_secs };
            let rotated = keys::store::rotate(
                &app.state.db,
                delay,
                keys::retention(s),
                s.keys.encryption_key.as_ref(),
            )
            .await?;
            println!("{}", rotated.kid);
            eprintln!(
                "published signing key {}; it signs from {} (unix time, in {delay} s)",
                rotated.kid, rotated.activates_at
            );
            Ok(())
        }
        Command::ResourceServer {
            action: ResourceServerAction::Create { name, resource },
        } => {
            // Refuse bad input before touching the database.
            resource::validate_name(&name).map_err(anyhow::Error::msg)?;
            resource::validate_resource(&resource).map_err(anyhow::Error::msg)?;
            let db = skedcast_auth::db::connect(&settings.database).await?;
            skedcast_auth::db::migrate(&db).await?;
            let created = resource::create_resource_server(&db, &name, &resource).await?;
            println!("{}", created.client_id);
            println!("{}", created.client_secret);
            eprintln!(
                "created resource server {:?} for {resource}; the secret is shown only now",
                name
            );
            Ok(())
        }
        Command::Openapi => {
            let mut settings = settings;
            settings.database.url = "sqlite::memory:".into();
            let app = App::build(settings).await?;
            println!("{}", skedcast_auth::openapi_json(app.state.clone()));
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let app = App::build(settings).await?;
    // Cleanup of never-used public clients and stale rate-limit counters.
    let _maintenance = skedcast_auth::maintenance::spawn(app.state.clone());
    let acceptor = TcpListener::bind(bind)
        .into_acceptor()
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    for addr in acceptor.local_addr() {
        tracing::info!(address = %addr, issuer = %app.state.settings.issuer, "skedcast-auth listening");
    }
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            app.endpoint(),
            shutdown_signal(),
            Some(std::time::Duration::from_secs(10)),
        )
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
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
