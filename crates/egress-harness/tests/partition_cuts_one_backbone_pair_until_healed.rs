//! A partition between two gateways silently drops their backbone traffic both ways — open
//! connections stall without a reset, new ones time out — while every other path keeps
//! working; healing it lets the stalled connection resume.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use egress_harness::{read_resuming, Gateway, HarnessError, Lab, Netns, TopologySpec};

/// How long "nothing arrives" is waited for.
const QUIET: Duration = Duration::from_millis(1500);

fn backbone_addr(gateway: &Gateway, port: u16) -> SocketAddr {
    SocketAddr::new(
        gateway.backbone_v4.expect("3 gateways: a backbone").into(),
        port,
    )
}

/// Connects with a short deadline; `Err` carries the error kind.
fn try_connect(from: &Netns, to: SocketAddr) -> Result<TcpStream, ErrorKind> {
    from.run_in(|| TcpStream::connect_timeout(&to, QUIET))
        .expect("entered the namespace")
        .map_err(|err| err.kind())
}

/// Reads what arrives within `wait`: `Ok(bytes)`, or the error kind (a timeout is
/// `WouldBlock` or `TimedOut`, a reset `ConnectionReset`).
fn read_within(stream: &mut TcpStream, wait: Duration) -> Result<Vec<u8>, ErrorKind> {
    stream.set_read_timeout(Some(wait)).expect("read timeout");
    let mut buf = [0u8; 64];
    match read_resuming(stream, &mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(err) => Err(err.kind()),
    }
}

fn is_timeout(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

#[test]
fn partition_cuts_one_backbone_pair_until_healed() {
    let mut lab = Lab::new("partition_cuts_one_backbone_pair_until_healed").expect("lab");
    let net = lab
        .topology(
            &TopologySpec::new()
                .gateway("lax", &["203.0.113.10/32"])
                .gateway("fra", &["203.0.113.20/32"])
                .gateway("sin", &["203.0.113.30/32"]),
        )
        .expect("topology");
    let lax = net.gateway("lax").expect("in spec");
    let fra = net.gateway("fra").expect("in spec");
    let sin = net.gateway("sin").expect("in spec");
    let at_fra = backbone_addr(fra, 7000);
    let fra_listener = fra.ns.listen_tcp(at_fra).expect("listener in fra");
    let at_sin = backbone_addr(sin, 7000);
    let _sin_listener = sin.ns.listen_tcp(at_sin).expect("listener in sin");

    // A connection lax -> fra, open and working before the partition.
    let mut at_lax = lax.ns.connect_tcp(None, at_fra).expect("lax reaches fra");
    let (mut in_fra, _) = fra_listener.accept().expect("accept");
    at_lax.write_all(b"hello").expect("write");
    assert_eq!(read_within(&mut in_fra, QUIET), Ok(b"hello".to_vec()));

    net.partition("lax", "fra").expect("partition");

    // The open connection stalls both ways: writes are accepted, nothing arrives, no reset.
    at_lax
        .write_all(b"ping")
        .expect("write during the partition");
    in_fra
        .write_all(b"pong")
        .expect("write during the partition");
    let kind = read_within(&mut in_fra, QUIET).expect_err("fra got lax's bytes");
    assert!(is_timeout(kind), "fra: {kind:?}");
    let kind = read_within(&mut at_lax, QUIET).expect_err("lax got fra's bytes");
    assert!(is_timeout(kind), "lax: {kind:?}");
    // New connections time out rather than being refused.
    for (from, to) in [(&lax.ns, at_fra), (&fra.ns, backbone_addr(lax, 7001))] {
        let kind = try_connect(from, to).expect_err("connected across the partition");
        assert!(is_timeout(kind), "{} -> {to}: {kind:?}", from.role());
    }
    // Everything else still works: other backbone pairs, and lax -> fra through the internet.
    assert!(try_connect(&lax.ns, at_sin).is_ok(), "lax -> sin");
    assert!(try_connect(&fra.ns, at_sin).is_ok(), "fra -> sin");
    assert!(try_connect(&sin.ns, at_fra).is_ok(), "sin -> fra");
    let fra_uplink = SocketAddr::new(fra.uplink_v4.into(), 7002);
    let _uplink_listener = fra.ns.listen_tcp(fra_uplink).expect("listener on uplink");
    assert!(
        try_connect(&lax.ns, fra_uplink).is_ok(),
        "lax -> fra's uplink"
    );

    net.heal("lax", "fra").expect("heal");

    // Retransmissions now arrive: the stalled connection resumes where it stopped.
    assert_eq!(
        read_within(&mut in_fra, Duration::from_secs(15)),
        Ok(b"ping".to_vec())
    );
    assert_eq!(
        read_within(&mut at_lax, Duration::from_secs(15)),
        Ok(b"pong".to_vec())
    );
    assert!(
        try_connect(&lax.ns, at_fra).is_ok(),
        "lax -> fra after healing"
    );
}

#[test]
fn partition_names_gateways_that_exist_and_heal_undoes_only_a_partition() {
    let mut lab = Lab::new("partition_names_gateways_that_exist_and_heal_undoes_only_a_partition")
        .expect("lab");
    let net = lab
        .topology(&TopologySpec::new().gateway("lax", &[]).gateway("fra", &[]))
        .expect("topology");
    let err = net.partition("lax", "ams").expect_err("no gateway ams");
    assert!(
        matches!(&err, HarnessError::UnknownGateway { role } if role == "ams"),
        "{err}"
    );
    assert!(net.partition("lax", "lax").is_err());
    assert!(net.heal("lax", "fra").is_err(), "nothing to heal");
    net.partition("fra", "lax").expect("partition");
    assert!(net.partition("lax", "fra").is_err(), "already partitioned");
    net.heal("lax", "fra").expect("heal");

    let mut single = Lab::new("partition_needs_a_backbone").expect("lab");
    let one = single.internet(&[]).expect("topology");
    let err = one
        .partition("gateway", "gateway")
        .expect_err("no backbone");
    assert!(matches!(err, HarnessError::NoBackbone { .. }), "{err}");
}
