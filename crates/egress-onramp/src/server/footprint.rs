//! What an idle tunnel's task holds: the relay's state (both sockets, each direction, the idle
//! timer) and a few words more. The handshake (head buffers, parser state, credentials) must
//! live in its own allocation, freed before the relay starts; kept inline it would cost every
//! idle tunnel kilobytes (issue 4's budget is 2 KiB per idle tunnel in all).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use egress_model::ProxyProtocol;
use tokio::net::{TcpListener, TcpStream};

use super::gateway::{
    AssociateRequest, Associated, AuthError, Authorized, BoxFuture, Gateway, Listener, OnRamp,
    OpenError, OpenRequest, Opened,
};
use super::{handle_http, handle_socks5, OnRampSettings};

/// Room allowed beyond the relay: the session, the bytes sent early, the idle timeout and
/// the stage's tag (the boxed handshake's pointer shares the relay's room).
const SLACK: usize = 48;

/// A gateway that is never asked anything: the futures are measured, not run.
struct Unused;

impl Gateway for Unused {
    fn authorize<'a>(
        &'a self,
        _: &'a Listener,
        _: SocketAddr,
        _: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Authorized, AuthError>> {
        unreachable!("only measured")
    }
    fn requires_credentials(&self, _: &Listener, _: SocketAddr) -> bool {
        unreachable!("only measured")
    }
    fn open(&self, _: OpenRequest) -> BoxFuture<'_, Result<Opened, OpenError>> {
        unreachable!("only measured")
    }
    fn associate(&self, _: AssociateRequest) -> BoxFuture<'_, Result<Associated, OpenError>> {
        unreachable!("only measured")
    }
    fn reject(&self, _: &Listener, _: SocketAddr, _: OnRamp, _: &str) {}
}

async fn connected() -> (TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let _client = TcpStream::connect(addr).await.expect("connect");
    listener.accept().await.expect("accept")
}

#[tokio::test]
async fn an_idle_tunnel_task_holds_little_beyond_the_relay() {
    let (client, peer) = connected().await;
    let (upstream, _) = connected().await;
    let relay = std::mem::size_of_val(&egress_net::relay_upstream(
        client,
        egress_net::Upstream::Local(upstream),
        Duration::from_secs(1),
    ));

    let settings = Arc::new(OnRampSettings::default());
    let gateway = Arc::new(Unused);
    for protocol in [ProxyProtocol::Http, ProxyProtocol::Socks5] {
        let (stream, _) = connected().await;
        let listener = Arc::new(Listener {
            local: peer,
            protocol,
        });
        let (s, g) = (Arc::clone(&settings), Arc::clone(&gateway));
        let task = match protocol {
            ProxyProtocol::Http => {
                std::mem::size_of_val(&handle_http(stream, peer, listener, g, s))
            }
            _ => std::mem::size_of_val(&handle_socks5(stream, peer, listener, g, s)),
        };
        assert!(
            task <= relay + SLACK,
            "{protocol:?}: a connection's task takes {task} bytes, the relay alone {relay}"
        );
    }
}
