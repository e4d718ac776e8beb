//! Authorising clients on a listener: by source prefix or by a user's argon2-hashed password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use egress_model::{Authorization, Config};
use egress_onramp::server::{AuthError, Authorized, Listener};

/// One endpoint on a listener.
#[derive(Debug, Clone)]
struct Endpoint {
    account: String,
    name: String,
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
    passwords: HashMap<String, HashMap<String, Credential>>,
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
            for ep in &account.proxy_endpoints {
                let key = (ep.listen, ep.protocol.is_udp());
                a.endpoints.entry(key).or_default().push(Endpoint {
                    account: account.id.0.clone(),
                    name: ep.name.clone(),
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
                        .entry(account.id.0.clone())
                        .or_default()
                        .insert(user.name.clone(), credential);
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
                if self.check_password(&ep.account, user, password, may_hash)? {
                    return Some(Ok(Authorized {
                        account: ep.account.clone(),
                        user: Some(user.to_string()),
                        endpoint: ep.name.clone(),
                    }));
                }
            }
            if self.source_match(listen, peer).is_none() {
                return Some(Err(AuthError::BadCredentials));
            }
        }
        if let Some(ep) = self.source_match(listen, peer) {
            return Some(Ok(Authorized {
                account: ep.account.clone(),
                user: None,
                endpoint: ep.name.clone(),
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

    /// `None` when the answer needs argon2 and `may_hash` is false.
    fn check_password(
        &self,
        account: &str,
        user: &str,
        password: &str,
        may_hash: bool,
    ) -> Option<bool> {
        let Some(credential) = self
            .passwords
            .get(account)
            .and_then(|users| users.get(user))
        else {
            return Some(false);
        };
        if credential
            .verified
            .lock()
            .expect("never poisoned")
            .as_deref()
            == Some(password)
        {
            return Some(true);
        }
        if !may_hash {
            return None;
        }
        let ok = PasswordHash::new(&credential.hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        if ok {
            *credential.verified.lock().expect("never poisoned") = Some(password.to_string());
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
