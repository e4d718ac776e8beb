//! A masque endpoint whose key cannot be read: at start, `egressd serve` stops with an error
//! naming the endpoint and the file; on reload (SIGHUP) the revision is refused with the same
//! words and the running listener keeps serving CONNECT-UDP with the certificate it has.

mod common;

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use common::masque::{h3_get_through_masque, masque_proxy};
use common::*;
use egress_harness::H3Origin;

#[test]
fn masque_certificate_that_does_not_load_is_named_and_refused() {
    let setup = Setup {
        udp: true,
        masque: true,
        ..Setup::default()
    };
    let mut scenario = Scenario::start(
        "masque_certificate_that_does_not_load_is_named_and_refused",
        &setup,
    );
    let origin = H3Origin::start(&scenario.net.internet, &[origin_v4(DEDICATED_PORT)])
        .expect("HTTP/3 origin");
    let certificate = scenario.dir.path.join("masque.pem");
    let missing_key = scenario.dir.path.join("gone.key");
    let broken = config_toml_with(&setup, Some((&certificate, &missing_key)));
    let expected = format!("cannot read a private key from {}", missing_key.display());

    std::fs::write(&scenario.config, &broken).expect("rewrite the configuration");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(scenario.gateway.pid()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("send SIGHUP to the gateway");
    // The refusal, then each endpoint's reason on a line of its own.
    let named =
        |l: &str| l.contains("masque endpoint \"masque\" of account lab") && l.contains(&expected);
    scenario.gateway.wait_stderr("the refused reload", 1, named);
    let stderr = scenario.gateway.stderr_text();
    assert!(stderr.contains("refused, keeping revision 1"), "{stderr}");
    assert!(
        stderr.contains("masque endpoint \"masque-credentials\" of account lab"),
        "{stderr}"
    );
    scenario.assert_gateway_running();

    let proxy = masque_proxy(&scenario, MASQUE_PORT, None);
    let (answer, _) = h3_get_through_masque(&scenario, &proxy, &origin, origin_v4(DEDICATED_PORT));
    let body = answer.unwrap_or_else(|e| panic!("CONNECT-UDP after the refused reload: {e}"));
    let source = H3Origin::seen_in_answer(&body).expect("an address");
    assert_eq!(source.ip(), IpAddr::from(DEDICATED_V4));

    // Starting with the broken file fails before any listener opens, so it does not collide
    // with the running gateway's.
    let output = run_to_end(
        Some(scenario.gateway_ns()),
        Command::new(EGRESSD).args([
            "serve",
            "--config",
            &scenario.config.display().to_string(),
            "--data-dir",
            &scenario.dir.path.join("second").display().to_string(),
            "--no-admin",
        ]),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.lines().any(named), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}
