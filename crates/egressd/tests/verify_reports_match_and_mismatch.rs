//! `egressd verify`, run where clients run, fetches whoami through the proxy (HTTP and SOCKS5,
//! IPv4 and IPv6 origins) and exits 0 when each origin saw an expected address — the dedicated
//! IPv4, and the IPv6 address `egressd trace` predicts — and non-zero when one did not.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;

const VERIFY_TIMEOUT: Duration = Duration::from_secs(15);

fn verify(scenario: &Scenario, proxy: &str, urls: &[String], expect: &[String]) -> Output {
    let mut cmd = Command::new(EGRESSD);
    cmd.args(["verify", "--proxy", proxy]);
    for url in urls {
        cmd.args(["--whoami", url]);
    }
    for ip in expect {
        cmd.args(["--expect", ip]);
    }
    run_to_end(Some(&scenario.net.client), &mut cmd, VERIFY_TIMEOUT)
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The IPv6 source `egressd trace` plans for the client's connections to the IPv6 origin.
fn traced_ipv6_source(scenario: &Scenario) -> String {
    let client = scenario.net.gateways[0].client_v4.to_string();
    let to = authority(origin_v6(DEDICATED_PORT));
    let output = run_to_end(
        None,
        Command::new(EGRESSD)
            .args(["trace", "--config"])
            .arg(&scenario.config)
            .args(["--account", "lab", "--from", &client, "--to", &to, "--json"]),
        VERIFY_TIMEOUT,
    );
    assert!(output.status.success(), "trace: {}", describe(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("trace JSON");
    let source = plan["plan"]["Ok"]["ipv6"]["source"]
        .as_str()
        .unwrap_or_else(|| panic!("no IPv6 source in the trace: {plan}"))
        .to_owned();
    assert!(
        in_prefix(source.parse().expect("address"), DEDICATED_V6_NET),
        "{source}"
    );
    source
}

#[test]
fn verify_reports_match_and_mismatch() {
    let scenario = Scenario::start("verify_reports_match_and_mismatch", &Setup::default());
    let urls = [
        format!("http://{}/", origin_v4(DEDICATED_PORT)),
        format!("http://{}/", origin_v6(DEDICATED_PORT)),
    ];
    let expected = [DEDICATED_V4.to_string(), traced_ipv6_source(&scenario)];
    let http = format!("http://{GATEWAY}:{HTTP_PORT}");
    let socks = format!("socks5://{GATEWAY}:{SOCKS_PORT}");

    for proxy in [&http, &socks] {
        let output = verify(&scenario, proxy, &urls, &expected);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{proxy}: {}",
            describe(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        for ip in &expected {
            assert!(
                stdout.contains(&format!("seen {ip}")),
                "{proxy}: {ip} not reported:\n{stdout}"
            );
        }
    }

    // A wrong expectation is a mismatch, exit status 1.
    let wrong = ["203.0.113.99".to_owned(), expected[1].clone()];
    for proxy in [&http, &socks] {
        let output = verify(&scenario, proxy, &urls, &wrong);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{proxy}: {}",
            describe(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("MISMATCH"), "{proxy}:\n{stdout}");
        assert!(
            stdout.contains(&format!("seen {DEDICATED_V4}")),
            "{proxy}:\n{stdout}"
        );
    }

    // Unmatched traffic leaves from the default range: expecting the dedicated IP fails.
    let output = verify(
        &scenario,
        &http,
        &[format!("http://{}/", origin_v4(DEFAULT_PORT))],
        &expected,
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
}
