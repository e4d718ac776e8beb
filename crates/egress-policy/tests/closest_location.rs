//! DESIGN rule 2: no policy matched → the dedicated IP closest to the user's connected location;
//! equally close locations split users, each user sticky, the same on every node and restart.

mod support;
use std::collections::HashSet;

use egress_policy::{EgressKind, Reason};
use support::*;

#[test]
fn unmatched_traffic_uses_the_closest_dedicated_location() {
    let s = example();
    // globex holds nyc (BYOIP) and fra. From lax, nyc is closer.
    let plan = req("globex", Some("hank"), "198.19.0.1:80", "lax").plan(&s);
    assert_eq!(plan.reason, Reason::ClosestDedicated);
    assert_eq!(plan.method, EgressKind::Dedicated);
    assert_eq!(v4_source(&plan), "192.0.2.10");
    let plan = req("globex", Some("hank"), "198.19.0.1:80", "fra").plan(&s);
    assert_eq!(v4_source(&plan), "203.0.113.40");
}

#[test]
fn a_down_location_is_not_closest() {
    let s = down(&example(), &["nyc"]);
    let plan = req("globex", Some("hank"), "198.19.0.1:80", "lax").plan(&s);
    assert_eq!(v4_source(&plan), "203.0.113.40");
}

const TIED: &str = r#"
[[address_pools]]
name = "p"
prefix = "203.0.113.0/24"
[[address_pools]]
name = "p6"
prefix = "2001:db8:e000::/48"
[[locations]]
code = "mid"
city = "Middle"
region = "XX-M"
country = "XX"
latitude = 0.0
longitude = 0.0
ipv6_slice = 1
default_egress = { ipv4 = "198.51.100.0/28" }
[[locations]]
code = "est"
city = "East"
region = "XX-E"
country = "XX"
latitude = 0.0
longitude = 10.0
ipv6_slice = 2
default_egress = { ipv4 = "198.51.100.16/28" }
[[locations]]
code = "wst"
city = "West"
region = "XX-W"
country = "XX"
latitude = 0.0
longitude = -10.0
ipv6_slice = 3
default_egress = { ipv4 = "198.51.100.32/28" }
[[accounts]]
id = "a"
name = "A"
USERS
[[accounts.dedicated_ips]]
ipv4 = "203.0.113.1"
ipv6 = "2001:db8:e000:1::/64"
location = "FIRST"
[[accounts.dedicated_ips]]
ipv4 = "203.0.113.2"
ipv6 = "2001:db8:e000:2::/64"
location = "SECOND"
"#;

fn tied(first: &str, second: &str) -> egress_policy::Snapshot {
    let users: String = (0..200)
        .map(|u| format!("[[accounts.users]]\nname = \"u{u}\"\n"))
        .collect();
    snapshot_of(
        &TIED
            .replace("USERS", &users)
            .replace("FIRST", first)
            .replace("SECOND", second),
    )
}

#[test]
fn equally_close_locations_split_users_and_each_user_sticks() {
    let node_a = tied("est", "wst");
    // Another node (or a restart) with the IPs declared in the other order.
    let node_b = tied("wst", "est");
    let mut seen = HashSet::new();
    for u in 0..200 {
        let user = format!("u{u}");
        let r = req("a", Some(&user), "198.19.0.1:80", "mid");
        let first = v4_source(&r.plan(&node_a));
        assert_eq!(first, v4_source(&r.plan(&node_a)), "sticky on one node");
        assert_eq!(first, v4_source(&r.plan(&node_b)), "same on another node");
        seen.insert(first);
    }
    assert_eq!(seen.len(), 2, "users are split between both tied locations");
}

#[test]
fn no_dedicated_ips_means_default() {
    let text = TIED
        .replace("USERS", "")
        .split("[[accounts.dedicated_ips]]")
        .next()
        .expect("head")
        .to_string();
    let s = snapshot_of(&text);
    let plan = req("a", None, "198.19.0.1:80", "mid").plan(&s);
    assert_eq!(plan.reason, Reason::NoDedicatedIps);
    assert_eq!(plan.method, EgressKind::Default);
}
