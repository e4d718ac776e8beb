//! Process and kernel settings checked at start.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises the soft open-file limit to the hard limit and says how many tunnels that allows
/// (each tunnel holds two descriptors: client and upstream).
pub fn raise_open_file_limit() {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard {
                if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                    eprintln!(
                        "egressd: cannot raise the open-file limit from {soft} to {hard}: {e}"
                    );
                }
            }
            let limit = getrlimit(Resource::RLIMIT_NOFILE)
                .map(|(s, _)| s)
                .unwrap_or(soft);
            eprintln!(
                "egressd: open-file limit {limit}: capacity about {} concurrent tunnels",
                limit.saturating_sub(64) / 2
            );
        }
        Err(e) => eprintln!("egressd: cannot read the open-file limit: {e}"),
    }
}

/// Warns when the ephemeral port range holds fewer ports than the per-destination limit: the
/// kernel would run out before the configured budget does.
pub fn warn_on_small_port_range(limit: u32) {
    let Ok(text) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        return;
    };
    let mut parts = text
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok());
    if let (Some(lo), Some(hi)) = (parts.next(), parts.next()) {
        let ports = hi.saturating_sub(lo) + 1;
        if ports < limit {
            eprintln!(
                "egressd: warning: net.ipv4.ip_local_port_range holds {ports} ports ({lo}-{hi}), \
                 fewer than max_connections_per_destination = {limit}; the kernel will refuse \
                 connections to one destination before the budget does. Widen it with: \
                 sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\""
            );
        }
    }
}

/// A listening TCP socket with `SO_REUSEADDR`, IPv6 sockets IPv6-only, and an accept queue of
/// `backlog` (the kernel caps it at `net.core.somaxconn`).
pub fn listen(
    addr: std::net::SocketAddr,
    backlog: i32,
) -> std::io::Result<tokio::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    tokio::net::TcpListener::from_std(socket.into())
}
