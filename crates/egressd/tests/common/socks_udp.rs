//! A SOCKS5 UDP ASSOCIATE client (RFC 1928 §7) for the scenarios: the control connection, a
//! UDP socket in the client namespace, and datagrams with the SOCKS5 UDP header; and HTTP/3
//! carried through such an association.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};

use egress_harness::{
    h3_get, quic_client_endpoint, H3Origin, HarnessError, Netns, Socks5UdpCarrier, H3_ORIGIN_NAME,
};

use super::IO_TIMEOUT;

/// Greets without authentication and asks for a UDP association from any port; returns the
/// relay address the gateway answered with, or the reply code when it refused.
#[track_caller]
pub fn socks5_udp_associate(control: &mut TcpStream) -> Result<SocketAddr, u8> {
    control.write_all(&[5, 1, 0]).expect("send the greeting");
    let mut selection = [0u8; 2];
    control
        .read_exact(&mut selection)
        .expect("method selection");
    assert_eq!(selection, [5, 0], "method selection");
    // DST.ADDR 0.0.0.0, DST.PORT 0: the client does not know its sending port yet.
    control
        .write_all(&[5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
        .expect("send UDP ASSOCIATE");
    let mut reply = [0u8; 10];
    control.read_exact(&mut reply).expect("UDP ASSOCIATE reply");
    assert_eq!((reply[0], reply[3]), (5, 1), "reply {reply:?}");
    if reply[1] != 0 {
        return Err(reply[1]);
    }
    let ip = Ipv4Addr::new(reply[4], reply[5], reply[6], reply[7]);
    Ok(SocketAddr::new(
        ip.into(),
        u16::from_be_bytes([reply[8], reply[9]]),
    ))
}

/// A UDP socket inside `ns`, any address and port, with read and write deadlines.
#[track_caller]
pub fn udp_socket(ns: &Netns) -> UdpSocket {
    let socket = ns
        .bind_udp(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))
        .expect("bind a UDP socket in the client namespace");
    socket.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    socket.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    socket
}

/// `payload` behind the SOCKS5 UDP header naming `target` (IPv4), fragment `frag`.
pub fn udp_datagram(frag: u8, target: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let IpAddr::V4(ip) = target.ip() else {
        panic!("the scenarios send to IPv4 targets");
    };
    let mut out = vec![0, 0, frag, 1];
    out.extend_from_slice(&ip.octets());
    out.extend_from_slice(&target.port().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Receives one datagram from the relay: the destination its header names and the payload.
#[track_caller]
pub fn recv_udp_reply(socket: &UdpSocket, relay: SocketAddr) -> (SocketAddr, Vec<u8>) {
    let mut buf = [0u8; 2048];
    let (n, from) =
        egress_harness::recv_from_resuming(socket, &mut buf).expect("a datagram from the relay");
    assert_eq!(from, relay, "the reply comes from the relay");
    assert!(n >= 10, "short reply {:?}", &buf[..n]);
    assert_eq!(&buf[..4], &[0, 0, 0, 1], "reply header {:?}", &buf[..n]);
    let ip = Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7]);
    let port = u16::from_be_bytes([buf[8], buf[9]]);
    (SocketAddr::new(ip.into(), port), buf[10..n].to_vec())
}

/// Sends a datagram for `target` through the relay and reads the UDP whoami answer: the
/// address and port the origin saw.
#[track_caller]
pub fn udp_whoami(socket: &UdpSocket, relay: SocketAddr, target: SocketAddr) -> SocketAddr {
    socket
        .send_to(&udp_datagram(0, target, b"who am i"), relay)
        .expect("send through the relay");
    let (from, payload) = recv_udp_reply(socket, relay);
    assert_eq!(
        from, target,
        "the header names the destination that answered"
    );
    let text = String::from_utf8(payload).expect("a text answer");
    text.parse()
        .unwrap_or_else(|_| panic!("UDP whoami answer {text:?} is not an address"))
}

/// One HTTP/3 GET of `server` on the HTTP/3 origin, with QUIC carried through a fresh SOCKS5
/// UDP association with the gateway's SOCKS5 listener: the answer, and the control
/// connection's local port (the log's `src_port` for the association's flows). The
/// association ends before this returns: its runtime, endpoint and control connection go.
pub fn h3_get_through_socks5(
    scenario: &super::Scenario,
    origin: &H3Origin,
    server: SocketAddr,
) -> (Result<String, HarnessError>, u16) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the HTTP/3 client");
    runtime.block_on(async {
        let proxy = SocketAddr::new(super::GATEWAY.into(), super::SOCKS_PORT);
        let carrier = Socks5UdpCarrier::associate(&scenario.net.client, proxy)
            .expect("UDP ASSOCIATE accepted");
        let control_port = carrier.control_addr().expect("control address").port();
        let endpoint = quic_client_endpoint(carrier).expect("a QUIC endpoint over SOCKS5 UDP");
        let answer = h3_get(&endpoint, server, H3_ORIGIN_NAME, origin.certificate()).await;
        endpoint.close(0u32.into(), b"done");
        (answer, control_port)
    })
}
