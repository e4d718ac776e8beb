//! `latency`: one client at a time, so queueing does not hide the proxy's own delay. First
//! small GETs in sequence inside one established tunnel, then new tunnels in sequence
//! (connect, handshake, one GET). Each sample set is bounded by count and by time.

use std::time::Duration;

use tokio::time::Instant;

use super::Ctx;
use crate::error::LoadError;
use crate::record::{Record, Tally};

/// Requests sent before the samples inside the tunnel are kept.
const WARMUP: usize = 200;

/// Runs the scenario.
pub async fn latency(
    ctx: Ctx,
    samples: usize,
    new_samples: usize,
    max: Duration,
) -> Result<Record, LoadError> {
    let origin = ctx.origin(0);
    let keep_alive = ctx.route.request(origin, "/small", false);
    let mut conn = ctx.route.open(origin).await?;
    for _ in 0..WARMUP {
        conn.exchange(&keep_alive).await?;
    }
    let started = Instant::now();
    let stop = started + max;
    let mut inside = Tally::default();
    for _ in 0..samples {
        if Instant::now() >= stop {
            break;
        }
        let t = Instant::now();
        match conn.exchange(&keep_alive).await {
            Ok(_) => inside.ok(t.elapsed()),
            Err(e) => {
                inside.err(&e);
                conn = ctx.route.open(origin).await?;
            }
        }
    }
    drop(conn);
    let close = ctx.route.request(origin, "/small", true);
    let stop = Instant::now() + max;
    let mut fresh = Tally::default();
    for _ in 0..new_samples {
        if Instant::now() >= stop {
            break;
        }
        let t = Instant::now();
        let outcome = async {
            let mut c = ctx.route.open(origin).await?;
            c.exchange(&close).await
        }
        .await;
        match outcome {
            Ok(_) => fresh.ok(t.elapsed()),
            Err(e) => fresh.err(&e),
        }
    }
    let mut record = ctx.base.clone();
    record.concurrency = 1;
    if let Some((p50, p99, _)) = fresh.percentiles() {
        (record.new_p50_us, record.new_p99_us) = (Some(p50), Some(p99));
    }
    let fresh_ops = fresh.ops;
    inside.merge(Tally {
        latencies_us: Vec::new(),
        ops: 0,
        ..fresh
    });
    record.fill(inside, started.elapsed(), None);
    record
        .extra
        .insert("new_ops".into(), serde_json::Value::from(fresh_ops));
    Ok(record)
}
