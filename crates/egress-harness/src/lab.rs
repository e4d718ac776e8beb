//! The lab: a set of namespaces owned by one test, deleted when the lab is dropped.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::naming::{self, LabId};
use crate::process;
use crate::{HarnessError, Netns};

/// Where `ip netns add` mounts named namespaces.
pub(crate) const NETNS_DIR: &str = "/var/run/netns";

/// Labs made by this process so far; with the pid it makes every lab's prefix unique.
static NEXT_SERIAL: AtomicU32 = AtomicU32::new(0);

/// A veth pair created by [`Lab::link`]: the interface name at each end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veth {
    /// The interface inside the first namespace given to [`Lab::link`].
    pub a_dev: String,
    /// The interface inside the second namespace.
    pub b_dev: String,
}

/// A set of network namespaces for one test, all named `egh<pid>-<serial>-<role>`.
///
/// Dropping the lab — at the end of the test or while a panic unwinds — kills every process
/// still inside its namespaces and deletes them (their veth pairs go with them). A run killed
/// before it could drop is cleaned up by [`Lab::sweep_stale`], which every [`Lab::new`] calls.
#[derive(Debug)]
pub struct Lab {
    test_name: String,
    id: LabId,
    namespaces: Vec<Netns>,
    /// Interface names taken in each namespace, parallel to `namespaces`.
    devices: Vec<Vec<String>>,
}

impl Lab {
    /// Starts an empty lab for the named test.
    ///
    /// Fails (never skips) when not root or when `ip` is missing, so a test that needs the lab
    /// cannot pass vacuously.
    pub fn new(test_name: &str) -> Result<Lab, HarnessError> {
        let euid = nix::unistd::geteuid().as_raw();
        if euid != 0 {
            return Err(HarnessError::NotRoot { euid });
        }
        process::run("ip", &["-V"])?;
        Lab::sweep_stale()?;

        let id = LabId {
            pid: std::process::id(),
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
        };
        // This process never handed out this serial before, so a namespace already carrying the
        // prefix was left by an earlier process that had the same pid.
        let prefix = format!("{}-", id.prefix());
        for name in list_namespaces()? {
            if name.starts_with(&prefix) {
                remove_namespace(&name)?;
            }
        }
        Ok(Lab {
            test_name: test_name.to_owned(),
            id,
            namespaces: Vec::new(),
            devices: Vec::new(),
        })
    }

    /// The test this lab belongs to, as given to [`Lab::new`].
    pub fn test_name(&self) -> &str {
        &self.test_name
    }

    /// What every namespace name of this lab starts with (`egh40213-0`).
    pub fn prefix(&self) -> String {
        self.id.prefix()
    }

    /// The namespaces created so far, in creation order.
    pub fn namespaces(&self) -> &[Netns] {
        &self.namespaces
    }

    /// Creates the namespace `<prefix>-<role>` with `lo` up and IPv6 usable at once.
    ///
    /// IPv6 is enabled and duplicate address detection is off (`accept_dad=0` for `all` and
    /// `default`), so addresses work the moment they are added. Forwarding stays off; turn it on
    /// with [`Netns::enable_forwarding`].
    pub fn namespace(&mut self, role: &str) -> Result<Netns, HarnessError> {
        let bad_role = |reason| HarnessError::BadRole {
            lab: self.id.prefix(),
            role: role.to_owned(),
            reason,
        };
        naming::check_role(role).map_err(bad_role)?;
        if self.namespaces.iter().any(|ns| ns.role() == role) {
            return Err(bad_role("is already a namespace of this lab"));
        }

        let netns = Netns::new(self.id.namespace(role), role.to_owned());
        process::run("ip", &["netns", "add", netns.name()])?;
        // Registered before it is configured, so a failure below still deletes it on drop.
        self.namespaces.push(netns.clone());
        self.devices.push(vec!["lo".to_owned()]);

        netns.ip(&["link", "set", "lo", "up"])?;
        for (key, value) in [
            ("net.ipv6.conf.all.disable_ipv6", "0"),
            ("net.ipv6.conf.default.disable_ipv6", "0"),
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
        ] {
            netns.sysctl(key, value)?;
        }
        Ok(netns)
    }

    /// Connects two namespaces of this lab with a veth pair, adds the addresses
    /// (`"10.1.0.1/24"`, `"fd00:1::1/64"`) and brings both ends up.
    ///
    /// Each end is created directly inside its namespace and named after the peer's role
    /// (`to-gateway`), so nothing ever appears in the host's namespace.
    pub fn link(
        &mut self,
        a: &Netns,
        a_addrs: &[&str],
        b: &Netns,
        b_addrs: &[&str],
    ) -> Result<Veth, HarnessError> {
        let a_index = self.index_of(a)?;
        let b_index = self.index_of(b)?;
        let a_dev = naming::veth_name(b.role(), &self.devices[a_index]);
        let b_dev = naming::veth_name(a.role(), &self.devices[b_index]);
        a.ip(&[
            "link",
            "add",
            &a_dev,
            "type",
            "veth",
            "peer",
            "name",
            &b_dev,
            "netns",
            b.name(),
        ])?;
        self.devices[a_index].push(a_dev.clone());
        self.devices[b_index].push(b_dev.clone());

        // Both ends up before any address: with IPv6 addresses added before carrier, the peer's
        // first neighbour solicitation went unanswered (seen on 6.x), so every test's first
        // connection waited a 1 s SYN retransmit.
        a.ip(&["link", "set", &a_dev, "up"])?;
        b.ip(&["link", "set", &b_dev, "up"])?;
        for (ns, dev, addrs) in [(a, &a_dev, a_addrs), (b, &b_dev, b_addrs)] {
            for addr in addrs {
                ns.add_address(dev, addr)?;
            }
        }
        Ok(Veth { a_dev, b_dev })
    }

    /// Deletes namespaces left by labs whose creating process is dead (a run killed before its
    /// labs could drop), after killing whatever still runs inside them. Returns their names.
    ///
    /// Namespaces of live processes — other tests running right now — are never touched, nor
    /// is anything not named by this crate.
    pub fn sweep_stale() -> Result<Vec<String>, HarnessError> {
        let mut swept = Vec::new();
        for name in list_namespaces()? {
            let Some((id, _role)) = LabId::parse_namespace(&name) else {
                continue;
            };
            if process::is_alive(id.pid) {
                continue;
            }
            match remove_namespace(&name) {
                Ok(()) => swept.push(name),
                // Another process sweeping at the same moment got there first.
                Err(_) if !namespace_exists(&name) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(swept)
    }

    fn index_of(&self, netns: &Netns) -> Result<usize, HarnessError> {
        self.namespaces
            .iter()
            .position(|ns| ns.name() == netns.name())
            .ok_or_else(|| HarnessError::BadRole {
                lab: self.id.prefix(),
                role: netns.role().to_owned(),
                reason: "is not a namespace of this lab",
            })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for netns in self.namespaces.iter().rev() {
            if let Err(err) = remove_namespace(netns.name()) {
                // Drop cannot fail; say so loudly, the next Lab::new sweeps what is left.
                eprintln!(
                    "egress-harness: cleaning up lab of test {}: {err}",
                    self.test_name
                );
            }
        }
    }
}

/// Kills what runs inside the namespace, then deletes it.
fn remove_namespace(name: &str) -> Result<(), HarnessError> {
    process::kill_all_in(name)?;
    process::run("ip", &["netns", "delete", name])?;
    Ok(())
}

fn namespace_exists(name: &str) -> bool {
    std::path::Path::new(NETNS_DIR).join(name).exists()
}

/// Names of all named namespaces on the host (ours and anyone else's).
fn list_namespaces() -> Result<Vec<String>, HarnessError> {
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HarnessError::Io {
                namespace: "(host)".to_owned(),
                action: format!("listing {NETNS_DIR}"),
                source,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| HarnessError::Io {
            namespace: "(host)".to_owned(),
            action: format!("listing {NETNS_DIR}"),
            source,
        })?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}
