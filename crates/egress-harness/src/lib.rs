//! Network-namespace labs for egressd's end-to-end tests.
//!
//! A [`Lab`] creates network namespaces (`ip netns`), joins them with veth pairs and deletes
//! them when it drops — at the end of a test or while a panic unwinds — after killing whatever
//! still runs inside. Tests then observe the source address a destination really sees, and
//! which location's uplink carried it. It needs root and iproute2's `ip`; without them
//! [`Lab::new`] fails with a message saying so (tests fail, they do not skip).
//!
//! # The usual topology
//!
//! [`Lab::topology`] builds one client, one gateway per location and an "internet". Each
//! gateway owns egress prefixes (dedicated IPv4 /32s, IPv6 /64s or their per-location slices,
//! default ranges): they are local (AnyIP) inside the gateway, and the internet routes them back
//! to that gateway, so a reply reaches the location that sent it. [`Lab::internet`] is the
//! one-gateway case.
//!
//! ```text
//!                 10.n.0.0/24                       10.200.n.0/24
//!                 fd00:c:n::/64                     fd00:e:n::/64
//!  +--------+ .2              .1 +-----------+ .1              .2 +------------+
//!  | client |--------------------| gateway n |--------------------|  internet  |
//!  +--------+  to-<gw>  to-client+-----------+ to-internet  to-<gw>+------------+
//!   no default route              local routes on lo:              lo: 198.51.100.80/32
//!   (reaches gateways only)         each egress prefix                 2001:db8:ffff::80/128
//!                                 default via the internet         each egress prefix
//!                                                                    via gateway n's uplink
//!                                                                  forwarding on (gateway
//!                                                                    to gateway traffic)
//! ```
//!
//! Gateway `n` (1 for the first) listens for clients on `10.n.0.1` / `fd00:c:n::1`; clients come
//! from `10.n.0.2` / `fd00:c:n::2`. Origins (see [`Origin`]) run in the internet on
//! [`ORIGIN_V4`] and [`ORIGIN_V6`]. Only private and documentation ranges are used, and they
//! never leave the lab's namespaces.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use egress_harness::{ask_whoami, Lab, Origin, ORIGIN_V4};
//!
//! let mut lab = Lab::new("origin_sees_dedicated_ipv4").expect("lab");
//! let net = lab.internet(&["203.0.113.10/32"]).expect("topology");
//! let origin = Origin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 80)).expect("origin");
//! let gateway = &net.gateways[0].ns;
//! let mut stream = gateway
//!     .connect_tcp(Some("203.0.113.10".parse().expect("address")), origin.addr())
//!     .expect("connect");
//! assert_eq!(ask_whoami(&mut stream).expect("answer").to_string(), "203.0.113.10");
//! ```
//!
//! # The backbone
//!
//! With two or more gateways, [`Lab::topology`] also builds a `backbone` router namespace with
//! one link per gateway, apart from the internet uplinks: gateway `n` is `10.201.n.1/24` on it
//! ([`Gateway::backbone_v4`]), the router `10.201.n.2`, and each gateway routes `10.201.0.0/16`
//! there. [`Gateway::uplink_bytes`] and [`Gateway::backbone_bytes`] read each link's byte
//! counters, so a test can tell which one carried a transfer (a [`BulkOrigin`] sends a known
//! volume); [`Topology::partition`] silently drops backbone traffic between two gateways until
//! [`Topology::heal`]. A [`ProxyV2Origin`] plays an on-net destination that trusts a PROXY v2
//! header.
//!
//! # HTTP/3
//!
//! An [`H3Origin`] answers HTTP/3 requests with the address its QUIC connection came from. A
//! test reaches it with [`h3_get`] over a quinn endpoint from [`quic_client_endpoint`], whose
//! datagrams travel through a [`DatagramCarrier`]: a [`Socks5UdpCarrier`] sends them through a
//! SOCKS5 UDP association, a [`ConnectUdpCarrier`] through a MASQUE CONNECT-UDP request to a
//! [`MasqueProxy`] (HTTP/3 inside HTTP/3), so the origin sees the gateway's egress address.
//!
//! # Names and cleanup
//!
//! Namespaces are named `egh<pid>-<serial>-<role>`. Veth ends are
//! created inside their namespaces and named after the peer (`to-gateway`), so nothing appears
//! in the host's namespace. A run killed before its labs dropped leaves namespaces whose pid is
//! dead; [`Lab::sweep_stale`] deletes those, and every [`Lab::new`] calls it.

mod acceptor;
mod backbone;
mod bulk_origin;
mod connect_udp_carrier;
mod error;
mod h3_client;
mod h3_origin;
mod lab;
mod link_bytes;
mod naming;
mod netns;
mod origin;
mod process;
mod proxy_origin;
mod quic_carrier;
mod resume;
mod socks5_udp_carrier;
mod topology;
mod udp_origin;

pub mod pg_cluster;

pub use backbone::BackboneLink;
pub use bulk_origin::{fetch_bulk, BulkOrigin};
pub use connect_udp_carrier::{
    ConnectUdpCarrier, MasqueProxy, SelfSignedCertificate, TunnelCloser,
};
pub use error::{H3Stage, HarnessError};
pub use h3_client::{h3_get, H3_STAGE_DEADLINE};
pub use h3_origin::{H3Origin, H3_ORIGIN_NAME};
pub use lab::{Lab, Veth};
pub use link_bytes::LinkBytes;
pub use naming::NAME_FAMILY;
pub use netns::Netns;
pub use origin::{ask_whoami, Origin};
pub use proxy_origin::{ProxyV2Origin, ProxyV2Seen};
pub use quic_carrier::{quic_client_endpoint, DatagramCarrier, Writable};
pub use resume::{read_resuming, recv_from_resuming};
pub use socks5_udp_carrier::Socks5UdpCarrier;
pub use topology::{Gateway, Topology, TopologySpec, ORIGIN_V4, ORIGIN_V6};
pub use udp_origin::UdpOrigin;
