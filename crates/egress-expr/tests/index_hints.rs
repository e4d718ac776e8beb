//! Which destination constraints an expression exposes for indexing.

use egress_expr::{parse, IndexHints};
use ipnet::IpNet;

fn hints(src: &str) -> IndexHints {
    parse(src)
        .unwrap_or_else(|err| panic!("{src:?} should parse: {err}"))
        .index_hints()
}

fn nets(list: &[&str]) -> Option<Vec<IpNet>> {
    Some(
        list.iter()
            .map(|net| net.parse().expect("test net"))
            .collect(),
    )
}

#[test]
fn empty_expression_has_no_hints() {
    assert_eq!(hints(""), IndexHints::default());
}

#[test]
fn positive_terms_of_a_conjunction_give_hints() {
    let found = hints("net.dst.ip in {203.0.113.0/24 2001:db8::/32} and net.dst.port == 443");
    assert_eq!(found.dst_ip, nets(&["203.0.113.0/24", "2001:db8::/32"]));
    assert_eq!(found.dst_port, Some(vec![(443, 443)]));
}

#[test]
fn single_addresses_become_host_prefixes_and_ranges_exact_cidrs() {
    assert_eq!(
        hints("net.dst.ip == 10.0.0.1").dst_ip,
        nets(&["10.0.0.1/32"])
    );
    assert_eq!(
        hints("net.dst.ip in {10.0.0.1..10.0.0.6}").dst_ip,
        nets(&["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"])
    );
}

#[test]
fn conjunctions_intersect_their_hints() {
    let found = hints(
        "net.dst.ip in {10.0.0.0/8 192.0.2.0/24} and net.dst.ip in {10.1.0.0/16 198.51.100.0/24} \
         and net.dst.port in {80..450} and net.dst.port in {443 8443}",
    );
    assert_eq!(found.dst_ip, nets(&["10.1.0.0/16"]));
    assert_eq!(found.dst_port, Some(vec![(443, 443)]));
    assert_eq!(
        hints("net.dst.port == 80 and net.dst.port == 443").dst_port,
        Some(vec![])
    );
}

#[test]
fn terms_on_other_fields_do_not_widen_a_conjunction() {
    let found =
        hints("net.dst.port == 443 and identity.email == \"a@b.c\" and net.src.ip == 10.0.0.1");
    assert_eq!(found.dst_port, Some(vec![(443, 443)]));
    assert_eq!(found.dst_ip, None);
}

#[test]
fn disjunctions_give_hints_only_when_every_branch_does() {
    let found = hints("net.dst.port == 443 or net.dst.port in {80 81}");
    assert_eq!(found.dst_port, Some(vec![(80, 81), (443, 443)]));
    assert_eq!(
        hints("net.dst.port == 443 or net.protocol == \"udp\"").dst_port,
        None
    );
    let nested = hints(
        "net.dst.ip == 10.0.0.0/8 and (net.dst.port == 443 or net.dst.port == 80 and net.protocol == \"tcp\")",
    );
    assert_eq!(nested.dst_ip, nets(&["10.0.0.0/8"]));
    assert_eq!(nested.dst_port, Some(vec![(80, 80), (443, 443)]));
}

#[test]
fn negations_give_no_hints() {
    for src in [
        "not net.dst.port == 443",
        "net.dst.port != 443",
        "net.dst.ip not in {10.0.0.0/8}",
        "not (net.dst.ip == 10.0.0.0/8 and net.dst.port == 443)",
    ] {
        assert_eq!(hints(src), IndexHints::default(), "{src}");
    }
    assert_eq!(
        hints("not not net.dst.port == 443").dst_port,
        Some(vec![(443, 443)])
    );
}
