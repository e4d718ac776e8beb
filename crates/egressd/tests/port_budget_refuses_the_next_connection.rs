//! With `max_connections_per_destination = 2`, an egress address holds two connections to one
//! destination; the third is refused at once (HTTP 503, SOCKS5 general failure) with close
//! reason `egress_port_allocation_error`, and closing one frees its slot.

mod common;

use std::net::{IpAddr, SocketAddr, TcpStream};

use common::*;

const LIMIT: usize = 2;

/// An HTTP CONNECT tunnel that answered whoami and stays open (keep-alive).
fn http_tunnel(scenario: &Scenario, origin: SocketAddr) -> TcpStream {
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin, None);
    let (_, answer) = ask_whoami(&mut client, "/", false);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
    client
}

/// A SOCKS5 tunnel that answered whoami and stays open.
fn socks_tunnel(scenario: &Scenario, origin: SocketAddr) -> TcpStream {
    let mut client = scenario.client(SOCKS_PORT);
    match socks5_connect(&mut client, None, origin) {
        Socks::Connected(_) => {}
        other => panic!("SOCKS5 CONNECT {origin}: {other:?}"),
    }
    let (_, answer) = ask_whoami(&mut client, "/", false);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
    client
}

/// Closes a tunnel and waits until the gateway has logged its end.
fn close(scenario: &Scenario, client: TcpStream) {
    let port = local_port(&client);
    drop(client);
    let record = scenario.record_of(port);
    assert_eq!(field(&record, "close_reason"), "closed", "{record}");
}

fn assert_budget_record(scenario: &Scenario, client: &TcpStream, origin: SocketAddr, onramp: &str) {
    let record = scenario.record_of(local_port(client));
    assert_eq!(
        field(&record, "close_reason"),
        "egress_port_allocation_error",
        "{record}"
    );
    assert_eq!(field(&record, "onramp"), onramp, "{record}");
    assert_eq!(
        field(&record, "egress_ip"),
        DEDICATED_V4.to_string(),
        "{record}"
    );
    assert_eq!(
        field(&record, "dst_ip"),
        origin.ip().to_string(),
        "{record}"
    );
    assert_eq!(record["dst_port"], origin.port(), "{record}");
}

#[test]
fn port_budget_refuses_the_next_connection() {
    let setup = Setup {
        dedicated_ports: vec![8081, 8082],
        origin_ports: vec![8081, 8082],
        max_connections_per_destination: Some(LIMIT as u32),
        ..Setup::default()
    };
    let scenario = Scenario::start("port_budget_refuses_the_next_connection", &setup);

    // HTTP CONNECT to 198.51.100.80:8081.
    let http_origin = origin_v4(8081);
    let mut held: Vec<TcpStream> = (0..LIMIT)
        .map(|_| http_tunnel(&scenario, http_origin))
        .collect();
    let mut refused = scenario.client(HTTP_PORT);
    let answer = http_connect(&mut refused, &authority(http_origin), None);
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(
        answer.text().contains("egress_port_allocation_error"),
        "{answer:?}"
    );
    assert_closed(&mut refused, "after 503");
    assert_budget_record(&scenario, &refused, http_origin, "http_connect");
    // An absolute-form request is counted against the same budget.
    let mut refused = scenario.client(HTTP_PORT);
    let answer = http_get(&mut refused, http_origin, "/", None);
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_budget_record(&scenario, &refused, http_origin, "http_forward");

    // Another destination shares the address freely: SOCKS5 to port 8082.
    let socks_origin = origin_v4(8082);
    let mut held_socks: Vec<TcpStream> = (0..LIMIT)
        .map(|_| socks_tunnel(&scenario, socks_origin))
        .collect();
    let mut refused = scenario.client(SOCKS_PORT);
    assert_eq!(
        socks5_connect(&mut refused, None, socks_origin),
        Socks::Reply(0x01),
        "general failure"
    );
    assert_closed(&mut refused, "after the SOCKS5 failure reply");
    assert_budget_record(&scenario, &refused, socks_origin, "socks5");

    // Closing one tunnel frees its slot, for each destination.
    close(&scenario, held.remove(0));
    held.push(http_tunnel(&scenario, http_origin));
    close(&scenario, held_socks.remove(0));
    held_socks.push(socks_tunnel(&scenario, socks_origin));

    // And the budget is back at its limit.
    let mut refused = scenario.client(HTTP_PORT);
    assert_eq!(
        http_connect(&mut refused, &authority(http_origin), None).status,
        503
    );
    let mut refused = scenario.client(SOCKS_PORT);
    assert_eq!(
        socks5_connect(&mut refused, None, socks_origin),
        Socks::Reply(0x01)
    );
}
