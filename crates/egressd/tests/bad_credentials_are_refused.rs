//! On listeners that authorise by credentials, a client without them or with wrong ones gets
//! HTTP 407 with `Proxy-Authenticate` (SOCKS5: the RFC 1929 failure status), never a tunnel,
//! and the refusal is logged with close reason `auth_required` or `auth_failed`.

mod common;

use std::net::IpAddr;

use common::*;

const PASSWORD: &str = "s3cret-for-alice";

#[test]
fn bad_credentials_are_refused() {
    let setup = Setup {
        users: vec![("alice".into(), hash_password(PASSWORD))],
        ..Setup::default()
    };
    let scenario = Scenario::start("bad_credentials_are_refused", &setup);
    let target = authority(origin_v4(DEDICATED_PORT));

    // HTTP: no credentials, a wrong password, an unknown user.
    for (auth, reason) in [
        (None, "auth_required"),
        (Some(("alice", "wrong")), "auth_failed"),
        (Some(("mallory", PASSWORD)), "auth_failed"),
    ] {
        let mut client = scenario.client(HTTP_AUTH_PORT);
        let answer = http_connect(&mut client, &target, auth);
        assert_eq!(answer.status, 407, "{auth:?}: {answer:?}");
        let challenge = answer.header("Proxy-Authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Basic "),
            "{auth:?}: challenge {challenge:?}"
        );
        assert_closed(&mut client, "after 407");
        let record = scenario.record_of(local_port(&client));
        assert_eq!(field(&record, "close_reason"), reason, "{auth:?}: {record}");
        assert!(
            record["egress_ip"].is_null(),
            "a refused client has no egress: {record}"
        );
    }

    // An absolute-form request without credentials is challenged the same way.
    let mut client = scenario.client(HTTP_AUTH_PORT);
    let answer = http_get(&mut client, origin_v4(DEDICATED_PORT), "/", None);
    assert_eq!(answer.status, 407, "{answer:?}");
    assert!(answer.header("Proxy-Authenticate").is_some(), "{answer:?}");
    let record = scenario.record_of(local_port(&client));
    assert_eq!(field(&record, "close_reason"), "auth_required", "{record}");
    assert_eq!(field(&record, "onramp"), "http_forward", "{record}");

    // The right password opens the tunnel: the refusals above were about the credentials.
    let mut client = scenario.client(HTTP_AUTH_PORT);
    tunnel(
        &mut client,
        origin_v4(DEDICATED_PORT),
        Some(("alice", PASSWORD)),
    );
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));

    // SOCKS5: a wrong password fails the RFC 1929 sub-negotiation and closes.
    let mut client = scenario.client(SOCKS_AUTH_PORT);
    match socks5_connect(
        &mut client,
        Some(("alice", "wrong")),
        origin_v4(DEDICATED_PORT),
    ) {
        Socks::AuthFailed(status) => assert_ne!(status, 0),
        other => panic!("wrong SOCKS5 password: {other:?}"),
    }
    assert_closed(&mut client, "after the failed sub-negotiation");
    let record = scenario.record_of(local_port(&client));
    assert_eq!(field(&record, "close_reason"), "auth_failed", "{record}");
    assert_eq!(field(&record, "onramp"), "socks5", "{record}");

    // A SOCKS5 client offering no authentication at all gets "no acceptable methods".
    let mut client = scenario.client(SOCKS_AUTH_PORT);
    assert_eq!(
        socks5_connect(&mut client, None, origin_v4(DEDICATED_PORT)),
        Socks::Method(0xff)
    );
    assert_closed(&mut client, "after no acceptable method");
    let record = scenario.record_of(local_port(&client));
    assert!(
        field(&record, "close_reason").contains("acceptable"),
        "{record}"
    );

    // And the right password works there too.
    let mut client = scenario.client(SOCKS_AUTH_PORT);
    match socks5_connect(
        &mut client,
        Some(("alice", PASSWORD)),
        origin_v4(DEDICATED_PORT),
    ) {
        Socks::Connected(bound) => assert_eq!(bound.ip(), IpAddr::from(DEDICATED_V4)),
        other => panic!("right SOCKS5 password: {other:?}"),
    }
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
}
