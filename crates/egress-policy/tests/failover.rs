//! DESIGN rule 7: primary location down → ipv4_fallback; fallback 0.0.0.0 or also down →
//! default range at the closest healthy location; the plan says which.

mod support;
use egress_policy::{EgressKind, FallbackUsed};
use support::*;

#[test]
fn primary_down_uses_the_fallback_ipv4() {
    let s = down(&example(), &["lax"]);
    let v4 = req("acme", Some("alice"), "198.18.0.10:443", "fra")
        .plan(&s)
        .ipv4
        .expect("v4");
    assert_eq!(v4.source.to_string(), "203.0.113.20");
    assert_eq!(v4.egress_location.as_str(), "nyc");
    assert_eq!(v4.egress_ip_location.as_str(), "nyc");
    assert_eq!(v4.fallback, FallbackUsed::Ipv4Fallback);
}

#[test]
fn primary_and_fallback_down_use_the_default_range_closest_to_the_user() {
    let s = down(&example(), &["lax", "nyc"]);
    let v4 = req("acme", Some("alice"), "198.18.0.10:443", "fra")
        .plan(&s)
        .ipv4
        .expect("v4");
    assert_eq!(v4.fallback, FallbackUsed::DefaultRange);
    assert_eq!(v4.kind, EgressKind::Default);
    assert_eq!(v4.egress_location.as_str(), "fra");
    assert!(v4.source.to_string().starts_with("198.51.100."));
}

#[test]
fn unspecified_fallback_goes_to_the_closest_healthy_default_range() {
    // partner api: nyc primary, fallback 0.0.0.0. User at lax; nyc down.
    let s = down(&example(), &["nyc"]);
    let v4 = req("acme", Some("bob"), "partner.example:443", "lax")
        .plan(&s)
        .ipv4
        .expect("v4");
    assert_eq!(v4.fallback, FallbackUsed::DefaultRange);
    assert_eq!(v4.egress_location.as_str(), "lax");
    // From a location that is itself down (a client still attached), the closest healthy one.
    let s = down(&example(), &["nyc", "lax"]);
    let v4 = req("acme", Some("bob"), "partner.example:443", "lax")
        .plan(&s)
        .ipv4
        .expect("v4");
    assert_eq!(v4.egress_location.as_str(), "fra");
    assert!(v4.forwarded);
}

#[test]
fn healthy_primary_uses_no_fallback() {
    let s = down(&example(), &["nyc"]);
    let v4 = req("acme", Some("alice"), "198.18.0.10:443", "fra")
        .plan(&s)
        .ipv4
        .expect("v4");
    assert_eq!(v4.fallback, FallbackUsed::None);
    assert_eq!(v4.source.to_string(), "203.0.113.10");
}
