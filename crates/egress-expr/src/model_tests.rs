//! Property tests over random expressions: printing round-trips, the compiled matcher agrees with
//! a plain evaluation of the tree, and index hints never exclude a matching subject.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;
use regex::Regex;

use crate::ast::{Column, Comparison, Expr, IpItem, Node, Op, StrLit, Test, Values};
use crate::compile::normalize;
use crate::field::{Field, Kind};
use crate::{parse, Matcher, Subject};

const STRINGS: [&str; 11] = [
    "a",
    "A",
    "example.com",
    "Example.COM",
    "a.example.com",
    "example.com.",
    "x\"y",
    "b\\c",
    "",
    "é",
    "com",
];
const REGEXES: [&str; 7] = ["^a", r"example\.com$", "A", "", "[a-c]+", "x\"y", r"\d"];
const SUBJECT_STRINGS: [&str; 10] = [
    "a",
    "example.com",
    "a.example.com",
    "badexample.com",
    "tcp",
    "udp",
    "x\"y",
    "é",
    "",
    "com",
];

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..8).prop_map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))),
        (0u16..8).prop_map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i))),
        Just(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
    ]
}

fn ip_item(in_set: bool) -> BoxedStrategy<IpItem> {
    let net = (address(), 0u8..=3).prop_map(|(addr, shorter)| {
        let lengths = if addr.is_ipv4() {
            [32, 30, 24, 8]
        } else {
            [128, 126, 64, 32]
        };
        let net = IpNet::new(addr, lengths[usize::from(shorter)]).expect("valid length");
        IpItem::Net(net.trunc())
    });
    if !in_set {
        return net.boxed();
    }
    let range = (0u8..8, 0u8..8).prop_map(|(a, b)| {
        let (start, end) = (a.min(b), a.max(b));
        IpItem::Range(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, start)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, end)),
        )
    });
    prop_oneof![net, range].boxed()
}

fn port_range(in_set: bool) -> BoxedStrategy<(u16, u16)> {
    let port = prop_oneof![0u16..10, Just(65535)];
    if in_set {
        (port.clone(), port)
            .prop_map(|(a, b)| (a.min(b), a.max(b)))
            .boxed()
    } else {
        port.prop_map(|p| (p, p)).boxed()
    }
}

fn string(field: Field) -> BoxedStrategy<StrLit> {
    let pool: &'static [&'static str] = if field == Field::Protocol {
        &["tcp", "udp"]
    } else {
        &STRINGS
    };
    proptest::sample::select(pool)
        .prop_map(|value| StrLit {
            value: value.to_owned(),
            column: Column(0),
        })
        .boxed()
}

fn values(field: Field, in_set: bool) -> BoxedStrategy<Values> {
    let count = if in_set { 0..4 } else { 1..2 };
    match field.kind() {
        Kind::Ip => prop::collection::vec(ip_item(in_set), count)
            .prop_map(Values::Ip)
            .boxed(),
        Kind::Port => prop::collection::vec(port_range(in_set), count)
            .prop_map(Values::Port)
            .boxed(),
        Kind::Str | Kind::StrArray => prop::collection::vec(string(field), count)
            .prop_map(Values::Str)
            .boxed(),
    }
}

fn comparison() -> impl Strategy<Value = Node> {
    (proptest::sample::select(&Field::ALL[..]), 0usize..5).prop_flat_map(|(field, which)| {
        let array = field.kind() == Kind::StrArray;
        let ops: &[Op] = if array {
            &[Op::Eq, Op::In]
        } else {
            &[Op::Eq, Op::Ne, Op::In, Op::NotIn]
        };
        let matches = which == 4 && matches!(field.kind(), Kind::Str | Kind::StrArray);
        let test = if matches {
            proptest::sample::select(&REGEXES[..])
                .prop_map(|regex| {
                    Test::Matches(StrLit {
                        value: regex.to_owned(),
                        column: Column(0),
                    })
                })
                .boxed()
        } else {
            let op = ops[which % ops.len()];
            values(field, matches!(op, Op::In | Op::NotIn))
                .prop_map(move |values| Test::Member(op, values))
                .boxed()
        };
        test.prop_map(move |test| Node::Cmp(Comparison { field, test }))
    })
}

fn node() -> impl Strategy<Value = Node> {
    comparison().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|node| Node::Not(Box::new(node))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Node::And),
            prop::collection::vec(inner, 2..4).prop_map(Node::Or),
        ]
    })
}

/// Values for a [`Subject`]: IPs, ports, strings (in field order) and groups.
type SubjectParts = (
    Vec<Option<IpAddr>>,
    Vec<Option<u16>>,
    Vec<Option<&'static str>>,
    Vec<String>,
);

fn subject_parts() -> impl Strategy<Value = SubjectParts> {
    let ip = prop::option::of(prop_oneof![
        address(),
        (0u8..8).prop_map(|i| IpAddr::V6(Ipv4Addr::new(10, 0, 0, i).to_ipv6_mapped())),
    ]);
    let port = prop::option::of(prop_oneof![0u16..10, Just(65535)]);
    let text = prop::option::of(proptest::sample::select(&SUBJECT_STRINGS[..]));
    let group = proptest::sample::select(&["a", "A", "x\"y", "finance"][..]).prop_map(String::from);
    (
        prop::collection::vec(ip, 3),
        prop::collection::vec(port, 2),
        prop::collection::vec(text, 10),
        prop::collection::vec(group, 0..3),
    )
}

fn subject<'a>(
    ips: &[Option<IpAddr>],
    ports: &[Option<u16>],
    texts: &[Option<&'a str>],
    groups: &'a [String],
) -> Subject<'a> {
    Subject {
        src_ip: ips[0],
        dst_ip: ips[1],
        internal_src_ip: ips[2],
        src_port: ports[0],
        dst_port: ports[1],
        protocol: texts[0],
        fqdn_host: texts[1],
        proxy_endpoint: texts[2],
        dst_geo_country: texts[3],
        dst_geo_continent: texts[4],
        src_geo_country: texts[5],
        src_geo_continent: texts[6],
        identity_email: texts[7],
        identity_name: texts[8],
        identity_groups: groups,
    }
}

/// The obvious evaluation: linear scans, regexes built on the spot.
fn model(node: &Node, subject: &Subject<'_>) -> bool {
    match node {
        Node::Not(inner) => !model(inner, subject),
        Node::And(nodes) => nodes.iter().all(|node| model(node, subject)),
        Node::Or(nodes) => nodes.iter().any(|node| model(node, subject)),
        Node::Cmp(cmp) => model_comparison(cmp, subject),
    }
}

fn model_comparison(cmp: &Comparison, subject: &Subject<'_>) -> bool {
    let field = cmp.field;
    let groups = subject.identity_groups;
    let (op, values) = match &cmp.test {
        Test::Matches(pattern) => {
            let flags = if field.case_insensitive() { "(?i)" } else { "" };
            let regex = Regex::new(&format!("{flags}{}", pattern.value)).expect("valid regex");
            return match field {
                Field::IdentityGroupsName => groups.iter().any(|g| regex.is_match(g)),
                _ => subject
                    .str(field)
                    .is_some_and(|value| regex.is_match(value)),
            };
        }
        Test::Member(op, values) => (*op, values),
    };
    let hit = match values {
        Values::Ip(items) => subject.ip(field).map(|ip| {
            items.iter().any(|item| match *item {
                IpItem::Net(net) => net.contains(&ip),
                IpItem::Range(start, end) => start <= ip && ip <= end,
            })
        }),
        Values::Port(ranges) => subject.port(field).map(|port| {
            ranges
                .iter()
                .any(|&(start, end)| start <= port && port <= end)
        }),
        Values::Str(literals) => {
            let wanted: Vec<String> = literals
                .iter()
                .map(|l| normalize(field, &l.value))
                .collect();
            match field {
                Field::IdentityGroupsName => {
                    Some(groups.iter().any(|g| wanted.contains(g))).filter(|_| !groups.is_empty())
                }
                Field::FqdnDomains => subject.str(field).map(|host| {
                    wanted
                        .iter()
                        .any(|domain| host == domain || host.ends_with(&format!(".{domain}")))
                }),
                _ => subject
                    .str(field)
                    .map(|value| wanted.iter().any(|w| w == value)),
            }
        }
    };
    hit.is_some_and(|member| member != op.negated())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printed_expressions_parse_back_equal(node in node()) {
        let expr = Expr::new(Some(node));
        let printed = expr.to_string();
        let reparsed = parse(&printed);
        prop_assert_eq!(reparsed.as_ref(), Ok(&expr), "printed: {}", printed);
    }

    #[test]
    fn matcher_agrees_with_the_model(node in node(), (ips, ports, texts, groups) in subject_parts()) {
        let subject = subject(&ips, &ports, &texts, &groups);
        let expr = Expr::new(Some(node.clone()));
        let matcher = Matcher::compile(&expr).expect("pool regexes compile");
        prop_assert_eq!(matcher.matches(&subject), model(&node, &subject), "{}", expr);
    }

    #[test]
    fn hints_never_exclude_a_matching_subject(node in node(), (ips, ports, texts, groups) in subject_parts()) {
        let subject = subject(&ips, &ports, &texts, &groups);
        let expr = Expr::new(Some(node));
        let matcher = Matcher::compile(&expr).expect("pool regexes compile");
        let hints = expr.index_hints();
        if matcher.matches(&subject) {
            if let Some(nets) = hints.dst_ip {
                let ip = subject.dst_ip.map(|ip| ip.to_canonical());
                prop_assert!(ip.is_some_and(|ip| nets.iter().any(|net| net.contains(&ip))), "{} {:?}", expr, nets);
            }
            if let Some(ranges) = hints.dst_port {
                let port = subject.dst_port;
                prop_assert!(port.is_some_and(|p| ranges.iter().any(|&(a, b)| a <= p && p <= b)), "{} {:?}", expr, ranges);
            }
        }
    }
}
