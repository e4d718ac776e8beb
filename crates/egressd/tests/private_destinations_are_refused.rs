//! Destinations in private, loopback and link-local ranges, and the gateway's own addresses,
//! are refused (HTTP 403, SOCKS5 "connection not allowed by ruleset") with close reason
//! `forbidden_destination`, unless the deployment allows them explicitly.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use common::*;

/// The internet namespace's address on the gateway's uplink: private, and allowed by the
/// configuration below.
const ALLOWED: &str = "10.200.1.2:8081";

#[test]
fn private_destinations_are_refused() {
    let setup = Setup {
        allow_destinations: vec!["10.200.1.2/32".into()],
        ..Setup::default()
    };
    let scenario = Scenario::start("private_destinations_are_refused", &setup);

    let forbidden = [
        "10.9.9.9:8081",
        "192.168.1.1:8081",
        "172.16.0.1:8081",
        "127.0.0.1:3128",
        "169.254.169.254:80",
        // The gateway's own uplink address, in the private range too.
        "10.200.1.1:8081",
        "[::1]:3128",
        "[fd00:e:1::2]:8081",
        "[fe80::1]:80",
        // The gateway's own public addresses: its egress ranges, routed to it.
        "203.0.113.10:8081",
        "192.0.2.3:8081",
        "[2001:db8:e000:10::1]:8081",
    ];
    for target in forbidden {
        let mut client = scenario.client(HTTP_PORT);
        let answer = http_connect(&mut client, target, None);
        assert_eq!(answer.status, 403, "CONNECT {target}: {answer:?}");
        assert!(
            answer.text().contains("forbidden_destination"),
            "{target}: {answer:?}"
        );
        assert_closed(&mut client, "after 403");
        let record = scenario.record_of(local_port(&client));
        assert_eq!(
            field(&record, "close_reason"),
            "forbidden_destination",
            "{target}: {record}"
        );
        assert!(record["egress_ip"].is_null(), "{target}: {record}");
    }

    // Absolute-form requests are held to the same rule.
    let mut client = scenario.client(HTTP_PORT);
    let answer = http_get(
        &mut client,
        "192.168.1.1:8081".parse().expect("address"),
        "/",
        None,
    );
    assert_eq!(answer.status, 403, "{answer:?}");
    let record = scenario.record_of(local_port(&client));
    assert_eq!(
        field(&record, "close_reason"),
        "forbidden_destination",
        "{record}"
    );

    // SOCKS5: reply 0x02, connection not allowed by ruleset.
    for target in [
        "10.9.9.9:8081",
        "192.168.1.1:8081",
        "127.0.0.1:3128",
        "[::1]:3128",
    ] {
        let target: SocketAddr = target.parse().expect("address");
        let mut client = scenario.client(SOCKS_PORT);
        assert_eq!(
            socks5_connect(&mut client, None, target),
            Socks::Reply(0x02),
            "SOCKS5 {target}"
        );
        assert_closed(&mut client, "after the SOCKS5 refusal");
        let record = scenario.record_of(local_port(&client));
        assert_eq!(
            field(&record, "close_reason"),
            "forbidden_destination",
            "{target}: {record}"
        );
        assert_eq!(field(&record, "onramp"), "socks5", "{record}");
    }

    // A private destination the deployment allows is reached, from the policy's address: the
    // refusals above come from the safety rule, not from the lab's routing.
    let mut allowed = Process::spawn(
        "whoami on the uplink",
        &scenario.net.internet,
        Command::new(EGRESSD).args(["whoami", "--listen", ALLOWED]),
    );
    allowed.wait_stderr("its listener", 1, |l| l.contains("listening on"));
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, ALLOWED.parse().expect("address"), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
}
