//! DESIGN rules 8, 9, 10 and 12: the port budget travels in the plan; DNS, private networks and
//! ICMP never use a dedicated IP; traffic settings; tenants never see each other's IPs.

mod support;
use egress_policy::{decide_gateway_dns, EgressKind, Reason, Refusal};
use support::*;

#[test]
fn icmp_is_always_default() {
    let s = example();
    let plan = req("acme", Some("alice"), "198.18.0.10:0", "fra")
        .icmp()
        .plan(&s);
    assert_eq!(plan.reason, Reason::Icmp);
    assert_eq!(plan.method, EgressKind::Default);
    assert_eq!(plan.ipv4.expect("v4").egress_location.as_str(), "fra");
}

#[test]
fn private_networks_are_always_default() {
    let s = example();
    let plan = req("acme", Some("alice"), "10.1.2.3:443", "lax").plan(&s);
    assert_eq!(plan.reason, Reason::PrivateNetwork);
    assert_eq!(plan.method, EgressKind::Default);
}

#[test]
fn gateway_dns_is_always_default() {
    let s = example();
    let plan = decide_gateway_dns(&s, "nyc").expect("known location");
    assert_eq!(plan.reason, Reason::GatewayDns);
    assert_eq!(plan.method, EgressKind::Default);
    assert!(plan
        .ipv4
        .expect("v4")
        .source
        .to_string()
        .starts_with("198.51.100."));
    assert_eq!(decide_gateway_dns(&s, "sfo"), Err(Refusal::UnknownLocation));
}

#[test]
fn forbidden_destinations_are_refused_unless_allowed() {
    let s = example();
    for to in [
        "127.0.0.1:80",
        "192.168.1.1:80",
        "169.254.169.254:80",
        "[::1]:80",
        "[fe80::1]:80",
    ] {
        assert_eq!(
            req("acme", Some("bob"), to, "lax").decide(&s),
            Err(Refusal::ForbiddenDestination),
            "{to}"
        );
    }
    let text = EXAMPLE.replacen(
        "max_connections_per_destination = 40000",
        "max_connections_per_destination = 40000\nallow_destinations = [\"127.0.0.0/8\"]",
        1,
    );
    let s = snapshot_of(&text);
    assert!(req("acme", Some("bob"), "127.0.0.1:80", "lax")
        .decide(&s)
        .is_ok());
}

#[test]
fn proxy_off_sends_everything_to_the_default_range() {
    let text = EXAMPLE.replacen("traffic = { proxy = true,", "traffic = { proxy = false,", 1);
    let s = snapshot_of(&text);
    let plan = req("acme", Some("alice"), "198.18.0.10:443", "fra").plan(&s);
    assert_eq!(plan.reason, Reason::ProxyOff);
    assert_eq!(plan.method, EgressKind::Default);
    assert_eq!(plan.ipv4.expect("v4").egress_location.as_str(), "fra");
}

#[test]
fn tcp_off_refuses_tcp_and_udp_off_refuses_udp() {
    let text = EXAMPLE.replacen(
        "proxy = true, tcp = true, udp = true",
        "proxy = true, tcp = false, udp = true",
        1,
    );
    let s = snapshot_of(&text);
    assert_eq!(
        req("acme", Some("bob"), "198.19.0.1:443", "lax").decide(&s),
        Err(Refusal::TcpDisabled)
    );
    assert!(req("acme", Some("bob"), "198.19.0.1:443", "lax")
        .udp()
        .decide(&s)
        .is_ok());
    // globex has udp = false.
    let s = example();
    assert_eq!(
        req("globex", Some("hank"), "198.19.0.1:443", "lax")
            .udp()
            .decide(&s),
        Err(Refusal::UdpDisabled)
    );
    assert!(req("globex", Some("hank"), "198.19.0.1:443", "lax")
        .decide(&s)
        .is_ok());
}

#[test]
fn plan_carries_the_port_budget() {
    let text = EXAMPLE.replacen(
        "max_connections_per_destination = 40000",
        "max_connections_per_destination = 7",
        1,
    );
    let s = snapshot_of(&text);
    assert_eq!(
        req("acme", Some("bob"), "198.19.0.1:443", "lax")
            .plan(&s)
            .max_connections_per_destination,
        7
    );
    assert_eq!(example().max_connections_per_destination(), 40_000);
}

#[test]
fn a_user_of_one_account_is_unknown_in_another() {
    let s = example();
    assert_eq!(
        req("acme", Some("hank"), "198.19.0.1:443", "lax").decide(&s),
        Err(Refusal::UnknownUser)
    );
    assert_eq!(
        req("initech", None, "198.19.0.1:443", "lax").decide(&s),
        Err(Refusal::UnknownAccount)
    );
    assert_eq!(
        req("acme", None, "198.19.0.1:443", "sfo").decide(&s),
        Err(Refusal::UnknownLocation)
    );
}

#[test]
fn an_account_only_ever_sends_from_its_own_or_default_addresses() {
    let s = example();
    let globex_ips = ["192.0.2.10", "203.0.113.40"];
    for loc in ["lax", "nyc", "fra"] {
        for user in ["alice", "bob", "carol"] {
            for to in [
                "198.18.0.10:443",
                "partner.example:443",
                "198.19.0.1:8443",
                "203.0.113.200:443",
            ] {
                let plan = req("acme", Some(user), to, loc)
                    .dst_geo("DE", "EU")
                    .plan(&s);
                for route in plan.ipv4.iter().chain(plan.ipv6.iter()) {
                    let src = route.source.to_string();
                    assert!(
                        !globex_ips.contains(&src.as_str()),
                        "{user}@{loc} → {to}: {src}"
                    );
                    assert!(!src.starts_with("2001:db8:beef"), "{src}");
                }
            }
        }
    }
}
