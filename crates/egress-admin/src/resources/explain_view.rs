//! The explanation as the API documents it: the same JSON as `egressd trace --json`, in types
//! that carry an OpenAPI schema.
//!
//! egress-policy's types have no schema, so [`ExplanationView::from_explanation`] reads the
//! explanation's own JSON into these types, which refuse unknown and missing fields: if the core
//! changes shape, explain fails loudly (and its tests with it) instead of drifting from the
//! document.

use egress_policy::Explanation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// A plan (or refusal) with every policy considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplanationView {
    /// The decision: `{"Ok": plan}` or `{"Err": refusal}`.
    pub plan: PlanOutcome,
    /// Policies in precedence order (empty when the decision came before policies).
    pub policies: Vec<PolicyStepView>,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum PlanOutcome {
    /// How the connection leaves.
    Ok(Box<PlanView>),
    /// Why it is refused.
    Err(RefusalView),
}

/// Why a connection is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalView {
    /// The close reason.
    pub code: RefusalCode,
}

/// Close reasons of a refused intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// Not an account of this deployment.
    UnknownAccount,
    /// The user is not in the account.
    UnknownUser,
    /// Unknown ingress location.
    UnknownLocation,
    /// TCP is off for the account.
    TcpDisabled,
    /// UDP is off for the account.
    UdpDisabled,
    /// Loopback, private or otherwise forbidden destination.
    ForbiddenDestination,
    /// The chosen location has no source for this address family.
    NoSourceForFamily,
}

/// The decision for one intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanView {
    /// Why.
    pub reason: PlanReason,
    /// The policy that decided, if one did.
    pub policy: Option<MatchedPolicyView>,
    /// Dedicated or default.
    pub method: EgressKindView,
    /// Where the client connected.
    pub ingress_location: String,
    /// Route for an IPv4 destination.
    pub ipv4: Option<RouteView>,
    /// Route for an IPv6 destination.
    pub ipv6: Option<RouteView>,
    /// Port budget per egress address and destination.
    pub max_connections_per_destination: u32,
}

/// Why the plan is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanReason {
    /// A policy matched.
    PolicyMatched,
    /// No policy matched: the closest dedicated location.
    ClosestDedicated,
    /// No policy matched and the account has no dedicated IP.
    NoDedicatedIps,
    /// The account's proxy setting is off.
    ProxyOff,
    /// A destination in a private network.
    PrivateNetwork,
    /// ICMP never uses a dedicated IP.
    Icmp,
    /// The gateway's own DNS.
    GatewayDns,
}

/// The policy that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchedPolicyView {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Precedence.
    pub precedence: u32,
}

/// Dedicated or shared source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EgressKindView {
    /// The location's shared default range.
    Default,
    /// A dedicated egress IP.
    Dedicated,
}

/// How one address family leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteView {
    /// Source address to bind.
    pub source: String,
    /// Dedicated or default.
    pub kind: EgressKindView,
    /// Where the packets physically leave.
    pub egress_location: String,
    /// Where the source address geolocates.
    pub egress_ip_location: String,
    /// The node forwards to `egress_location`.
    pub forwarded: bool,
    /// On-net destination: the dedicated IPv4 in the PROXY v2 header.
    pub proxy_protocol_source: Option<String>,
    /// Fallback taken.
    pub fallback: FallbackView,
}

/// Which fallback the route took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackView {
    /// The primary choice.
    None,
    /// The policy's `ipv4_fallback`.
    Ipv4Fallback,
    /// The default range at the closest healthy location.
    DefaultRange,
}

/// One policy considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyStepView {
    /// Precedence.
    pub precedence: u32,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Traffic expression as written.
    pub traffic: String,
    /// Identity expression as written.
    pub identity: String,
    /// What happened to it.
    pub outcome: PolicyOutcomeView,
}

/// What happened to one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOutcomeView {
    /// Disabled, skipped.
    Disabled,
    /// Its traffic expression did not match.
    TrafficDidNotMatch,
    /// Its traffic expression matched, its identity expression did not.
    IdentityDidNotMatch,
    /// It matched and decided.
    Matched,
    /// An earlier policy decided.
    NotReached,
}

impl ExplanationView {
    /// The explanation's own JSON, read into the documented types.
    pub(crate) fn from_explanation(explanation: &Explanation) -> Result<ExplanationView, ApiError> {
        serde_json::to_value(explanation)
            .and_then(serde_json::from_value)
            .map_err(|e| {
                ApiError::internal(format!(
                    "the explanation no longer has the documented shape: {e}"
                ))
            })
    }
}
