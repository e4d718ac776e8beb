//! Malformed input on either listener gets the documented refusal (docs/troubleshooting.md)
//! and a log record, and never takes the gateway down: after each case a normal request is
//! still served, and the process still runs at the end.

mod common;

use std::io::Write;
use std::net::{IpAddr, Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::*;

/// Deterministic bytes (xorshift64*), so a failure can be replayed.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// Sends bytes; the gateway may close before it has read them all, which is fine here.
fn send_lenient(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}

/// The gateway still serves a normal CONNECT from the dedicated IPv4.
fn still_serves(scenario: &mut Scenario, after: &str) {
    scenario.assert_gateway_running();
    let mut client = scenario.client(HTTP_PORT);
    let answer = http_connect(&mut client, &authority(origin_v4(DEDICATED_PORT)), None);
    assert_eq!(answer.status, 200, "after {after}: {answer:?}");
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(
        answer.seen_ip(),
        IpAddr::from(DEDICATED_V4),
        "after {after}"
    );
}

/// Waits for the record of this client connection and checks its close reason.
fn assert_reason(scenario: &Scenario, client: &TcpStream, reason: &str) {
    let record = scenario.record_of(local_port(client));
    assert_eq!(field(&record, "close_reason"), reason, "{record}");
}

#[test]
fn malformed_input_is_refused_and_the_gateway_survives() {
    let setup = Setup {
        serve_args: vec!["--head-timeout-secs".into(), "1".into()],
        ..Setup::default()
    };
    let mut scenario = Scenario::start(
        "malformed_input_is_refused_and_the_gateway_survives",
        &setup,
    );

    // A request head cut off by the client: nothing to answer, the connection is logged.
    let mut client = scenario.client(HTTP_PORT);
    client
        .write_all(b"CONNECT 198.51.100.80:8081 HTTP/1.1\r\nHost: 198.5")
        .expect("send");
    client.shutdown(Shutdown::Write).expect("half-close");
    assert_closed(&mut client, "truncated head");
    assert_reason(&scenario, &client, "truncated_request");
    still_serves(&mut scenario, "a truncated head");

    // A head that never completes: 408 once the head timeout passes.
    let mut client = scenario.client(HTTP_PORT);
    client
        .write_all(b"CONNECT 198.51.100.80:8081 HTT")
        .expect("send");
    let started = Instant::now();
    let answer = read_response(&mut client).expect("408");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_reason(&scenario, &client, "request_timeout");
    still_serves(&mut scenario, "a slow head");

    // Headers over 16 KiB: 431.
    let mut client = scenario.client(HTTP_PORT);
    let mut head =
        b"GET http://198.51.100.80:8081/ HTTP/1.1\r\nHost: 198.51.100.80\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 17 * 1024));
    head.extend_from_slice(b"\r\n\r\n");
    send_lenient(&mut client, &head);
    let answer = read_response(&mut client).expect("431");
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_reason(&scenario, &client, "request_head_too_large");
    still_serves(&mut scenario, "oversized headers");

    // Too many header fields: 431 as well.
    let mut client = scenario.client(HTTP_PORT);
    let mut head = b"GET http://198.51.100.80:8081/ HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    send_lenient(&mut client, &head);
    let answer = read_response(&mut client).expect("431");
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_reason(&scenario, &client, "too_many_headers");
    still_serves(&mut scenario, "too many headers");

    // Garbage on the HTTP listener: a 4xx and a close, whatever the bytes.
    for seed in 1..=4u64 {
        let mut client = scenario.client(HTTP_PORT);
        send_lenient(&mut client, &garbage(seed, 4096));
        let answer =
            read_response(&mut client).unwrap_or_else(|e| panic!("seed {seed}: no answer: {e}"));
        assert!(
            (400..500).contains(&answer.status),
            "seed {seed}: {answer:?}"
        );
        let record = scenario.record_of(local_port(&client));
        assert!(record["egress_ip"].is_null(), "seed {seed}: {record}");
        still_serves(&mut scenario, &format!("HTTP garbage, seed {seed}"));
    }

    // SOCKS4 on the SOCKS5 listener: a peer of another version cannot read a SOCKS5 reply, so
    // the gateway closes without one.
    let mut client = scenario.client(SOCKS_PORT);
    client
        .write_all(&[4, 1, 0x1f, 0x91, 198, 51, 100, 80, 0])
        .expect("send");
    assert_closed(&mut client, "SOCKS4 request");
    assert_reason(&scenario, &client, "socks_bad_version");
    still_serves(&mut scenario, "an invalid SOCKS version");

    // A SOCKS5 request with an unknown command or address type gets its reply code.
    for (request, reply, reason) in [
        (
            vec![5, 9, 0, 1, 198, 51, 100, 80, 0x1f, 0x91],
            0x07,
            "command_not_supported",
        ),
        (
            vec![5, 1, 0, 9, 198, 51, 100, 80, 0x1f, 0x91],
            0x08,
            "socks_address_type_not_supported",
        ),
    ] {
        let mut client = scenario.client(SOCKS_PORT);
        client.write_all(&[5, 1, 0]).expect("greeting");
        let mut selection = [0u8; 2];
        std::io::Read::read_exact(&mut client, &mut selection).expect("method selection");
        assert_eq!(selection, [5, 0]);
        client.write_all(&request).expect("request");
        let mut answer = [0u8; 2];
        std::io::Read::read_exact(&mut client, &mut answer).expect("reply");
        assert_eq!(answer, [5, reply], "{request:?}");
        assert_reason(&scenario, &client, reason);
        still_serves(&mut scenario, reason);
    }

    // Garbage on the SOCKS5 listener: never a successful reply, and a close.
    for seed in 5..=8u64 {
        let mut client = scenario.client(SOCKS_PORT);
        let mut bytes = garbage(seed, 4096);
        if seed == 8 {
            // A valid greeting, then garbage where the request belongs.
            bytes.splice(0..3, [5, 1, 0]);
        }
        send_lenient(&mut client, &bytes);
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            match std::io::Read::read(&mut client, &mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("seed {seed}: the gateway did not close: {e}; got {answer:?}"),
            }
        }
        // After a method selection [5, 0] the reply, if any, must not be success [5, 0, …].
        let reply = if answer.starts_with(&[5, 0]) {
            &answer[2..]
        } else {
            &answer[..]
        };
        assert!(
            !reply.starts_with(&[5, 0]),
            "seed {seed}: success reply to garbage: {answer:?}"
        );
        still_serves(&mut scenario, &format!("SOCKS garbage, seed {seed}"));
    }

    scenario.assert_gateway_running();
}
