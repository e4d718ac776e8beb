//! Sysctls and commands act inside their namespace, and failures carry the command's stderr.

use egress_harness::{HarnessError, Lab};

fn host_port_range() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").expect("readable")
}

#[test]
fn sysctl_changes_only_the_namespace() {
    let mut lab = Lab::new("sysctl_changes_only_the_namespace").expect("lab");
    let gateway = lab.namespace("gateway").expect("namespace");
    let before = host_port_range();

    gateway
        .sysctl("net.ipv4.ip_local_port_range", "40000 40031")
        .expect("sysctl");

    let inside = gateway
        .exec(&["cat", "/proc/sys/net/ipv4/ip_local_port_range"])
        .expect("cat");
    let inside = String::from_utf8_lossy(&inside.stdout);
    assert_eq!(
        inside.split_whitespace().collect::<Vec<_>>(),
        ["40000", "40031"]
    );
    assert_eq!(host_port_range(), before);
}

#[test]
fn new_namespaces_use_ipv6_without_dad() {
    let mut lab = Lab::new("new_namespaces_use_ipv6_without_dad").expect("lab");
    let gateway = lab.namespace("gateway").expect("namespace");
    let read = |key: &str| {
        gateway
            .run_in(|| std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))))
            .expect("entered")
            .expect("readable")
            .trim()
            .to_owned()
    };
    assert_eq!(read("net.ipv6.conf.all.disable_ipv6"), "0");
    assert_eq!(read("net.ipv6.conf.default.accept_dad"), "0");
    assert_eq!(read("net.ipv4.ip_forward"), "0");
}

#[test]
fn failed_commands_report_their_stderr() {
    let mut lab = Lab::new("failed_commands_report_their_stderr").expect("lab");
    let gateway = lab.namespace("gateway").expect("namespace");

    let err = gateway
        .exec(&["sh", "-c", "echo no such thing >&2; exit 3"])
        .expect_err("exit 3 is a failure");
    assert!(
        matches!(&err, HarnessError::CommandFailed { stderr, .. } if stderr == "no such thing"),
        "{err}"
    );

    let err = gateway
        .add_route("198.51.100.0/24", "10.9.9.9")
        .expect_err("no link reaches the gateway address");
    assert!(err.to_string().contains("198.51.100.0/24"), "{err}");
}

#[test]
fn roles_are_unique_within_a_lab() {
    let mut lab = Lab::new("roles_are_unique_within_a_lab").expect("lab");
    lab.namespace("gateway").expect("first");
    let err = lab
        .namespace("gateway")
        .expect_err("second with the same role");
    assert!(matches!(err, HarnessError::BadRole { .. }), "{err}");
}
