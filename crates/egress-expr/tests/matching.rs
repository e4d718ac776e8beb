//! What compiled expressions match, through the public API only.

use std::net::IpAddr;

use egress_expr::{compile, parse, Matcher, Subject};

fn matcher(src: &str) -> Matcher {
    compile(src).unwrap_or_else(|err| panic!("{src:?} should compile: {err}"))
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().expect("test address"))
}

fn web(dst_ip: &str, dst_port: u16) -> Subject<'static> {
    Subject {
        dst_ip: ip(dst_ip),
        dst_port: Some(dst_port),
        protocol: Some("tcp"),
        ..Subject::default()
    }
}

fn host(host: &'static str) -> Subject<'static> {
    Subject {
        fqdn_host: Some(host),
        ..Subject::default()
    }
}

#[test]
fn empty_expression_matches_everything() {
    let empty = matcher("  ");
    assert!(empty.always_true());
    assert!(empty.matches(&Subject::default()));
    assert!(!matcher("net.dst.port == 1").always_true());
}

#[test]
fn ip_equality_takes_an_address_or_a_containing_cidr() {
    let one = matcher("net.dst.ip == 203.0.113.7");
    assert!(one.matches(&web("203.0.113.7", 443)));
    assert!(!one.matches(&web("203.0.113.8", 443)));
    let net = matcher("net.dst.ip == 203.0.113.0/24");
    assert!(net.matches(&web("203.0.113.200", 443)));
    assert!(!net.matches(&web("203.0.114.1", 443)));
    assert!(!net.matches(&web("2001:db8::1", 443)));
    let ne = matcher("net.dst.ip != 203.0.113.0/24");
    assert!(!ne.matches(&web("203.0.113.200", 443)));
    assert!(ne.matches(&web("198.51.100.1", 443)));
}

#[test]
fn ip_sets_take_cidrs_of_both_families_and_ranges() {
    let set = matcher("net.dst.ip in {203.0.113.0/24 2001:db8::/32 10.0.0.1..10.0.0.9}");
    for inside in ["203.0.113.1", "2001:db8:1::5", "10.0.0.1", "10.0.0.9"] {
        assert!(set.matches(&web(inside, 443)), "{inside}");
    }
    for outside in ["10.0.0.10", "10.0.0.0", "2001:db9::1", "192.0.2.1"] {
        assert!(!set.matches(&web(outside, 443)), "{outside}");
    }
    let not_in = matcher("net.dst.ip not in {10.0.0.0/8}");
    assert!(not_in.matches(&web("192.0.2.1", 443)));
    assert!(!not_in.matches(&web("10.1.2.3", 443)));
}

#[test]
fn ipv4_mapped_subject_addresses_compare_as_ipv4() {
    let set = matcher("net.src.ip in {10.0.0.0/8}");
    let mapped = Subject {
        src_ip: ip("::ffff:10.1.2.3"),
        ..Subject::default()
    };
    assert!(set.matches(&mapped));
}

#[test]
fn port_operators_compare_ports_and_ranges() {
    assert!(matcher("net.dst.port == 443").matches(&web("192.0.2.1", 443)));
    assert!(!matcher("net.dst.port == 443").matches(&web("192.0.2.1", 80)));
    assert!(matcher("net.dst.port != 443").matches(&web("192.0.2.1", 80)));
    let set = matcher("net.dst.port in {80, 443 8000..8999}");
    for (port, inside) in [
        (80, true),
        (443, true),
        (8000, true),
        (8999, true),
        (9000, false),
        (81, false),
    ] {
        assert_eq!(set.matches(&web("192.0.2.1", port)), inside, "{port}");
    }
    assert!(matcher("net.dst.port not in {1..1023}").matches(&web("192.0.2.1", 8080)));
}

#[test]
fn protocol_is_compared_as_a_string() {
    let udp = Subject {
        protocol: Some("udp"),
        ..Subject::default()
    };
    assert!(matcher("net.protocol == \"udp\"").matches(&udp));
    assert!(matcher("net.protocol in {\"tcp\" \"udp\"}").matches(&udp));
    assert!(!matcher("net.protocol == \"tcp\"").matches(&udp));
}

#[test]
fn domains_match_the_domain_and_its_subdomains_only() {
    let domains = matcher("net.fqdn.domains == \"example.com\"");
    assert!(domains.matches(&host("example.com")));
    assert!(domains.matches(&host("a.b.example.com")));
    assert!(!domains.matches(&host("badexample.com")));
    assert!(!domains.matches(&host("example.com.evil.net")));
    assert!(!domains.matches(&host("com")));
    let set = matcher("net.fqdn.domains in {\"example.com\" \"example.org\"}");
    assert!(set.matches(&host("www.example.org")));
    assert!(!set.matches(&host("www.example.net")));
    assert!(matcher("net.fqdn.domains not in {\"example.com\"}").matches(&host("example.net")));
}

#[test]
fn host_equality_is_exact_but_ignores_case_and_trailing_dot() {
    let exact = matcher("net.fqdn.host == \"API.Example.com.\"");
    assert!(exact.matches(&host("api.example.com")));
    assert!(!exact.matches(&host("x.api.example.com")));
    assert!(matcher("net.fqdn.domains == \"EXAMPLE.com\"").matches(&host("www.example.com")));
}

#[test]
fn regexes_search_and_ignore_case_on_case_insensitive_fields() {
    let regex = matcher(r#"net.fqdn.host matches "^API\.example\.com$""#);
    assert!(regex.matches(&host("api.example.com")));
    assert!(!regex.matches(&host("api.example.com.evil")));
    assert!(matcher(r#"net.fqdn.host ~ "example""#).matches(&host("www.example.net")));
    assert!(
        matcher(r#"net.fqdn.domains matches "\.example\.com$""#).matches(&host("a.example.com"))
    );
    let name = Subject {
        identity_name: Some("Ann Smith"),
        ..Subject::default()
    };
    assert!(matcher(r#"identity.name matches "^Ann ""#).matches(&name));
    assert!(!matcher(r#"identity.name matches "^ann ""#).matches(&name));
}

#[test]
fn email_is_case_insensitive_and_name_is_not() {
    let person = Subject {
        identity_email: Some("ann@example.com"),
        identity_name: Some("Ann"),
        ..Subject::default()
    };
    assert!(matcher("identity.email == \"Ann@Example.com\"").matches(&person));
    assert!(matcher("identity.name == \"Ann\"").matches(&person));
    assert!(!matcher("identity.name == \"ann\"").matches(&person));
}

#[test]
fn every_string_field_reads_its_own_subject_value() {
    let groups = ["finance".to_string()];
    let subject = Subject {
        src_ip: ip("192.0.2.1"),
        src_port: Some(50000),
        internal_src_ip: ip("10.9.8.7"),
        dst_ip: ip("203.0.113.1"),
        dst_port: Some(443),
        protocol: Some("tcp"),
        fqdn_host: Some("www.example.com"),
        proxy_endpoint: Some("office"),
        dst_geo_country: Some("US"),
        dst_geo_continent: Some("NA"),
        src_geo_country: Some("DE"),
        src_geo_continent: Some("EU"),
        identity_email: Some("ann@example.com"),
        identity_name: Some("Ann"),
        identity_groups: &groups,
    };
    let terms = [
        "net.src.ip == 192.0.2.1",
        "net.src.port == 50000",
        "net.src.internal_src_ip == 10.9.8.7",
        "net.dst.ip == 203.0.113.1",
        "net.dst.port == 443",
        "net.protocol == \"tcp\"",
        "net.fqdn.host == \"www.example.com\"",
        "net.fqdn.domains == \"example.com\"",
        "net.proxy_endpoint == \"office\"",
        "net.dst.geo.country == \"US\"",
        "net.dst.geo.continent == \"NA\"",
        "net.src.geo.country == \"DE\"",
        "net.src.geo.continent == \"EU\"",
        "identity.email == \"ann@example.com\"",
        "identity.name == \"Ann\"",
        "any(identity.groups.name[*] == \"finance\")",
    ];
    for term in terms {
        assert!(matcher(term).matches(&subject), "{term}");
        // Each term is false on a subject where every field is absent.
        assert!(!matcher(term).matches(&Subject::default()), "{term}");
    }
    // Swapping values between fields of the same type must fail.
    for wrong in [
        "net.src.ip == 203.0.113.1",
        "net.dst.port == 50000",
        "net.dst.geo.country == \"DE\"",
        "net.src.geo.continent == \"NA\"",
    ] {
        assert!(!matcher(wrong).matches(&subject), "{wrong}");
    }
}

#[test]
fn any_tests_each_group() {
    let groups = ["eng".to_string(), "finance-emea".to_string()];
    let member = Subject {
        identity_groups: &groups,
        ..Subject::default()
    };
    assert!(matcher("any(identity.groups.name[*] in {\"finance-emea\" \"hr\"})").matches(&member));
    assert!(matcher("any(identity.groups.name[*] == \"eng\")").matches(&member));
    assert!(matcher("any(identity.groups.name[*] matches \"^finance\")").matches(&member));
    assert!(!matcher("any(identity.groups.name[*] == \"hr\")").matches(&member));
    assert!(matcher("not any(identity.groups.name[*] == \"hr\")").matches(&member));
}

#[test]
fn comparisons_on_absent_fields_are_false_even_when_negated() {
    let nothing = Subject::default();
    for src in [
        "net.dst.port != 22",
        "net.dst.port not in {22}",
        "net.dst.ip != 10.0.0.1",
        "net.dst.ip not in {10.0.0.0/8}",
        "identity.email != \"a@b.c\"",
        "net.fqdn.domains not in {\"example.com\"}",
        "net.fqdn.host matches \"\"",
        "any(identity.groups.name[*] matches \"\")",
    ] {
        assert!(!matcher(src).matches(&nothing), "{src}");
    }
    assert!(matcher("not net.dst.port == 22").matches(&nothing));
    assert!(matcher("not any(identity.groups.name[*] == \"x\")").matches(&nothing));
}

#[test]
fn boolean_operators_combine_with_precedence() {
    let subject = web("203.0.113.1", 443);
    assert!(
        matcher("net.dst.port == 80 or net.dst.port == 443 and net.protocol == \"tcp\"")
            .matches(&subject)
    );
    assert!(
        !matcher("(net.dst.port == 80 or net.dst.port == 443) and net.protocol == \"udp\"")
            .matches(&subject)
    );
    assert!(matcher("not net.dst.port == 80 and net.dst.ip == 203.0.113.1").matches(&subject));
    assert!(!matcher("not (net.dst.port == 443 and net.dst.ip == 203.0.113.1)").matches(&subject));
    assert!(
        matcher("net.dst.port == 443 && !(net.protocol == \"udp\" || net.dst.port == 80)")
            .matches(&subject)
    );
}

#[test]
fn compile_of_a_parsed_expression_equals_compile_of_its_text() {
    let src = "net.dst.ip in {203.0.113.0/24} and net.dst.port == 443";
    let expr = parse(src).expect("parses");
    let subject = web("203.0.113.5", 443);
    assert_eq!(
        Matcher::compile(&expr).expect("compiles").matches(&subject),
        matcher(src).matches(&subject)
    );
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Matcher>();
}
