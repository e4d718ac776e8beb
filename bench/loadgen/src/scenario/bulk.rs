//! `bulk`: one large body downloaded through one tunnel (or connection); Gbit/s, and the
//! proxy's CPU seconds per GiB.

use super::{Ctx, Window};
use crate::error::LoadError;
use crate::record::{Record, Tally};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Runs the scenario: downloads `bytes` bytes once.
pub async fn bulk(ctx: Ctx, bytes: u64) -> Result<Record, LoadError> {
    let origin = ctx.origin(0);
    let mut conn = ctx.route.open(origin).await?;
    let request = ctx
        .route
        .request(origin, &format!("/bulk?bytes={bytes}"), true);
    // The window only bounds nothing here: the transfer is the measurement.
    let window = Window::open(&ctx.probe, std::time::Duration::ZERO);
    let started = tokio::time::Instant::now();
    let mut tally = Tally::default();
    let moved = match conn.exchange(&request).await {
        Ok(response) => {
            tally.ok(started.elapsed());
            response.body_bytes
        }
        Err(e) => {
            tally.err(&e);
            0
        }
    };
    let (elapsed, cpu) = window.close(&ctx.probe);
    let mut record = ctx.base.clone();
    record.concurrency = 1;
    record.fill(tally, elapsed, cpu);
    record.bytes = Some(moved);
    if moved > 0 {
        record.gbit_s = Some(moved as f64 * 8.0 / elapsed.as_secs_f64() / 1e9);
        record.proxy_cpu_s_per_gib = cpu.map(|s| s / (moved as f64 / GIB));
    }
    Ok(record)
}
