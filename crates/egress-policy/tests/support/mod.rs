//! Shared fixtures for the decision tests.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use egress_model::{ClientAddr, Config, TargetAddr, TargetHost};
use egress_policy::{decide, Geo, Intent, LocationHealth, Plan, Refusal, Snapshot, Transport};

pub const EXAMPLE: &str = include_str!("../../../../examples/egressd.toml");

pub fn example_config() -> Config {
    Config::from_toml(EXAMPLE, "examples/egressd.toml").expect("the example configuration is valid")
}

pub fn example() -> Snapshot {
    Snapshot::compile(&example_config(), "examples/egressd.toml", 1).expect("compiles")
}

pub fn snapshot_of(toml: &str) -> Snapshot {
    let config = Config::from_toml(toml, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    Snapshot::compile(&config, "test.toml", 1).expect("compiles")
}

/// A connection request with sensible defaults, adjusted by builder methods.
#[derive(Clone, Debug)]
pub struct Req {
    pub account: String,
    pub user: Option<String>,
    pub client: SocketAddr,
    pub endpoint: Option<String>,
    pub internal_src_ip: Option<IpAddr>,
    pub target: TargetAddr,
    pub dst_ip: Option<IpAddr>,
    pub transport: Transport,
    pub location: String,
    pub src_country: Option<String>,
    pub src_continent: Option<String>,
    pub dst_country: Option<String>,
    pub dst_continent: Option<String>,
}

pub fn req(account: &str, user: Option<&str>, to: &str, location: &str) -> Req {
    let target = TargetAddr::parse(to).expect("valid target");
    let dst_ip = match target.host {
        TargetHost::Ip(ip) => Some(ip),
        TargetHost::Name(_) => None,
    };
    Req {
        account: account.into(),
        user: user.map(Into::into),
        client: "192.0.2.200:50000".parse().expect("valid"),
        endpoint: None,
        internal_src_ip: None,
        target,
        dst_ip,
        transport: Transport::Tcp,
        location: location.into(),
        src_country: None,
        src_continent: None,
        dst_country: None,
        dst_continent: None,
    }
}

impl Req {
    pub fn udp(mut self) -> Self {
        self.transport = Transport::Udp;
        self
    }
    pub fn icmp(mut self) -> Self {
        self.transport = Transport::Icmp;
        self
    }
    pub fn resolved(mut self, ip: &str) -> Self {
        self.dst_ip = Some(ip.parse().expect("valid ip"));
        self
    }
    pub fn from(mut self, client: &str) -> Self {
        self.client = client.parse().expect("valid socket address");
        self
    }
    pub fn endpoint(mut self, name: &str) -> Self {
        self.endpoint = Some(name.into());
        self
    }
    pub fn dst_geo(mut self, country: &str, continent: &str) -> Self {
        self.dst_country = Some(country.into());
        self.dst_continent = Some(continent.into());
        self
    }
    pub fn src_geo(mut self, country: &str, continent: &str) -> Self {
        self.src_country = Some(country.into());
        self.src_continent = Some(continent.into());
        self
    }
    pub fn internal(mut self, ip: &str) -> Self {
        self.internal_src_ip = Some(ip.parse().expect("valid ip"));
        self
    }

    pub fn intent(&self) -> Intent<'_> {
        Intent {
            account: &self.account,
            user: self.user.as_deref(),
            client: ClientAddr(self.client),
            internal_src_ip: self.internal_src_ip,
            proxy_endpoint: self.endpoint.as_deref(),
            target: &self.target,
            dst_ip: self.dst_ip,
            transport: self.transport,
            location: &self.location,
            src_geo: Geo {
                country: self.src_country.as_deref(),
                continent: self.src_continent.as_deref(),
            },
            dst_geo: Geo {
                country: self.dst_country.as_deref(),
                continent: self.dst_continent.as_deref(),
            },
        }
    }

    pub fn decide(&self, snapshot: &Snapshot) -> Result<Plan, Refusal> {
        decide(&self.intent(), snapshot)
    }

    pub fn plan(&self, snapshot: &Snapshot) -> Plan {
        self.decide(snapshot)
            .unwrap_or_else(|r| panic!("refused with {r}: {self:?}"))
    }
}

pub fn down(snapshot: &Snapshot, codes: &[&str]) -> Snapshot {
    let health = codes
        .iter()
        .fold(LocationHealth::all_up(), |h, c| h.down(c));
    snapshot.with_health(&health)
}

pub fn policy_name(plan: &Plan) -> Option<&str> {
    plan.policy.as_ref().map(|p| &*p.name)
}

pub fn v4_source(plan: &Plan) -> String {
    plan.ipv4
        .as_ref()
        .expect("an IPv4 route")
        .source
        .to_string()
}
