//! Four writers, each a store of its own on the same data (four replicas: processes sharing one
//! SQLite file, or one PostgreSQL database), commit with retry on conflict: the revisions are
//! numbered 1..=N with no gap and no duplicate.

mod support;

use std::sync::Barrier;
use std::thread;

use egress_store::StoreError;
use support::backends::{on_both_backends, Backend};
use support::example;

const WRITERS: u32 = 4;
const COMMITS_EACH: u32 = 25;

on_both_backends!(
    concurrent_writers_never_fork_revisions,
    concurrent_imports_all_land_one_after_another,
);

fn concurrent_writers_never_fork_revisions(backend: &dyn Backend) {
    let start = Barrier::new(WRITERS as usize);
    let mut acknowledged = Vec::new();
    let mut conflicts = 0;
    thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let start = &start;
                scope.spawn(move || {
                    start.wait(); // open at once too: migrations must not race
                    let store = backend.open();
                    let mut mine = Vec::new();
                    let mut conflicts = 0u32;
                    for i in 0..COMMITS_EACH {
                        let tag = w * 1000 + i;
                        loop {
                            let base = store.list(1).expect("list").first().map(|m| m.number);
                            match store.commit(
                                base,
                                &example(tag),
                                &format!("writer-{w}"),
                                &tag.to_string(),
                            ) {
                                Ok(revision) => {
                                    assert_eq!(
                                        Some(revision.number),
                                        base.map_or(Some(1), |b| Some(b + 1))
                                    );
                                    mine.push((revision.number, tag));
                                    break;
                                }
                                Err(StoreError::Conflict { .. }) => conflicts += 1,
                                Err(e) => panic!("writer {w}: {e}"),
                            }
                        }
                    }
                    (mine, conflicts)
                })
            })
            .collect();
        for writer in writers {
            let (mine, c) = writer.join().expect("writer thread");
            acknowledged.extend(mine);
            conflicts += c;
        }
    });
    acknowledged.sort_unstable();
    let total = u64::from(WRITERS * COMMITS_EACH);
    let numbers: Vec<u64> = acknowledged.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    eprintln!(
        "{}: {total} commits by {WRITERS} writers, {conflicts} conflicts retried",
        backend.name()
    );

    let store = backend.open();
    let listed: Vec<u64> = store
        .list(1000)
        .expect("list")
        .iter()
        .map(|m| m.number)
        .collect();
    assert_eq!(listed, (1..=total).rev().collect::<Vec<_>>());
    for (number, tag) in &acknowledged {
        let revision = store
            .get(*number)
            .expect("get")
            .expect("acknowledged revision");
        assert_eq!(revision.config, example(*tag), "revision {number}");
        assert_eq!(revision.comment, tag.to_string());
    }
    assert_eq!(store.audit(1000).expect("audit").len() as u64, total);
}

/// Imports follow whatever is latest, so nothing but the backend's own serialisation keeps two
/// replicas from reading the same latest number: every import must land, none may fail.
fn concurrent_imports_all_land_one_after_another(backend: &dyn Backend) {
    let start = Barrier::new(WRITERS as usize);
    let mut landed: Vec<(u64, u32)> = thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let start = &start;
                scope.spawn(move || {
                    let store = backend.open();
                    start.wait();
                    (0..COMMITS_EACH)
                        .map(|i| {
                            let tag = w * 1000 + i;
                            let revision = store
                                .import(&example(tag), &format!("replica-{w}"), &tag.to_string())
                                .unwrap_or_else(|e| panic!("replica {w}, import {i}: {e}"));
                            (revision.number, tag)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|w| w.join().expect("writer thread"))
            .collect()
    });
    landed.sort_unstable();
    let total = u64::from(WRITERS * COMMITS_EACH);
    let numbers: Vec<u64> = landed.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    let store = backend.open();
    for (number, tag) in &landed {
        let revision = store.get(*number).expect("get").expect("imported revision");
        assert_eq!(revision.comment, tag.to_string(), "revision {number}");
    }
    let audited: Vec<Option<u64>> = store
        .audit(1000)
        .expect("audit")
        .iter()
        .map(|e| e.revision)
        .collect();
    // Audit ids follow commit order, so the log lists the revisions newest first.
    assert_eq!(audited, (1..=total).rev().map(Some).collect::<Vec<_>>());
}
