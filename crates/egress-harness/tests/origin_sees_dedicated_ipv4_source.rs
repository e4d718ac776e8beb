//! A connection bound to a dedicated IPv4 made local with AnyIP reaches the origin from it.

use std::net::{IpAddr, SocketAddr};

use egress_harness::{ask_whoami, Lab, Origin, ORIGIN_V4};

const DEDICATED: &str = "203.0.113.10";

#[test]
fn listener_in_internet_sees_dedicated_ipv4_as_peer() {
    let mut lab = Lab::new("listener_in_internet_sees_dedicated_ipv4_as_peer").expect("lab");
    let net = lab.internet(&["203.0.113.10/32"]).expect("topology");
    let listener = net
        .internet
        .listen_tcp(SocketAddr::new(ORIGIN_V4.into(), 8080))
        .expect("listener in internet");

    let src: IpAddr = DEDICATED.parse().expect("literal address");
    let _stream = net.gateways[0]
        .ns
        .connect_tcp(Some(src), listener.local_addr().expect("bound address"))
        .expect("connect from the dedicated address");

    let (_conn, peer) = listener.accept().expect("accept");
    assert_eq!(peer.ip(), src);
}

#[test]
fn whoami_origin_answers_dedicated_ipv4() {
    let mut lab = Lab::new("whoami_origin_answers_dedicated_ipv4").expect("lab");
    let net = lab.internet(&["203.0.113.0/24"]).expect("topology");
    let origin =
        Origin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 80)).expect("origin");

    let src: IpAddr = DEDICATED.parse().expect("literal address");
    let mut stream = net.gateways[0]
        .ns
        .connect_tcp(Some(src), origin.addr())
        .expect("connect from the dedicated address");

    assert_eq!(ask_whoami(&mut stream).expect("whoami answer"), src);
    assert_eq!(
        origin
            .seen()
            .iter()
            .map(|peer| peer.ip())
            .collect::<Vec<_>>(),
        vec![src]
    );
}
