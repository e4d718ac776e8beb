//! `tunnel-rps` and `forward-rps`: small GETs with keep-alive on K connections opened
//! beforehand (tunnels, absolute-form proxy connections, or direct), for D seconds. A
//! connection the far side closes is opened again, and the reopening is counted; a reused
//! connection closed before any byte of the next response is retried (as HTTP clients do), and
//! counted apart, not as an error.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Ctx, Window, ERROR_BACKOFF};
use crate::client::Conn;
use crate::error::LoadError;
use crate::record::{Record, Tally};

/// Runs the scenario with `connections` keep-alive connections.
pub async fn keepalive_rps(
    ctx: Ctx,
    connections: usize,
    length: Duration,
) -> Result<Record, LoadError> {
    // Open every connection first, so the window measures requests only.
    let mut opening = JoinSet::new();
    for c in 0..connections {
        let route = ctx.route.clone();
        let origin = ctx.origin(c);
        opening.spawn(async move { (c, route.open(origin).await) });
    }
    let mut conns: Vec<(usize, Conn)> = Vec::with_capacity(connections);
    let mut setup = Tally::default();
    while let Some(done) = opening.join_next().await {
        match done.map_err(|e| LoadError::Setup(format!("opener failed: {e}")))? {
            (c, Ok(conn)) => conns.push((c, conn)),
            (_, Err(e)) => setup.err(&e),
        }
    }
    if conns.is_empty() {
        return Err(LoadError::Setup(format!(
            "no connection could be opened: {}",
            setup.first_error.unwrap_or_default()
        )));
    }
    let window = Window::open(&ctx.probe, length);
    let mut workers = JoinSet::new();
    for (c, conn) in conns {
        let route = ctx.route.clone();
        let origin = ctx.origin(c);
        let request = route.request(origin, "/small", false);
        workers.spawn(async move {
            let mut tally = Tally::default();
            let (mut reopened, mut closed_reused) = (0u64, 0u64);
            let mut served = 0u64;
            let mut conn = Some(conn);
            while window.running() {
                let t = Instant::now();
                let current = match conn.as_mut() {
                    Some(c) => c,
                    None => match route.open(origin).await {
                        Ok(c) => {
                            reopened += 1;
                            served = 0;
                            conn.insert(c)
                        }
                        Err(e) => {
                            tally.err(&e);
                            tokio::time::sleep(ERROR_BACKOFF).await;
                            continue;
                        }
                    },
                };
                match current.exchange(&request).await {
                    Ok(response) => {
                        tally.ok(t.elapsed());
                        served += 1;
                        if response.close {
                            conn = None;
                        }
                    }
                    Err(LoadError::Closed {
                        stage: "response_head",
                    }) if served > 0 => {
                        closed_reused += 1;
                        conn = None;
                    }
                    Err(e) => {
                        tally.err(&e);
                        conn = None;
                        tokio::time::sleep(ERROR_BACKOFF).await;
                    }
                }
            }
            (tally, reopened, closed_reused)
        });
    }
    let mut tally = setup;
    let (mut reopened, mut closed_reused) = (0, 0);
    while let Some(done) = workers.join_next().await {
        let (t, r, c) = done.map_err(|e| LoadError::Setup(format!("worker failed: {e}")))?;
        tally.merge(t);
        reopened += r;
        closed_reused += c;
    }
    let (elapsed, cpu) = window.close(&ctx.probe);
    let mut record = ctx.base.clone();
    record.concurrency = connections as u64;
    record.fill(tally, elapsed, cpu);
    record
        .extra
        .insert("reopened".into(), serde_json::Value::from(reopened));
    record.extra.insert(
        "closed_reused".into(),
        serde_json::Value::from(closed_reused),
    );
    Ok(record)
}
