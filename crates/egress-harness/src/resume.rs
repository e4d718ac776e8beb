//! Blocking reads for tests that resume after `EINTR`.
//!
//! Linux fails a blocking receive on a socket with a timeout (`SO_RCVTIMEO`) with `EINTR` when
//! the process is stopped and continued, even without a signal handler (signal(7)). That says
//! nothing about the peer, so a test must not read it as data, a close or a timeout.

use std::io::{self, Read};
use std::net::{SocketAddr, UdpSocket};

/// `read`, again while it is interrupted.
pub fn read_resuming(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// `recv_from`, again while it is interrupted.
pub fn recv_from_resuming(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    loop {
        match socket.recv_from(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
