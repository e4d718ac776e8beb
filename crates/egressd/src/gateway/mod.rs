//! The gateway behind the on-ramps: authorise, decide, take a port slot, dial, log.

mod auth;
mod forward;
mod log;
mod metrics;
mod observe;
mod open;
mod own;
mod resolve;
mod sessions;
mod udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use egress_fleet::Membership;
use egress_model::Config;
use egress_net::{DialError, PortLedger, PortSlot};
use egress_onramp::server::{
    AssociateRequest, Associated, AuthError, Authorized, BoxFuture, Gateway, Listener, OnRamp,
    OpenError, OpenFailure, OpenRequest, Opened, Session,
};
use egress_policy::{LocationHealth, Plan, Route, Snapshot};

pub use auth::{hash_password, Authorizer};
pub use log::{timestamp, ConnectionRecord, Datagrams, LogSink, SessionId};
pub use metrics::EgressLabels;
pub use observe::{RecordFilter, Recorder};

/// Settings of the data path that are not part of the egress configuration.
#[derive(Debug, Clone)]
pub struct DataPathSettings {
    /// Shared by every record's session id.
    pub node_id: Arc<str>,
    /// Shared by every record's `ingress_location`.
    pub location: Arc<str>,
    pub connect_timeout: Duration,
}

/// The running gateway's state shared by every connection.
#[derive(Debug)]
pub struct EgressGateway {
    /// What `decide` reads: `base` with the fleet's current health view.
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// The compiled configuration as applied, before health.
    base: ArcSwap<Snapshot>,
    /// The fleet's latest health view; its lock also orders snapshot swaps.
    health: std::sync::Mutex<LocationHealth>,
    /// The fleet this node belongs to, when it runs a fleet listener.
    fleet: Option<Arc<Membership>>,
    /// Source addresses this node's location holds (forwarded connections must use one).
    held: ArcSwap<Vec<ipnet::IpNet>>,
    authorizer: ArcSwap<Authorizer>,
    own: Arc<ArcSwap<Vec<ipnet::IpNet>>>,
    settings: DataPathSettings,
    ledger: PortLedger,
    recorder: Arc<Recorder>,
    resolver: resolve::GatewayResolver,
    live: Arc<sessions::SessionCounter>,
    sessions: Arc<AtomicU64>,
}

impl EgressGateway {
    pub fn new(
        config: &Config,
        snapshot: Snapshot,
        settings: DataPathSettings,
        log: LogSink,
        fleet: Option<Arc<Membership>>,
    ) -> Self {
        // The gateway's own DNS leaves from the default range (DESIGN rule 9).
        let dns = egress_policy::decide_gateway_dns(&snapshot, &settings.location).ok();
        let source = |route: Option<&Route>| route.map(|r| r.source.0);
        let resolver = resolve::GatewayResolver::from_system(
            source(dns.as_ref().and_then(|p| p.ipv4.as_ref())),
            source(dns.as_ref().and_then(|p| p.ipv6.as_ref())),
        );
        EgressGateway {
            resolver,
            live: Arc::default(),
            held: ArcSwap::from_pointee(forward::held_here(config, &settings.location)),
            base: ArcSwap::from_pointee(snapshot.clone()),
            health: std::sync::Mutex::new(LocationHealth::all_up()),
            fleet,
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            authorizer: ArcSwap::from_pointee(Authorizer::new(config)),
            own: Arc::new(ArcSwap::from_pointee(own::own_addresses(config))),
            settings,
            ledger: PortLedger::new(),
            recorder: Arc::new(Recorder::new(log)),
            sessions: Arc::default(),
        }
    }

    /// Swaps in a new configuration; connections already open keep their plan.
    pub fn replace(&self, config: &Config, snapshot: Snapshot) {
        self.authorizer.store(Arc::new(Authorizer::new(config)));
        self.own.store(Arc::new(own::own_addresses(config)));
        self.held.store(Arc::new(forward::held_here(
            config,
            &self.settings.location,
        )));
        if let Some(fleet) = &self.fleet {
            fleet.update(config);
        }
        let health = self.health.lock().expect("never poisoned");
        self.snapshot.store(Arc::new(snapshot.with_health(&health)));
        self.base.store(Arc::new(snapshot));
    }

    /// Takes a new fleet health view: new connections avoid locations that are down.
    pub fn set_health(&self, health: LocationHealth) {
        let mut current = self.health.lock().expect("never poisoned");
        self.snapshot
            .store(Arc::new(self.base.load().with_health(&health)));
        *current = health;
    }

    /// Locations the current health view marks down.
    pub fn locations_down(&self) -> Vec<String> {
        let health = self.health.lock().expect("never poisoned");
        self.base
            .load()
            .location_codes()
            .filter(|code| health.is_down(code))
            .map(str::to_owned)
            .collect()
    }

    /// The fleet this node belongs to, if any.
    pub fn fleet(&self) -> Option<&Arc<Membership>> {
        self.fleet.as_ref()
    }

    fn base_record(&self, peer: SocketAddr, onramp: OnRamp) -> (u64, ConnectionRecord) {
        base_record(&self.settings, &self.sessions, peer, onramp)
    }

    fn log_failure(&self, mut record: ConnectionRecord, close_reason: &str) {
        record.close(close_reason);
        self.recorder.refused(record);
    }

    /// Live connections, recent records and metrics.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The running snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// For each egress address, its highest connection count towards one destination.
    pub fn busiest_per_source(&self) -> Vec<(egress_model::EgressAddr, u32)> {
        self.ledger.busiest_per_source()
    }

    /// Port budget use of the busiest pairs, with the running limit.
    pub fn port_usage(&self, top: usize) -> (Vec<egress_net::PortUsage>, u32) {
        (
            self.ledger.top(top),
            self.snapshot.load().max_connections_per_destination(),
        )
    }
}

/// A new record (TCP unless changed) with the next session id.
fn base_record(
    settings: &DataPathSettings,
    sessions: &AtomicU64,
    peer: SocketAddr,
    onramp: OnRamp,
) -> (u64, ConnectionRecord) {
    let n = sessions.fetch_add(1, Ordering::Relaxed);
    let session_id = SessionId {
        node: Arc::clone(&settings.node_id),
        n,
    };
    let mut record = ConnectionRecord::new(session_id, peer, onramp);
    record.ingress_location = Arc::clone(&settings.location);
    (n, record)
}

fn fill_plan(record: &mut ConnectionRecord, plan: &Plan, route: &Route) {
    record.policy_id = plan.policy.as_ref().map(|p| p.id.clone());
    record.policy_name = plan.policy.as_ref().map(|p| p.name.clone());
    record.egress_method = Some(route.kind);
    record.egress_ip = Some(route.source.0);
    record.egress_location = Some(route.egress_location.clone());
    record.egress_ip_location = Some(route.egress_ip_location.clone());
    record.fallback = Some(route.fallback);
}

/// Takes the port-ledger slot for (the route's source, destination) within the plan's budget.
fn take_port_slot(
    ledger: &egress_net::PortLedger,
    plan: &Plan,
    route: &Route,
    destination: SocketAddr,
) -> Result<PortSlot, OpenError> {
    ledger
        .acquire(
            route.source,
            destination,
            plan.max_connections_per_destination,
        )
        .map_err(|e| OpenError {
            failure: OpenFailure::PortsExhausted,
            close_reason: "egress_port_allocation_error",
            message: e.to_string(),
        })
}

fn dial_error(e: &DialError) -> OpenError {
    let failure = match e {
        DialError::PortsExhausted { .. } => OpenFailure::PortsExhausted,
        DialError::Refused { .. } => OpenFailure::Refused,
        DialError::Unreachable { .. } => OpenFailure::Unreachable,
        DialError::Timeout { .. } => OpenFailure::Timeout,
        DialError::SourceUnavailable { .. } | DialError::Other { .. } => OpenFailure::Internal,
    };
    OpenError {
        failure,
        close_reason: e.close_reason(),
        message: e.to_string(),
    }
}

/// A live connection: its record, its port slot and session count (freed when dropped).
#[derive(Debug)]
struct LiveSession {
    record: Option<Arc<ConnectionRecord>>,
    recorder: Arc<Recorder>,
    /// The port budget slot (held by the egress node instead when forwarded).
    _slot: Option<PortSlot>,
    _counted: sessions::SessionGuard,
}

impl Session for LiveSession {
    fn finish(mut self: Box<Self>, bytes_up: u64, bytes_down: u64, close_reason: &str) {
        if let Some(record) = self.record.take() {
            self.recorder.ended(record, |r| {
                r.bytes_client_to_upstream = bytes_up;
                r.bytes_upstream_to_client = bytes_down;
                r.close(close_reason);
            });
        }
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        // A session dropped without finish (task aborted at shutdown) is still logged.
        if let Some(record) = self.record.take() {
            self.recorder.ended(record, |r| r.close("aborted"));
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
            // Source prefixes and passwords verified before answer at once, on this thread.
            if let Some(answer) = authorizer.authorize_cached(listener, peer, credentials) {
                return answer;
            }
            let (user, pass) = match credentials {
                Some((u, p)) => (Some(u.to_string()), p.to_string()),
                None => (None, String::new()),
            };
            let listener = listener.clone();
            // argon2 is deliberately slow: keep it off the reactor threads.
            tokio::task::spawn_blocking(move || {
                authorizer.authorize(&listener, peer, user.as_deref().map(|u| (u, pass.as_str())))
            })
            .await
            .unwrap_or(Err(AuthError::BadCredentials))
        })
    }

    fn requires_credentials(&self, listener: &Listener, peer: SocketAddr) -> bool {
        self.authorizer.load().requires_credentials(listener, peer)
    }

    fn open(&self, request: OpenRequest) -> BoxFuture<'_, Result<Opened, OpenError>> {
        Box::pin(self.open_inner(request))
    }

    fn associate(&self, request: AssociateRequest) -> BoxFuture<'_, Result<Associated, OpenError>> {
        Box::pin(self.associate_inner(request))
    }

    fn reject(&self, _listener: &Listener, peer: SocketAddr, onramp: OnRamp, close_reason: &str) {
        let (_, record) = self.base_record(peer, onramp);
        self.log_failure(record, close_reason);
    }
}
