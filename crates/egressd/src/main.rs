//! `egressd`: the command-line entry point.

mod admin;
mod api_client;
mod cli;
mod cmd_api;
mod cmd_config;
mod cmd_fleet;
mod cmd_geo;
mod cmd_store;
mod cmd_trace;
mod fleet;
mod gateway;
mod history;
mod masque;
mod serve;
mod source;
mod subscribe;
mod system;
mod verify;
mod whoami;

use std::process::ExitCode;

/// mimalloc rather than the C library's malloc: an idle tunnel's task, socket registrations
/// and record are a handful of small and cache-aligned blocks, which glibc pads with chunk
/// headers and alignment slack (about 0.25 KiB per tunnel, measured with `bench/run`'s idle
/// scenario); mimalloc's size classes do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let store = cli.store.as_deref();
    let result = match cli.command {
        cli::Command::Config { command } => cmd_config::run(command, store),
        cli::Command::Trace(args) => cmd_trace::run(&args),
        cli::Command::Serve(args) => serve::run(&args, store),
        cli::Command::Whoami(args) => whoami::run(&args),
        cli::Command::Verify(args) => verify::run(&args),
        cli::Command::HashPassword => hash_password(),
        cli::Command::Token { command } => cmd_store::token(command, store),
        cli::Command::Pac(args) => cmd_store::pac(&args, store),
        cli::Command::Policies { command } => cmd_api::policies(command),
        cli::Command::LeasedIps { api, json } => cmd_api::leased_ips(&api, json),
        cli::Command::Explain(args) => {
            let i = &args.intent;
            let body = serde_json::json!({
                "account": i.account, "user": i.user, "from": i.from, "to": i.to,
                "resolved": i.resolved, "proto": format!("{:?}", i.proto).to_lowercase(),
                "location": i.location, "endpoint": i.endpoint, "down": i.down,
                "internal_src_ip": i.internal_src_ip, "src_country": i.src_country,
                "src_continent": i.src_continent, "dst_country": i.dst_country,
                "dst_continent": i.dst_continent,
            });
            cmd_api::explain(body, &args.api, args.json)
        }
        cli::Command::Logs(args) => cmd_api::logs(&args),
        cli::Command::Fleet { command } => cmd_fleet::run(command),
        cli::Command::Geofeed(args) => cmd_geo::geofeed(&args, store),
        cli::Command::Geo { command } => cmd_geo::run(command, store),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("egressd: {message}");
            ExitCode::from(2)
        }
    }
}

fn hash_password() -> Result<ExitCode, String> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    println!("{}", gateway::hash_password(password)?);
    Ok(ExitCode::SUCCESS)
}
