//! `egressd serve`: load the configuration, open the listeners, run until SIGTERM/SIGINT, drain.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use egress_model::{Config, ProxyProtocol};
use egress_onramp::server::{handle_http, handle_socks5, Listener, OnRampSettings};
use egress_policy::Snapshot;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::admin::{serve_admin, NodeHandle};
use crate::cli::ServeArgs;
use crate::gateway::{DataPathSettings, EgressGateway, LogSink};
use crate::source::Source;
use crate::subscribe::Subscription;
use crate::system;

/// The embedded default configuration (loopback only, no setup).
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

pub fn run(args: &ServeArgs, store: Option<&str>) -> Result<std::process::ExitCode, String> {
    // One worker per CPU this process may use (respects taskset/cgroup pinning), unless set.
    let workers = args.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("egressd-worker")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let outcome = runtime.block_on(serve(args, store));
    // A control-plane poll left waiting on a blocking thread must not hold up the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
}

async fn serve(args: &ServeArgs, store: Option<&str>) -> Result<std::process::ExitCode, String> {
    // Opening connects and migrates, and the PostgreSQL client blocks: off the reactor.
    let (config_file, data_dir, store) = (
        args.config.clone(),
        args.data_dir.clone(),
        store.map(str::to_string),
    );
    let subscription = (!args.control_plane.is_empty()).then(|| Subscription {
        control_planes: args.control_plane.clone(),
        token: args.control_plane_token.clone(),
        node: args.node.clone(),
    });
    let opening = subscription.clone();
    let (source, config, revision) = tokio::task::spawn_blocking(move || {
        Source::open(config_file, data_dir, store, opening.as_ref())
    })
    .await
    .map_err(|e| format!("opening the store failed: {e}"))??;
    let source = Arc::new(source);
    let origin = source.describe();
    let snapshot = Snapshot::compile(&config, &origin, revision).map_err(|e| e.to_string())?;
    let (node_id, location) = node_identity(&config, args)?;
    // A database named on the command line that does not open is a startup error, not a
    // check that silently has nothing to compare.
    let geo = crate::cmd_geo::open_databases(&args.geo_mmdb)?;

    system::raise_open_file_limit();
    system::warn_on_small_port_range(config.deployment.max_connections_per_destination);

    let (log, writer) = LogSink::start(args.log_file.as_deref())
        .map_err(|e| format!("cannot open the connection log: {e}"))?;
    let settings = DataPathSettings {
        node_id: node_id.as_str().into(),
        location: location.as_str().into(),
        connect_timeout: Duration::from_secs(args.connect_timeout_secs),
    };
    let fleet = match &args.fleet_dir {
        Some(dir) => Some(crate::fleet::join(dir, &config, &node_id, &location, args)?),
        None => None,
    };
    let gateway = Arc::new(EgressGateway::new(
        &config,
        snapshot,
        settings,
        log,
        fleet.as_ref().map(|(membership, _)| Arc::clone(membership)),
    ));
    let fleet_tasks = fleet.map(|(membership, listener)| {
        crate::fleet::run(membership, listener, &gateway, args, subscription.clone())
    });
    let onramp = Arc::new(OnRampSettings {
        head_timeout: Duration::from_secs(args.head_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        via: format!("egressd-{node_id}"),
        ..OnRampSettings::default()
    });

    // One listener per address and transport; several endpoints may share it (validation
    // guarantees they speak one protocol and that accounts share only credentials listeners).
    // A control-plane replica (--api-only) carries no traffic.
    let listeners: BTreeMap<(SocketAddr, bool), ProxyProtocol> = config
        .accounts
        .iter()
        .flat_map(|a| a.proxy_endpoints.iter())
        .map(|ep| ((ep.listen, ep.protocol.is_udp()), ep.protocol))
        .filter(|_| !args.api_only)
        .collect();
    // Certificates first: a masque endpoint whose files do not load stops the start, naming
    // the endpoint and the file.
    let mut masque_configs = if args.api_only {
        BTreeMap::new()
    } else {
        crate::masque::load_all(&config, onramp.idle_timeout)?
    };
    eprintln!("egressd: node {node_id} in location {location}, configuration {origin}");
    // Signal handlers before the listeners: once a listener accepts, SIGTERM/SIGINT must drain
    // and flush the log, and SIGHUP reload, never kill the process with the default action.
    let shutdown = shutdown_signal()?;
    tokio::pin!(shutdown);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    // Each listener accepts and owns its connections: no lock or channel between accepting and
    // serving. Shutdown is announced on a watch channel; each listener then drains its own set.
    let grace = Duration::from_secs(args.drain_grace_secs);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut listeners_done = JoinSet::new();
    let mut listening = Vec::new();
    let mut masque_endpoints = BTreeMap::new();
    for ((addr, _), protocol) in listeners {
        let listener = Arc::new(Listener {
            local: addr,
            protocol,
        });
        let tcp = match protocol {
            ProxyProtocol::Http => TcpOnRamp::Http,
            ProxyProtocol::Socks5 => TcpOnRamp::Socks5,
            ProxyProtocol::Masque => {
                let server = masque_configs
                    .remove(&addr)
                    .expect("every masque listener has its configuration loaded above");
                let endpoint = quinn::Endpoint::server(server, addr)
                    .map_err(|e| format!("cannot listen on {addr} (UDP, masque): {e}"))?;
                let local = endpoint.local_addr().map_err(|e| e.to_string())?;
                eprintln!("egressd: MASQUE proxy listening on {local} (UDP, HTTP/3)");
                listening.push(format!("masque {local}"));
                masque_endpoints.insert(addr, endpoint.clone());
                let accept = crate::masque::MasqueAcceptLoop {
                    endpoint,
                    listener,
                    gateway: Arc::clone(&gateway),
                    onramp: Arc::clone(&onramp),
                };
                listeners_done.spawn(accept.run(stop_rx.clone(), grace));
                continue;
            }
        };
        let socket = system::listen(addr, BACKLOG)
            .map_err(|e| format!("cannot listen on {addr} ({protocol:?}): {e}"))?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let kind = match tcp {
            TcpOnRamp::Http => "HTTP",
            TcpOnRamp::Socks5 => "SOCKS5",
        };
        eprintln!("egressd: {kind} proxy listening on {local}");
        listening.push(format!("{} {local}", kind.to_lowercase()));
        let accept = AcceptLoop {
            socket,
            listener,
            protocol: tcp,
            gateway: Arc::clone(&gateway),
            onramp: Arc::clone(&onramp),
        };
        listeners_done.spawn(accept.run(stop_rx.clone(), grace));
    }
    if !args.api_only {
        source.masque.start(onramp.idle_timeout, masque_endpoints);
    }
    gateway.recorder().metrics.revision.set(revision as i64);
    let admin = if args.no_admin {
        None
    } else {
        listening.push(format!("admin {}", args.admin_listen));
        let node = Arc::new(NodeHandle {
            gateway: Arc::clone(&gateway),
            source: Arc::clone(&source),
            node_id: node_id.clone(),
            location: location.clone(),
            started_at: crate::gateway::timestamp(std::time::SystemTime::now()),
            listeners: listening,
            ready: std::sync::atomic::AtomicBool::new(true),
            geo,
            history: Default::default(),
        });
        Some(serve_admin(args.admin_listen, node).await?)
    };
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Store mode learns of revisions from the store as they commit; file mode polls the file.
    let store_mode = matches!(source.mode, crate::source::Mode::Store { .. });
    let watcher = store_mode.then(|| {
        tokio::spawn(watch_store(
            Arc::clone(&source),
            Arc::clone(&gateway),
            stop_rx.clone(),
        ))
    });
    let follower = subscription.map(|subscription| {
        tokio::spawn(crate::subscribe::follow(
            Arc::clone(&source),
            Arc::clone(&gateway),
            subscription,
            stop_rx.clone(),
        ))
    });
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hangup.recv() => refresh(&source, &gateway, true).await,
            _ = poll.tick(), if !store_mode => refresh(&source, &gateway, false).await,
        }
    }
    eprintln!("egressd: shutting down: listeners closed, connections draining for up to {grace:?}");
    let _ = stop_tx.send(true);
    if let Some(watcher) = watcher {
        // It notices the stop within one WAIT_FOR_REVISION.
        let _ = watcher.await;
    }
    if let Some(follower) = follower {
        // Its poll may wait for long at the control plane: no reason to wait for it.
        follower.abort();
        let _ = follower.await;
    }
    let mut aborted = 0;
    while let Some(result) = listeners_done.join_next().await {
        aborted += result.unwrap_or(0);
    }
    if let Some(admin) = admin {
        // It holds the gateway (and so the log sink): wait until it is gone.
        admin.abort();
        let _ = admin.await;
    }
    if aborted > 0 {
        eprintln!("egressd: grace period over: closed {aborted} connections");
    }
    // The fleet tasks hold the gateway too: stop them before waiting for the log writer.
    for task in fleet_tasks.into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    // Every sink is gone once the gateway is: the writer flushes and ends.
    drop(gateway);
    let _ = writer.await;
    eprintln!("egressd: stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// Accept queue length: bursts of new tunnels wait in the kernel instead of being dropped (a
/// dropped SYN costs the client a one-second retransmit). The kernel caps it at somaxconn.
pub const BACKLOG: i32 = 4096;

/// How often the file's modification time is checked (file mode), and how soon a store that
/// failed to answer is asked again (store mode).
const POLL: Duration = Duration::from_secs(2);

/// How long one wait for a new revision lasts in store mode; it bounds how long the watcher
/// takes to notice shutdown, not how fast a revision arrives.
const WAIT_FOR_REVISION: Duration = Duration::from_secs(1);

/// Store mode: waits (on a blocking thread) for the store to announce a revision newer than the
/// running one and applies it, until told to stop. A write on another control-plane replica
/// reaches this node as fast as the store says so (PostgreSQL: LISTEN/NOTIFY).
async fn watch_store(
    source: Arc<Source>,
    gateway: Arc<EgressGateway>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut failing = false;
    while !*stop.borrow() {
        let (store, after) = (Arc::clone(&source.store), source.revision());
        let waited =
            tokio::task::spawn_blocking(move || store.wait_for_newer(after, WAIT_FOR_REVISION))
                .await;
        match waited {
            Ok(Ok(Some(_))) => {
                failing = false;
                refresh(&source, &gateway, false).await;
            }
            Ok(Ok(None)) => failing = false,
            Ok(Err(e)) => {
                if !failing {
                    eprintln!(
                        "egressd: cannot wait for new revisions, retrying every {POLL:?}: {e}"
                    );
                    gateway.recorder().metrics.reload_failures.inc();
                }
                failing = true;
                tokio::time::sleep(POLL).await;
            }
            Err(e) => {
                eprintln!("egressd: the store watcher failed: {e}");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Brings the node to the latest configuration off the reactor (reading and fsyncing block).
async fn refresh(source: &Arc<Source>, gateway: &Arc<EgressGateway>, force: bool) {
    let (source, gateway) = (Arc::clone(source), Arc::clone(gateway));
    let _ = tokio::task::spawn_blocking(move || source.refresh(&gateway, force)).await;
}

/// What a TCP listener speaks.
#[derive(Debug, Clone, Copy)]
enum TcpOnRamp {
    Http,
    Socks5,
}

/// One listening socket and the connections it accepted.
struct AcceptLoop {
    socket: TcpListener,
    listener: Arc<Listener>,
    protocol: TcpOnRamp,
    gateway: Arc<EgressGateway>,
    onramp: Arc<OnRampSettings>,
}

impl AcceptLoop {
    /// Accepts until told to stop, then gives open connections `grace` to finish; returns how
    /// many had to be aborted.
    async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>, grace: Duration) -> usize {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                accepted = self.socket.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Small writes (handshake replies, response heads) go out at once.
                        let _ = stream.set_nodelay(true);
                        let (listener, gateway, onramp) =
                            (Arc::clone(&self.listener), Arc::clone(&self.gateway), Arc::clone(&self.onramp));
                        match self.protocol {
                            TcpOnRamp::Http => connections.spawn(handle_http(stream, peer, listener, gateway, onramp)),
                            TcpOnRamp::Socks5 => connections.spawn(handle_socks5(stream, peer, listener, gateway, onramp)),
                        };
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        eprintln!("egressd: accept on {} failed: {e}", self.listener.local);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(self.socket);
        let drained = tokio::time::timeout(grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return 0;
        }
        let left = connections.len();
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        left
    }
}

fn node_identity(config: &Config, args: &ServeArgs) -> Result<(String, String), String> {
    if let Some(id) = &args.node {
        let node = config
            .nodes
            .iter()
            .find(|n| &n.id == id)
            .ok_or_else(|| format!("--node {id}: no such node in the configuration"))?;
        return Ok((node.id.clone(), node.location.to_string()));
    }
    if let Some(node) = config.nodes.first() {
        return Ok((node.id.clone(), node.location.to_string()));
    }
    let loc = config
        .locations
        .first()
        .ok_or("the configuration has no location")?;
    Ok((format!("{}-1", loc.code), loc.code.to_string()))
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed by this call, not when the
/// future is first polled.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
