//! Absolute-form requests on one keep-alive client connection: the same target is served over
//! one upstream connection (one source port, one log record with the bytes of every request),
//! hop-by-hop headers are not forwarded, `Via` is added, and a new target opens a new upstream.

mod common;

use std::io::Write;

use common::*;
use serde_json::Value;

fn get(host: &str, path: &str, extra: &str) -> String {
    format!("GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n")
}

#[test]
fn absolute_form_keep_alive_reuses_the_upstream() {
    let scenario = Scenario::start(
        "absolute_form_keep_alive_reuses_the_upstream",
        &Setup::default(),
    );
    let mut client = scenario.client(HTTP_PORT);
    let dedicated = authority(origin_v4(DEDICATED_PORT));
    let other = authority(origin_v4(DEFAULT_PORT));

    // Two requests to the same target, with hop-by-hop headers that must not reach the origin.
    let hop = "Proxy-Connection: keep-alive\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n";
    let mut seen_ports = Vec::new();
    for _ in 0..2 {
        client
            .write_all(get(&dedicated, "/json", hop).as_bytes())
            .expect("send");
        let answer = read_response(&mut client).expect("answer");
        assert_eq!(answer.status, 200, "{answer:?}");
        let seen: Value = serde_json::from_slice(&answer.body).expect("whoami JSON");
        assert_eq!(seen["address"], DEDICATED_V4.to_string(), "{seen}");
        let headers = &seen["headers"];
        assert!(headers.get("proxy-connection").is_none(), "{headers}");
        assert!(headers.get("x-secret").is_none(), "{headers}");
        let via = headers["via"].as_str().unwrap_or_default();
        assert!(via.starts_with("1.1 egressd"), "{headers}");
        seen_ports.push(seen["port"].clone());
    }
    assert_eq!(
        seen_ports[0], seen_ports[1],
        "the second request reused the upstream connection"
    );

    // Another target on the same client connection opens another upstream.
    client
        .write_all(get(&other, "/", "Connection: close\r\n").as_bytes())
        .expect("send");
    let answer = read_response(&mut client).expect("answer");
    assert_eq!(answer.status, 200, "{answer:?}");
    let port = local_port(&client);
    drop(client);

    let records: Vec<Value> = {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let mine: Vec<Value> = scenario
                .records()
                .into_iter()
                .filter(|r| r["src_port"] == port)
                .collect();
            if mine.len() >= 2 || std::time::Instant::now() > deadline {
                break mine;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    assert_eq!(
        records.len(),
        2,
        "one record per upstream connection: {records:#?}"
    );
    let first = records
        .iter()
        .find(|r| r["dst_port"] == DEDICATED_PORT)
        .expect("dedicated record");
    assert_eq!(first["egress_port"], seen_ports[0], "{first}");
    assert_eq!(first["close_reason"], "closed", "{first}");
    let second = records
        .iter()
        .find(|r| r["dst_port"] == DEFAULT_PORT)
        .expect("default record");
    assert_eq!(second["egress_method"], "default", "{second}");
}
