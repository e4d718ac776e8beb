//! The node's MASQUE listeners: their TLS from each endpoint's PEM files, read at start and
//! again at every configuration change (so a renewed certificate needs a reload, not a
//! restart), and the accept loop of each QUIC endpoint.
//!
//! A revision whose masque certificate or key cannot be read is refused as a whole, before
//! anything of it is applied: the running configuration and certificates stay.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egress_model::{Config, EndpointTls, ProxyProtocol};
use egress_onramp::server::{handle_masque, masque_server_config, Listener, OnRampSettings};
use tokio::task::JoinSet;

use crate::gateway::EgressGateway;

/// Each masque listening address with the TLS its endpoints present (validation guarantees
/// one per address) and the first endpoint's name for messages.
pub fn masque_listeners(config: &Config) -> BTreeMap<SocketAddr, (EndpointTls, String)> {
    config
        .accounts
        .iter()
        .flat_map(|a| a.proxy_endpoints.iter().map(move |ep| (a, ep)))
        .filter(|(_, ep)| ep.protocol == ProxyProtocol::Masque)
        .filter_map(|(a, ep)| {
            let tls = ep.tls.clone()?;
            Some((
                ep.listen,
                (tls, format!("endpoint {:?} of account {}", ep.name, a.id)),
            ))
        })
        .rev()
        .collect()
}

/// Builds the QUIC server configuration of every masque listener of `config`, or says which
/// endpoints' files failed (each on a line of its own).
pub fn load_all(
    config: &Config,
    idle: Duration,
) -> Result<BTreeMap<SocketAddr, quinn::ServerConfig>, String> {
    let mut loaded = BTreeMap::new();
    let mut failed = Vec::new();
    for (addr, (tls, endpoint)) in masque_listeners(config) {
        match masque_server_config(&tls, idle) {
            Ok(server) => {
                loaded.insert(addr, server);
            }
            Err(e) => failed.push(format!("masque {endpoint} on {addr}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(loaded)
    } else {
        Err(failed.join("\n"))
    }
}

/// The masque listeners this node runs, whose certificates follow configuration changes.
#[derive(Debug, Default)]
pub struct MasqueListeners {
    /// `None` until the node serves traffic (a control-plane-only replica never does).
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    idle: Duration,
    endpoints: BTreeMap<SocketAddr, quinn::Endpoint>,
}

/// Certificates read for a revision, installed once it is applied.
#[derive(Debug, Default)]
pub struct Prepared(BTreeMap<SocketAddr, quinn::ServerConfig>);

impl MasqueListeners {
    /// From now on every revision must carry readable certificates for its masque endpoints;
    /// `endpoints` are the listeners opened at start.
    pub fn start(&self, idle: Duration, endpoints: BTreeMap<SocketAddr, quinn::Endpoint>) {
        *self.running.lock().expect("never poisoned") = Some(Running { idle, endpoints });
    }

    /// Reads every masque endpoint's certificate and key for `config`: an error (naming the
    /// endpoint and file) refuses the revision. Blocking (reads files).
    pub fn prepare(&self, config: &Config) -> Result<Prepared, String> {
        let idle = match &*self.running.lock().expect("never poisoned") {
            Some(running) => running.idle,
            None => return Ok(Prepared::default()),
        };
        load_all(config, idle).map(Prepared)
    }

    /// Gives the running listeners the certificates of the applied revision: new connections
    /// use them, open ones keep theirs. A listener whose endpoints are gone keeps its last
    /// certificate until the node restarts (listeners are opened at start).
    pub fn install(&self, prepared: Prepared) {
        let running = self.running.lock().expect("never poisoned");
        let Some(running) = &*running else { return };
        for (addr, server) in prepared.0 {
            if let Some(endpoint) = running.endpoints.get(&addr) {
                endpoint.set_server_config(Some(server));
            }
        }
    }
}

/// One QUIC endpoint and the connections it accepted.
pub struct MasqueAcceptLoop {
    pub endpoint: quinn::Endpoint,
    pub listener: Arc<Listener>,
    pub gateway: Arc<EgressGateway>,
    pub onramp: Arc<OnRampSettings>,
}

impl MasqueAcceptLoop {
    /// Accepts until told to stop, then refuses new connections and gives open ones `grace`
    /// to finish; returns how many had to be aborted.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>, grace: Duration) -> usize {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                incoming = self.endpoint.accept() => match incoming {
                    Some(incoming) => {
                        connections.spawn(handle_masque(
                            incoming,
                            Arc::clone(&self.listener),
                            Arc::clone(&self.gateway),
                            Arc::clone(&self.onramp),
                        ));
                    }
                    // The endpoint was closed.
                    None => break,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // New handshakes are refused from here on; open connections may finish.
        self.endpoint.set_server_config(None);
        let drained = tokio::time::timeout(grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        let left = if drained.is_ok() {
            0
        } else {
            let left = connections.len();
            connections.abort_all();
            while connections.join_next().await.is_some() {}
            left
        };
        self.endpoint
            .close(quinn::VarInt::from_u32(0), b"shutting down");
        left
    }
}
