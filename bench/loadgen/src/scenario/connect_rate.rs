//! `connect-rate`: a new connection, the handshake and one small GET (`Connection: close`),
//! over and over, from N concurrent workers for D seconds.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Ctx, Window, ERROR_BACKOFF};
use crate::error::LoadError;
use crate::record::{Record, Tally};

/// Runs the scenario.
pub async fn connect_rate(
    ctx: Ctx,
    concurrency: usize,
    length: Duration,
) -> Result<Record, LoadError> {
    let window = Window::open(&ctx.probe, length);
    let mut workers = JoinSet::new();
    for w in 0..concurrency {
        let route = ctx.route.clone();
        let origin = ctx.origin(w);
        let request = route.request(origin, "/small", true);
        workers.spawn(async move {
            let mut tally = Tally::default();
            while window.running() {
                let t = Instant::now();
                let outcome = async {
                    let mut conn = route.open(origin).await?;
                    conn.exchange(&request).await
                }
                .await;
                match outcome {
                    Ok(_) => tally.ok(t.elapsed()),
                    Err(e) => {
                        tally.err(&e);
                        tokio::time::sleep(ERROR_BACKOFF).await;
                    }
                }
            }
            tally
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = workers.join_next().await {
        tally.merge(done.map_err(|e| LoadError::Setup(format!("worker failed: {e}")))?);
    }
    let (elapsed, cpu) = window.close(&ctx.probe);
    let mut record = ctx.base.clone();
    record.concurrency = concurrency as u64;
    record.fill(tally, elapsed, cpu);
    Ok(record)
}
