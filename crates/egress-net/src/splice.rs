//! Zero-copy relaying of one direction with `splice(2)`: socket → pipe → socket.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{ready, Context, Poll};

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes asked of the kernel per splice call.
const SPLICE_LEN: usize = 1 << 20;

const FLAGS: SpliceFFlags = SpliceFFlags::SPLICE_F_MOVE.union(SpliceFFlags::SPLICE_F_NONBLOCK);

/// One direction's pipe: bytes go from the reading socket into it and from it to the writing
/// socket without entering user space. Polled, not an async fn, so that it borrows neither
/// socket between polls (the relay that owns both sockets holds it) and waits in the
/// sockets' own readiness slots.
#[derive(Debug)]
pub(crate) struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Bytes in the pipe not yet written out.
    held: usize,
}

impl SplicePipe {
    /// A pipe grown so one splice moves up to [`SPLICE_LEN`] (the default pipe-max-size
    /// allows 1 MiB; if refused, the default 64 KiB pipe still works, with more calls).
    pub(crate) fn new() -> io::Result<SplicePipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let _ = nix::fcntl::fcntl(
            &write,
            nix::fcntl::FcntlArg::F_SETPIPE_SZ(SPLICE_LEN as i32),
        );
        Ok(SplicePipe {
            read,
            write,
            held: 0,
        })
    }

    /// Moves `from` → `to` until both would block (pending), `from` closes (ready, with `to`
    /// half-closed) or an error. Adds to `bytes` as bytes leave the pipe.
    pub(crate) fn poll_move(
        &mut self,
        cx: &mut Context<'_>,
        from: &TcpStream,
        to: &TcpStream,
        bytes: &mut u64,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.held > 0 {
                ready!(to.poll_write_ready(cx))?;
                let wrote = to.try_io(Interest::WRITABLE, || {
                    splice(self.read.as_fd(), None, to.as_fd(), None, self.held, FLAGS)
                        .map_err(io::Error::from)
                });
                match wrote {
                    Ok(n) => {
                        self.held -= n;
                        *bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
                continue;
            }
            ready!(from.poll_read_ready(cx))?;
            let read = from.try_io(Interest::READABLE, || {
                splice(
                    from.as_fd(),
                    None,
                    self.write.as_fd(),
                    None,
                    SPLICE_LEN,
                    FLAGS,
                )
                .map_err(io::Error::from)
            });
            match read {
                Ok(0) => {
                    let _ = socket2::SockRef::from(to).shutdown(Shutdown::Write);
                    return Poll::Ready(Ok(()));
                }
                Ok(n) => self.held = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}
