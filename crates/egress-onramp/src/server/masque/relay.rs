//! The tunnel of one accepted CONNECT-UDP request: UDP payloads from the client's HTTP
//! datagrams (QUIC DATAGRAM frames, or DATAGRAM capsules on the request stream) go to the
//! gateway's association; the target's replies go back as HTTP datagrams, or as capsules when
//! the client takes no QUIC datagrams or a reply does not fit in one.

use std::future::poll_fn;
use std::time::Duration;

use bytes::{Buf, Bytes};
use egress_masque::capsule::{self, CapsuleDecoder, DATAGRAM_CAPSULE};
use egress_masque::{
    decode_udp_payload, encode_h3_datagram_header, encode_udp_payload, UdpPayload,
};
use egress_model::TargetAddr;
use h3::server::RequestStream;
use tokio::time::Instant;

use super::datagrams::Registration;
use crate::server::gateway::{Associated, UdpAssociation};

/// The two halves of an accepted request stream.
pub(crate) type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;
pub(crate) type RecvHalf = RequestStream<h3_quinn::RecvStream, Bytes>;

/// One CONNECT-UDP tunnel, after its 200.
pub(crate) struct Relay {
    pub connection: quinn::Connection,
    pub stream_id: u64,
    pub target: TargetAddr,
    pub associated: Associated,
    pub registration: Registration,
    pub send: SendHalf,
    pub recv: RecvHalf,
    pub idle: Duration,
}

impl Relay {
    /// Relays until the client ends the request, the connection goes or nothing moves for
    /// the idle timeout; then finishes the association (the gateway logs its flow).
    pub(crate) async fn run(self) {
        let Relay {
            connection,
            stream_id,
            target,
            associated,
            mut registration,
            mut send,
            mut recv,
            idle,
        } = self;
        let Associated {
            association,
            mut replies,
        } = associated;
        let mut capsules = CapsuleDecoder::default();
        let mut quiet_since = Instant::now();
        let close_reason = loop {
            tokio::select! {
                datagram = registration.datagrams.recv() => {
                    // The sender lives in the demultiplexer as long as the registration.
                    let Some(datagram) = datagram else { break "closed" };
                    quiet_since = Instant::now();
                    forward(association.as_ref(), &target, &datagram).await;
                }
                data = poll_fn(|cx| recv.poll_recv_data(cx)) => match data {
                    Ok(Some(mut chunk)) => {
                        quiet_since = Instant::now();
                        while chunk.has_remaining() {
                            let part = chunk.chunk();
                            let len = part.len();
                            capsules.push(part);
                            chunk.advance(len);
                        }
                        if read_capsules(&mut capsules, association.as_ref(), &target).await.is_err() {
                            break "malformed_capsule";
                        }
                    }
                    // The client closed its side: the tunnel is over (RFC 9297 §3.3).
                    Ok(None) => break "closed",
                    Err(_) => break stream_end(&connection),
                },
                reply = replies.recv() => {
                    let Some(reply) = reply else { break "closed" };
                    quiet_since = Instant::now();
                    if reply_to_client(&connection, stream_id, &mut send, &reply.payload).await.is_err() {
                        break "client_write_error";
                    }
                }
                () = tokio::time::sleep_until(quiet_since + idle) => break "idle_timeout",
            }
        };
        association.finish(close_reason);
        // Ends the response; the client may have gone already.
        let _ = send.finish().await;
    }
}

/// Why a request stream failed: a client that closed its whole connection is done with the
/// tunnel too; anything else broke it.
fn stream_end(connection: &quinn::Connection) -> &'static str {
    match connection.close_reason() {
        Some(quinn::ConnectionError::ApplicationClosed(_)) => "closed",
        Some(quinn::ConnectionError::TimedOut) => "idle_timeout",
        _ => "connection_reset",
    }
}

/// Hands one HTTP datagram's UDP payload to the association.
async fn forward(association: &dyn UdpAssociation, target: &TargetAddr, datagram: &[u8]) {
    match decode_udp_payload(datagram) {
        UdpPayload::Udp(payload) => association.send(target.clone(), payload).await,
        UdpPayload::OtherContext(_) => association.dropped("unknown_context"),
        UdpPayload::Malformed => association.dropped("malformed"),
    }
}

/// Forwards every whole DATAGRAM capsule received so far and skips the other types (RFC 9297
/// §3.2); an error when the body cannot be read as capsules.
async fn read_capsules(
    capsules: &mut CapsuleDecoder,
    association: &dyn UdpAssociation,
    target: &TargetAddr,
) -> Result<(), capsule::CapsuleError> {
    while let Some(capsule) = capsules.next_capsule()? {
        if capsule.capsule_type == DATAGRAM_CAPSULE {
            forward(association, target, capsule.value).await;
        }
    }
    Ok(())
}

/// Sends a reply: as a QUIC datagram when the client takes datagrams this large, else as a
/// DATAGRAM capsule on the stream. An error only when the stream cannot be written.
async fn reply_to_client(
    connection: &quinn::Connection,
    stream_id: u64,
    send: &mut SendHalf,
    payload: &[u8],
) -> Result<(), h3::error::StreamError> {
    let mut datagram = Vec::with_capacity(payload.len() + 1);
    encode_udp_payload(payload, &mut datagram);
    let mut frame = Vec::with_capacity(datagram.len() + 8);
    encode_h3_datagram_header(stream_id, &mut frame);
    frame.extend_from_slice(&datagram);
    if connection
        .max_datagram_size()
        .is_some_and(|max| frame.len() <= max)
    {
        match connection.send_datagram(Bytes::from(frame)) {
            // Lost: the stream's next read or write notices the connection is gone.
            Ok(()) | Err(quinn::SendDatagramError::ConnectionLost(_)) => return Ok(()),
            // The path shrank under it: carry it on the stream instead.
            Err(_) => {}
        }
    }
    let mut capsule = Vec::with_capacity(datagram.len() + 9);
    capsule::encode(DATAGRAM_CAPSULE, &datagram, &mut capsule);
    send.send_data(Bytes::from(capsule)).await
}
