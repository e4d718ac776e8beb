//! The admin REST API of egressd: configuration resources under `/v1`, explain, live views of
//! the node, health, metrics, the OpenAPI 3.1 document, and the web dashboard under
//! `/dashboard/`.
//!
//! [`router`] serves it over a [`ConfigStore`](egress_store::ConfigStore) (where revisions live)
//! and a [`Node`] (the running process: apply, snapshot, live views). Every write goes through
//! one path: serialise, check `If-Match`, change a clone of the latest document, validate it
//! whole, commit it as the next revision, apply it to the node. Reads and writes carry the
//! revision's `ETag`. Callers present bearer tokens from the store; their scope (operator or
//! one account, read or write) decides what they reach.

mod auth;
mod dashboard;
mod error;
mod extract;
mod node;
mod openapi;
mod resources;
mod router;
mod state;
mod write;

pub use error::{ApiError, ErrorBody, ErrorCode, Problem};
pub use node::{
    EgressSeries, FleetPeerView, LogFilter, Mode, Node, NodeStatus, PortUsageView,
    TrafficHistoryView, TrafficSample,
};
pub use openapi::document as openapi_document;
pub use router::{router, served_routes};
