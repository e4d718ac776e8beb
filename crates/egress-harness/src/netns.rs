//! One network namespace of a lab, and the ways a test acts inside it.

use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::lab::NETNS_DIR;
use crate::process;
use crate::HarnessError;

/// How long [`Netns::connect_tcp`] waits, so a broken route fails the test instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle on one namespace of a [`Lab`](crate::Lab). Cheap to clone; the lab owns the
/// namespace itself and deletes it on drop, after which the handle's methods fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    name: String,
    role: String,
}

impl Netns {
    pub(crate) fn new(name: String, role: String) -> Netns {
        Netns { name, role }
    }

    /// The namespace's name as `ip netns` knows it (`egh40213-0-gateway`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role the test gave it (`gateway`).
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Runs `ip -n <name> ARGS…`; a non-zero exit is an error with ip's stderr.
    pub fn ip(&self, args: &[&str]) -> Result<Output, HarnessError> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        process::run("ip", &full)
    }

    /// Runs a command to completion inside the namespace (`ip netns exec <name> CMD…`).
    /// A non-zero exit is an error carrying the command's stderr.
    pub fn exec(&self, cmd: &[&str]) -> Result<Output, HarnessError> {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(cmd);
        process::run("ip", &full)
    }

    /// Starts a process inside the namespace and hands it back to the test.
    ///
    /// The command is spawned from a thread that entered the namespace, so everything set on
    /// `cmd` (stdio pipes, environment, working directory) is kept. The lab kills it — and
    /// anything it started that is still inside the lab — when the lab drops.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child, HarnessError> {
        let command = format!("{cmd:?}");
        self.run_in(|| cmd.spawn())?
            .map_err(|source| HarnessError::CommandNotStarted { command, source })
    }

    /// Adds an address to a device; IPv6 addresses get `nodad` so they are usable at once.
    pub fn add_address(&self, dev: &str, cidr: &str) -> Result<(), HarnessError> {
        let mut args = vec!["addr", "add", cidr, "dev", dev];
        if is_ipv6(cidr) {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// Routes `dst_cidr` via the gateway address `via` (same family).
    pub fn add_route(&self, dst_cidr: &str, via: &str) -> Result<(), HarnessError> {
        self.ip(&[family(via), "route", "add", dst_cidr, "via", via])
            .map(drop)
    }

    /// Routes everything of `via`'s family that has no better route via `via`.
    pub fn add_default_route(&self, via: &str) -> Result<(), HarnessError> {
        self.add_route("default", via)
    }

    /// Makes every address of `prefix` local (AnyIP: `ip route add local PREFIX dev lo`), so
    /// the namespace accepts traffic to any of them and may send from any of them (IPv6 also
    /// needs `IPV6_FREEBIND` on the socket to bind one).
    pub fn add_local_route(&self, prefix: &str) -> Result<(), HarnessError> {
        self.ip(&[family(prefix), "route", "add", "local", prefix, "dev", "lo"])
            .map(drop)
    }

    /// Sets a sysctl of this namespace (`net.ipv4.ip_local_port_range`, `"40000 40031"`).
    ///
    /// Only per-namespace keys (`net.*`) make sense here; others would change the host.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), HarnessError> {
        let path = sysctl_path(key);
        let value = value.to_owned();
        self.run_in(move || std::fs::write(&path, value))?
            .map_err(|source| HarnessError::Io {
                namespace: self.name.clone(),
                action: format!("setting sysctl {key}"),
                source,
            })
    }

    /// Turns on IPv4 and IPv6 forwarding, for a namespace that routes between others.
    pub fn enable_forwarding(&self) -> Result<(), HarnessError> {
        self.sysctl("net.ipv4.ip_forward", "1")?;
        self.sysctl("net.ipv6.conf.all.forwarding", "1")
    }

    /// Runs `f` on a fresh thread that has entered this namespace and returns its result; a
    /// panic inside `f` resumes in the caller.
    ///
    /// Sockets made inside `f` stay in this namespace wherever they are used afterwards, so a
    /// test can create a listener here and accept on it from its own thread. Threads started
    /// inside `f` (a multi-threaded tokio runtime's workers, say) inherit the namespace.
    /// Only the network namespace changes: `/sys` still shows the host's devices.
    pub fn run_in<F, R>(&self, f: F) -> Result<R, HarnessError>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let path = self.path();
        let enter = |source| HarnessError::EnterNamespace {
            namespace: self.name.clone(),
            source,
        };
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name(format!("netns-{}", self.role))
                .spawn_scoped(scope, move || {
                    let file = File::open(&path)?;
                    setns(&file, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                    Ok(f())
                })
                .map_err(enter)?;
            match worker.join() {
                Ok(result) => result.map_err(enter),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Opens a TCP listener inside the namespace.
    pub fn listen_tcp(&self, addr: SocketAddr) -> Result<TcpListener, HarnessError> {
        self.run_in(|| TcpListener::bind(addr))?
            .map_err(|source| self.io_error(format!("listening on {addr}"), source))
    }

    /// Binds a UDP socket inside the namespace.
    pub fn bind_udp(&self, addr: SocketAddr) -> Result<UdpSocket, HarnessError> {
        self.run_in(|| UdpSocket::bind(addr))?
            .map_err(|source| self.io_error(format!("binding UDP {addr}"), source))
    }

    /// Connects from inside the namespace to `dst`, from the source address `src` when given.
    ///
    /// The socket is bound with `IP_FREEBIND`/`IPV6_FREEBIND`, so `src` may be any address of
    /// a prefix made local with [`Netns::add_local_route`]. The port is left to the kernel.
    pub fn connect_tcp(
        &self,
        src: Option<IpAddr>,
        dst: SocketAddr,
    ) -> Result<TcpStream, HarnessError> {
        let action = match src {
            Some(src) => format!("connecting from {src} to {dst}"),
            None => format!("connecting to {dst}"),
        };
        self.run_in(|| connect(src, dst))?
            .map_err(|source| self.io_error(action, source))
    }

    fn io_error(&self, action: String, source: io::Error) -> HarnessError {
        HarnessError::Io {
            namespace: self.name.clone(),
            action,
            source,
        }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(&self.name)
    }
}

fn connect(src: Option<IpAddr>, dst: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(dst), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(src) = src {
        match src {
            IpAddr::V4(_) => socket.set_freebind_v4(true)?,
            IpAddr::V6(_) => socket.set_freebind_v6(true)?,
        }
        socket.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
    }
    socket.connect_timeout(&SockAddr::from(dst), CONNECT_TIMEOUT)?;
    Ok(socket.into())
}

fn is_ipv6(addr: &str) -> bool {
    addr.contains(':')
}

fn family(addr: &str) -> &'static str {
    if is_ipv6(addr) {
        "-6"
    } else {
        "-4"
    }
}

/// `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`.
fn sysctl_path(key: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(key.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_to_proc_paths() {
        assert_eq!(
            sysctl_path("net.ipv6.conf.all.accept_dad"),
            PathBuf::from("/proc/sys/net/ipv6/conf/all/accept_dad")
        );
    }

    #[test]
    fn family_follows_the_address() {
        assert_eq!(family("10.0.0.1"), "-4");
        assert_eq!(family("fd00:e:1::1"), "-6");
    }
}
