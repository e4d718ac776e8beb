//! Zero-copy relaying of one direction with `splice(2)`: socket → pipe → socket.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes asked of the kernel per splice call.
const SPLICE_LEN: usize = 1 << 20;

/// Moves `from` → `to` through a pipe until `from` closes, then half-closes `to`. Counts into
/// `bytes` as they move: the caller polling this sees its progress there.
pub(crate) async fn splice_pump(
    from: &TcpStream,
    to: &TcpStream,
    bytes: &AtomicU64,
) -> io::Result<()> {
    let (pipe_r, pipe_w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
    // A default pipe holds 64 KiB: grow it so one splice moves up to SPLICE_LEN (the default
    // pipe-max-size allows 1 MiB; if refused, the small pipe still works, with more calls).
    let _ = nix::fcntl::fcntl(
        &pipe_w,
        nix::fcntl::FcntlArg::F_SETPIPE_SZ(SPLICE_LEN as i32),
    );
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    loop {
        from.readable().await?;
        let read = from.try_io(Interest::READABLE, || {
            splice(from.as_fd(), None, pipe_w.as_fd(), None, SPLICE_LEN, flags)
                .map_err(io::Error::from)
        });
        let moved = match read {
            Ok(0) => {
                let _ = socket2::SockRef::from(to).shutdown(Shutdown::Write);
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        drain(&pipe_r, to, moved, flags).await?;
        bytes.fetch_add(moved as u64, Ordering::Relaxed);
    }
}

/// Writes the `left` bytes the pipe holds to `to`.
async fn drain(
    pipe_r: &OwnedFd,
    to: &TcpStream,
    mut left: usize,
    flags: SpliceFFlags,
) -> io::Result<()> {
    while left > 0 {
        to.writable().await?;
        let wrote = to.try_io(Interest::WRITABLE, || {
            splice(pipe_r.as_fd(), None, to.as_fd(), None, left, flags).map_err(io::Error::from)
        });
        match wrote {
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
