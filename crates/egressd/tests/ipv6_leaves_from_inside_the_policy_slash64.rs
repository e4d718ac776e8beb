//! An IPv6 destination matched by a dedicated policy sees an address inside the policy's /64
//! (routed to the gateway as AnyIP, sent from with freebind). A user keeps one address across
//! connections and on-ramps; another user gets another address of the same /64.

mod common;

use std::net::IpAddr;

use common::*;

const PASSWORD: &str = "correct horse battery staple";

/// The address whoami saw through a CONNECT tunnel opened with `user`'s credentials, and the
/// log record of that connection.
fn seen_via_connect(scenario: &Scenario, user: &str) -> (IpAddr, serde_json::Value) {
    let mut client = scenario.client(HTTP_AUTH_PORT);
    tunnel(
        &mut client,
        origin_v6(DEDICATED_PORT),
        Some((user, PASSWORD)),
    );
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_closed(&mut client, "tunnel after whoami closed");
    let port = local_port(&client);
    drop(client);
    (answer.seen_ip(), scenario.record_of(port))
}

#[test]
fn ipv6_leaves_from_inside_the_policy_slash64() {
    let hash = hash_password(PASSWORD);
    let setup = Setup {
        users: vec![("alice".into(), hash.clone()), ("bob".into(), hash)],
        ..Setup::default()
    };
    let scenario = Scenario::start("ipv6_leaves_from_inside_the_policy_slash64", &setup);

    let (alice, record) = seen_via_connect(&scenario, "alice");
    assert!(
        alice.is_ipv6() && in_prefix(alice, DEDICATED_V6_NET),
        "alice seen as {alice}"
    );
    assert_eq!(field(&record, "user"), "alice", "{record}");
    assert_eq!(field(&record, "dst_ip"), "2001:db8:ffff::80", "{record}");
    assert_eq!(field(&record, "egress_method"), "dedicated", "{record}");
    assert_eq!(field(&record, "egress_ip"), alice.to_string(), "{record}");
    assert_eq!(
        field(&record, "policy_name"),
        "origin via dedicated",
        "{record}"
    );
    assert_eq!(field(&record, "close_reason"), "closed", "{record}");

    // The same user, again and again: the same address.
    for _ in 0..3 {
        let (again, _) = seen_via_connect(&scenario, "alice");
        assert_eq!(again, alice, "alice's address moved");
    }

    // Through SOCKS5 too: the address follows the user, not the on-ramp.
    let mut client = scenario.client(SOCKS_AUTH_PORT);
    match socks5_connect(
        &mut client,
        Some(("alice", PASSWORD)),
        origin_v6(DEDICATED_PORT),
    ) {
        Socks::Connected(bound) => assert_eq!(bound.ip(), alice),
        other => panic!("SOCKS5 CONNECT: {other:?}"),
    }
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), alice);

    // Another user: another address, in the same /64.
    let (bob, record) = seen_via_connect(&scenario, "bob");
    assert!(in_prefix(bob, DEDICATED_V6_NET), "bob seen as {bob}");
    assert_ne!(bob, alice, "two users share one address");
    assert_eq!(field(&record, "user"), "bob", "{record}");
    let (again, _) = seen_via_connect(&scenario, "bob");
    assert_eq!(again, bob, "bob's address moved");
}
