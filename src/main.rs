//! `skedcast-auth`: the server and its admin CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use poem::listener::{Acceptor, Listener, TcpListener};
use skedcast_auth::oauth::client::machine;
use skedcast_auth::oauth::resource;
use skedcast_auth::settings::Settings;
use skedcast_auth::{App, accounts, api_keys, audit, keys, telemetry};

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
    /// Manage agencies.
    Agency {
        #[command(subcommand)]
        action: AgencyAction,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage memberships.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Read the audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Manage machine clients (the client_credentials grant).
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Fill an empty database with production-sized tables for load tests
    /// (scripts/seed-scale.sh): 10k agencies, 100k users, 100k clients,
    /// 300k refresh families, 1M refresh tokens, 1M consumed codes, 100k API
    /// keys, times --scale. Never on a real deployment.
    #[command(hide = true)]
    SeedScale {
        /// Multiplies every count (0.01 for a quick run).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Every seeded user's password.
        #[arg(long, default_value = "seed passphrase 0123")]
        password: String,
        /// Also add about a million rows (times --scale) that ended long
        /// ago, for the next housekeeping pass to delete.
        #[arg(long)]
        expired: bool,
        /// Only add those expired rows (to a database seeded before with the
        /// same --scale).
        #[arg(long, conflicts_with = "expired")]
        expired_only: bool,
    },
    /// Run one housekeeping pass now and exit (`serve` runs one at start and
    /// hourly): deletes what has expired, in batches, beside the requests of
    /// running instances.
    Housekeeping,
}

#[derive(Subcommand)]
enum ClientAction {
    /// Create a machine client with the scopes given here. Prints its
    /// client_id and, for the secret methods, client_secret (shown once),
    /// one per line.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// client_credentials (the only grant of a machine client).
        #[arg(long)]
        grant: String,
        /// Space-separated scopes: exactly what its tokens may carry.
        #[arg(long)]
        scopes: String,
        /// client_secret_basic (default), client_secret_post or
        /// private_key_jwt (with --jwks-uri or --jwks-file).
        #[arg(long, value_name = "METHOD")]
        auth_method: Option<String>,
        /// private_key_jwt: where the client publishes its JWK Set (https).
        #[arg(long, value_name = "URL", conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
        /// private_key_jwt: a file holding the client's JWK Set (public keys).
        #[arg(long, value_name = "F")]
        jwks_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ApiKeyAction {
    /// Create an API key for a member; prints the secret once, alone, on stdout.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        agency: String,
        #[arg(long)]
        name: String,
        /// Space-separated scopes, each within the member's role.
        #[arg(long)]
        scopes: String,
        /// 1 to 365.
        #[arg(long)]
        expires_in_days: i64,
    },
    /// Revoke an API key at once.
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Print events as JSON lines (ts, event, actor, agency_id, ip, target,
    /// outcome), oldest first.
    Export {
        /// Only events at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only events of this agency (name or id).
        #[arg(long)]
        agency: Option<String>,
    },
}

#[derive(Subcommand)]
enum AgencyAction {
    /// Create an agency; prints its id.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Whether the agency's members need a second factor before any consent
    /// or API key for it.
    SetPolicy {
        /// Agency id or unique name.
        #[arg(long)]
        agency: String,
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
        require_mfa: bool,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user as a member of an agency; prints the user id.
    Create {
        #[arg(long)]
        email: String,
        /// Agency id or unique name.
        #[arg(long)]
        agency: String,
        /// owner, manager, editor or viewer.
        #[arg(long)]
        role: String,
        /// Read the password (one line, at least 12 characters) from stdin.
        /// Without it the user cannot sign in with a password.
        #[arg(long)]
        password_stdin: bool,
        /// Optional display name (the OpenID Connect `name` claim; the
        /// member can change it on /settings/security).
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a user's second factors (TOTP, recovery codes and passkeys),
    /// e.g. after a lost phone; they sign in with the password alone until
    /// they add one.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum MemberAction {
    /// Set a member's role in an agency (adds the membership if needed).
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long)]
        agency: String,
        #[arg(long)]
        role: String,
    },
    /// Remove a member from an agency.
    Remove {
        #[arg(long)]
        email: String,
        #[arg(long)]
        agency: String,
    },
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
        /// Which key sequence: ES256 (access tokens and id_tokens) or RS256
        /// (id_tokens of clients that registered RS256).
        #[arg(long, default_value = "ES256", value_parser = ["ES256", "RS256"])]
        alg: String,
    },
    /// Revoke a compromised key: out of the JWKS and refused by
    /// introspection on every instance within 2 s; if it was signing, a new
    /// key signs at once.
    Revoke {
        /// A kid is base64url and may start with `-`.
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
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
        Err(e) => match e.downcast_ref::<machine::Refused>() {
            Some(refused) => {
                eprintln!("error: {refused}");
                ExitCode::from(refused.exit_code())
            }
            None => fail(format!("{e:#}")),
        },
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
            action: SigningKeyAction::Rotate { now, alg },
        } => {
            // Build the app: migrates and makes sure a first key exists.
            let app = App::build(settings).await?;
            let s = &app.state.settings;
            let delay = if now { 0 } else { s.keys.activation_delay_secs };
            let rotated = keys::store::rotate(
                &app.state.db,
                &alg,
                delay,
                keys::retention(s),
                s.keys.encryption_key.as_ref(),
            )
            .await?;
            println!("{}", rotated.kid);
            eprintln!(
                "published {alg} signing key {}; it signs from {} (unix time, in {delay} s)",
                rotated.kid, rotated.activates_at
            );
            Ok(())
        }
        Command::SigningKey {
            action: SigningKeyAction::Revoke { kid },
        } => {
            // Build the app: a key made here must be readable with the
            // configured encryption key, as the running instances need it.
            let app = App::build(settings).await?;
            let kek = app.state.settings.keys.encryption_key;
            let revoked = keys::store::revoke(&app.state.db, &kid, kek.as_ref()).await?;
            println!("{}", revoked.signing_kid);
            let made = if revoked.created { " (new)" } else { "" };
            eprintln!(
                "revoked signing key {kid}; {}{made} signs from now on",
                revoked.signing_kid
            );
            Ok(())
        }
        Command::Agency {
            action: AgencyAction::Create { name },
        } => {
            let db = open_db(&settings).await?;
            let agency = accounts::create_agency(&db, &name).await?;
            println!("{}", agency.id);
            Ok(())
        }
        Command::Agency {
            action:
                AgencyAction::SetPolicy {
                    agency,
                    require_mfa,
                },
        } => {
            let db = open_db(&settings).await?;
            let agency = accounts::find_agency(&db, &agency)
                .await?
                .ok_or_else(|| accounts::AccountError::UnknownAgency(agency.trim().into()))?;
            skedcast_auth::mfa::policy::set(&db, &agency.id, require_mfa).await?;
            let says = if require_mfa {
                "requires"
            } else {
                "does not require"
            };
            eprintln!("{} {says} a second factor", agency.name);
            Ok(())
        }
        Command::User {
            action: UserAction::ResetMfa { email },
        } => {
            accounts::normalize_email(&email)?;
            let db = open_db(&settings).await?;
            let user = accounts::find_user_by_email(&db, &email)
                .await?
                .ok_or_else(|| accounts::AccountError::UnknownUser(email.trim().into()))?;
            let at = audit::At::no_ip(skedcast_auth::clock::now());
            let totp = skedcast_auth::mfa::reset(&db, &user.id).await?;
            if totp {
                let event = audit::Event::TotpRemoved {
                    actor: audit::CLI,
                    user_id: &user.id,
                };
                audit::record_for_member(&db, at, &user.id, event).await?;
            }
            let passkeys =
                skedcast_auth::mfa::passkeys::remove_all(&db, at, audit::CLI, &user.id).await?;
            if totp || passkeys > 0 {
                eprintln!(
                    "removed the second factors of {} ({passkeys} passkeys)",
                    user.email
                );
            } else {
                eprintln!("{} had no second factor", user.email);
            }
            Ok(())
        }
        Command::User {
            action:
                UserAction::Create {
                    email,
                    agency,
                    role,
                    password_stdin,
                    name,
                },
        } => {
            // Validate what needs no database first, so a typo costs nothing.
            accounts::normalize_email(&email)?;
            accounts::parse_role(&role)?;
            if let Some(n) = &name {
                accounts::normalize_name(n)?;
            }
            let hash = if password_stdin {
                let password = read_password_line()?;
                accounts::password::check_new(&password).map_err(anyhow::Error::msg)?;
                Some(accounts::password::hash(password).await?)
            } else {
                None
            };
            let db = open_db(&settings).await?;
            let user =
                accounts::create_user_named(&db, &email, &agency, &role, hash, name.as_deref())
                    .await?;
            println!("{}", user.id);
            Ok(())
        }
        Command::Member {
            action:
                MemberAction::SetRole {
                    email,
                    agency,
                    role,
                },
        } => {
            let db = open_db(&settings).await?;
            let (user, agency, role) = accounts::set_role(&db, &email, &agency, &role).await?;
            eprintln!("{} is {} of {}", user.email, role.as_str(), agency.name);
            Ok(())
        }
        Command::Member {
            action: MemberAction::Remove { email, agency },
        } => {
            let db = open_db(&settings).await?;
            accounts::remove_member(&db, &email, &agency).await?;
            eprintln!("removed {email} from {agency}");
            Ok(())
        }
        Command::ApiKey {
            action:
                ApiKeyAction::Create {
                    email,
                    agency,
                    name,
                    scopes,
                    expires_in_days,
                },
        } => {
            let db = open_db(&settings).await?;
            let user = accounts::find_user_by_email(&db, &email)
                .await?
                .ok_or_else(|| accounts::AccountError::UnknownUser(email.trim().into()))?;
            let agency = accounts::find_agency(&db, &agency)
                .await?
                .ok_or_else(|| accounts::AccountError::UnknownAgency(agency.trim().into()))?;
            let list = skedcast_auth::scopes::split(&scopes)
                .map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
            let issued = api_keys::create(
                &db,
                &user.id,
                &agency.id,
                &name,
                &list,
                expires_in_days,
                skedcast_auth::clock::now(),
            )
            .await
            .map_err(|e| match e {
                api_keys::ApiKeyError::NotAMember => {
                    anyhow::anyhow!("{} is not a member of {}", user.email, agency.name)
                }
                e => e.into(),
            })?;
            println!("{}", issued.secret);
            eprintln!("created API key {} ({}…)", issued.key.id, issued.key.prefix);
            Ok(())
        }
        Command::ApiKey {
            action: ApiKeyAction::Revoke { id },
        } => {
            let db = open_db(&settings).await?;
            let key = api_keys::revoke(&db, &id, "cli", skedcast_auth::clock::now()).await?;
            eprintln!("revoked API key {} ({}…)", key.id, key.prefix);
            Ok(())
        }
        Command::Audit {
            action: AuditAction::Export { since, agency },
        } => {
            // Refuse a bad time before touching the database.
            let since = since
                .as_deref()
                .map(audit::parse_since)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let db = open_db(&settings).await?;
            let agency_id = match agency {
                Some(a) => Some(
                    accounts::find_agency(&db, &a)
                        .await?
                        .ok_or_else(|| accounts::AccountError::UnknownAgency(a.trim().into()))?
                        .id,
                ),
                None => None,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = audit::export(&db, since, agency_id.as_deref(), |e| {
                use std::io::Write;
                serde_json::to_writer(&mut out, &e)?;
                out.write_all(b"\n")
            })
            .await?;
            std::io::Write::flush(&mut out)?;
            eprintln!("{n} events");
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
        Command::Client {
            action:
                ClientAction::Create {
                    name,
                    grant,
                    scopes,
                    auth_method,
                    jwks_uri,
                    jwks_file,
                },
        } => {
            // Refuse bad input before touching the database.
            let jwks = match &jwks_file {
                None => None,
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    machine::Refused::Invalid(format!(
                        "--jwks-file {}: cannot be read ({e})",
                        path.display()
                    ))
                })?),
            };
            let meta = machine::metadata(&machine::Request {
                name: &name,
                grant: &grant,
                scopes: &scopes,
                auth_method: auth_method.as_deref(),
                jwks_uri: jwks_uri.as_deref(),
                jwks: jwks.as_deref(),
                allow_loopback: settings.cimd.allow_loopback,
            })?;
            let db = open_db(&settings).await?;
            let created = machine::create(&db, &meta, skedcast_auth::clock::now()).await?;
            println!("{}", created.client_id);
            let scopes = meta.scope.as_deref().unwrap_or_default();
            match &created.client_secret {
                Some(secret) => {
                    println!("{secret}");
                    eprintln!(
                        "created machine client {name:?} with scopes {scopes:?}; the secret is \
                         shown only now"
                    );
                }
                None => eprintln!(
                    "created machine client {name:?} with scopes {scopes:?}; it authenticates \
                     with private_key_jwt"
                ),
            }
            Ok(())
        }
        Command::SeedScale {
            scale,
            password,
            expired,
            expired_only,
        } => {
            use skedcast_auth::seed;
            if !(scale > 0.0 && scale <= 100.0) {
                anyhow::bail!("--scale must be above 0 and at most 100");
            }
            let db = open_db(&settings).await?;
            let sizes = seed::Sizes::scaled(scale);
            if !expired_only {
                let hash = accounts::password::hash(password).await?;
                eprintln!("seeding {sizes:?}");
                seed::run(&db, &sizes, &hash).await?;
            }
            if expired || expired_only {
                let e = seed::Expired::scaled(scale);
                eprintln!("seeding {} expired rows: {e:?}", e.total());
                let retention = settings.audit.retention_days;
                seed::run_expired(&db, &sizes, &e, retention).await?;
            }
            Ok(())
        }
        Command::Housekeeping => {
            let state = App::build(settings).await?.state;
            let started = std::time::Instant::now();
            let now = skedcast_auth::clock::now();
            let deleted = skedcast_auth::maintenance::run_once(&state, now).await;
            eprintln!(
                "housekeeping deleted {deleted} rows in {:.1} s",
                started.elapsed().as_secs_f64()
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

async fn open_db(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = skedcast_auth::db::connect(&settings.database).await?;
    skedcast_auth::db::migrate(&db).await?;
    Ok(db)
}

/// One line from stdin, without its line ending.
fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password on stdin");
    }
    Ok(password)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let app = App::build(settings).await?;
    // Cleanup of never-used public clients and stale rate-limit counters.
    let _maintenance = skedcast_auth::maintenance::spawn(app.state.clone());
    // Before the address is announced: a SIGTERM from then on drains.
    let shutdown = skedcast_auth::http::shutdown::signal();
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
            shutdown,
            Some(std::time::Duration::from_secs(10)),
        )
        .await?;
    Ok(())
}
