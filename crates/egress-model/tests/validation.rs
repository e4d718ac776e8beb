//! Every validation rule, each with the message an operator sees.

use egress_model::{Config, ConfigError, Rule, ValidationError};

const EXAMPLE: &str = include_str!("../../../examples/egressd.toml");

fn errors_of(text: &str) -> Vec<ValidationError> {
    match Config::from_toml(text, "t.toml") {
        Err(ConfigError::Invalid(errors)) => errors,
        Err(other) => panic!("expected validation errors, got {other}"),
        Ok(_) => panic!("expected validation errors, the configuration was accepted"),
    }
}

/// Asserts exactly one error of `rule` at `path` whose message contains `needle`.
fn expect_one(text: &str, rule: Rule, path: &str, needle: &str) -> ValidationError {
    let errors = errors_of(text);
    let hits: Vec<_> = errors.iter().filter(|e| e.rule == rule).collect();
    assert_eq!(hits.len(), 1, "want one {rule:?}, got {errors:#?}");
    let e = hits[0].clone();
    assert_eq!(e.path, path, "{e}");
    assert!(
        e.message.contains(needle),
        "message {:?} lacks {needle:?}",
        e.message
    );
    assert_eq!(e.origin, "t.toml");
    e
}

fn edit(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "fixture lacks {from:?}");
    EXAMPLE.replacen(from, to, 1)
}

#[test]
fn the_example_is_valid() {
    let config =
        Config::from_toml(EXAMPLE, "examples/egressd.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.locations.len(), 3);
    assert_eq!(config.accounts.len(), 2);
    // And survives a round trip through TOML.
    let again = Config::from_toml(&config.to_toml(), "round-trip").expect("valid");
    assert_eq!(again, config);
}

#[test]
fn rule3_dedicated_method_needs_a_fallback() {
    let text = edit(
        r#"{ ipv4 = "203.0.113.10", ipv4_fallback = "203.0.113.20" }"#,
        r#"{ ipv4 = "203.0.113.10" }"#,
    );
    let e = expect_one(
        &text,
        Rule::FallbackRequired,
        r#"accounts["acme"].policies["bank via lax"].method.ipv4_fallback"#,
        "must name ipv4_fallback",
    );
    assert!(
        e.to_string().starts_with("t.toml: accounts[\"acme\"]"),
        "{e}"
    );
    assert!(e.to_string().ends_with("[fallback_required]"), "{e}");
}

#[test]
fn rule3_fallback_of_another_account_is_refused() {
    let text = edit(
        r#"{ ipv4 = "203.0.113.10", ipv4_fallback = "203.0.113.20" }"#,
        r#"{ ipv4 = "203.0.113.10", ipv4_fallback = "203.0.113.40" }"#,
    );
    expect_one(
        &text,
        Rule::IpOwnership,
        r#"accounts["acme"].policies["bank via lax"].method.ipv4_fallback"#,
        "203.0.113.40 belongs to account globex",
    );
}

#[test]
fn rule3_fallback_in_the_primary_location_is_refused() {
    let text = edit(
        "[[accounts.dedicated_ips]]\nipv4 = \"203.0.113.20\"\nipv6 = \"2001:db8:e000:20::/64\"\nlocation = \"nyc\"",
        "[[accounts.dedicated_ips]]\nipv4 = \"203.0.113.20\"\nipv6 = \"2001:db8:e000:20::/64\"\nlocation = \"lax\"",
    );
    let errors = errors_of(&text);
    let e = errors
        .iter()
        .find(|e| e.rule == Rule::FallbackSameLocation)
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert_eq!(
        e.path,
        r#"accounts["acme"].policies["bank via lax"].method.ipv4_fallback"#
    );
    assert!(
        e.message.contains("same location as the primary"),
        "{}",
        e.message
    );
}

#[test]
fn rule11_fewer_than_two_cities_is_refused() {
    let text = edit(
        "ipv4 = \"192.0.2.10\"\nipv6 = \"2001:db8:beef:10::/64\"\nlocation = \"nyc\"",
        "ipv4 = \"192.0.2.10\"\nipv6 = \"2001:db8:beef:10::/64\"\nlocation = \"fra\"",
    );
    expect_one(
        &text,
        Rule::TooFewDedicatedIps,
        r#"accounts["globex"].dedicated_ips"#,
        "at least two dedicated IPs in two different cities",
    );
}

#[test]
fn single_location_declared_with_several_locations_is_refused() {
    let text = edit("[deployment]\n", "[deployment]\nsingle_location = true\n");
    expect_one(
        &text,
        Rule::NotSingleLocation,
        "deployment.single_location",
        "3 locations",
    );
}

#[test]
fn rule12_an_ipv4_is_held_once() {
    let text = edit("ipv4 = \"203.0.113.40\"", "ipv4 = \"203.0.113.30\"");
    let errors = errors_of(&text);
    let e = errors
        .iter()
        .find(|e| e.rule == Rule::IpOwnership && e.path.ends_with(".ipv4"))
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert_eq!(
        e.path,
        r#"accounts["globex"].dedicated_ips[203.0.113.30].ipv4"#
    );
    assert!(
        e.message.contains("it belongs to account acme"),
        "{}",
        e.message
    );
}

#[test]
fn rule12_an_ipv6_range_is_held_once() {
    let text = edit(
        "ipv6 = \"2001:db8:e000:40::/64\"",
        "ipv6 = \"2001:db8:e000:30::/64\"",
    );
    expect_one(
        &text,
        Rule::IpOwnership,
        r#"accounts["globex"].dedicated_ips[203.0.113.40].ipv6"#,
        "already held by account acme",
    );
}

#[test]
fn policy_naming_an_ip_of_another_account_is_refused() {
    let text = edit(
        r#"{ ipv4 = "192.0.2.10", ipv4_fallback = "203.0.113.40" }"#,
        r#"{ ipv4 = "203.0.113.10", ipv4_fallback = "203.0.113.40" }"#,
    );
    expect_one(
        &text,
        Rule::IpOwnership,
        r#"accounts["globex"].policies["ops console"].method.ipv4"#,
        "203.0.113.10 belongs to account acme, not to globex",
    );
}

#[test]
fn policy_naming_an_unknown_ip_is_refused() {
    let text = edit(
        r#"{ ipv4 = "192.0.2.10", ipv4_fallback = "203.0.113.40" }"#,
        r#"{ ipv4 = "192.0.2.99", ipv4_fallback = "203.0.113.40", ipv6 = "2001:db8:ffff::/64" }"#,
    );
    let errors = errors_of(&text);
    let unknown: Vec<_> = errors
        .iter()
        .filter(|e| e.rule == Rule::UnknownDedicatedIp)
        .collect();
    assert_eq!(unknown.len(), 2, "{errors:#?}");
    assert!(unknown[0]
        .message
        .contains("192.0.2.99 is not one of the account's dedicated IPs"));
    assert!(unknown[1].message.contains("2001:db8:ffff::/64"));
}

#[test]
fn duplicate_precedences_are_refused() {
    let text = edit("precedence = 20\n", "precedence = 10\n");
    expect_one(
        &text,
        Rule::DuplicatePrecedence,
        r#"accounts["acme"].policies["partner api via nyc"].precedence"#,
        "precedence 10 is already used by policy \"bank via lax\"",
    );
}

#[test]
fn leased_ip_outside_every_pool_is_refused() {
    let text = edit("ipv4 = \"203.0.113.40\"", "ipv4 = \"198.18.9.9\"")
        .replacen(
            r#"ipv4 = "203.0.113.40", ipv4_fallback"#,
            r#"ipv4 = "198.18.9.9", ipv4_fallback"#,
            1,
        )
        .replacen(
            r#"ipv4_fallback = "203.0.113.40""#,
            r#"ipv4_fallback = "198.18.9.9""#,
            1,
        );
    expect_one(
        &text,
        Rule::OutsideDeclaredPrefix,
        r#"accounts["globex"].dedicated_ips[198.18.9.9].ipv4"#,
        "198.18.9.9 (leased) is not inside any address pool",
    );
}

#[test]
fn byoip_outside_the_account_prefixes_is_refused() {
    let text = edit(
        "ipv6 = \"2001:db8:beef:10::/64\"",
        "ipv6 = \"2001:db8:cafe:10::/64\"",
    );
    expect_one(
        &text,
        Rule::OutsideDeclaredPrefix,
        r#"accounts["globex"].dedicated_ips[192.0.2.10].ipv6"#,
        "is not inside the account's byoip_prefixes",
    );
}

#[test]
fn dedicated_ipv6_must_be_a_slash_64() {
    let text = edit(
        "ipv6 = \"2001:db8:e000:30::/64\"",
        "ipv6 = \"2001:db8:e000:30::/60\"",
    );
    expect_one(
        &text,
        Rule::Ipv6NotSlash64,
        r#"accounts["acme"].dedicated_ips[203.0.113.30].ipv6"#,
        "must be a /64",
    );
}

#[test]
fn unknown_locations_are_refused() {
    let text = edit(
        "id = \"fra-1\"\nlocation = \"fra\"",
        "id = \"fra-1\"\nlocation = \"ams\"",
    );
    expect_one(
        &text,
        Rule::UnknownLocation,
        r#"nodes["fra-1"].location"#,
        "no location has code ams",
    );
    let text = edit(
        "ipv6 = \"2001:db8:e000:30::/64\"\nlocation = \"fra\"",
        "ipv6 = \"2001:db8:e000:30::/64\"\nlocation = \"ams\"",
    );
    expect_one(
        &text,
        Rule::UnknownLocation,
        r#"accounts["acme"].dedicated_ips[203.0.113.30].location"#,
        "no location has code ams",
    );
}

#[test]
fn unknown_groups_are_refused() {
    let text = edit(
        "groups = [\"engineering\"]\n",
        "groups = [\"enginering\"]\n",
    );
    expect_one(
        &text,
        Rule::UnknownGroup,
        r#"accounts["acme"].users["bob"].groups"#,
        "group \"enginering\" is not declared",
    );
}

#[test]
fn unparsable_expressions_name_the_column() {
    let text = edit(
        "net.dst.port == 443'\nidentity",
        "net.dst.prot == 443'\nidentity",
    );
    let e = expect_one(
        &text,
        Rule::Expression,
        r#"accounts["acme"].policies["bank via lax"].traffic"#,
        "column 52",
    );
    assert!(e.message.contains("net.dst.prot"), "{}", e.message);
}

#[test]
fn identity_fields_in_a_traffic_expression_are_refused() {
    let text = edit(
        "traffic = 'net.dst.port != 22'",
        "traffic = 'identity.name == \"x\"'",
    );
    expect_one(
        &text,
        Rule::WrongFieldKind,
        r#"accounts["acme"].policies["retired rule"].traffic"#,
        "identity.name belongs in the identity expression",
    );
}

#[test]
fn duplicates_are_refused() {
    let text = edit("code = \"nyc\"", "code = \"lax\"");
    let errors = errors_of(&text);
    assert!(
        errors
            .iter()
            .any(|e| e.rule == Rule::Duplicate && e.message == "location code lax is used twice"),
        "{errors:#?}"
    );
    let text = edit("name = \"bob\"", "name = \"alice\"");
    let errors = errors_of(&text);
    assert!(
        errors
            .iter()
            .any(|e| e.message == "user alice is declared twice"),
        "{errors:#?}"
    );
    let text = edit("ipv6_slice = 2", "ipv6_slice = 1");
    expect_one(
        &text,
        Rule::DuplicateIpv6Slice,
        r#"locations["nyc"].ipv6_slice"#,
        "already used by location lax",
    );
}

#[test]
fn overlapping_default_ranges_are_refused() {
    let text = edit("ipv4 = \"198.51.100.16/28\"", "ipv4 = \"198.51.100.0/27\"");
    expect_one(
        &text,
        Rule::Overlap,
        r#"locations["nyc"].default_egress"#,
        "overlaps the default range of location lax",
    );
}

#[test]
fn malformed_location_fields_are_refused() {
    let text = edit("region = \"DE-HE\"", "region = \"Hesse\"");
    expect_one(
        &text,
        Rule::BadLocation,
        r#"locations["fra"].region"#,
        "not an ISO 3166-2 code",
    );
    let text = edit("country = \"DE\"", "country = \"Germany\"");
    let errors = errors_of(&text);
    assert!(
        errors
            .iter()
            .any(|e| e.path == r#"locations["fra"].country"#),
        "{errors:#?}"
    );
    let text = edit("latitude = 50.11", "latitude = 150.11");
    expect_one(
        &text,
        Rule::BadLocation,
        r#"locations["fra"]"#,
        "latitude must be within",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = edit("precedence = 20\n", "precedence = 10\n")
        .replacen("region = \"DE-HE\"", "region = \"Hesse\"", 1)
        .replacen(
            r#"{ ipv4 = "203.0.113.10", ipv4_fallback = "203.0.113.20" }"#,
            r#"{ ipv4 = "203.0.113.10" }"#,
            1,
        );
    let rules: Vec<Rule> = errors_of(&text).iter().map(|e| e.rule).collect();
    assert!(rules.contains(&Rule::DuplicatePrecedence));
    assert!(rules.contains(&Rule::BadLocation));
    assert!(rules.contains(&Rule::FallbackRequired));
}

#[test]
fn a_source_prefix_endpoint_cannot_share_another_accounts_listener() {
    // globex's credentials listener 0.0.0.0:3129; acme adds a catch-all source-prefix endpoint on it.
    let text = edit(
        "[[accounts.proxy_endpoints]]\nname = \"office-socks\"",
        "[[accounts.proxy_endpoints]]\nname = \"grab\"\nprotocol = \"http\"\nlisten = \"0.0.0.0:3129\"\nauthorization = { source_prefixes = [\"0.0.0.0/0\"] }\n\n[[accounts.proxy_endpoints]]\nname = \"office-socks\"",
    );
    let errors = errors_of(&text);
    let e = errors
        .iter()
        .find(|e| e.rule == Rule::BadProxyEndpoint)
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert!(
        e.message.contains(
            "share a listening address only when every endpoint on it asks for credentials"
        ),
        "{e}"
    );
    // Two credentials endpoints of different accounts may share one.
    let text = edit(
        "[[accounts.proxy_endpoints]]\nname = \"office-socks\"",
        "[[accounts.proxy_endpoints]]\nname = \"shared\"\nprotocol = \"http\"\nlisten = \"0.0.0.0:3129\"\nauthorization = \"credentials\"\n\n[[accounts.proxy_endpoints]]\nname = \"office-socks\"",
    );
    assert!(Config::from_toml(&text, "t.toml").is_ok());
    // One address, two protocols: refused.
    let text = edit(
        "[[accounts.proxy_endpoints]]\nname = \"office-socks\"",
        "[[accounts.proxy_endpoints]]\nname = \"mixed\"\nprotocol = \"socks5\"\nlisten = \"0.0.0.0:3128\"\nauthorization = \"credentials\"\n\n[[accounts.proxy_endpoints]]\nname = \"office-socks\"",
    );
    let errors = errors_of(&text);
    assert!(
        errors.iter().any(|e| e
            .message
            .contains("one listening address speaks one protocol")),
        "{errors:#?}"
    );
}

#[test]
fn dedicated_ip_status_defaults_to_active_and_refuses_unknown_words() {
    let config = Config::from_toml(EXAMPLE, "t.toml").expect("valid");
    let statuses: Vec<_> = config
        .accounts
        .iter()
        .flat_map(|a| &a.dedicated_ips)
        .map(|ip| ip.status)
        .collect();
    assert!(statuses
        .iter()
        .all(|s| *s == egress_model::IpStatus::Active));

    let marked = |status: &str| {
        edit(
            "ipv4 = \"203.0.113.30\"\n",
            &format!("ipv4 = \"203.0.113.30\"\nstatus = \"{status}\"\n"),
        )
    };
    let draining = Config::from_toml(&marked("draining"), "t.toml").expect("valid");
    let ip = draining.accounts[0]
        .dedicated_ips
        .iter()
        .find(|ip| ip.ipv4.to_string() == "203.0.113.30")
        .expect("declared");
    assert_eq!(ip.status, egress_model::IpStatus::Draining);

    match Config::from_toml(&marked("retired"), "t.toml") {
        Err(ConfigError::Parse(e)) => {
            let text = e.to_string();
            assert!(
                text.contains("retired") && text.contains("draining"),
                "{text}"
            );
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn geofeed_leaves_out_byoip_unless_asked() {
    let config = Config::from_toml(EXAMPLE, "t.toml").expect("valid");
    assert!(!config.deployment.geofeed_include_byoip);
    let text = edit(
        "[deployment]\n",
        "[deployment]\ngeofeed_include_byoip = true\n",
    );
    let config = Config::from_toml(&text, "t.toml").expect("valid");
    assert!(config.deployment.geofeed_include_byoip);
}

const MASQUE: &str = "[[accounts.proxy_endpoints]]\nname = \"office-h3\"\nprotocol = \"masque\"\nlisten = \"0.0.0.0:3128\"\nauthorization = \"credentials\"\n";
const OFFICE_SOCKS: &str = "[[accounts.proxy_endpoints]]\nname = \"office-socks\"";

#[test]
fn a_masque_endpoint_needs_tls_and_may_share_a_tcp_endpoints_port() {
    // UDP 3128 beside the HTTP proxy on TCP 3128: two listeners, no conflict.
    let tls = "tls = { certificate = \"/etc/egressd/h3.pem\", key = \"/etc/egressd/h3.key\" }\n\n";
    let text = edit(OFFICE_SOCKS, &format!("{MASQUE}{tls}{OFFICE_SOCKS}"));
    let config = Config::from_toml(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let masque = config.accounts[0]
        .proxy_endpoints
        .iter()
        .find(|e| e.name == "office-h3")
        .expect("declared");
    assert_eq!(masque.protocol, egress_model::ProxyProtocol::Masque);
    let tls = masque.tls.as_ref().expect("tls");
    assert_eq!(tls.certificate, std::path::Path::new("/etc/egressd/h3.pem"));

    let text = edit(OFFICE_SOCKS, &format!("{MASQUE}\n{OFFICE_SOCKS}"));
    expect_one(
        &text,
        Rule::BadProxyEndpoint,
        "accounts[\"acme\"].proxy_endpoints[\"office-h3\"].tls",
        "a masque endpoint needs tls",
    );
}

#[test]
fn tls_is_refused_on_tcp_endpoints_and_unknown_tls_keys_are_refused() {
    let text = edit(
        "listen = \"0.0.0.0:1080\"\n",
        "listen = \"0.0.0.0:1080\"\ntls = { certificate = \"a.pem\", key = \"a.key\" }\n",
    );
    expect_one(
        &text,
        Rule::BadProxyEndpoint,
        "accounts[\"acme\"].proxy_endpoints[\"office-socks\"].tls",
        "only masque endpoints take tls; socks5 listens without TLS",
    );
    let text = edit(
        OFFICE_SOCKS,
        &format!(
            "{MASQUE}tls = {{ certificate = \"a.pem\", key = \"a.key\", chain = \"b.pem\" }}\n\n{OFFICE_SOCKS}"
        ),
    );
    match Config::from_toml(&text, "t.toml") {
        Err(ConfigError::Parse(e)) => assert!(e.to_string().contains("chain"), "{e}"),
        other => panic!("expected a parse error naming `chain`, got {other:?}"),
    }
}

#[test]
fn masque_endpoints_sharing_a_listener_present_one_certificate() {
    let other_account = "[[accounts.proxy_endpoints]]\nname = \"globex-h3\"\nprotocol = \"masque\"\nlisten = \"0.0.0.0:3128\"\nauthorization = \"credentials\"\ntls = { certificate = \"/etc/egressd/other.pem\", key = \"/etc/egressd/h3.key\" }\n\n[[accounts.proxy_endpoints]]\nname = \"globex-http\"";
    let text = edit(
        OFFICE_SOCKS,
        &format!(
            "{MASQUE}tls = {{ certificate = \"/etc/egressd/h3.pem\", key = \"/etc/egressd/h3.key\" }}\n\n{OFFICE_SOCKS}"
        ),
    )
    .replacen(
        "[[accounts.proxy_endpoints]]\nname = \"globex-http\"",
        other_account,
        1,
    );
    expect_one(
        &text,
        Rule::BadProxyEndpoint,
        "accounts[\"globex\"].proxy_endpoints[\"globex-h3\"].tls",
        "one QUIC listener presents one certificate and key",
    );
}
