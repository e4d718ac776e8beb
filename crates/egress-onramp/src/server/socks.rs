//! SOCKS5 on-ramp (RFC 1928 CONNECT and UDP ASSOCIATE, RFC 1929 username/password).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use super::gateway::{
    AssociateRequest, Associated, Authorized, Gateway, Listener, OnRamp, OpenRequest,
};
use super::io::{read_message, socks, ReadError};
use super::udp::{model_target, relay_association, ClientFilter};
use super::{Connection, Established, OnRampSettings, Tunnel};
use crate::socks5::{
    encode_auth_status, encode_method_selection, encode_reply, parse_greeting, parse_request,
    parse_user_pass, select_method, Command, Method, Reply,
};

const UNSPECIFIED: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// Serves one SOCKS5 client connection to its end.
pub fn handle_socks5<G: Gateway>(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) -> impl std::future::Future<Output = ()> + Send {
    let idle = settings.idle_timeout;
    Connection::new(handshake(stream, peer, listener, gateway, settings), idle)
}

/// A UDP association: the relay socket the control connection keeps alive.
struct UdpRelay {
    control: TcpStream,
    relay: UdpSocket,
    filter: ClientFilter,
    associated: Associated,
}

/// Runs the SOCKS5 handshake: what to relay, or `None` when it was refused.
async fn handshake<G: Gateway>(
    mut stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) -> Option<Established> {
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
    match request.command {
        Command::Connect => {}
        Command::UdpAssociate => {
            let declared_port = match &request.target {
                crate::socks5::TargetAddr::Ip(sa) => sa.port(),
                crate::socks5::TargetAddr::Domain(_, port) => *port,
            };
            return associate(
                stream,
                peer,
                who,
                declared_port,
                gateway.as_ref(),
                &settings,
            )
            .await
            .map(|udp| {
                let idle = settings.idle_timeout;
                Established::Other(Box::pin(relay_association(
                    udp.control,
                    udp.relay,
                    udp.filter,
                    udp.associated,
                    idle,
                )))
            });
        }
        Command::Bind | Command::Unknown(_) => {
            let _ = stream
                .write_all(&encode_reply(Reply::CommandNotSupported, UNSPECIFIED))
                .await;
            return reject("command_not_supported");
        }
    }
    let target = model_target(request.target);
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
    Some(Established::Tunnel(Tunnel {
        client: stream,
        opened,
        early: buf.len() as u64,
    }))
}

/// UDP ASSOCIATE: starts the association, binds the relay socket on the address the client
/// reached (port 0) and answers with it. The gateway logs a refusal itself.
async fn associate<G: Gateway>(
    mut stream: TcpStream,
    peer: SocketAddr,
    who: Authorized,
    declared_port: u16,
    gateway: &G,
    settings: &OnRampSettings,
) -> Option<UdpRelay> {
    let request = AssociateRequest {
        who,
        peer,
        onramp: OnRamp::Socks5,
        target: None,
        idle_timeout: settings.idle_timeout,
    };
    let associated = match gateway.associate(request).await {
        Ok(associated) => associated,
        Err(e) => {
            let _ = stream
                .write_all(&encode_reply(e.socks_reply(), UNSPECIFIED))
                .await;
            return None;
        }
    };
    let relay = match stream.local_addr() {
        Ok(local) => UdpSocket::bind(SocketAddr::new(local.ip(), 0)).await,
        Err(e) => Err(e),
    };
    let bound = relay.as_ref().ok().and_then(|r| r.local_addr().ok());
    let (Ok(relay), Some(bound)) = (relay, bound) else {
        let _ = stream
            .write_all(&encode_reply(Reply::GeneralFailure, UNSPECIFIED))
            .await;
        associated.association.finish("udp_relay_bind_error");
        return None;
    };
    if stream
        .write_all(&encode_reply(Reply::Succeeded, bound))
        .await
        .is_err()
    {
        associated.association.finish("client_write_error");
        return None;
    }
    Some(UdpRelay {
        control: stream,
        relay,
        filter: ClientFilter::new(peer, declared_port),
        associated,
    })
}
