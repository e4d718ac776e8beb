//! Reading one message of a sans-I/O codec from a socket, with a deadline.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::socks5::{Reply, SocksError};
use crate::Parsed;

/// Why a message could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed before a whole message.
    Truncated,
    /// No whole message before the deadline.
    Timeout,
    /// The socket failed.
    Io,
    /// The bytes break the protocol.
    Protocol {
        /// Reply to send, if the protocol allows one here.
        reply: Option<Reply>,
        /// Close reason.
        reason: &'static str,
        /// HTTP status to answer with, for HTTP.
        status: u16,
    },
}

impl ReadError {
    pub fn close_reason(&self) -> &'static str {
        match self {
            ReadError::Truncated => "truncated_request",
            ReadError::Timeout => "request_timeout",
            ReadError::Io => "client_read_error",
            ReadError::Protocol { reason, .. } => reason,
        }
    }
}

/// Adapts a SOCKS parser to [`read_message`].
pub fn socks<T>(
    parse: impl Fn(&[u8]) -> Result<Parsed<T>, SocksError>,
) -> impl Fn(&[u8]) -> Result<Parsed<T>, ReadError> {
    move |b| {
        parse(b).map_err(|e| ReadError::Protocol {
            reply: e.reply(),
            reason: e.reason(),
            status: 400,
        })
    }
}

/// Reads until `parse` completes; the bytes it used are removed from `buf`, the rest stay.
pub async fn read_message<T>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Duration,
    parse: impl Fn(&[u8]) -> Result<Parsed<T>, ReadError>,
) -> Result<T, ReadError> {
    let work = async {
        loop {
            match parse(buf) {
                Ok(Parsed::Complete { head, consumed }) => {
                    buf.drain(..consumed);
                    return Ok(head);
                }
                Ok(Parsed::Partial) => {}
                Err(e) => return Err(e),
            }
            buf.reserve(1024);
            match stream.read_buf(buf).await {
                Ok(0) => return Err(ReadError::Truncated),
                Ok(_) => {}
                Err(_) => return Err(ReadError::Io),
            }
        }
    };
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or(Err(ReadError::Timeout))
}
