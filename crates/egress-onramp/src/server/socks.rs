//! SOCKS5 on-ramp (RFC 1928 CONNECT, RFC 1929 username/password).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use egress_model::{TargetAddr, TargetHost};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::gateway::{Gateway, Listener, OnRamp, OpenRequest};
use super::io::{read_message, socks, ReadError};
use super::{OnRampSettings, Tunnel};
use crate::socks5::{
    encode_auth_status, encode_method_selection, encode_reply, parse_greeting, parse_request,
    parse_user_pass, select_method, Command, Method, Reply,
};

const UNSPECIFIED: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// Serves one SOCKS5 client connection to its end.
pub async fn handle_socks5<G: Gateway>(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) {
    let idle = settings.idle_timeout;
    Tunnel::after(handshake(stream, peer, listener, gateway, settings), idle).await;
}

/// Runs the SOCKS5 handshake: the tunnel to relay, or `None` when it was refused.
async fn handshake<G: Gateway>(
    mut stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) -> Option<Tunnel> {
    let mut buf = Vec::with_capacity(512);
    let reject = |reason: &str| {
        gateway.reject(&listener, peer, OnRamp::Socks5, reason);
        None
    };

    let greeting = match read_message(
        &mut stream,
        &mut buf,
        settings.head_timeout,
        socks(parse_greeting),
    )
    .await
    {
        Ok(g) => g,
        Err(e) => return reject(e.close_reason()),
    };
    let needs_password = gateway.requires_credentials(&listener, peer);
    let method = select_method(&greeting, needs_password);
    if stream
        .write_all(&encode_method_selection(method))
        .await
        .is_err()
    {
        return reject("client_write_error");
    }
    let credentials = match method {
        Method::NoAcceptable => return reject("no_acceptable_auth_method"),
        Method::NoAuth => None,
        Method::UserPass => {
            match read_message(
                &mut stream,
                &mut buf,
                settings.head_timeout,
                socks(parse_user_pass),
            )
            .await
            {
                Ok(up) => Some(up),
                Err(e) => return reject(e.close_reason()),
            }
        }
    };
    let who = match gateway
        .authorize(
            &listener,
            peer,
            credentials
                .as_ref()
                .map(|c| (c.username.as_str(), c.password.as_str())),
        )
        .await
    {
        Ok(who) => {
            if credentials.is_some() && stream.write_all(&encode_auth_status(true)).await.is_err() {
                return reject("client_write_error");
            }
            who
        }
        Err(e) => {
            if credentials.is_some() {
                let _ = stream.write_all(&encode_auth_status(false)).await;
            } else {
                let _ = stream
                    .write_all(&encode_reply(Reply::NotAllowed, UNSPECIFIED))
                    .await;
            }
            return reject(e.close_reason());
        }
    };
    let request = match read_message(
        &mut stream,
        &mut buf,
        settings.head_timeout,
        socks(parse_request),
    )
    .await
    {
        Ok(r) => r,
        Err(ReadError::Protocol {
            reply: Some(reply),
            reason,
            ..
        }) => {
            let _ = stream.write_all(&encode_reply(reply, UNSPECIFIED)).await;
            return reject(reason);
        }
        Err(e) => return reject(e.close_reason()),
    };
    if request.command != Command::Connect {
        let _ = stream
            .write_all(&encode_reply(Reply::CommandNotSupported, UNSPECIFIED))
            .await;
        return reject("command_not_supported");
    }
    let target = match request.target {
        crate::socks5::TargetAddr::Ip(sa) => TargetAddr {
            host: TargetHost::Ip(sa.ip()),
            port: sa.port(),
        },
        crate::socks5::TargetAddr::Domain(name, port) => TargetAddr {
            host: TargetHost::Name(name),
            port,
        },
    };
    // Nothing of the handshake stays alive across the tunnel's awaits.
    drop(credentials);
    drop(greeting);
    let opened = gateway
        .open(OpenRequest {
            who,
            peer,
            onramp: OnRamp::Socks5,
            target,
        })
        .await;
    let mut opened = match opened {
        Ok(o) => o,
        Err(e) => {
            let _ = stream
                .write_all(&encode_reply(e.socks_reply(), UNSPECIFIED))
                .await;
            return None;
        }
    };
    let bound = opened.stream.local_addr().unwrap_or(UNSPECIFIED);
    if stream
        .write_all(&encode_reply(Reply::Succeeded, bound))
        .await
        .is_err()
    {
        opened.session.finish(0, 0, "client_write_error");
        return None;
    }
    if !buf.is_empty() && opened.stream.write_all(&buf).await.is_err() {
        opened.session.finish(0, 0, "upstream_write_error");
        return None;
    }
    Some(Tunnel {
        client: stream,
        opened,
        early: buf.len() as u64,
    })
}
