//! The immutable, compiled form of a configuration that [`crate::decide`] reads.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use egress_expr::Matcher;
use egress_model::{Config, EgressMethod, LocationCode, TrafficSettings, ValidationError};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rustc_hash::FxHashMap;

use crate::index::PolicyIndex;

pub(crate) type LocationIdx = usize;

/// A location as the core needs it.
#[derive(Debug)]
pub(crate) struct LocationInfo {
    pub code: LocationCode,
    pub latitude: f64,
    pub longitude: f64,
    pub ipv6_slice: u16,
    pub default_v4: Ipv4Net,
    pub default_v6: Option<Ipv6Net>,
}

#[derive(Debug)]
pub(crate) struct UserInfo {
    pub name: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct DedicatedInfo {
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Net,
    pub location: LocationIdx,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FallbackTarget {
    /// `0.0.0.0`: default range at the closest healthy location.
    Closest,
    /// Index into the account's dedicated IPs.
    Dedicated(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum MethodPlan {
    Default,
    Dedicated {
        primary: usize,
        ipv6: Ipv6Net,
        ipv6_location: LocationIdx,
        fallback: FallbackTarget,
    },
}

#[derive(Debug)]
pub(crate) struct PolicyInfo {
    /// Shared with every plan this policy decides (no copy per connection).
    pub id: std::sync::Arc<str>,
    pub name: std::sync::Arc<str>,
    pub precedence: u32,
    pub enabled: bool,
    pub traffic_text: String,
    pub identity_text: String,
    pub traffic: Matcher,
    pub identity: Matcher,
    pub method: MethodPlan,
}

#[derive(Debug)]
pub(crate) struct AccountInfo {
    pub traffic: TrafficSettings,
    pub users: FxHashMap<String, UserInfo>,
    pub dedicated: Vec<DedicatedInfo>,
    /// Sorted by precedence.
    pub policies: Vec<PolicyInfo>,
    pub index: PolicyIndex,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub revision: u64,
    pub locations: Vec<LocationInfo>,
    pub location_by_code: FxHashMap<Arc<str>, LocationIdx>,
    pub accounts: FxHashMap<String, AccountInfo>,
    pub on_net_prefixes: Vec<IpNet>,
    pub on_net_hosts: Vec<String>,
    pub private_networks: Vec<IpNet>,
    pub allow_destinations: Vec<IpNet>,
    pub max_connections_per_destination: u32,
    pub max_sessions_per_user: u32,
    pub max_sessions_per_account: u32,
}

/// Which locations have at least one healthy node. Locations are healthy until told otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationHealth {
    down: Vec<String>,
}

impl LocationHealth {
    /// Every location healthy.
    pub fn all_up() -> Self {
        LocationHealth::default()
    }

    /// Marks a location down (no healthy node).
    pub fn down(mut self, code: &str) -> Self {
        self.down.push(code.to_string());
        self
    }

    /// Marks a location up again.
    pub fn up(mut self, code: &str) -> Self {
        self.down.retain(|d| d != code);
        self
    }

    /// Whether a location is marked down.
    pub fn is_down(&self, code: &str) -> bool {
        self.down.iter().any(|d| d == code)
    }
}

/// An immutable, compiled configuration plus fleet health: everything `decide` reads.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) compiled: Arc<Compiled>,
    /// `healthy[i]` for location index `i`.
    pub(crate) healthy: Arc<[bool]>,
}

/// Why a configuration could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Validation failed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ValidationError>),
}

impl Snapshot {
    /// Validates and compiles a configuration; `origin` names it in errors.
    pub fn compile(config: &Config, origin: &str, revision: u64) -> Result<Snapshot, CompileError> {
        let errors = config.validate(origin);
        if !errors.is_empty() {
            return Err(CompileError::Invalid(errors));
        }
        let compiled = compile_valid(config, revision);
        let healthy = vec![true; compiled.locations.len()].into();
        Ok(Snapshot {
            compiled: Arc::new(compiled),
            healthy,
        })
    }

    /// The same configuration with another health view (cheap: shares the compiled part).
    pub fn with_health(&self, health: &LocationHealth) -> Snapshot {
        let healthy = self
            .compiled
            .locations
            .iter()
            .map(|l| !health.is_down(l.code.as_str()));
        Snapshot {
            compiled: Arc::clone(&self.compiled),
            healthy: healthy.collect(),
        }
    }

    /// The codes of every location, in configuration order.
    pub fn location_codes(&self) -> impl Iterator<Item = &str> {
        self.compiled.locations.iter().map(|l| l.code.as_str())
    }

    /// Revision of the configuration this snapshot was compiled from.
    pub fn revision(&self) -> u64 {
        self.compiled.revision
    }

    /// Whether a location is known and healthy.
    pub fn is_healthy(&self, code: &str) -> bool {
        self.compiled
            .location_by_code
            .get(code)
            .is_some_and(|&i| self.healthy[i])
    }

    /// Port budget per egress address and destination.
    pub fn max_connections_per_destination(&self) -> u32 {
        self.compiled.max_connections_per_destination
    }

    /// Whether `deployment.allow_destinations` lets the gateway reach this address although
    /// the safety rules would refuse it.
    pub fn is_allowed_destination(&self, ip: IpAddr) -> bool {
        self.compiled.is_allowed_destination(ip)
    }

    /// Concurrent sessions per user and per account on a node.
    pub fn max_sessions(&self) -> (u32, u32) {
        (
            self.compiled.max_sessions_per_user,
            self.compiled.max_sessions_per_account,
        )
    }

    /// The location a code names, for the edges (`None` when unknown).
    pub fn has_location(&self, code: &str) -> bool {
        self.compiled.location_by_code.contains_key(code)
    }

    pub(crate) fn location(&self, idx: LocationIdx) -> &LocationInfo {
        &self.compiled.locations[idx]
    }
}

fn compile_valid(config: &Config, revision: u64) -> Compiled {
    let locations: Vec<LocationInfo> = config
        .locations
        .iter()
        .map(|l| LocationInfo {
            code: l.code.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
            ipv6_slice: l.ipv6_slice,
            default_v4: l.default_egress.ipv4,
            default_v6: l.default_egress.ipv6,
        })
        .collect();
    let location_by_code: FxHashMap<Arc<str>, LocationIdx> = locations
        .iter()
        .enumerate()
        .map(|(i, l)| (l.code.0.clone(), i))
        .collect();
    let loc = |code: &LocationCode| -> LocationIdx {
        *location_by_code
            .get(code.as_str())
            .expect("validation checked every location code")
    };
    let mut accounts = FxHashMap::default();
    for account in &config.accounts {
        let dedicated: Vec<DedicatedInfo> = account
            .dedicated_ips
            .iter()
            .map(|d| DedicatedInfo {
                ipv4: d.ipv4,
                ipv6: d.ipv6,
                location: loc(&d.location),
            })
            .collect();
        let find_v4 = |ip: Ipv4Addr| {
            dedicated
                .iter()
                .position(|d| d.ipv4 == ip)
                .expect("validation checked ownership")
        };
        let mut policies: Vec<PolicyInfo> = account
            .policies
            .iter()
            .map(|p| {
                let method = match &p.method {
                    EgressMethod::Default => MethodPlan::Default,
                    EgressMethod::Dedicated {
                        ipv4,
                        ipv6,
                        ipv4_fallback,
                    } => {
                        let primary = find_v4(*ipv4);
                        let ipv6 = ipv6.unwrap_or(dedicated[primary].ipv6);
                        let ipv6_location = dedicated
                            .iter()
                            .find(|d| d.ipv6 == ipv6)
                            .expect("validation checked the /64 is the account's")
                            .location;
                        let fallback = match ipv4_fallback {
                            Some(f) if !f.is_unspecified() => {
                                FallbackTarget::Dedicated(find_v4(*f))
                            }
                            _ => FallbackTarget::Closest,
                        };
                        MethodPlan::Dedicated {
                            primary,
                            ipv6,
                            ipv6_location,
                            fallback,
                        }
                    }
                };
                PolicyInfo {
                    id: p.policy_id().into(),
                    name: p.name.as_str().into(),
                    precedence: p.precedence,
                    enabled: p.enabled,
                    traffic_text: p.traffic.clone(),
                    identity_text: p.identity.clone(),
                    traffic: egress_expr::compile(&p.traffic).expect("validation parsed it"),
                    identity: egress_expr::compile(&p.identity).expect("validation parsed it"),
                    method,
                }
            })
            .collect();
        policies.sort_by_key(|p| p.precedence);
        let index = PolicyIndex::build(policies.iter().map(|p| {
            let hints = egress_expr::parse(&p.traffic_text)
                .expect("validation parsed it")
                .index_hints();
            (p.enabled, hints)
        }));
        let users = account
            .users
            .iter()
            .map(|u| {
                let info = UserInfo {
                    name: u.name.clone(),
                    email: u.email.as_ref().map(|e| e.to_lowercase()),
                    groups: u.groups.clone(),
                };
                (u.name.clone(), info)
            })
            .collect();
        accounts.insert(
            account.id.0.clone(),
            AccountInfo {
                traffic: account.traffic.clone(),
                users,
                dedicated,
                policies,
                index,
            },
        );
    }
    Compiled {
        revision,
        locations,
        location_by_code,
        accounts,
        on_net_prefixes: config
            .on_net
            .iter()
            .flat_map(|o| o.prefixes.iter().copied())
            .collect(),
        on_net_hosts: config
            .on_net
            .iter()
            .flat_map(|o| {
                o.hosts
                    .iter()
                    .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            })
            .collect(),
        private_networks: config
            .private_networks
            .iter()
            .flat_map(|p| p.prefixes.iter().copied())
            .collect(),
        allow_destinations: config.deployment.allow_destinations.clone(),
        max_connections_per_destination: config.deployment.max_connections_per_destination,
        max_sessions_per_user: config.deployment.max_sessions_per_user,
        max_sessions_per_account: config.deployment.max_sessions_per_account,
    }
}

impl Compiled {
    pub(crate) fn is_private_network(&self, ip: IpAddr) -> bool {
        self.private_networks.iter().any(|n| n.contains(&ip))
    }

    pub(crate) fn is_on_net(&self, ip: Option<IpAddr>, host: Option<&str>) -> bool {
        ip.is_some_and(|ip| self.on_net_prefixes.iter().any(|n| n.contains(&ip)))
            || host.is_some_and(|h| self.on_net_hosts.iter().any(|d| is_same_or_subdomain(h, d)))
    }

    pub(crate) fn is_allowed_destination(&self, ip: IpAddr) -> bool {
        self.allow_destinations.iter().any(|n| n.contains(&ip))
    }
}

fn is_same_or_subdomain(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}
