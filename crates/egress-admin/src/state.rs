//! What every handler shares: the store, the node, the write lock and two small caches.

use std::sync::{Arc, Mutex, PoisonError};

use egress_model::{Config, Deployment};
use egress_store::{ConfigStore, Revision};

use crate::auth::TokenCache;
use crate::error::ApiError;
use crate::node::Node;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn ConfigStore>,
    pub(crate) node: Arc<dyn Node>,
    /// Writes run one at a time: read latest, change, validate, commit, apply.
    pub(crate) writes: Arc<tokio::sync::Mutex<()>>,
    pub(crate) tokens: Arc<TokenCache>,
    /// The revision each subscribed node last reported.
    pub(crate) reports: Arc<crate::resources::distribution::NodeReports>,
    /// The nodes' latest health reports.
    pub(crate) health: Arc<crate::resources::distribution::HealthReports>,
    /// The latest revision read, so reads do not parse the document again while it is current.
    latest: Arc<Mutex<Option<Arc<Revision>>>>,
}

/// The configuration a request works on: the latest revision (0 and an empty document when the
/// store has none yet).
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) revision: u64,
    pub(crate) config: Arc<Revision>,
}

impl AppState {
    pub(crate) fn new(store: Arc<dyn ConfigStore>, node: Arc<dyn Node>) -> AppState {
        AppState {
            store,
            node,
            writes: Arc::new(tokio::sync::Mutex::new(())),
            tokens: Arc::new(TokenCache::new(crate::auth::TOKEN_CACHE_TTL)),
            reports: Arc::default(),
            health: Arc::default(),
            latest: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs a blocking store call on the blocking pool.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn ConfigStore) -> Result<T, egress_store::StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// The latest revision; `None` when the store is empty.
    pub(crate) async fn latest(&self) -> Result<Option<Arc<Revision>>, ApiError> {
        let cached = self.cached();
        let newest = self
            .blocking(|s| s.list(1))
            .await?
            .first()
            .map(|meta| meta.number);
        match (newest, cached) {
            (None, _) => Ok(None),
            (Some(n), Some(c)) if c.number == n => Ok(Some(c)),
            (Some(_), _) => {
                let Some(revision) = self.blocking(|s| s.latest()).await? else {
                    return Ok(None);
                };
                let revision = Arc::new(revision);
                self.remember(Arc::clone(&revision));
                Ok(Some(revision))
            }
        }
    }

    /// The latest revision, or revision 0 with an empty document.
    pub(crate) async fn current(&self) -> Result<Current, ApiError> {
        Ok(match self.latest().await? {
            Some(config) => Current {
                revision: config.number,
                config,
            },
            None => Current {
                revision: 0,
                config: Arc::new(empty_revision()),
            },
        })
    }

    /// Keeps a revision as the latest read (after a commit, or a read of a newer one).
    pub(crate) fn remember(&self, revision: Arc<Revision>) {
        let mut slot = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_none_or(|c| c.number < revision.number) {
            *slot = Some(revision);
        }
    }

    fn cached(&self) -> Option<Arc<Revision>> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Revision 0: what an empty store holds.
fn empty_revision() -> Revision {
    Revision {
        number: 0,
        created_at: egress_store::Timestamp::from_system_time(std::time::UNIX_EPOCH),
        author: String::new(),
        comment: String::new(),
        config: Config {
            deployment: Deployment::default(),
            address_pools: Vec::new(),
            locations: Vec::new(),
            nodes: Vec::new(),
            on_net: Vec::new(),
            private_networks: Vec::new(),
            accounts: Vec::new(),
        },
    }
}
