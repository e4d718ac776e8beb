//! The connection log: one JSON line per connection (DESIGN rule 14), written by one task so
//! that records are never interleaved, and flushed before the process exits.

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use egress_model::LocationCode;
use egress_onramp::server::OnRamp;
use egress_policy::{EgressKind, FallbackUsed, Transport};
use serde::{Serialize, Serializer};
use tokio::sync::mpsc;

/// One connection, start to end. A live connection holds its record for its whole life, so
/// the record keeps values in their compact form (addresses, enums, shared names, times) and
/// turns them into text only when it is written. Text of its own is set once, so it is boxed
/// (no spare capacity, one word less than a `String`).
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRecord {
    pub session_id: SessionId,
    /// Shared with the authorizer, like `user` and `proxy_endpoint`.
    pub account: Option<Arc<str>>,
    pub user: Option<Arc<str>>,
    pub device: Option<Arc<str>>,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub proxy_endpoint: Option<Arc<str>>,
    #[serde(serialize_with = "onramp_name")]
    pub onramp: OnRamp,
    pub dst_host: Option<Box<str>>,
    pub dst_ip: Option<IpAddr>,
    pub dst_port: Option<u16>,
    pub transport: Transport,
    /// Shared with the snapshot's policy.
    pub policy_id: Option<Arc<str>>,
    pub policy_name: Option<Arc<str>>,
    pub egress_method: Option<EgressKind>,
    pub egress_ip: Option<IpAddr>,
    pub egress_port: Option<u16>,
    /// Shared with the snapshot's locations, like `egress_ip_location`.
    pub egress_location: Option<LocationCode>,
    pub egress_ip_location: Option<LocationCode>,
    pub ingress_location: Arc<str>,
    pub fallback: Option<FallbackUsed>,
    pub bytes_client_to_upstream: u64,
    pub bytes_upstream_to_client: u64,
    /// UDP only (no fields at all for TCP).
    #[serde(flatten)]
    pub datagrams: Option<Datagrams>,
    pub start: Timestamp,
    /// `None` while the connection is open, written as `""` then.
    #[serde(serialize_with = "end_or_empty")]
    pub end: Option<Timestamp>,
    pub close_reason: Box<str>,
}

impl ConnectionRecord {
    /// A record started now, with nothing known yet but the session and the client.
    pub fn new(session_id: SessionId, client: std::net::SocketAddr, onramp: OnRamp) -> Self {
        ConnectionRecord {
            session_id,
            account: None,
            user: None,
            device: None,
            src_ip: client.ip(),
            src_port: client.port(),
            proxy_endpoint: None,
            onramp,
            dst_host: None,
            dst_ip: None,
            dst_port: None,
            transport: Transport::Tcp,
            policy_id: None,
            policy_name: None,
            egress_method: None,
            egress_ip: None,
            egress_port: None,
            egress_location: None,
            egress_ip_location: None,
            ingress_location: Arc::from(""),
            fallback: None,
            bytes_client_to_upstream: 0,
            bytes_upstream_to_client: 0,
            datagrams: None,
            start: Timestamp(SystemTime::now()),
            end: None,
            close_reason: Box::default(),
        }
    }

    /// Ends the record now, for `close_reason`.
    pub fn close(&mut self, close_reason: &str) {
        self.end = Some(Timestamp(SystemTime::now()));
        self.close_reason = close_reason.into();
    }
}

/// Datagrams of a UDP flow relayed each way, written as `datagrams_client_to_upstream` and
/// `datagrams_upstream_to_client`. One optional pair, not two optional counts: the pair
/// shares one tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Datagrams {
    /// Datagrams the client sent that were relayed.
    #[serde(rename = "datagrams_client_to_upstream")]
    pub client_to_upstream: u64,
    /// Datagrams from the destination relayed to the client.
    #[serde(rename = "datagrams_upstream_to_client")]
    pub upstream_to_client: u64,
}

/// A session id, `<node>-<hex counter>`, kept as its parts until it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionId {
    pub node: Arc<str>,
    pub n: u64,
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:x}", self.node, self.n)
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A point in time, written as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub SystemTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

/// An on-ramp is written by its name in logs.
fn onramp_name<S: Serializer>(onramp: &OnRamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(onramp.as_str())
}

/// The end of a record still open is written as an empty string.
fn end_or_empty<S: Serializer>(end: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match end {
        Some(t) => t.serialize(s),
        None => s.serialize_str(""),
    }
}

/// Formats a time as RFC 3339 with milliseconds.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Sends records to the writer task.
#[derive(Debug, Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<Arc<ConnectionRecord>>,
}

/// The writer task's handle: await it after dropping every sink to flush everything.
pub type LogWriter = tokio::task::JoinHandle<()>;

impl LogSink {
    /// Starts the writer: to `path` (appended) or standard output.
    pub fn start(path: Option<&Path>) -> std::io::Result<(LogSink, LogWriter)> {
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => Box::new(std::io::stdout()),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Arc<ConnectionRecord>>();
        let writer = tokio::task::spawn_blocking(move || {
            let mut out = std::io::BufWriter::new(out);
            while let Some(record) = rx.blocking_recv() {
                write_line(&mut out, &record);
                // Drain what is queued, then flush once.
                while let Ok(more) = rx.try_recv() {
                    write_line(&mut out, &more);
                }
                if let Err(e) = out.flush() {
                    eprintln!("egressd: connection log write failed: {e}");
                }
            }
        });
        Ok((LogSink { tx }, writer))
    }

    /// Queues a record.
    pub fn write(&self, record: Arc<ConnectionRecord>) {
        // The writer only stops after every sink is dropped.
        let _ = self.tx.send(record);
    }
}

fn write_line(out: &mut impl Write, record: &ConnectionRecord) {
    match serde_json::to_string(record) {
        Ok(line) => {
            if let Err(e) = writeln!(out, "{line}") {
                eprintln!("egressd: connection log write failed: {e}");
            }
        }
        Err(e) => eprintln!("egressd: connection log record not serialisable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// A live connection holds its record for its whole life, and the budget is 2 KiB of user
    /// space per idle tunnel in all: a field that grows the record needs a reason. (With a
    /// `String` per name and a text end time it took 480 bytes, and more on the heap.)
    const RECORD_BYTES: usize = 344;

    #[test]
    fn a_record_fits_its_budget() {
        let size = std::mem::size_of::<ConnectionRecord>();
        assert!(
            size <= RECORD_BYTES,
            "a connection record takes {size} bytes, more than {RECORD_BYTES}"
        );
    }

    #[test]
    fn compact_fields_are_written_as_text() {
        let session = SessionId {
            node: Arc::from("lax-1"),
            n: 0x2a,
        };
        let client = "[2001:db8::7]:40000".parse().expect("valid");
        let mut record = ConnectionRecord::new(session, client, OnRamp::Socks5);
        record.start = Timestamp(UNIX_EPOCH + Duration::from_millis(1_764_000_000_123));
        record.egress_ip = Some("192.0.2.10".parse().expect("valid"));
        record.egress_method = Some(EgressKind::Dedicated);
        record.ingress_location = Arc::from("lax");
        let line = serde_json::to_value(&record).expect("serialisable");
        assert_eq!(line["session_id"], "lax-1-2a");
        assert_eq!(line["src_ip"], "2001:db8::7");
        assert_eq!(line["src_port"], 40000);
        assert_eq!(line["onramp"], "socks5");
        assert_eq!(line["transport"], "tcp");
        assert_eq!(line["egress_ip"], "192.0.2.10");
        assert_eq!(line["egress_method"], "dedicated");
        assert_eq!(line["ingress_location"], "lax");
        assert_eq!(line["dst_ip"], serde_json::Value::Null);
        assert_eq!(line["start"], "2025-11-24T16:00:00.123Z");
        assert!(line.get("datagrams_client_to_upstream").is_none());
        assert!(line.get("datagrams_upstream_to_client").is_none());
    }

    #[test]
    fn a_udp_record_writes_its_datagrams_each_way() {
        let client = "192.0.2.1:40000".parse().expect("valid");
        let mut record = ConnectionRecord::new(SessionId::default(), client, OnRamp::Socks5);
        record.datagrams = Some(Datagrams {
            client_to_upstream: 3,
            upstream_to_client: 5,
        });
        let line = serde_json::to_string(&record).expect("serialisable");
        assert!(
            line.contains(
                r#""bytes_upstream_to_client":0,"datagrams_client_to_upstream":3,"datagrams_upstream_to_client":5,"start":"#
            ),
            "{line}"
        );
    }

    #[test]
    fn enum_fields_are_written_with_their_log_names() {
        let client = "192.0.2.1:40000".parse().expect("valid");
        let written = |record: &ConnectionRecord, field: &str| {
            serde_json::to_value(record).expect("serialisable")[field].clone()
        };
        for (onramp, name) in [
            (OnRamp::HttpConnect, "http_connect"),
            (OnRamp::HttpForward, "http_forward"),
            (OnRamp::Socks5, "socks5"),
            (OnRamp::Masque, "masque"),
        ] {
            let record = ConnectionRecord::new(SessionId::default(), client, onramp);
            assert_eq!(written(&record, "onramp"), name);
        }
        let mut record = ConnectionRecord::new(SessionId::default(), client, OnRamp::Socks5);
        assert_eq!(written(&record, "egress_method"), serde_json::Value::Null);
        assert_eq!(written(&record, "fallback"), serde_json::Value::Null);
        for (transport, name) in [(Transport::Tcp, "tcp"), (Transport::Udp, "udp")] {
            record.transport = transport;
            assert_eq!(written(&record, "transport"), name);
        }
        for (kind, name) in [
            (EgressKind::Dedicated, "dedicated"),
            (EgressKind::Default, "default"),
        ] {
            record.egress_method = Some(kind);
            assert_eq!(written(&record, "egress_method"), name);
        }
        for (fallback, name) in [
            (FallbackUsed::None, "none"),
            (FallbackUsed::Ipv4Fallback, "ipv4_fallback"),
            (FallbackUsed::DefaultRange, "default_range"),
        ] {
            record.fallback = Some(fallback);
            assert_eq!(written(&record, "fallback"), name);
        }
    }

    #[test]
    fn an_open_record_writes_an_empty_end_and_a_closed_one_its_time() {
        let client = "192.0.2.1:40000".parse().expect("valid");
        let mut record = ConnectionRecord::new(SessionId::default(), client, OnRamp::HttpConnect);
        let open = serde_json::to_value(&record).expect("serialisable");
        assert_eq!(open["end"], "");
        assert_eq!(open["close_reason"], "");
        record.close("client_closed");
        record.end = Some(Timestamp(
            UNIX_EPOCH + Duration::from_millis(1_764_000_001_004),
        ));
        let closed = serde_json::to_value(&record).expect("serialisable");
        assert_eq!(closed["end"], "2025-11-24T16:00:01.004Z");
        assert_eq!(closed["close_reason"], "client_closed");
    }
}
