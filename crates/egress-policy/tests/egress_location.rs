//! DESIGN rules 4, 5 and 6: IPv4 leaves where the dedicated IPv4 lives (except on-net
//! destinations), IPv6 leaves locally from the location's slice of the /64, and geolocation
//! always follows the dedicated IP.

mod support;
use std::net::IpAddr;

use egress_policy::{ipv6_slice_net, EgressKind};
use ipnet::Ipv6Net;
use support::*;

#[test]
fn ipv4_leaves_at_the_location_holding_it() {
    let s = example();
    let plan = req("acme", Some("alice"), "198.18.0.10:443", "fra").plan(&s);
    let v4 = plan.ipv4.expect("v4 route");
    assert_eq!(v4.source.to_string(), "203.0.113.10");
    assert_eq!(v4.egress_location.as_str(), "lax");
    assert_eq!(v4.egress_ip_location.as_str(), "lax");
    assert!(v4.forwarded, "fra must forward to lax");
    assert_eq!(plan.ingress_location.as_str(), "fra");
    assert!(
        plan.ipv6.is_none(),
        "an IPv4 destination gets no IPv6 route"
    );
}

#[test]
fn ipv4_at_the_holding_location_is_not_forwarded() {
    let s = example();
    let v4 = req("acme", Some("alice"), "198.18.0.10:443", "lax")
        .plan(&s)
        .ipv4
        .expect("v4");
    assert!(!v4.forwarded);
}

#[test]
fn on_net_ipv4_leaves_locally_carrying_the_dedicated_ip() {
    let s = example();
    // globex has no catch-all: rule 2 picks nyc's 192.0.2.10 from lax; the destination is on-net.
    let plan = req("globex", Some("hank"), "203.0.113.200:443", "lax").plan(&s);
    let v4 = plan.ipv4.expect("v4");
    assert_eq!(v4.egress_location.as_str(), "lax");
    assert_eq!(v4.egress_ip_location.as_str(), "nyc");
    assert_eq!(
        v4.proxy_protocol_source,
        Some("192.0.2.10".parse().expect("valid"))
    );
    assert!(!v4.forwarded);
    let lax_default: ipnet::IpNet = "198.51.100.0/28".parse().expect("valid");
    assert!(lax_default.contains(&v4.source.0), "{}", v4.source);
    assert_eq!(v4.kind, EgressKind::Dedicated);
    // By host name too.
    let plan = req("globex", Some("hank"), "www.cdn.example:443", "lax").plan(&s);
    assert!(plan.ipv4.expect("v4").proxy_protocol_source.is_some());
}

#[test]
fn ipv6_leaves_locally_from_the_location_slice_and_geolocates_to_the_policy_city() {
    let s = example();
    let plan = req("acme", Some("alice"), "[2001:db8:ba::1]:443", "fra").plan(&s);
    assert_eq!(policy_name(&plan), Some("bank via lax"));
    assert!(plan.ipv4.is_none());
    let v6 = plan.ipv6.expect("v6 route");
    assert_eq!(v6.egress_location.as_str(), "fra");
    assert_eq!(v6.egress_ip_location.as_str(), "lax");
    assert!(!v6.forwarded);
    let net: Ipv6Net = "2001:db8:e000:10::/64".parse().expect("valid");
    let IpAddr::V6(addr) = v6.source.0 else {
        panic!("IPv6 source expected")
    };
    assert!(net.contains(&addr), "{addr}");
    assert!(
        ipv6_slice_net(net, 3).contains(&addr),
        "{addr} must be in fra's slice (3)"
    );
}

#[test]
fn ipv6_address_is_stable_per_user_and_differs_between_users() {
    let s = example();
    let at = |user: &str, loc: &str| {
        let mut r = req("globex", Some(user), "[2001:db8:ba::1]:443", loc);
        r.client = "192.0.2.77:1234".parse().expect("valid");
        r.plan(&s).ipv6.expect("v6").source
    };
    assert_eq!(at("hank", "nyc"), at("hank", "nyc"));
    // A source-prefix client without a user is placed by its address.
    let anon = |client: &str| {
        req("acme", None, "[2001:db8:ba::1]:443", "lax")
            .from(client)
            .endpoint("office-socks")
            .plan(&s)
            .ipv6
            .expect("v6")
            .source
    };
    assert_eq!(anon("10.20.0.1:5000"), anon("10.20.0.1:6000"));
    assert_ne!(anon("10.20.0.1:5000"), anon("10.20.0.2:5000"));
}

#[test]
fn a_name_target_without_resolution_gets_both_families() {
    let s = example();
    let plan = req("acme", Some("bob"), "api.partner.example:443", "fra").plan(&s);
    let (v4, v6) = (plan.ipv4.expect("v4"), plan.ipv6.expect("v6"));
    assert_eq!(v4.egress_location.as_str(), "nyc");
    assert_eq!(v6.egress_location.as_str(), "fra");
    assert_eq!(v4.egress_ip_location, v6.egress_ip_location);
}

#[test]
fn resolved_address_lets_ip_selectors_match_name_targets() {
    let s = example();
    let r = req("acme", Some("alice"), "bank.example:443", "lax");
    assert_eq!(policy_name(&r.plan(&s)), Some("everything else"));
    let r = r.resolved("198.18.7.7");
    assert_eq!(policy_name(&r.plan(&s)), Some("bank via lax"));
}
