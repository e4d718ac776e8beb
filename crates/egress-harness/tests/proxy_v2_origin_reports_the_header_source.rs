//! The PROXY v2 origin answers with the source address the header claims and records it next
//! to the TCP peer it really saw; a malformed header gets no answer.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use egress_harness::{ask_whoami, Lab, ProxyV2Origin, ORIGIN_V4, ORIGIN_V6};
use egress_net::proxy_v2::{self, Command, ProxyV2Error};

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("literal address")
}

fn with_header(stream: &mut TcpStream, src: SocketAddr, dst: SocketAddr) {
    let header = proxy_v2::encode(src, dst).expect("same family");
    stream.write_all(header.as_bytes()).expect("write header");
}

#[test]
fn the_origin_answers_with_the_header_source_and_records_the_tcp_peer() {
    let mut lab = Lab::new("the_origin_answers_with_the_header_source_and_records_the_tcp_peer")
        .expect("lab");
    let net = lab.internet(&[]).expect("topology");
    let gateway = &net.gateways[0];
    let origin_v4 = ProxyV2Origin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 8443))
        .expect("origin v4");
    let origin_v6 = ProxyV2Origin::start(&net.internet, SocketAddr::new(ORIGIN_V6.into(), 8443))
        .expect("origin v6");

    // Plain dialect over IPv4: the header claims a dedicated IPv4 the gateway does not own.
    let claimed = addr("203.0.113.10:40000");
    let mut stream = gateway
        .ns
        .connect_tcp(None, origin_v4.addr())
        .expect("connect");
    with_header(&mut stream, claimed, origin_v4.addr());
    assert_eq!(ask_whoami(&mut stream).expect("answer"), claimed.ip());

    // HTTP dialect, header and request in one write.
    let mut stream = gateway
        .ns
        .connect_tcp(None, origin_v4.addr())
        .expect("connect");
    let mut bytes = proxy_v2::encode(addr("192.0.2.7:1234"), origin_v4.addr())
        .expect("v4")
        .as_bytes()
        .to_vec();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: origin\r\n\r\n");
    stream.write_all(&bytes).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\n192.0.2.7\n"), "{response}");

    let seen = origin_v4.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].tcp_peer.ip(), IpAddr::from(gateway.uplink_v4));
    assert_eq!(seen[0].proxy_source(), Some(claimed));
    assert_eq!(seen[0].header.destination, Some(origin_v4.addr()));
    assert_eq!(seen[1].proxy_source(), Some(addr("192.0.2.7:1234")));

    // IPv6.
    let claimed = addr("[2001:db8:1::7]:40000");
    let mut stream = gateway
        .ns
        .connect_tcp(None, origin_v6.addr())
        .expect("connect v6");
    with_header(&mut stream, claimed, origin_v6.addr());
    assert_eq!(ask_whoami(&mut stream).expect("answer"), claimed.ip());
    let seen = origin_v6.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].tcp_peer.ip(), IpAddr::from(gateway.uplink_v6));
    assert_eq!(seen[0].proxy_source(), Some(claimed));
}

#[test]
fn a_local_header_is_answered_with_the_tcp_peer() {
    let mut lab = Lab::new("a_local_header_is_answered_with_the_tcp_peer").expect("lab");
    let net = lab.internet(&[]).expect("topology");
    let gateway = &net.gateways[0];
    let origin = ProxyV2Origin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 8443))
        .expect("origin");

    let mut stream = gateway
        .ns
        .connect_tcp(None, origin.addr())
        .expect("connect");
    let mut local = proxy_v2::SIGNATURE.to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    stream.write_all(&local).expect("write");
    assert_eq!(
        ask_whoami(&mut stream).expect("answer"),
        IpAddr::from(gateway.uplink_v4)
    );
    let seen = origin.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].header.command, Command::Local);
    assert_eq!(seen[0].proxy_source(), None);
}

#[test]
fn a_malformed_header_is_refused_without_an_answer() {
    let mut lab = Lab::new("a_malformed_header_is_refused_without_an_answer").expect("lab");
    let net = lab.internet(&[]).expect("topology");
    let gateway = &net.gateways[0];
    let origin = ProxyV2Origin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 8443))
        .expect("origin");

    // A PROXY v1 (text) header is not a v2 one.
    let mut stream = gateway
        .ns
        .connect_tcp(None, origin.addr())
        .expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"PROXY TCP4 203.0.113.10 198.51.100.80 40000 8443\r\n\n")
        .expect("write");
    let mut answer = Vec::new();
    // The origin closes; whether that reads as EOF or a reset, no answer comes.
    let _ = stream.read_to_end(&mut answer);
    assert_eq!(answer, b"");

    assert!(origin.seen().is_empty());
    let refused = origin.refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0.ip(), IpAddr::from(gateway.uplink_v4));
    assert_eq!(refused[0].1, ProxyV2Error::BadSignature);
}
