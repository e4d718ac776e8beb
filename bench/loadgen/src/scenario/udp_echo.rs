//! `udp-echo`: N clients, each with its own socket (and, through a proxy, its own SOCKS5 UDP
//! association), send a datagram to the echo origin and wait for it to come back, over and
//! over, for D seconds: round trips per second, their p50/p99, and the proxy's CPU per round
//! trip. Before the window each client asks the origin which source it saw, so a run through a
//! proxy that does not relay (or relays from the wrong address) fails instead of measuring.

use std::net::IpAddr;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Ctx, Window, ERROR_BACKOFF};
use crate::datagram::DatagramFlow;
use crate::error::LoadError;
use crate::record::{Record, Tally};

/// Round trips each client makes before the window opens.
const WARMUP: usize = 50;

/// What the scenario is asked to do.
#[derive(Debug, Clone)]
pub struct UdpEchoOptions {
    /// Concurrent clients.
    pub flows: usize,
    /// Payload bytes of each datagram.
    pub size: usize,
    /// Length of the window.
    pub length: Duration,
    /// A datagram not echoed within this is lost.
    pub loss_timeout: Duration,
    /// The source address the origin must see (the proxy's egress address).
    pub expect_source: Option<IpAddr>,
}

/// Runs the scenario.
pub async fn udp_echo(ctx: Ctx, options: UdpEchoOptions) -> Result<Record, LoadError> {
    let mut opening = JoinSet::new();
    for f in 0..options.flows {
        let route = ctx.route.clone();
        let origin = ctx.origin(f);
        let options = options.clone();
        opening.spawn(async move {
            let mut flow =
                DatagramFlow::open(&route, origin, options.size, options.loss_timeout).await?;
            let seen = flow.whoami().await?;
            if let Some(expected) = options.expect_source {
                if seen.ip().to_canonical() != expected {
                    return Err(LoadError::WrongSource { expected, seen });
                }
            }
            // A datagram lost while warming up is not yet measured: count it, go on.
            let mut lost = 0u64;
            for _ in 0..WARMUP {
                match flow.exchange().await {
                    Ok(()) => {}
                    Err(LoadError::Timeout { .. }) => lost += 1,
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, LoadError>((flow, seen, lost))
        });
    }
    let mut flows = Vec::with_capacity(options.flows);
    let mut sources = std::collections::BTreeSet::new();
    let mut warmup_lost = 0;
    while let Some(done) = opening.join_next().await {
        let (flow, seen, lost) =
            done.map_err(|e| LoadError::Setup(format!("opener failed: {e}")))??;
        sources.insert(seen.ip().to_canonical());
        warmup_lost += lost;
        flows.push(flow);
    }
    let window = Window::open(&ctx.probe, options.length);
    let mut workers = JoinSet::new();
    for mut flow in flows {
        workers.spawn(async move {
            let mut tally = Tally::default();
            while window.running() {
                let t = Instant::now();
                match flow.exchange().await {
                    Ok(()) => tally.ok(t.elapsed()),
                    Err(e) => {
                        tally.err(&e);
                        if !matches!(e, LoadError::Timeout { .. }) {
                            tokio::time::sleep(ERROR_BACKOFF).await;
                        }
                    }
                }
            }
            (tally, flow.late_replies)
        });
    }
    let mut tally = Tally::default();
    let mut late = 0;
    while let Some(done) = workers.join_next().await {
        let (t, l) = done.map_err(|e| LoadError::Setup(format!("worker failed: {e}")))?;
        tally.merge(t);
        late += l;
    }
    let (elapsed, cpu) = window.close(&ctx.probe);
    let mut record = ctx.base.clone();
    record.concurrency = options.flows as u64;
    record.fill(tally, elapsed, cpu);
    let sources: Vec<String> = sources.iter().map(IpAddr::to_string).collect();
    record
        .extra
        .insert("origin_saw".into(), sources.join(" ").into());
    record
        .extra
        .insert("datagram_bytes".into(), options.size.into());
    record.extra.insert("late_replies".into(), late.into());
    record
        .extra
        .insert("warmup_lost".into(), warmup_lost.into());
    Ok(record)
}
