//! A node in store mode is killed with SIGKILL in the middle of a burst of policy writes and
//! started again on the same data directory: every revision the API acknowledged (2xx with an
//! `ETag`) is in the store, readable over the API and with `egressd config export`, and the node
//! runs the latest one, which is what a new connection through the proxy follows.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::admin::{segment, Admin};
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

/// The policy of the common configuration the burst rewrites.
const POLICY: &str = "origin via dedicated";
/// Acknowledged writes to wait for before the kill (the burst goes on until the node dies).
const ACKNOWLEDGED_BEFORE_KILL: usize = 40;

/// Write `i` of the burst: the policy matches the origin's port and a port unique to the write
/// (so each revision is recognisable), and alternates between the dedicated IP and the default.
fn version(i: u64) -> Value {
    let method = if i.is_multiple_of(2) {
        json!({"dedicated": {"ipv4": DEDICATED_V4.to_string(), "ipv4_fallback": "0.0.0.0"}})
    } else {
        json!("default")
    };
    json!({
        "precedence": 10, "name": POLICY,
        "traffic": format!("net.dst.port in {{{DEDICATED_PORT} {}}}", marker(i)),
        "method": method
    })
}

/// The port that marks write `i`.
fn marker(i: u64) -> u64 {
    20_000 + i
}

/// One acknowledged write: its index in the burst and the revision its ETag names.
#[derive(Debug, Clone, Copy)]
struct Ack {
    write: u64,
    revision: u64,
}

/// Writes until a request fails (the node died); returns every acknowledged write.
fn burst(admin: Admin, stop: Arc<AtomicBool>, acks: Arc<Mutex<Vec<Ack>>>) -> Vec<String> {
    let path = format!("/v1/accounts/lab/policies/{}", segment(POLICY));
    let mut refusals = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match admin.try_call("PUT", &path, Some(&version(i)), &[]) {
            Ok(reply) if (200..300).contains(&reply.status) => {
                let revision = reply
                    .etag()
                    .unwrap_or_else(|| panic!("2xx without an ETag: {reply:?}"));
                acks.lock().expect("acks").push(Ack { write: i, revision });
            }
            // A refusal is not an acknowledgement, but none is expected before the kill.
            Ok(reply) => refusals.push(format!("write {i}: {} {}", reply.status, reply.text)),
            // The node is gone (connection refused or reset, or a cut answer).
            Err(_) => break,
        }
    }
    refusals
}

/// The revision numbers `/v1/revisions` lists.
#[track_caller]
fn listed_revisions(admin: &Admin) -> Vec<u64> {
    let listed = admin.get("/v1/revisions?limit=1000").expect(200);
    listed
        .json
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["number"].as_u64().expect("number"))
        .collect()
}

#[test]
fn acknowledged_revisions_survive_sigkill() {
    let toml = config_toml(&Setup::default());
    let mut scenario = Scenario::start_store(
        "acknowledged_revisions_survive_sigkill",
        &toml,
        &EGRESS_PREFIXES,
        &[DEDICATED_PORT, DEFAULT_PORT],
        4,
    );
    let admin = scenario.admin(&scenario.token("burst", None, true));
    admin.wait_ready();

    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (admin, stop, acks) = (admin.clone(), Arc::clone(&stop), Arc::clone(&acks));
        std::thread::spawn(move || burst(admin, stop, acks))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.lock().expect("acks").len() < ACKNOWLEDGED_BEFORE_KILL {
        assert!(
            Instant::now() < deadline && !writer.is_finished(),
            "only {} writes acknowledged; stderr:\n{}",
            acks.lock().expect("acks").len(),
            scenario.gateway.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(Pid::from_raw(scenario.gateway.pid()), Signal::SIGKILL).expect("send SIGKILL");
    let status = scenario.gateway.wait_exit(Duration::from_secs(5));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
    // Every request after the kill fails, so the writer ends on its own; the flag bounds it.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let refusals = writer.join().expect("the writer thread");
    assert!(refusals.is_empty(), "writes refused: {refusals:#?}");
    let acks = acks.lock().expect("acks").clone();
    eprintln!(
        "{} writes acknowledged before SIGKILL (revisions {}..={})",
        acks.len(),
        acks[0].revision,
        acks[acks.len() - 1].revision
    );
    for pair in acks.windows(2) {
        assert_eq!(pair[1].revision, pair[0].revision + 1, "{acks:?}");
    }

    // Started again on the same store.
    scenario.gateway = scenario.serve_store(4);
    admin.wait_ready();
    let listed = listed_revisions(&admin);
    let latest = listed[0];
    let last_ack = acks[acks.len() - 1];
    eprintln!(
        "after the restart the latest revision is {latest} (last acknowledged {})",
        last_ack.revision
    );
    // At most the one write in flight at the kill was stored without its answer.
    assert!(
        latest == last_ack.revision || latest == last_ack.revision + 1,
        "latest stored revision {latest}, last acknowledged {}",
        last_ack.revision
    );
    for ack in &acks {
        assert!(
            listed.contains(&ack.revision),
            "revision {} lost",
            ack.revision
        );
        let document = admin
            .get(&format!("/v1/revisions/{}", ack.revision))
            .expect(200);
        let traffic = document.json["config"]["accounts"][0]["policies"]
            .as_array()
            .expect("policies")
            .iter()
            .find(|p| p["name"] == POLICY)
            .map(|p| p["traffic"].to_string())
            .unwrap_or_default();
        assert!(
            traffic.contains(&marker(ack.write).to_string()),
            "revision {} holds {traffic}, not write {}",
            ack.revision,
            ack.write
        );
        let exported = scenario.export(Some(ack.revision));
        assert!(
            exported.starts_with(&format!("# revision {} ", ack.revision))
                && exported.contains(&marker(ack.write).to_string()),
            "export of revision {}:\n{exported}",
            ack.revision
        );
    }

    // The node runs the latest revision, and a new connection follows its policy.
    let status = admin.get("/v1/status").expect(200);
    assert_eq!(status.json["revision"], latest, "{}", status.text);
    assert_eq!(status.json["latest_revision"], latest, "{}", status.text);
    let running = admin
        .get(&format!("/v1/accounts/lab/policies/{}", segment(POLICY)))
        .expect(200);
    assert_eq!(running.etag(), Some(latest));
    let dedicated = running.json["method"].get("dedicated").is_some();
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin_v4(DEDICATED_PORT), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    let seen = answer.seen_ip();
    if dedicated {
        assert_eq!(
            seen,
            IpAddr::from(DEDICATED_V4),
            "revision {latest}: {running:?}"
        );
    } else {
        assert!(
            in_prefix(seen, DEFAULT_V4_NET),
            "revision {latest} sends by default, the origin saw {seen}"
        );
    }
    // And the store keeps taking writes after its own.
    let next = admin
        .put(
            &format!("/v1/accounts/lab/policies/{}", segment(POLICY)),
            &version(0),
        )
        .expect(200);
    assert_eq!(next.etag(), Some(latest + 1));
    scenario.assert_gateway_running();
}
