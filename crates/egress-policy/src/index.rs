//! An index from destination to the policies that could match it, so that `decide` looks at a
//! handful of policies instead of scanning thousands.
//!
//! Every enabled policy is filed in exactly one place: under the destination prefixes its
//! traffic expression requires, else under the destination ports it requires, else in the
//! always-checked list. Each list is in precedence order; the first match overall is the
//! smallest first match over the lists looked up.

use std::net::IpAddr;

use egress_expr::IndexHints;
use ipnet::IpNet;
use rustc_hash::FxHashMap;

/// Port hints spanning more ports than this are not exploded into the port map.
const MAX_INDEXED_PORTS: u32 = 256;

#[derive(Debug, Default)]
pub(crate) struct PolicyIndex {
    v4: Vec<(u8, FxHashMap<u32, Vec<u32>>)>,
    v6: Vec<(u8, FxHashMap<u128, Vec<u32>>)>,
    ports: FxHashMap<u16, Vec<u32>>,
    unindexed: Vec<u32>,
}

fn mask4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

fn push_unique(list: &mut Vec<u32>, pos: u32) {
    if list.last() != Some(&pos) {
        list.push(pos);
    }
}

impl PolicyIndex {
    /// Builds the index from (enabled, hints) of each policy, in precedence order.
    pub(crate) fn build(policies: impl Iterator<Item = (bool, IndexHints)>) -> PolicyIndex {
        let mut index = PolicyIndex::default();
        for (pos, (enabled, hints)) in policies.enumerate() {
            let pos = u32::try_from(pos).expect("fewer than 2^32 policies per account");
            if !enabled {
                continue;
            }
            if let Some(nets) = hints.dst_ip {
                for net in nets {
                    index.file_prefix(net, pos);
                }
                continue;
            }
            if let Some(ranges) = hints.dst_port {
                let span: u32 = ranges
                    .iter()
                    .map(|(a, b)| u32::from(*b) - u32::from(*a) + 1)
                    .sum();
                if span <= MAX_INDEXED_PORTS {
                    for (a, b) in ranges {
                        for port in a..=b {
                            push_unique(index.ports.entry(port).or_default(), pos);
                        }
                    }
                    continue;
                }
            }
            index.unindexed.push(pos);
        }
        index.v4.sort_by_key(|(len, _)| *len);
        index.v6.sort_by_key(|(len, _)| *len);
        index
    }

    fn file_prefix(&mut self, net: IpNet, pos: u32) {
        match net {
            IpNet::V4(n) => {
                let len = n.prefix_len();
                let key = u32::from(n.network()) & mask4(len);
                let slot = match self.v4.iter().position(|(l, _)| *l == len) {
                    Some(i) => i,
                    None => {
                        self.v4.push((len, FxHashMap::default()));
                        self.v4.len() - 1
                    }
                };
                push_unique(self.v4[slot].1.entry(key).or_default(), pos);
            }
            IpNet::V6(n) => {
                let len = n.prefix_len();
                let key = u128::from(n.network()) & mask6(len);
                let slot = match self.v6.iter().position(|(l, _)| *l == len) {
                    Some(i) => i,
                    None => {
                        self.v6.push((len, FxHashMap::default()));
                        self.v6.len() - 1
                    }
                };
                push_unique(self.v6[slot].1.entry(key).or_default(), pos);
            }
        }
    }

    /// Position of the first policy (in precedence order) for which `is_match` holds, looking
    /// only at policies that could match this destination.
    pub(crate) fn first_match(
        &self,
        dst_ip: Option<IpAddr>,
        dst_port: u16,
        mut is_match: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mut best = usize::MAX;
        scan(&self.unindexed, &mut best, &mut is_match);
        match dst_ip {
            Some(IpAddr::V4(ip)) => {
                let ip = u32::from(ip);
                for (len, map) in &self.v4 {
                    if let Some(list) = map.get(&(ip & mask4(*len))) {
                        scan(list, &mut best, &mut is_match);
                    }
                }
            }
            Some(IpAddr::V6(ip)) => {
                let ip = u128::from(ip);
                for (len, map) in &self.v6 {
                    if let Some(list) = map.get(&(ip & mask6(*len))) {
                        scan(list, &mut best, &mut is_match);
                    }
                }
            }
            None => {}
        }
        if let Some(list) = self.ports.get(&dst_port) {
            scan(list, &mut best, &mut is_match);
        }
        (best != usize::MAX).then_some(best)
    }
}

fn scan(list: &[u32], best: &mut usize, is_match: &mut impl FnMut(usize) -> bool) {
    for &pos in list {
        let pos = pos as usize;
        if pos >= *best {
            return;
        }
        if is_match(pos) {
            *best = pos;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(ip: Option<&[&str]>, port: Option<&[(u16, u16)]>) -> IndexHints {
        IndexHints {
            dst_ip: ip.map(|v| v.iter().map(|s| s.parse().expect("valid net")).collect()),
            dst_port: port.map(<[_]>::to_vec),
        }
    }

    #[test]
    fn first_match_is_smallest_over_all_lists() {
        let index = PolicyIndex::build(
            [
                (true, hints(Some(&["10.0.0.0/8"]), None)),
                (true, hints(None, Some(&[(443, 443)]))),
                (false, hints(None, None)),
                (true, hints(None, None)),
            ]
            .into_iter(),
        );
        let ip: IpAddr = "10.1.2.3".parse().expect("valid");
        assert_eq!(index.first_match(Some(ip), 443, |_| true), Some(0));
        assert_eq!(index.first_match(Some(ip), 443, |p| p != 0), Some(1));
        // Disabled policy 2 is never offered.
        assert_eq!(index.first_match(None, 80, |p| p != 3), None);
        let other: IpAddr = "11.0.0.1".parse().expect("valid");
        let mut seen = Vec::new();
        index.first_match(Some(other), 80, |p| {
            seen.push(p);
            false
        });
        assert_eq!(seen, vec![3], "only the unindexed policy is evaluated");
    }
}
