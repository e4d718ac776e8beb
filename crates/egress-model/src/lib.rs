//! The typed configuration of an egressd deployment and its validation.
//!
//! A [`Config`] is what an operator writes (TOML) or what the control plane stores. It is
//! checked by [`Config::validate`], which returns every problem at once, each naming the item it
//! concerns and the rule it breaks. Nothing here performs I/O except [`Config::load`].

mod addr;
mod config;
mod load;
mod validate;

pub use addr::{AccountId, ClientAddr, EgressAddr, LocationCode, TargetAddr, TargetHost};
pub use config::{
    Account, AddressPool, Authorization, Config, DedicatedIp, DefaultEgress, Deployment,
    EgressMethod, EndpointTls, IpSource, IpStatus, Location, Node, OnNetDestination, Policy,
    PrivateNetwork, ProxyEndpoint, ProxyProtocol, TrafficSettings, User,
    DEFAULT_MAX_CONNECTIONS_PER_DESTINATION,
};
pub use load::{ConfigError, ParseError};
pub use validate::{Rule, ValidationError};
