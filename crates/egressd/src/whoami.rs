//! `egressd whoami`: tells each client the address it connected from, as plain text at `/`
//! (like icanhazip) and as JSON at `/json` (address, port and the request's headers).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cli::WhoamiArgs;

const MAX_HEAD: usize = 16 * 1024;

pub fn run(args: &WhoamiArgs) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for addr in &args.listen {
            let socket = crate::system::listen(*addr, 1024)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            eprintln!("egressd whoami: listening on {addr}");
            tasks.spawn(async move {
                loop {
                    if let Ok((stream, peer)) = socket.accept().await {
                        tokio::spawn(answer(stream, peer));
                    }
                }
            });
        }
        tokio::select! {
            _ = tasks.join_next() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn answer(mut stream: TcpStream, peer: SocketAddr) {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let head =
            tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream, &mut buf)).await;
        let Ok(Some(head_len)) = head else { return };
        let (response, keep_alive) = respond(&buf[..head_len], peer);
        buf.drain(..head_len);
        if stream.write_all(&response).await.is_err() || !keep_alive {
            return;
        }
    }
}

async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(pos + 4);
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 2048];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn respond(head: &[u8], peer: SocketAddr) -> (Vec<u8>, bool) {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return (reply(400, "text/plain", "bad request\n", false), false);
    }
    let keep_alive = req.version == Some(1)
        && !req.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
        });
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(std::net::IpAddr::V4)
            .unwrap_or(peer.ip()),
        v4 => v4,
    };
    let path = req.path.unwrap_or("/");
    let response = if path == "/json" || path.starts_with("/json?") {
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into(),
                )
            })
            .collect();
        let body = serde_json::json!({ "address": ip.to_string(), "port": peer.port(), "headers": headers });
        reply(200, "application/json", &format!("{body}\n"), keep_alive)
    } else {
        reply(200, "text/plain", &format!("{ip}\n"), keep_alive)
    };
    (response, keep_alive)
}

fn reply(status: u16, content_type: &str, body: &str, keep_alive: bool) -> Vec<u8> {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
