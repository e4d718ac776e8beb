//! The client namespace reaches the gateways' listen addresses, never the internet directly,
//! so a test cannot pass by bypassing the gateway under test.

use std::net::{IpAddr, SocketAddr};

use egress_harness::{HarnessError, Lab, ORIGIN_V4, ORIGIN_V6};

#[test]
fn client_connects_to_the_gateway_from_its_link_address() {
    let mut lab = Lab::new("client_connects_to_the_gateway_from_its_link_address").expect("lab");
    let net = lab.internet(&["203.0.113.10/32"]).expect("topology");
    let gateway = &net.gateways[0];

    for (listen, client) in [
        (
            IpAddr::from(gateway.listen_v4),
            IpAddr::from(gateway.client_v4),
        ),
        (
            IpAddr::from(gateway.listen_v6),
            IpAddr::from(gateway.client_v6),
        ),
    ] {
        let listener = gateway
            .ns
            .listen_tcp(SocketAddr::new(listen, 1080))
            .expect("proxy listener");
        let _stream = net
            .client
            .connect_tcp(None, SocketAddr::new(listen, 1080))
            .expect("client reaches the gateway");
        let (_conn, peer) = listener.accept().expect("accept");
        assert_eq!(peer.ip(), client);
    }
}

#[test]
fn client_has_no_route_to_the_internet() {
    let mut lab = Lab::new("client_has_no_route_to_the_internet").expect("lab");
    let net = lab.internet(&["203.0.113.10/32"]).expect("topology");
    let _listener = net
        .internet
        .listen_tcp(SocketAddr::new(ORIGIN_V4.into(), 80))
        .expect("origin listener");

    for origin in [IpAddr::from(ORIGIN_V4), IpAddr::from(ORIGIN_V6)] {
        let err = net
            .client
            .connect_tcp(None, SocketAddr::new(origin, 80))
            .expect_err("the client must not reach the internet directly");
        let HarnessError::Io { source, .. } = &err else {
            panic!("unexpected error kind: {err}");
        };
        assert_eq!(
            source.kind(),
            std::io::ErrorKind::NetworkUnreachable,
            "{err}"
        );
    }
}
