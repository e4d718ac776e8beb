//! `decide`: intent × snapshot → plan. Pure: no I/O, no clock, no randomness.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use egress_expr::Subject;
use egress_model::{EgressAddr, LocationCode, TargetHost};

use crate::placement::{
    great_circle_km, ipv4_in_range, ipv6_in_range, ipv6_in_slice, rendezvous_pick,
};
use crate::plan::{
    EgressKind, FallbackUsed, Intent, MatchedPolicy, Plan, Reason, Refusal, Route, Transport,
};
use crate::snapshot::{
    AccountInfo, FallbackTarget, LocationIdx, MethodPlan, PolicyInfo, Snapshot, UserInfo,
};

/// Two locations closer than this to each other's distance count as equally close.
const TIE_KM: f64 = 1.0;

/// Decides how the connection described by `intent` leaves.
pub fn decide(intent: &Intent<'_>, snapshot: &Snapshot) -> Result<Plan, Refusal> {
    let ctx = Context::new(intent, snapshot)?;
    if let Some(plan) = ctx.always_default()? {
        return Ok(plan);
    }
    let subject = ctx.subject();
    let matched = ctx
        .account
        .index
        .first_match(ctx.dst_ip, intent.target.port, |pos| {
            policy_matches(&ctx.account.policies[pos], &subject)
        });
    Ok(ctx.plan_for(matched))
}

/// The plan for a DNS query the gateway makes for its own use: always the default range of
/// the location making it (DESIGN rule 9).
pub fn decide_gateway_dns(snapshot: &Snapshot, location: &str) -> Result<Plan, Refusal> {
    let c = &snapshot.compiled;
    let ingress = *c
        .location_by_code
        .get(location)
        .ok_or(Refusal::UnknownLocation)?;
    let key: [&[u8]; 1] = [b"gateway-dns"];
    Ok(Plan {
        reason: Reason::GatewayDns,
        policy: None,
        method: EgressKind::Default,
        ingress_location: snapshot.location(ingress).code.clone(),
        ipv4: Some(default_route(
            snapshot,
            ingress,
            ingress,
            &key,
            FallbackUsed::None,
        )),
        ipv6: default_route_v6(snapshot, ingress, ingress, &key, FallbackUsed::None),
        max_connections_per_destination: c.max_connections_per_destination,
    })
}

pub(crate) fn policy_matches(policy: &PolicyInfo, subject: &Subject<'_>) -> bool {
    policy.enabled && policy.traffic.matches(subject) && policy.identity.matches(subject)
}

/// Everything about an intent that does not depend on which policy matched.
pub(crate) struct Context<'a> {
    pub intent: &'a Intent<'a>,
    pub snapshot: &'a Snapshot,
    pub account: &'a AccountInfo,
    pub user: Option<&'a UserInfo>,
    pub ingress: LocationIdx,
    /// The destination with IPv4-mapped IPv6 addresses read as IPv4, so that no rule can be
    /// bypassed by writing an IPv4 destination in mapped form.
    pub dst_ip: Option<IpAddr>,
    client_ip: [u8; 16],
}

impl<'a> Context<'a> {
    pub(crate) fn new(intent: &'a Intent<'a>, snapshot: &'a Snapshot) -> Result<Self, Refusal> {
        let c = &snapshot.compiled;
        let account = c
            .accounts
            .get(intent.account)
            .ok_or(Refusal::UnknownAccount)?;
        let ingress = *c
            .location_by_code
            .get(intent.location)
            .ok_or(Refusal::UnknownLocation)?;
        let user = match intent.user {
            Some(name) => Some(account.users.get(name).ok_or(Refusal::UnknownUser)?),
            None => None,
        };
        let client_ip = match intent.client.0.ip() {
            IpAddr::V4(ip) => ip.to_ipv6_mapped().octets(),
            IpAddr::V6(ip) => ip.octets(),
        };
        Ok(Context {
            intent,
            snapshot,
            account,
            user,
            ingress,
            dst_ip: intent.dst_ip.map(|ip| ip.to_canonical()),
            client_ip,
        })
    }

    /// Key that places a user: the user's name, or the client address when there is no user.
    fn user_key(&self) -> [&[u8]; 2] {
        match self.user {
            Some(u) => [self.intent.account.as_bytes(), u.name.as_bytes()],
            None => [self.intent.account.as_bytes(), &self.client_ip],
        }
    }

    /// Refusals and the traffic that never uses a dedicated IP (rules 9 and 10).
    pub(crate) fn always_default(&self) -> Result<Option<Plan>, Refusal> {
        let settings = &self.account.traffic;
        match self.intent.transport {
            Transport::Tcp if !settings.tcp => return Err(Refusal::TcpDisabled),
            Transport::Udp if !settings.udp => return Err(Refusal::UdpDisabled),
            _ => {}
        }
        let c = &self.snapshot.compiled;
        let private = self.dst_ip.is_some_and(|ip| c.is_private_network(ip));
        if let Some(ip) = self.dst_ip {
            if !private && !c.is_allowed_destination(ip) && is_forbidden_destination(ip) {
                return Err(Refusal::ForbiddenDestination);
            }
        }
        let reason = if self.intent.transport == Transport::Icmp {
            Reason::Icmp
        } else if private {
            Reason::PrivateNetwork
        } else if !settings.proxy {
            Reason::ProxyOff
        } else {
            return Ok(None);
        };
        Ok(Some(self.default_plan(
            reason,
            None,
            self.ingress,
            FallbackUsed::None,
        )))
    }

    pub(crate) fn subject(&self) -> Subject<'a> {
        let i = self.intent;
        let host = match &i.target.host {
            TargetHost::Name(name) if self.account.traffic.host_selectors => Some(name.as_str()),
            _ => None,
        };
        Subject {
            src_ip: Some(i.client.0.ip()),
            src_port: Some(i.client.0.port()),
            internal_src_ip: i.internal_src_ip,
            dst_ip: self.dst_ip,
            dst_port: Some(i.target.port),
            protocol: Some(i.transport.as_str()),
            fqdn_host: host,
            proxy_endpoint: i.proxy_endpoint,
            dst_geo_country: i.dst_geo.country,
            dst_geo_continent: i.dst_geo.continent,
            src_geo_country: i.src_geo.country,
            src_geo_continent: i.src_geo.continent,
            identity_email: self.user.and_then(|u| u.email.as_deref()),
            identity_name: self.user.map(|u| u.name.as_str()),
            identity_groups: self.user.map(|u| u.groups.as_slice()).unwrap_or(&[]),
        }
    }

    /// The plan once the matching policy (by position) is known.
    pub(crate) fn plan_for(&self, matched: Option<usize>) -> Plan {
        let Some(pos) = matched else {
            return self.closest_dedicated();
        };
        let policy = &self.account.policies[pos];
        let matched = Some(MatchedPolicy {
            id: policy.id.clone(),
            name: policy.name.clone(),
            precedence: policy.precedence,
        });
        match policy.method {
            MethodPlan::Default => self.default_plan(
                Reason::PolicyMatched,
                matched,
                self.ingress,
                FallbackUsed::None,
            ),
            MethodPlan::Dedicated {
                primary,
                ipv6,
                ipv6_location,
                fallback,
            } => {
                let ipv4 = self
                    .wants_v4()
                    .then(|| self.dedicated_v4(primary, fallback));
                let ipv6 = self
                    .wants_v6()
                    .then(|| self.dedicated_v6(ipv6, ipv6_location));
                self.plan(
                    Reason::PolicyMatched,
                    matched,
                    EgressKind::Dedicated,
                    ipv4,
                    ipv6,
                )
            }
        }
    }

    /// DESIGN rule 2: no policy matched; the dedicated IP closest to the ingress location,
    /// ties split by rendezvous hashing on the user.
    fn closest_dedicated(&self) -> Plan {
        if self.account.dedicated.is_empty() {
            return self.default_plan(
                Reason::NoDedicatedIps,
                None,
                self.ingress,
                FallbackUsed::None,
            );
        }
        let here = self.snapshot.location(self.ingress);
        let healthy = |i: &usize| self.snapshot.healthy[self.account.dedicated[*i].location];
        let distance = |i: usize| {
            let l = self.snapshot.location(self.account.dedicated[i].location);
            great_circle_km(here.latitude, here.longitude, l.latitude, l.longitude)
        };
        let best = (0..self.account.dedicated.len())
            .filter(healthy)
            .map(distance)
            .fold(f64::INFINITY, f64::min);
        if best.is_infinite() {
            let at = self.closest_healthy();
            return self.default_plan(
                Reason::ClosestDedicated,
                None,
                at,
                FallbackUsed::DefaultRange,
            );
        }
        let tied = (0..self.account.dedicated.len())
            .filter(healthy)
            .filter(|&i| distance(i) <= best + TIE_KM)
            .map(|i| (i, self.account.dedicated[i].ipv4.octets()));
        let chosen = rendezvous_pick(&self.user_key(), tied)
            .expect("at least one location is within TIE_KM of the best");
        let d = self.account.dedicated[chosen];
        let ipv4 = self
            .wants_v4()
            .then(|| self.dedicated_v4(chosen, FallbackTarget::Closest));
        let ipv6 = self
            .wants_v6()
            .then(|| self.dedicated_v6(d.ipv6, d.location));
        self.plan(
            Reason::ClosestDedicated,
            None,
            EgressKind::Dedicated,
            ipv4,
            ipv6,
        )
    }

    /// DESIGN rules 4 and 7: the IPv4 leaves where it lives, unless the destination is on-net;
    /// a location that is down hands over to the fallback, then to the default range.
    fn dedicated_v4(&self, primary: usize, fallback: FallbackTarget) -> Route {
        let d = self.account.dedicated[primary];
        let c = &self.snapshot.compiled;
        let host = match &self.intent.target.host {
            TargetHost::Name(n) => Some(n.as_str()),
            TargetHost::Ip(_) => None,
        };
        if c.is_on_net(self.dst_ip, host) {
            let local = default_route(
                self.snapshot,
                self.ingress,
                self.ingress,
                &self.user_key(),
                FallbackUsed::None,
            );
            return Route {
                kind: EgressKind::Dedicated,
                egress_ip_location: self.snapshot.location(d.location).code.clone(),
                proxy_protocol_source: Some(d.ipv4),
                ..local
            };
        }
        if self.snapshot.healthy[d.location] {
            return self.dedicated_route(d.ipv4, d.location, FallbackUsed::None);
        }
        if let FallbackTarget::Dedicated(j) = fallback {
            let f = self.account.dedicated[j];
            if self.snapshot.healthy[f.location] {
                return self.dedicated_route(f.ipv4, f.location, FallbackUsed::Ipv4Fallback);
            }
        }
        let at = self.closest_healthy();
        default_route(
            self.snapshot,
            self.ingress,
            at,
            &self.user_key(),
            FallbackUsed::DefaultRange,
        )
    }

    fn dedicated_route(
        &self,
        ip: Ipv4Addr,
        location: LocationIdx,
        fallback: FallbackUsed,
    ) -> Route {
        let code = self.snapshot.location(location).code.clone();
        Route {
            source: EgressAddr(IpAddr::V4(ip)),
            kind: EgressKind::Dedicated,
            egress_location: code.clone(),
            egress_ip_location: code,
            forwarded: location != self.ingress,
            proxy_protocol_source: None,
            fallback,
        }
    }

    /// DESIGN rule 5: IPv6 leaves locally, from this location's slice of the /64, at a stable
    /// address per user; it geolocates where the /64 is declared.
    fn dedicated_v6(&self, net: ipnet::Ipv6Net, ip_location: LocationIdx) -> Route {
        let here = self.snapshot.location(self.ingress);
        let source = ipv6_in_slice(net, here.ipv6_slice, &self.user_key());
        Route {
            source: EgressAddr(IpAddr::V6(source)),
            kind: EgressKind::Dedicated,
            egress_location: here.code.clone(),
            egress_ip_location: self.snapshot.location(ip_location).code.clone(),
            forwarded: false,
            proxy_protocol_source: None,
            fallback: FallbackUsed::None,
        }
    }

    /// The healthy location closest to the ingress (the ingress itself when it is healthy).
    fn closest_healthy(&self) -> LocationIdx {
        let here = self.snapshot.location(self.ingress);
        (0..self.snapshot.compiled.locations.len())
            .filter(|&i| self.snapshot.healthy[i])
            .map(|i| {
                let l = self.snapshot.location(i);
                (
                    great_circle_km(here.latitude, here.longitude, l.latitude, l.longitude),
                    i,
                )
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, i)| i)
            .unwrap_or(self.ingress)
    }

    fn wants_v4(&self) -> bool {
        !matches!(self.dst_ip, Some(IpAddr::V6(_)))
    }

    fn wants_v6(&self) -> bool {
        !matches!(self.dst_ip, Some(IpAddr::V4(_)))
    }

    fn default_plan(
        &self,
        reason: Reason,
        policy: Option<MatchedPolicy>,
        at: LocationIdx,
        fallback: FallbackUsed,
    ) -> Plan {
        let key = self.user_key();
        let ipv4 = self
            .wants_v4()
            .then(|| default_route(self.snapshot, self.ingress, at, &key, fallback));
        let ipv6 = if self.wants_v6() {
            default_route_v6(self.snapshot, self.ingress, self.ingress, &key, fallback)
        } else {
            None
        };
        self.plan(reason, policy, EgressKind::Default, ipv4, ipv6)
    }

    fn plan(
        &self,
        reason: Reason,
        policy: Option<MatchedPolicy>,
        method: EgressKind,
        ipv4: Option<Route>,
        ipv6: Option<Route>,
    ) -> Plan {
        Plan {
            reason,
            policy,
            method,
            ingress_location: self.snapshot.location(self.ingress).code.clone(),
            ipv4,
            ipv6,
            max_connections_per_destination: self.snapshot.compiled.max_connections_per_destination,
        }
    }
}

fn location_code(snapshot: &Snapshot, idx: LocationIdx) -> LocationCode {
    snapshot.location(idx).code.clone()
}

/// An address of a location's shared IPv4 range.
fn default_route(
    snapshot: &Snapshot,
    ingress: LocationIdx,
    at: LocationIdx,
    key: &[&[u8]],
    fallback: FallbackUsed,
) -> Route {
    let source = ipv4_in_range(snapshot.location(at).default_v4, key);
    Route {
        source: EgressAddr(IpAddr::V4(source)),
        kind: EgressKind::Default,
        egress_location: location_code(snapshot, at),
        egress_ip_location: location_code(snapshot, at),
        forwarded: at != ingress,
        proxy_protocol_source: None,
        fallback,
    }
}

/// An address of a location's shared IPv6 range, when it has one.
fn default_route_v6(
    snapshot: &Snapshot,
    ingress: LocationIdx,
    at: LocationIdx,
    key: &[&[u8]],
    fallback: FallbackUsed,
) -> Option<Route> {
    let net = snapshot.location(at).default_v6?;
    let source: Ipv6Addr = ipv6_in_range(net, key);
    Some(Route {
        source: EgressAddr(IpAddr::V6(source)),
        kind: EgressKind::Default,
        egress_location: location_code(snapshot, at),
        egress_ip_location: location_code(snapshot, at),
        forwarded: at != ingress,
        proxy_protocol_source: None,
        fallback,
    })
}

/// Destinations a gateway must not reach on a client's behalf unless configured: loopback,
/// unspecified, link-local, multicast, broadcast, RFC 1918, shared (RFC 6598) and unique-local.
pub fn is_forbidden_destination(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_private()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_destination(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}
