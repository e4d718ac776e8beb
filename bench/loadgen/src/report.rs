//! `report`: medians over runs for each scenario and what it ran against, printed as one
//! Markdown table with ratios to direct and to the best peer, and written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;

use serde::Serialize;

use crate::cli::ReportArgs;
use crate::error::LoadError;
use crate::record::Record;

const SCENARIOS: [&str; 9] = [
    "connect-rate",
    "tunnel-rps",
    "forward-rps",
    "bulk",
    "latency",
    "idle",
    "churn",
    "udp-echo",
    "udp-echo-1200",
];

const LABELS: [&str; 10] = [
    "direct",
    "egressd-connect",
    "egressd-socks5",
    "egressd-forward",
    "haproxy",
    "squid",
    "tinyproxy",
    "privoxy",
    "dante",
    "microsocks",
];

/// Medians over the runs of one scenario against one target.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    scenario: String,
    label: String,
    runs: usize,
    ops: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    rate: Option<f64>,
    proxy_cpu_us_per_op: Option<f64>,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    new_p50_us: Option<f64>,
    new_p99_us: Option<f64>,
    gbit_s: Option<f64>,
    proxy_cpu_s_per_gib: Option<f64>,
    idle_tunnels: Option<f64>,
    pss_kib_per_tunnel: Option<f64>,
    kernel_kib_per_tunnel: Option<f64>,
    /// Kernel memory per tunnel above what the same tunnels cost direct (the proxy's sockets).
    kernel_kib_per_tunnel_over_direct: Option<f64>,
    attempted: Option<f64>,
    extra: BTreeMap<String, f64>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn summarise(scenario: &str, label: &str, runs: &[&Record]) -> Summary {
    let med =
        |f: &dyn Fn(&Record) -> Option<f64>| median(runs.iter().filter_map(|r| f(r)).collect());
    let last_step = |r: &Record| r.steps.last().cloned();
    let mut s = Summary {
        scenario: scenario.into(),
        label: label.into(),
        runs: runs.len(),
        ops: runs.iter().map(|r| r.ops).sum(),
        errors: runs.iter().map(|r| r.errors).sum(),
        rate: med(&|r| Some(r.rate)),
        proxy_cpu_us_per_op: med(&|r| r.proxy_cpu_us_per_op),
        p50_us: med(&|r| r.p50_us),
        p99_us: med(&|r| r.p99_us),
        new_p50_us: med(&|r| r.new_p50_us),
        new_p99_us: med(&|r| r.new_p99_us),
        gbit_s: med(&|r| r.gbit_s),
        proxy_cpu_s_per_gib: med(&|r| r.proxy_cpu_s_per_gib),
        idle_tunnels: med(&|r| last_step(r).map(|s| s.tunnels as f64)),
        pss_kib_per_tunnel: med(&|r| last_step(r).and_then(|s| s.pss_kib_per_tunnel)),
        kernel_kib_per_tunnel: med(&|r| last_step(r).and_then(|s| s.kernel_kib_per_tunnel)),
        attempted: med(&|r| r.attempted.map(|a| a as f64)),
        ..Summary::default()
    };
    for r in runs {
        for (k, v) in &r.error_kinds {
            *s.error_kinds.entry(k.clone()).or_insert(0) += v;
        }
    }
    let keys: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|r| r.extra.keys()).collect();
    for k in keys {
        if let Some(m) = med(&|r| r.extra.get(k).and_then(serde_json::Value::as_f64)) {
            s.extra.insert(k.clone(), m);
        }
    }
    s
}

fn order(label: &str) -> usize {
    LABELS
        .iter()
        .position(|l| *l == label)
        .unwrap_or(LABELS.len())
}

fn is_peer(label: &str) -> bool {
    label != "direct" && !label.starts_with("egressd")
}

/// Reads the runs and writes the table and the JSON.
pub fn run(args: &ReportArgs) -> Result<(), LoadError> {
    let text = fs::read_to_string(&args.input)
        .map_err(|e| LoadError::Setup(format!("cannot read {}: {e}", args.input.display())))?;
    let mut records = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Record = serde_json::from_str(line)
            .map_err(|e| LoadError::Setup(format!("{}:{}: {e}", args.input.display(), i + 1)))?;
        records.push(r);
    }
    let mut groups: BTreeMap<(usize, usize, String, String), Vec<&Record>> = BTreeMap::new();
    for r in &records {
        let s = SCENARIOS
            .iter()
            .position(|s| *s == r.scenario)
            .unwrap_or(SCENARIOS.len());
        groups
            .entry((s, order(&r.label), r.scenario.clone(), r.label.clone()))
            .or_default()
            .push(r);
    }
    let mut summaries: Vec<Summary> = groups
        .iter()
        .map(|((_, _, scenario, label), runs)| summarise(scenario, label, runs))
        .collect();
    let direct_kernel: Option<f64> = summaries
        .iter()
        .find(|s| s.scenario == "idle" && s.label == "direct")
        .and_then(|s| s.kernel_kib_per_tunnel);
    for s in summaries
        .iter_mut()
        .filter(|s| s.scenario == "idle" && s.label != "direct")
    {
        s.kernel_kib_per_tunnel_over_direct = s
            .kernel_kib_per_tunnel
            .zip(direct_kernel)
            .map(|(a, d)| a - d);
    }
    let machine = Machine::read();
    let runs = records.iter().map(|r| r.run).max().unwrap_or(0);
    let markdown = markdown(&summaries, &machine, args, runs);
    print!("{markdown}");
    if let Some(path) = &args.markdown {
        fs::write(path, &markdown)
            .map_err(|e| LoadError::Setup(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "date": args.date,
            "command": args.command,
            "revision": args.revision,
            "notes": args.note,
            "machine": machine,
            "runs": runs,
            "summaries": summaries,
            "records": records,
        });
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| LoadError::Setup(format!("cannot serialise the results: {e}")))?;
        fs::write(path, text)
            .map_err(|e| LoadError::Setup(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// What the runs ran on.
#[derive(Debug, Serialize)]
struct Machine {
    cores: usize,
    cpu: String,
    kernel: String,
}

impl Machine {
    fn read() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cores: cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count(),
            cpu: cpuinfo
                .lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The figure that ranks a scenario, and whether more is better.
fn primary(s: &Summary) -> Option<(f64, bool)> {
    match s.scenario.as_str() {
        "bulk" => s.gbit_s.map(|v| (v, true)),
        "latency" => s.p99_us.map(|v| (v, false)),
        "idle" => s.pss_kib_per_tunnel.map(|v| (v, false)),
        _ => s.rate.map(|v| (v, true)),
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).expect("ASCII digits"))
        .collect();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", groups.join(","))
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

fn result_cell(s: &Summary) -> String {
    match s.scenario.as_str() {
        "connect-rate" => opt(s.rate, |v| format!("{} tunnels/s", thousands(v))),
        "tunnel-rps" | "forward-rps" => opt(s.rate, |v| format!("{} req/s", thousands(v))),
        "udp-echo" | "udp-echo-1200" => opt(s.rate, |v| format!("{} round trips/s", thousands(v))),
        "churn" => {
            let target = s.extra.get("target_rate").copied();
            format!(
                "{} conn/s (target {})",
                opt(s.rate, thousands),
                opt(target, thousands)
            )
        }
        "bulk" => opt(s.gbit_s, |v| format!("{v:.2} Gbit/s")),
        "latency" => format!(
            "inside {} / {} µs; new {} / {} µs",
            opt(s.p50_us, thousands),
            opt(s.p99_us, thousands),
            opt(s.new_p50_us, thousands),
            opt(s.new_p99_us, thousands)
        ),
        "idle" => format!(
            "PSS {} + kernel {} KiB/tunnel ({} open)",
            opt(s.pss_kib_per_tunnel, |v| format!("{v:.2}")),
            opt(s.kernel_kib_per_tunnel, |v| format!("{v:.2}")),
            opt(s.idle_tunnels, thousands)
        ),
        _ => opt(s.rate, thousands),
    }
}

fn cpu_cell(s: &Summary) -> String {
    match s.scenario.as_str() {
        "bulk" => opt(s.proxy_cpu_s_per_gib, |v| format!("{v:.2} s/GiB")),
        "latency" | "idle" => "—".into(),
        "connect-rate" | "churn" => opt(s.proxy_cpu_us_per_op, |v| format!("{v:.0} µs/tunnel")),
        "udp-echo" | "udp-echo-1200" => {
            opt(s.proxy_cpu_us_per_op, |v| format!("{v:.1} µs/round trip"))
        }
        _ => opt(s.proxy_cpu_us_per_op, |v| format!("{v:.1} µs/req")),
    }
}

fn vs_direct(s: &Summary, direct: Option<&Summary>) -> String {
    let Some(d) = direct.filter(|_| s.label != "direct") else {
        return "—".into();
    };
    match s.scenario.as_str() {
        "latency" => {
            let added = |a: Option<f64>, b: Option<f64>| {
                opt(a.zip(b).map(|(a, b)| a - b), |v| format!("{v:+.0}"))
            };
            format!(
                "inside {} / {} µs; new {} / {} µs",
                added(s.p50_us, d.p50_us),
                added(s.p99_us, d.p99_us),
                added(s.new_p50_us, d.new_p50_us),
                added(s.new_p99_us, d.new_p99_us)
            )
        }
        "idle" => opt(s.kernel_kib_per_tunnel_over_direct, |v| {
            format!("kernel {v:+.2} KiB/tunnel")
        }),
        _ => match (primary(s), primary(d)) {
            (Some((a, _)), Some((b, _))) if b > 0.0 => format!("{:.2}×", a / b),
            _ => "—".into(),
        },
    }
}

fn vs_best_peer(s: &Summary, peers: &[&Summary]) -> String {
    if s.label == "direct" {
        return "—".into();
    }
    let best = peers
        .iter()
        .filter(|p| p.label != s.label)
        .filter_map(|p| primary(p).map(|v| (p, v)))
        .reduce(|a, b| {
            let better = if a.1 .1 {
                b.1 .0 > a.1 .0
            } else {
                b.1 .0 < a.1 .0
            };
            if better {
                b
            } else {
                a
            }
        });
    match (primary(s), best) {
        (Some((v, _)), Some((p, (b, _)))) if b > 0.0 => format!("{:.2}× {}", v / b, p.label),
        _ => "—".into(),
    }
}

fn errors_cell(s: &Summary) -> String {
    if s.errors == 0 {
        return "0".into();
    }
    let mut kinds: Vec<(&String, &u64)> = s.error_kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = kinds
        .iter()
        .take(2)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    format!("{} ({})", thousands(s.errors as f64), top.join(", "))
}

fn markdown(summaries: &[Summary], machine: &Machine, args: &ReportArgs, runs: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Date: {}. Machine: {} cores, {}, kernel {}. egressd revision {}. Command: `{}`. \
         Figures are medians of {} run(s).\n",
        if args.date.is_empty() {
            "unknown"
        } else {
            &args.date
        },
        machine.cores,
        machine.cpu,
        machine.kernel,
        args.revision,
        args.command,
        runs
    );
    for note in &args.note {
        let _ = writeln!(out, "{note}\n");
    }
    let _ = writeln!(
        out,
        "| scenario | via | result | vs direct | vs best peer | proxy CPU | p50 / p99 µs | errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for scenario in SCENARIOS {
        let rows: Vec<&Summary> = summaries
            .iter()
            .filter(|s| s.scenario == scenario)
            .collect();
        let direct = rows.iter().copied().find(|s| s.label == "direct");
        let peers: Vec<&Summary> = rows.iter().copied().filter(|s| is_peer(&s.label)).collect();
        for s in &rows {
            let latency = match scenario {
                "latency" | "idle" | "bulk" => "—".to_string(),
                _ => format!(
                    "{} / {}",
                    opt(s.p50_us, thousands),
                    opt(s.p99_us, thousands)
                ),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                s.scenario,
                s.label,
                result_cell(s),
                vs_direct(s, direct),
                vs_best_peer(s, &peers),
                cpu_cell(s),
                latency,
                errors_cell(s)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
