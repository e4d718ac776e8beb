//! A writer process (a replica) commits as fast as it can and prints each acknowledged revision;
//! it is killed with SIGKILL mid-burst. Reopened, the store holds every acknowledged revision
//! intact, on SQLite (a data directory) and on PostgreSQL (a database the writer reached over a
//! socket, its transaction cut off mid-write).
//!
//! The writer is this test binary again, run with `--exact writer_child` and `WRITER_STORE_ENV`.

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use support::backends::{on_both_backends, open_location, Backend};
use support::{example, TempDir};

/// The store the writer opens: a SQLite data directory or a PostgreSQL URL.
const WRITER_STORE_ENV: &str = "EGRESS_STORE_WRITER_STORE";
const ACK: &str = "ACK:";
const KILL_AFTER: usize = 200;
const DEADLINE: Duration = Duration::from_secs(20);
const SIGKILL: i32 = 9;

/// The writer: a no-op unless started by the test below.
#[test]
fn writer_child() {
    let Ok(location) = std::env::var(WRITER_STORE_ENV) else {
        return;
    };
    let store = open_location(&location).expect("writer opens the store");
    let mut stdout = std::io::stdout();
    let started = Instant::now();
    // Bounded so an orphaned writer stops on its own.
    while started.elapsed() < Duration::from_secs(60) {
        let base = store.list(1).expect("list").first().map(|m| m.number);
        let n = base.map_or(1, |b| b + 1);
        let tag = u32::try_from(n).expect("few revisions");
        let revision = store
            .commit(base, &example(tag), "writer", &format!("ack-{n}"))
            .expect("commit");
        assert_eq!(revision.number, n);
        // The marker may share a line with libtest's own output, so the parent searches for it.
        writeln!(stdout, "{ACK}{n}").expect("parent is reading");
        stdout.flush().expect("parent is reading");
    }
}

on_both_backends!(acknowledged_revisions_survive_sigkill);

fn acknowledged_revisions_survive_sigkill(backend: &dyn Backend) {
    let tmp = TempDir::new("sigkill");
    let stderr_path = tmp.path().join("writer.stderr");
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
        .env(WRITER_STORE_ENV, backend.location())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("spawn writer");

    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let parse = |line: &str| -> Option<u64> {
        let at = line.find(ACK)?;
        Some(
            line[at + ACK.len()..]
                .trim()
                .parse()
                .expect("ack line ends with a number"),
        )
    };

    let deadline = Instant::now() + DEADLINE;
    let mut acknowledged = Vec::new();
    while acknowledged.len() < KILL_AFTER {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => acknowledged.extend(parse(&line)),
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the writer acknowledged only {} revisions in {DEADLINE:?}",
                    acknowledged.len()
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait");
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                panic!(
                    "the writer stopped ({status}) after {} acknowledgements:\n{stderr}",
                    acknowledged.len()
                );
            }
        }
    }

    // std's kill sends SIGKILL on Unix: no destructor, no checkpoint, no chance to flush.
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "the writer must die by SIGKILL, not exit"
    );
    // Lines already in the pipe were acknowledged before the kill too.
    reader.join().expect("reader thread");
    acknowledged.extend(lines.try_iter().filter_map(|line| parse(&line)));

    let last = *acknowledged.last().expect("acknowledgements");
    assert_eq!(
        acknowledged,
        (1..=last).collect::<Vec<_>>(),
        "acks in order"
    );

    let store = backend.open();
    for &n in &acknowledged {
        let revision = store
            .get(n)
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged revision {n} is missing"));
        let tag = u32::try_from(n).expect("few revisions");
        assert_eq!(revision.config, example(tag), "revision {n} content");
        assert_eq!(revision.comment, format!("ack-{n}"));
    }
    let latest = store.latest().expect("latest").expect("a latest revision");
    assert!(
        latest.number == last || latest.number == last + 1,
        "latest {} after last acknowledged {last}",
        latest.number
    );
    // The store still takes writes where it left off.
    let next = store
        .commit(Some(latest.number), &example(0), "test", "after kill")
        .expect("commit after reopen");
    assert_eq!(next.number, latest.number + 1);
    eprintln!(
        "{}: {last} acknowledged before SIGKILL, latest on reopen {}",
        backend.name(),
        latest.number
    );
}
