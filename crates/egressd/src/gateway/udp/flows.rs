//! The flows of one association: deciding each destination once, the sockets per source
//! address, relaying replies, and ending idle flows.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use egress_model::{ClientAddr, EgressAddr, TargetAddr, TargetHost};
use egress_net::{bind_udp, PortSlot};
use egress_onramp::server::{Authorized, OnRamp, OpenError, OpenFailure, UdpReply};
use egress_policy::{decide, Geo, Intent, Plan, Route, Snapshot, Transport};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::super::sessions::SessionGuard;
use super::super::{
    base_record, fill_plan, resolve, timestamp, ConnectionRecord, DataPathSettings, Recorder,
};

/// What every flow of an association shares.
#[derive(Debug)]
pub(super) struct State {
    pub(super) who: Authorized,
    pub(super) peer: SocketAddr,
    pub(super) idle: Duration,
    pub(super) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(super) own: Arc<ArcSwap<Vec<ipnet::IpNet>>>,
    pub(super) settings: DataPathSettings,
    pub(super) sessions: Arc<AtomicU64>,
    pub(super) ledger: egress_net::PortLedger,
    pub(super) recorder: Arc<Recorder>,
    pub(super) resolver: resolve::GatewayResolver,
    pub(super) replies: mpsc::Sender<UdpReply>,
    pub(super) inner: Mutex<Flows>,
    /// The association counts as one session of the account (and user).
    pub(super) _counted: SessionGuard,
}

#[derive(Debug, Default)]
pub(super) struct Flows {
    /// Live flows by destination.
    live: HashMap<SocketAddr, Flow>,
    /// Targets refused recently, and when: their datagrams are dropped without a new record
    /// until they have been quiet for the idle timeout.
    refused: HashMap<String, Instant>,
    /// One socket per source address, with the task reading its replies.
    sockets: HashMap<EgressAddr, (Arc<UdpSocket>, JoinHandle<()>)>,
    /// Records written so far (an association without any still leaves one).
    records: u64,
}

#[derive(Debug)]
struct Flow {
    id: u64,
    source: EgressAddr,
    record: Arc<ConnectionRecord>,
    _slot: PortSlot,
    bytes_up: u64,
    bytes_down: u64,
    datagrams_up: u64,
    datagrams_down: u64,
    last: Instant,
}

impl State {
    fn new_record(&self) -> (u64, ConnectionRecord) {
        let (id, mut record) =
            base_record(&self.settings, &self.sessions, self.peer, OnRamp::Socks5);
        record.transport = "udp".into();
        record.datagrams_client_to_upstream = Some(0);
        record.datagrams_upstream_to_client = Some(0);
        super::fill_who(&mut record, &self.who);
        (id, record)
    }

    fn refusal_record(&self, target: &TargetAddr, addr: Option<IpAddr>) -> ConnectionRecord {
        let (_, mut record) = self.new_record();
        if let TargetHost::Name(name) = &target.host {
            record.dst_host = Some(name.clone());
        }
        record.dst_ip = addr.map(|a| a.to_string());
        record.dst_port = Some(target.port);
        record
    }

    /// Logs a refused target once per quiet period.
    fn refuse(&self, key: String, mut record: ConnectionRecord, error: &OpenError) {
        let mut flows = self.inner.lock().expect("never poisoned");
        let now = Instant::now();
        let fresh = flows
            .refused
            .insert(key, now)
            .is_none_or(|last| now.duration_since(last) >= self.idle);
        if fresh {
            flows.records += 1;
            drop(flows);
            record.datagrams_client_to_upstream = Some(0);
            record.end = timestamp(SystemTime::now());
            record.close_reason = error.close_reason.to_string();
            self.recorder.refused(record);
        }
    }

    fn recently_refused(&self, key: &str) -> bool {
        let mut flows = self.inner.lock().expect("never poisoned");
        match flows.refused.get_mut(key) {
            Some(last) if last.elapsed() < self.idle => {
                *last = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Sends one datagram: to the destination's flow, opening it first if needed.
    pub(super) async fn send(self: &Arc<Self>, target: TargetAddr, payload: &[u8]) {
        // Most datagrams go to an IP with a live flow: one lock, nothing formatted or
        // allocated. A live destination is never a recent refusal (refusals keep it closed).
        if let TargetHost::Ip(ip) = &target.host {
            let destination = SocketAddr::new(ip.to_canonical(), target.port);
            if let Some(socket) = self.live_socket(destination, payload.len()) {
                // A datagram the kernel cannot send now is lost, as UDP may lose it.
                let _ = socket.send_to(payload, destination).await;
                return;
            }
        }
        let target_key = format!("{}:{}", target.host, target.port);
        if self.recently_refused(&target_key) {
            return;
        }
        let addr = match &target.host {
            TargetHost::Ip(ip) => ip.to_canonical(),
            TargetHost::Name(name) => match self.resolver.lookup(name).await {
                Ok(found) => match prefer_ipv4(&found) {
                    Some(addr) => addr,
                    None => {
                        let error = name_error("dns_no_address", name, "no address");
                        let record = self.refusal_record(&target, None);
                        return self.refuse(target_key, record, &error);
                    }
                },
                Err(e) => {
                    let error = name_error("dns_error", name, &e);
                    let record = self.refusal_record(&target, None);
                    return self.refuse(target_key, record, &error);
                }
            },
        };
        let destination = SocketAddr::new(addr, target.port);
        let socket = match self.live_socket(destination, payload.len()) {
            Some(socket) => socket,
            None => match self.open_flow(&target, destination, payload.len() as u64) {
                Ok(socket) => socket,
                Err(refused) => {
                    let mut record = self.refusal_record(&target, Some(addr));
                    if let Some(planned) = &refused.planned {
                        fill_plan(&mut record, &planned.0, &planned.1);
                    }
                    return self.refuse(destination.to_string(), record, &refused.error);
                }
            },
        };
        // A datagram the kernel cannot send now is lost, as UDP may lose it.
        let _ = socket.send_to(payload, destination).await;
    }

    /// The source socket of `destination`'s live flow, counting a datagram of `len` bytes up.
    fn live_socket(&self, destination: SocketAddr, len: usize) -> Option<Arc<UdpSocket>> {
        let mut flows = self.inner.lock().expect("never poisoned");
        let Flows { live, sockets, .. } = &mut *flows;
        let flow = live.get_mut(&destination)?;
        flow.datagrams_up += 1;
        flow.bytes_up += len as u64;
        flow.last = Instant::now();
        Some(flows_socket(sockets, flow.source))
    }

    /// Decides a new destination, takes its port slot and records the flow as live.
    fn open_flow(
        self: &Arc<Self>,
        target: &TargetAddr,
        destination: SocketAddr,
        first_bytes: u64,
    ) -> Result<Arc<UdpSocket>, Refused> {
        let snapshot = self.snapshot.load();
        let addr = destination.ip();
        if super::super::own::is_own(&self.own.load(), addr)
            && !snapshot.is_allowed_destination(addr)
        {
            return Err(Refused::before_plan(not_allowed(
                "forbidden_destination",
                format!("{addr} is an address of this gateway"),
            )));
        }
        let intent = Intent {
            account: &self.who.account,
            user: self.who.user.as_deref(),
            client: ClientAddr(self.peer),
            internal_src_ip: None,
            proxy_endpoint: Some(&self.who.endpoint),
            target,
            dst_ip: Some(addr),
            transport: Transport::Udp,
            location: &self.settings.location,
            src_geo: Geo::default(),
            dst_geo: Geo::default(),
        };
        let plan = decide(&intent, &snapshot).map_err(|refusal| {
            Refused::before_plan(not_allowed(refusal.code(), format!("refused: {refusal}")))
        })?;
        let Some(route) = plan.route_for(addr).cloned() else {
            let error = OpenError {
                failure: OpenFailure::Unreachable,
                close_reason: "no_source_for_family",
                message: format!("no egress source for the address family of {addr}"),
            };
            return Err(Refused::before_plan(error));
        };
        let refuse = |failure, close_reason, message: String| {
            let error = OpenError {
                failure,
                close_reason,
                message,
            };
            Err(Refused {
                error,
                planned: Some(Box::new((plan.clone(), route.clone()))),
            })
        };
        if route.forwarded {
            return refuse(
                OpenFailure::Unreachable,
                "egress_location_unavailable",
                format!(
                    "UDP from {} must leave at location {}; UDP is not forwarded between locations yet",
                    route.source, route.egress_location
                ),
            );
        }
        if route.proxy_protocol_source.is_some() {
            return refuse(
                OpenFailure::NotAllowed,
                "udp_proxy_protocol_unsupported",
                format!("{destination} is on-net; UDP carries no PROXY v2 header yet"),
            );
        }
        let slot = match self.ledger.acquire(
            route.source,
            destination,
            plan.max_connections_per_destination,
        ) {
            Ok(slot) => slot,
            Err(e) => {
                return refuse(
                    OpenFailure::PortsExhausted,
                    "egress_port_allocation_error",
                    e.to_string(),
                )
            }
        };
        let mut flows = self.inner.lock().expect("never poisoned");
        let socket = match flows.sockets.get(&route.source) {
            Some((socket, _)) => Arc::clone(socket),
            None => match bind_udp(route.source) {
                Ok(socket) => {
                    let socket = Arc::new(socket);
                    let reader = tokio::spawn(read_replies(
                        Arc::downgrade(self),
                        Arc::clone(&socket),
                        route.source,
                    ));
                    flows
                        .sockets
                        .insert(route.source, (Arc::clone(&socket), reader));
                    socket
                }
                Err(e) => {
                    drop(flows);
                    return refuse(OpenFailure::Internal, e.close_reason(), e.to_string());
                }
            },
        };
        let (id, mut record) = self.new_record();
        record.dst_host = match &target.host {
            TargetHost::Name(name) => Some(name.clone()),
            TargetHost::Ip(_) => None,
        };
        record.dst_ip = Some(addr.to_string());
        record.dst_port = Some(destination.port());
        record.egress_port = socket.local_addr().ok().map(|a| a.port());
        fill_plan(&mut record, &plan, &route);
        let record = self.recorder.opened(id, record);
        flows.live.insert(
            destination,
            Flow {
                id,
                source: route.source,
                record,
                _slot: slot,
                bytes_up: first_bytes,
                bytes_down: 0,
                datagrams_up: 1,
                datagrams_down: 0,
                last: Instant::now(),
            },
        );
        Ok(socket)
    }

    /// Logs a flow that ended.
    fn end_flow(&self, flow: Flow, close_reason: &str) {
        let Flow {
            id,
            record,
            bytes_up,
            bytes_down,
            datagrams_up,
            datagrams_down,
            ..
        } = flow;
        self.recorder.ended(id, record, |r| {
            r.bytes_client_to_upstream = bytes_up;
            r.bytes_upstream_to_client = bytes_down;
            r.datagrams_client_to_upstream = Some(datagrams_up);
            r.datagrams_upstream_to_client = Some(datagrams_down);
            r.end = timestamp(SystemTime::now());
            r.close_reason = close_reason.to_string();
        });
    }

    /// Ends the flows (and forgets the refusals) quiet for the idle timeout.
    fn sweep_idle(&self) {
        let mut flows = self.inner.lock().expect("never poisoned");
        let idle = self.idle;
        let quiet: Vec<SocketAddr> = flows
            .live
            .iter()
            .filter(|(_, f)| f.last.elapsed() >= idle)
            .map(|(&dst, _)| dst)
            .collect();
        let ended: Vec<Flow> = quiet
            .iter()
            .filter_map(|dst| flows.live.remove(dst))
            .collect();
        flows.refused.retain(|_, last| last.elapsed() < idle);
        flows.records += ended.len() as u64;
        drop(flows);
        for flow in ended {
            self.end_flow(flow, "idle_timeout");
        }
    }

    /// Ends every flow and stops the readers; an association that never logged a record
    /// logs one for itself.
    pub(super) fn teardown(&self, close_reason: &str) {
        let mut flows = self.inner.lock().expect("never poisoned");
        let live: Vec<Flow> = flows.live.drain().map(|(_, f)| f).collect();
        for (_, (_, reader)) in flows.sockets.drain() {
            reader.abort();
        }
        let had_records = flows.records > 0 || !live.is_empty();
        drop(flows);
        for flow in live {
            self.end_flow(flow, close_reason);
        }
        if !had_records {
            let (_, mut record) = self.new_record();
            record.end = timestamp(SystemTime::now());
            record.close_reason = close_reason.to_string();
            self.recorder.refused(record);
        }
    }
}

/// A destination refused, with its plan when it got that far (for the log).
struct Refused {
    error: OpenError,
    planned: Option<Box<(Plan, Route)>>,
}

impl Refused {
    fn before_plan(error: OpenError) -> Self {
        Refused {
            error,
            planned: None,
        }
    }
}

fn flows_socket(
    sockets: &HashMap<EgressAddr, (Arc<UdpSocket>, JoinHandle<()>)>,
    source: EgressAddr,
) -> Arc<UdpSocket> {
    Arc::clone(
        &sockets
            .get(&source)
            .expect("a live flow's source socket lives as long as the association")
            .0,
    )
}

/// The first IPv4 address, else the first: one destination per name keeps a flow's plan and
/// port slot single (no Happy Eyeballs for datagrams).
fn prefer_ipv4(found: &[IpAddr]) -> Option<IpAddr> {
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
}

fn not_allowed(close_reason: &'static str, message: String) -> OpenError {
    OpenError {
        failure: OpenFailure::NotAllowed,
        close_reason,
        message,
    }
}

fn name_error(close_reason: &'static str, name: &str, detail: &str) -> OpenError {
    OpenError {
        failure: OpenFailure::NameNotResolved,
        close_reason,
        message: format!("cannot resolve {name}: {detail}"),
    }
}

/// Reads the replies arriving on one source socket; only destinations with a live flow of
/// this source reach the client.
async fn read_replies(state: std::sync::Weak<State>, socket: Arc<UdpSocket>, source: EgressAddr) {
    let mut buf = vec![0u8; super::MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(state) = state.upgrade() else { return };
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        let known = {
            let mut flows = state.inner.lock().expect("never poisoned");
            match flows.live.get_mut(&from) {
                Some(flow) if flow.source == source => {
                    flow.datagrams_down += 1;
                    flow.bytes_down += n as u64;
                    flow.last = Instant::now();
                    true
                }
                _ => false,
            }
        };
        if known {
            let reply = UdpReply {
                from,
                payload: buf[..n].to_vec(),
            };
            // A full queue loses the datagram rather than stalling every flow.
            if let Err(mpsc::error::TrySendError::Closed(_)) = state.replies.try_send(reply) {
                return;
            }
        }
    }
}

/// Ends idle flows until the association is gone.
pub(super) async fn sweep(state: std::sync::Weak<State>) {
    let period = match state.upgrade() {
        Some(s) => (s.idle / 4).max(Duration::from_millis(100)),
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        match state.upgrade() {
            Some(state) => state.sweep_idle(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_sent_to_its_first_ipv4_else_its_first_address() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("valid");
        assert_eq!(
            prefer_ipv4(&[ip("2001:db8::1"), ip("192.0.2.1"), ip("192.0.2.2")]),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(prefer_ipv4(&[ip("2001:db8::1")]), Some(ip("2001:db8::1")));
        assert_eq!(prefer_ipv4(&[]), None);
    }
}
