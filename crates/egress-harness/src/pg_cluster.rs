//! A throw-away PostgreSQL cluster for tests, from the distribution's server binaries: its own
//! data directory, listening only on a unix socket in its own directory, stopped and removed on
//! drop.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A directory under the system temp dir, unique to this process and call, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("egress-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where to look first for `initdb` and `pg_ctl` (a directory).
pub const BINDIR_ENV: &str = "EGRESS_PG_BINDIR";

/// The unprivileged user the cluster runs as when the tests run as root (initdb refuses root).
const SERVICE_USER: &str = "postgres";

/// A running cluster; every database in it is reachable by [`PgCluster::url`].
#[derive(Debug)]
pub struct PgCluster {
    root: TempDir,
    bindir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    next_database: AtomicU32,
}

impl PgCluster {
    /// Creates and starts a cluster; panics, saying what to install, when it cannot.
    pub fn start() -> PgCluster {
        let bindir = find_bindir();
        let run_as = running_as_root().then(|| {
            let known = Command::new("id")
                .args(["-u", SERVICE_USER])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                known,
                "the tests run as root and initdb refuses root, but there is no `{SERVICE_USER}` \
                 user to run PostgreSQL as: apt-get install postgresql"
            );
            SERVICE_USER
        });
        let root = TempDir::new("pg");
        let base = root.path().join("cluster");
        let socket_dir = base.join("socket");
        std::fs::create_dir_all(&socket_dir).expect("create the socket directory");
        if let Some(user) = run_as {
            run(Command::new("chown").args(["-R", user]).arg(&base), "chown");
        }
        static NEXT_PORT: AtomicU32 = AtomicU32::new(0);
        // Only a unix socket in a private directory: the port names the socket, never collides.
        let port = 20_000
            + u16::try_from(
                (std::process::id() * 7 + NEXT_PORT.fetch_add(1, Ordering::Relaxed)) % 20_000,
            )
            .expect("below 20000");
        let cluster = PgCluster {
            root,
            bindir,
            socket_dir,
            port,
            run_as,
            next_database: AtomicU32::new(0),
        };
        let data = cluster.data_dir();
        cluster.run_tool(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                // Only initdb's own fsyncs are skipped; the server keeps fsync on.
                "--no-sync".as_ref(),
            ],
        );
        let options = format!(
            "-c listen_addresses='' -k {} -p {} -c max_connections=200",
            cluster.socket_dir.display(),
            cluster.port
        );
        let log = base.join("server.log");
        cluster.run_tool(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        );
        cluster
    }

    /// The URL of `database` in this cluster, as egressd's `--store` takes it.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@/{database}?host={}&port={}&sslmode=disable",
            self.socket_dir.display(),
            self.port
        )
    }

    /// A new, empty database; returns its URL.
    pub fn create_database(&self, label: &str) -> String {
        let n = self.next_database.fetch_add(1, Ordering::Relaxed);
        let name: String = format!("{label}_{n}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        let mut admin = self.client("postgres");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        self.url(&name)
    }

    /// A plain client on `database`, for looking under the store.
    pub fn client(&self, database: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(database), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to the test cluster: {e}"))
    }

    /// A client on the database of `url` (one that [`PgCluster::create_database`] returned).
    pub fn client_for(&self, url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("cluster/data")
    }

    fn run_tool(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let program = self.bindir.join(tool);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command.args(args);
        run(&mut command, tool);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let program = self.bindir.join("pg_ctl");
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // The TempDir removes the data directory after this.
    }
}

/// One cluster shared by the tests of a test binary that run at the same time; it stops when
/// the last of them lets go (a later test starts a new one).
pub fn shared_cluster() -> Arc<PgCluster> {
    static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cluster) = slot.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(PgCluster::start());
    *slot = Arc::downgrade(&cluster);
    cluster
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `$EGRESS_PG_BINDIR`, else the newest `/usr/lib/postgresql/<version>/bin`, else the directory
/// of `initdb` on `PATH`.
fn find_bindir() -> PathBuf {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(BINDIR_ENV).map(PathBuf::from) {
        assert!(
            has_tools(&dir),
            "{BINDIR_ENV}={} has no initdb and pg_ctl",
            dir.display()
        );
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir));
    on_path.unwrap_or_else(|| {
        panic!(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed: \
             apt-get install postgresql (or set {BINDIR_ENV} to their directory)"
        )
    })
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
