//! The UDP whoami origin answers each datagram with the source address and port it came from,
//! here a dedicated IPv4 the gateway namespace sends from with freebind.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use egress_harness::{Lab, UdpOrigin, ORIGIN_V4};
use socket2::{Domain, Protocol, Socket, Type};

#[test]
fn udp_origin_answers_with_the_source_it_saw() {
    let mut lab = Lab::new("udp_origin_answers_with_the_source_it_saw").expect("lab");
    let net = lab.internet(&["203.0.113.0/24"]).expect("topology");
    let origin =
        UdpOrigin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 0)).expect("origin");
    let src: IpAddr = "203.0.113.10".parse().expect("literal address");
    let socket: UdpSocket = net.gateways[0]
        .ns
        .run_in(|| -> std::io::Result<UdpSocket> {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_freebind_v4(true)?;
            socket.bind(&SocketAddr::new(src, 0).into())?;
            Ok(socket.into())
        })
        .expect("enter the gateway")
        .expect("bind the dedicated address");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let bound = socket.local_addr().expect("bound");

    for _ in 0..2 {
        socket.send_to(b"who am i", origin.addr()).expect("send");
        let mut buf = [0u8; 128];
        let (n, from) = egress_harness::recv_from_resuming(&socket, &mut buf).expect("answer");
        assert_eq!(from, origin.addr());
        let answer = std::str::from_utf8(&buf[..n]).expect("text");
        assert_eq!(answer.parse::<SocketAddr>().expect("an address"), bound);
    }
    assert_eq!(origin.seen(), vec![bound, bound]);
}
