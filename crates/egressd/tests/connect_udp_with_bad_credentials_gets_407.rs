//! A MASQUE endpoint that asks for credentials answers a CONNECT-UDP request without them, or
//! with a wrong password, 407 with a Basic challenge, and logs the refusal; the right
//! password opens the tunnel. The endpoint shares its port with the HTTP proxy's credentials
//! listener: one is UDP, the other TCP.

mod common;

use std::net::IpAddr;

use common::masque::{h3_get_through_masque, masque_proxy};
use common::*;
use egress_harness::{H3Origin, HarnessError};

#[test]
fn connect_udp_with_bad_credentials_gets_407() {
    let setup = Setup {
        udp: true,
        masque: true,
        users: vec![("alice".into(), hash_password("right horse"))],
        ..Setup::default()
    };
    let scenario = Scenario::start("connect_udp_with_bad_credentials_gets_407", &setup);
    let origin = H3Origin::start(&scenario.net.internet, &[origin_v4(DEDICATED_PORT)])
        .expect("HTTP/3 origin");
    let server = origin_v4(DEDICATED_PORT);

    for (credentials, reason) in [
        (None, "auth_required"),
        (Some(("alice", "wrong battery")), "auth_failed"),
    ] {
        let proxy = masque_proxy(&scenario, MASQUE_AUTH_PORT, credentials);
        match h3_get_through_masque(&scenario, &proxy, &origin, server).0 {
            Err(HarnessError::ConnectUdpRefused {
                status, headers, ..
            }) => {
                assert_eq!(status, 407, "{headers:?}");
                assert!(
                    headers
                        .iter()
                        .any(|(n, v)| n == "proxy-authenticate" && v.starts_with("Basic")),
                    "{headers:?}"
                );
            }
            other => panic!("expected 407 ({reason}), got {other:?}"),
        }
        let refused = scenario.wait_record(reason, |r| {
            r["onramp"] == "masque" && r["close_reason"] == reason
        });
        assert!(
            refused.get("dst_ip").is_none_or(|v| v.is_null()),
            "{refused}"
        );
    }
    assert_eq!(origin.seen(), vec![], "the origin saw a QUIC connection");

    let proxy = masque_proxy(&scenario, MASQUE_AUTH_PORT, Some(("alice", "right horse")));
    let (answer, _) = h3_get_through_masque(&scenario, &proxy, &origin, server);
    let body = answer.unwrap_or_else(|e| panic!("HTTP/3 GET with the right password: {e}"));
    let source = H3Origin::seen_in_answer(&body).expect("an address");
    assert_eq!(source.ip(), IpAddr::from(DEDICATED_V4));

    // The HTTP proxy on the same port (TCP) still asks for its own credentials.
    let mut client = scenario.client(HTTP_AUTH_PORT);
    let response = http_connect(&mut client, &authority(server), None);
    assert_eq!(response.status, 407, "{response:?}");
}
