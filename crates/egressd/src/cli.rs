//! Command-line syntax.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Self-hostable egress gateway: dedicated egress IPs chosen per connection by egress policies.
#[derive(Debug, Parser)]
#[command(name = "egressd", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Store on PostgreSQL, shared by several control-plane replicas:
    /// postgres://user:password@host:port/database (default: $EGRESSD_STORE; without either,
    /// the embedded SQLite store in --data-dir). Used by serve, config import/export, token, pac.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "EGRESSD_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the plan for one connection and why: which policy, which source, which location.
    Trace(Box<TraceArgs>),
    /// Run the gateway (the embedded default configuration when --config is not given).
    Serve(ServeArgs),
    /// Answer every HTTP request with the address the client connected from.
    Whoami(WhoamiArgs),
    /// Check, through a proxy, which address whoami services see.
    Verify(VerifyArgs),
    /// Print an argon2id hash of a password (read from standard input) for `password_hash`.
    HashPassword,
    /// Manage admin API tokens in the store.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the PAC file of a proxy endpoint.
    Pac(PacArgs),
    /// Work with an account's egress policies through the admin API.
    Policies {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// List every dedicated IP (the address space) through the admin API.
    LeasedIps {
        #[command(flatten)]
        api: ApiArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Like `trace`, answered by a running node through the admin API.
    Explain(ExplainArgs),
    /// Show recent connection log records through the admin API.
    Logs(LogsArgs),
    /// Create the fleet's certificate authority and node certificates.
    Fleet {
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// Print the RFC 8805 geofeed of every egress prefix (what `/geofeed.csv` serves).
    Geofeed(ConfigArgs),
    /// Geolocation: check what databases say about the egress addresses.
    Geo {
        #[command(subcommand)]
        command: GeoCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Work with the fleet CA.
    Ca {
        #[command(subcommand)]
        command: FleetCaCommand,
    },
    /// Work with node certificates.
    Cert {
        #[command(subcommand)]
        command: FleetCertCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum FleetCaCommand {
    /// Create a new fleet CA (ca.pem and ca.key) in a directory; never overwrites.
    Init {
        /// Directory for ca.pem and ca.key (keep ca.key off the nodes).
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum FleetCertCommand {
    /// Issue a node certificate: writes ca.pem, node.pem and node.key into --out, the
    /// directory `serve --fleet-dir` reads.
    Issue {
        /// Directory of the fleet CA (ca.pem, ca.key).
        #[arg(long)]
        ca_dir: PathBuf,
        /// Node id, as in the configuration's [[nodes]] (the certificate's DNS name).
        #[arg(long)]
        node: String,
        /// Output directory for the node.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where a command reads the configuration: a file, else the store's latest revision.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Read the configuration from this file instead of the store.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Store directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum GeoCommand {
    /// Look up every egress address in MaxMind-format databases and compare with the
    /// configuration. Exits 0 when all agree, 3 when a database disagrees, 2 on an error.
    Check {
        /// A MaxMind DB file (GeoIP2/GeoLite2 City or Country); repeatable.
        #[arg(long = "mmdb", required = true, num_args = 1..)]
        mmdb: Vec<PathBuf>,
        #[command(flatten)]
        source: ConfigArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the admin API is and the token to use.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Admin API address.
    #[arg(long, default_value = "http://127.0.0.1:9090", global = true)]
    pub api: String,
    /// Admin token (default: $EGRESSD_TOKEN).
    #[arg(long, global = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List an account's policies in precedence order.
    List {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        api: ApiArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a policy.
    Add {
        #[arg(long)]
        account: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Stable id (default: the name).
        #[arg(long)]
        id: Option<String>,
        /// Precedence (must be free).
        #[arg(long)]
        precedence: u32,
        /// Traffic expression.
        #[arg(long)]
        traffic: Option<String>,
        /// Identity expression.
        #[arg(long)]
        identity: Option<String>,
        /// Dedicated IPv4 (omit for the default method).
        #[arg(long)]
        dedicated: Option<std::net::Ipv4Addr>,
        /// ipv4_fallback of a dedicated method (another IPv4 of the account, or 0.0.0.0).
        #[arg(long)]
        fallback: Option<std::net::Ipv4Addr>,
        /// IPv6 /64 of a dedicated method (default: the one paired with the IPv4).
        #[arg(long)]
        ipv6: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        api: ApiArgs,
        #[arg(long)]
        json: bool,
    },
    /// Move a policy to a precedence (others shift to keep their order).
    Move {
        #[arg(long)]
        account: String,
        /// Policy id.
        policy: String,
        /// New precedence.
        #[arg(long)]
        to: u32,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Enable a policy.
    Enable {
        #[arg(long)]
        account: String,
        policy: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Disable a policy.
    Disable {
        #[arg(long)]
        account: String,
        policy: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a policy.
    Delete {
        #[arg(long)]
        account: String,
        policy: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub intent: IntentArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Policy id.
    #[arg(long)]
    pub policy: Option<String>,
    #[arg(long)]
    pub egress_ip: Option<String>,
    #[arg(long)]
    pub close_reason: Option<String>,
    /// Records per request.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Keep printing new records.
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub api: ApiArgs,
    /// One JSON record per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown once).
    Create {
        /// Name (the author of its changes in the audit log).
        #[arg(long)]
        name: String,
        /// Limit it to one account (default: operator-wide).
        #[arg(long)]
        account: Option<String>,
        /// Allow changes (default: read only).
        #[arg(long)]
        write: bool,
        /// Store directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// List tokens.
    List {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Revoke a token by id.
    Revoke {
        id: u64,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct PacArgs {
    /// Proxy endpoint name.
    pub endpoint: String,
    /// Account of the endpoint, when several have one of that name.
    #[arg(long)]
    pub account: Option<String>,
    /// Host name or address clients reach the gateway at.
    #[arg(long)]
    pub host: String,
    /// Read the configuration from this file instead of the store.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Store directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file: file mode, the file is the source of truth (re-read on SIGHUP and
    /// on change). Without it: store mode, the store's latest revision (seeded with the
    /// embedded loopback configuration when empty).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Store directory (revisions, audit log, admin tokens); created on first start. Default:
    /// /var/lib/egressd as root, else $XDG_STATE_HOME/egressd or ~/.local/state/egressd.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Node id from the configuration (default: the first node).
    #[arg(long)]
    pub node: Option<String>,
    /// Append connection log records (JSON lines) to this file instead of standard output.
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// Seconds allowed for a client's request head or SOCKS handshake.
    #[arg(long, default_value_t = 10)]
    pub head_timeout_secs: u64,
    /// Seconds allowed to connect to a destination.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout_secs: u64,
    /// Seconds a tunnel may stay idle.
    #[arg(long, default_value_t = 300)]
    pub idle_timeout_secs: u64,
    /// Seconds open connections may take to finish after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub drain_grace_secs: u64,
    /// Admin API listener.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin_listen: std::net::SocketAddr,
    /// Do not start the admin API.
    #[arg(long)]
    pub no_admin: bool,
    /// Runtime worker threads (default: one per CPU the process may run on).
    #[arg(long)]
    pub worker_threads: Option<usize>,
    /// Join the fleet: directory with ca.pem, node.pem and node.key (`egressd fleet cert
    /// issue`). Peers are the configuration's [[nodes]] with a fleet_address.
    #[arg(long)]
    pub fleet_dir: Option<PathBuf>,
    /// Fleet listener (default: this node's fleet_address in the configuration).
    #[arg(long, requires = "fleet_dir")]
    pub fleet_listen: Option<std::net::SocketAddr>,
    /// Milliseconds between health probes of each peer; a peer is down after two failures.
    #[arg(long, default_value_t = 500)]
    pub fleet_probe_interval_ms: u64,
    /// Follow a control plane instead of holding the store of record: its admin API address
    /// (`http://HOST:PORT`); repeat for replicas, tried in turn. The last revision received is
    /// kept in the data directory and served at start when no control plane answers.
    #[arg(long = "control-plane", conflicts_with = "config")]
    pub control_plane: Vec<String>,
    /// The control plane's API token (or EGRESSD_CONTROL_PLANE_TOKEN).
    #[arg(long, env = "EGRESSD_CONTROL_PLANE_TOKEN", hide_env_values = true)]
    pub control_plane_token: Option<String>,
    /// Serve the admin API (and the configuration to subscribed nodes) only: open no proxy
    /// listener and join no fleet. For control-plane replicas.
    #[arg(long, conflicts_with_all = ["fleet_dir", "no_admin"])]
    pub api_only: bool,
    /// A MaxMind DB file for `GET /v1/geo/check` and the `egressd_geo_mismatches` gauge
    /// (repeatable).
    #[arg(long = "geo-mmdb")]
    pub geo_mmdb: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct WhoamiArgs {
    /// Address to listen on (repeatable; IPv4 and IPv6).
    #[arg(long = "listen", required = true)]
    pub listen: Vec<std::net::SocketAddr>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Proxy URL: http://[user:pass@]host:port or socks5://[user:pass@]host:port.
    #[arg(long)]
    pub proxy: String,
    /// whoami URL to fetch through the proxy (repeatable), e.g. http://198.51.100.80:8081/.
    #[arg(long = "whoami", required = true)]
    pub whoami: Vec<String>,
    /// Address expected to be seen (repeatable; a URL passes when it sees any expected
    /// address of its family).
    #[arg(long = "expect")]
    pub expect: Vec<IpAddr>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file; prints every problem and exits 1 if there is any.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Store a file as the next revision (the API then manages the configuration).
    Import {
        /// The TOML file.
        file: PathBuf,
        /// Store directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print a revision (default: the latest) as TOML.
    Export {
        /// Revision number.
        #[arg(long)]
        revision: Option<u64>,
        /// Store directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub intent: IntentArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One connection to decide, as `trace` and `explain` take it.
#[derive(Debug, clap::Args)]
pub struct IntentArgs {
    /// Account id.
    #[arg(long)]
    pub account: String,
    /// User name (omit for a source-prefix-authorised client).
    #[arg(long)]
    pub user: Option<String>,
    /// Client source address, optionally with port (10.0.0.5 or 10.0.0.5:50000).
    #[arg(long)]
    pub from: String,
    /// Destination HOST:PORT, IPV4:PORT or [IPV6]:PORT.
    #[arg(long)]
    pub to: String,
    /// Address a host name resolved to (to evaluate `net.dst.ip`).
    #[arg(long)]
    pub resolved: Option<IpAddr>,
    /// Transport.
    #[arg(long, value_enum, default_value = "tcp")]
    pub proto: Proto,
    /// Location the client connected to (default: the first location).
    #[arg(long)]
    pub location: Option<String>,
    /// Proxy endpoint the client used.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Client address inside its own network (`net.src.internal_src_ip`).
    #[arg(long)]
    pub internal_src_ip: Option<IpAddr>,
    /// Destination country, ISO 3166-1 alpha-2 (`net.dst.geo.country`).
    #[arg(long)]
    pub dst_country: Option<String>,
    /// Destination continent code (`net.dst.geo.continent`).
    #[arg(long)]
    pub dst_continent: Option<String>,
    /// Client country (`net.src.geo.country`).
    #[arg(long)]
    pub src_country: Option<String>,
    /// Client continent (`net.src.geo.continent`).
    #[arg(long)]
    pub src_continent: Option<String>,
    /// Locations to treat as down (repeatable), to see failover.
    #[arg(long = "down")]
    pub down: Vec<String>,
}
