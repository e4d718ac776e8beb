//! The HTTP/3 origin answers a GET with the address and port its QUIC connection came from,
//! over IPv4 and IPv6: here a dedicated IPv4 and an address of a /64 that the gateway
//! namespace sends from with freebind, through a plain quinn endpoint.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use egress_harness::{h3_get, H3Origin, Lab, Netns, H3_ORIGIN_NAME, ORIGIN_V4, ORIGIN_V6};
use quinn::{Endpoint, EndpointConfig, TokioRuntime};
use socket2::{Domain, Protocol, Socket, Type};

/// A non-blocking UDP socket inside `ns`, bound with freebind to `src`.
fn freebind_udp(ns: &Netns, src: IpAddr) -> UdpSocket {
    ns.run_in(|| -> std::io::Result<UdpSocket> {
        let addr = SocketAddr::new(src, 0);
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        match src {
            IpAddr::V4(_) => socket.set_freebind_v4(true)?,
            IpAddr::V6(_) => socket.set_freebind_v6(true)?,
        }
        socket.bind(&addr.into())?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    })
    .expect("enter the gateway")
    .expect("bind the egress address")
}

#[test]
fn h3_origin_answers_with_the_source_it_saw() {
    let mut lab = Lab::new("h3_origin_answers_with_the_source_it_saw").expect("lab");
    let net = lab
        .internet(&["203.0.113.10/32", "2001:db8:e000:10::/64"])
        .expect("topology");
    let origin = H3Origin::start(
        &net.internet,
        &[
            SocketAddr::new(ORIGIN_V4.into(), 0),
            SocketAddr::new(ORIGIN_V6.into(), 0),
        ],
    )
    .expect("HTTP/3 origin");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut bound = Vec::new();
    for (src, server) in [
        ("203.0.113.10", origin.addrs()[0]),
        ("2001:db8:e000:10::7", origin.addrs()[1]),
    ] {
        let socket = freebind_udp(&net.gateways[0].ns, src.parse().expect("literal address"));
        let local = socket.local_addr().expect("bound");
        let body = runtime
            .block_on(async {
                let endpoint = Endpoint::new(
                    EndpointConfig::default(),
                    None,
                    socket,
                    Arc::new(TokioRuntime),
                )
                .expect("endpoint");
                h3_get(&endpoint, server, H3_ORIGIN_NAME, origin.certificate()).await
            })
            .unwrap_or_else(|e| panic!("GET from {src}: {e}"));
        assert_eq!(H3Origin::seen_in_answer(&body), Some(local), "{body:?}");
        bound.push(local);
    }
    assert_eq!(origin.seen(), bound);
}
