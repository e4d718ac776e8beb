//! Four writers, each with its own connection to one store file, commit with retry on conflict:
//! the revisions are numbered 1..=N with no gap and no duplicate.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;

use egress_store::{ConfigStore, SqliteStore, StoreError};
use support::{example, TempDir};

const WRITERS: u32 = 4;
const COMMITS_EACH: u32 = 25;

#[test]
fn concurrent_writers_never_fork_revisions() {
    let tmp = TempDir::new("concurrent");
    let start = Arc::new(Barrier::new(WRITERS as usize));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let dir = tmp.path().to_path_buf();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait(); // open at once too: migrations must not race
                let store = SqliteStore::open(&dir).expect("open");
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

    let mut acknowledged = Vec::new();
    let mut conflicts = 0;
    for writer in writers {
        let (mine, c) = writer.join().expect("writer thread");
        acknowledged.extend(mine);
        conflicts += c;
    }
    acknowledged.sort_unstable();
    let total = u64::from(WRITERS * COMMITS_EACH);
    let numbers: Vec<u64> = acknowledged.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    eprintln!("{total} commits by {WRITERS} writers, {conflicts} conflicts retried");

    let store = SqliteStore::open(tmp.path()).expect("reopen");
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
