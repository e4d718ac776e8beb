//! `decide` over 10,000 policies and 100,000 users: first-policy match, last-policy match and no
//! match, each a destination-IP/port policy served by the snapshot's index.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use egress_bench::{destination_of, large_config};
use egress_model::{ClientAddr, TargetAddr, TargetHost};
use egress_policy::{decide, Geo, Intent, Snapshot, Transport};

const POLICIES: usize = 10_000;
const USERS: usize = 100_000;

fn bench_decide(c: &mut Criterion) {
    let config = large_config(POLICIES, USERS);
    let snapshot = Snapshot::compile(&config, "bench", 1).expect("valid");
    let client = ClientAddr(SocketAddr::from(([192, 0, 2, 1], 50_000)));
    let cases = [
        ("first_policy_match", destination_of(0)),
        ("last_policy_match", destination_of(POLICIES - 1)),
        ("no_match", std::net::IpAddr::from([30, 0, 0, 1])),
    ];
    let mut group = c.benchmark_group("decide_10k_policies_100k_users");
    for (name, dst) in cases {
        let target = TargetAddr {
            host: TargetHost::Ip(dst),
            port: 443,
        };
        let user = format!("user{}", USERS / 2);
        let intent = Intent {
            account: "acme",
            user: Some(&user),
            client,
            internal_src_ip: None,
            proxy_endpoint: None,
            target: &target,
            dst_ip: Some(dst),
            transport: Transport::Tcp,
            location: "nyc",
            src_geo: Geo::default(),
            dst_geo: Geo::default(),
        };
        let plan = decide(&intent, &snapshot).expect("decides");
        assert_eq!(
            plan.policy.is_some(),
            name != "no_match",
            "{name}: {plan:?}"
        );
        group.bench_function(name, |b| {
            b.iter(|| decide(black_box(&intent), black_box(&snapshot)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
