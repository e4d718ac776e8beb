//! Where addresses come from: distances between locations, stable hashing of users, and the
//! address a user gets inside a range. All deterministic across processes and releases.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance between two points given in degrees (haversine formula).
pub fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// A 64-bit hash of byte strings that is the same on every node and every release
/// (FNV-1a followed by a SplitMix64 finaliser for avalanche).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator so that ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Hash of a domain tag followed by the parts of a key.
fn keyed_hash(tag: &[u8], key: &[&[u8]]) -> u64 {
    let mut parts: [&[u8]; 4] = [tag, &[], &[], &[]];
    for (slot, part) in parts[1..].iter_mut().zip(key) {
        *slot = part;
    }
    stable_hash(&parts[..1 + key.len().min(3)])
}

/// Rendezvous (highest random weight) choice of one candidate for a key: each key sticks to
/// one candidate, and removing a candidate only moves the keys that were on it.
pub fn rendezvous_pick<T: Copy>(
    key: &[&[u8]],
    candidates: impl Iterator<Item = (T, [u8; 4])>,
) -> Option<T> {
    candidates
        .map(|(item, id)| (keyed_hash(&id, key), item))
        .max_by_key(|(score, _)| *score)
        .map(|(_, item)| item)
}

/// The address of a user inside a location's slice of a /64: the /64 prefix, then the slice
/// index in the next 16 bits (a /80 per location), then a 48-bit interface id from the user key.
pub fn ipv6_in_slice(net: Ipv6Net, slice: u16, user_key: &[&[u8]]) -> Ipv6Addr {
    let prefix = u128::from(net.network()) & (!0u128 << 64);
    let mut iid = keyed_hash(b"ipv6-iid", user_key) & 0x0000_ffff_ffff_ffff;
    if iid == 0 {
        iid = 1; // never the subnet-router anycast address of the slice
    }
    Ipv6Addr::from(prefix | (u128::from(slice) << 48) | u128::from(iid))
}

/// The /80 slice of a /64 that a location sends from.
pub fn ipv6_slice_net(net: Ipv6Net, slice: u16) -> Ipv6Net {
    let prefix = u128::from(net.network()) & (!0u128 << 64);
    Ipv6Net::new(Ipv6Addr::from(prefix | (u128::from(slice) << 48)), 80)
        .expect("80 is a valid IPv6 prefix length")
}

/// A stable address for a user inside a shared IPv4 range.
pub fn ipv4_in_range(net: Ipv4Net, user_key: &[&[u8]]) -> Ipv4Addr {
    let size = 1u64 << (32 - u32::from(net.prefix_len()));
    let offset = keyed_hash(b"ipv4-default", user_key) % size;
    Ipv4Addr::from(u32::from(net.network()) + offset as u32)
}

/// A stable address for a user inside a shared IPv6 range.
pub fn ipv6_in_range(net: Ipv6Net, user_key: &[&[u8]]) -> Ipv6Addr {
    let host_bits = 128 - u32::from(net.prefix_len());
    let mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let h = u128::from(keyed_hash(b"ipv6-default", user_key));
    let offset = (h | (h << 64)) & mask;
    Ipv6Addr::from(u128::from(net.network()) | offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_los_angeles_new_york_is_about_3940_km() {
        let d = great_circle_km(34.05, -118.24, 40.71, -74.01);
        assert!((3900.0..3990.0).contains(&d), "{d}");
        assert_eq!(great_circle_km(1.0, 2.0, 1.0, 2.0), 0.0);
    }

    const PINNED_ACME_ALICE: u64 = 14_758_370_302_633_078_441;

    #[test]
    fn stable_hash_is_fixed_across_releases() {
        // Pinned values: a change here moves every user to another address.
        assert_eq!(stable_hash(&[b"alice"]), stable_hash(&[b"alice"]));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[b"acme", b"alice"]), PINNED_ACME_ALICE);
    }

    #[test]
    fn ipv6_slice_address_stays_in_slice_and_is_stable() {
        let net: Ipv6Net = "2001:db8:1:2::/64".parse().expect("valid");
        let a = ipv6_in_slice(net, 3, &[b"acme", b"alice"]);
        assert!(ipv6_slice_net(net, 3).contains(&a), "{a}");
        assert!(net.contains(&a));
        assert_eq!(a, ipv6_in_slice(net, 3, &[b"acme", b"alice"]));
        assert_ne!(a, ipv6_in_slice(net, 3, &[b"acme", b"bob"]));
        assert!(!ipv6_slice_net(net, 4).contains(&a));
    }

    #[test]
    fn default_range_addresses_stay_inside() {
        let net: Ipv4Net = "198.51.100.16/28".parse().expect("valid");
        for user in ["a", "b", "c", "d", "e"] {
            assert!(net.contains(&ipv4_in_range(net, &[user.as_bytes()])));
        }
        let one: Ipv4Net = "127.0.0.1/32".parse().expect("valid");
        assert_eq!(ipv4_in_range(one, &[b"x"]), Ipv4Addr::new(127, 0, 0, 1));
        let v6: Ipv6Net = "2001:db8:d::/64".parse().expect("valid");
        assert!(v6.contains(&ipv6_in_range(v6, &[b"x"])));
        let v6one: Ipv6Net = "::1/128".parse().expect("valid");
        assert_eq!(ipv6_in_range(v6one, &[b"x"]), Ipv6Addr::LOCALHOST);
    }

    #[test]
    fn rendezvous_moves_only_keys_of_removed_candidate() {
        let all = [(0usize, [1, 1, 1, 1]), (1, [2, 2, 2, 2]), (2, [3, 3, 3, 3])];
        for user in 0..200u32 {
            let key = user.to_be_bytes();
            let before = rendezvous_pick(&[&key], all.iter().copied()).expect("non-empty");
            let after = rendezvous_pick(&[&key], all.iter().copied().filter(|c| c.0 != 2))
                .expect("non-empty");
            if before != 2 {
                assert_eq!(before, after);
            }
        }
    }
}
