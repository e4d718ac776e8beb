//! Concurrent sessions per user and per account on this node.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    User(String, String),
}

/// Live session counts; survive configuration reloads (the limits come with each call).
#[derive(Debug, Default)]
pub struct SessionCounter {
    counts: Mutex<FxHashMap<Key, u32>>,
}

/// A counted session; dropping it releases the count.
#[derive(Debug)]
pub struct SessionGuard {
    counter: Arc<SessionCounter>,
    keys: Vec<Key>,
}

impl SessionCounter {
    /// Counts a session of `user` in `account`, or says which limit refuses it.
    pub fn enter(
        self: &Arc<Self>,
        account: &str,
        user: Option<&str>,
        (per_user, per_account): (u32, u32),
    ) -> Result<SessionGuard, &'static str> {
        let mut keys = vec![Key::Account(account.to_string())];
        if let Some(u) = user {
            keys.push(Key::User(account.to_string(), u.to_string()));
        }
        let mut counts = self.counts.lock().expect("never poisoned");
        let now = |k: &Key| counts.get(k).copied().unwrap_or(0);
        if now(&keys[0]) >= per_account {
            return Err("too_many_sessions_account");
        }
        if keys.len() == 2 && now(&keys[1]) >= per_user {
            return Err("too_many_sessions_user");
        }
        for k in &keys {
            *counts.entry(k.clone()).or_insert(0) += 1;
        }
        Ok(SessionGuard {
            counter: Arc::clone(self),
            keys,
        })
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut counts = self.counter.counts.lock().expect("never poisoned");
        for k in &self.keys {
            if let Some(c) = counts.get_mut(k) {
                *c -= 1;
                if *c == 0 {
                    counts.remove(k);
                }
            }
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
}
