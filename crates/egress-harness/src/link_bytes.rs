//! Byte counters of a namespace's interfaces, so a test can tell which link carried traffic.

use crate::{HarnessError, Netns};

/// The per-namespace device table (`/proc/net` follows the *process*'s namespace, and `/sys`
/// the mount's, so only the thread's own view shows the namespace `run_in` entered).
const NET_DEV: &str = "/proc/thread-self/net/dev";

/// Bytes received and sent on one interface since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkBytes {
    /// Bytes received (`rx_bytes`).
    pub rx: u64,
    /// Bytes transmitted (`tx_bytes`).
    pub tx: u64,
}

impl LinkBytes {
    /// What was counted between `earlier` and `self` (zero where a counter went backwards).
    pub fn since(self, earlier: LinkBytes) -> LinkBytes {
        LinkBytes {
            rx: self.rx.saturating_sub(earlier.rx),
            tx: self.tx.saturating_sub(earlier.tx),
        }
    }
}

impl Netns {
    /// The byte counters of the interface `dev` inside this namespace.
    pub fn link_bytes(&self, dev: &str) -> Result<LinkBytes, HarnessError> {
        let table = self.run_in(|| std::fs::read_to_string(NET_DEV))?;
        let counters_error = |reason: String| HarnessError::LinkCounters {
            namespace: self.name().to_owned(),
            dev: dev.to_owned(),
            reason,
        };
        let table = table.map_err(|err| counters_error(format!("reading {NET_DEV}: {err}")))?;
        parse_net_dev(&table, dev).map_err(counters_error)
    }
}

/// Finds `dev` in the text of `/proc/net/dev`: after `NAME:`, 8 receive counters (bytes first)
/// then 8 transmit counters (bytes first).
fn parse_net_dev(table: &str, dev: &str) -> Result<LinkBytes, String> {
    let fields = table
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim() == dev)
        .map(|(_, fields)| fields.split_whitespace().collect::<Vec<_>>())
        .ok_or_else(|| "no such interface".to_owned())?;
    let counter = |index: usize| -> Result<u64, String> {
        let field = fields
            .get(index)
            .ok_or_else(|| format!("{} counters, expected 16", fields.len()))?;
        field
            .parse()
            .map_err(|_| format!("counter {index} is {field:?}, not a number"))
    };
    Ok(LinkBytes {
        rx: counter(0)?,
        tx: counter(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
to-backbone: 4200123    3001    0    0    0     0          0         0  9876543    2000    0    0    0     0       0          0
";

    #[test]
    fn counters_are_read_by_interface_name() {
        assert_eq!(
            parse_net_dev(TABLE, "to-backbone"),
            Ok(LinkBytes {
                rx: 4_200_123,
                tx: 9_876_543
            })
        );
        assert_eq!(
            parse_net_dev(TABLE, "lo"),
            Ok(LinkBytes { rx: 140, tx: 140 })
        );
    }

    #[test]
    fn a_missing_or_short_line_is_an_error() {
        assert!(parse_net_dev(TABLE, "to-internet").is_err());
        assert!(parse_net_dev(TABLE, "to-back").is_err());
        assert!(parse_net_dev("eth0: 1 2 3\n", "eth0").is_err());
        assert!(parse_net_dev("eth0: 1 2 3 4 5 6 7 8 x\n", "eth0").is_err());
    }

    #[test]
    fn since_subtracts_without_wrapping() {
        let before = LinkBytes { rx: 10, tx: 20 };
        let after = LinkBytes { rx: 15, tx: 18 };
        assert_eq!(after.since(before), LinkBytes { rx: 5, tx: 0 });
    }
}
