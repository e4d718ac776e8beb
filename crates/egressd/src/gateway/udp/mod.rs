//! UDP associations (SOCKS5 UDP ASSOCIATE, MASQUE CONNECT-UDP). Each destination (IP and port)
//! the client sends to is a flow: decided once with `Transport::Udp`, holding a port-ledger slot for (source,
//! destination) like a TCP connection, and logged as one record when it ends (idle timeout or
//! the association's end). Datagrams leave from one socket per source address per association.
//! A CONNECT-UDP association names its one target up front: that flow is opened (or refused)
//! before the client gets an answer, and the association sends nowhere else.
//!
//! A destination whose route leaves at another location is forwarded to a node there over the
//! fleet (`connect-udp`, one stream per flow, datagrams as capsules); the flow is logged here,
//! at the ingress node. An on-net route (PROXY v2) is refused (`udp_proxy_protocol_unsupported`),
//! so that a destination never sees the default range where a policy asked for the dedicated
//! address.

use std::sync::{Arc, Mutex};

use egress_model::TargetAddr;
use egress_onramp::server::{
    AssociateRequest, Associated, Authorized, BoxFuture, OpenError, OpenFailure, UdpAssociation,
};
use egress_policy::Transport;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ConnectionRecord, EgressGateway};

/// Replies queued for the client before the association drops more (UDP may lose them).
const REPLY_QUEUE: usize = 256;
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

impl EgressGateway {
    pub(super) async fn associate_inner(
        &self,
        request: AssociateRequest,
    ) -> Result<Associated, OpenError> {
        let snapshot = self.snapshot.load();
        let counted = self
            .live
            .enter(
                &request.who.account,
                request.who.user.as_deref(),
                snapshot.max_sessions(),
            )
            .map_err(|reason| {
                let (_, mut record) = self.base_record(request.peer, request.onramp);
                record.transport = Transport::Udp;
                fill_who(&mut record, &request.who);
                self.log_failure(record, reason);
                OpenError {
                    failure: OpenFailure::TooManySessions,
                    close_reason: reason,
                    message: format!("session limit reached ({reason})"),
                }
            })?;
        drop(snapshot);
        let (replies_tx, replies) = mpsc::channel(REPLY_QUEUE);
        let state = Arc::new(State {
            who: request.who,
            peer: request.peer,
            onramp: request.onramp,
            idle: request.idle_timeout,
            snapshot: Arc::clone(&self.snapshot),
            own: Arc::clone(&self.own),
            settings: self.settings.clone(),
            sessions: Arc::clone(&self.sessions),
            ledger: self.ledger.clone(),
            recorder: Arc::clone(&self.recorder),
            resolver: self.resolver.clone(),
            fleet: self.fleet.clone(),
            replies: replies_tx,
            pinned: std::sync::OnceLock::new(),
            inner: Mutex::default(),
            _counted: counted,
        });
        if let Some(target) = request.target {
            // Refused: the refusal is logged, and dropping the state releases the session.
            state.open_pinned(target).await?;
        }
        let sweeper = tokio::spawn(sweep(Arc::downgrade(&state)));
        Ok(Associated {
            association: Box::new(GatewayAssociation {
                state,
                sweeper,
                finished: false,
            }),
            replies,
        })
    }
}

fn fill_who(record: &mut ConnectionRecord, who: &Authorized) {
    record.account = Some(Arc::clone(&who.account));
    record.user = who.user.clone();
    record.proxy_endpoint = Some(Arc::clone(&who.endpoint));
}

mod flows;

use flows::{sweep, State};

/// The gateway's side of one association, handed to the on-ramp.
#[derive(Debug)]
struct GatewayAssociation {
    state: Arc<State>,
    sweeper: JoinHandle<()>,
    finished: bool,
}

impl UdpAssociation for GatewayAssociation {
    fn send<'a>(&'a self, target: TargetAddr, payload: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(self.state.send(target, payload))
    }

    fn dropped(&self, reason: &'static str) {
        self.state.count_drop(reason);
    }

    fn finish(mut self: Box<Self>, close_reason: &str) {
        self.finished = true;
        self.sweeper.abort();
        self.state.teardown(close_reason);
    }
}

impl Drop for GatewayAssociation {
    fn drop(&mut self) {
        // Dropped without finish (task aborted at shutdown): its flows are still logged.
        if !self.finished {
            self.sweeper.abort();
            self.state.teardown("aborted");
        }
    }
}
