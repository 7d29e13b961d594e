//! `skedcast-api`: the resource service. Verifies ES256 access tokens
//! offline against the auth server's JWKS and API keys through
//! introspection; serves `GET /v1/agency` and RFC 9728 metadata.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use skedcast_auth::resource_api::{self, settings::ApiSettings};
use skedcast_auth::telemetry;

#[derive(Parser)]
#[command(
    name = "skedcast-api",
    version,
    about = "SkedCast resource service (trusts skedcast-auth)"
)]
struct Cli {
    /// Configuration file layered over config/api.toml.
    #[arg(long, env = "SKEDCAST_API_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match ApiSettings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(resource_api::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e:#}")),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}
