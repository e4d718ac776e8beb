//! With several gateways, the internet routes each egress prefix (an IPv4, a slice of a shared
//! /64) to the gateway that owns it, and gateways reach each other through the internet.

use std::net::{IpAddr, SocketAddr};

use egress_harness::{ask_whoami, HarnessError, Lab, Origin, TopologySpec, ORIGIN_V4, ORIGIN_V6};

fn spec() -> TopologySpec {
    TopologySpec::new()
        .gateway("lax", &["203.0.113.10/32", "2001:db8:1::/80"])
        .gateway("fra", &["203.0.113.20/32", "2001:db8:1:0:1::/80"])
}

#[test]
fn each_gateway_gets_replies_for_its_own_prefixes() {
    let mut lab = Lab::new("each_gateway_gets_replies_for_its_own_prefixes").expect("lab");
    let net = lab.topology(&spec()).expect("topology");
    let origin_v4 =
        Origin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 80)).expect("origin v4");
    let origin_v6 =
        Origin::start(&net.internet, SocketAddr::new(ORIGIN_V6.into(), 80)).expect("origin v6");

    for (role, v4, v6) in [
        ("lax", "203.0.113.10", "2001:db8:1::7"),
        ("fra", "203.0.113.20", "2001:db8:1:0:1::7"),
    ] {
        let gateway = &net.gateway(role).expect("gateway in spec").ns;
        for (src, origin) in [(v4, &origin_v4), (v6, &origin_v6)] {
            let src: IpAddr = src.parse().expect("literal address");
            let mut stream = gateway
                .connect_tcp(Some(src), origin.addr())
                .unwrap_or_else(|err| panic!("{role} from {src}: {err}"));
            assert_eq!(ask_whoami(&mut stream).expect("answer"), src, "{role}");
        }
    }
}

#[test]
fn a_gateway_cannot_use_another_gateways_slice() {
    let mut lab = Lab::new("a_gateway_cannot_use_another_gateways_slice").expect("lab");
    let net = lab.topology(&spec()).expect("topology");
    let origin =
        Origin::start(&net.internet, SocketAddr::new(ORIGIN_V6.into(), 80)).expect("origin");

    // fra's slice is not local in lax: the SYN leaves, but the SYN-ACK is routed to fra.
    let lax = &net.gateway("lax").expect("gateway in spec").ns;
    let src: IpAddr = "2001:db8:1:0:1::7".parse().expect("literal address");
    let err = lax
        .connect_tcp(Some(src), origin.addr())
        .expect_err("lax connected from fra's slice");
    let HarnessError::Io { source, .. } = &err else {
        panic!("unexpected error kind: {err}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::TimedOut, "{err}");
}

#[test]
fn gateways_reach_each_other_through_the_internet() {
    let mut lab = Lab::new("gateways_reach_each_other_through_the_internet").expect("lab");
    let net = lab.topology(&spec()).expect("topology");
    let lax = net.gateway("lax").expect("gateway in spec");
    let fra = net.gateway("fra").expect("gateway in spec");

    for dst in [IpAddr::from(fra.uplink_v4), IpAddr::from(fra.uplink_v6)] {
        let listener = fra
            .ns
            .listen_tcp(SocketAddr::new(dst, 4443))
            .expect("listener in fra");
        let _stream = lax
            .ns
            .connect_tcp(None, SocketAddr::new(dst, 4443))
            .expect("lax reaches fra");
        let (_conn, peer) = listener.accept().expect("accept");
        assert!(
            peer.ip() == IpAddr::from(lax.uplink_v4) || peer.ip() == IpAddr::from(lax.uplink_v6),
            "fra saw {peer}"
        );
    }
}
