use super::*;

#[test]
fn names_are_lowercased_without_trailing_dot() {
    assert_eq!(
        Host::parse("WWW.Example.COM."),
        Ok(Host::Name("www.example.com".into()))
    );
    assert_eq!(
        Host::parse("a_b-c.example"),
        Ok(Host::Name("a_b-c.example".into()))
    );
}

#[test]
fn ip_literals_are_recognised() {
    assert_eq!(
        Host::parse("192.0.2.1"),
        Ok(Host::Ip("192.0.2.1".parse().expect("ip")))
    );
    assert_eq!(
        Host::parse("[2001:db8::1]"),
        Ok(Host::Ip("2001:db8::1".parse().expect("ip")))
    );
    assert_eq!(
        Host::parse_bare(b"2001:db8::1"),
        Ok(Host::Ip("2001:db8::1".parse().expect("ip")))
    );
}

#[test]
fn invalid_names_are_refused_with_the_problem() {
    assert_eq!(Host::parse(""), Err(HostError::Empty));
    assert_eq!(Host::parse("."), Err(HostError::Empty));
    assert_eq!(Host::parse("a..b"), Err(HostError::EmptyLabel));
    assert_eq!(Host::parse("example.com.."), Err(HostError::EmptyLabel));
    assert_eq!(Host::parse(&"a".repeat(64)), Err(HostError::LabelTooLong));
    let long = vec!["abcdefghi"; 26].join(".");
    assert_eq!(Host::parse(&long), Err(HostError::TooLong));
    assert_eq!(Host::parse("exa mple.com"), Err(HostError::BadByte(b' ')));
    assert_eq!(Host::parse("bücher.de"), Err(HostError::BadByte(0xc3)));
    assert_eq!(Host::parse("::1"), Err(HostError::BadByte(b':')));
    assert_eq!(Host::parse("[::1"), Err(HostError::BadIpv6Literal));
    assert_eq!(Host::parse("[1.2.3.4]"), Err(HostError::BadIpv6Literal));
    assert_eq!(
        Host::parse("[fe80::1%25eth0]"),
        Err(HostError::BadIpv6Literal)
    );
    assert_eq!(
        Host::parse_bare(&[b'a', 0xff]),
        Err(HostError::BadByte(0xff))
    );
}

#[test]
fn names_at_the_length_limits_are_accepted() {
    let label = "a".repeat(63);
    assert!(Host::parse(&label).is_ok());
    let name = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(name.len(), 253);
    assert!(Host::parse(&name).is_ok());
    assert!(Host::parse(&format!("{name}.")).is_ok());
}

#[test]
fn numeric_last_labels_that_resolvers_read_as_ipv4_are_refused() {
    for host in [
        "127.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "example.0x1F",
    ] {
        assert_eq!(
            Host::parse(host),
            Err(HostError::NumericLastLabel),
            "{host}"
        );
    }
    assert!(Host::parse("1.example").is_ok());
    assert!(Host::parse("example.0xg").is_ok());
}

#[test]
fn display_brackets_ipv6() {
    let host = Host::parse("[::1]").expect("valid");
    assert_eq!(host.to_string(), "[::1]");
    assert_eq!(Host::Name("a.b".into()).to_string(), "a.b");
}
