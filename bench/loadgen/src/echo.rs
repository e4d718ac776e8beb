//! The UDP echo origin of the datagram scenarios: every datagram goes back to its sender as it
//! came, except the whoami question, which is answered with the address and port the datagram
//! came from (so a run can prove which source address a proxy sent from).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::error::LoadError;

/// The payload that asks the origin for the source it saw. Echo payloads start with an
/// eight-byte sequence number, so they never equal it.
pub const WHOAMI: &[u8] = b"egress-loadgen whoami";

/// Binds every address, then echoes on each until the process is stopped.
pub async fn serve(listen: &[SocketAddr]) -> Result<(), LoadError> {
    let mut echoing = tokio::task::JoinSet::new();
    for addr in listen {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|e| LoadError::Setup(format!("cannot bind UDP {addr}: {e}")))?;
        eprintln!("egress-loadgen origin: echoing UDP on {addr}");
        echoing.spawn(echo(socket));
    }
    while echoing.join_next().await.is_some() {}
    Ok(())
}

async fn echo(socket: UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                eprintln!("egress-loadgen origin: UDP receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let sent = if &buf[..n] == WHOAMI {
            socket.send_to(from.to_string().as_bytes(), from).await
        } else {
            socket.send_to(&buf[..n], from).await
        };
        // A sender that went away (or a full buffer) loses its echo, as UDP may.
        let _ = sent;
    }
}
