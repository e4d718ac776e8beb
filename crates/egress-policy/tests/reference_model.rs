//! `decide` against a plain reference model of DESIGN §2 (rules 1–7, 9, 10, 12), on random
//! configurations.
//!
//! The reference reads the `Config` itself: each account's policies sorted by precedence and
//! scanned one by one, expressions compiled with `egress_expr::compile`, distances computed here.
//! It never looks at the snapshot or its index, so a fault in the fast path (index, snapshot
//! compiler, fallback logic) shows up as a disagreement. Where the rules leave a choice (equally
//! close locations, the address inside a shared range) the reference accepts every allowed answer.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use egress_expr::{Matcher, Subject};
use egress_model::{
    Account, AccountId, AddressPool, Config, DedicatedIp, DefaultEgress, Deployment, EgressMethod,
    IpSource, IpStatus, Location, LocationCode, Node, OnNetDestination, Policy, PrivateNetwork,
    TargetAddr, TargetHost, TrafficSettings, User,
};
use egress_policy::{
    decide, explain, EgressKind, FallbackUsed, LocationHealth, Plan, PolicyOutcome, Reason,
    Refusal, Route, Snapshot, Transport,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::RngAlgorithm;
use support::Req;

/// Configurations per property; each is checked with `INTENTS` intents.
const CASES: u32 = 256;
const INTENTS: usize = 8;

const PORTS: [u16; 7] = [22, 53, 80, 443, 444, 8080, 8443];
const PORT_OFFSETS: [u16; 10] = [0, 0, 0, 0, 1, 5, 100, 256, 300, 1000];
const DOMAINS: [&str; 4] = [
    "example.com",
    "api.example.com",
    "bank.example",
    "partner.test",
];
const HOSTS: [&str; 9] = [
    "example.com",
    "api.example.com",
    "www.Example.com",
    "a.b.bank.example",
    "bank.example",
    "badexample.com",
    "partner.test",
    "other.test",
    "cdn.edge.test",
];
const ON_NET_HOST: &str = "edge.test";
const ON_NET_PREFIX: &str = "20.3.3.0/24";
const PRIVATE_PREFIXES: [&str; 2] = ["10.20.0.0/16", "20.2.2.0/24"];
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const GROUPS: [&str; 3] = ["finance", "eng", "ops"];
/// Destinations a gateway refuses unless they are a private network (all outside 10.20.0.0/16).
const FORBIDDEN: [&str; 6] = [
    "127.0.0.1",
    "10.1.2.3",
    "192.168.1.1",
    "169.254.1.1",
    "::1",
    "fe80::1",
];
/// Locations closer than this count as equally close (decide's tolerance for rule 2).
const TIE_KM: f64 = 1.0;

// ---------------------------------------------------------------------------------------------
// Generated configurations

#[derive(Debug, Clone)]
enum Traffic {
    DstIn(Vec<IpNet>),
    DstNotIn(Vec<IpNet>),
    PortEq(u16),
    PortNe(u16),
    PortIn(u16, u16),
    Protocol(Vec<&'static str>),
    Domains(Vec<&'static str>),
    Not(Box<Traffic>),
    And(Vec<Traffic>),
    Or(Vec<Traffic>),
}

impl Traffic {
    fn render(&self) -> String {
        let nets = |nets: &[IpNet]| {
            let items: Vec<String> = nets.iter().map(ToString::to_string).collect();
            items.join(" ")
        };
        let quoted = |items: &[&str]| {
            let items: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
            items.join(" ")
        };
        let joined = |items: &[Traffic], op: &str| {
            let items: Vec<String> = items.iter().map(|t| format!("({})", t.render())).collect();
            items.join(op)
        };
        match self {
            Traffic::DstIn(n) if n.len() == 1 => format!("net.dst.ip == {}", n[0]),
            Traffic::DstIn(n) => format!("net.dst.ip in {{{}}}", nets(n)),
            Traffic::DstNotIn(n) => format!("net.dst.ip not in {{{}}}", nets(n)),
            Traffic::PortEq(p) => format!("net.dst.port == {p}"),
            Traffic::PortNe(p) => format!("net.dst.port != {p}"),
            Traffic::PortIn(a, b) if a == b => format!("net.dst.port in {{{a}}}"),
            Traffic::PortIn(a, b) => format!("net.dst.port in {{{a}..{b}}}"),
            Traffic::Protocol(p) if p.len() == 1 => format!("net.protocol == {:?}", p[0]),
            Traffic::Protocol(p) => format!("net.protocol in {{{}}}", quoted(p)),
            Traffic::Domains(d) => format!("net.fqdn.domains in {{{}}}", quoted(d)),
            Traffic::Not(t) => format!("not ({})", t.render()),
            Traffic::And(t) => joined(t, " and "),
            Traffic::Or(t) => joined(t, " or "),
        }
    }

    fn prefixes(&self, out: &mut Vec<IpNet>) {
        match self {
            Traffic::DstIn(n) | Traffic::DstNotIn(n) => out.extend(n),
            Traffic::Not(t) => t.prefixes(out),
            Traffic::And(t) | Traffic::Or(t) => t.iter().for_each(|t| t.prefixes(out)),
            _ => {}
        }
    }
}

#[derive(Debug, Clone)]
enum Identity {
    Anyone,
    Groups(Vec<&'static str>),
    Name(&'static str),
    Email(String),
    Not(Box<Identity>),
}

impl Identity {
    fn render(&self) -> String {
        match self {
            Identity::Anyone => String::new(),
            Identity::Groups(g) => {
                let g: Vec<String> = g.iter().map(|s| format!("{s:?}")).collect();
                format!("any(identity.groups.name[*] in {{{}}})", g.join(" "))
            }
            Identity::Name(n) => format!("identity.name == {n:?}"),
            Identity::Email(e) => format!("identity.email == {e:?}"),
            Identity::Not(i) => format!("not ({})", i.render()),
        }
    }
}

#[derive(Debug, Clone)]
enum MethodSpec {
    Default,
    /// Indexes into the account's dedicated IPs; `fallback: None` is `0.0.0.0`.
    Dedicated {
        primary: Index,
        ipv6: Option<Index>,
        fallback: Option<Index>,
    },
}

#[derive(Debug, Clone)]
struct PolicySpec {
    enabled: bool,
    traffic: Option<Traffic>,
    identity: Identity,
    method: MethodSpec,
}

#[derive(Debug, Clone)]
struct UserSpec {
    groups: Vec<&'static str>,
    /// 0: no e-mail, 1: lowercase, 2: mixed case.
    email: u8,
}

#[derive(Debug, Clone)]
struct AccountSpec {
    ip_locations: Vec<Index>,
    second_city: Index,
    users: Vec<UserSpec>,
    traffic: TrafficSettings,
    policies: Vec<PolicySpec>,
    /// A permutation of `0..policies.len()`: policy `i` gets precedence `10 * order[i] + 5`.
    order: Vec<u32>,
}

#[derive(Debug, Clone)]
struct LocationSpec {
    cell: (i32, i32),
    slice: u16,
    range: u8,
    has_v6: bool,
}

/// A generated configuration and, per account, the destination prefixes its policies mention.
#[derive(Debug, Clone)]
struct World {
    config: Config,
    prefixes: Vec<Vec<IpNet>>,
}

fn v4_prefix() -> impl Strategy<Value = IpNet> {
    (8u8..=32, 0u8..4, 0u8..4, 0u8..8).prop_map(|(len, a, b, c)| {
        let net = Ipv4Net::new(Ipv4Addr::new(20, a, b, c), len).expect("length is at most 32");
        IpNet::V4(net.trunc())
    })
}

fn v6_prefix() -> impl Strategy<Value = IpNet> {
    let lens = vec![48u8, 56, 64, 72, 96, 112, 120, 127, 128];
    (select(lens), 0u16..4, 0u16..4, 0u16..8).prop_map(|(len, a, b, c)| {
        let addr = Ipv6Addr::new(0x2001, 0xdb8, 0xf, a, b, 0, 0, c);
        IpNet::V6(
            Ipv6Net::new(addr, len)
                .expect("length is at most 128")
                .trunc(),
        )
    })
}

fn dst_prefixes() -> impl Strategy<Value = Vec<IpNet>> {
    prop::collection::vec(prop_oneof![3 => v4_prefix(), 1 => v6_prefix()], 1..=3)
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => (select(PORTS.to_vec()), select(PORT_OFFSETS.to_vec())).prop_map(|(p, d)| p + d),
        1 => 1u16..=u16::MAX,
    ]
}

fn traffic_leaf() -> impl Strategy<Value = Traffic> + Clone {
    prop_oneof![
        4 => dst_prefixes().prop_map(Traffic::DstIn),
        1 => dst_prefixes().prop_map(Traffic::DstNotIn),
        2 => port().prop_map(Traffic::PortEq),
        1 => port().prop_map(Traffic::PortNe),
        2 => (port(), select(vec![0u16, 5, 100, 255, 256, 300, 2000]))
            .prop_map(|(a, n)| Traffic::PortIn(a, a.saturating_add(n))),
        2 => subsequence(vec!["tcp", "udp"], 1..=2).prop_map(Traffic::Protocol),
        2 => subsequence(DOMAINS.to_vec(), 1..=2).prop_map(Traffic::Domains),
    ]
}

/// `not`, `and` and `or` over `inner`.
fn traffic_over(
    inner: impl Strategy<Value = Traffic> + Clone,
) -> impl Strategy<Value = Traffic> + Clone {
    prop_oneof![
        1 => inner.clone().prop_map(|t| Traffic::Not(Box::new(t))),
        2 => prop::collection::vec(inner.clone(), 2..=3).prop_map(Traffic::And),
        2 => prop::collection::vec(inner, 2..=3).prop_map(Traffic::Or),
    ]
}

/// A traffic expression up to two operators deep, or none (the empty expression).
fn traffic() -> impl Strategy<Value = Option<Traffic>> {
    let leaf = traffic_leaf();
    let one = traffic_over(leaf.clone());
    let two = traffic_over(prop_oneof![leaf.clone(), one.clone()]);
    prop::option::weighted(0.85, prop_oneof![5 => leaf, 3 => one, 1 => two])
}

fn identity() -> impl Strategy<Value = Identity> {
    let names = vec!["alice", "bob", "carol", "dave", "mallory"];
    let leaf = prop_oneof![
        2 => subsequence(GROUPS.to_vec(), 1..=2).prop_map(Identity::Groups),
        2 => select(names).prop_map(Identity::Name),
        1 => (select(USERS.to_vec()), any::<bool>()).prop_map(|(u, upper)| {
            let email = format!("{u}@acme.example");
            Identity::Email(if upper { email.to_uppercase() } else { email })
        }),
    ];
    prop_oneof![
        4 => Just(Identity::Anyone),
        4 => leaf.clone(),
        1 => leaf.prop_map(|i| Identity::Not(Box::new(i))),
    ]
}

fn method() -> impl Strategy<Value = MethodSpec> {
    let dedicated = (
        any::<Index>(),
        prop::option::weighted(0.25, any::<Index>()),
        prop::option::weighted(0.7, any::<Index>()),
    )
        .prop_map(|(primary, ipv6, fallback)| MethodSpec::Dedicated {
            primary,
            ipv6,
            fallback,
        });
    prop_oneof![1 => Just(MethodSpec::Default), 2 => dedicated]
}

fn policy() -> impl Strategy<Value = PolicySpec> {
    (prop::bool::weighted(0.85), traffic(), identity(), method()).prop_map(
        |(enabled, traffic, identity, method)| PolicySpec {
            enabled,
            traffic,
            identity,
            method,
        },
    )
}

fn traffic_settings() -> impl Strategy<Value = TrafficSettings> {
    (
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.75),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(proxy, tcp, udp, host_selectors)| TrafficSettings {
            proxy,
            tcp,
            udp,
            host_selectors,
        })
}

fn account() -> impl Strategy<Value = AccountSpec> {
    let user = (subsequence(GROUPS.to_vec(), 0..=2), 0u8..3)
        .prop_map(|(groups, email)| UserSpec { groups, email });
    // Few policies now and then, so that rule 2 (no policy matched) is common enough.
    let count = prop_oneof![1 => 0usize..=3, 3 => 0usize..=40];
    let policies = count
        .prop_flat_map(|n| prop::collection::vec(policy(), n))
        .prop_flat_map(|policies| {
            let order: Vec<u32> = (0..policies.len() as u32).collect();
            (Just(policies), Just(order).prop_shuffle())
        });
    (
        prop::collection::vec(any::<Index>(), 2..=4),
        any::<Index>(),
        prop::collection::vec(user, 1..=USERS.len()),
        traffic_settings(),
        policies,
    )
        .prop_map(
            |(ip_locations, second_city, users, traffic, (policies, order))| AccountSpec {
                ip_locations,
                second_city,
                users,
                traffic,
                policies,
                order,
            },
        )
}

fn locations() -> impl Strategy<Value = Vec<LocationSpec>> {
    // A coarse grid, so that equally distant locations (rule 2 ties) happen now and then.
    let cells: Vec<(i32, i32)> = (-6..=6)
        .flat_map(|lat| (-5..=5).map(move |lon| (lat * 5, lon * 7)))
        .collect();
    (2usize..=4).prop_flat_map(move |n| {
        (
            subsequence(cells.clone(), n).prop_shuffle(),
            subsequence((0u16..16).collect::<Vec<_>>(), n).prop_shuffle(),
            subsequence((0u8..16).collect::<Vec<_>>(), n).prop_shuffle(),
            prop::collection::vec(any::<bool>(), n),
        )
            .prop_map(|(cells, slices, ranges, v6)| {
                (0..cells.len())
                    .map(|i| LocationSpec {
                        cell: cells[i],
                        slice: slices[i],
                        range: ranges[i],
                        has_v6: v6[i],
                    })
                    .collect()
            })
    })
}

fn world() -> impl Strategy<Value = World> {
    (
        locations(),
        prop::collection::vec(account(), 1..=2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(locations, accounts, on_net, private)| {
            build_world(&locations, &accounts, on_net, private)
        })
}

fn net(text: &str) -> IpNet {
    text.parse().expect("constant prefix")
}

fn build_world(
    locs: &[LocationSpec],
    accounts: &[AccountSpec],
    on_net: bool,
    private: bool,
) -> World {
    let locations: Vec<Location> = locs
        .iter()
        .enumerate()
        .map(|(i, l)| Location {
            code: LocationCode(format!("loc{i}").into()),
            city: format!("City {i}"),
            region: "XX-A".into(),
            country: "XX".into(),
            latitude: f64::from(l.cell.0),
            longitude: f64::from(l.cell.1),
            ipv6_slice: l.slice,
            default_egress: DefaultEgress {
                ipv4: Ipv4Net::new(Ipv4Addr::new(198, 51, 100, l.range * 16), 28).expect("a /28"),
                ipv6: l.has_v6.then(|| {
                    let addr = Ipv6Addr::new(0x2001, 0xdb8, 0xd, u16::from(l.range), 0, 0, 0, 0);
                    Ipv6Net::new(addr, 64).expect("a /64")
                }),
            },
        })
        .collect();
    let mut next_ip = 1u8;
    let mut prefixes = Vec::new();
    let accounts = accounts
        .iter()
        .enumerate()
        .map(|(a, spec)| {
            let mut at: Vec<usize> = spec
                .ip_locations
                .iter()
                .map(|i| i.index(locations.len()))
                .collect();
            if at.iter().all(|&l| l == at[0]) {
                at[1] = (at[0] + 1 + spec.second_city.index(locations.len() - 1)) % locations.len();
            }
            let dedicated_ips: Vec<DedicatedIp> = at
                .iter()
                .map(|&l| {
                    let n = next_ip;
                    next_ip += 1;
                    DedicatedIp {
                        ipv4: Ipv4Addr::new(203, 0, 113, n),
                        ipv6: Ipv6Net::new(
                            Ipv6Addr::new(0x2001, 0xdb8, 0xe000, u16::from(n), 0, 0, 0, 0),
                            64,
                        )
                        .expect("a /64"),
                        location: locations[l].code.clone(),
                        source: IpSource::Leased,
                        status: IpStatus::Active,
                    }
                })
                .collect();
            let users = spec
                .users
                .iter()
                .zip(USERS)
                .map(|(u, name)| User {
                    name: name.into(),
                    email: match u.email {
                        0 => None,
                        1 => Some(format!("{name}@acme.example")),
                        _ => Some(format!("{}@ACME.Example", name.to_uppercase())),
                    },
                    groups: u.groups.iter().map(|g| g.to_string()).collect(),
                    password_hash: None,
                })
                .collect();
            let mut mentioned = Vec::new();
            let policies = spec
                .policies
                .iter()
                .zip(&spec.order)
                .enumerate()
                .map(|(i, (p, order))| {
                    if let Some(t) = &p.traffic {
                        t.prefixes(&mut mentioned);
                    }
                    Policy {
                        id: None,
                        precedence: 10 * order + 5,
                        name: format!("p{i}"),
                        enabled: p.enabled,
                        traffic: p.traffic.as_ref().map(Traffic::render).unwrap_or_default(),
                        identity: p.identity.render(),
                        method: method_of(&p.method, &dedicated_ips),
                    }
                })
                .collect();
            prefixes.push(mentioned);
            Account {
                id: AccountId(format!("acct{a}")),
                name: format!("Account {a}"),
                traffic: spec.traffic.clone(),
                groups: GROUPS.iter().map(|g| g.to_string()).collect(),
                users,
                proxy_endpoints: Vec::new(),
                byoip_prefixes: Vec::new(),
                dedicated_ips,
                policies,
            }
        })
        .collect();
    let config = Config {
        deployment: Deployment::default(),
        address_pools: vec![
            AddressPool {
                name: "v4".into(),
                prefix: net("203.0.113.0/24"),
            },
            AddressPool {
                name: "v6".into(),
                prefix: net("2001:db8:e000::/48"),
            },
        ],
        nodes: locations
            .iter()
            .map(|l| Node {
                id: format!("{}-1", l.code),
                location: l.code.clone(),
                fleet_address: None,
            })
            .collect(),
        locations,
        on_net: on_net
            .then(|| OnNetDestination {
                name: "edge".into(),
                prefixes: vec![net(ON_NET_PREFIX)],
                hosts: vec![ON_NET_HOST.into()],
            })
            .into_iter()
            .collect(),
        private_networks: private
            .then(|| PrivateNetwork {
                name: "corp".into(),
                prefixes: PRIVATE_PREFIXES.iter().map(|p| net(p)).collect(),
            })
            .into_iter()
            .collect(),
        accounts,
    };
    World { config, prefixes }
}

fn method_of(spec: &MethodSpec, ips: &[DedicatedIp]) -> EgressMethod {
    let MethodSpec::Dedicated {
        primary,
        ipv6,
        fallback,
    } = spec
    else {
        return EgressMethod::Default;
    };
    let primary = &ips[primary.index(ips.len())];
    let elsewhere: Vec<&DedicatedIp> = ips
        .iter()
        .filter(|d| d.location != primary.location)
        .collect();
    EgressMethod::Dedicated {
        ipv4: primary.ipv4,
        ipv6: ipv6.map(|i| ips[i.index(ips.len())].ipv6),
        ipv4_fallback: Some(match fallback {
            Some(i) => elsewhere[i.index(elsewhere.len())].ipv4,
            None => Ipv4Addr::UNSPECIFIED,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Generated intents

#[derive(Debug, Clone)]
enum Dest {
    /// An address inside one of the prefixes the account's policies mention.
    InPolicyPrefix(Index, u128),
    Near4(u8, u8, u8),
    Near6(u16, u16, u16),
    Public4,
    Public6,
    /// 10.20.x.y: a private network when the configuration declares one, else forbidden.
    Private(u8, u8),
    /// 20.2.2.x: inside a private network when declared, else public.
    PrivateInPublic(u8),
    OnNet(u8),
    Forbidden(Index),
}

#[derive(Debug, Clone)]
enum Target {
    Ip(Dest),
    Host(Index, Option<Dest>),
}

#[derive(Debug, Clone)]
enum UserPick {
    Anonymous,
    Known(Index),
    Unknown,
}

#[derive(Debug, Clone)]
struct IntentSpec {
    account: Index,
    user: UserPick,
    client: (bool, u8, u16),
    target: Target,
    port: u16,
    transport: Transport,
    ingress: Index,
    down: Vec<bool>,
}

fn dest() -> impl Strategy<Value = Dest> {
    prop_oneof![
        6 => (any::<Index>(), any::<u128>()).prop_map(|(i, b)| Dest::InPolicyPrefix(i, b)),
        3 => (0u8..4, 0u8..4, 0u8..8).prop_map(|(a, b, c)| Dest::Near4(a, b, c)),
        2 => (0u16..4, 0u16..4, 0u16..8).prop_map(|(a, b, c)| Dest::Near6(a, b, c)),
        1 => Just(Dest::Public4),
        1 => Just(Dest::Public6),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Dest::Private(a, b)),
        1 => any::<u8>().prop_map(Dest::PrivateInPublic),
        1 => any::<u8>().prop_map(Dest::OnNet),
        1 => any::<Index>().prop_map(Dest::Forbidden),
    ]
}

fn intent() -> impl Strategy<Value = IntentSpec> {
    let user = prop_oneof![
        3 => Just(UserPick::Anonymous),
        10 => any::<Index>().prop_map(UserPick::Known),
        1 => Just(UserPick::Unknown),
    ];
    let target = prop_oneof![
        3 => dest().prop_map(Target::Ip),
        2 => (any::<Index>(), prop::option::of(dest())).prop_map(|(h, d)| Target::Host(h, d)),
    ];
    let transport = prop_oneof![
        12 => Just(Transport::Tcp),
        6 => Just(Transport::Udp),
        1 => Just(Transport::Icmp),
    ];
    (
        any::<Index>(),
        user,
        (any::<bool>(), any::<u8>(), 1024u16..),
        target,
        port(),
        transport,
        any::<Index>(),
        prop::collection::vec(prop::bool::weighted(0.3), 4),
    )
        .prop_map(
            |(account, user, client, target, port, transport, ingress, down)| IntentSpec {
                account,
                user,
                client,
                target,
                port,
                transport,
                ingress,
                down,
            },
        )
}

fn inside(net: IpNet, bits: u128) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = (bits as u32) & u32::from(n.hostmask());
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
        }
        IpNet::V6(n) => IpAddr::V6(Ipv6Addr::from(
            u128::from(n.network()) | (bits & u128::from(n.hostmask())),
        )),
    }
}

impl Dest {
    fn resolve(&self, prefixes: &[IpNet]) -> IpAddr {
        match *self {
            Dest::InPolicyPrefix(i, bits) if !prefixes.is_empty() => {
                inside(prefixes[i.index(prefixes.len())], bits)
            }
            Dest::InPolicyPrefix(_, bits) => IpAddr::V4(Ipv4Addr::new(20, 1, 1, bits as u8)),
            Dest::Near4(a, b, c) => IpAddr::V4(Ipv4Addr::new(20, a, b, c)),
            Dest::Near6(a, b, c) => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xf, a, b, 0, 0, c)),
            Dest::Public4 => IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)),
            Dest::Public6 => IpAddr::V6(Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111)),
            Dest::Private(a, b) => IpAddr::V4(Ipv4Addr::new(10, 20, a, b)),
            Dest::PrivateInPublic(a) => IpAddr::V4(Ipv4Addr::new(20, 2, 2, a)),
            Dest::OnNet(a) => IpAddr::V4(Ipv4Addr::new(20, 3, 3, a)),
            Dest::Forbidden(i) => FORBIDDEN[i.index(FORBIDDEN.len())]
                .parse()
                .expect("constant address"),
        }
    }
}

impl IntentSpec {
    /// The request and, per location of the configuration, whether it is down.
    fn request(&self, world: &World) -> (Req, Vec<bool>) {
        let config = &world.config;
        let a = self.account.index(config.accounts.len());
        let account = &config.accounts[a];
        let prefixes = &world.prefixes[a];
        let user = match self.user {
            UserPick::Anonymous => None,
            UserPick::Known(i) => Some(account.users[i.index(account.users.len())].name.clone()),
            UserPick::Unknown => Some("mallory".to_string()),
        };
        let (v6, host, port) = self.client;
        let client = if v6 {
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0xc,
                    0,
                    0,
                    0,
                    0,
                    u16::from(host),
                )),
                port,
            )
        } else {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, host)), port)
        };
        let (target, dst_ip) = match &self.target {
            Target::Ip(d) => {
                let ip = d.resolve(prefixes);
                let target = TargetAddr {
                    host: TargetHost::Ip(ip),
                    port: self.port,
                };
                (target, Some(ip))
            }
            Target::Host(h, resolved) => {
                let name = HOSTS[h.index(HOSTS.len())];
                let target =
                    TargetAddr::parse(&format!("{name}:{}", self.port)).expect("valid target");
                (target, resolved.as_ref().map(|d| d.resolve(prefixes)))
            }
        };
        let ingress = &config.locations[self.ingress.index(config.locations.len())];
        let req = Req {
            account: account.id.0.clone(),
            user,
            client,
            endpoint: None,
            internal_src_ip: None,
            target,
            dst_ip,
            transport: self.transport,
            location: ingress.code.to_string(),
            src_country: None,
            src_continent: None,
            dst_country: None,
            dst_continent: None,
        };
        (req, self.down[..config.locations.len()].to_vec())
    }
}

fn health(config: &Config, down: &[bool]) -> LocationHealth {
    config
        .locations
        .iter()
        .zip(down)
        .filter(|(_, &d)| d)
        .fold(LocationHealth::all_up(), |h, (l, _)| {
            h.down(l.code.as_str())
        })
}

// ---------------------------------------------------------------------------------------------
// The reference model

/// Where the IPv4 of a plan must leave from.
#[derive(Debug, Clone)]
enum V4 {
    /// A dedicated IPv4, leaving from (and geolocating at) its location.
    Dedicated {
        ip: Ipv4Addr,
        location: usize,
        fallback: FallbackUsed,
    },
    /// On-net: the ingress's default range, the dedicated IPv4 in the PROXY v2 header.
    OnNet {
        proxy_source: Ipv4Addr,
        ip_location: usize,
    },
    /// The default range of any of these (equally close) locations.
    DefaultAt {
        locations: Vec<usize>,
        fallback: FallbackUsed,
    },
}

#[derive(Debug, Clone)]
enum V6 {
    /// This location's slice of a dedicated /64, geolocating where the /64 is declared.
    Dedicated { net: Ipv6Net, ip_location: usize },
    /// The ingress's default IPv6 range.
    Default,
}

#[derive(Debug, Clone)]
struct Routes {
    v4: Option<V4>,
    v6: Option<V6>,
}

#[derive(Debug)]
struct Expect {
    policy: Option<String>,
    reason: Reason,
    method: EgressKind,
    ingress: usize,
    /// The plan must fit one of these (rule 2 ties allow any equally close dedicated IP).
    routes: Vec<Routes>,
}

struct Reference<'c> {
    config: &'c Config,
    /// Per account, its policies in precedence order with compiled traffic and identity.
    policies: Vec<Vec<(&'c Policy, Matcher, Matcher)>>,
}

fn great_circle_km(a: &Location, b: &Location) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let half_dlat = (lat2 - lat1) / 2.0;
    let half_dlon = (b.longitude - a.longitude).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat1.cos() * lat2.cos() * half_dlon.sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 127 || o[0] == 10 || (o[0], o[1]) == (192, 168) || (o[0], o[1]) == (169, 254)
        }
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn holds(net: impl Into<IpNet>, ip: IpAddr) -> bool {
    net.into().contains(&ip)
}

fn same_or_subdomain(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// What the reference knows about one request once it reaches the policies.
struct Ask<'c> {
    account: &'c Account,
    ingress: usize,
    down: &'c [bool],
    on_net: bool,
}

impl<'c> Reference<'c> {
    fn new(config: &'c Config) -> Self {
        let policies = config
            .accounts
            .iter()
            .map(|account| {
                let mut sorted: Vec<&Policy> = account.policies.iter().collect();
                sorted.sort_by_key(|p| p.precedence);
                sorted
                    .into_iter()
                    .map(|p| {
                        let traffic = egress_expr::compile(&p.traffic).expect("valid traffic");
                        let identity = egress_expr::compile(&p.identity).expect("valid identity");
                        (p, traffic, identity)
                    })
                    .collect()
            })
            .collect();
        Reference { config, policies }
    }

    fn location_of(&self, code: &LocationCode) -> usize {
        self.config
            .locations
            .iter()
            .position(|l| &l.code == code)
            .expect("validated location")
    }

    /// Of `candidates`, the locations within `TIE_KM` of the one closest to `from`.
    fn closest(&self, from: usize, candidates: &[usize]) -> Vec<usize> {
        let here = &self.config.locations[from];
        let km = |i: usize| great_circle_km(here, &self.config.locations[i]);
        let best = candidates
            .iter()
            .map(|&i| km(i))
            .fold(f64::INFINITY, f64::min);
        let near = candidates.iter().filter(|&&i| km(i) <= best + TIE_KM);
        near.copied().collect()
    }

    /// Rule 7's last resort: the default range of the healthy location closest to the ingress
    /// (the ingress itself when none is healthy).
    fn closest_default(&self, ask: &Ask<'_>) -> V4 {
        let healthy: Vec<usize> = (0..ask.down.len()).filter(|&i| !ask.down[i]).collect();
        let mut locations = self.closest(ask.ingress, &healthy);
        if locations.is_empty() {
            locations.push(ask.ingress);
        }
        V4::DefaultAt {
            locations,
            fallback: FallbackUsed::DefaultRange,
        }
    }

    /// Rule 4: a dedicated IPv4 leaves where it lives, or locally with PROXY v2 when on-net.
    fn leave_from(&self, ask: &Ask<'_>, d: &DedicatedIp, fallback: FallbackUsed) -> V4 {
        let location = self.location_of(&d.location);
        if ask.on_net {
            V4::OnNet {
                proxy_source: d.ipv4,
                ip_location: location,
            }
        } else {
            V4::Dedicated {
                ip: d.ipv4,
                location,
                fallback,
            }
        }
    }

    /// Rules 5 and 6: IPv6 from the /64, geolocated where the /64 is declared.
    fn v6_from(&self, ask: &Ask<'_>, net: Ipv6Net) -> V6 {
        let owner = ask.account.dedicated_ips.iter().find(|d| d.ipv6 == net);
        V6::Dedicated {
            net,
            ip_location: self.location_of(&owner.expect("validated /64").location),
        }
    }

    fn is_down(&self, ask: &Ask<'_>, d: &DedicatedIp) -> bool {
        ask.down[self.location_of(&d.location)]
    }

    /// Rule 2: no policy matched. The dedicated IP closest to the ingress (any equally close
    /// one will do), else the default range.
    fn no_match(&self, ask: &Ask<'_>) -> (EgressKind, Vec<Routes>) {
        let healthy: Vec<&DedicatedIp> = ask
            .account
            .dedicated_ips
            .iter()
            .filter(|d| !self.is_down(ask, d))
            .collect();
        let at: Vec<usize> = healthy
            .iter()
            .map(|d| self.location_of(&d.location))
            .collect();
        let closest = self.closest(ask.ingress, &at);
        let tied: Vec<Routes> = healthy
            .iter()
            .filter(|d| closest.contains(&self.location_of(&d.location)))
            .map(|d| Routes {
                v4: Some(self.leave_from(ask, d, FallbackUsed::None)),
                v6: Some(self.v6_from(ask, d.ipv6)),
            })
            .collect();
        if tied.is_empty() {
            let routes = Routes {
                v4: Some(self.closest_default(ask)),
                v6: self.default_v6(ask.ingress),
            };
            return (EgressKind::Default, vec![routes]);
        }
        (EgressKind::Dedicated, tied)
    }

    /// Rules 4 to 7 for a dedicated method: the primary where it lives, else the fallback,
    /// else the default range; IPv6 from the policy's /64 wherever the IPv4 goes.
    fn dedicated(&self, ask: &Ask<'_>, method: &EgressMethod) -> Routes {
        let EgressMethod::Dedicated {
            ipv4,
            ipv6,
            ipv4_fallback,
        } = method
        else {
            unreachable!("called for dedicated methods only");
        };
        let own = |ip: Ipv4Addr| {
            let found = ask.account.dedicated_ips.iter().find(|d| d.ipv4 == ip);
            found.expect("validated ownership")
        };
        let primary = own(*ipv4);
        let fallback = ipv4_fallback.filter(|f| !f.is_unspecified()).map(own);
        let v4 = if ask.on_net || !self.is_down(ask, primary) {
            self.leave_from(ask, primary, FallbackUsed::None)
        } else {
            match fallback {
                Some(f) if !self.is_down(ask, f) => {
                    self.leave_from(ask, f, FallbackUsed::Ipv4Fallback)
                }
                _ => self.closest_default(ask),
            }
        };
        Routes {
            v4: Some(v4),
            v6: Some(self.v6_from(ask, ipv6.unwrap_or(primary.ipv6))),
        }
    }

    fn default_v6(&self, ingress: usize) -> Option<V6> {
        let range = self.config.locations[ingress].default_egress.ipv6;
        range.map(|_| V6::Default)
    }

    /// The expected plan for `req` when the locations marked in `down` are down.
    fn expected(&self, req: &Req, down: &[bool]) -> Result<Expect, Refusal> {
        let config = self.config;
        let a = config
            .accounts
            .iter()
            .position(|a| a.id.0 == req.account)
            .ok_or(Refusal::UnknownAccount)?;
        let account = &config.accounts[a];
        let ingress = config
            .locations
            .iter()
            .position(|l| l.code.as_str() == req.location)
            .ok_or(Refusal::UnknownLocation)?;
        let user = match &req.user {
            Some(name) => {
                let found = account.users.iter().find(|u| &u.name == name);
                Some(found.ok_or(Refusal::UnknownUser)?)
            }
            None => None,
        };
        // Rule 10.
        let settings = &account.traffic;
        match req.transport {
            Transport::Tcp if !settings.tcp => return Err(Refusal::TcpDisabled),
            Transport::Udp if !settings.udp => return Err(Refusal::UdpDisabled),
            _ => {}
        }
        let private = req.dst_ip.is_some_and(|ip| {
            let mut prefixes = config.private_networks.iter().flat_map(|p| &p.prefixes);
            prefixes.any(|n| n.contains(&ip))
        });
        if req.dst_ip.is_some_and(|ip| !private && forbidden(ip)) {
            return Err(Refusal::ForbiddenDestination);
        }
        let wants_v4 = !matches!(req.dst_ip, Some(IpAddr::V6(_)));
        let wants_v6 = !matches!(req.dst_ip, Some(IpAddr::V4(_)));
        let make = |policy: Option<&Policy>, reason, method, routes: Vec<Routes>| Expect {
            policy: policy.map(|p| p.name.clone()),
            reason,
            method,
            ingress,
            routes: routes
                .into_iter()
                .map(|r| Routes {
                    v4: r.v4.filter(|_| wants_v4),
                    v6: r.v6.filter(|_| wants_v6),
                })
                .collect(),
        };
        let at_ingress = Routes {
            v4: Some(V4::DefaultAt {
                locations: vec![ingress],
                fallback: FallbackUsed::None,
            }),
            v6: self.default_v6(ingress),
        };
        // Rules 9 and 10: ICMP, private networks and the proxy switched off use the default range.
        let always_default = match req.transport {
            Transport::Icmp => Some(Reason::Icmp),
            _ if private => Some(Reason::PrivateNetwork),
            _ if !settings.proxy => Some(Reason::ProxyOff),
            _ => None,
        };
        if let Some(reason) = always_default {
            return Ok(make(None, reason, EgressKind::Default, vec![at_ingress]));
        }

        // Rule 1: a linear scan in precedence order.
        let host = match &req.target.host {
            TargetHost::Name(name) => Some(name.as_str()),
            TargetHost::Ip(_) => None,
        };
        let email = user
            .and_then(|u| u.email.as_ref())
            .map(|e| e.to_lowercase());
        let subject = Subject {
            src_ip: Some(req.client.ip()),
            src_port: Some(req.client.port()),
            dst_ip: req.dst_ip,
            dst_port: Some(req.target.port),
            protocol: Some(match req.transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
                Transport::Icmp => "icmp",
            }),
            fqdn_host: host.filter(|_| settings.host_selectors),
            identity_email: email.as_deref(),
            identity_name: user.map(|u| u.name.as_str()),
            identity_groups: user.map(|u| u.groups.as_slice()).unwrap_or(&[]),
            ..Subject::default()
        };
        let matched = self.policies[a]
            .iter()
            .find(|(p, traffic, identity)| {
                p.enabled && traffic.matches(&subject) && identity.matches(&subject)
            })
            .map(|(p, _, _)| *p);

        let on_net = config.on_net.iter().any(|o| {
            req.dst_ip
                .is_some_and(|ip| o.prefixes.iter().any(|n| n.contains(&ip)))
                || host.is_some_and(|h| o.hosts.iter().any(|d| same_or_subdomain(h, d)))
        });
        let ask = Ask {
            account,
            ingress,
            down,
            on_net,
        };
        Ok(match matched {
            None => {
                let (method, routes) = self.no_match(&ask);
                make(None, Reason::ClosestDedicated, method, routes)
            }
            Some(p) if p.method == EgressMethod::Default => make(
                Some(p),
                Reason::PolicyMatched,
                EgressKind::Default,
                vec![at_ingress],
            ),
            Some(p) => {
                let routes = vec![self.dedicated(&ask, &p.method)];
                make(
                    Some(p),
                    Reason::PolicyMatched,
                    EgressKind::Dedicated,
                    routes,
                )
            }
        })
    }

    fn code(&self, location: usize) -> &str {
        self.config.locations[location].code.as_str()
    }

    fn fits(&self, plan: &Plan, expect: &Expect) -> Result<(), String> {
        let policy = plan.policy.as_ref().map(|p| p.name.to_string());
        if policy != expect.policy {
            return Err(format!("policy {policy:?}, expected {:?}", expect.policy));
        }
        if (plan.reason, plan.method) != (expect.reason, expect.method) {
            return Err(format!(
                "reason/method {:?}/{:?}, expected {:?}/{:?}",
                plan.reason, plan.method, expect.reason, expect.method
            ));
        }
        if plan.ingress_location.as_str() != self.code(expect.ingress) {
            return Err(format!("ingress_location {}", plan.ingress_location));
        }
        let mut why = Vec::new();
        for routes in &expect.routes {
            match self.fits_routes(plan, routes, expect.ingress) {
                Ok(()) => return Ok(()),
                Err(e) => why.push(e),
            }
        }
        Err(why.join(" | "))
    }

    fn fits_routes(&self, plan: &Plan, want: &Routes, ingress: usize) -> Result<(), String> {
        match (&plan.ipv4, &want.v4) {
            (None, None) => {}
            (Some(route), Some(v4)) => self
                .fits_v4(route, v4, ingress)
                .map_err(|e| format!("ipv4 {route:?}: {e} (expected {v4:?})"))?,
            (got, want) => return Err(format!("ipv4 route {got:?}, expected {want:?}")),
        }
        match (&plan.ipv6, &want.v6) {
            (None, None) => Ok(()),
            (Some(route), Some(v6)) => self
                .fits_v6(route, v6, ingress)
                .map_err(|e| format!("ipv6 {route:?}: {e} (expected {v6:?})")),
            (got, want) => Err(format!("ipv6 route {got:?}, expected {want:?}")),
        }
    }

    fn fits_v4(&self, route: &Route, want: &V4, ingress: usize) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        let here = self.code(ingress);
        match want {
            V4::Dedicated {
                ip,
                location,
                fallback,
            } => {
                check(route.source.0 == IpAddr::V4(*ip), "source")?;
                check(route.kind == EgressKind::Dedicated, "kind")?;
                check(
                    route.egress_location.as_str() == self.code(*location),
                    "egress_location",
                )?;
                check(
                    route.egress_ip_location.as_str() == self.code(*location),
                    "egress_ip_location",
                )?;
                check(route.forwarded == (*location != ingress), "forwarded")?;
                check(
                    route.proxy_protocol_source.is_none(),
                    "proxy_protocol_source",
                )?;
                check(route.fallback == *fallback, "fallback")
            }
            V4::OnNet {
                proxy_source,
                ip_location,
            } => {
                let range = self.config.locations[ingress].default_egress.ipv4;
                check(route.kind == EgressKind::Dedicated, "kind")?;
                check(route.egress_location.as_str() == here, "egress_location")?;
                check(
                    holds(range, route.source.0),
                    "source outside the ingress range",
                )?;
                check(
                    route.egress_ip_location.as_str() == self.code(*ip_location),
                    "egress_ip_location",
                )?;
                check(!route.forwarded, "forwarded")?;
                check(
                    route.proxy_protocol_source == Some(*proxy_source),
                    "proxy_protocol_source",
                )?;
                check(route.fallback == FallbackUsed::None, "fallback")
            }
            V4::DefaultAt {
                locations,
                fallback,
            } => {
                let at = locations
                    .iter()
                    .find(|&&l| route.egress_location.as_str() == self.code(l))
                    .ok_or("egress_location is not one of the closest")?;
                let range = self.config.locations[*at].default_egress.ipv4;
                check(route.kind == EgressKind::Default, "kind")?;
                check(holds(range, route.source.0), "source outside the range")?;
                check(
                    route.egress_ip_location == route.egress_location,
                    "egress_ip_location",
                )?;
                check(route.forwarded == (*at != ingress), "forwarded")?;
                check(
                    route.proxy_protocol_source.is_none(),
                    "proxy_protocol_source",
                )?;
                check(route.fallback == *fallback, "fallback")
            }
        }
    }

    fn fits_v6(&self, route: &Route, want: &V6, ingress: usize) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        let here = &self.config.locations[ingress];
        check(route.egress_location == here.code, "egress_location")?;
        check(!route.forwarded, "forwarded")?;
        check(
            route.proxy_protocol_source.is_none(),
            "proxy_protocol_source",
        )?;
        match want {
            V6::Dedicated { net, ip_location } => {
                let slice = u128::from(net.network()) | (u128::from(here.ipv6_slice) << 48);
                let slice = Ipv6Net::new(Ipv6Addr::from(slice), 80).expect("a /80");
                check(route.kind == EgressKind::Dedicated, "kind")?;
                check(holds(slice, route.source.0), "source outside the slice")?;
                check(
                    route.egress_ip_location.as_str() == self.code(*ip_location),
                    "egress_ip_location",
                )?;
                check(route.fallback == FallbackUsed::None, "fallback")
            }
            V6::Default => {
                let range = here
                    .default_egress
                    .ipv6
                    .expect("expected only with a range");
                check(route.kind == EgressKind::Default, "kind")?;
                check(holds(range, route.source.0), "source outside the range")?;
                check(route.egress_ip_location == here.code, "egress_ip_location")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

fn compile(world: &World) -> Result<Snapshot, TestCaseError> {
    Snapshot::compile(&world.config, "generated", 1)
        .map_err(|e| TestCaseError::fail(format!("generated configuration is invalid:\n{e}")))
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // XorShift: generation with the default ChaCha dominates the run time in debug builds.
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

/// Every source a plan may bind: the account's own IPv4s and /64s, or a shared default range.
fn isolation_violation(config: &Config, account: &Account, plan: &Plan) -> Option<String> {
    let own = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => account.dedicated_ips.iter().any(|d| d.ipv4 == v4),
        IpAddr::V6(v6) => account.dedicated_ips.iter().any(|d| d.ipv6.contains(&v6)),
    };
    let shared = |ip: IpAddr| {
        config.locations.iter().any(|l| {
            holds(l.default_egress.ipv4, ip) || l.default_egress.ipv6.is_some_and(|n| holds(n, ip))
        })
    };
    for route in plan.ipv4.iter().chain(&plan.ipv6) {
        let source = route.source.0;
        let dedicated =
            route.kind == EgressKind::Dedicated && route.proxy_protocol_source.is_none();
        if (dedicated && !own(source)) || !(own(source) || shared(source)) {
            return Some(format!("source {source} of {route:?}"));
        }
        if let Some(pp) = route.proxy_protocol_source {
            if !own(IpAddr::V4(pp)) {
                return Some(format!("PROXY v2 source {pp}"));
            }
        }
    }
    None
}

/// A request and the health map it is decided under.
struct Case {
    req: Req,
    down: Vec<bool>,
    snapshot: Snapshot,
}

fn cases<'w>(
    world: &'w World,
    snapshot: &'w Snapshot,
    intents: &'w [IntentSpec],
) -> impl Iterator<Item = Case> + 'w {
    intents.iter().map(move |spec| {
        let (req, down) = spec.request(world);
        let snapshot = snapshot.with_health(&health(&world.config, &down));
        Case {
            req,
            down,
            snapshot,
        }
    })
}

/// (a) The plan has the facts the reference derives; `explain` marks the same policy matched.
fn check_reference(reference: &Reference<'_>, case: &Case) -> Result<(), TestCaseError> {
    let Case {
        req,
        down,
        snapshot,
    } = case;
    let got = decide(&req.intent(), snapshot);
    let want = reference.expected(req, down);
    let context = format!("request {req:?}\ndown {down:?}\ngot {got:?}\nexpected {want:?}");
    match (&got, &want) {
        (Err(g), Err(w)) if g == w => Ok(()),
        (Ok(plan), Ok(expect)) => {
            if let Err(why) = reference.fits(plan, expect) {
                return Err(TestCaseError::fail(format!("{why}\n{context}")));
            }
            let marked = explain(&req.intent(), snapshot)
                .policies
                .into_iter()
                .find(|s| s.outcome == PolicyOutcome::Matched)
                .map(|s| s.name);
            prop_assert_eq!(&marked, &expect.policy, "explain's steps\n{}", context);
            Ok(())
        }
        _ => Err(TestCaseError::fail(context)),
    }
}

/// (b) `explain` (every policy, in order) and `decide` (the index) make the same plan.
fn check_explain(case: &Case) -> Result<(), TestCaseError> {
    let intent = case.req.intent();
    prop_assert_eq!(
        explain(&intent, &case.snapshot).plan,
        decide(&intent, &case.snapshot),
        "request {:?}, down {:?}",
        case.req,
        case.down
    );
    Ok(())
}

/// (c) Rule 12: a plan only sends from the account's own addresses or a shared default range.
fn check_isolation(config: &Config, case: &Case) -> Result<(), TestCaseError> {
    let Ok(plan) = decide(&case.req.intent(), &case.snapshot) else {
        return Ok(());
    };
    let account = config
        .accounts
        .iter()
        .find(|a| a.id.0 == case.req.account)
        .expect("generated account");
    match isolation_violation(config, account, &plan) {
        None => Ok(()),
        Some(violation) => Err(TestCaseError::fail(format!(
            "{violation} is not {}'s\nrequest {:?}\nplan {plan:?}",
            case.req.account, case.req
        ))),
    }
}

/// (d) The same plan on every call, on a snapshot compiled again from the same configuration,
/// and, for a user, from any client address (rule 2: users stay on their IP; no generated
/// expression reads the client address).
fn check_determinism(
    config: &Config,
    again: &Snapshot,
    moved_to: SocketAddr,
    case: &Case,
) -> Result<(), TestCaseError> {
    let Case {
        req,
        down,
        snapshot,
    } = case;
    let first = decide(&req.intent(), snapshot);
    prop_assert_eq!(&first, &decide(&req.intent(), snapshot), "{:?}", req);
    let again = again.with_health(&health(config, down));
    prop_assert_eq!(
        &first,
        &decide(&req.intent(), &again),
        "recompiled: {:?}",
        req
    );
    if req.user.is_some() {
        let mut moved = req.clone();
        moved.client = moved_to;
        prop_assert_eq!(&first, &decide(&moved.intent(), snapshot), "{:?}", moved);
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Rules 1–7, 9, 10: the indexed `decide` picks the policy a linear scan in precedence order
    /// picks, its routes have the facts the rules require, and `explain` agrees with it.
    #[test]
    fn decide_agrees_with_a_linear_reference_model_and_with_explain(
        world in world(),
        intents in prop::collection::vec(intent(), INTENTS),
    ) {
        let snapshot = compile(&world)?;
        let reference = Reference::new(&world.config);
        for case in cases(&world, &snapshot, &intents) {
            check_reference(&reference, &case)?;
            check_explain(&case)?;
        }
    }

    /// Rule 12 and §3: plans never use another account's addresses, and decide is a pure
    /// function of the configuration, the health map and the intent.
    #[test]
    fn plans_stay_in_the_account_and_are_deterministic(
        world in world(),
        intents in prop::collection::vec(intent(), INTENTS),
        (host, port) in (any::<u8>(), 1024u16..),
    ) {
        let snapshot = compile(&world)?;
        let again = compile(&world.clone())?;
        let moved_to = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, host)), port);
        for case in cases(&world, &snapshot, &intents) {
            check_isolation(&world.config, &case)?;
            check_determinism(&world.config, &again, moved_to, &case)?;
        }
    }

    /// The expression language compares an IPv4-mapped IPv6 address (`::ffff:20.1.2.3`) as
    /// IPv4, so a mapped destination gets the same policy from the index as from a full scan,
    /// and the same policy as its IPv4 form whenever both reach the policies.
    #[test]
    fn ipv4_mapped_destinations_match_like_their_ipv4_form(
        world in world(),
        intents in prop::collection::vec(intent(), INTENTS),
    ) {
        let snapshot = compile(&world)?;
        for case in cases(&world, &snapshot, &intents) {
            let Some(IpAddr::V4(v4)) = case.req.dst_ip else { continue };
            let ip = IpAddr::V6(v4.to_ipv6_mapped());
            let mut mapped = case.req.clone();
            mapped.dst_ip = Some(ip);
            if let TargetHost::Ip(_) = mapped.target.host {
                mapped.target.host = TargetHost::Ip(ip);
            }
            let mapped_case = Case { req: mapped, down: case.down.clone(), snapshot: case.snapshot.clone() };
            check_explain(&mapped_case)?;
            // Every rule reads a mapped destination as the IPv4 it is: the whole plan is equal.
            prop_assert_eq!(
                decide(&case.req.intent(), &case.snapshot),
                decide(&mapped_case.req.intent(), &case.snapshot),
                "request {:?}",
                mapped_case.req
            );
        }
    }
}
