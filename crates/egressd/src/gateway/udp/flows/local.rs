//! Flows that leave from this node: one socket per source address per association, bound with
//! freebind, and a task per socket that hands the client the replies of live flows only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use egress_model::{EgressAddr, TargetAddr};
use egress_net::bind_udp;
use egress_onramp::server::{OpenError, OpenFailure, UdpReply};
use egress_policy::{Plan, Route};

use super::super::super::take_port_slot;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Exit, Flow, State};

impl State {
    /// Takes the port slot for (source, destination), the association's socket for the source
    /// (bound on first use) and records the flow as live.
    pub(super) fn open_local(
        self: &Arc<Self>,
        target: &TargetAddr,
        destination: SocketAddr,
        plan: &Plan,
        route: &Route,
        payload: Option<&[u8]>,
    ) -> Result<Arc<UdpSocket>, OpenError> {
        let slot = take_port_slot(&self.ledger, plan, route, destination)?;
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
                    return Err(OpenError {
                        failure: OpenFailure::Internal,
                        close_reason: e.close_reason(),
                        message: e.to_string(),
                    });
                }
            },
        };
        let (id, mut record) = self.flow_record(target, destination, plan, route);
        record.egress_port = socket.local_addr().ok().map(|a| a.port());
        let record = self.recorder.opened(record);
        let exit = Exit::Local {
            source: route.source,
            _slot: slot,
        };
        let mut flow = Flow::new(id, exit, record);
        if let Some(payload) = payload {
            flow.count_up(payload.len());
        }
        flows.live.insert(destination, flow);
        Ok(socket)
    }
}

/// The socket of a live local flow's source.
pub(super) fn flows_socket(
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

/// Reads the replies arriving on one source socket; only destinations with a live flow of
/// this source reach the client.
async fn read_replies(state: Weak<State>, socket: Arc<UdpSocket>, source: EgressAddr) {
    let mut buf = vec![0u8; super::super::MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(state) = state.upgrade() else { return };
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        let known = {
            let mut flows = state.inner.lock().expect("never poisoned");
            match flows.live.get_mut(&from) {
                Some(flow) if matches!(flow.exit, Exit::Local { source: s, .. } if s == source) => {
                    flow.count_down(n);
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
