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

type Live = FxHashMap<u64, (Instant, Arc<ConnectionRecord>)>;

/// Live connections, recent records, metrics, and the log writer.
#[derive(Debug)]
pub struct Recorder {
    log: LogSink,
    live: [Mutex<Live>; SHARDS],
    recent: Mutex<VecDeque<Arc<ConnectionRecord>>>,
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
            && is(self.egress_ip, r.egress_ip.as_deref())
            && is(self.close_reason, Some(r.close_reason.as_str()))
    }
}

impl Recorder {
    pub fn new(log: LogSink) -> Self {
        Recorder {
            log,
            live: std::array::from_fn(|_| Mutex::new(FxHashMap::default())),
            recent: Mutex::new(VecDeque::with_capacity(1024)),
            metrics: Metrics::default(),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<Live> {
        &self.live[(id as usize) % SHARDS]
    }

    /// A connection was dialled.
    pub fn opened(&self, id: u64, record: &ConnectionRecord) {
        self.metrics.opened(record);
        let entry = (Instant::now(), Arc::new(record.clone()));
        self.shard(id)
            .lock()
            .expect("never poisoned")
            .insert(id, entry);
    }

    /// A dialled connection ended.
    pub fn ended(&self, id: u64, record: ConnectionRecord) {
        self.shard(id).lock().expect("never poisoned").remove(&id);
        self.metrics.ended(&record);
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
        all.sort_by(|a, b| b.0.cmp(&a.0));
        all.truncate(limit);
        all.into_iter()
            .map(|(t, r)| (t.elapsed().as_millis(), r))
            .collect()
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
