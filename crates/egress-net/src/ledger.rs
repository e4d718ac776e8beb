//! The port ledger: concurrent connections per (egress address, destination address and port).
//!
//! The kernel chooses a source port per 4-tuple at connect time (`IP_BIND_ADDRESS_NO_PORT`), so
//! one egress address can hold at most one connection per free ephemeral port towards a given
//! destination. The ledger enforces the configured `max_connections_per_destination` below that,
//! so that the next connection is refused with a named error instead of failing inside connect.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use egress_model::EgressAddr;
use rustc_hash::FxHashMap;

const SHARDS: usize = 16;

type Key = (EgressAddr, SocketAddr);

/// Counts of live connections per egress address and destination, shared by all connections.
#[derive(Debug, Clone, Default)]
pub struct PortLedger {
    shards: Arc<[Mutex<FxHashMap<Key, u32>>; SHARDS]>,
}

/// The budget for this egress address and destination is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("egress address {egress} already holds {limit} connections to {destination}")]
pub struct LedgerError {
    /// Egress address.
    pub egress: EgressAddr,
    /// Destination.
    pub destination: SocketAddr,
    /// The limit reached.
    pub limit: u32,
}

/// A held slot; dropping it frees the slot, on every path (success, error, abort).
#[derive(Debug)]
pub struct PortSlot {
    ledger: PortLedger,
    key: Key,
}

/// Usage of one (egress address, destination) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortUsage {
    /// Egress address.
    pub source: EgressAddr,
    /// Destination.
    pub destination: SocketAddr,
    /// Live connections.
    pub connections: u32,
}

fn shard_of(key: &Key) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let h = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(key);
    (h as usize) % SHARDS
}

impl PortLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        PortLedger::default()
    }

    /// Takes a slot for a connection from `source` to `destination`, or refuses at `limit`.
    pub fn acquire(
        &self,
        source: EgressAddr,
        destination: SocketAddr,
        limit: u32,
    ) -> Result<PortSlot, LedgerError> {
        let key = (source, destination);
        let mut shard = self.shards[shard_of(&key)]
            .lock()
            .expect("ledger lock is never poisoned");
        let count = shard.entry(key).or_insert(0);
        if *count >= limit {
            return Err(LedgerError {
                egress: source,
                destination,
                limit,
            });
        }
        *count += 1;
        Ok(PortSlot {
            ledger: self.clone(),
            key,
        })
    }

    /// Live connections for one pair.
    pub fn usage(&self, source: EgressAddr, destination: SocketAddr) -> u32 {
        let key = (source, destination);
        let shard = self.shards[shard_of(&key)]
            .lock()
            .expect("ledger lock is never poisoned");
        shard.get(&key).copied().unwrap_or(0)
    }

    /// The `n` busiest pairs.
    pub fn top(&self, n: usize) -> Vec<PortUsage> {
        let mut all: Vec<PortUsage> = self
            .shards
            .iter()
            .flat_map(|s| {
                let s = s.lock().expect("ledger lock is never poisoned");
                s.iter()
                    .map(|(&(source, destination), &connections)| PortUsage {
                        source,
                        destination,
                        connections,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by_key(|u| std::cmp::Reverse(u.connections));
        all.truncate(n);
        all
    }
}

impl PortLedger {
    /// For each egress address, its highest count towards any one destination.
    pub fn busiest_per_source(&self) -> Vec<(EgressAddr, u32)> {
        let mut best: FxHashMap<EgressAddr, u32> = FxHashMap::default();
        for shard in self.shards.iter() {
            let shard = shard.lock().expect("ledger lock is never poisoned");
            for (&(source, _), &count) in shard.iter() {
                let slot = best.entry(source).or_insert(0);
                *slot = (*slot).max(count);
            }
        }
        best.into_iter().collect()
    }
}

impl Drop for PortSlot {
    fn drop(&mut self) {
        let mut shard = self.ledger.shards[shard_of(&self.key)]
            .lock()
            .expect("ledger lock is never poisoned");
        if let Some(count) = shard.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                shard.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_limit_and_frees_on_drop() {
        let ledger = PortLedger::new();
        let src = EgressAddr("203.0.113.10".parse().expect("valid"));
        let dst: SocketAddr = "198.51.100.80:443".parse().expect("valid");
        let other: SocketAddr = "198.51.100.80:444".parse().expect("valid");
        let a = ledger.acquire(src, dst, 2).expect("first");
        let _b = ledger.acquire(src, dst, 2).expect("second");
        let err = ledger
            .acquire(src, dst, 2)
            .expect_err("third is over the limit");
        assert_eq!(err.limit, 2);
        // Another destination port shares the address freely.
        let _c = ledger.acquire(src, other, 2).expect("other destination");
        drop(a);
        assert_eq!(ledger.usage(src, dst), 1);
        let _d = ledger.acquire(src, dst, 2).expect("slot freed");
        assert_eq!(ledger.top(1)[0].connections, 2);
    }
}
