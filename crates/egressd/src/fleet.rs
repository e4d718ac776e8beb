//! Joining the fleet: the fleet listener, peer probes, and the health view that feeds the
//! gateway's snapshot (this node's probes, and with a control plane the fleet's shared view).

use std::sync::Arc;
use std::time::Duration;

use egress_fleet::{FleetFiles, FleetTls, LinkTimeouts, Membership, PeerStatus, ServeSettings};
use egress_model::{Config, LocationCode};
use egress_policy::LocationHealth;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::gateway::EgressGateway;
use crate::serve::BACKLOG;
use crate::subscribe::Subscription;
use crate::system;

/// Loads the fleet certificates and opens the fleet listener.
pub fn join(
    dir: &std::path::Path,
    config: &Config,
    node_id: &str,
    location: &str,
    args: &ServeArgs,
) -> Result<(Arc<Membership>, TcpListener), String> {
    let files = FleetFiles {
        ca: dir.join(egress_fleet::pki::CA_CERT_FILE),
        cert: dir.join(crate::cmd_fleet::NODE_CERT_FILE),
        key: dir.join(crate::cmd_fleet::NODE_KEY_FILE),
    };
    let tls = FleetTls::load(&files).map_err(|e| format!("--fleet-dir: {e}"))?;
    let configured = config
        .nodes
        .iter()
        .find(|n| n.id == node_id)
        .and_then(|n| n.fleet_address);
    let addr = args.fleet_listen.or(configured).ok_or_else(|| {
        format!("--fleet-dir: node {node_id} has no fleet_address in the configuration; give --fleet-listen")
    })?;
    let listener = system::listen(addr, BACKLOG)
        .map_err(|e| format!("cannot listen on {addr} (fleet): {e}"))?;
    eprintln!("egressd: fleet listener on {addr}");
    let connect = Duration::from_secs(args.connect_timeout_secs);
    let timeouts = LinkTimeouts {
        connect: connect.min(Duration::from_secs(3)),
        probe: Duration::from_millis(args.fleet_probe_interval_ms.clamp(100, 5_000)),
        open: connect,
    };
    let membership = Membership::new(
        node_id,
        LocationCode(location.into()),
        tls,
        timeouts,
        config,
    );
    Ok((membership, listener))
}

/// Serves peers, probes them, and feeds their health into the gateway's snapshot.
pub fn run(
    membership: Arc<Membership>,
    listener: TcpListener,
    gateway: &Arc<EgressGateway>,
    args: &ServeArgs,
    subscription: Option<Subscription>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let settings = ServeSettings {
        handshake_timeout: Duration::from_secs(args.head_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        // The ingress node ends idle UDP flows after the same timeout; this is the backstop.
        udp_idle_timeout: Duration::from_secs(args.idle_timeout_secs.saturating_mul(2)),
    };
    let dialer: Arc<dyn egress_fleet::ForwardDialer> = Arc::clone(gateway) as _;
    let server = tokio::spawn(egress_fleet::serve(
        listener,
        Arc::clone(&membership),
        dialer,
        settings,
    ));
    let interval = Duration::from_millis(args.fleet_probe_interval_ms.max(50));
    let prober = membership.spawn_prober(interval);
    let (shared_tx, shared) = watch::channel(None);
    let mut tasks = vec![server, prober];
    if let Some(subscription) = subscription {
        tasks.push(tokio::spawn(share_health(
            Arc::clone(&membership),
            subscription,
            shared_tx,
            interval,
        )));
    }
    tasks.push(tokio::spawn(follow_health(
        membership,
        Arc::clone(gateway),
        shared,
    )));
    tasks
}

/// Feeds the gateway this node's view, completed by the fleet's shared view where this node
/// knows nothing yet.
async fn follow_health(
    membership: Arc<Membership>,
    gateway: Arc<EgressGateway>,
    mut shared: watch::Receiver<Option<Vec<String>>>,
) {
    let mut own = membership.health();
    let mut sharing = true;
    loop {
        let view = merged(
            own.borrow_and_update().clone(),
            &membership.peers(),
            shared.borrow_and_update().as_deref(),
        );
        gateway.set_health(view);
        let peers = membership.peers();
        let up = peers.iter().filter(|p| p.up).count();
        eprintln!(
            "egressd: fleet health: peers_up={up}/{} locations_down={:?}",
            peers.len(),
            gateway.locations_down()
        );
        // Without a control plane nothing sends a shared view: its channel closes at once.
        tokio::select! {
            changed = own.changed() => if changed.is_err() { return },
            changed = shared.changed(), if sharing => sharing = changed.is_ok(),
        }
    }
}

/// Reports this node's view to a control plane every probe interval and takes the fleet's
/// view in return, so a node that just started knows at once which locations answer.
async fn share_health(
    membership: Arc<Membership>,
    subscription: Subscription,
    shared: watch::Sender<Option<Vec<String>>>,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut index = 0;
    loop {
        tick.tick().await;
        let report = serde_json::json!({
            "node_id": membership.me(),
            // Only what this node has probed: a guess would vote a location down.
            "peers": membership.peers().iter().filter(|p| p.probed).map(|p| serde_json::json!({
                "node_id": p.spec.id, "location": p.spec.location.0, "up": p.up,
            })).collect::<Vec<_>>(),
        });
        let s = subscription.clone();
        let sent = tokio::time::timeout(
            interval * 4,
            tokio::task::spawn_blocking(move || s.report_health(index, &report)),
        )
        .await;
        match sent {
            Ok(Ok(Ok(down))) => {
                let down = Some(down);
                shared.send_if_modified(|current| {
                    let changed = *current != down;
                    *current = down;
                    changed
                });
            }
            // The next control plane; the fleet's view is kept meanwhile (the node's own
            // probes still apply), and dropped once no control plane answers for long.
            _ => index += 1,
        }
    }
}

/// This node's view, except for locations none of whose nodes it has probed yet (it just
/// started, or the configuration just added them): there the fleet's view decides, when there
/// is one.
fn merged(own: LocationHealth, peers: &[PeerStatus], shared: Option<&[String]>) -> LocationHealth {
    let Some(shared) = shared else {
        return own;
    };
    let unknown = peers
        .iter()
        .map(|p| p.spec.location.as_str())
        .filter(|code| {
            !peers
                .iter()
                .any(|p| p.spec.location.as_str() == *code && p.probed)
        });
    unknown.fold(own, |view, code| {
        if shared.iter().any(|down| down == code) {
            view.up(code).down(code)
        } else {
            view.up(code)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, location: &str, up: bool, probed: bool) -> PeerStatus {
        PeerStatus {
            spec: egress_fleet::PeerSpec {
                id: id.into(),
                location: LocationCode(location.into()),
                address: "10.0.0.1:7443".parse().expect("addr"),
            },
            up,
            probed,
        }
    }

    #[test]
    fn the_fleet_decides_only_for_locations_not_probed_yet() {
        // Just started: nothing probed, so every peer location reads down on its own.
        let own = LocationHealth::all_up().down("nyc").down("fra");
        let peers = [
            peer("nyc-1", "nyc", false, false),
            peer("fra-1", "fra", false, false),
        ];
        let fleet = ["fra".to_owned()];
        let view = merged(own.clone(), &peers, Some(&fleet));
        assert!(!view.is_down("nyc"), "the fleet reaches nyc");
        assert!(view.is_down("fra"), "the fleet finds fra down");
        assert_eq!(
            merged(own, &peers, None),
            LocationHealth::all_up().down("nyc").down("fra")
        );
        // Once probed, this node's own probes decide, whatever the fleet says.
        let own = LocationHealth::all_up();
        let probed = [
            peer("nyc-1", "nyc", true, true),
            peer("fra-1", "fra", true, true),
        ];
        assert!(!merged(own, &probed, Some(&fleet)).is_down("fra"));
    }
}
