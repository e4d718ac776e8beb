//! Dropping a lab deletes its namespaces, also when a test panics while using it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use egress_harness::Lab;

fn namespaces_with(prefix: &str) -> Vec<String> {
    let output = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list runs");
    assert!(output.status.success(), "ip netns list failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn dropping_the_lab_deletes_its_namespaces() {
    let mut lab = Lab::new("dropping_the_lab_deletes_its_namespaces").expect("lab");
    lab.internet(&["203.0.113.10/32", "2001:db8:1::/64"])
        .expect("topology");
    let prefix = format!("{}-", lab.prefix());
    assert_eq!(namespaces_with(&prefix).len(), 3);

    drop(lab);
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
}

#[test]
fn a_panic_inside_a_namespace_still_deletes_the_namespaces() {
    let mut prefix = String::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut lab =
            Lab::new("a_panic_inside_a_namespace_still_deletes_the_namespaces").expect("lab");
        prefix = format!("{}-", lab.prefix());
        let net = lab.internet(&["203.0.113.10/32"]).expect("topology");
        assert_eq!(namespaces_with(&prefix).len(), 3);
        net.gateways[0]
            .ns
            .run_in(|| panic!("test failure inside the gateway"))
            .expect("entered the namespace");
    }));

    let panic = outcome.expect_err("the closure's panic reaches the caller");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"test failure inside the gateway")
    );
    assert!(!prefix.is_empty());
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
}
