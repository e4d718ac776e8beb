//! The egress data path: connect (or bind a UDP socket) from a chosen source address, account for the port budget of
//! each (source, destination) pair, and relay bytes while counting them.

mod dial;
mod ledger;
pub mod proxy_v2;
mod relay;
mod splice;
mod udp;
mod upstream;

pub use dial::{dial, DialError};
pub use ledger::{LedgerError, PortLedger, PortSlot, PortUsage};
pub use relay::{relay, Relay, RelayOutcome};
pub use udp::bind_udp;
pub use upstream::{relay_streams, relay_upstream, ByteStream, Upstream, UpstreamRelay};
