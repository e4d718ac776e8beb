//! Flows whose route leaves at another location (DESIGN rule 4 for UDP): a `connect-udp`
//! stream to a node there, which binds the dedicated IPv4, takes the port slot and relays to
//! the one destination. The stream opens in the background so the association keeps relaying
//! its other flows; the first datagrams wait in a short queue meanwhile. A stream that does not
//! open refuses the destination with the fleet's close reason, like any other refusal.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use egress_fleet::{FleetError, ForwardRequest, Membership, UdpReceiver, UdpSender, UdpTunnel};
use egress_model::{LocationCode, TargetAddr};
use egress_onramp::server::{OpenError, OpenFailure, UdpReply};
use egress_policy::{Plan, Route};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::super::open::fleet_error;
use super::super::super::ConnectionRecord;
use super::{Exit, Flow, State};

/// Datagrams a flow holds while its stream opens; later ones are dropped until it is open.
const EARLY_DATAGRAMS: usize = 8;

/// A forwarded flow whose stream is opening.
#[derive(Debug)]
pub(super) struct Opening {
    id: u64,
    /// What a refusal is remembered by (the target as the client named it).
    refusal_key: String,
    record: ConnectionRecord,
    early: Vec<Vec<u8>>,
    task: JoinHandle<()>,
}

impl Opening {
    /// Holds a datagram until the stream opens; `false` when the queue is full (dropped).
    pub(super) fn queue(&mut self, payload: &[u8]) -> bool {
        let room = self.early.len() < EARLY_DATAGRAMS;
        if room {
            self.early.push(payload.to_vec());
        }
        room
    }
}

/// An open forwarded flow: where its datagrams go, and the task relaying its replies (stopped
/// when the flow ends, which also drops the sender and so ends the stream).
#[derive(Debug)]
pub(super) struct Forwarded {
    pub(super) sender: UdpSender,
    replies: JoinHandle<()>,
}

impl Drop for Forwarded {
    fn drop(&mut self) {
        self.replies.abort();
    }
}

impl State {
    /// Starts opening the stream of a forwarded flow; `payload`, if any, waits in its queue.
    pub(super) fn open_forwarded(
        self: &Arc<Self>,
        target: &TargetAddr,
        destination: SocketAddr,
        plan: &Plan,
        route: &Route,
        payload: Option<&[u8]>,
    ) -> Result<(), OpenError> {
        let Some(fleet) = self.fleet.clone() else {
            return Err(OpenError {
                failure: OpenFailure::Unreachable,
                close_reason: "egress_location_unavailable",
                message: format!(
                    "UDP from {} leaves at location {}; this node has no fleet listener to \
                     forward there (serve --fleet-listen)",
                    route.source, route.egress_location
                ),
            });
        };
        let (id, record) = self.flow_record(target, destination, plan, route);
        let request = ForwardRequest {
            source: route.source.0,
            destination,
            max_connections_per_destination: plan.max_connections_per_destination,
            session: record.session_id.to_string(),
            account: self.who.account.to_string(),
        };
        let location = route.egress_location.clone();
        // Registered under the lock before the task can report back.
        let mut flows = self.inner.lock().expect("never poisoned");
        let task = tokio::spawn(open(Arc::downgrade(self), fleet, location, request, id));
        flows.opening.insert(
            destination,
            Opening {
                id,
                refusal_key: super::refusal_key(target),
                record,
                early: payload.map(|p| vec![p.to_vec()]).unwrap_or_default(),
                task,
            },
        );
        Ok(())
    }

    /// The stream of the flow `id` to `destination` opened or failed.
    fn opened(
        self: &Arc<Self>,
        destination: SocketAddr,
        id: u64,
        opened: Result<UdpTunnel, FleetError>,
    ) {
        let mut flows = self.inner.lock().expect("never poisoned");
        // Gone when the association ended meanwhile: dropping the tunnel ends its stream.
        if flows.opening.get(&destination).is_none_or(|o| o.id != id) {
            return;
        }
        let opening = flows
            .opening
            .remove(&destination)
            .expect("looked up just above");
        let tunnel = match opened {
            Ok(tunnel) => tunnel,
            Err(e) => {
                drop(flows);
                self.refuse(opening.refusal_key, opening.record, &fleet_error(&e));
                return;
            }
        };
        let UdpTunnel {
            egress,
            sender,
            receiver,
        } = tunnel;
        let Opening {
            mut record, early, ..
        } = opening;
        record.egress_port = egress.map(|a| a.port());
        let record = self.recorder.opened(record);
        let replies = tokio::spawn(relay_replies(
            Arc::downgrade(self),
            receiver,
            destination,
            id,
        ));
        let sent: Vec<usize> = early
            .iter()
            .filter(|payload| sender.send(payload).is_ok())
            .map(Vec::len)
            .collect();
        let mut flow = Flow::new(id, Exit::Forwarded(Forwarded { sender, replies }), record);
        for len in sent {
            flow.count_up(len);
        }
        flows.live.insert(destination, flow);
    }

    /// Logs a flow whose stream was still opening when the association ended.
    pub(super) fn end_opening(&self, opening: Opening, close_reason: &str) {
        opening.task.abort();
        let mut record = opening.record;
        record.close(close_reason);
        self.recorder.refused(record);
    }
}

/// Opens the stream at a node of `location` and reports to the association, if it still lives.
async fn open(
    state: Weak<State>,
    fleet: Arc<Membership>,
    location: LocationCode,
    request: ForwardRequest,
    id: u64,
) {
    let opened = fleet.open_udp(&location, &request).await;
    if let Some(state) = state.upgrade() {
        state.opened(request.destination, id, opened);
    }
}

/// Hands the destination's replies to the client (from the destination's address) until the
/// stream ends, then ends the flow with the stream's close reason.
async fn relay_replies(
    state: Weak<State>,
    mut receiver: UdpReceiver,
    destination: SocketAddr,
    id: u64,
) {
    loop {
        let received = receiver.recv().await;
        let Some(state) = state.upgrade() else { return };
        let mut flows = state.inner.lock().expect("never poisoned");
        let payload = match received {
            Ok(payload) => payload,
            Err(ended) => {
                let flow = match flows.live.get(&destination) {
                    Some(flow) if flow.id == id => flows.live.remove(&destination),
                    _ => None,
                };
                if flow.is_some() {
                    flows.records += 1;
                }
                drop(flows);
                if let Some(flow) = flow {
                    state.end_flow(flow, ended.close_reason);
                }
                return;
            }
        };
        match flows.live.get_mut(&destination) {
            Some(flow) if flow.id == id => flow.count_down(payload.len()),
            _ => return,
        }
        drop(flows);
        let reply = UdpReply {
            from: destination,
            payload,
        };
        // A full queue loses the datagram rather than stalling every flow.
        if let Err(mpsc::error::TrySendError::Closed(_)) = state.replies.try_send(reply) {
            return;
        }
    }
}
