//! An admin token's secret is shown once and never written: the database files hold only its
//! SHA-256.

mod support;

use egress_model::AccountId;
use egress_store::{ConfigStore, SqliteStore, TokenScope};
use sha2::{Digest, Sha256};
use support::{example, TempDir};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn token_secrets_never_reach_the_database_file() {
    let tmp = TempDir::new("secrets");
    let store = SqliteStore::open(tmp.path()).expect("open");
    store
        .commit(None, &example(1), "op", "first")
        .expect("commit");
    let scope = TokenScope {
        account: Some(AccountId("acme".into())),
        write: true,
    };
    let (info, secret) = store
        .create_token("acme-deploy-bot", scope, "op")
        .expect("create");
    assert_eq!(store.verify_token(&secret).expect("verify"), Some(info));
    drop(store);

    // The main file, the WAL and its index: wherever a page may be.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(tmp.path()).expect("list data dir") {
        bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    assert!(
        contains(&bytes, b"acme-deploy-bot"),
        "the token row is in the files read"
    );
    let hash = Sha256::digest(secret.as_bytes());
    assert!(contains(&bytes, hash.as_slice()), "its hash is stored");
    assert!(
        !contains(&bytes, secret.as_bytes()),
        "the secret itself is not"
    );
    let random_part = &secret["egt_".len()..];
    assert!(!contains(&bytes, random_part.as_bytes()));
}
