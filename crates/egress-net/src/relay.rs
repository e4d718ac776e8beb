//! Copying bytes both ways between client and destination, counting them.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

/// Bytes moved and how the relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    /// Client → destination.
    pub bytes_up: u64,
    /// Destination → client.
    pub bytes_down: u64,
    /// The close reason for the log.
    pub close_reason: &'static str,
}

/// Relays until both sides close, an error, or `idle` passes with no byte either way.
pub async fn relay<C, U>(client: &mut C, upstream: &mut U, idle: Duration) -> RelayOutcome
where
    C: AsyncRead + AsyncWrite + Unpin + ?Sized,
    U: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut counted = Counted { up: 0, down: 0 };
    let result = idle_copy(client, upstream, idle, &mut counted).await;
    let close_reason = match result {
        Ok(()) => "closed",
        Err(e) if e.kind() == io::ErrorKind::TimedOut => "idle_timeout",
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => "connection_reset",
        Err(_) => "relay_error",
    };
    RelayOutcome {
        bytes_up: counted.up,
        bytes_down: counted.down,
        close_reason,
    }
}

struct Counted {
    up: u64,
    down: u64,
}

async fn idle_copy<C, U>(
    client: &mut C,
    upstream: &mut U,
    idle: Duration,
    counted: &mut Counted,
) -> io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin + ?Sized,
    U: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let (mut up_open, mut down_open) = (true, true);
    while up_open || down_open {
        tokio::select! {
            r = client.read(&mut up_buf), if up_open => {
                let n = r?;
                if n == 0 {
                    up_open = false;
                    upstream.shutdown().await.ok();
                } else {
                    upstream.write_all(&up_buf[..n]).await?;
                    counted.up += n as u64;
                }
            }
            r = upstream.read(&mut down_buf), if down_open => {
                let n = r?;
                if n == 0 {
                    down_open = false;
                    client.shutdown().await.ok();
                } else {
                    client.write_all(&down_buf[..n]).await?;
                    counted.down += n as u64;
                }
            }
            _ = tokio::time::sleep(idle) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "idle"));
            }
        }
    }
    Ok(())
}
