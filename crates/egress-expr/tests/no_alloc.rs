//! `Matcher::matches` must not allocate: a counting global allocator proves it.
#![allow(unsafe_code)] // Implementing GlobalAlloc is unsafe; this test file is its only user.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use egress_expr::{compile, Subject};

/// Counts the allocations made by the current thread, so that other test threads do not count.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn matching_does_not_allocate() {
    let matcher = compile(
        r#"(net.dst.ip in {203.0.113.0/24 2001:db8::/32 10.0.0.1..10.0.0.9} and net.dst.port in {80 443 8000..8999})
           or net.dst.ip == 192.0.2.0/24
           or net.fqdn.domains in {"example.com" "example.org"} and net.fqdn.host matches "^api\."
           or net.fqdn.domains == "example.net"
           or identity.email in {"a@example.com" "b@example.com"}
           or any(identity.groups.name[*] in {"finance" "hr"})
           or any(identity.groups.name[*] matches "^fin")
           or not net.protocol == "udp" and net.src.port != 22"#,
    )
    .expect("compiles");
    let groups = vec!["eng".to_string(), "ops".to_string()];
    let subjects = [
        Subject::default(),
        Subject {
            dst_ip: "198.51.100.7".parse().ok(),
            dst_port: Some(8443),
            protocol: Some("udp"),
            fqdn_host: Some("www.api.example.com"),
            identity_email: Some("c@example.com"),
            identity_groups: &groups,
            ..Subject::default()
        },
        Subject {
            dst_ip: "::ffff:10.0.0.5".parse().ok(),
            dst_port: Some(8500),
            ..Subject::default()
        },
    ];
    // Regex caches are built on a thread's first use; warm them up.
    let expected: Vec<bool> = subjects.iter().map(|s| matcher.matches(s)).collect();

    let mut results = [false; 3];
    let allocations = allocations_during(|| {
        for _ in 0..100 {
            for (result, subject) in results.iter_mut().zip(&subjects) {
                *result = matcher.matches(subject);
            }
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(results.to_vec(), expected);
    // The second subject reaches every test and fails them all.
    assert_eq!(expected, [false, false, true]);
}

#[test]
fn the_allocator_counts_allocations() {
    let allocations = allocations_during(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert_eq!(allocations, 1);
}
