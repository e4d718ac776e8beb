//! Reading what the proxy under test spends: CPU time and user-space memory (PSS) of its
//! processes, from a cgroup (every process the proxy forked, even those that exited) or from
//! the process tree under one PID; and the kernel's memory, machine-wide, from /proc.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

/// The processes of the proxy under test.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A cgroup v1 `cpuacct` directory holding the proxy and everything it forks.
    Cgroup(PathBuf),
    /// A PID and its descendants, read from /proc (misses children that already exited).
    Tree(u32),
    /// Nothing to measure.
    None,
}

impl Probe {
    /// From the command-line options; the cgroup wins when both are given.
    pub fn new(cgroup: Option<PathBuf>, pid: Option<u32>) -> Probe {
        match (cgroup, pid) {
            (Some(dir), _) => Probe::Cgroup(dir),
            (None, Some(pid)) => Probe::Tree(pid),
            (None, None) => Probe::None,
        }
    }

    /// CPU seconds (user + system) used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        match self {
            Probe::Cgroup(dir) => {
                let ns: u64 = fs::read_to_string(dir.join("cpuacct.usage"))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                Some(ns as f64 / 1e9)
            }
            Probe::Tree(pid) => {
                let ticks: u64 = tree(*pid).iter().filter_map(|p| cpu_ticks(*p)).sum();
                Some(ticks as f64 / clock_ticks())
            }
            Probe::None => None,
        }
    }

    /// Processes now in the proxy.
    pub fn pids(&self) -> Vec<u32> {
        match self {
            Probe::Cgroup(dir) => fs::read_to_string(dir.join("cgroup.procs"))
                .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
                .unwrap_or_default(),
            Probe::Tree(pid) => tree(*pid),
            Probe::None => Vec::new(),
        }
    }

    /// Summed PSS of the proxy's processes, KiB.
    pub fn pss_kib(&self) -> Option<u64> {
        let pids = self.pids();
        if pids.is_empty() {
            return None;
        }
        Some(pids.iter().filter_map(|p| pss_kib(*p)).sum())
    }
}

/// The PID and all its descendants.
fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1).and_then(|s| s.parse().ok()))
            {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// Fields of /proc/PID/stat after the command name: index 0 is the state (field 3).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid)?;
    // Fields 14 and 15 of stat(5): here at 11 and 12.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map(|t| t as f64)
        .unwrap_or(100.0)
}

fn pss_kib(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_field(&text, "Pss:")
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Kernel memory that grows with sockets and threads, KiB, machine-wide: slab (socket,
/// file, epoll and dentry objects), kernel stacks, page tables, and TCP buffer pages.
pub fn kernel_kib() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    let mut total = 0;
    for name in ["Slab:", "KernelStack:", "PageTables:"] {
        total += kib_field(&meminfo, name)?;
    }
    let page_kib = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map(|p| p as u64 / 1024)
        .unwrap_or(4);
    let sockstat = fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let tcp_pages: u64 = sockstat
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let i = words.iter().position(|w| *w == "mem")?;
            words.get(i + 1)?.parse().ok()
        })
        .unwrap_or(0);
    Some(total + tcp_pages * page_kib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_pss() {
        let me = Probe::Tree(std::process::id());
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(me.cpu_seconds().is_some());
        assert!(me.pss_kib().expect("own smaps_rollup") > 0);
        assert!(kernel_kib().expect("meminfo") > 0);
    }
}
