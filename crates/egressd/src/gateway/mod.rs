//! The gateway behind the on-ramps: authorise, decide, take a port slot, dial, log.

mod auth;
mod log;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use egress_model::{ClientAddr, Config, TargetAddr, TargetHost};
use egress_net::{dial, DialError, PortLedger, PortSlot};
use egress_onramp::server::{
    AuthError, Authorized, BoxFuture, Gateway, Listener, OnRamp, OpenError, OpenFailure,
    OpenRequest, Opened, Session,
};
use egress_policy::{decide, Geo, Intent, Plan, Route, Snapshot, Transport};

pub use auth::{hash_password, Authorizer};
pub use log::{timestamp, ConnectionRecord, LogSink};

/// Settings of the data path that are not part of the egress configuration.
#[derive(Debug, Clone)]
pub struct DataPathSettings {
    pub node_id: String,
    pub location: String,
    pub connect_timeout: Duration,
}

/// The running gateway's state shared by every connection.
#[derive(Debug)]
pub struct EgressGateway {
    snapshot: ArcSwap<Snapshot>,
    authorizer: ArcSwap<Authorizer>,
    settings: DataPathSettings,
    ledger: PortLedger,
    log: LogSink,
    sessions: AtomicU64,
}

impl EgressGateway {
    pub fn new(config: &Config, snapshot: Snapshot, settings: DataPathSettings, log: LogSink) -> Self {
        EgressGateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            authorizer: ArcSwap::from_pointee(Authorizer::new(config)),
            settings,
            ledger: PortLedger::new(),
            log,
            sessions: AtomicU64::new(0),
        }
    }

    /// Swaps in a new configuration; connections already open keep their plan.
    pub fn replace(&self, config: &Config, snapshot: Snapshot) {
        self.authorizer.store(Arc::new(Authorizer::new(config)));
        self.snapshot.store(Arc::new(snapshot));
    }

    fn base_record(&self, peer: SocketAddr, onramp: OnRamp) -> ConnectionRecord {
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        ConnectionRecord {
            session_id: format!("{}-{n:x}", self.settings.node_id),
            src_ip: peer.ip().to_string(),
            src_port: peer.port(),
            onramp: onramp.as_str().to_string(),
            transport: "tcp".into(),
            ingress_location: self.settings.location.clone(),
            start: timestamp(SystemTime::now()),
            ..ConnectionRecord::default()
        }
    }

    fn log_failure(&self, mut record: ConnectionRecord, close_reason: &str) {
        record.end = timestamp(SystemTime::now());
        record.close_reason = close_reason.to_string();
        self.log.write(record);
    }

    async fn open_inner(&self, request: OpenRequest) -> Result<Opened, OpenError> {
        let mut record = self.base_record(request.peer, request.onramp);
        record.account = Some(request.who.account.clone());
        record.user = request.who.user.clone();
        record.proxy_endpoint = Some(request.who.endpoint.clone());
        record.dst_port = Some(request.target.port);
        if let TargetHost::Name(name) = &request.target.host {
            record.dst_host = Some(name.clone());
        }
        let addresses = match resolve(&request.target).await {
            Ok(a) => a,
            Err(e) => {
                self.log_failure(record, e.close_reason);
                return Err(e);
            }
        };
        let snapshot = self.snapshot.load_full();
        let mut last = None;
        for addr in addresses {
            record.dst_ip = Some(addr.to_string());
            match self.try_address(&snapshot, &request, addr, &mut record).await {
                Ok((stream, slot)) => {
                    record.egress_port = stream.local_addr().ok().map(|a| a.port());
                    let session = LiveSession { record: Some(record), log: self.log.clone(), _slot: slot };
                    return Ok(Opened { stream, session: Box::new(session) });
                }
                Err(e) => last = Some(e),
            }
        }
        let err = last.unwrap_or_else(|| OpenError {
            failure: OpenFailure::NameNotResolved,
            close_reason: "dns_no_address",
            message: format!("{} has no address", request.target),
        });
        self.log_failure(record, err.close_reason);
        Err(err)
    }

    async fn try_address(
        &self,
        snapshot: &Snapshot,
        request: &OpenRequest,
        addr: IpAddr,
        record: &mut ConnectionRecord,
    ) -> Result<(tokio::net::TcpStream, PortSlot), OpenError> {
        let intent = Intent {
            account: &request.who.account,
            user: request.who.user.as_deref(),
            client: ClientAddr(request.peer),
            internal_src_ip: None,
            proxy_endpoint: Some(&request.who.endpoint),
            target: &request.target,
            dst_ip: Some(addr),
            transport: Transport::Tcp,
            location: &self.settings.location,
            src_geo: Geo::default(),
            dst_geo: Geo::default(),
        };
        let plan = decide(&intent, snapshot).map_err(|refusal| OpenError {
            failure: OpenFailure::NotAllowed,
            close_reason: refusal.code(),
            message: format!("refused by policy: {refusal}"),
        })?;
        let route = plan.route_for(addr).cloned().ok_or_else(|| OpenError {
            failure: OpenFailure::Unreachable,
            close_reason: "no_source_for_family",
            message: format!("no egress source for the address family of {addr}"),
        })?;
        fill_plan(record, &plan, &route);
        if route.forwarded {
            return Err(OpenError {
                failure: OpenFailure::Unreachable,
                close_reason: "egress_location_unavailable",
                message: format!(
                    "the egress address {} lives in location {}; this node cannot forward there",
                    route.source, route.egress_location
                ),
            });
        }
        let destination = SocketAddr::new(addr, request.target.port);
        let slot = self
            .ledger
            .acquire(route.source, destination, plan.max_connections_per_destination)
            .map_err(|e| OpenError {
                failure: OpenFailure::PortsExhausted,
                close_reason: "egress_port_allocation_error",
                message: e.to_string(),
            })?;
        let stream = dial(route.source, destination, self.settings.connect_timeout)
            .await
            .map_err(|e| dial_error(&e))?;
        Ok((stream, slot))
    }
}

fn fill_plan(record: &mut ConnectionRecord, plan: &Plan, route: &Route) {
    record.policy_id = plan.policy.as_ref().map(|p| p.id.clone());
    record.policy_name = plan.policy.as_ref().map(|p| p.name.clone());
    record.egress_method = Some(format!("{:?}", route.kind).to_lowercase());
    record.egress_ip = Some(route.source.to_string());
    record.egress_location = Some(route.egress_location.0.clone());
    record.egress_ip_location = Some(route.egress_ip_location.0.clone());
    record.fallback = Some(
        serde_json::to_value(route.fallback)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    );
}

fn dial_error(e: &DialError) -> OpenError {
    let failure = match e {
        DialError::PortsExhausted { .. } => OpenFailure::PortsExhausted,
        DialError::Refused { .. } => OpenFailure::Refused,
        DialError::Unreachable { .. } => OpenFailure::Unreachable,
        DialError::Timeout { .. } => OpenFailure::Timeout,
        DialError::SourceUnavailable { .. } | DialError::Other { .. } => OpenFailure::Internal,
    };
    OpenError { failure, close_reason: e.close_reason(), message: e.to_string() }
}

/// Addresses of a target: the literal one, or what the name resolves to.
async fn resolve(target: &TargetAddr) -> Result<Vec<IpAddr>, OpenError> {
    match &target.host {
        TargetHost::Ip(ip) => Ok(vec![*ip]),
        TargetHost::Name(name) => {
            let found = tokio::net::lookup_host((name.as_str(), target.port)).await.map_err(|e| {
                OpenError {
                    failure: OpenFailure::NameNotResolved,
                    close_reason: "dns_error",
                    message: format!("cannot resolve {name}: {e}"),
                }
            })?;
            let mut out: Vec<IpAddr> = Vec::new();
            for sa in found {
                if !out.contains(&sa.ip()) {
                    out.push(sa.ip());
                }
            }
            Ok(out)
        }
    }
}

/// A live connection: its record, and its port slot (freed when this is dropped).
#[derive(Debug)]
struct LiveSession {
    record: Option<ConnectionRecord>,
    log: LogSink,
    _slot: PortSlot,
}

impl Session for LiveSession {
    fn finish(mut self: Box<Self>, bytes_up: u64, bytes_down: u64, close_reason: &str) {
        if let Some(mut record) = self.record.take() {
            record.bytes_client_to_upstream = bytes_up;
            record.bytes_upstream_to_client = bytes_down;
            record.end = timestamp(SystemTime::now());
            record.close_reason = close_reason.to_string();
            self.log.write(record);
        }
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        // A session dropped without finish (task aborted at shutdown) is still logged.
        if let Some(mut record) = self.record.take() {
            record.end = timestamp(SystemTime::now());
            record.close_reason = "aborted".into();
            self.log.write(record);
        }
    }
}

impl Gateway for EgressGateway {
    fn authorize<'a>(
        &'a self,
        listener: &'a Listener,
        peer: SocketAddr,
        credentials: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Authorized, AuthError>> {
        Box::pin(async move {
            let authorizer = self.authorizer.load_full();
            let (user, pass) = match credentials {
                Some((u, p)) => (Some(u.to_string()), p.to_string()),
                None => (None, String::new()),
            };
            let listen = listener.local;
            // argon2 is deliberately slow: keep it off the reactor threads.
            tokio::task::spawn_blocking(move || {
                authorizer.authorize(listen, peer, user.as_deref().map(|u| (u, pass.as_str())))
            })
            .await
            .unwrap_or(Err(AuthError::BadCredentials))
        })
    }

    fn requires_credentials(&self, listener: &Listener, peer: SocketAddr) -> bool {
        self.authorizer.load().requires_credentials(listener.local, peer)
    }

    fn open(&self, request: OpenRequest) -> BoxFuture<'_, Result<Opened, OpenError>> {
        Box::pin(self.open_inner(request))
    }

    fn reject(&self, _listener: &Listener, peer: SocketAddr, onramp: OnRamp, close_reason: &str) {
        let record = self.base_record(peer, onramp);
        self.log_failure(record, close_reason);
    }
}
