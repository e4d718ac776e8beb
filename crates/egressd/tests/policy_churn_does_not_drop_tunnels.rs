//! 1,000 CONNECT tunnels carry request/response rounds while the policy their traffic matched is
//! rewritten over the admin API as fast as 100 times a second for 10 s: no tunnel fails or is
//! closed, each keeps leaving from the address it was given, and a new connection afterwards
//! follows the last revision. The achieved write rate and the number of rounds are printed.

mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::admin::{segment, Admin};
use common::*;
use egress_harness::Netns;
use serde_json::{json, Value};

/// Tunnels held open, half to the dedicated port, half to the default one.
const TUNNELS: usize = 1000;
/// Client threads; each owns `TUNNELS / WORKERS` tunnels and sweeps over them.
const WORKERS: usize = 4;
/// Each tunnel does one round this often (a sweep that takes longer starts the next at once).
const ROUND_EVERY: Duration = Duration::from_millis(500);
/// How long the policy is rewritten.
const CHURN: Duration = Duration::from_secs(10);
/// Threads writing.
const WRITERS: usize = 4;
/// Writes per second asked for (all writers together).
const TARGET_RATE: f64 = 100.0;
/// Acknowledged writes the churn must include for the test to mean anything. A count, not a
/// rate: the machines are shared and noisy (a debug build takes 25-40 ms per write end to end,
/// so `WRITERS` in parallel reach about the target on a quiet machine; the rate is printed).
const MIN_WRITES: usize = 300;
/// The policy of the common configuration the writes rewrite.
const POLICY: &str = "origin via dedicated";

/// Write `i`: the policy matches the dedicated port and a port unique to the write, and
/// alternates between the dedicated IP and the default range.
fn version(i: u64) -> Value {
    let method = if i.is_multiple_of(2) {
        json!("default")
    } else {
        json!({"dedicated": {"ipv4": DEDICATED_V4.to_string(), "ipv4_fallback": "0.0.0.0"}})
    };
    json!({
        "precedence": 10, "name": POLICY,
        "traffic": format!("net.dst.port in {{{DEDICATED_PORT} {}}}", 20_000 + i),
        "method": method
    })
}

/// One open tunnel and the address the origin saw on its first round.
struct Tunnel {
    stream: TcpStream,
    target: SocketAddr,
    seen: IpAddr,
    alive: bool,
}

/// What one client thread did.
#[derive(Debug, Default)]
struct Outcome {
    rounds: u64,
    alive: usize,
    failures: Vec<String>,
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: whoami\r\n\r\n";

/// Reads one whoami answer (`Content-Length` body, plain-text address) before `deadline`.
fn read_answer(stream: &mut TcpStream, deadline: Instant) -> Result<IpAddr, String> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !head.starts_with("HTTP/1.1 200 ") {
                return Err(format!("answer {head:?}"));
            }
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
            if buf.len() >= end + 4 + length {
                if buf.len() > end + 4 + length {
                    return Err("more than one answer".into());
                }
                let body = String::from_utf8_lossy(&buf[end + 4..]).into_owned();
                return body
                    .trim()
                    .parse()
                    .map_err(|_| format!("body {body:?} is not an address"));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .map_err(|e| e.to_string())?;
        match egress_harness::read_resuming(stream, &mut chunk) {
            Ok(0) => return Err("closed".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Opens `count` tunnels from the client namespace (this thread is in it) and does a first
/// round on each.
fn open(count: usize, first: usize) -> Result<Vec<Tunnel>, String> {
    (first..first + count)
        .map(|n| {
            let port = if n.is_multiple_of(2) {
                DEDICATED_PORT
            } else {
                DEFAULT_PORT
            };
            let target = origin_v4(port);
            let mut stream =
                TcpStream::connect_timeout(&SocketAddr::new(GATEWAY.into(), HTTP_PORT), IO_TIMEOUT)
                    .map_err(|e| format!("tunnel {n}: connect: {e}"))?;
            stream
                .set_write_timeout(Some(IO_TIMEOUT))
                .map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(IO_TIMEOUT))
                .map_err(|e| e.to_string())?;
            let answer = http_connect(&mut stream, &authority(target), None);
            if answer.status != 200 {
                return Err(format!("tunnel {n}: CONNECT answered {answer:?}"));
            }
            stream.write_all(REQUEST).map_err(|e| e.to_string())?;
            let seen = read_answer(&mut stream, Instant::now() + IO_TIMEOUT)
                .map_err(|e| format!("tunnel {n}: first round: {e}"))?;
            Ok(Tunnel {
                stream,
                target,
                seen,
                alive: true,
            })
        })
        .collect()
}

/// One round on every live tunnel: all requests first, then every answer. Returns the rounds
/// that succeeded; a failure marks the tunnel dead.
fn sweep(tunnels: &mut [Tunnel], failures: &mut Vec<String>, when: &str) -> u64 {
    let deadline = Instant::now() + IO_TIMEOUT;
    for (n, t) in tunnels.iter_mut().enumerate().filter(|(_, t)| t.alive) {
        if let Err(e) = t.stream.write_all(REQUEST) {
            failures.push(format!("{when}: tunnel {n} to {}: send: {e}", t.target));
            t.alive = false;
        }
    }
    let mut rounds = 0;
    for (n, t) in tunnels.iter_mut().enumerate().filter(|(_, t)| t.alive) {
        match read_answer(&mut t.stream, deadline) {
            Ok(seen) if seen == t.seen => rounds += 1,
            Ok(seen) => {
                failures.push(format!(
                    "{when}: tunnel {n} to {} moved from {} to {seen}",
                    t.target, t.seen
                ));
                t.alive = false;
            }
            Err(e) => {
                failures.push(format!("{when}: tunnel {n} to {}: {e}", t.target));
                t.alive = false;
            }
        }
    }
    rounds
}

/// A client thread: opens its tunnels, reports them open, sweeps until `stop`, then does one
/// last sweep in which every tunnel must still answer.
fn client(
    ns: Netns,
    first: usize,
    count: usize,
    opened: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Outcome {
    ns.run_in(move || {
        let mut outcome = Outcome::default();
        let mut tunnels = match open(count, first) {
            Ok(tunnels) => tunnels,
            Err(e) => {
                outcome.failures.push(e);
                return outcome;
            }
        };
        opened.fetch_add(count as u64, Ordering::SeqCst);
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            outcome.rounds += sweep(&mut tunnels, &mut outcome.failures, "during the churn");
            std::thread::sleep(ROUND_EVERY.saturating_sub(started.elapsed()));
        }
        outcome.rounds += sweep(&mut tunnels, &mut outcome.failures, "after the churn");
        outcome.alive = tunnels.iter().filter(|t| t.alive).count();
        outcome
    })
    .expect("enter the client namespace")
}

/// Acknowledged and refused writes.
#[derive(Debug, Default)]
struct Writes {
    /// (write index, revision its ETag names).
    acknowledged: Vec<(u64, u64)>,
    refused: Vec<String>,
}

/// Rewrites the policy on a schedule of `TARGET_RATE` writes a second for `CHURN`, from
/// `WRITERS` threads so that one slow answer does not hold the schedule up.
fn churn(admin: &Admin) -> (Writes, Duration) {
    let path = format!("/v1/accounts/lab/policies/{}", segment(POLICY));
    let interval = Duration::from_secs_f64(1.0 / TARGET_RATE);
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let writes = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut writes = Writes::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let due = started + interval * u32::try_from(i).expect("few writes");
                        if due >= started + CHURN {
                            return writes;
                        }
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        match admin.try_call("PUT", &path, Some(&version(i)), &[]) {
                            Ok(reply) if reply.status == 200 => match reply.etag() {
                                Some(revision) => writes.acknowledged.push((i, revision)),
                                None => writes.refused.push(format!("write {i}: no ETag")),
                            },
                            Ok(reply) => writes
                                .refused
                                .push(format!("write {i}: {} {}", reply.status, reply.text)),
                            Err(e) => writes.refused.push(format!("write {i}: {e}")),
                        }
                    }
                })
            })
            .collect();
        let mut all = Writes::default();
        for writer in writers {
            let writes = writer.join().expect("writer thread");
            all.acknowledged.extend(writes.acknowledged);
            all.refused.extend(writes.refused);
        }
        all
    });
    (writes, started.elapsed())
}

#[test]
fn policy_churn_does_not_drop_tunnels() {
    let test_started = Instant::now();
    // The test holds a socket per tunnel.
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("open-file limit");
    if soft < 4096 {
        nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_NOFILE,
            hard.min(8192),
            hard,
        )
        .expect("raise the open-file limit");
    }
    let mut scenario = Scenario::start_store(
        "policy_churn_does_not_drop_tunnels",
        &config_toml(&Setup::default()),
        &EGRESS_PREFIXES,
        &[DEDICATED_PORT, DEFAULT_PORT],
        4,
    );
    let admin = scenario.admin(&scenario.token("churn", None, true));
    admin.wait_ready();

    let opened = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_worker = TUNNELS / WORKERS;
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (ns, opened, stop) = (
                scenario.net.client.clone(),
                Arc::clone(&opened),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || client(ns, w * per_worker, per_worker, opened, stop))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    while opened.load(Ordering::SeqCst) < TUNNELS as u64 {
        if Instant::now() > deadline || workers.iter().any(|w| w.is_finished()) {
            stop.store(true, Ordering::SeqCst);
            let outcomes: Vec<Outcome> = workers
                .into_iter()
                .map(|w| w.join().expect("client thread"))
                .collect();
            panic!(
                "only {} of {TUNNELS} tunnels opened: {outcomes:?}",
                opened.load(Ordering::SeqCst)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let opened_at = test_started.elapsed();

    let (writes, took) = churn(&admin);
    // The node runs the last revision as soon as it is acknowledged.
    let status = admin.get("/v1/status").expect(200);

    // The gateway still holds every tunnel, and has logged none as closed.
    let live = admin.get("/v1/connections?limit=10000").expect(200);
    let live_tunnels = live
        .json
        .as_array()
        .expect("a list")
        .iter()
        .filter(|c| c["onramp"] == "http_connect")
        .count();
    let closed_early = scenario.records().len();
    stop.store(true, Ordering::SeqCst);
    let outcomes: Vec<Outcome> = workers
        .into_iter()
        .map(|w| w.join().expect("client thread"))
        .collect();
    let rounds: u64 = outcomes.iter().map(|o| o.rounds).sum();
    let alive: usize = outcomes.iter().map(|o| o.alive).sum();
    let failures: Vec<&String> = outcomes.iter().flat_map(|o| &o.failures).collect();
    let acknowledged = writes.acknowledged.len();
    let refused = writes.refused;
    let rate = acknowledged as f64 / took.as_secs_f64();
    eprintln!(
        "{TUNNELS} tunnels open after {opened_at:.1?}; {acknowledged} policy writes acknowledged \
         in {took:.1?} ({rate:.1} per second, {TARGET_RATE} asked for), {} refused; {rounds} \
         round trips ({:.0} per second); {} failures; {alive} tunnels alive at the end",
        refused.len(),
        rounds as f64 / took.as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "tunnel failures: {failures:#?}");
    assert_eq!(alive, TUNNELS);
    assert!(refused.is_empty(), "writes refused: {refused:#?}");
    assert_eq!(live_tunnels, TUNNELS, "live tunnels the gateway lists");
    assert_eq!(closed_early, 0, "connections closed during the churn");
    assert!(
        acknowledged >= MIN_WRITES,
        "{acknowledged} writes acknowledged, fewer than {MIN_WRITES}"
    );
    let (last, latest) = writes
        .acknowledged
        .iter()
        .copied()
        .max_by_key(|(_, revision)| *revision)
        .expect("at least one write");
    assert_eq!(status.json["latest_revision"], latest, "{}", status.text);
    assert_eq!(status.json["revision"], latest, "{}", status.text);

    // A new connection follows the last revision.
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin_v4(DEDICATED_PORT), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    if last.is_multiple_of(2) {
        assert!(
            in_prefix(answer.seen_ip(), DEFAULT_V4_NET),
            "write {last} sends by default; the origin saw {}",
            answer.seen_ip()
        );
    } else {
        assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4), "write {last}");
    }
    scenario.assert_gateway_running();
    let total = test_started.elapsed();
    eprintln!("the test took {total:.1?}");
    assert!(total < Duration::from_secs(40), "the test took {total:?}");
}
