//! `churn`: new tunnels at a fixed rate (open loop: a slow proxy does not slow the schedule),
//! each with one small GET and `Connection: close`, spread over the origins in turn, for D
//! seconds. Every refusal and failure is counted by kind.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::{Ctx, Window};
use crate::error::LoadError;
use crate::record::{Record, Tally};

/// Time the last tunnels get to finish after the window.
const DRAIN: Duration = Duration::from_secs(10);

/// Runs the scenario at `rate` new tunnels per second, at most `max_in_flight` at once.
pub async fn churn(
    ctx: Ctx,
    rate: f64,
    length: Duration,
    max_in_flight: usize,
) -> Result<Record, LoadError> {
    let requests: Vec<_> = ctx
        .origins
        .iter()
        .map(|o| ctx.route.request(*o, "/small", true))
        .collect();
    let window = Window::open(&ctx.probe, length);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut running = JoinSet::new();
    let (mut launched, mut not_started) = (0u64, 0u64);
    let mut tally = Tally::default();
    while window.running() {
        tick.tick().await;
        let due = (window.elapsed().as_secs_f64() * rate) as u64;
        while launched < due {
            if running.len() >= max_in_flight {
                not_started += due - launched;
                launched = due;
                break;
            }
            let i = launched as usize % requests.len();
            let (route, origin, request) = (ctx.route.clone(), ctx.origin(i), requests[i].clone());
            running.spawn(async move {
                let t = Instant::now();
                let mut conn = route.open(origin).await?;
                conn.exchange(&request).await?;
                Ok(t.elapsed())
            });
            launched += 1;
        }
        while let Some(done) = running.try_join_next() {
            collect(done, &mut tally);
        }
    }
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(done) = running.join_next().await {
            collect(done, &mut tally);
        }
    })
    .await;
    if drained.is_err() {
        *tally
            .errors
            .entry("unfinished_after_drain".into())
            .or_insert(0) += running.len() as u64;
    }
    let (elapsed, cpu) = window.close(&ctx.probe);
    let mut record = ctx.base.clone();
    record.concurrency = max_in_flight as u64;
    record.fill(tally, elapsed, cpu);
    record.attempted = Some(launched - not_started);
    record
        .extra
        .insert("target_rate".into(), serde_json::Value::from(rate));
    record.extra.insert(
        "not_started_in_flight_cap".into(),
        serde_json::Value::from(not_started),
    );
    Ok(record)
}

fn collect(done: Result<Result<Duration, LoadError>, tokio::task::JoinError>, tally: &mut Tally) {
    match done {
        Ok(Ok(took)) => tally.ok(took),
        Ok(Err(e)) => tally.err(&e),
        Err(e) => tally.err(&LoadError::Setup(format!("task failed: {e}"))),
    }
}
