//! Commands that work on the configuration store: `config import/export`, `token …`, `pac`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use egress_model::{AccountId, Config};
use egress_store::{ConfigStore, PostgresStore, SqliteStore, TokenId, TokenScope};

use crate::cli::{PacArgs, TokenCommand};

/// Where the store lives unless `--data-dir` says otherwise.
pub fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/egressd");
    }
    match std::env::var_os("XDG_STATE_HOME").or_else(|| std::env::var_os("HOME")) {
        Some(base) if std::env::var_os("XDG_STATE_HOME").is_some() => {
            PathBuf::from(base).join("egressd")
        }
        Some(home) => PathBuf::from(home).join(".local/state/egressd"),
        None => PathBuf::from("egressd-data"),
    }
}

/// An opened store and how to name it in messages (never with a password).
pub struct OpenedStore {
    pub store: Arc<dyn ConfigStore>,
    pub describe: String,
}

/// Opens the store: PostgreSQL when `--store URL` (or `$EGRESSD_STORE`) names one, else SQLite
/// in the data directory. Blocks (connects, migrates): not for async code.
pub fn open_store(data_dir: Option<&Path>, store: Option<&str>) -> Result<OpenedStore, String> {
    match store {
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(
                    "--store takes a postgres:// URL; the embedded SQLite store is chosen with \
                     --data-dir"
                        .into(),
                );
            }
            if let Some(dir) = data_dir {
                return Err(format!(
                    "--data-dir {} and --store name two different stores: give one",
                    dir.display()
                ));
            }
            let store = PostgresStore::open(url).map_err(|e| e.to_string())?;
            Ok(OpenedStore {
                describe: store.describe().to_string(),
                store: Arc::new(store),
            })
        }
        None => {
            let dir = data_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(default_data_dir);
            let store = SqliteStore::open(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(OpenedStore {
                describe: dir.display().to_string(),
                store: Arc::new(store),
            })
        }
    }
}

fn who() -> String {
    std::env::var("USER")
        .map(|u| format!("cli:{u}"))
        .unwrap_or_else(|_| "cli".into())
}

/// `egressd config import FILE`: the file becomes the next revision (store mode).
pub fn import(
    file: &Path,
    data_dir: Option<&Path>,
    store: Option<&str>,
) -> Result<ExitCode, String> {
    let config = Config::load(file).map_err(|e| e.to_string())?;
    let store = open_store(data_dir, store)?.store;
    let source = file.display().to_string();
    let revision = store
        .import(&config, &who(), &source)
        .map_err(|e| e.to_string())?;
    println!("imported {source} as revision {}", revision.number);
    Ok(ExitCode::SUCCESS)
}

/// `egressd config export`: prints a revision (the latest by default) as TOML.
pub fn export(
    revision: Option<u64>,
    data_dir: Option<&Path>,
    store: Option<&str>,
) -> Result<ExitCode, String> {
    let store = open_store(data_dir, store)?.store;
    let found = match revision {
        Some(n) => store.get(n).map_err(|e| e.to_string())?,
        None => store.latest().map_err(|e| e.to_string())?,
    };
    let Some(found) = found else {
        return Err(match revision {
            Some(n) => format!("there is no revision {n}"),
            None => "the store holds no revision yet: `egressd config import FILE`".into(),
        });
    };
    print!(
        "# revision {} by {} at {}: {}\n{}",
        found.number,
        found.author,
        found.created_at,
        found.comment,
        found.config.to_toml()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn token(command: TokenCommand, store_url: Option<&str>) -> Result<ExitCode, String> {
    match command {
        TokenCommand::Create {
            name,
            account,
            write,
            data_dir,
        } => {
            let store = open_store(data_dir.as_deref(), store_url)?.store;
            let scope = TokenScope {
                account: account.map(AccountId),
                write,
            };
            let (info, secret) = store
                .create_token(&name, scope, &who())
                .map_err(|e| e.to_string())?;
            eprintln!(
                "token {} ({}) created; the secret is shown once:",
                info.id.0, info.scope
            );
            println!("{secret}");
        }
        TokenCommand::List { data_dir } => {
            let store = open_store(data_dir.as_deref(), store_url)?.store;
            println!(
                "{:<6} {:<24} {:<28} {:<26} revoked",
                "id", "name", "scope", "created"
            );
            for t in store.list_tokens().map_err(|e| e.to_string())? {
                let revoked = t
                    .revoked_at
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<6} {:<24} {:<28} {:<26} {revoked}",
                    t.id.0,
                    t.name,
                    t.scope.to_string(),
                    t.created_at.to_string()
                );
            }
        }
        TokenCommand::Revoke { id, data_dir } => {
            let store = open_store(data_dir.as_deref(), store_url)?.store;
            let t = store
                .revoke_token(TokenId(id), &who())
                .map_err(|e| e.to_string())?;
            println!("token {} ({}) revoked", t.id.0, t.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration in `file`, else the store's latest revision, with its revision number
/// (0 for a file).
pub fn config_from(
    file: Option<&Path>,
    data_dir: Option<&Path>,
    store: Option<&str>,
) -> Result<(Config, u64), String> {
    match file {
        Some(file) => Ok((Config::load(file).map_err(|e| e.to_string())?, 0)),
        None => {
            let revision = open_store(data_dir, store)?
                .store
                .latest()
                .map_err(|e| e.to_string())?
                .ok_or("the store holds no revision yet; give --config FILE")?;
            Ok((revision.config, revision.number))
        }
    }
}

/// `egressd pac ENDPOINT`: the PAC file of a proxy endpoint.
pub fn pac(args: &PacArgs, store: Option<&str>) -> Result<ExitCode, String> {
    let (config, _) = config_from(args.config.as_deref(), args.data_dir.as_deref(), store)?;
    let text =
        egress_onramp::pac::pac_file(&config, args.account.as_deref(), &args.endpoint, &args.host)
            .map_err(|e| e.to_string())?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
