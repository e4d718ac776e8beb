//! Exact CIDR merging of prefixes that share a key (a location).

use std::collections::BTreeMap;

use ipnet::IpNet;

/// Merges the prefixes of each key into the fewest CIDR blocks that cover exactly the same
/// addresses: two adjacent /32s of one location become a /31, a /32 inside a /28 of the same
/// location disappears into it. Prefixes of different keys are never merged, and nothing is
/// covered that no input covered. The result is sorted by family, then address.
pub fn aggregate<K: Ord + Clone>(
    prefixes: impl IntoIterator<Item = (IpNet, K)>,
) -> Vec<(IpNet, K)> {
    let mut by_key: BTreeMap<K, Vec<IpNet>> = BTreeMap::new();
    for (prefix, key) in prefixes {
        by_key.entry(key).or_default().push(prefix.trunc());
    }
    let mut out: Vec<(IpNet, K)> = by_key
        .into_iter()
        .flat_map(|(key, nets)| {
            IpNet::aggregate(&nets)
                .into_iter()
                .map(move |net| (net, key.clone()))
        })
        .collect();
    out.sort_by(|(a, _), (b, _)| {
        (a.addr().is_ipv6(), a.addr(), a.prefix_len()).cmp(&(
            b.addr().is_ipv6(),
            b.addr(),
            b.prefix_len(),
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv4Addr};

    fn net(text: &str) -> IpNet {
        text.parse().expect("a prefix")
    }

    #[test]
    fn adjacent_slash32s_of_one_location_become_a_slash31() {
        let out = aggregate([
            (net("203.0.113.11/32"), "lax"),
            (net("203.0.113.10/32"), "lax"),
            (net("203.0.113.12/32"), "nyc"),
        ]);
        assert_eq!(
            out,
            vec![
                (net("203.0.113.10/31"), "lax"),
                (net("203.0.113.12/32"), "nyc")
            ]
        );
    }

    #[test]
    fn unaligned_neighbours_stay_apart() {
        // .11 and .12 are adjacent but no CIDR block holds exactly both.
        let out = aggregate([
            (net("203.0.113.11/32"), "lax"),
            (net("203.0.113.12/32"), "lax"),
        ]);
        assert_eq!(out.len(), 2, "{out:?}");
    }

    /// Addresses 192.0.2.0–255 as /32s with one of three keys, or none.
    fn assignment() -> impl Strategy<Value = Vec<Option<u8>>> {
        proptest::collection::vec(proptest::option::of(0u8..3), 256)
    }

    proptest! {
        /// Against the plain model: every address keeps exactly its key, and no output block
        /// could be merged with a neighbour of the same key.
        #[test]
        fn aggregation_keeps_every_address_and_only_them(keys in assignment()) {
            let input: Vec<(IpNet, u8)> = keys
                .iter()
                .enumerate()
                .filter_map(|(i, k)| {
                    k.map(|k| (IpNet::from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8))), k))
                })
                .collect();
            let out = aggregate(input);
            let mut seen: HashMap<u8, u8> = HashMap::new();
            for (block, key) in &out {
                for host in block.hosts().chain([block.network(), block.broadcast()]) {
                    let IpAddr::V4(v4) = host else { unreachable!("IPv4 input") };
                    let last = v4.octets()[3];
                    seen.insert(last, *key);
                }
            }
            for (i, k) in keys.iter().enumerate() {
                prop_assert_eq!(seen.get(&(i as u8)).copied(), *k, "address .{}", i);
            }
            for pair in out.windows(2) {
                let (a, ka) = &pair[0];
                let (b, kb) = &pair[1];
                if ka == kb && a.prefix_len() == b.prefix_len() {
                    if let Some(parent) = a.supernet() {
                        prop_assert!(!parent.contains(b), "{} and {} could merge", a, b);
                    }
                }
            }
        }
    }
}
