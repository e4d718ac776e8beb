//! Namespaces left by a killed run (creating pid dead) are swept; live labs are not touched.

use std::path::Path;

use egress_harness::{Lab, NAME_FAMILY};

/// A pid that cannot belong to a live process: pids stay below `pid_max`.
fn dead_pid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("pid_max readable")
        .trim()
        .parse()
        .expect("pid_max is a number")
}

fn exists(name: &str) -> bool {
    Path::new("/var/run/netns").join(name).exists()
}

#[test]
fn sweep_deletes_namespaces_of_dead_runs_and_keeps_live_ones() {
    let stale = format!("{NAME_FAMILY}{}-0-sweepme", dead_pid());
    let status = std::process::Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .expect("ip runs");
    assert!(status.success(), "could not create {stale}");

    let mut live =
        Lab::new("sweep_deletes_namespaces_of_dead_runs_and_keeps_live_ones").expect("lab");
    let kept = live.namespace("kept").expect("namespace");
    Lab::sweep_stale().expect("sweep");

    // Lab::new sweeps as well, and so may a concurrently starting test: only the outcome counts.
    assert!(!exists(&stale), "{stale} survived the sweep");
    assert!(
        exists(kept.name()),
        "the live lab's {} was swept",
        kept.name()
    );
}

#[test]
fn sweep_leaves_foreign_namespaces_alone() {
    // Close to the harness's names, but not one of them.
    let foreign = format!("{NAME_FAMILY}-foreign-{}", std::process::id());
    let status = std::process::Command::new("ip")
        .args(["netns", "add", &foreign])
        .status()
        .expect("ip runs");
    assert!(status.success(), "could not create {foreign}");

    let swept = Lab::sweep_stale();
    let survived = exists(&foreign);
    let _ = std::process::Command::new("ip")
        .args(["netns", "delete", &foreign])
        .status();

    swept.expect("sweep");
    assert!(survived, "a namespace not named by the harness was swept");
}
