//! CLI commands over the admin API: policies, leased IPs, explain, logs.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api_client::{segment, ApiClient};
use crate::cli::{ApiArgs, LogsArgs, PolicyCommand};

fn client(api: &ApiArgs) -> Result<ApiClient, String> {
    ApiClient::new(&api.api, api.token.clone())
}

fn print_json(value: &Value) -> Result<ExitCode, String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}

fn method_text(method: &Value) -> String {
    match method {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("dedicated") {
            Some(d) => format!(
                "dedicated {} (fallback {})",
                d["ipv4"].as_str().unwrap_or("?"),
                d["ipv4_fallback"].as_str().unwrap_or("none")
            ),
            None => method.to_string(),
        },
        other => other.to_string(),
    }
}

fn policy_id(p: &Value) -> String {
    p["id"]
        .as_str()
        .or(p["name"].as_str())
        .unwrap_or("?")
        .to_string()
}

pub fn policies(command: PolicyCommand) -> Result<ExitCode, String> {
    match command {
        PolicyCommand::List { account, api, json } => {
            let c = client(&api)?;
            let list = c
                .call(
                    "GET",
                    &format!("/v1/accounts/{}/policies", segment(&account)),
                    None,
                )?
                .body;
            if json {
                return print_json(&list);
            }
            println!(
                "{:>10}  {:<28} {:<8} {:<40} traffic",
                "precedence", "id", "enabled", "method"
            );
            for p in list.as_array().into_iter().flatten() {
                println!(
                    "{:>10}  {:<28} {:<8} {:<40} {}",
                    p["precedence"].as_u64().unwrap_or(0),
                    policy_id(p),
                    p["enabled"].as_bool().unwrap_or(true),
                    method_text(&p["method"]),
                    p["traffic"].as_str().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Add {
            account,
            name,
            id,
            precedence,
            traffic,
            identity,
            dedicated,
            fallback,
            ipv6,
            disabled,
            api,
            json,
        } => {
            let method = match dedicated {
                Some(ipv4) => {
                    json!({"dedicated": {"ipv4": ipv4, "ipv6": ipv6, "ipv4_fallback": fallback}})
                }
                None => json!("default"),
            };
            let body = json!({
                "id": id, "name": name, "precedence": precedence, "enabled": !disabled,
                "traffic": traffic.unwrap_or_default(), "identity": identity.unwrap_or_default(), "method": method,
            });
            let created = client(&api)?
                .call(
                    "POST",
                    &format!("/v1/accounts/{}/policies", segment(&account)),
                    Some(&body),
                )?
                .body;
            if json {
                return print_json(&created);
            }
            println!(
                "policy {:?} created at precedence {}",
                policy_id(&created),
                created["precedence"]
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Move {
            account,
            policy,
            to,
            api,
        } => {
            let path = format!(
                "/v1/accounts/{}/policies/{}/move",
                segment(&account),
                segment(&policy)
            );
            client(&api)?.call("POST", &path, Some(&json!({"precedence": to})))?;
            println!("policy {policy:?} moved to precedence {to}");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Enable {
            account,
            policy,
            api,
        } => toggle(&account, &policy, "enable", &api),
        PolicyCommand::Disable {
            account,
            policy,
            api,
        } => toggle(&account, &policy, "disable", &api),
        PolicyCommand::Delete {
            account,
            policy,
            api,
        } => {
            let path = format!(
                "/v1/accounts/{}/policies/{}",
                segment(&account),
                segment(&policy)
            );
            client(&api)?.call("DELETE", &path, None)?;
            println!("policy {policy:?} deleted");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn toggle(account: &str, policy: &str, verb: &str, api: &ApiArgs) -> Result<ExitCode, String> {
    let path = format!(
        "/v1/accounts/{}/policies/{}/{verb}",
        segment(account),
        segment(policy)
    );
    client(api)?.call("POST", &path, None)?;
    println!("policy {policy:?} {verb}d");
    Ok(ExitCode::SUCCESS)
}

pub fn leased_ips(api: &ApiArgs, json: bool) -> Result<ExitCode, String> {
    let list = client(api)?.call("GET", "/v1/leased-ips", None)?.body;
    if json {
        return print_json(&list);
    }
    println!(
        "{:<16} {:<26} {:<12} {:<8} {:<20} {:<8} source",
        "ipv4", "ipv6", "account", "location", "city", "country"
    );
    for ip in list.as_array().into_iter().flatten() {
        let s = |k: &str| ip[k].as_str().unwrap_or("-").to_string();
        println!(
            "{:<16} {:<26} {:<12} {:<8} {:<20} {:<8} {}",
            s("ipv4"),
            s("ipv6"),
            s("account"),
            s("location"),
            s("city"),
            s("country"),
            s("source")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `egressd explain`: like `trace`, answered by a running node.
pub fn explain(body: Value, api: &ApiArgs, json: bool) -> Result<ExitCode, String> {
    let answer = client(api)?.call("POST", "/v1/explain", Some(&body))?.body;
    if json {
        return print_json(&answer);
    }
    for p in answer["policies"].as_array().into_iter().flatten() {
        println!(
            "  [{}] {:?}: {}",
            p["precedence"],
            p["name"].as_str().unwrap_or(""),
            p["outcome"].as_str().unwrap_or("")
        );
    }
    match answer["plan"].get("Ok") {
        Some(plan) => {
            println!("decision: {}", plan["reason"].as_str().unwrap_or(""));
            if let Some(name) = plan["policy"]["name"].as_str() {
                println!("  policy: {name:?}");
            }
            for family in ["ipv4", "ipv6"] {
                let r = &plan[family];
                if r.is_object() {
                    println!(
                        "  {family}: source {}, egress_location {}, egress_ip_location {}, fallback {}",
                        r["source"].as_str().unwrap_or("?"),
                        r["egress_location"].as_str().unwrap_or("?"),
                        r["egress_ip_location"].as_str().unwrap_or("?"),
                        r["fallback"].as_str().unwrap_or("?")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!(
                "refused: {}",
                answer["plan"]["Err"]["code"].as_str().unwrap_or("?")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `egressd logs`: recent connection records, optionally following new ones.
pub fn logs(args: &LogsArgs) -> Result<ExitCode, String> {
    let c = client(&args.api)?;
    let mut query = vec![format!("limit={}", args.limit)];
    for (key, value) in [
        ("account", &args.account),
        ("user", &args.user),
        ("policy", &args.policy),
        ("egress_ip", &args.egress_ip),
        ("close_reason", &args.close_reason),
    ] {
        if let Some(v) = value {
            query.push(format!("{key}={}", segment(v)));
        }
    }
    let path = format!("/v1/logs?{}", query.join("&"));
    let mut seen = std::collections::HashSet::new();
    loop {
        let list = c.call("GET", &path, None)?.body;
        let mut fresh: Vec<&Value> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| seen.insert(r["session_id"].to_string()))
            .collect();
        fresh.reverse(); // oldest first
        for r in fresh {
            if args.json {
                println!("{r}");
            } else {
                let s = |k: &str| {
                    r[k].as_str().map(str::to_string).unwrap_or_else(|| {
                        if r[k].is_null() {
                            "-".into()
                        } else {
                            r[k].to_string()
                        }
                    })
                };
                println!(
                    "{} {} {}/{} {}:{} -> {}:{} via {} ({}) policy {:?} {}B/{}B {}",
                    s("end"),
                    s("session_id"),
                    s("account"),
                    s("user"),
                    s("src_ip"),
                    s("src_port"),
                    r["dst_host"]
                        .as_str()
                        .or(r["dst_ip"].as_str())
                        .unwrap_or("-"),
                    s("dst_port"),
                    s("egress_ip"),
                    s("egress_location"),
                    s("policy_name"),
                    s("bytes_client_to_upstream"),
                    s("bytes_upstream_to_client"),
                    s("close_reason")
                );
            }
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
