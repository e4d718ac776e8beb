//! Opening a connection for a client: resolve, decide per address, take a session count and a
//! port slot, and dial with Happy Eyeballs (RFC 8305): attempts start 250 ms apart, families
//! interleaved, and the first to connect wins.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use egress_fleet::{FleetError, ForwardRequest};
use egress_model::{ClientAddr, TargetHost};
use egress_net::{dial, PortSlot, Upstream};
use egress_onramp::server::{OpenError, OpenFailure, OpenRequest, Opened};
use egress_policy::{decide, Geo, Intent, Plan, Route, Snapshot, Transport};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::AsyncWriteExt;

use super::{dial_error, fill_plan, take_port_slot, ConnectionRecord, EgressGateway, LiveSession};

/// Delay before the next address is tried while an earlier attempt is still pending.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// A connected attempt.
struct Connected {
    stream: Upstream,
    slot: Option<PortSlot>,
    plan: Plan,
    route: Route,
    addr: IpAddr,
}

/// A failed attempt, with its plan when it got that far (for the log).
struct Failed {
    error: OpenError,
    planned: Option<(Plan, Route)>,
    addr: IpAddr,
}

impl EgressGateway {
    pub(super) async fn open_inner(&self, request: OpenRequest) -> Result<Opened, OpenError> {
        let (_, mut record) = self.base_record(request.peer, request.onramp);
        record.account = Some(Arc::clone(&request.who.account));
        record.user = request.who.user.clone();
        record.proxy_endpoint = Some(Arc::clone(&request.who.endpoint));
        record.dst_port = Some(request.target.port);
        let snapshot = self.snapshot.load_full();
        let counted = match self.live.enter(
            &request.who.account,
            request.who.user.as_deref(),
            snapshot.max_sessions(),
        ) {
            Ok(guard) => guard,
            Err(reason) => {
                let error = OpenError {
                    failure: OpenFailure::TooManySessions,
                    close_reason: reason,
                    message: format!("session limit reached ({reason})"),
                };
                self.log_failure(record, reason);
                return Err(error);
            }
        };
        let addresses = match &request.target.host {
            // A mapped IPv4 (::ffff:a.b.c.d) is dialled, and decided, as the IPv4 it is.
            TargetHost::Ip(ip) => vec![ip.to_canonical()],
            TargetHost::Name(name) => {
                record.dst_host = Some(name.as_str().into());
                match self.resolver.lookup(name).await {
                    Ok(found) if !found.is_empty() => found,
                    Ok(_) => {
                        return Err(
                            self.refuse(record, name_error("dns_no_address", name, "no address"))
                        )
                    }
                    Err(e) => return Err(self.refuse(record, name_error("dns_error", name, &e))),
                }
            }
        };
        match self.race(&snapshot, &request, &addresses).await {
            Ok(c) => {
                record.dst_ip = Some(c.addr);
                fill_plan(&mut record, &c.plan, &c.route);
                record.egress_port = c.stream.local_addr().map(|a| a.port());
                let record = self.recorder.opened(record);
                let session = LiveSession {
                    record: Some(record),
                    recorder: Arc::clone(&self.recorder),
                    _slot: c.slot,
                    _counted: counted,
                };
                Ok(Opened {
                    stream: c.stream,
                    session: Box::new(session),
                })
            }
            Err(failed) => {
                record.dst_ip = Some(failed.addr);
                if let Some((plan, route)) = &failed.planned {
                    fill_plan(&mut record, plan, route);
                }
                Err(self.refuse(record, failed.error))
            }
        }
    }

    fn refuse(&self, record: ConnectionRecord, error: OpenError) -> OpenError {
        self.log_failure(record, error.close_reason);
        error
    }

    /// Runs the attempts; the first success wins, the rest are dropped (freeing their slots).
    async fn race(
        &self,
        snapshot: &Snapshot,
        request: &OpenRequest,
        addresses: &[IpAddr],
    ) -> Result<Connected, Failed> {
        let mut pending = FuturesUnordered::new();
        let mut next = addresses.iter();
        let mut last_failure = None;
        if let Some(&addr) = next.next() {
            pending.push(self.attempt(snapshot, request, addr));
        }
        while !pending.is_empty() {
            let outcome = tokio::time::timeout(ATTEMPT_DELAY, pending.next()).await;
            match outcome {
                Ok(Some(Ok(connected))) => return Ok(connected),
                Ok(Some(Err(failed))) => {
                    last_failure = Some(failed);
                    if let Some(&addr) = next.next() {
                        pending.push(self.attempt(snapshot, request, addr));
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    if let Some(&addr) = next.next() {
                        pending.push(self.attempt(snapshot, request, addr));
                    }
                }
            }
        }
        Err(last_failure.expect("at least one address was attempted and failed"))
    }

    async fn attempt(
        &self,
        snapshot: &Snapshot,
        request: &OpenRequest,
        addr: IpAddr,
    ) -> Result<Connected, Failed> {
        let fail = |error: OpenError, planned: Option<(Plan, Route)>| Failed {
            error,
            planned,
            addr,
        };
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
        if super::own::is_own(&self.own.load(), addr) && !snapshot.is_allowed_destination(addr) {
            let error = OpenError {
                failure: OpenFailure::NotAllowed,
                close_reason: "forbidden_destination",
                message: format!("{addr} is an address of this gateway"),
            };
            return Err(fail(error, None));
        }
        let started = std::time::Instant::now();
        let decided = decide(&intent, snapshot);
        self.recorder
            .metrics
            .decision_seconds
            .observe(started.elapsed().as_secs_f64());
        let plan = decided.map_err(|refusal| {
            let error = OpenError {
                failure: OpenFailure::NotAllowed,
                close_reason: refusal.code(),
                message: format!("refused: {refusal}"),
            };
            fail(error, None)
        })?;
        let Some(route) = plan.route_for(addr).cloned() else {
            let error = OpenError {
                failure: OpenFailure::Unreachable,
                close_reason: "no_source_for_family",
                message: format!("no egress source for the address family of {addr}"),
            };
            return Err(fail(error, None));
        };
        let destination = SocketAddr::new(addr, request.target.port);
        if route.forwarded {
            return self
                .forward(request, &plan, &route, destination)
                .await
                .map(|stream| Connected {
                    stream,
                    slot: None,
                    plan: plan.clone(),
                    route: route.clone(),
                    addr,
                })
                .map_err(|error| fail(error, Some((plan, route))));
        }
        let slot = match take_port_slot(&self.ledger, &plan, &route, destination) {
            Ok(slot) => slot,
            Err(error) => {
                return Err(fail(error, Some((plan, route))));
            }
        };
        let mut stream = match dial(route.source, destination, self.settings.connect_timeout).await
        {
            Ok(stream) => stream,
            Err(e) => return Err(fail(dial_error(&e), Some((plan, route)))),
        };
        if let Some(dedicated) = route.proxy_protocol_source {
            // On-net: the local exit announces the dedicated IPv4 (DESIGN rule 4).
            if let Err(error) = announce(&mut stream, dedicated, destination).await {
                return Err(fail(error, Some((plan, route))));
            }
        }
        Ok(Connected {
            stream: Upstream::Local(stream),
            slot: Some(slot),
            plan,
            route,
            addr,
        })
    }

    /// Opens the connection through a node of the route's egress location.
    async fn forward(
        &self,
        request: &OpenRequest,
        plan: &Plan,
        route: &Route,
        destination: SocketAddr,
    ) -> Result<Upstream, OpenError> {
        let Some(fleet) = &self.fleet else {
            return Err(OpenError {
                failure: OpenFailure::Unreachable,
                close_reason: "egress_location_unavailable",
                message: format!(
                    "the egress address {} lives in location {}; this node has no fleet \
                     listener to forward there (serve --fleet-listen)",
                    route.source, route.egress_location
                ),
            });
        };
        let forward = ForwardRequest {
            source: route.source.0,
            destination,
            max_connections_per_destination: plan.max_connections_per_destination,
            session: format!("{}-{}", self.settings.node_id, request.peer),
            account: request.who.account.to_string(),
        };
        fleet
            .open(&route.egress_location, &forward)
            .await
            .map_err(|e| fleet_error(&e))
    }
}

/// Writes the PROXY protocol v2 header naming `dedicated` as the source.
async fn announce(
    stream: &mut tokio::net::TcpStream,
    dedicated: std::net::Ipv4Addr,
    destination: SocketAddr,
) -> Result<(), OpenError> {
    let port = stream.local_addr().map(|a| a.port()).unwrap_or(0);
    let source = SocketAddr::new(IpAddr::V4(dedicated), port);
    let header = egress_net::proxy_v2::encode(source, destination).map_err(|e| OpenError {
        failure: OpenFailure::Internal,
        close_reason: "proxy_protocol_error",
        message: e.to_string(),
    })?;
    stream
        .write_all(header.as_bytes())
        .await
        .map_err(|e| OpenError {
            failure: OpenFailure::Unreachable,
            close_reason: "upstream_write_error",
            message: format!("cannot send the PROXY header to {destination}: {e}"),
        })
}

pub(super) fn fleet_error(e: &FleetError) -> OpenError {
    let failure = match e {
        FleetError::Timeout { .. } => OpenFailure::Timeout,
        FleetError::Refused { status: 403, .. } => OpenFailure::NotAllowed,
        FleetError::Refused { close_reason, .. }
            if *close_reason == "egress_port_allocation_error" =>
        {
            OpenFailure::PortsExhausted
        }
        FleetError::Refused { close_reason, .. } if *close_reason == "upstream_refused" => {
            OpenFailure::Refused
        }
        FleetError::Internal { .. } => OpenFailure::Internal,
        _ => OpenFailure::Unreachable,
    };
    OpenError {
        failure,
        close_reason: e.close_reason(),
        message: e.to_string(),
    }
}

fn name_error(close_reason: &'static str, name: &str, detail: &str) -> OpenError {
    OpenError {
        failure: OpenFailure::NameNotResolved,
        close_reason,
        message: format!("cannot resolve {name}: {detail}"),
    }
}
