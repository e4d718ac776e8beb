//! The decision core of egressd.
//!
//! [`Snapshot::compile`] turns a validated [`egress_model::Config`] into an immutable snapshot:
//! expressions become matchers, policies are indexed by destination, addresses are resolved to
//! locations. [`decide`] maps an [`Intent`] and a snapshot to a [`Plan`]. It is pure: no I/O, no
//! clock, no randomness. Fleet health enters through [`Snapshot::with_health`].

mod decide;
mod explain;
mod index;
mod placement;
mod plan;
mod snapshot;

pub use decide::{decide, decide_gateway_dns, is_forbidden_destination};
pub use explain::{explain, Explanation, PolicyOutcome, PolicyStep};
pub use placement::{
    great_circle_km, ipv4_in_range, ipv6_in_range, ipv6_in_slice, ipv6_slice_net, rendezvous_pick,
    stable_hash,
};
pub use plan::{
    EgressKind, FallbackUsed, Geo, Intent, MatchedPolicy, Plan, Reason, Refusal, Route, Transport,
};
pub use snapshot::{CompileError, LocationHealth, Snapshot};
