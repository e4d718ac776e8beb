//! The connection log: one JSON line per connection (DESIGN rule 14), written by one task so
//! that records are never interleaved, and flushed before the process exits.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;

/// One connection, start to end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectionRecord {
    pub session_id: String,
    pub account: Option<String>,
    pub user: Option<String>,
    pub device: Option<String>,
    pub src_ip: String,
    pub src_port: u16,
    pub proxy_endpoint: Option<String>,
    pub onramp: String,
    pub dst_host: Option<String>,
    pub dst_ip: Option<String>,
    pub dst_port: Option<u16>,
    pub transport: String,
    pub policy_id: Option<String>,
    pub policy_name: Option<String>,
    pub egress_method: Option<String>,
    pub egress_ip: Option<String>,
    pub egress_port: Option<u16>,
    pub egress_location: Option<String>,
    pub egress_ip_location: Option<String>,
    pub ingress_location: String,
    pub fallback: Option<String>,
    pub bytes_client_to_upstream: u64,
    pub bytes_upstream_to_client: u64,
    /// UDP only: datagrams the client sent that were relayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagrams_client_to_upstream: Option<u64>,
    /// UDP only: datagrams from the destination relayed to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagrams_upstream_to_client: Option<u64>,
    pub start: String,
    pub end: String,
    pub close_reason: String,
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
