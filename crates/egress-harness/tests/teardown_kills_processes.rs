//! Processes a test starts inside the lab are killed when the lab drops.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use egress_harness::Lab;

#[test]
fn dropping_the_lab_kills_spawned_processes_and_their_children() {
    let mut lab =
        Lab::new("dropping_the_lab_kills_spawned_processes_and_their_children").expect("lab");
    let gateway = lab.namespace("gateway").expect("namespace");
    let mut child = gateway
        .spawn(
            Command::new("sh")
                .args(["-c", "sleep 600 & echo $!; wait"])
                .stdout(Stdio::piped()),
        )
        .expect("spawn");
    let mut grandchild = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("piped stdout")),
        &mut grandchild,
    )
    .expect("grandchild pid");
    let grandchild = grandchild.trim().to_owned();
    assert!(
        std::path::Path::new(&format!("/proc/{grandchild}")).exists(),
        "sleep runs before drop"
    );

    drop(lab);

    let status = child.wait().expect("reap the killed child");
    assert_eq!(status.signal(), Some(9), "{status}");
    // The grandchild was re-parented away from us; it is gone (or a zombie of its new parent).
    let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "grandchild still running: {state}"
    );
}

#[test]
fn spawned_processes_run_inside_the_namespace() {
    let mut lab = Lab::new("spawned_processes_run_inside_the_namespace").expect("lab");
    let gateway = lab.namespace("gateway").expect("namespace");
    gateway
        .add_address("lo", "192.0.2.77/32")
        .expect("address on lo");
    let output = gateway
        .spawn(
            Command::new("ip")
                .args(["-4", "-o", "addr", "show", "dev", "lo"])
                .stdout(Stdio::piped()),
        )
        .expect("spawn")
        .wait_with_output()
        .expect("wait");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("192.0.2.77/32"),
        "{output:?}"
    );
}
