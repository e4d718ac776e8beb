//! Authorising clients on a listener: by source prefix or by a user's argon2-hashed password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use egress_model::{Authorization, Config};
use egress_onramp::server::{AuthError, Authorized, Listener};

/// One endpoint on a listener. Its names are shared with every client it authorises.
#[derive(Debug, Clone)]
struct Endpoint {
    account: Arc<str>,
    name: Arc<str>,
    authorization: Authorization,
}

/// Where endpoints listen: the address, and whether on UDP (a TCP and a UDP listener may
/// share an address and port).
type ListenKey = (SocketAddr, bool);

fn key(listener: &Listener) -> ListenKey {
    (listener.local, listener.protocol.is_udp())
}

/// Endpoints per listening address, and the users who may present credentials.
#[derive(Debug, Default)]
pub struct Authorizer {
    endpoints: HashMap<ListenKey, Vec<Endpoint>>,
    /// account → user → credential; looked up with borrowed names (no allocation per client).
    /// The user names are shared with every client they authorise.
    passwords: HashMap<Arc<str>, HashMap<Arc<str>, Credential>>,
}

/// A user's password hash, and the password that last verified against it, so argon2 runs
/// once per (user, password), not per connection. The password itself is compared (kept in
/// memory only), never a hash of it that could collide.
#[derive(Debug)]
struct Credential {
    hash: String,
    verified: Mutex<Option<String>>,
}

impl Authorizer {
    pub fn new(config: &Config) -> Self {
        let mut a = Authorizer::default();
        for account in &config.accounts {
            let id: Arc<str> = Arc::from(account.id.as_str());
            for ep in &account.proxy_endpoints {
                let key = (ep.listen, ep.protocol.is_udp());
                a.endpoints.entry(key).or_default().push(Endpoint {
                    account: Arc::clone(&id),
                    name: Arc::from(ep.name.as_str()),
                    authorization: ep.authorization.clone(),
                });
            }
            for user in &account.users {
                if let Some(hash) = &user.password_hash {
                    let credential = Credential {
                        hash: hash.clone(),
                        verified: Mutex::new(None),
                    };
                    a.passwords
                        .entry(Arc::clone(&id))
                        .or_default()
                        .insert(Arc::from(user.name.as_str()), credential);
                }
            }
        }
        a
    }

    /// Whether a client on this listener must give credentials (no source-prefix endpoint
    /// covers it).
    pub fn requires_credentials(&self, listener: &Listener, peer: SocketAddr) -> bool {
        let listen = key(listener);
        self.source_match(listen, peer).is_none()
            && self
                .endpoints_on(listen)
                .iter()
                .any(|e| e.authorization == Authorization::Credentials)
    }

    fn endpoints_on(&self, (listen, udp): ListenKey) -> &[Endpoint] {
        self.endpoints
            .get(&(listen, udp))
            .or_else(|| {
                // A listener on 0.0.0.0/[::] accepted on a concrete local address.
                let any = SocketAddr::new(
                    if listen.is_ipv4() {
                        [0u8; 4].into()
                    } else {
                        [0u16; 8].into()
                    },
                    listen.port(),
                );
                self.endpoints.get(&(any, udp))
            })
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn source_match(&self, listen: ListenKey, peer: SocketAddr) -> Option<&Endpoint> {
        self.endpoints_on(listen)
            .iter()
            .find(|e| match &e.authorization {
                Authorization::SourcePrefixes(p) => p.iter().any(|n| n.contains(&peer.ip())),
                Authorization::Credentials => false,
            })
    }

    /// Authorises a client without hashing a password: `None` when a password has to be
    /// checked with argon2 (not verified before), which the caller does off the reactor with
    /// [`Authorizer::authorize`].
    pub fn authorize_cached(
        &self,
        listener: &Listener,
        peer: SocketAddr,
        credentials: Option<(&str, &str)>,
    ) -> Option<Result<Authorized, AuthError>> {
        self.authorize_with(key(listener), peer, credentials, false)
    }

    /// Authorises a client, hashing the password if needed (slow: run it on a blocking thread).
    pub fn authorize(
        &self,
        listener: &Listener,
        peer: SocketAddr,
        credentials: Option<(&str, &str)>,
    ) -> Result<Authorized, AuthError> {
        self.authorize_with(key(listener), peer, credentials, true)
            .expect("with hashing allowed there is always an answer")
    }

    fn authorize_with(
        &self,
        listen: ListenKey,
        peer: SocketAddr,
        credentials: Option<(&str, &str)>,
        may_hash: bool,
    ) -> Option<Result<Authorized, AuthError>> {
        let endpoints = self.endpoints_on(listen);
        if let Some((user, password)) = credentials {
            for ep in endpoints
                .iter()
                .filter(|e| e.authorization == Authorization::Credentials)
            {
                let Some((name, credential)) = self.credential(&ep.account, user) else {
                    continue;
                };
                if credential.check(password, may_hash)? {
                    return Some(Ok(Authorized {
                        account: Arc::clone(&ep.account),
                        user: Some(Arc::clone(name)),
                        endpoint: Arc::clone(&ep.name),
                    }));
                }
            }
            if self.source_match(listen, peer).is_none() {
                return Some(Err(AuthError::BadCredentials));
            }
        }
        if let Some(ep) = self.source_match(listen, peer) {
            return Some(Ok(Authorized {
                account: Arc::clone(&ep.account),
                user: None,
                endpoint: Arc::clone(&ep.name),
            }));
        }
        if endpoints
            .iter()
            .any(|e| e.authorization == Authorization::Credentials)
        {
            Some(Err(AuthError::CredentialsRequired))
        } else {
            Some(Err(AuthError::SourceNotAllowed(peer)))
        }
    }

    /// The user's shared name and credential, if the account has that user with a password.
    fn credential(&self, account: &str, user: &str) -> Option<(&Arc<str>, &Credential)> {
        self.passwords.get(account)?.get_key_value(user)
    }
}

impl Credential {
    /// Whether `password` is this user's; `None` when the answer needs argon2 and `may_hash`
    /// is false.
    fn check(&self, password: &str, may_hash: bool) -> Option<bool> {
        if self.verified.lock().expect("never poisoned").as_deref() == Some(password) {
            return Some(true);
        }
        if !may_hash {
            return None;
        }
        let ok = PasswordHash::new(&self.hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        if ok {
            *self.verified.lock().expect("never poisoned") = Some(password.to_string());
        }
        Some(ok)
    }
}

/// Hashes a password for the configuration (`egressd hash-password`).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_model::{ProxyProtocol, User};

    fn http_listener() -> Listener {
        Listener {
            local: "127.0.0.1:3128".parse().expect("valid"),
            protocol: ProxyProtocol::Http,
        }
    }

    #[test]
    fn clients_of_one_endpoint_share_its_names() {
        let config = Config::from_toml(crate::serve::DEFAULT_CONFIG, "default").expect("valid");
        let authorizer = Authorizer::new(&config);
        let client = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let a = authorizer
            .authorize(&http_listener(), client(40_000), None)
            .expect("inside the source prefix");
        let b = authorizer
            .authorize(&http_listener(), client(40_001), None)
            .expect("inside the source prefix");
        assert_eq!((&*a.account, &*a.endpoint), ("local", "http"));
        assert!(Arc::ptr_eq(&a.account, &b.account));
        assert!(Arc::ptr_eq(&a.endpoint, &b.endpoint));
    }

    #[test]
    fn clients_of_one_user_share_its_name() {
        let mut config = Config::from_toml(crate::serve::DEFAULT_CONFIG, "default").expect("valid");
        let account = &mut config.accounts[0];
        account.proxy_endpoints[0].authorization = Authorization::Credentials;
        account.users.push(User {
            name: "alice".into(),
            email: None,
            groups: Vec::new(),
            password_hash: Some(hash_password("secret").expect("hashable")),
        });
        let authorizer = Authorizer::new(&config);
        let client = SocketAddr::from(([192, 0, 2, 1], 40_000));
        let first = authorizer
            .authorize(&http_listener(), client, Some(("alice", "secret")))
            .expect("right password");
        let again = authorizer
            .authorize_cached(&http_listener(), client, Some(("alice", "secret")))
            .expect("verified before")
            .expect("right password");
        assert_eq!(first.user.as_deref(), Some("alice"));
        let (first, again) = (first.user.expect("named"), again.user.expect("named"));
        assert!(Arc::ptr_eq(&first, &again));
    }
}
