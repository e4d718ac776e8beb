//! Shared by the scenarios in this directory: a fake node, a real SQLite store in a temp dir
//! holding the example deployment, tokens of every scope, and a client that drives the router.

// Each scenario compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use egress_admin::{LogFilter, Mode, Node, NodeStatus, PortUsageView};
use egress_geo::{GeoCheckReport, GeoDatabase};
use egress_model::{AccountId, Config};
use egress_policy::Snapshot;
use egress_store::{ConfigStore, SqliteStore, TokenScope};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const EXAMPLE: &str = include_str!("../../../../examples/egressd.toml");

/// The example deployment.
pub fn example() -> Config {
    Config::from_toml(EXAMPLE, "examples/egressd.toml").expect("the example is valid")
}

/// A directory under the system temp dir, unique to this process and call, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("egress-admin-{label}-{}-{n}", std::process::id()));
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

/// A node that compiles what it is given and serves canned live views.
#[derive(Debug)]
pub struct FakeNode {
    pub mode: Mutex<Mode>,
    /// Every revision `apply` was called with, in order.
    pub applied: Mutex<Vec<u64>>,
    snapshot: Mutex<Snapshot>,
    pub ready: AtomicBool,
    pub fail_apply: AtomicBool,
    /// The filter of the last `recent_logs` call.
    pub last_log_filter: Mutex<Option<LogFilter>>,
    /// Geolocation databases (`--geo-mmdb`).
    pub geo: Vec<GeoDatabase>,
    /// Mismatches of the last geolocation check.
    pub last_geo_mismatches: Mutex<Option<usize>>,
}

impl FakeNode {
    pub fn new(config: &Config, revision: u64) -> FakeNode {
        let snapshot = Snapshot::compile(config, "test", revision).expect("compiles");
        FakeNode {
            mode: Mutex::new(Mode::Store {
                data_dir: "/var/lib/egressd".into(),
            }),
            applied: Mutex::new(vec![revision]),
            snapshot: Mutex::new(snapshot),
            ready: AtomicBool::new(true),
            fail_apply: AtomicBool::new(false),
            last_log_filter: Mutex::new(None),
            geo: Vec::new(),
            last_geo_mismatches: Mutex::new(None),
        }
    }

    pub fn applied(&self) -> Vec<u64> {
        self.applied.lock().expect("lock").clone()
    }

    fn records() -> Vec<Value> {
        vec![
            json!({"account": "acme", "user": "alice", "policy_id": "bank via lax",
                   "egress_ip": "203.0.113.10", "close_reason": "client_closed", "age_ms": 10}),
            json!({"account": "globex", "user": "hank", "policy_id": "ops console",
                   "egress_ip": "192.0.2.10", "close_reason": "upstream_closed", "age_ms": 20}),
            json!({"account": "acme", "user": "bob", "policy_id": "everything else",
                   "egress_ip": "198.51.100.1", "close_reason": "egress_port_allocation_error",
                   "age_ms": 30}),
        ]
    }
}

impl Node for FakeNode {
    fn apply(&self, revision: u64, config: &Config) -> Result<(), String> {
        if self.fail_apply.load(Ordering::SeqCst) {
            return Err("the fake node refuses".into());
        }
        let snapshot = Snapshot::compile(config, "api", revision).map_err(|e| e.to_string())?;
        *self.snapshot.lock().expect("lock") = snapshot;
        self.applied.lock().expect("lock").push(revision);
        Ok(())
    }

    fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().expect("lock").clone()
    }

    fn status(&self) -> NodeStatus {
        NodeStatus {
            node_id: "fra-1".into(),
            location: "fra".into(),
            mode: self.mode.lock().expect("lock").clone(),
            revision: self.applied().last().copied().unwrap_or(0),
            started_at: "2026-01-02T03:04:05.000Z".into(),
            listeners: vec!["0.0.0.0:3128".into(), "127.0.0.1:9090".into()],
            fleet_peers: Vec::new(),
            locations_down: Vec::new(),
        }
    }

    fn live_connections(&self, account: Option<&str>, limit: usize) -> Vec<Value> {
        FakeNode::records()
            .into_iter()
            .filter(|r| account.is_none_or(|a| r["account"] == a))
            .take(limit)
            .collect()
    }

    fn port_usage(&self, top: usize) -> Vec<PortUsageView> {
        let all = [
            ("203.0.113.10", 300),
            ("198.51.100.1", 200),
            ("192.0.2.10", 100),
        ];
        all.iter()
            .take(top)
            .map(|(ip, connections)| PortUsageView {
                egress_ip: ip.to_string(),
                destination: "198.18.0.10:443".into(),
                connections: *connections,
                limit: 40_000,
            })
            .collect()
    }

    fn recent_logs(&self, filter: &LogFilter, limit: usize) -> Vec<Value> {
        *self.last_log_filter.lock().expect("lock") = Some(filter.clone());
        let field = |name: &str, want: &Option<String>, r: &Value| {
            want.as_ref().is_none_or(|w| r[name] == w.as_str())
        };
        FakeNode::records()
            .into_iter()
            .filter(|r| {
                field("account", &filter.account, r)
                    && field("user", &filter.user, r)
                    && field("policy_id", &filter.policy, r)
                    && field("egress_ip", &filter.egress_ip, r)
                    && field("close_reason", &filter.close_reason, r)
            })
            .take(limit)
            .collect()
    }

    fn metrics_text(&self) -> String {
        "# TYPE egressd_connections_active gauge\negressd_connections_active 3\n".into()
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn geo_databases(&self) -> &[GeoDatabase] {
        &self.geo
    }

    fn record_geo_check(&self, report: &GeoCheckReport) {
        *self.last_geo_mismatches.lock().expect("lock") = Some(report.mismatches);
    }
}

/// Token secrets of every scope.
#[derive(Debug)]
pub struct Tokens {
    /// Operator, write: named `ops`.
    pub operator: String,
    /// Operator, read only: named `auditor`.
    pub reader: String,
    /// Account acme, write: named `acme-admin`.
    pub acme: String,
    /// Account acme, read only.
    pub acme_reader: String,
    /// Account globex, write.
    pub globex: String,
}

/// The API over a fresh store holding the example as revision 1, which the node runs.
pub struct Api {
    pub router: Router,
    pub node: Arc<FakeNode>,
    pub store: Arc<SqliteStore>,
    pub tokens: Tokens,
    _dir: TempDir,
}

impl Api {
    pub fn start(label: &str) -> Api {
        Api::start_with_geo(label, Vec::new())
    }

    /// Like [`Api::start`], with a node that has these geolocation databases.
    pub fn start_with_geo(label: &str, geo: Vec<GeoDatabase>) -> Api {
        let dir = TempDir::new(label);
        let store = Arc::new(SqliteStore::open(dir.path()).expect("store opens"));
        let config = example();
        let revision = store
            .import(&config, "test", "examples/egressd.toml")
            .expect("imports");
        let mut node = FakeNode::new(&config, revision.number);
        node.geo = geo;
        let node = Arc::new(node);
        let token = |name: &str, account: Option<&str>, write: bool| {
            let scope = TokenScope {
                account: account.map(|a| AccountId(a.into())),
                write,
            };
            store.create_token(name, scope, "test").expect("token").1
        };
        let tokens = Tokens {
            operator: token("ops", None, true),
            reader: token("auditor", None, false),
            acme: token("acme-admin", Some("acme"), true),
            acme_reader: token("acme-viewer", Some("acme"), false),
            globex: token("globex-admin", Some("globex"), true),
        };
        let router = egress_admin::router(store.clone(), node.clone());
        Api {
            router,
            node,
            store,
            tokens,
            _dir: dir,
        }
    }

    /// The latest revision number in the store.
    pub fn latest(&self) -> u64 {
        self.store
            .latest()
            .expect("store reads")
            .map_or(0, |r| r.number)
    }

    /// A request with the operator's write token.
    pub async fn op(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.call(method, uri, Some(&self.tokens.operator), body, &[])
            .await
    }

    /// Any request.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        self.send(request).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
            text,
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    /// The revision in the `ETag` header.
    pub fn etag(&self) -> Option<u64> {
        let value = self.headers.get(header::ETAG)?.to_str().ok()?;
        value.trim_matches('"').parse().ok()
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Reply {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    /// Asserts an error response's status and code.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, code: &str) -> &Reply {
        self.expect(status);
        assert_eq!(self.json["error"], code, "body: {}", self.text);
        assert!(
            self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "an error says why: {}",
            self.text
        );
        self
    }
}

/// Two dedicated IPs from the leased pool, in Los Angeles and Frankfurt, free in the example.
pub fn initech_ips() -> Value {
    json!([
        {"ipv4": "203.0.113.50", "ipv6": "2001:db8:e000:50::/64", "location": "lax"},
        {"ipv4": "203.0.113.60", "ipv6": "2001:db8:e000:60::/64", "location": "fra"}
    ])
}
