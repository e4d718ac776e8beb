//! Any address of an IPv6 /64 made local with AnyIP can be a source, via IPV6_FREEBIND.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};

use egress_harness::{ask_whoami, Lab, Origin, ORIGIN_V6};

#[test]
fn listener_in_internet_sees_address_inside_the_64_as_peer() {
    let mut lab = Lab::new("listener_in_internet_sees_address_inside_the_64_as_peer").expect("lab");
    let net = lab.internet(&["2001:db8:1::/64"]).expect("topology");
    let listener = net
        .internet
        .listen_tcp(SocketAddr::new(ORIGIN_V6.into(), 8080))
        .expect("listener in internet");

    for src in ["2001:db8:1::10", "2001:db8:1:0:abcd:1234:5678:9abc"] {
        let src: IpAddr = src.parse().expect("literal address");
        let _stream = net.gateways[0]
            .ns
            .connect_tcp(Some(src), listener.local_addr().expect("bound address"))
            .expect("connect from inside the /64");
        let (_conn, peer) = listener.accept().expect("accept");
        assert_eq!(peer.ip(), src);
    }
}

#[test]
fn whoami_origin_answers_ipv6_source_over_http_and_plain() {
    let mut lab = Lab::new("whoami_origin_answers_ipv6_source_over_http_and_plain").expect("lab");
    let net = lab.internet(&["2001:db8:1::/64"]).expect("topology");
    let origin =
        Origin::start(&net.internet, SocketAddr::new(ORIGIN_V6.into(), 80)).expect("origin");
    let gateway = &net.gateways[0].ns;
    let src: IpAddr = "2001:db8:1::42".parse().expect("literal address");

    let mut plain = gateway
        .connect_tcp(Some(src), origin.addr())
        .expect("connect");
    assert_eq!(ask_whoami(&mut plain).expect("plain answer"), src);

    let mut http = gateway
        .connect_tcp(Some(src), origin.addr())
        .expect("connect");
    http.write_all(b"GET / HTTP/1.1\r\nHost: origin\r\n\r\n")
        .expect("send request");
    let mut response = String::new();
    http.read_to_string(&mut response).expect("read response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\n2001:db8:1::42\n"), "{response}");
}
