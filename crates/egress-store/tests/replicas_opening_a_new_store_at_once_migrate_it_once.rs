//! Several replicas opening a store that has no schema yet, at the same moment (a fleet of
//! control-plane processes started together), all succeed, and each migration is recorded once.

mod support;

use std::sync::Barrier;
use std::thread;

use support::backends::{on_both_backends, Backend};
use support::example;

const REPLICAS: usize = 4;

on_both_backends!(replicas_opening_a_new_store_at_once_migrate_it_once);

fn replicas_opening_a_new_store_at_once_migrate_it_once(backend: &dyn Backend) {
    let start = Barrier::new(REPLICAS);
    let stores: Vec<_> = thread::scope(|scope| {
        let openers: Vec<_> = (0..REPLICAS)
            .map(|_| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    backend.try_open()
                })
            })
            .collect();
        openers
            .into_iter()
            .map(|opener| opener.join().expect("opener thread"))
            .collect()
    });
    let stores: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| store.unwrap_or_else(|e| panic!("replica {i} failed to open: {e}")))
        .collect();

    let versions = backend.schema_versions();
    assert!(!versions.is_empty(), "no migration recorded");
    assert_eq!(
        versions,
        (1..=versions.len() as u32).collect::<Vec<_>>(),
        "each migration exactly once, in order"
    );
    // The schema they agreed on works for all of them.
    stores[0]
        .commit(None, &example(1), "replica-0", "first")
        .expect("commit");
    for store in &stores {
        assert_eq!(store.list(10).expect("list").len(), 1);
    }
    drop(stores);
    backend.open();
    assert_eq!(
        backend.schema_versions(),
        versions,
        "reopening applies nothing"
    );
}
