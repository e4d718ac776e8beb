//! Workloads shared by the benchmarks.

use std::fmt::Write;

use egress_model::Config;

/// A deployment with two locations and one account holding `policies` egress policies, each
/// sending one /24 (`20.x.y.0/24`, port 443) to a dedicated IP, and `users` users.
pub fn large_config(policies: usize, users: usize) -> Config {
    let mut toml = String::from(
        r#"
[[address_pools]]
name = "pool"
prefix = "203.0.113.0/24"
[[address_pools]]
name = "pool6"
prefix = "2001:db8:e000::/48"
[[locations]]
code = "lax"
city = "Los Angeles"
region = "US-CA"
country = "US"
latitude = 34.05
longitude = -118.24
ipv6_slice = 1
default_egress = { ipv4 = "198.51.100.0/28", ipv6 = "2001:db8:d1::/64" }
[[locations]]
code = "nyc"
city = "New York"
region = "US-NY"
country = "US"
latitude = 40.71
longitude = -74.01
ipv6_slice = 2
default_egress = { ipv4 = "198.51.100.16/28", ipv6 = "2001:db8:d2::/64" }
[[accounts]]
id = "acme"
name = "Acme"
groups = ["g0", "g1", "g2", "g3"]
[[accounts.dedicated_ips]]
ipv4 = "203.0.113.10"
ipv6 = "2001:db8:e000:10::/64"
location = "lax"
[[accounts.dedicated_ips]]
ipv4 = "203.0.113.20"
ipv6 = "2001:db8:e000:20::/64"
location = "nyc"
"#,
    );
    for u in 0..users {
        let _ = write!(
            toml,
            "[[accounts.users]]\nname = \"user{u}\"\nemail = \"user{u}@acme.example\"\ngroups = [\"g{}\"]\n",
            u % 4
        );
    }
    for p in 0..policies {
        let _ = write!(
            toml,
            "[[accounts.policies]]\nprecedence = {}\nname = \"p{p}\"\ntraffic = 'net.dst.ip in {{20.{}.{}.0/24}} and net.dst.port == 443'\nmethod = {{ dedicated = {{ ipv4 = \"203.0.113.10\", ipv4_fallback = \"203.0.113.20\" }} }}\n",
            p + 1,
            p / 256,
            p % 256
        );
    }
    Config::from_toml(&toml, "bench").expect("the benchmark configuration is valid")
}

/// The destination address that policy `p` of [`large_config`] matches.
pub fn destination_of(p: usize) -> std::net::IpAddr {
    std::net::IpAddr::from([20, (p / 256) as u8, (p % 256) as u8, 7])
}
