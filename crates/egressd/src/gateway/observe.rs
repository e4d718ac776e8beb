//! What the node shows about its traffic: live connections, a bounded ring of recent log
//! records, and metrics. Every record passes through here on its way to the log writer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustc_hash::FxHashMap;

use super::metrics::Metrics;
use super::{ConnectionRecord, LogSink};

/// How many finished records the API can show.
const RECENT: usize = 10_000;
const SHARDS: usize = 16;

/// Live records by session number, with when they were dialled: a record's `start` is earlier
/// (before resolving and dialling) and on the wall clock, so the live view's ages use this.
type Live = FxHashMap<u64, (Instant, Arc<ConnectionRecord>)>;

/// Live connections, recent records, metrics, and the log writer.
#[derive(Debug)]
pub struct Recorder {
    log: LogSink,
    live: [Mutex<Live>; SHARDS],
    recent: Mutex<VecDeque<Arc<ConnectionRecord>>>,
    /// Bytes of connections that ended since the traffic history last took them, per egress
    /// address (bounded by the addresses active in one sampling interval).
    ended_bytes: Mutex<FxHashMap<String, u64>>,
    pub metrics: Metrics,
}

/// Filters of the recent-records view.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter<'a> {
    pub account: Option<&'a str>,
    pub user: Option<&'a str>,
    pub policy: Option<&'a str>,
    pub egress_ip: Option<&'a str>,
    pub close_reason: Option<&'a str>,
}

impl RecordFilter<'_> {
    fn keeps(&self, r: &ConnectionRecord) -> bool {
        let is = |want: Option<&str>, have: Option<&str>| want.is_none_or(|w| have == Some(w));
        is(self.account, r.account.as_deref())
            && is(self.user, r.user.as_deref())
            && (is(self.policy, r.policy_name.as_deref())
                || is(self.policy, r.policy_id.as_deref()))
            && self
                .egress_ip
                .is_none_or(|want| want.parse::<std::net::IpAddr>().ok() == r.egress_ip)
            && is(self.close_reason, Some(&r.close_reason))
    }
}

impl Recorder {
    pub fn new(log: LogSink) -> Self {
        Recorder {
            log,
            live: std::array::from_fn(|_| Mutex::new(FxHashMap::default())),
            recent: Mutex::new(VecDeque::with_capacity(1024)),
            ended_bytes: Mutex::new(FxHashMap::default()),
            metrics: Metrics::default(),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<Live> {
        &self.live[(id as usize) % SHARDS]
    }

    /// A connection was dialled; the record is shared with the live view, under its session
    /// number, until it ends.
    pub fn opened(&self, record: ConnectionRecord) -> Arc<ConnectionRecord> {
        self.metrics.opened(&record);
        let id = record.session_id.n;
        let shared = Arc::new(record);
        let entry = (Instant::now(), Arc::clone(&shared));
        self.shard(id)
            .lock()
            .expect("never poisoned")
            .insert(id, entry);
        shared
    }

    /// A dialled connection ended: `complete` fills in the end of its record.
    pub fn ended(
        &self,
        record: Arc<ConnectionRecord>,
        complete: impl FnOnce(&mut ConnectionRecord),
    ) {
        let id = record.session_id.n;
        self.shard(id).lock().expect("never poisoned").remove(&id);
        // Out of the live view the record is (nearly always) no longer shared: no copy.
        let mut record = Arc::unwrap_or_clone(record);
        complete(&mut record);
        self.metrics.ended(&record);
        if let Some(ip) = record.egress_ip {
            let bytes = record
                .bytes_client_to_upstream
                .saturating_add(record.bytes_upstream_to_client);
            let mut ended = self.ended_bytes.lock().expect("never poisoned");
            let total = ended.entry(ip.to_string()).or_default();
            *total = total.saturating_add(bytes);
        }
        self.finish(record);
    }

    /// A connection refused before it was dialled.
    pub fn refused(&self, record: ConnectionRecord) {
        self.metrics.closed_only(&record);
        self.finish(record);
    }

    fn finish(&self, record: ConnectionRecord) {
        let shared = Arc::new(record);
        {
            let mut recent = self.recent.lock().expect("never poisoned");
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(Arc::clone(&shared));
        }
        self.log.write(shared);
    }

    /// Live connections, newest first, with their age.
    pub fn live(&self, account: Option<&str>, limit: usize) -> Vec<(u128, Arc<ConnectionRecord>)> {
        let mut all: Vec<(Instant, Arc<ConnectionRecord>)> = self
            .live
            .iter()
            .flat_map(|s| {
                s.lock()
                    .expect("never poisoned")
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .filter(|(_, r)| account.is_none_or(|a| r.account.as_deref() == Some(a)))
            .collect();
        all.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        all.truncate(limit);
        all.into_iter()
            .map(|(t, r)| (t.elapsed().as_millis(), r))
            .collect()
    }

    /// Per egress address: connections open now, and bytes of the connections that ended since
    /// the last call (which takes them).
    pub fn take_activity(&self) -> Vec<crate::history::Activity> {
        let mut open: FxHashMap<String, u32> = FxHashMap::default();
        for shard in &self.live {
            for (_, record) in shard.lock().expect("never poisoned").values() {
                if let Some(ip) = record.egress_ip {
                    *open.entry(ip.to_string()).or_default() += 1;
                }
            }
        }
        let ended = std::mem::take(&mut *self.ended_bytes.lock().expect("never poisoned"));
        let mut activity: Vec<crate::history::Activity> = open
            .iter()
            .map(|(ip, &connections)| crate::history::Activity {
                egress_ip: ip.clone(),
                connections,
                bytes: ended.get(ip).copied().unwrap_or(0),
            })
            .collect();
        activity.extend(
            ended
                .into_iter()
                .filter(|(ip, _)| !open.contains_key(ip))
                .map(|(egress_ip, bytes)| crate::history::Activity {
                    egress_ip,
                    connections: 0,
                    bytes,
                }),
        );
        activity
    }

    /// Recent finished records, newest first.
    pub fn recent(&self, filter: &RecordFilter<'_>, limit: usize) -> Vec<Arc<ConnectionRecord>> {
        let recent = self.recent.lock().expect("never poisoned");
        recent
            .iter()
            .rev()
            .filter(|r| filter.keeps(r))
            .take(limit)
            .cloned()
            .collect()
    }
}
