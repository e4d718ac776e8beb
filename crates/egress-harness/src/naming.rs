//! The names a lab gives its namespaces, and reading them back to find stale ones.
//!
//! A namespace is named `egh<pid>-<serial>-<role>`, pid and serial in decimal:
//! `egh40213-0-client` (`egh` for egress-harness).
//! The pid is the process that created it, so a later run can tell a leftover of a killed run
//! (pid dead) from a namespace another live test is using (pid alive).

/// Every namespace this crate creates starts with this.
pub const NAME_FAMILY: &str = "egh";

/// Longest role accepted, so names stay readable in `ip netns list`.
const MAX_ROLE_LEN: usize = 24;

/// Linux interface names hold at most 15 bytes (IFNAMSIZ minus the NUL).
pub(crate) const MAX_IFNAME_LEN: usize = 15;

/// The identity of one lab: which process made it, and which of that process's labs it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LabId {
    pub(crate) pid: u32,
    pub(crate) serial: u32,
}

impl LabId {
    /// `egh<pid>-<serial>`: the part every namespace of this lab starts with.
    pub(crate) fn prefix(&self) -> String {
        format!("{NAME_FAMILY}{}-{}", self.pid, self.serial)
    }

    /// The full namespace name for a role in this lab.
    pub(crate) fn namespace(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix())
    }

    /// Reads a namespace name back; `None` for anything not made by this crate.
    pub(crate) fn parse_namespace(name: &str) -> Option<(LabId, &str)> {
        let rest = name.strip_prefix(NAME_FAMILY)?;
        let mut parts = rest.splitn(3, '-');
        let pid = parse_decimal(parts.next()?)?;
        let serial = parse_decimal(parts.next()?)?;
        let role = parts.next()?;
        check_role(role).ok()?;
        Some((LabId { pid, serial }, role))
    }
}

/// Why a role cannot name a namespace, if it cannot.
pub(crate) fn check_role(role: &str) -> Result<(), &'static str> {
    if role.is_empty() {
        return Err("is empty");
    }
    if role.len() > MAX_ROLE_LEN {
        return Err("is longer than 24 characters");
    }
    if !role
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err("may only use a-z, 0-9, '_' and '-'");
    }
    Ok(())
}

/// An interface name for the veth end facing `peer_role`, unique among `taken`.
///
/// Veth ends are created directly inside their namespaces, so names only need to be unique
/// there: `to-gateway`, then `to-gateway2` for a second link to the same peer.
pub(crate) fn veth_name(peer_role: &str, taken: &[String]) -> String {
    let base: String = format!("to-{peer_role}")
        .chars()
        .take(MAX_IFNAME_LEN)
        .collect();
    if !taken.contains(&base) {
        return base;
    }
    (2u32..)
        .map(|n| {
            let suffix = n.to_string();
            let keep = MAX_IFNAME_LEN - suffix.len();
            format!("{}{suffix}", &base[..base.len().min(keep)])
        })
        .find(|candidate| !taken.contains(candidate))
        .expect("an unbounded counter always finds a free name")
}

fn parse_decimal(text: &str) -> Option<u32> {
    // Exactly what `prefix` writes: digits, no sign, no leading zero.
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_read_back_to_their_lab_and_role() {
        for (pid, serial, role) in [
            (1, 0, "client"),
            (4_194_304, 35, "gw-lax"),
            (u32::MAX, 7, "a"),
        ] {
            let id = LabId { pid, serial };
            let name = id.namespace(role);
            assert_eq!(LabId::parse_namespace(&name), Some((id, role)), "{name}");
        }
    }

    #[test]
    fn prefix_is_short_enough_for_interface_names() {
        let id = LabId {
            pid: 4_194_304,
            serial: 1295,
        };
        assert_eq!(id.prefix(), "egh4194304-1295");
    }

    #[test]
    fn foreign_names_are_not_ours() {
        for name in [
            "egress",
            "egress-harness-1-client",
            "eg12-1-client",
            "egh-1-client",
            "eghff-1-client",
            "egh12-1",
            "egh12-1-",
            "egh12-1-Client",
            "egh12-+1-client",
            "egh012-1-client",
            "egh12-01-client",
            "foo12-1-client",
            "egh99999999999-1-client",
        ] {
            assert_eq!(LabId::parse_namespace(name), None, "{name}");
        }
    }

    #[test]
    fn roles_are_checked() {
        assert!(check_role("gateway-lax_2").is_ok());
        assert!(check_role("").is_err());
        assert!(check_role("Gateway").is_err());
        assert!(check_role("a/b").is_err());
        assert!(check_role(&"x".repeat(25)).is_err());
    }

    #[test]
    fn veth_names_fit_and_do_not_repeat() {
        assert_eq!(veth_name("gateway", &[]), "to-gateway");
        assert_eq!(veth_name("internet-frankfurt", &[]), "to-internet-fra");
        let taken = vec!["to-internet-fra".to_owned()];
        assert_eq!(veth_name("internet-frankfurt", &taken), "to-internet-fr2");
        let taken = vec!["to-gateway".to_owned(), "to-gateway2".to_owned()];
        assert_eq!(veth_name("gateway", &taken), "to-gateway3");
    }
}
