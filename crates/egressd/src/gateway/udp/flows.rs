//! The flows of one association: deciding each destination once, the sockets per source
//! address ([`local`]), relaying replies, and ending idle flows. Flows whose route leaves at
//! another location go through the fleet instead ([`forwarded`]).

mod forwarded;
mod local;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use egress_fleet::{Membership, UdpSendError};
use egress_model::{ClientAddr, EgressAddr, TargetAddr, TargetHost};
use egress_net::PortSlot;
use egress_onramp::server::{Authorized, OnRamp, OpenError, OpenFailure, UdpReply};
use egress_policy::{decide, Geo, Intent, Plan, Route, Snapshot, Transport};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::super::metrics::DropLabels;
use super::super::sessions::SessionGuard;
use super::super::{
    base_record, fill_plan, resolve, ConnectionRecord, DataPathSettings, Datagrams, Recorder,
};
use local::flows_socket;

/// What every flow of an association shares.
#[derive(Debug)]
pub(super) struct State {
    pub(super) who: Authorized,
    pub(super) peer: SocketAddr,
    pub(super) onramp: OnRamp,
    pub(super) idle: Duration,
    pub(super) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(super) own: Arc<ArcSwap<Vec<ipnet::IpNet>>>,
    pub(super) settings: DataPathSettings,
    pub(super) sessions: Arc<AtomicU64>,
    pub(super) ledger: egress_net::PortLedger,
    pub(super) recorder: Arc<Recorder>,
    pub(super) resolver: resolve::GatewayResolver,
    /// The fleet that carries flows leaving at other locations, when this node has one.
    pub(super) fleet: Option<Arc<Membership>>,
    pub(super) replies: mpsc::Sender<UdpReply>,
    /// A single-target association's target, once its flow opened.
    pub(super) pinned: OnceLock<Pinned>,
    pub(super) inner: Mutex<Flows>,
    /// The association counts as one session of the account (and user).
    pub(super) _counted: SessionGuard,
}

/// The one target of a CONNECT-UDP association and the address it resolved to when the
/// association opened: later datagrams go there without resolving again.
#[derive(Debug)]
pub(super) struct Pinned {
    target: TargetAddr,
    destination: SocketAddr,
}

#[derive(Debug, Default)]
pub(super) struct Flows {
    /// Live flows by destination.
    live: HashMap<SocketAddr, Flow>,
    /// Forwarded flows whose stream is still opening, by destination.
    opening: HashMap<SocketAddr, forwarded::Opening>,
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
    exit: Exit,
    record: Arc<ConnectionRecord>,
    bytes_up: u64,
    bytes_down: u64,
    datagrams_up: u64,
    datagrams_down: u64,
    last: Instant,
}

/// Where a flow's datagrams leave.
#[derive(Debug)]
enum Exit {
    /// From this node's socket for the source, holding the source's port slot.
    Local { source: EgressAddr, _slot: PortSlot },
    /// Through a node of the egress location (which holds the port slot).
    Forwarded(forwarded::Forwarded),
}

impl Flow {
    fn new(id: u64, exit: Exit, record: Arc<ConnectionRecord>) -> Flow {
        Flow {
            id,
            exit,
            record,
            bytes_up: 0,
            bytes_down: 0,
            datagrams_up: 0,
            datagrams_down: 0,
            last: Instant::now(),
        }
    }

    fn count_up(&mut self, len: usize) {
        self.datagrams_up += 1;
        self.bytes_up += len as u64;
        self.last = Instant::now();
    }

    fn count_down(&mut self, len: usize) {
        self.datagrams_down += 1;
        self.bytes_down += len as u64;
        self.last = Instant::now();
    }
}

/// What to do with a datagram once the flows were looked at.
enum Next {
    /// Send it from this socket.
    Send(Arc<UdpSocket>),
    /// Nothing more: queued for the fleet, or dropped.
    Done,
    /// No flow yet: decide the destination.
    Open,
}

impl State {
    fn new_record(&self) -> (u64, ConnectionRecord) {
        let (id, mut record) = base_record(&self.settings, &self.sessions, self.peer, self.onramp);
        record.transport = Transport::Udp;
        record.datagrams = Some(Datagrams::default());
        super::fill_who(&mut record, &self.who);
        (id, record)
    }

    fn refusal_record(&self, target: &TargetAddr, addr: Option<IpAddr>) -> ConnectionRecord {
        let (_, mut record) = self.new_record();
        if let TargetHost::Name(name) = &target.host {
            record.dst_host = Some(name.as_str().into());
        }
        record.dst_ip = addr;
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
            record.close(error.close_reason);
            self.recorder.refused(record);
        }
    }

    /// Logs a target refused once its address was known, with its plan when it got that far.
    fn refuse_planned(&self, target: &TargetAddr, addr: IpAddr, refused: &Refused) {
        let mut record = self.refusal_record(target, Some(addr));
        if let Some(planned) = &refused.planned {
            fill_plan(&mut record, &planned.0, &planned.1);
        }
        self.refuse(refusal_key(target), record, &refused.error);
    }

    fn recently_refused(&self, target: &TargetAddr) -> bool {
        let mut flows = self.inner.lock().expect("never poisoned");
        if flows.refused.is_empty() {
            return false;
        }
        match flows.refused.get_mut(&refusal_key(target)) {
            Some(last) if last.elapsed() < self.idle => {
                *last = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// The address a target is sent to: its IP, or its name's first IPv4 (else first address).
    async fn resolve(&self, target: &TargetAddr) -> Result<IpAddr, OpenError> {
        match &target.host {
            TargetHost::Ip(ip) => Ok(ip.to_canonical()),
            TargetHost::Name(name) => match self.resolver.lookup(name).await {
                Ok(found) => prefer_ipv4(&found)
                    .ok_or_else(|| name_error("dns_no_address", name, "no address")),
                Err(e) => Err(name_error("dns_error", name, &e)),
            },
        }
    }

    /// Opens the flow of a single-target association before any datagram: resolved, decided
    /// and given its port slot now, so that a refusal can be answered (and is logged). A flow
    /// forwarded to another location is still opening when this returns; if its stream fails,
    /// the refusal is logged then and its datagrams are dropped.
    pub(super) async fn open_pinned(self: &Arc<Self>, target: TargetAddr) -> Result<(), OpenError> {
        let addr = match self.resolve(&target).await {
            Ok(addr) => addr,
            Err(error) => {
                let record = self.refusal_record(&target, None);
                self.refuse(refusal_key(&target), record, &error);
                return Err(error);
            }
        };
        let destination = SocketAddr::new(addr, target.port);
        if let Err(refused) = self.open_flow(&target, destination, None) {
            self.refuse_planned(&target, addr, &refused);
            return Err(refused.error);
        }
        let pinned = Pinned {
            target,
            destination,
        };
        self.pinned
            .set(pinned)
            .expect("an association opens its one target once");
        Ok(())
    }

    /// Sends one datagram: to the destination's flow, opening it first if needed. A
    /// single-target association sends to its target only.
    pub(super) async fn send(self: &Arc<Self>, target: TargetAddr, payload: &[u8]) {
        if let Some(pinned) = self.pinned.get() {
            if target != pinned.target {
                self.count_drop("foreign_target");
                return;
            }
            return self.send_to(&target, pinned.destination, payload).await;
        }
        // An address goes straight to its flow: one lock, nothing formatted or allocated (a
        // live destination is never a recent refusal). A name refused recently is not
        // resolved again.
        if matches!(target.host, TargetHost::Name(_)) && self.recently_refused(&target) {
            return;
        }
        let addr = match self.resolve(&target).await {
            Ok(addr) => addr,
            Err(error) => {
                let record = self.refusal_record(&target, None);
                return self.refuse(refusal_key(&target), record, &error);
            }
        };
        self.send_to(&target, SocketAddr::new(addr, target.port), payload)
            .await;
    }

    /// Sends one datagram to a resolved destination, through its flow.
    async fn send_to(
        self: &Arc<Self>,
        target: &TargetAddr,
        destination: SocketAddr,
        payload: &[u8],
    ) {
        let socket = match self.next_for(destination, payload) {
            Next::Send(socket) => socket,
            Next::Done => return,
            Next::Open if self.recently_refused(target) => return,
            Next::Open => match self.open_flow(target, destination, Some(payload)) {
                Ok(Some(socket)) => socket,
                Ok(None) => return,
                Err(refused) => return self.refuse_planned(target, destination.ip(), &refused),
            },
        };
        // A datagram the kernel cannot send now is lost, as UDP may lose it.
        let _ = socket.send_to(payload, destination).await;
    }

    /// Counts a datagram into the destination's flow and says where it goes.
    fn next_for(&self, destination: SocketAddr, payload: &[u8]) -> Next {
        let mut flows = self.inner.lock().expect("never poisoned");
        let Flows {
            live,
            opening,
            sockets,
            ..
        } = &mut *flows;
        if let Some(opening) = opening.get_mut(&destination) {
            if !opening.queue(payload) {
                self.count_drop("fleet_queue_full");
            }
            return Next::Done;
        }
        let Some(flow) = live.get_mut(&destination) else {
            return Next::Open;
        };
        match &flow.exit {
            Exit::Local { source, .. } => {
                let socket = flows_socket(sockets, *source);
                flow.count_up(payload.len());
                Next::Send(socket)
            }
            Exit::Forwarded(forwarded) => {
                match forwarded.sender.send(payload) {
                    Ok(()) => flow.count_up(payload.len()),
                    Err(UdpSendError::Full) => self.count_drop("fleet_queue_full"),
                    // The stream just ended: its flow ends as soon as its reply task sees it.
                    Err(UdpSendError::Closed) => self.count_drop("fleet_stream_closed"),
                }
                Next::Done
            }
        }
    }

    /// Counts a dropped datagram.
    pub(super) fn count_drop(&self, reason: &'static str) {
        self.recorder
            .metrics
            .udp_dropped
            .get_or_create(&DropLabels { reason })
            .inc();
    }

    /// A new flow's record: its destination and plan.
    fn flow_record(
        &self,
        target: &TargetAddr,
        destination: SocketAddr,
        plan: &Plan,
        route: &Route,
    ) -> (u64, ConnectionRecord) {
        let (id, mut record) = self.new_record();
        record.dst_host = match &target.host {
            TargetHost::Name(name) => Some(name.as_str().into()),
            TargetHost::Ip(_) => None,
        };
        record.dst_ip = Some(destination.ip());
        record.dst_port = Some(destination.port());
        fill_plan(&mut record, plan, route);
        (id, record)
    }

    /// Decides a new destination, takes its port slot and records the flow as live, counting
    /// the datagram that opened it (`None`: opened before any, for a single target): the
    /// socket to send from, or `None` when the flow is forwarded (the datagram waits for the
    /// stream to open).
    fn open_flow(
        self: &Arc<Self>,
        target: &TargetAddr,
        destination: SocketAddr,
        payload: Option<&[u8]>,
    ) -> Result<Option<Arc<UdpSocket>>, Refused> {
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
            return match self.open_forwarded(target, destination, &plan, &route, payload) {
                Ok(()) => Ok(None),
                Err(e) => refuse(e.failure, e.close_reason, e.message),
            };
        }
        if route.proxy_protocol_source.is_some() {
            return refuse(
                OpenFailure::NotAllowed,
                "udp_proxy_protocol_unsupported",
                format!("{destination} is on-net; UDP carries no PROXY v2 header yet"),
            );
        }
        match self.open_local(target, destination, &plan, &route, payload) {
            Ok(socket) => Ok(Some(socket)),
            Err(e) => refuse(e.failure, e.close_reason, e.message),
        }
    }

    /// Logs a flow that ended.
    fn end_flow(&self, flow: Flow, close_reason: &str) {
        let Flow {
            record,
            bytes_up,
            bytes_down,
            datagrams_up,
            datagrams_down,
            ..
        } = flow;
        self.recorder.ended(record, |r| {
            r.bytes_client_to_upstream = bytes_up;
            r.bytes_upstream_to_client = bytes_down;
            r.datagrams = Some(Datagrams {
                client_to_upstream: datagrams_up,
                upstream_to_client: datagrams_down,
            });
            r.close(close_reason);
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
        let opening: Vec<forwarded::Opening> = flows.opening.drain().map(|(_, o)| o).collect();
        for (_, (_, reader)) in flows.sockets.drain() {
            reader.abort();
        }
        let had_records = flows.records > 0 || !live.is_empty() || !opening.is_empty();
        drop(flows);
        for flow in live {
            self.end_flow(flow, close_reason);
        }
        for opening in opening {
            self.end_opening(opening, close_reason);
        }
        if !had_records {
            let (_, mut record) = self.new_record();
            record.close(close_reason);
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

/// The first IPv4 address, else the first: one destination per name keeps a flow's plan and
/// port slot single (no Happy Eyeballs for datagrams).
fn prefer_ipv4(found: &[IpAddr]) -> Option<IpAddr> {
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
}

/// The key of a refused target: a literal address as `ip:port` / `[ip]:port`, a name as given.
fn refusal_key(target: &TargetAddr) -> String {
    match &target.host {
        TargetHost::Ip(ip) => SocketAddr::new(ip.to_canonical(), target.port).to_string(),
        TargetHost::Name(name) => format!("{name}:{}", target.port),
    }
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
