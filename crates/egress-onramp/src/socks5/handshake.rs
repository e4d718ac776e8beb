use super::{SocksError, SOCKS_VERSION, USER_PASS_VERSION};
use crate::Parsed;

/// The methods a client offers in its greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub methods: Vec<u8>,
}

/// The authentication method the server selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// 0x00: no authentication.
    NoAuth,
    /// 0x02: username/password (RFC 1929).
    UserPass,
    /// 0xFF: none of the offered methods is acceptable; close after sending it.
    NoAcceptable,
}

impl Method {
    /// The method byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Method::NoAuth => 0x00,
            Method::UserPass => 0x02,
            Method::NoAcceptable => 0xFF,
        }
    }
}

/// RFC 1929 credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct UserPass {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for UserPass {
    /// Keeps passwords out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPass")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses `VER NMETHODS METHODS…`.
pub fn parse_greeting(buf: &[u8]) -> Result<Parsed<Greeting>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(Parsed::Partial);
    };
    if version != SOCKS_VERSION {
        return Err(SocksError::BadVersion(version));
    }
    let Some(&count) = buf.get(1) else {
        return Ok(Parsed::Partial);
    };
    let consumed = 2 + usize::from(count);
    match buf.get(2..consumed) {
        Some(methods) => Ok(Parsed::Complete {
            head: Greeting {
                methods: methods.to_vec(),
            },
            consumed,
        }),
        None => Ok(Parsed::Partial),
    }
}

/// Picks the method to answer a greeting with. With `require_password`, only username/password
/// will do. Without it, no-auth is preferred; a client that offers only username/password gets
/// it, and its credentials are then read (and may name its identity).
pub fn select_method(greeting: &Greeting, require_password: bool) -> Method {
    let offers = |method: Method| greeting.methods.contains(&method.code());
    if !require_password && offers(Method::NoAuth) {
        Method::NoAuth
    } else if offers(Method::UserPass) {
        Method::UserPass
    } else {
        Method::NoAcceptable
    }
}

/// `VER METHOD`.
pub fn encode_method_selection(method: Method) -> [u8; 2] {
    [SOCKS_VERSION, method.code()]
}

/// Client side of the greeting, for tests and upstream SOCKS dialling. At most 255 methods.
pub fn encode_greeting(greeting: &Greeting) -> Result<Vec<u8>, SocksError> {
    let count = u8::try_from(greeting.methods.len())
        .map_err(|_| SocksError::Malformed("more than 255 methods"))?;
    let mut out = vec![SOCKS_VERSION, count];
    out.extend_from_slice(&greeting.methods);
    Ok(out)
}

/// Parses `VER ULEN UNAME PLEN PASSWD` (RFC 1929 §2).
pub fn parse_user_pass(buf: &[u8]) -> Result<Parsed<UserPass>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(Parsed::Partial);
    };
    if version != USER_PASS_VERSION {
        return Err(SocksError::BadAuthVersion(version));
    }
    let Some((username, after_user)) = length_prefixed(buf, 1) else {
        return Ok(Parsed::Partial);
    };
    let Some((password, consumed)) = length_prefixed(buf, after_user) else {
        return Ok(Parsed::Partial);
    };
    let text = |raw: &[u8]| {
        String::from_utf8(raw.to_vec()).map_err(|_| SocksError::BadCredentialsEncoding)
    };
    let head = UserPass {
        username: text(username)?,
        password: text(password)?,
    };
    Ok(Parsed::Complete { head, consumed })
}

/// The field of `buf` whose length byte is at `at`, and the offset after it.
fn length_prefixed(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let start = at + 1;
    let end = start + usize::from(*buf.get(at)?);
    Some((buf.get(start..end)?, end))
}

/// Client side of the sub-negotiation. Each field must be at most 255 bytes.
pub fn encode_user_pass(credentials: &UserPass) -> Result<Vec<u8>, SocksError> {
    let mut out = vec![USER_PASS_VERSION];
    for field in [&credentials.username, &credentials.password] {
        let len = u8::try_from(field.len())
            .map_err(|_| SocksError::Malformed("credential longer than 255 bytes"))?;
        out.push(len);
        out.extend_from_slice(field.as_bytes());
    }
    Ok(out)
}

/// `VER STATUS`: 0x00 on success; anything else fails, and the server then closes.
pub fn encode_auth_status(ok: bool) -> [u8; 2] {
    [USER_PASS_VERSION, if ok { 0x00 } else { 0x01 }]
}
