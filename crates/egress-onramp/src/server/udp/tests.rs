use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;
use crate::server::gateway::{BoxFuture, UdpAssociation};
use crate::socks5::encode_udp_header;

#[test]
fn a_declared_port_admits_only_that_port_of_the_client() {
    let peer: SocketAddr = "10.1.0.2:40000".parse().expect("valid");
    let mut filter = ClientFilter::new(peer, 5353);
    assert!(filter.admit("10.1.0.2:5353".parse().expect("valid")));
    assert!(!filter.admit("10.1.0.2:5354".parse().expect("valid")));
    assert!(!filter.admit("10.1.0.3:5353".parse().expect("valid")));
}

#[test]
fn an_undeclared_port_is_fixed_by_the_first_datagram() {
    let peer: SocketAddr = "[::ffff:10.1.0.2]:40000".parse().expect("valid");
    let mut filter = ClientFilter::new(peer, 0);
    assert!(!filter.admit("10.9.9.9:7000".parse().expect("valid")));
    assert!(filter.admit("10.1.0.2:7000".parse().expect("valid")));
    assert!(filter.admit("[::ffff:10.1.0.2]:7000".parse().expect("valid")));
    assert!(!filter.admit("10.1.0.2:7001".parse().expect("valid")));
}

/// What the fake gateway saw.
#[derive(Debug, Default)]
struct Seen {
    sent: Vec<(egress_model::TargetAddr, Vec<u8>)>,
    dropped: Vec<&'static str>,
    finished: Option<String>,
}

#[derive(Debug)]
struct FakeAssociation(Arc<Mutex<Seen>>);

impl UdpAssociation for FakeAssociation {
    fn send<'a>(
        &'a self,
        target: egress_model::TargetAddr,
        payload: &'a [u8],
    ) -> BoxFuture<'a, ()> {
        self.0
            .lock()
            .expect("not poisoned")
            .sent
            .push((target, payload.to_vec()));
        Box::pin(async {})
    }

    fn dropped(&self, reason: &'static str) {
        self.0.lock().expect("not poisoned").dropped.push(reason);
    }

    fn finish(self: Box<Self>, close_reason: &str) {
        self.0.lock().expect("not poisoned").finished = Some(close_reason.to_owned());
    }
}

fn datagram(frag: u8, target: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let header = UdpHeader {
        frag,
        target: TargetAddr::Ip(target),
    };
    let mut out = encode_udp_header(&header).expect("encodable");
    out.extend_from_slice(payload);
    out
}

async fn wait_for(seen: &Mutex<Seen>, done: impl Fn(&Seen) -> bool) {
    for _ in 0..200 {
        if done(&seen.lock().expect("not poisoned")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out; saw {:?}", seen.lock().expect("not poisoned"));
}

#[tokio::test]
async fn datagrams_are_unwrapped_filtered_and_replies_wrapped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let control_client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (control, peer) = listener.accept().await.expect("accept");
    let relay = UdpSocket::bind("127.0.0.1:0").await.expect("relay");
    let relay_addr = relay.local_addr().expect("relay addr");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (replies_tx, replies) = mpsc::channel(8);
    let associated = Associated {
        association: Box::new(FakeAssociation(Arc::clone(&seen))),
        replies,
    };
    let task = tokio::spawn(relay_association(
        control,
        relay,
        ClientFilter::new(peer, 0),
        associated,
        Duration::from_secs(30),
    ));

    let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
    let stranger = UdpSocket::bind("127.0.0.1:0").await.expect("stranger");
    let target: SocketAddr = "192.0.2.1:53".parse().expect("valid");
    client
        .send_to(&datagram(0, target, b"hello"), relay_addr)
        .await
        .expect("send");
    wait_for(&seen, |s| s.sent.len() == 1).await;
    client
        .send_to(&datagram(1, target, b"fragment"), relay_addr)
        .await
        .expect("send a fragment");
    client
        .send_to(&[0, 0], relay_addr)
        .await
        .expect("send garbage");
    stranger
        .send_to(&datagram(0, target, b"intruder"), relay_addr)
        .await
        .expect("send from another port");
    wait_for(&seen, |s| s.dropped.len() == 3).await;
    {
        let seen = seen.lock().expect("not poisoned");
        assert_eq!(
            seen.sent,
            vec![(
                egress_model::TargetAddr {
                    host: egress_model::TargetHost::Ip(target.ip()),
                    port: 53,
                },
                b"hello".to_vec()
            )]
        );
        let mut dropped = seen.dropped.clone();
        dropped.sort_unstable();
        assert_eq!(dropped, ["foreign_source", "fragmented", "malformed"]);
    }

    replies_tx
        .send(UdpReply {
            from: target,
            payload: b"world".to_vec(),
        })
        .await
        .expect("reply");
    let mut buf = [0u8; 512];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("reply in time")
        .expect("receive");
    assert_eq!(from, relay_addr);
    let (header, offset) = parse_udp_header(&buf[..n]).expect("a header");
    assert_eq!(header.target, TargetAddr::Ip(target));
    assert_eq!(&buf[offset..n], b"world");

    drop(control_client);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the association ends with its control connection")
        .expect("no panic");
    assert_eq!(
        seen.lock().expect("not poisoned").finished.as_deref(),
        Some("closed")
    );
}

#[tokio::test]
async fn a_quiet_association_ends_after_the_idle_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let _control_client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (control, peer) = listener.accept().await.expect("accept");
    let relay = UdpSocket::bind("127.0.0.1:0").await.expect("relay");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (_replies_tx, replies) = mpsc::channel(8);
    let associated = Associated {
        association: Box::new(FakeAssociation(Arc::clone(&seen))),
        replies,
    };
    tokio::time::timeout(
        Duration::from_secs(5),
        relay_association(
            control,
            relay,
            ClientFilter::new(peer, 0),
            associated,
            Duration::from_millis(100),
        ),
    )
    .await
    .expect("ends on its own");
    assert_eq!(
        seen.lock().expect("not poisoned").finished.as_deref(),
        Some("idle_timeout")
    );
}
