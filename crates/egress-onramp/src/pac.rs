//! Proxy auto-configuration (PAC) files for proxy endpoints: browsers send everything through
//! the endpoint except plain host names, private address space and the deployment's private
//! networks, which they reach directly.

use std::fmt::Write;

use egress_model::{Config, ProxyProtocol};
use ipnet::IpNet;

/// Why no PAC file can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacError {
    /// No endpoint has this name.
    #[error("no proxy endpoint is named {0:?}")]
    UnknownEndpoint(String),
    /// Several accounts have an endpoint of this name; name the account.
    #[error("several accounts have a proxy endpoint named {0:?}: name the account")]
    Ambiguous(String),
    /// A MASQUE endpoint: PAC files name HTTP and SOCKS proxies only.
    #[error("proxy endpoint {0:?} speaks MASQUE (HTTP/3 CONNECT-UDP), which a PAC file cannot name; configure it in the HTTP/3 client instead")]
    NotForPac(String),
}

/// Address space that never goes through the proxy, beside the configured private networks.
const ALWAYS_DIRECT: [&str; 7] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "::1/128",
];

/// The PAC file of endpoint `name` (of `account` when given), pointing browsers at
/// `proxy_host` and the endpoint's port.
pub fn pac_file(
    config: &Config,
    account: Option<&str>,
    name: &str,
    proxy_host: &str,
) -> Result<String, PacError> {
    let mut found = config
        .accounts
        .iter()
        .filter(|a| account.is_none_or(|id| a.id.as_str() == id))
        .flat_map(|a| a.proxy_endpoints.iter().map(move |e| (a, e)))
        .filter(|(_, e)| e.name == name);
    let (acct, endpoint) = found
        .next()
        .ok_or_else(|| PacError::UnknownEndpoint(name.into()))?;
    if found.next().is_some() {
        return Err(PacError::Ambiguous(name.into()));
    }
    let host = if proxy_host.contains(':') && !proxy_host.starts_with('[') {
        format!("[{proxy_host}]")
    } else {
        proxy_host.to_string()
    };
    let port = endpoint.listen.port();
    let proxy = match endpoint.protocol {
        ProxyProtocol::Http => format!("PROXY {host}:{port}"),
        ProxyProtocol::Socks5 => format!("SOCKS5 {host}:{port}; SOCKS {host}:{port}"),
        ProxyProtocol::Masque => return Err(PacError::NotForPac(name.into())),
    };
    let mut direct: Vec<IpNet> = ALWAYS_DIRECT
        .iter()
        .map(|p| p.parse().expect("the built-in prefixes are valid"))
        .collect();
    direct.extend(
        config
            .private_networks
            .iter()
            .flat_map(|p| p.prefixes.iter().copied()),
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// egressd proxy endpoint {:?} of account {:?}",
        endpoint.name,
        acct.id.as_str()
    );
    out.push_str("function FindProxyForURL(url, host) {\n");
    out.push_str("  if (isPlainHostName(host)) return \"DIRECT\";\n");
    out.push_str("  var ip = dnsResolve(host);\n");
    out.push_str("  if (ip) {\n");
    for net in &direct {
        match net {
            IpNet::V4(v4) => {
                let _ = writeln!(
                    out,
                    "    if (isInNet(ip, \"{}\", \"{}\")) return \"DIRECT\";",
                    v4.network(),
                    v4.netmask()
                );
            }
            IpNet::V6(v6) => {
                let _ = writeln!(
                    out,
                    "    if (typeof isInNetEx == \"function\" && isInNetEx(ip, \"{v6}\")) return \"DIRECT\";"
                );
            }
        }
    }
    out.push_str("  }\n");
    let _ = writeln!(out, "  return \"{proxy}\";");
    out.push_str("}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../examples/egressd.toml");

    #[test]
    fn http_endpoint_pac_proxies_public_and_bypasses_private_networks() {
        let config = Config::from_toml(EXAMPLE, "example").expect("valid");
        let pac = pac_file(&config, None, "office-http", "gw.example.net").expect("pac");
        assert!(
            pac.contains("return \"PROXY gw.example.net:3128\";"),
            "{pac}"
        );
        assert!(
            pac.contains("isInNet(ip, \"10.0.0.0\", \"255.0.0.0\")"),
            "{pac}"
        );
        assert!(pac.contains("isInNetEx(ip, \"fd00:c0::/32\")"), "{pac}");
        assert!(pac.starts_with("// egressd proxy endpoint \"office-http\" of account \"acme\""));
    }

    #[test]
    fn socks_endpoint_and_errors() {
        let config = Config::from_toml(EXAMPLE, "example").expect("valid");
        let pac = pac_file(&config, Some("acme"), "office-socks", "2001:db8::1").expect("pac");
        assert!(pac.contains("SOCKS5 [2001:db8::1]:1080"), "{pac}");
        assert_eq!(
            pac_file(&config, None, "nope", "h"),
            Err(PacError::UnknownEndpoint("nope".into()))
        );
        assert_eq!(
            pac_file(&config, Some("globex"), "office-http", "h"),
            Err(PacError::UnknownEndpoint("office-http".into()))
        );
    }

    #[test]
    fn a_masque_endpoint_has_no_pac_file() {
        let mut config = Config::from_toml(EXAMPLE, "example").expect("valid");
        let endpoint = &mut config.accounts[0].proxy_endpoints[0];
        endpoint.protocol = ProxyProtocol::Masque;
        let name = endpoint.name.clone();
        assert_eq!(
            pac_file(&config, None, &name, "h"),
            Err(PacError::NotForPac(name))
        );
    }
}
