//! `idle`: opens tunnels (each carries one small GET, so the relay has moved bytes and may
//! have allocated) and holds them idle. At each requested count it records how much the
//! proxy's PSS and the kernel's memory grew per tunnel. When all are open it says so on
//! standard error and waits for the release (time, a file, SIGUSR1/SIGINT/SIGTERM), then
//! checks how many tunnels still answer.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

use super::Ctx;
use crate::client::Conn;
use crate::error::LoadError;
use crate::probe::kernel_kib;
use crate::record::{IdleStep, Record, Tally};

/// Opening stops after this many failures: the proxy has reached its capacity.
const MAX_OPEN_ERRORS: u64 = 200;

/// How the idle scenario runs.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// Counts at which memory is measured, ascending; the last is the target.
    pub counts: Vec<u64>,
    /// Tunnels being opened at once.
    pub open_concurrency: usize,
    /// Pause after opening, before measuring.
    pub settle: Duration,
    /// Longest hold after ready.
    pub hold: Duration,
    /// Release as soon as this file exists.
    pub release_file: Option<PathBuf>,
}

/// Runs the scenario.
pub async fn idle(ctx: Ctx, options: IdleOptions) -> Result<Record, LoadError> {
    let mut counts = options.counts.clone();
    counts.sort_unstable();
    let pss0 = ctx.probe.pss_kib();
    let kernel0 = kernel_kib();
    let mut conns: Vec<Conn> = Vec::new();
    let mut tally = Tally::default();
    let mut steps = Vec::new();
    let started = tokio::time::Instant::now();
    for &count in &counts {
        open_until(
            &ctx,
            &mut conns,
            count,
            &mut tally,
            options.open_concurrency,
        )
        .await;
        tokio::time::sleep(options.settle).await;
        let n = conns.len() as u64;
        let grew =
            |now: Option<u64>, then: Option<u64>| now.zip(then).map(|(a, b)| a as f64 - b as f64);
        let pss = grew(ctx.probe.pss_kib(), pss0);
        let kernel = grew(kernel_kib(), kernel0);
        let per = |v: Option<f64>| v.filter(|_| n > 0).map(|v| v / n as f64);
        steps.push(IdleStep {
            tunnels: n,
            pss_kib: pss,
            kernel_kib: kernel,
            pss_kib_per_tunnel: per(pss),
            kernel_kib_per_tunnel: per(kernel),
        });
        if n < count {
            break;
        }
    }
    eprintln!(
        "egress-loadgen idle: {} tunnels open, ready ({} failed)",
        conns.len(),
        tally.error_count()
    );
    wait_for_release(options.hold, options.release_file.as_ref()).await;
    let open = conns.len() as u64;
    let alive = check_alive(&ctx, conns).await;
    let mut record = ctx.base.clone();
    record.concurrency = open;
    // The rate is that of opening (and settling).
    record.fill(tally, started.elapsed(), None);
    record.steps = steps;
    record.alive_after_hold = Some(alive);
    Ok(record)
}

async fn open_until(
    ctx: &Ctx,
    conns: &mut Vec<Conn>,
    target: u64,
    tally: &mut Tally,
    concurrency: usize,
) {
    let mut opening = JoinSet::new();
    let mut launched = conns.len() as u64;
    loop {
        while opening.len() < concurrency
            && launched < target
            && tally.error_count() < MAX_OPEN_ERRORS
        {
            let route = ctx.route.clone();
            let origin = ctx.origin(launched as usize);
            opening.spawn(async move {
                let started = tokio::time::Instant::now();
                let mut conn = route.open(origin).await?;
                conn.exchange(&route.request(origin, "/small", false))
                    .await?;
                Ok::<_, LoadError>((conn, started.elapsed()))
            });
            launched += 1;
        }
        match opening.join_next().await {
            None => return,
            Some(Ok(Ok((conn, took)))) => {
                tally.ok(took);
                conns.push(conn);
            }
            Some(Ok(Err(e))) => tally.err(&e),
            Some(Err(e)) => tally.err(&LoadError::Setup(format!("opener failed: {e}"))),
        }
    }
}

async fn wait_for_release(hold: Duration, file: Option<&PathBuf>) {
    if hold.is_zero() {
        return;
    }
    let signals = [
        SignalKind::user_defined1(),
        SignalKind::interrupt(),
        SignalKind::terminate(),
    ];
    let mut watched = Vec::new();
    for kind in signals {
        match signal(kind) {
            Ok(s) => watched.push(s),
            Err(e) => eprintln!("egress-loadgen idle: cannot watch a signal: {e}"),
        }
    }
    let any_signal = async {
        let mut set = JoinSet::new();
        for mut s in watched {
            set.spawn(async move { s.recv().await });
        }
        set.join_next().await;
    };
    let file_appears = async {
        loop {
            if file.is_some_and(|f| f.exists()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        () = tokio::time::sleep(hold) => {}
        () = any_signal => {}
        () = file_appears => {}
    }
}

/// How many tunnels still carry a request; bounded in time whatever the proxy does.
async fn check_alive(ctx: &Ctx, conns: Vec<Conn>) -> u64 {
    const GROUPS: usize = 64;
    let mut groups: Vec<Vec<Conn>> = (0..GROUPS).map(|_| Vec::new()).collect();
    for (i, c) in conns.into_iter().enumerate() {
        groups[i % GROUPS].push(c);
    }
    let mut set = JoinSet::new();
    for (g, group) in groups.into_iter().enumerate() {
        let route = ctx.route.clone();
        let origin = ctx.origin(g);
        set.spawn(async move {
            let mut alive = 0u64;
            for mut c in group {
                let request = route.request(origin, "/small", true);
                let answered = tokio::time::timeout(Duration::from_secs(2), c.exchange(&request));
                if matches!(answered.await, Ok(Ok(_))) {
                    alive += 1;
                }
            }
            alive
        });
    }
    let mut alive = 0;
    let all = async {
        while let Some(done) = set.join_next().await {
            alive += done.unwrap_or(0);
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), all).await;
    alive
}
