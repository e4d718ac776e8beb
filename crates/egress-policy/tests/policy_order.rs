//! DESIGN rule 1: policies in precedence order; the first enabled one whose traffic and identity
//! both match decides; a catch-all sends everything else to the default range.

mod support;
use egress_policy::{EgressKind, Reason};
use support::*;

#[test]
fn lowest_precedence_matching_policy_decides() {
    let s = example();
    let plan = req("acme", Some("alice"), "198.18.0.10:443", "lax").plan(&s);
    assert_eq!(policy_name(&plan), Some("bank via lax"));
    assert_eq!(plan.reason, Reason::PolicyMatched);
    assert_eq!(v4_source(&plan), "203.0.113.10");
}

#[test]
fn identity_must_match_as_well_as_traffic() {
    let s = example();
    // carol is not in finance: the bank policy's identity fails; contractors (40) decides.
    let plan = req("acme", Some("carol"), "198.18.0.10:443", "lax").plan(&s);
    assert_eq!(policy_name(&plan), Some("contractors use the shared range"));
    assert_eq!(plan.method, EgressKind::Default);
    assert!(v4_source(&plan).starts_with("198.51.100."), "{plan:?}");
}

#[test]
fn disabled_policies_are_skipped() {
    let s = example();
    // "retired rule" (70, disabled) would match port 80; the catch-all decides instead.
    let plan = req("acme", Some("bob"), "198.19.5.5:80", "nyc").plan(&s);
    assert_eq!(policy_name(&plan), Some("everything else"));
    assert_eq!(plan.method, EgressKind::Default);
    let source = v4_source(&plan);
    assert!(source.starts_with("198.51.100."), "{source}");
}

#[test]
fn catch_all_sends_everything_else_to_the_default_range_of_the_ingress() {
    let s = example();
    let plan = req("acme", Some("bob"), "192.0.2.99:22", "fra").plan(&s);
    assert_eq!(policy_name(&plan), Some("everything else"));
    let route = plan.ipv4.expect("v4");
    assert_eq!(route.egress_location.as_str(), "fra");
    let ip: std::net::IpAddr = route.source.0;
    let fra: ipnet::IpNet = "198.51.100.32/28".parse().expect("valid");
    assert!(fra.contains(&ip), "{ip}");
}

#[test]
fn host_selectors_match_names_and_subdomains() {
    let s = example();
    for host in [
        "partner.example:443",
        "eu.api.partner.example:443",
        "api7.vendor.example:8443",
    ] {
        let plan = req("acme", Some("bob"), host, "lax").plan(&s);
        assert_eq!(policy_name(&plan), Some("partner api via nyc"), "{host}");
        assert_eq!(v4_source(&plan), "203.0.113.20");
    }
    let plan = req("acme", Some("bob"), "notpartner.example:443", "lax").plan(&s);
    assert_eq!(policy_name(&plan), Some("everything else"));
}

#[test]
fn host_selectors_off_ignore_names() {
    let text = EXAMPLE.replacen(
        "traffic = { proxy = true, tcp = true, udp = true, host_selectors = true }",
        "traffic = { proxy = true, tcp = true, udp = true, host_selectors = false }",
        1,
    );
    let s = snapshot_of(&text);
    let plan = req("acme", Some("bob"), "partner.example:443", "lax").plan(&s);
    assert_eq!(policy_name(&plan), Some("everything else"));
}

#[test]
fn every_selector_can_decide() {
    let s = example();
    let eu = req("acme", Some("bob"), "198.19.0.1:8443", "lax").dst_geo("DE", "EU");
    assert_eq!(policy_name(&eu.plan(&s)), Some("eu saas via fra"));
    let socks = req("acme", None, "198.19.0.1:80", "lax")
        .from("10.20.3.4:40000")
        .endpoint("office-socks");
    assert_eq!(policy_name(&socks.plan(&s)), Some("office socks clients"));
    let low_port = socks.clone().from("10.20.3.4:1000");
    assert_eq!(policy_name(&low_port.plan(&s)), Some("everything else"));
    let branch = req("acme", Some("bob"), "198.19.0.1:80", "nyc")
        .internal("172.16.30.7")
        .src_geo("US", "NA")
        .dst_geo("FR", "EU");
    assert_eq!(
        policy_name(&branch.plan(&s)),
        Some("branch office to europe")
    );
    let udp = req("acme", Some("bob"), "198.19.0.1:80", "nyc").udp();
    assert_eq!(policy_name(&udp.plan(&s)), Some("everything else"));
}
