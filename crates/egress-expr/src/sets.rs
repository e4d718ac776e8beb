//! Value sets built once at compile time and looked up without allocating.

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashSet;

use crate::ast::IpItem;

/// IP addresses, CIDRs and ranges.
#[derive(Debug)]
pub(crate) enum IpSet {
    /// One address or CIDR: a mask compare.
    One(IpNet),
    /// Sorted, merged inclusive ranges per family, searched by bisection.
    Ranges {
        v4: Box<[(u32, u32)]>,
        v6: Box<[(u128, u128)]>,
    },
}

impl IpSet {
    pub(crate) fn new(items: &[IpItem]) -> IpSet {
        if let [IpItem::Net(net)] = items {
            return IpSet::One(*net);
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for item in items {
            let (start, end) = match *item {
                IpItem::Net(net) => (net.network(), net.broadcast()),
                IpItem::Range(start, end) => (start, end),
            };
            match (start, end) {
                (IpAddr::V4(start), IpAddr::V4(end)) => v4.push((start.to_bits(), end.to_bits())),
                (IpAddr::V6(start), IpAddr::V6(end)) => v6.push((start.to_bits(), end.to_bits())),
                _ => unreachable!("the parser refuses ranges that mix families"),
            }
        }
        IpSet::Ranges {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (IpSet::One(net), ip) => net.contains(&ip),
            (IpSet::Ranges { v4, .. }, IpAddr::V4(ip)) => in_ranges(v4, ip.to_bits()),
            (IpSet::Ranges { v6, .. }, IpAddr::V6(ip)) => in_ranges(v6, ip.to_bits()),
        }
    }
}

/// Ports and port ranges.
#[derive(Debug)]
pub(crate) enum PortSet {
    One(u16),
    /// Sorted, merged inclusive ranges.
    Ranges(Box<[(u16, u16)]>),
}

impl PortSet {
    pub(crate) fn new(ranges: &[(u16, u16)]) -> PortSet {
        match ranges {
            [(start, end)] if start == end => PortSet::One(*start),
            _ => PortSet::Ranges(merge(ranges.to_vec())),
        }
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        match self {
            PortSet::One(one) => *one == port,
            PortSet::Ranges(ranges) => in_ranges(ranges, port),
        }
    }
}

/// Exact strings.
#[derive(Debug)]
pub(crate) enum StrSet {
    One(Box<str>),
    Many(FxHashSet<Box<str>>),
}

impl StrSet {
    pub(crate) fn new(mut values: Vec<String>) -> StrSet {
        if values.len() == 1 {
            return StrSet::One(values.pop().expect("one value").into_boxed_str());
        }
        StrSet::Many(values.into_iter().map(String::into_boxed_str).collect())
    }

    pub(crate) fn contains(&self, value: &str) -> bool {
        match self {
            StrSet::One(one) => **one == *value,
            StrSet::Many(set) => set.contains(value),
        }
    }

    /// Whether the set holds `host` or one of its parent domains.
    pub(crate) fn contains_domain_of(&self, host: &str) -> bool {
        std::iter::once(host)
            .chain(host.match_indices('.').map(|(dot, _)| &host[dot + 1..]))
            .any(|domain| self.contains(domain))
    }
}

/// A range bound that has a successor, so that adjacent ranges can be merged.
pub(crate) trait Bound: Copy + Ord {
    fn succ(self) -> Option<Self>;
}

impl Bound for u16 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Bound for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Bound for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Sorts inclusive ranges and joins those that overlap or touch.
pub(crate) fn merge<T: Bound>(mut ranges: Vec<(T, T)>) -> Box<[(T, T)]> {
    ranges.sort_unstable();
    let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if last.1.succ().is_none_or(|after| start <= after) => {
                last.1 = last.1.max(end);
            }
            _ => merged.push((start, end)),
        }
    }
    merged.into_boxed_slice()
}

/// Membership in sorted, disjoint inclusive ranges.
fn in_ranges<T: Ord + Copy>(ranges: &[(T, T)], value: T) -> bool {
    let first_not_below = ranges.partition_point(|&(_, end)| end < value);
    ranges
        .get(first_not_below)
        .is_some_and(|&(start, _)| start <= value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_joins_overlapping_and_touching_ranges() {
        assert_eq!(
            &*merge(vec![(10u16, 20), (1, 3), (4, 5), (15, 30), (40, 40)]),
            &[(1, 5), (10, 30), (40, 40)]
        );
        assert_eq!(&*merge(vec![(0u16, u16::MAX), (5, 6)]), &[(0, u16::MAX)]);
    }

    #[test]
    fn in_ranges_checks_both_bounds() {
        let ranges = [(1u16, 5), (10, 30)];
        for (value, inside) in [
            (0, false),
            (1, true),
            (5, true),
            (6, false),
            (30, true),
            (31, false),
        ] {
            assert_eq!(in_ranges(&ranges, value), inside, "{value}");
        }
    }

    #[test]
    fn domain_lookup_tries_the_host_and_each_parent() {
        let set = StrSet::new(vec!["example.com".into(), "other.org".into()]);
        assert!(set.contains_domain_of("example.com"));
        assert!(set.contains_domain_of("a.b.example.com"));
        assert!(!set.contains_domain_of("badexample.com"));
        assert!(!set.contains_domain_of("com"));
    }
}
