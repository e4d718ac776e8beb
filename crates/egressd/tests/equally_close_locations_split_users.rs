//! No policy matches and the account's dedicated IPs sit in two locations equally far from the
//! user's (nyc and fra, seen from lax): users are split between them, and each user keeps its
//! location over 100 connections (rendezvous hashing on the user, DESIGN rule 2).

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::fleet::*;
use common::*;

const LAX: usize = 0;
const USERS: usize = 12;
const CONNECTIONS_PER_USER: usize = 100;

#[test]
fn equally_close_locations_split_users() {
    let hash = hash_password("shared-secret");
    let users: Vec<(String, String)> = (0..USERS)
        .map(|i| (format!("user{i:02}"), hash.clone()))
        .collect();
    let fleet = Fleet::start("equally_close_locations_split_users", &users);

    let mut chosen: BTreeMap<String, IpAddr> = BTreeMap::new();
    for (user, _) in &users {
        for n in 0..CONNECTIONS_PER_USER {
            let mut client = fleet.client(LAX, FLEET_HTTP_AUTH_PORT);
            let answer = http_get(
                &mut client,
                origin_v4(UNMATCHED_PORT),
                "/",
                Some((user, "shared-secret")),
            );
            assert_eq!(answer.status, 200, "{user} #{n}: {}", answer.text());
            let seen = answer.seen_ip();
            assert!(
                seen == IpAddr::from(NYC_V4) || seen == IpAddr::from(FRA_V4),
                "{user} #{n} left from {seen}"
            );
            let first = *chosen.entry(user.clone()).or_insert(seen);
            assert_eq!(seen, first, "{user} moved on connection #{n}");
        }
    }
    let at_nyc = chosen
        .values()
        .filter(|ip| **ip == IpAddr::from(NYC_V4))
        .count();
    eprintln!("{at_nyc} of {USERS} users at nyc, the rest at fra");
    assert!(
        at_nyc > 0 && at_nyc < USERS,
        "users were not split: {chosen:?}"
    );
    let record = fleet.wait_record(LAX, "an unmatched connection", |r| {
        r["user"] == "user00" && r["close_reason"] == "closed"
    });
    assert!(record["policy_name"].is_null(), "{record}");
    assert_eq!(record["egress_method"], "dedicated", "{record}");
}
