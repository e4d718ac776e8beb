//! The explanation of a decision: every policy in precedence order and what became of it. This
//! is the slow path behind `egressd trace` and the API's explain endpoint; it must agree with
//! [`crate::decide`], which a test checks.

use std::fmt;

use serde::Serialize;

use crate::decide::Context;
use crate::plan::{Intent, Plan, Reason, Refusal, Route};
use crate::snapshot::Snapshot;

/// What happened to one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOutcome {
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

/// One policy considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStep {
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
    /// What happened.
    pub outcome: PolicyOutcome,
}

/// A plan (or refusal) with every policy considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The decision.
    pub plan: Result<Plan, Refusal>,
    /// Policies in precedence order (empty when the decision came before policies).
    pub policies: Vec<PolicyStep>,
}

/// Decides like [`crate::decide`] but evaluates every policy and records why each did or did
/// not match.
pub fn explain(intent: &Intent<'_>, snapshot: &Snapshot) -> Explanation {
    let ctx = match Context::new(intent, snapshot) {
        Ok(ctx) => ctx,
        Err(refusal) => {
            return Explanation {
                plan: Err(refusal),
                policies: Vec::new(),
            }
        }
    };
    match ctx.always_default() {
        Err(refusal) => {
            return Explanation {
                plan: Err(refusal),
                policies: Vec::new(),
            }
        }
        Ok(Some(plan)) => {
            return Explanation {
                plan: Ok(plan),
                policies: Vec::new(),
            }
        }
        Ok(None) => {}
    }
    let subject = ctx.subject();
    let mut matched = None;
    let policies = ctx
        .account
        .policies
        .iter()
        .enumerate()
        .map(|(pos, p)| {
            let outcome = if matched.is_some() {
                PolicyOutcome::NotReached
            } else if !p.enabled {
                PolicyOutcome::Disabled
            } else if !p.traffic.matches(&subject) {
                PolicyOutcome::TrafficDidNotMatch
            } else if !p.identity.matches(&subject) {
                PolicyOutcome::IdentityDidNotMatch
            } else {
                matched = Some(pos);
                PolicyOutcome::Matched
            };
            PolicyStep {
                precedence: p.precedence,
                id: p.id.to_string(),
                name: p.name.to_string(),
                traffic: p.traffic_text.clone(),
                identity: p.identity_text.clone(),
                outcome,
            }
        })
        .collect();
    Explanation {
        plan: Ok(ctx.plan_for(matched)),
        policies,
    }
}

impl fmt::Display for PolicyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyOutcome::Disabled => "disabled",
            PolicyOutcome::TrafficDidNotMatch => "traffic expression did not match",
            PolicyOutcome::IdentityDidNotMatch => "identity expression did not match",
            PolicyOutcome::Matched => "MATCHED",
            PolicyOutcome::NotReached => "not reached",
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::PolicyMatched => "a policy matched",
            Reason::ClosestDedicated => {
                "no policy matched: dedicated IP at the location closest to the user"
            }
            Reason::NoDedicatedIps => "no policy matched and the account has no dedicated IP",
            Reason::ProxyOff => "the account's proxy setting is off: default egress",
            Reason::PrivateNetwork => "destination is in a private network: default egress",
            Reason::Icmp => "ICMP never uses a dedicated IP: default egress",
            Reason::GatewayDns => "the gateway's own DNS: default egress",
        })
    }
}

fn write_route(f: &mut fmt::Formatter<'_>, family: &str, route: &Route) -> fmt::Result {
    write!(
        f,
        "  {family}: source {} ({:?}), egress_location {}, egress_ip_location {}",
        route.source, route.kind, route.egress_location, route.egress_ip_location
    )?;
    if route.forwarded {
        write!(f, ", forwarded to {}", route.egress_location)?;
    }
    if let Some(pp) = route.proxy_protocol_source {
        write!(f, ", on-net: PROXY v2 source {pp}")?;
    }
    writeln!(f, ", fallback {:?}", route.fallback)
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.policies.is_empty() {
            writeln!(f, "policies:")?;
            for p in &self.policies {
                writeln!(f, "  [{}] {:?}: {}", p.precedence, p.name, p.outcome)?;
            }
        }
        match &self.plan {
            Err(refusal) => writeln!(f, "refused: {refusal}"),
            Ok(plan) => {
                writeln!(f, "decision: {}", plan.reason)?;
                if let Some(p) = &plan.policy {
                    writeln!(
                        f,
                        "  policy: {:?} (id {}, precedence {})",
                        p.name, p.id, p.precedence
                    )?;
                }
                writeln!(
                    f,
                    "  method: {:?}, ingress_location {}",
                    plan.method, plan.ingress_location
                )?;
                if let Some(r) = &plan.ipv4 {
                    write_route(f, "ipv4", r)?;
                }
                if let Some(r) = &plan.ipv6 {
                    write_route(f, "ipv6", r)?;
                }
                Ok(())
            }
        }
    }
}
