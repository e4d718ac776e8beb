//! Shared by the scenarios in this directory: throw-away data directories, PostgreSQL clusters,
//! the two backends behind one face, and configurations.

// Each scenario compiles this module on its own and uses part of it.
#![allow(dead_code, unused_macros, unused_imports)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use egress_model::Config;

pub mod backends;
pub use egress_harness::pg_cluster;

const EXAMPLE: &str = include_str!("../../../../examples/egressd.toml");

/// A directory under the system temp dir, unique to this process and call, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("egress-store-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The example deployment, made distinct per `n`.
pub fn example(n: u32) -> Config {
    let mut config =
        Config::from_toml(EXAMPLE, "examples/egressd.toml").expect("the example is valid");
    config.deployment.max_connections_per_destination = 1000 + n;
    config
}

/// A configuration that breaks a rule at `deployment.max_connections_per_destination`.
pub fn invalid() -> Config {
    let mut config = example(0);
    config.deployment.max_connections_per_destination = 0;
    config
}
