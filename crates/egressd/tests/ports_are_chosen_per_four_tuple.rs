//! Source ports are chosen per 4-tuple at connect time (`IP_BIND_ADDRESS_NO_PORT`): with the
//! gateway namespace's ephemeral range narrowed to 32 ports, one dedicated IPv4 holds four
//! times that many concurrent connections spread over four destination ports. The first
//! connection past a destination's ports is refused with HTTP 503 and close reason
//! `egress_port_allocation_error` (the kernel's EADDRNOTAVAIL, named), while another
//! destination is still reachable from the same address.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, TcpStream};

use common::*;

/// `net.ipv4.ip_local_port_range` in the gateway namespace: 32 ports.
const RANGE: (u16, u16) = (40000, 40031);
const PORTS_IN_RANGE: usize = (RANGE.1 - RANGE.0 + 1) as usize;
/// Destination ports filled to the last ephemeral port.
const FULL: [u16; 4] = [8081, 8082, 8083, 8084];
/// A destination port left alone until the end.
const SPARE: u16 = 8085;

#[test]
fn ports_are_chosen_per_four_tuple() {
    let ports = [FULL.as_slice(), &[SPARE]].concat();
    let setup = Setup {
        dedicated_ports: ports.clone(),
        origin_ports: ports,
        gateway_sysctls: vec![(
            "net.ipv4.ip_local_port_range".into(),
            format!("{} {}", RANGE.0, RANGE.1),
        )],
        ..Setup::default()
    };
    let mut scenario = Scenario::start("ports_are_chosen_per_four_tuple", &setup);
    // The gateway warned at start that the kernel runs out before the configured budget.
    scenario
        .gateway
        .wait_stderr("the small port range warning", 1, |l| {
            l.contains("ip_local_port_range") && l.contains(&format!("{PORTS_IN_RANGE} ports"))
        });

    let dedicated = IpAddr::from(DEDICATED_V4);
    let mut held: Vec<TcpStream> = Vec::new();
    for &port in &FULL {
        let mut source_ports = HashSet::new();
        for _ in 0..PORTS_IN_RANGE {
            let mut client = scenario.client(HTTP_PORT);
            tunnel(&mut client, origin_v4(port), None);
            let (_, answer) = ask_whoami(&mut client, "/json", false);
            let seen: serde_json::Value =
                serde_json::from_slice(&answer.body).expect("whoami JSON");
            assert_eq!(seen["address"], dedicated.to_string(), "{seen}");
            let source_port = u16::try_from(seen["port"].as_u64().expect("port")).expect("port");
            assert!(
                (RANGE.0..=RANGE.1).contains(&source_port),
                "source port {source_port} outside the range"
            );
            source_ports.insert(source_port);
            held.push(client);
        }
        assert_eq!(
            source_ports.len(),
            PORTS_IN_RANGE,
            "to {port}: every port of the range once"
        );
    }
    assert_eq!(held.len(), FULL.len() * PORTS_IN_RANGE);

    // One more to a full destination: no port left for that 4-tuple.
    for &port in &FULL {
        let mut refused = scenario.client(HTTP_PORT);
        let answer = http_connect(&mut refused, &authority(origin_v4(port)), None);
        assert_eq!(answer.status, 503, "to {port}: {answer:?}");
        let record = scenario.record_of(local_port(&refused));
        assert_eq!(
            field(&record, "close_reason"),
            "egress_port_allocation_error",
            "{record}"
        );
        assert_eq!(
            field(&record, "egress_ip"),
            DEDICATED_V4.to_string(),
            "{record}"
        );
        assert_eq!(record["dst_port"], port, "{record}");
    }

    // The same address still reaches a destination whose 4-tuples are free.
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin_v4(SPARE), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), dedicated);

    // Every tunnel is still alive: a second request on each one is answered.
    for client in &mut held {
        let (_, answer) = ask_whoami(client, "/", false);
        assert_eq!(answer.seen_ip(), dedicated);
    }
    scenario.assert_gateway_running();
}
