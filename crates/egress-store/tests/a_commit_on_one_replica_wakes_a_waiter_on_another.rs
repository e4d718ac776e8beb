//! A replica waiting for a revision newer than the one it runs wakes when another replica commits
//! one, and learns its number. PostgreSQL wakes it by LISTEN/NOTIFY, SQLite by polling; the time
//! is reported, not asserted.

mod support;

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use support::backends::{on_both_backends, Backend};
use support::example;

/// Long enough that a waiter that was never woken fails the test, not merely a slow one.
const WAIT: Duration = Duration::from_secs(30);
const ROUNDS: u64 = 5;

on_both_backends!(a_commit_on_one_replica_wakes_a_waiter_on_another);

fn a_commit_on_one_replica_wakes_a_waiter_on_another(backend: &dyn Backend) {
    let writer = backend.open();
    let waiter = backend.open();
    writer.commit(None, &example(1), "w", "1").expect("1");
    let mut woken_after = Vec::new();
    for round in 1..=ROUNDS {
        let ready = Barrier::new(2);
        let (found, latency) = thread::scope(|scope| {
            let waiting = scope.spawn(|| {
                ready.wait();
                let found = waiter.wait_for_newer(round, WAIT).expect("wait");
                (found, Instant::now())
            });
            ready.wait();
            // Let the waiter get past its first look at the table, so the wake-up is the one
            // the commit sends and not that first look.
            thread::sleep(Duration::from_millis(300));
            let committed = writer
                .commit(Some(round), &example(round as u32 + 1), "w", "next")
                .expect("commit");
            let acknowledged = Instant::now();
            let (found, woke) = waiting.join().expect("waiter thread");
            assert_eq!(committed.number, round + 1);
            (found, woke.saturating_duration_since(acknowledged))
        });
        assert_eq!(
            found,
            Some(round + 1),
            "round {round}: the waiter must wake with the new number"
        );
        woken_after.push(latency);
    }
    woken_after.sort();
    eprintln!(
        "{}: a waiter on another replica woke {:?} (median) / {:?} (max) after the commit returned",
        backend.name(),
        woken_after[woken_after.len() / 2],
        woken_after[woken_after.len() - 1]
    );
    let latest = waiter.latest().expect("latest").expect("a revision");
    assert_eq!(latest.number, ROUNDS + 1);
    assert_eq!(latest.config, example(ROUNDS as u32 + 1));
}
