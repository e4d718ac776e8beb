//! Where the running configuration comes from, and keeping the node on its latest revision.
//!
//! - File mode (`--config FILE`): the file is the source of truth. It is re-read on SIGHUP and
//!   when its modification time changes; each version that validates is recorded in the store
//!   as a revision (history and audit), one that does not is refused and the node keeps running
//!   the last good one.
//! - Store mode (no `--config`): the store is the source of truth (the admin API writes to it,
//!   `egressd config import` too). An empty store is seeded with the embedded default. Revisions
//!   written by other processes (another control-plane replica, the CLI) are picked up as the
//!   store announces them: [`ConfigStore::wait_for_newer`] (PostgreSQL: LISTEN/NOTIFY).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use egress_model::Config;
use egress_policy::Snapshot;
use egress_store::ConfigStore;

use crate::gateway::EgressGateway;
use crate::serve::DEFAULT_CONFIG;
use crate::subscribe::{self, Received, Subscription};

/// The mode, as `/status` shows it.
#[derive(Debug, Clone)]
pub enum Mode {
    File {
        path: PathBuf,
    },
    /// `store` is the data directory or the PostgreSQL URL without its password.
    Store {
        store: String,
    },
    /// Revisions come from control planes; the local store keeps the last good one.
    Subscribed {
        control_planes: Vec<String>,
    },
}

/// The configuration source of a running node.
pub struct Source {
    pub mode: Mode,
    pub store: Arc<dyn ConfigStore>,
    revision: AtomicU64,
    current: arc_swap::ArcSwap<Config>,
    file_mtime: Mutex<Option<SystemTime>>,
    applying: Mutex<()>,
    /// The applied revision, for the control-plane long poll.
    applied: tokio::sync::watch::Sender<u64>,
    /// The masque listeners, whose certificates each revision must carry.
    pub masque: crate::masque::MasqueListeners,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("mode", &self.mode)
            .field("revision", &self.revision())
            .finish_non_exhaustive()
    }
}

const AUTHOR: &str = "egressd";

fn mtime(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Source {
    /// Opens the source and returns the configuration to start with and its revision.
    /// Blocking (the store connects and migrates).
    pub fn open(
        config: Option<PathBuf>,
        data_dir: Option<PathBuf>,
        store_url: Option<String>,
        subscription: Option<&Subscription>,
    ) -> Result<(Source, Config, u64), String> {
        let opened = crate::cmd_store::open_store(data_dir.as_deref(), store_url.as_deref())?;
        let store = opened.store;
        let (mode, config, revision, file_mtime) = match (config, subscription) {
            (_, Some(subscription)) => {
                let mode = Mode::Subscribed {
                    control_planes: subscription.control_planes.clone(),
                };
                let cached = store
                    .latest()
                    .map_err(|e| e.to_string())?
                    .and_then(|r| subscribe::cached_revision(&r.comment).map(|n| (r.config, n)));
                match cached {
                    // The last good revision on disk: serve at once, catch up when a control
                    // plane answers.
                    Some((config, number)) => (mode, config, number, None),
                    None => {
                        let received = subscription.first().map_err(|e| {
                            format!("no control plane answered and the data directory holds no revision from one: {e}")
                        })?;
                        subscribe::cache(store.as_ref(), &received)?;
                        (mode, received.config, received.revision, None)
                    }
                }
            }
            (Some(path), None) => {
                let file_mtime = mtime(&path);
                let config = Config::load(&path).map_err(|e| e.to_string())?;
                let revision = record_file(store.as_ref(), &config, &path)?;
                (Mode::File { path }, config, revision, file_mtime)
            }
            (None, None) => {
                let latest = store.latest().map_err(|e| e.to_string())?;
                let revision = match latest {
                    Some(r) => r,
                    None => {
                        let seed = Config::from_toml(DEFAULT_CONFIG, "<embedded default>")
                            .map_err(|e| e.to_string())?;
                        store
                            .import(&seed, AUTHOR, "<embedded default>")
                            .map_err(|e| e.to_string())?
                    }
                };
                (
                    Mode::Store {
                        store: opened.describe,
                    },
                    revision.config,
                    revision.number,
                    None,
                )
            }
        };
        let source = Source {
            mode,
            store,
            revision: AtomicU64::new(revision),
            current: arc_swap::ArcSwap::from_pointee(config.clone()),
            file_mtime: Mutex::new(file_mtime),
            applying: Mutex::new(()),
            applied: tokio::sync::watch::channel(revision).0,
            masque: crate::masque::MasqueListeners::default(),
        };
        Ok((source, config, revision))
    }

    /// The configuration the node runs.
    pub fn current_config(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// The revision the node runs.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// A description of the origin for messages.
    pub fn describe(&self) -> String {
        match &self.mode {
            Mode::File { path } => {
                format!("file {} (revision {})", path.display(), self.revision())
            }
            Mode::Store { store } => format!("store {store} (revision {})", self.revision()),
            Mode::Subscribed { control_planes } => format!(
                "control plane {} (revision {})",
                control_planes.join(", "),
                self.revision()
            ),
        }
    }

    /// Applied revisions as they change.
    pub fn applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Subscribed mode: applies a revision received from a control plane, then keeps it on
    /// disk. One that does not compile is refused and the running one stays. Blocking.
    pub fn take(&self, gateway: &EgressGateway, received: Received) {
        let number = received.revision;
        match self
            .apply(gateway, number, &received.config)
            .and_then(|()| subscribe::cache(self.store.as_ref(), &received))
        {
            Ok(()) => eprintln!("egressd: now running control-plane revision {number}"),
            Err(e) => {
                gateway.recorder().metrics.reload_failures.inc();
                eprintln!(
                    "egressd: control-plane revision {number} refused, keeping {}:\n{e}",
                    self.revision()
                );
            }
        }
    }

    /// Compiles and swaps in `config` as `revision` (already stored).
    pub fn apply(
        &self,
        gateway: &EgressGateway,
        revision: u64,
        config: &Config,
    ) -> Result<(), String> {
        // Applies are serialised and only move forward: a store poll that read revision N must
        // not swap it in after an API write has applied N+1.
        let _one_at_a_time = self.applying.lock().expect("never poisoned");
        if revision < self.revision() {
            return Ok(());
        }
        let snapshot = Snapshot::compile(config, &format!("revision {revision}"), revision)
            .map_err(|e| e.to_string())?;
        let certificates = self.masque.prepare(config)?;
        gateway.replace(config, snapshot);
        self.masque.install(certificates);
        self.current.store(Arc::new(config.clone()));
        self.revision.store(revision, Ordering::Relaxed);
        self.applied.send_replace(revision);
        gateway.recorder().metrics.revision.set(revision as i64);
        Ok(())
    }

    /// Brings the node to the latest configuration: re-reads the file (when `force`d or
    /// changed) in file mode, or the store's latest revision in store mode. Blocking.
    pub fn refresh(&self, gateway: &EgressGateway, force: bool) {
        let outcome = match &self.mode {
            Mode::File { path } => {
                let now = mtime(path);
                let changed = {
                    let mut seen = self.file_mtime.lock().expect("never poisoned");
                    let changed = *seen != now;
                    *seen = now;
                    changed
                };
                if !(force || changed) {
                    return;
                }
                Config::load(path)
                    .map_err(|e| e.to_string())
                    .and_then(|c| record_file(self.store.as_ref(), &c, path).map(|r| (c, r)))
                    .and_then(|(c, r)| self.apply(gateway, r, &c).map(|()| r))
                    .map(|r| format!("reloaded {} as revision {r}", path.display()))
                    .map_err(|e| {
                        format!(
                            "reload of {} refused, keeping revision {}:\n{e}",
                            path.display(),
                            self.revision()
                        )
                    })
            }
            Mode::Store { .. } => match self.store.latest() {
                Ok(Some(latest)) if latest.number > self.revision() => self
                    .apply(gateway, latest.number, &latest.config)
                    .map(|()| {
                        format!(
                            "now running revision {} ({})",
                            latest.number, latest.comment
                        )
                    })
                    .map_err(|e| {
                        format!(
                            "revision {} refused, keeping {}:\n{e}",
                            latest.number,
                            self.revision()
                        )
                    }),
                Ok(_) => return,
                Err(e) => Err(format!("cannot read the store: {e}")),
            },
            // Revisions arrive from the control plane (`subscribe::follow`).
            Mode::Subscribed { .. } => return,
        };
        match outcome {
            Ok(message) => eprintln!("egressd: {message}"),
            Err(message) => {
                gateway.recorder().metrics.reload_failures.inc();
                eprintln!("egressd: {message}");
            }
        }
    }
}

/// Records a file's configuration as a revision unless the latest revision already is it.
fn record_file(
    store: &dyn ConfigStore,
    config: &Config,
    path: &std::path::Path,
) -> Result<u64, String> {
    match store.latest().map_err(|e| e.to_string())? {
        Some(latest) if &latest.config == config => Ok(latest.number),
        _ => store
            .import(config, AUTHOR, &path.display().to_string())
            .map(|r| r.number)
            .map_err(|e| e.to_string()),
    }
}
