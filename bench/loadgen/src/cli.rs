//! Command line of the load generator.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::client::Mode;

/// Load generator and origin for the egressd peer benchmark. Every scenario prints one JSON
/// line on standard output; diagnostics go to standard error.
#[derive(Debug, Parser)]
#[command(name = "egress-loadgen", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP/1.1 origin: `/small` (5 bytes) and `/bulk?bytes=N`, keep-alive; and a UDP echo.
    Origin(OriginArgs),
    /// New connection + handshake + one small GET, N concurrent, for D seconds.
    ConnectRate(ConnectRateArgs),
    /// Small GETs inside K established tunnels (keep-alive).
    TunnelRps(KeepAliveArgs),
    /// Absolute-form small GETs on K keep-alive proxy connections (`--mode forward`).
    ForwardRps(KeepAliveArgs),
    /// One large body through one tunnel: Gbit/s and proxy CPU s/GiB.
    Bulk(BulkArgs),
    /// Open N idle tunnels, measure memory per tunnel, hold until released.
    Idle(IdleArgs),
    /// New tunnels at a fixed rate over several origins, counting every error.
    Churn(ChurnArgs),
    /// p50/p99 of a small GET inside a tunnel and of a new tunnel, one client.
    Latency(LatencyArgs),
    /// Datagram ping-pong with the UDP echo origin from N clients (direct or SOCKS5 UDP).
    UdpEcho(UdpEchoArgs),
    /// Merges JSON lines of many runs into medians, a Markdown table and a JSON file.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct OriginArgs {
    /// Address to listen on for HTTP (repeatable).
    #[arg(long, required_unless_present = "udp_listen")]
    pub listen: Vec<SocketAddr>,
    /// Address to echo UDP datagrams on (repeatable).
    #[arg(long)]
    pub udp_listen: Vec<SocketAddr>,
    /// Size of the buffer bulk bodies are written from, MiB.
    #[arg(long, default_value_t = 4)]
    pub bulk_buffer_mib: usize,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Options every scenario shares.
#[derive(Debug, Args)]
pub struct Common {
    /// How to reach the origin.
    #[arg(long, value_enum, default_value_t = Mode::Direct)]
    pub mode: Mode,
    /// The proxy (not for `--mode direct`).
    #[arg(long)]
    pub proxy: Option<SocketAddr>,
    /// Origin address (repeatable: used in turn).
    #[arg(long = "target", default_value = "127.0.0.1:18081")]
    pub targets: Vec<SocketAddr>,
    /// Name of what is measured, copied into the output (`squid`, `egressd-connect`, …).
    #[arg(long, default_value = "unnamed")]
    pub label: String,
    /// Repetition number, copied into the output.
    #[arg(long, default_value_t = 1)]
    pub run: u32,
    /// cgroup v1 cpuacct directory holding the proxy's processes (CPU and memory).
    #[arg(long)]
    pub proxy_cgroup: Option<PathBuf>,
    /// The proxy's PID (its process tree is measured) when there is no cgroup.
    #[arg(long)]
    pub proxy_pid: Option<u32>,
    /// Deadline of every connect, handshake, request and read, ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct ConnectRateArgs {
    #[command(flatten)]
    pub common: Common,
    /// Concurrent workers.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Length of the run, s.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
}

#[derive(Debug, Args)]
pub struct KeepAliveArgs {
    #[command(flatten)]
    pub common: Common,
    /// Keep-alive connections (tunnels).
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// Length of the run, s.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
}

#[derive(Debug, Args)]
pub struct BulkArgs {
    #[command(flatten)]
    pub common: Common,
    /// Body size, bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub bytes: u64,
}

#[derive(Debug, Args)]
pub struct IdleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Counts at which memory is measured (comma-separated, ascending; the last is the target).
    #[arg(long, value_delimiter = ',', default_value = "900,9000")]
    pub counts: Vec<u64>,
    /// Tunnels opened at once.
    #[arg(long, default_value_t = 64)]
    pub open_concurrency: usize,
    /// Pause before measuring, ms.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// Longest hold once ready, s (0: release at once).
    #[arg(long, default_value_t = 0)]
    pub hold_secs: u64,
    /// Release as soon as this file exists (SIGUSR1, SIGINT and SIGTERM release too).
    #[arg(long)]
    pub release_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ChurnArgs {
    #[command(flatten)]
    pub common: Common,
    /// New tunnels per second.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Length of the run, s.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Tunnels in progress at most; beyond, the schedule is skipped and counted.
    #[arg(long, default_value_t = 2000)]
    pub max_in_flight: usize,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    pub common: Common,
    /// Requests timed inside one tunnel.
    #[arg(long, default_value_t = 5000)]
    pub samples: usize,
    /// New tunnels timed.
    #[arg(long, default_value_t = 2000)]
    pub new_samples: usize,
    /// Longest time for each sample set, s.
    #[arg(long, default_value_t = 20)]
    pub max_secs: u64,
}

#[derive(Debug, Args)]
pub struct UdpEchoArgs {
    #[command(flatten)]
    pub common: Common,
    /// Concurrent clients, each with its own socket (and SOCKS5 association).
    #[arg(long, default_value_t = 32)]
    pub flows: usize,
    /// Payload bytes of each datagram (8 to 65,000).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Length of the run, s.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// A datagram not echoed within this is counted lost and the next one sent, ms.
    #[arg(long, default_value_t = 500)]
    pub loss_ms: u64,
    /// Fail before measuring unless the origin sees the datagrams come from this address.
    #[arg(long)]
    pub expect_source: Option<IpAddr>,
    /// Scenario name in the output (e.g. `udp-echo-1200` for QUIC-sized datagrams).
    #[arg(long, default_value = "udp-echo")]
    pub scenario: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// JSON lines written by the scenarios (all runs).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the Markdown (also printed).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Where to write the machine-readable results.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The command that produced the runs, for the header.
    #[arg(long, default_value = "bench/run")]
    pub command: String,
    /// The egressd revision measured (`git describe --dirty`), for the header.
    #[arg(long, default_value = "unknown")]
    pub revision: String,
    /// A line printed under the header (repeatable), e.g. the load average during the runs.
    #[arg(long)]
    pub note: Vec<String>,
    /// Date of the runs, for the header.
    #[arg(long, default_value = "")]
    pub date: String,
}
