//! Who is in the fleet, which peers answer, and the location health view that feeds the
//! snapshot: a location is healthy while at least one of its nodes answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use egress_model::{Config, LocationCode};
use egress_net::Upstream;
use egress_policy::LocationHealth;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rustls_pki_types::CertificateDer;
use tokio::sync::watch;

use crate::peer::{LinkTimeouts, PeerLink, PeerSpec};
use crate::pki::{names_node, FleetTls};
use crate::udp::tunnel::UdpTunnel;
use crate::wire::{ForwardRequest, TunnelKind};
use crate::FleetError;

/// This node's view of the fleet.
#[derive(Debug)]
pub struct Membership {
    me: String,
    location: LocationCode,
    tls: FleetTls,
    timeouts: LinkTimeouts,
    peers: ArcSwap<Vec<Arc<PeerLink>>>,
    locations: ArcSwap<Vec<LocationCode>>,
    health: watch::Sender<LocationHealth>,
    next: AtomicUsize,
}

/// One peer's state, for the API and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub spec: PeerSpec,
    /// Whether its last probes answered.
    pub up: bool,
    /// Whether this node has probed it yet (before the first probe `up` is false).
    pub probed: bool,
}

impl Membership {
    /// This node (`me`, in `location`) with the peers `config` names.
    pub fn new(
        me: &str,
        location: LocationCode,
        tls: FleetTls,
        timeouts: LinkTimeouts,
        config: &Config,
    ) -> Arc<Membership> {
        let membership = Arc::new(Membership {
            me: me.to_owned(),
            location,
            tls,
            timeouts,
            peers: ArcSwap::from_pointee(Vec::new()),
            locations: ArcSwap::from_pointee(Vec::new()),
            health: watch::channel(LocationHealth::all_up()).0,
            next: AtomicUsize::new(0),
        });
        membership.update(config);
        membership
    }

    /// Takes the node list of a new configuration; links to unchanged peers are kept.
    pub fn update(&self, config: &Config) {
        let old = self.peers.load();
        let peers = config
            .nodes
            .iter()
            .filter(|node| node.id != self.me)
            .filter_map(|node| {
                let spec = PeerSpec {
                    id: node.id.clone(),
                    location: node.location.clone(),
                    address: node.fleet_address?,
                };
                let kept = old.iter().find(|link| *link.spec() == spec).cloned();
                Some(kept.unwrap_or_else(|| {
                    Arc::new(PeerLink::new(
                        spec,
                        Arc::clone(&self.tls.client),
                        self.timeouts,
                    ))
                }))
            })
            .collect();
        self.peers.store(Arc::new(peers));
        self.locations.store(Arc::new(
            config.locations.iter().map(|l| l.code.clone()).collect(),
        ));
        self.publish();
    }

    /// This node's id.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// This node's location.
    pub fn location(&self) -> &LocationCode {
        &self.location
    }

    /// TLS settings of the fleet.
    pub fn tls(&self) -> &FleetTls {
        &self.tls
    }

    /// The node a verified peer certificate names, if it is one of the configuration's.
    pub fn identify(&self, cert: &CertificateDer<'_>) -> Option<String> {
        self.peers
            .load()
            .iter()
            .map(|link| &link.spec().id)
            .find(|id| names_node(cert, id))
            .cloned()
    }

    /// Health view updates.
    pub fn health(&self) -> watch::Receiver<LocationHealth> {
        self.health.subscribe()
    }

    /// Every peer and whether it answers.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peers
            .load()
            .iter()
            .map(|link| PeerStatus {
                spec: link.spec().clone(),
                up: link.is_up(),
                probed: link.is_probed(),
            })
            .collect()
    }

    /// Probes every peer once, concurrently, and publishes the health view.
    pub async fn probe_all(&self) {
        let peers = self.peers.load_full();
        let probes = peers.iter().map(|link| link.probe());
        futures_util::future::join_all(probes).await;
        self.publish();
    }

    /// Probes every `interval` until the task is dropped.
    pub fn spawn_prober(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let membership = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                membership.probe_all().await;
            }
        })
    }

    /// Locations without an answering node are down; this node's own location is up.
    fn publish(&self) {
        let peers = self.peers.load();
        let health = self
            .locations
            .load()
            .iter()
            .filter(|code| **code != self.location)
            .filter(|code| {
                !peers
                    .iter()
                    .any(|link| link.spec().location == **code && link.is_up())
            })
            .fold(LocationHealth::all_up(), |h, code| h.down(code.as_str()));
        self.health.send_if_modified(|current| {
            let changed = *current != health;
            if changed {
                tracing::info!(down = ?health, "fleet location health changed");
                *current = health;
            }
            changed
        });
    }

    /// Opens a tunnel through an answering node of `location`, trying each in turn.
    pub async fn open(
        &self,
        location: &LocationCode,
        request: &ForwardRequest,
    ) -> Result<Upstream, FleetError> {
        let (stream, egress) = self.open_stream(location, TunnelKind::Tcp, request).await?;
        Ok(Upstream::Forwarded {
            stream: Box::new(stream),
            egress,
        })
    }

    /// Opens a UDP flow through an answering node of `location`, trying each in turn: that
    /// node sends to `request.destination` from `request.source` and relays its replies.
    pub async fn open_udp(
        &self,
        location: &LocationCode,
        request: &ForwardRequest,
    ) -> Result<UdpTunnel, FleetError> {
        let (stream, egress) = self.open_stream(location, TunnelKind::Udp, request).await?;
        Ok(UdpTunnel::start(stream, egress))
    }

    async fn open_stream(
        &self,
        location: &LocationCode,
        kind: TunnelKind,
        request: &ForwardRequest,
    ) -> Result<(TokioIo<Upgraded>, Option<SocketAddr>), FleetError> {
        let peers = self.peers.load_full();
        let candidates: Vec<&Arc<PeerLink>> = peers
            .iter()
            .filter(|link| link.spec().location == *location && link.is_up())
            .collect();
        if candidates.is_empty() {
            return Err(FleetError::LocationUnavailable {
                location: location.clone(),
            });
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for i in 0..candidates.len() {
            let link = candidates[(start + i) % candidates.len()];
            match link.open_stream(kind, request).await {
                Ok(opened) => return Ok(opened),
                // The destination's own answer: another node would get the same.
                Err(refused @ FleetError::Refused { .. }) => return Err(refused),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one candidate was tried"))
    }
}
