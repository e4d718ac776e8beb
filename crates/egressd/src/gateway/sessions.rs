//! Concurrent sessions per user and per account on this node.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

/// Live session counts; survive configuration reloads (the limits come with each call).
#[derive(Debug, Default)]
pub struct SessionCounter {
    counts: Mutex<Counts>,
}

/// Counts by account, and by user (keyed by account and user together). Each key is shared
/// with the guards of its sessions, so a live session holds no text of its own.
#[derive(Debug, Default)]
struct Counts {
    accounts: FxHashMap<Arc<str>, u32>,
    users: FxHashMap<Arc<str>, u32>,
}

/// A counted session; dropping it releases the count.
#[derive(Debug)]
pub struct SessionGuard {
    counter: Arc<SessionCounter>,
    account: Arc<str>,
    user: Option<Arc<str>>,
}

/// One key per (account, user): the account's length first, so no pair of names collides.
fn user_key(account: &str, user: &str) -> String {
    format!("{}:{account}{user}", account.len())
}

/// Counts one more under `key` and returns the shared key.
fn bump(map: &mut FxHashMap<Arc<str>, u32>, key: &str) -> Arc<str> {
    match map.get_key_value(key).map(|(k, _)| Arc::clone(k)) {
        Some(shared) => {
            *map.get_mut(key).expect("looked up just above") += 1;
            shared
        }
        None => {
            let shared: Arc<str> = Arc::from(key);
            map.insert(Arc::clone(&shared), 1);
            shared
        }
    }
}

/// Counts one less under `key`, forgetting it at zero.
fn release(map: &mut FxHashMap<Arc<str>, u32>, key: &str) {
    if let Some(c) = map.get_mut(key) {
        *c -= 1;
        if *c == 0 {
            map.remove(key);
        }
    }
}

impl SessionCounter {
    /// Counts a session of `user` in `account`, or says which limit refuses it.
    pub fn enter(
        self: &Arc<Self>,
        account: &str,
        user: Option<&str>,
        (per_user, per_account): (u32, u32),
    ) -> Result<SessionGuard, &'static str> {
        let user_key = user.map(|u| user_key(account, u));
        let mut counts = self.counts.lock().expect("never poisoned");
        if counts.accounts.get(account).copied().unwrap_or(0) >= per_account {
            return Err("too_many_sessions_account");
        }
        if let Some(key) = &user_key {
            if counts.users.get(key.as_str()).copied().unwrap_or(0) >= per_user {
                return Err("too_many_sessions_user");
            }
        }
        let account = bump(&mut counts.accounts, account);
        let user = user_key.map(|key| bump(&mut counts.users, &key));
        Ok(SessionGuard {
            counter: Arc::clone(self),
            account,
            user,
        })
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut counts = self.counter.counts.lock().expect("never poisoned");
        release(&mut counts.accounts, &self.account);
        if let Some(user) = &self.user {
            release(&mut counts.users, user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_user_and_per_account_and_release_on_drop() {
        let c = Arc::new(SessionCounter::default());
        let a = c.enter("acme", Some("alice"), (1, 2)).expect("first");
        assert_eq!(
            c.enter("acme", Some("alice"), (1, 2))
                .expect_err("user limit"),
            "too_many_sessions_user"
        );
        let _b = c.enter("acme", Some("bob"), (1, 2)).expect("bob");
        assert_eq!(
            c.enter("acme", None, (1, 2)).expect_err("account limit"),
            "too_many_sessions_account"
        );
        drop(a);
        assert!(c.enter("acme", Some("alice"), (1, 2)).is_ok());
    }

    #[test]
    fn names_that_run_together_are_different_users() {
        let c = Arc::new(SessionCounter::default());
        let _ab = c.enter("ab", Some("c"), (1, 10)).expect("ab/c");
        assert!(
            c.enter("a", Some("bc"), (1, 10)).is_ok(),
            "a/bc is another user"
        );
    }

    #[test]
    fn counts_are_forgotten_when_the_last_session_ends() {
        let c = Arc::new(SessionCounter::default());
        let a = c.enter("acme", Some("alice"), (5, 5)).expect("first");
        let b = c.enter("acme", Some("alice"), (5, 5)).expect("second");
        drop((a, b));
        let counts = c.counts.lock().expect("never poisoned");
        assert!(counts.accounts.is_empty() && counts.users.is_empty());
    }
}
