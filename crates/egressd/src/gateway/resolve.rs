//! Name resolution for targets. The gateway's own DNS queries leave from the default range of
//! its location (DESIGN rule 9): every name server socket is bound to that source.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;

/// A resolver whose queries leave from the default range.
#[derive(Debug, Clone)]
pub struct GatewayResolver {
    resolver: TokioResolver,
}

impl GatewayResolver {
    /// Reads /etc/resolv.conf (no name servers when it is missing: the hosts file still
    /// answers), binding queries to `source_v4`/`source_v6` by the server's family.
    pub fn from_system(source_v4: Option<IpAddr>, source_v6: Option<IpAddr>) -> Self {
        let (config, mut opts) =
            hickory_resolver::system_conf::read_system_conf().unwrap_or_else(|_| {
                (
                    ResolverConfig::from_parts(None, vec![], Vec::<NameServerConfig>::new()),
                    ResolverOpts::default(),
                )
            });
        let servers: Vec<NameServerConfig> = config
            .name_servers()
            .iter()
            .cloned()
            .map(|mut ns| {
                let source = if ns.socket_addr.is_ipv4() {
                    source_v4
                } else {
                    source_v6
                };
                ns.bind_addr = source.map(|ip| SocketAddr::new(ip, 0));
                ns
            })
            .collect();
        let config =
            ResolverConfig::from_parts(config.domain().cloned(), config.search().to_vec(), servers);
        opts.use_hosts_file = ResolveHosts::Always;
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                .with_options(opts)
                .build();
        GatewayResolver { resolver }
    }

    /// Addresses of a name, in the order RFC 8305 §4 asks for: families interleaved, IPv6 first.
    pub async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let found = self
            .resolver
            .lookup_ip(name)
            .await
            .map_err(|e| e.to_string())?;
        let (mut v6, mut v4): (Vec<IpAddr>, Vec<IpAddr>) = found.iter().partition(IpAddr::is_ipv6);
        v6.dedup();
        v4.dedup();
        Ok(interleave(v6, v4))
    }
}

fn interleave(first: Vec<IpAddr>, second: Vec<IpAddr>) -> Vec<IpAddr> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    let (mut a, mut b) = (first.into_iter(), second.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_interleaved_ipv6_first() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("valid");
        let got = interleave(
            vec![ip("2001:db8::1"), ip("2001:db8::2")],
            vec![ip("192.0.2.1")],
        );
        assert_eq!(
            got,
            vec![ip("2001:db8::1"), ip("192.0.2.1"), ip("2001:db8::2")]
        );
    }

    #[tokio::test]
    async fn the_hosts_file_answers_localhost() {
        let r = GatewayResolver::from_system(None, None);
        let found = r
            .lookup("localhost")
            .await
            .expect("localhost resolves from /etc/hosts");
        assert!(found.iter().any(IpAddr::is_loopback), "{found:?}");
    }
}
