//! egress-loadgen: the load generator and origin of egressd's peer benchmark (`bench/run`).
//! It speaks HTTP CONNECT, HTTP absolute-form with keep-alive, SOCKS5 (no authentication)
//! and direct HTTP/1.1, and datagrams direct or through SOCKS5 UDP ASSOCIATE; each scenario
//! prints one JSON line.

mod cli;
mod client;
mod datagram;
mod echo;
mod error;
mod http;
mod origin;
mod probe;
mod record;
mod report;
mod scenario;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use cli::{Cli, Command, Common};
use client::{OriginAddr, ProxyAddr, Route};
use error::LoadError;
use probe::Probe;
use record::Record;
use scenario::Ctx;

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_open_file_limit();
    let outcome = match cli.command {
        Command::Report(args) => report::run(&args).map(|()| None),
        Command::Origin(args) => runtime(args.threads).and_then(|rt| {
            rt.block_on(async {
                let http = origin::serve(&args.listen, args.bulk_buffer_mib << 20);
                tokio::try_join!(http, echo::serve(&args.udp_listen)).map(|_| None)
            })
        }),
        scenario => run_scenario(scenario).map(Some),
    };
    match outcome {
        Ok(Some(record)) => match serde_json::to_string(&record) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("egress-loadgen: cannot write the record: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("egress-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_scenario(command: Command) -> Result<Record, LoadError> {
    let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
    match command {
        Command::ConnectRate(a) => with_ctx(&a.common, "connect-rate", |ctx| async move {
            scenario::connect_rate(ctx, a.concurrency, secs(a.duration)).await
        }),
        Command::TunnelRps(a) => with_ctx(&a.common, "tunnel-rps", |ctx| async move {
            scenario::keepalive_rps(ctx, a.connections, secs(a.duration)).await
        }),
        Command::ForwardRps(a) => with_ctx(&a.common, "forward-rps", |ctx| async move {
            scenario::keepalive_rps(ctx, a.connections, secs(a.duration)).await
        }),
        Command::Bulk(a) => with_ctx(&a.common, "bulk", |ctx| async move {
            scenario::bulk(ctx, a.bytes).await
        }),
        Command::Idle(a) => with_ctx(&a.common, "idle", |ctx| async move {
            let options = scenario::IdleOptions {
                counts: a.counts.clone(),
                open_concurrency: a.open_concurrency.max(1),
                settle: Duration::from_millis(a.settle_ms),
                hold: Duration::from_secs(a.hold_secs),
                release_file: a.release_file.clone(),
            };
            scenario::idle(ctx, options).await
        }),
        Command::Churn(a) => with_ctx(&a.common, "churn", |ctx| async move {
            scenario::churn(ctx, a.rate, secs(a.duration), a.max_in_flight.max(1)).await
        }),
        Command::Latency(a) => with_ctx(&a.common, "latency", |ctx| async move {
            scenario::latency(
                ctx,
                a.samples,
                a.new_samples,
                Duration::from_secs(a.max_secs),
            )
            .await
        }),
        Command::UdpEcho(a) => {
            if !(8..=65_000).contains(&a.size) {
                return Err(LoadError::Setup(format!(
                    "--size {} is outside 8 to 65,000 bytes",
                    a.size
                )));
            }
            let options = scenario::UdpEchoOptions {
                flows: a.flows.max(1),
                size: a.size,
                length: secs(a.duration),
                loss_timeout: Duration::from_millis(a.loss_ms.max(1)),
                expect_source: a.expect_source,
            };
            with_ctx(&a.common, &a.scenario, |ctx| async move {
                scenario::udp_echo(ctx, options).await
            })
        }
        Command::Origin(_) | Command::Report(_) => Err(LoadError::Setup("not a scenario".into())),
    }
}

fn with_ctx<F, Fut>(common: &Common, scenario: &str, body: F) -> Result<Record, LoadError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = Result<Record, LoadError>>,
{
    if common.targets.is_empty() {
        return Err(LoadError::Setup("at least one --target is needed".into()));
    }
    let ctx = Ctx {
        route: Route {
            mode: common.mode,
            proxy: common.proxy.map(ProxyAddr),
            timeout: Duration::from_millis(common.timeout_ms),
        },
        origins: common.targets.iter().copied().map(OriginAddr).collect(),
        probe: Arc::new(Probe::new(common.proxy_cgroup.clone(), common.proxy_pid)),
        base: Record {
            scenario: scenario.to_string(),
            label: common.label.clone(),
            mode: format!("{:?}", common.mode).to_lowercase(),
            run: common.run,
            ..Record::default()
        },
    };
    runtime(common.threads)?.block_on(body(ctx))
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, LoadError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| LoadError::Setup(format!("cannot start the runtime: {e}")))
}

/// Idle tunnels need one descriptor each: take the whole hard limit.
fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                eprintln!("egress-loadgen: cannot raise the open-file limit to {hard}: {e}");
            }
        }
    }
}
