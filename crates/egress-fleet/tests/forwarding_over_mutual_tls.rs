//! Two nodes on loopback: one forwards a connection, and a UDP flow, through the other over
//! HTTP/2 extended CONNECT in mutual TLS; probes mark the peer's location up and, once it
//! stops, down.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egress_fleet::pki::{self, CA_CERT_FILE};
use egress_fleet::{
    BoundUdp, BoxFuture, Dialled, FleetError, FleetFiles, FleetTls, ForwardDialer, ForwardRefusal,
    ForwardRequest, LinkTimeouts, Membership, ServeSettings, UdpTunnel,
};
use egress_model::{Config, LocationCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Dials (or binds UDP) from the requested source, refusing one destination port to show
/// refusals travel, and counting the port budget slots it holds.
#[derive(Debug, Default)]
struct LoopbackDialer {
    slots: Arc<AtomicUsize>,
}

/// One port budget slot of [`LoopbackDialer`].
#[derive(Debug)]
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refuse_port_9(request: &ForwardRequest) -> Result<(), ForwardRefusal> {
    if request.destination.port() == 9 {
        return Err(ForwardRefusal {
            status: 403,
            close_reason: "forbidden_destination",
            message: "port 9 is refused in this test".into(),
        });
    }
    Ok(())
}

impl ForwardDialer for LoopbackDialer {
    fn bind_udp<'a>(
        &'a self,
        _peer: &'a str,
        request: &'a ForwardRequest,
    ) -> BoxFuture<'a, Result<BoundUdp, ForwardRefusal>> {
        Box::pin(async move {
            refuse_port_9(request)?;
            let socket = UdpSocket::bind(SocketAddr::new(request.source, 0))
                .await
                .map_err(|e| ForwardRefusal {
                    status: 500,
                    close_reason: "egress_source_unavailable",
                    message: e.to_string(),
                })?;
            self.slots.fetch_add(1, Ordering::SeqCst);
            Ok(BoundUdp {
                socket,
                guard: Box::new(Slot(Arc::clone(&self.slots))),
            })
        })
    }

    fn dial<'a>(
        &'a self,
        _peer: &'a str,
        request: &'a ForwardRequest,
    ) -> BoxFuture<'a, Result<Dialled, ForwardRefusal>> {
        Box::pin(async move {
            refuse_port_9(request)?;
            let stream =
                TcpStream::connect(request.destination)
                    .await
                    .map_err(|e| ForwardRefusal {
                        status: 502,
                        close_reason: "connection_refused",
                        message: e.to_string(),
                    })?;
            Ok(Dialled {
                stream,
                guard: Box::new(()),
            })
        })
    }
}

fn files(dir: &Path, id: &str) -> FleetFiles {
    let (cert, key) = pki::issue_node_cert(dir, id).expect("issue");
    std::fs::write(dir.join(format!("{id}.pem")), cert).expect("write cert");
    pki::write_private(&dir.join(format!("{id}.key")), &key).expect("write key");
    FleetFiles {
        ca: dir.join(CA_CERT_FILE),
        cert: dir.join(format!("{id}.pem")),
        key: dir.join(format!("{id}.key")),
    }
}

fn config(lax: SocketAddr, fra: SocketAddr) -> Config {
    let mut config = Config::from_toml(include_str!("../../../examples/egressd.toml"), "example")
        .expect("example");
    config.nodes.clear();
    for (id, location, address) in [("lax-1", "lax", lax), ("fra-1", "fra", fra)] {
        config.nodes.push(egress_model::Node {
            id: id.into(),
            location: LocationCode(location.into()),
            fleet_address: Some(address),
        });
    }
    config
}

const TIMEOUTS: LinkTimeouts = LinkTimeouts {
    connect: Duration::from_secs(2),
    probe: Duration::from_millis(500),
    open: Duration::from_secs(2),
};

const SETTINGS: ServeSettings = ServeSettings {
    handshake_timeout: Duration::from_secs(2),
    idle_timeout: Duration::from_secs(30),
    udp_idle_timeout: Duration::from_secs(60),
};

#[tokio::test]
async fn a_forwarded_connection_carries_bytes_and_refusals_carry_their_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki::init_ca(dir.path()).expect("ca");
    let lax_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let fra_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = config(
        lax_listener.local_addr().expect("addr"),
        fra_listener.local_addr().expect("addr"),
    );
    let lax = Membership::new(
        "lax-1",
        LocationCode("lax".into()),
        FleetTls::load(&files(dir.path(), "lax-1")).expect("tls"),
        TIMEOUTS,
        &config,
    );
    let fra = Membership::new(
        "fra-1",
        LocationCode("fra".into()),
        FleetTls::load(&files(dir.path(), "fra-1")).expect("tls"),
        TIMEOUTS,
        &config,
    );
    let fra_server = tokio::spawn(egress_fleet::serve(
        fra_listener,
        Arc::clone(&fra),
        Arc::new(LoopbackDialer::default()),
        SETTINGS,
    ));
    drop(lax_listener);

    // Before any probe the peer is not known to answer: its location is down.
    let fra_code = LocationCode("fra".into());
    assert!(lax.health().borrow().is_down("fra"));
    lax.probe_all().await;
    assert!(!lax.health().borrow().is_down("fra"), "fra answers probes");
    assert!(lax.health().borrow().is_down("nyc"), "nyc has no node");

    // An echo origin, reached through fra.
    let origin = TcpListener::bind("127.0.0.1:0").await.expect("origin");
    let origin_addr = origin.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = origin.accept().await.expect("accept");
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = s.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.expect("echo");
        }
    });
    let request = ForwardRequest {
        source: "127.0.0.1".parse().expect("ip"),
        destination: origin_addr,
        max_connections_per_destination: 10,
        session: "lax-1-1".into(),
        account: "acme".into(),
    };
    let mut upstream = lax.open(&fra_code, &request).await.expect("forwarded");
    assert!(
        upstream.local_addr().is_some(),
        "the egress node reports its bound address"
    );
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut reader, mut writer) = tokio::io::split(&mut upstream);
    let sent = payload.clone();
    let (_, echoed) = tokio::join!(
        async move {
            writer.write_all(&sent).await.expect("send");
            writer.shutdown().await.expect("shutdown");
        },
        async move {
            let mut echoed = Vec::new();
            reader.read_to_end(&mut echoed).await.expect("receive");
            echoed
        }
    );
    assert!(echoed == payload, "echoed {} bytes", echoed.len());

    let refused = lax
        .open(
            &fra_code,
            &ForwardRequest {
                destination: "127.0.0.1:9".parse().expect("addr"),
                ..request.clone()
            },
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(&refused, FleetError::Refused { status: 403, .. }),
        "{refused:?}"
    );
    assert_eq!(refused.close_reason(), "forbidden_destination");

    // fra stops: two failed probes later its location is down and opens fail at once.
    fra_server.abort();
    let _ = fra_server.await;
    for _ in 0..3 {
        lax.probe_all().await;
    }
    assert!(lax.health().borrow().is_down("fra"));
    let err = lax.open(&fra_code, &request).await.expect_err("down");
    assert_eq!(err.close_reason(), "egress_location_unavailable");
}

#[tokio::test]
async fn a_certificate_from_another_fleet_is_refused() {
    let ours = tempfile::tempdir().expect("tempdir");
    let theirs = tempfile::tempdir().expect("tempdir");
    pki::init_ca(ours.path()).expect("ca");
    pki::init_ca(theirs.path()).expect("ca");
    let fra_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = config(
        "127.0.0.1:1".parse().expect("addr"),
        fra_listener.local_addr().expect("addr"),
    );
    let fra = Membership::new(
        "fra-1",
        LocationCode("fra".into()),
        FleetTls::load(&files(ours.path(), "fra-1")).expect("tls"),
        TIMEOUTS,
        &config,
    );
    // lax-1's certificate comes from another CA: the handshake fails, fra stays down.
    let intruder = Membership::new(
        "lax-1",
        LocationCode("lax".into()),
        FleetTls::load(&files(theirs.path(), "lax-1")).expect("tls"),
        TIMEOUTS,
        &config,
    );
    let server = tokio::spawn(egress_fleet::serve(
        fra_listener,
        fra,
        Arc::new(LoopbackDialer::default()),
        SETTINGS,
    ));
    for _ in 0..2 {
        intruder.probe_all().await;
    }
    assert!(intruder.health().borrow().is_down("fra"));
    assert!(!intruder.peers()[0].up);
    server.abort();
}

/// A UDP origin that answers each datagram with the address it came from, then the payload.
async fn udp_echo() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("origin");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut answer = format!("{from} ").into_bytes();
            answer.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&answer, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn a_forwarded_udp_flow_carries_datagrams_and_releases_its_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki::init_ca(dir.path()).expect("ca");
    let fra_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = config(
        "127.0.0.1:1".parse().expect("addr"),
        fra_listener.local_addr().expect("addr"),
    );
    let lax = Membership::new(
        "lax-1",
        LocationCode("lax".into()),
        FleetTls::load(&files(dir.path(), "lax-1")).expect("tls"),
        TIMEOUTS,
        &config,
    );
    let fra = Membership::new(
        "fra-1",
        LocationCode("fra".into()),
        FleetTls::load(&files(dir.path(), "fra-1")).expect("tls"),
        TIMEOUTS,
        &config,
    );
    let dialer = Arc::new(LoopbackDialer::default());
    let slots = Arc::clone(&dialer.slots);
    let server = tokio::spawn(egress_fleet::serve(fra_listener, fra, dialer, SETTINGS));
    lax.probe_all().await;
    let fra_code = LocationCode("fra".into());

    let origin = udp_echo().await;
    let request = ForwardRequest {
        source: "127.0.0.1".parse().expect("ip"),
        destination: origin,
        max_connections_per_destination: 10,
        session: "lax-1-2".into(),
        account: "acme".into(),
    };
    let UdpTunnel {
        egress,
        sender,
        mut receiver,
    } = lax.open_udp(&fra_code, &request).await.expect("forwarded");
    let egress = egress.expect("the egress node reports its bound address");
    assert_eq!(slots.load(Ordering::SeqCst), 1, "the flow holds a slot");
    for payload in [&b"first"[..], &[0x5a; 20_000][..], &b""[..]] {
        sender.send(payload).expect("queued");
        let answer = receiver.recv().await.expect("a reply");
        let mut expected = format!("{egress} ").into_bytes();
        expected.extend_from_slice(payload);
        assert!(
            answer == expected,
            "the origin saw the bound address and the payload (answer of {} bytes)",
            answer.len()
        );
    }

    // The egress node's refusal reaches the ingress node with its reason.
    let refused = lax
        .open_udp(
            &fra_code,
            &ForwardRequest {
                destination: "127.0.0.1:9".parse().expect("addr"),
                ..request.clone()
            },
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(&refused, FleetError::Refused { status: 403, .. }),
        "{refused:?}"
    );
    assert_eq!(refused.close_reason(), "forbidden_destination");

    // Closing the flow at the ingress node ends it at the egress node, which frees the slot.
    drop(sender);
    let ended = receiver.recv().await.expect_err("the stream ends");
    assert_eq!(ended.close_reason, "fleet_stream_closed");
    let deadline = Instant::now() + Duration::from_secs(5);
    while slots.load(Ordering::SeqCst) != 0 {
        assert!(Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.abort();
}
