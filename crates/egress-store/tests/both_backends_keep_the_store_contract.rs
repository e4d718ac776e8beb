//! The `ConfigStore` contract, checked the same way on SQLite and on PostgreSQL: revisions,
//! conflicts, validation, the audit log, tokens, and learning of new revisions.

mod support;

use std::time::{Duration, Instant};

use egress_model::AccountId;
use egress_store::{AuditAction, StoreError, TokenId, TokenScope};
use support::backends::{on_both_backends, Backend};
use support::{example, invalid};

on_both_backends!(
    an_empty_store_has_no_revisions,
    commits_read_back_by_latest_get_and_list_from_another_replica,
    the_first_revision_must_expect_none,
    a_stale_expected_revision_is_a_conflict_and_stores_nothing,
    an_invalid_configuration_is_refused_and_nothing_is_stored,
    import_follows_whatever_is_latest,
    every_change_is_audited_newest_first,
    a_created_token_verifies_until_revoked_on_every_replica,
    a_wrong_secret_verifies_as_nothing,
    token_names_must_be_usable_and_unique_among_live_tokens,
    revoking_an_unknown_token_names_it,
    waiting_returns_at_once_when_a_newer_revision_exists,
    waiting_without_a_newer_revision_times_out_with_none,
);

fn an_empty_store_has_no_revisions(backend: &dyn Backend) {
    let s = backend.open();
    assert_eq!(s.latest().expect("latest"), None);
    assert_eq!(s.get(1).expect("get"), None);
    assert!(s.list(10).expect("list").is_empty());
    assert!(s.audit(10).expect("audit").is_empty());
    assert!(s.list_tokens().expect("tokens").is_empty());
}

fn commits_read_back_by_latest_get_and_list_from_another_replica(backend: &dyn Backend) {
    let s = backend.open();
    let first = s.commit(None, &example(1), "alice", "first").expect("1");
    let second = s.commit(Some(1), &example(2), "bob", "second").expect("2");
    assert_eq!((first.number, second.number), (1, 2));

    assert_eq!(s.latest().expect("latest"), Some(second.clone()));
    let got = s.get(1).expect("get").expect("revision 1 exists");
    assert_eq!(got, first);
    assert_eq!(got.config, example(1));
    assert_eq!(
        (got.author.as_str(), got.comment.as_str()),
        ("alice", "first")
    );
    assert_eq!(s.get(3).expect("get"), None);
    assert_eq!(s.get(u64::MAX).expect("get"), None);

    let listed = s.list(10).expect("list");
    assert_eq!(listed, vec![second.meta(), first.meta()]);
    assert_eq!(s.list(1).expect("list"), vec![second.meta()]);

    // And from a fresh store on the same data: nothing lived only in memory.
    drop(s);
    let other = backend.open();
    assert_eq!(other.latest().expect("latest"), Some(second));
    assert_eq!(other.get(1).expect("get"), Some(first));
}

fn the_first_revision_must_expect_none(backend: &dyn Backend) {
    let s = backend.open();
    let err = s
        .commit(Some(0), &example(1), "a", "c")
        .expect_err("no revision 0");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: Some(0),
                current: None
            }
        ),
        "{err:?}"
    );
    s.commit(None, &example(1), "a", "c").expect("first");
    let err = s
        .commit(None, &example(2), "a", "c")
        .expect_err("not empty");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: None,
                current: Some(1)
            }
        ),
        "{err:?}"
    );
}

fn a_stale_expected_revision_is_a_conflict_and_stores_nothing(backend: &dyn Backend) {
    let (one, two) = (backend.open(), backend.open());
    one.commit(None, &example(1), "a", "1").expect("1");
    two.commit(Some(1), &example(2), "a", "2").expect("2");
    let err = one
        .commit(Some(1), &example(3), "b", "stale")
        .expect_err("stale");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: Some(1),
                current: Some(2)
            }
        ),
        "{err:?}"
    );
    assert_eq!(one.list(10).expect("list").len(), 2);
    assert_eq!(one.audit(10).expect("audit").len(), 2);
}

fn an_invalid_configuration_is_refused_and_nothing_is_stored(backend: &dyn Backend) {
    let s = backend.open();
    let err = s.commit(None, &invalid(), "a", "bad").expect_err("invalid");
    let StoreError::Invalid(errors) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert!(
        errors
            .iter()
            .any(|e| e.path == "deployment.max_connections_per_destination"),
        "{errors:?}"
    );
    assert!(err.to_string().contains("nothing was stored"), "{err}");
    assert!(s.import(&invalid(), "a", "bad.toml").is_err());
    assert_eq!(s.latest().expect("latest"), None);
    assert!(s.audit(10).expect("audit").is_empty());
}

fn import_follows_whatever_is_latest(backend: &dyn Backend) {
    let s = backend.open();
    s.commit(None, &example(1), "a", "1").expect("1");
    let imported = s
        .import(&example(7), "cli", "/etc/egressd.toml")
        .expect("import");
    assert_eq!(imported.number, 2);
    assert_eq!(imported.comment, "/etc/egressd.toml");
    assert_eq!(
        s.latest().expect("latest").map(|r| r.config),
        Some(example(7))
    );
}

fn every_change_is_audited_newest_first(backend: &dyn Backend) {
    let s = backend.open();
    s.commit(None, &example(1), "alice", "initial policies")
        .expect("commit");
    s.import(&example(2), "cli", "/etc/egressd.toml")
        .expect("import");
    let scope = TokenScope {
        account: None,
        write: true,
    };
    let (token, _) = s.create_token("ci", scope, "alice").expect("create");
    s.revoke_token(token.id, "bob").expect("revoke");

    let log = s.audit(10).expect("audit");
    let summary: Vec<_> = log
        .iter()
        .map(|e| (e.action, e.actor.as_str(), e.revision))
        .collect();
    assert_eq!(
        summary,
        vec![
            (AuditAction::TokenRevoke, "bob", None),
            (AuditAction::TokenCreate, "alice", None),
            (AuditAction::ConfigImport, "cli", Some(2)),
            (AuditAction::ConfigCommit, "alice", Some(1)),
        ]
    );
    assert_eq!(log[3].detail, "initial policies");
    assert_eq!(log[2].detail, "/etc/egressd.toml");
    assert!(log[1].detail.contains("\"ci\""), "{}", log[1].detail);
    assert!(
        log[0].detail.contains("operator write"),
        "{}",
        log[0].detail
    );
    assert!(log
        .windows(2)
        .all(|w| w[0].id > w[1].id && w[0].time >= w[1].time));
    assert_eq!(s.audit(1).expect("audit").len(), 1);
    let revision_1 = s.get(1).expect("get").expect("revision 1");
    assert_eq!(log[3].time, revision_1.created_at);
}

fn acme_read() -> TokenScope {
    TokenScope {
        account: Some(AccountId("acme".into())),
        write: false,
    }
}

fn a_created_token_verifies_until_revoked_on_every_replica(backend: &dyn Backend) {
    let (s, other) = (backend.open(), backend.open());
    let (info, secret) = s
        .create_token("acme-ro", acme_read(), "op")
        .expect("create");
    assert_eq!(info.name, "acme-ro");
    assert_eq!(info.scope, acme_read());
    assert_eq!(info.revoked_at, None);

    assert_eq!(s.verify_token(&secret).expect("verify"), Some(info.clone()));
    assert_eq!(
        other.verify_token(&secret).expect("verify"),
        Some(info.clone())
    );
    assert_eq!(s.list_tokens().expect("list"), vec![info.clone()]);

    let revoked = other.revoke_token(info.id, "op").expect("revoke");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(s.verify_token(&secret).expect("verify"), None);
    assert_eq!(s.list_tokens().expect("list"), vec![revoked.clone()]);

    // Revoking again changes nothing and is not audited again.
    assert_eq!(s.revoke_token(info.id, "op").expect("again"), revoked);
    assert_eq!(s.audit(10).expect("audit").len(), 2);
}

fn a_wrong_secret_verifies_as_nothing(backend: &dyn Backend) {
    let s = backend.open();
    let (_, secret) = s.create_token("t", acme_read(), "op").expect("create");
    let mut wrong = secret.clone();
    wrong.pop();
    wrong.push(if secret.ends_with('0') { '1' } else { '0' });
    for candidate in [wrong.as_str(), "", "egt_", &secret[..secret.len() - 1]] {
        assert_eq!(
            s.verify_token(candidate).expect("verify"),
            None,
            "{candidate:?}"
        );
    }
    assert!(s.verify_token(&secret).expect("verify").is_some());
}

fn token_names_must_be_usable_and_unique_among_live_tokens(backend: &dyn Backend) {
    let s = backend.open();
    for bad in ["", "  ", "a\nb", &"x".repeat(101)] {
        let err = s
            .create_token(bad, acme_read(), "op")
            .expect_err("bad name");
        assert!(matches!(err, StoreError::BadTokenName { .. }), "{err:?}");
    }
    let (first, _) = s.create_token("ci", acme_read(), "op").expect("create");
    let err = s.create_token("ci", acme_read(), "op").expect_err("taken");
    assert!(err.to_string().contains("already has this name"), "{err}");
    s.revoke_token(first.id, "op").expect("revoke");
    let (second, _) = s.create_token("ci", acme_read(), "op").expect("reuse");
    assert_ne!(first.id, second.id);
}

fn revoking_an_unknown_token_names_it(backend: &dyn Backend) {
    let s = backend.open();
    let err = s.revoke_token(TokenId(42), "op").expect_err("unknown");
    assert_eq!(err.to_string(), "no admin token has id 42");
}

fn waiting_returns_at_once_when_a_newer_revision_exists(backend: &dyn Backend) {
    let s = backend.open();
    s.commit(None, &example(1), "a", "1").expect("1");
    s.commit(Some(1), &example(2), "a", "2").expect("2");
    let started = Instant::now();
    // A timeout far beyond the test's patience: only an immediate answer passes.
    let found = s.wait_for_newer(0, Duration::from_secs(600)).expect("wait");
    assert_eq!(found, Some(2));
    assert_eq!(
        s.wait_for_newer(1, Duration::from_secs(600)).expect("wait"),
        Some(2)
    );
    eprintln!(
        "{}: two waits on existing revisions took {:?}",
        backend.name(),
        started.elapsed()
    );
}

fn waiting_without_a_newer_revision_times_out_with_none(backend: &dyn Backend) {
    let s = backend.open();
    assert_eq!(
        s.wait_for_newer(0, Duration::from_millis(300))
            .expect("wait"),
        None
    );
    s.commit(None, &example(1), "a", "1").expect("1");
    let started = Instant::now();
    assert_eq!(
        s.wait_for_newer(1, Duration::from_millis(300))
            .expect("wait"),
        None
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The store still answers normally after a wait.
    assert_eq!(s.list(1).expect("list")[0].number, 1);
}
