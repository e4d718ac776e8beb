use super::*;

fn canonical(src: &str) -> String {
    parse(src)
        .unwrap_or_else(|err| panic!("{src:?} should parse: {err}"))
        .to_string()
}

fn same_tree(a: &str, b: &str) -> bool {
    parse(a).expect("first parses") == parse(b).expect("second parses")
}

/// The column and message of the error `src` gives.
fn error(src: &str) -> (usize, String) {
    let err = parse(src).expect_err("should fail");
    (err.column, err.message)
}

#[test]
fn whitespace_only_is_the_empty_expression() {
    for src in ["", "  \t\n "] {
        let expr = parse(src).expect("empty parses");
        assert!(expr.is_empty());
        assert_eq!(expr.to_string(), "");
        assert_eq!(expr.fields().count(), 0);
    }
}

#[test]
fn operator_spellings_print_in_canonical_form() {
    let cases = [
        ("net.dst.port eq 443", "net.dst.port == 443"),
        ("net.dst.port ne 443", "net.dst.port != 443"),
        ("net.dst.port!=443", "net.dst.port != 443"),
        ("net.fqdn.host ~ \"a\"", "net.fqdn.host matches \"a\""),
        ("net.src.port in {1,2, 3}", "net.src.port in {1 2 3}"),
        ("net.src.port not in {1..9}", "net.src.port not in {1..9}"),
        ("net.src.port in {}", "net.src.port in {}"),
        (
            "net.dst.port==1&&net.src.port==2||!net.src.port==3",
            "net.dst.port == 1 and net.src.port == 2 or not net.src.port == 3",
        ),
    ];
    for (src, printed) in cases {
        assert_eq!(canonical(src), printed, "{src}");
    }
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    let (a, b, c) = (
        "net.src.port == 1",
        "net.src.port == 2",
        "net.src.port == 3",
    );
    assert!(same_tree(
        &format!("{a} or {b} and not {c}"),
        &format!("{a} or ({b} and (not {c}))")
    ));
    assert!(same_tree(
        &format!("not {a} and {b}"),
        &format!("(not {a}) and {b}")
    ));
    assert!(!same_tree(
        &format!("not {a} and {b}"),
        &format!("not ({a} and {b})")
    ));
    assert!(!same_tree(
        &format!("{a} and {b} or {c}"),
        &format!("{a} and ({b} or {c})")
    ));
}

#[test]
fn parentheses_print_only_where_they_change_the_tree() {
    let (a, b, c) = (
        "net.src.port == 1",
        "net.src.port == 2",
        "net.src.port == 3",
    );
    assert_eq!(canonical(&format!("(({a}))")), a);
    assert_eq!(
        canonical(&format!("({a} and {b}) or {c}")),
        format!("{a} and {b} or {c}")
    );
    assert_eq!(
        canonical(&format!("{a} and ({b} or {c})")),
        format!("{a} and ({b} or {c})")
    );
    assert_eq!(
        canonical(&format!("({a} or {b}) or {c}")),
        format!("({a} or {b}) or {c}")
    );
    assert_eq!(
        canonical(&format!("not ({a} and {b})")),
        format!("not ({a} and {b})")
    );
    assert_eq!(canonical(&format!("!!{a}")), format!("not not {a}"));
}

#[test]
fn every_field_parses_and_is_reported_by_fields() {
    let src = [
        "net.src.ip == 10.0.0.1",
        "net.src.port == 1",
        "net.dst.ip == 10.0.0.0/8",
        "net.dst.port == 443",
        "net.protocol == \"udp\"",
        "net.fqdn.host == \"a.example.com\"",
        "net.fqdn.domains == \"example.com\"",
        "net.proxy_endpoint == \"office\"",
        "net.src.internal_src_ip in {192.168.0.0/16}",
        "net.dst.geo.country == \"US\"",
        "net.dst.geo.continent == \"NA\"",
        "net.src.geo.country == \"DE\"",
        "net.src.geo.continent == \"EU\"",
        "identity.email == \"a@b.c\"",
        "identity.name == \"Ann\"",
        "any(identity.groups.name[*] == \"finance\")",
    ]
    .join(" and ");
    let expr = parse(&src).expect("every field parses");
    assert_eq!(expr.fields().collect::<Vec<_>>(), Field::ALL);
    assert_eq!(expr.to_string(), src);
}

#[test]
fn fields_lists_each_field_once() {
    let expr =
        parse("net.dst.port == 1 or net.dst.port == 2 and identity.name == \"x\"").expect("parses");
    assert_eq!(
        expr.fields().collect::<Vec<_>>(),
        [Field::DstPort, Field::IdentityName]
    );
}

#[test]
fn ip_sets_take_addresses_cidrs_and_ranges() {
    assert_eq!(
        canonical("net.dst.ip in {203.0.113.0/24, 2001:db8::/32 10.0.0.1..10.0.0.9 ::1 fe80::1}"),
        "net.dst.ip in {203.0.113.0/24 2001:db8::/32 10.0.0.1..10.0.0.9 ::1 fe80::1}"
    );
    assert_eq!(
        canonical("net.dst.ip == 10.0.0.1/32"),
        "net.dst.ip == 10.0.0.1"
    );
}

#[test]
fn strings_print_with_escapes_and_raw_strings_print_quoted() {
    assert_eq!(
        canonical(r#"identity.name in {"say \"hi\"" "a\\b"}"#),
        r#"identity.name in {"say \"hi\"" "a\\b"}"#
    );
    assert_eq!(
        canonical(r#"net.fqdn.host matches r"^api\.example\.com$""#),
        r#"net.fqdn.host matches "^api\\.example\\.com$""#
    );
    assert!(same_tree(
        r#"net.fqdn.host matches "^api\.example\.com$""#,
        r#"net.fqdn.host matches r"^api\.example\.com$""#
    ));
}

#[test]
fn any_accepts_equality_sets_and_regexes_on_groups() {
    for src in [
        "any(identity.groups.name[*] in {\"a\" \"b\"})",
        "any(identity.groups.name[*] == \"a\")",
        "any(identity.groups.name[*] matches \"^fin\")",
        "not any(identity.groups.name[*] == \"a\")",
    ] {
        assert_eq!(canonical(src), src);
    }
}

#[test]
fn unknown_field_is_named_with_a_suggestion() {
    assert_eq!(
        error("net.dst.port == 1 and net.dst.prot == 2"),
        (
            23,
            "unknown field `net.dst.prot` (did you mean `net.dst.port`?)".into()
        )
    );
    assert_eq!(
        error("ip.src == 1.2.3.4"),
        (1, "unknown field `ip.src`".into())
    );
    assert_eq!(
        error("in == 1"),
        (1, "expected a field name, found keyword `in`".into())
    );
}

#[test]
fn type_mismatches_name_the_field_and_what_was_found() {
    let cases = [
        (
            "net.dst.port in {80 \"x\"}",
            21,
            "net.dst.port expects a port or port range, found string \"x\" (write it without quotes)",
        ),
        ("net.dst.port == 10.0.0.1", 17, "net.dst.port expects a port, found IP address 10.0.0.1"),
        ("net.dst.ip == 443", 15, "net.dst.ip expects an IP address or CIDR, found number 443"),
        (
            "net.src.ip in {\"10.0.0.1\"}",
            16,
            "net.src.ip expects an IP address, CIDR or IP range, found string \"10.0.0.1\" (write it without quotes)",
        ),
        (
            "net.protocol == tcp",
            17,
            "net.protocol expects a string, found `tcp` (strings are double-quoted)",
        ),
        ("net.protocol == \"icmp\"", 17, "net.protocol expects \"tcp\" or \"udp\", found \"icmp\""),
        ("net.dst.port matches \"1\"", 14, "`matches` applies to string fields; net.dst.port is not a string"),
        ("identity.name matches foo", 23, "`matches` expects a regex string, found `foo`"),
        ("net.dst.port == 1..2", 17, "a range needs a set: write `net.dst.port in {1..2}`"),
        ("net.dst.ip in 10.0.0.1", 15, "expected `{` after `in`, found `10.0.0.1`"),
    ];
    for (src, column, message) in cases {
        assert_eq!(error(src), (column, message.to_string()), "{src}");
    }
}

#[test]
fn groups_outside_any_is_a_type_error() {
    let (column, message) = error("identity.groups.name == \"a\"");
    assert_eq!(column, 1);
    assert!(
        message.starts_with(
            "identity.groups.name is an array: write `any(identity.groups.name[*] in {\"name\"})`"
        ),
        "{message}"
    );
    assert_eq!(
        error("any(net.dst.port[*] == 1)"),
        (
            5,
            "any() takes identity.groups.name[*]; net.dst.port is not an array".into()
        )
    );
    assert_eq!(
        error("net.dst.port[*] == 1"),
        (
            13,
            "net.dst.port is not an array; only identity.groups.name[*] takes `[*]`".into()
        )
    );
    assert_eq!(
        error("any(identity.groups.name[*] != \"a\")"),
        (
            29,
            "inside any(), use `==`, `in` or `matches`; negate with `not any(…)`".into()
        )
    );
    assert_eq!(
        error("any(identity.groups.name == \"a\")"),
        (
            26,
            "expected `[` after identity.groups.name inside any(), found `==`".into()
        )
    );
}

#[test]
fn literal_errors_point_into_the_literal() {
    let cases = [
        (
            "net.dst.ip in {10.0.0.0/33}",
            25,
            "invalid CIDR 10.0.0.0/33: prefix length 33 is longer than 32",
        ),
        (
            "net.dst.ip == 10.1.2.3/8",
            15,
            "invalid CIDR 10.1.2.3/8: host bits are set (did you mean 10.0.0.0/8?)",
        ),
        (
            "net.dst.ip == 10.0.0.256",
            15,
            "invalid IP address 10.0.0.256",
        ),
        (
            "net.dst.port in {1..70000}",
            21,
            "port 70000 is out of range (0 to 65535)",
        ),
        (
            "net.dst.port == 99999999999999999999999",
            17,
            "port 99999999999999999999999 is out of range (0 to 65535)",
        ),
        (
            "net.dst.port in {9000..8000}",
            18,
            "range start 9000 is greater than end 8000",
        ),
        (
            "net.dst.ip in {10.0.0.9..10.0.0.1}",
            16,
            "range start 10.0.0.9 is greater than end 10.0.0.1",
        ),
        (
            "identity.name == \"open",
            18,
            "unterminated string (missing closing `\"`)",
        ),
    ];
    for (src, column, message) in cases {
        assert_eq!(error(src), (column, message.to_string()), "{src}");
    }
}

#[test]
fn invalid_regex_points_at_the_string_literal() {
    let (column, message) = error("net.fqdn.host == \"a\" or net.fqdn.host matches \"(a\"");
    assert_eq!(column, 47);
    assert_eq!(message, "invalid regex \"(a\": unclosed group");
}

#[test]
fn unbalanced_parentheses_point_at_the_lone_one() {
    assert_eq!(
        error("(net.dst.port == 1"),
        (1, "unbalanced parenthesis: `(` is never closed".into())
    );
    assert_eq!(
        error("net.dst.port == 1)"),
        (18, "unbalanced parenthesis: `)` has no matching `(`".into())
    );
    assert_eq!(
        error("net.dst.ip in {10.0.0.1"),
        (15, "unterminated set: `{` is never closed".into())
    );
    assert_eq!(
        error("any(identity.groups.name[*] == \"a\""),
        (4, "unbalanced parenthesis: `any(` is never closed".into())
    );
}

#[test]
fn unexpected_tokens_and_end_of_input_are_named() {
    let cases = [
        ("net.dst.port == 1 net.src.port == 2", 19, "expected `and`, `or` or end of input, found `net.src.port`"),
        ("net.dst.port", 13, "expected an operator (`==`, `!=`, `in`, `not in`, `matches`) after net.dst.port, found end of input"),
        ("net.dst.port ==", 16, "net.dst.port expects a port, found end of input"),
        ("net.dst.port == 1 and", 22, "expected a field name, found end of input"),
        ("net.dst.port == 1 and )", 23, "expected a field name, found `)`"),
        ("(net.dst.port == 1 }", 20, "expected `and`, `or` or `)`, found `}`"),
        ("net.dst.port = 1", 14, "unexpected `=` (did you mean `==`?)"),
    ];
    for (src, column, message) in cases {
        assert_eq!(error(src), (column, message.to_string()), "{src}");
    }
}

#[test]
fn nesting_is_limited() {
    let deep = format!("{}net.dst.port == 1{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(
        error(&deep),
        (65, "expression nested more than 64 levels deep".into())
    );
    let nots = format!("{}net.dst.port == 1", "not ".repeat(100));
    assert_eq!(error(&nots).1, "expression nested more than 64 levels deep");
    let fine = format!("{}net.dst.port == 1{}", "(".repeat(60), ")".repeat(60));
    assert!(parse(&fine).is_ok());
}

#[test]
fn regex_over_the_size_limit_is_refused_at_parse_time() {
    let (column, message) = error(r#"identity.name matches "(\w{100}){100}""#);
    assert_eq!(column, 23);
    assert!(
        message
            .starts_with(r#"invalid regex "(\\w{100}){100}": Compiled regex exceeds size limit"#),
        "{message}"
    );
}
