//! `egressd trace`: the plan for one connection, as `decide` makes it, with its explanation.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use egress_model::{ClientAddr, Config, TargetAddr, TargetHost};
use egress_policy::{explain, Geo, Intent, LocationHealth, Snapshot, Transport};

use crate::cli::{Proto, TraceArgs};

pub fn run(args: &TraceArgs) -> Result<ExitCode, String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    let origin = args.config.display().to_string();
    let snapshot = Snapshot::compile(&config, &origin, 0).map_err(|e| e.to_string())?;
    let health = args
        .intent
        .down
        .iter()
        .fold(LocationHealth::all_up(), |h, code| h.down(code));
    let snapshot = snapshot.with_health(&health);
    let client = parse_client(&args.intent.from)?;
    let target = TargetAddr::parse(&args.intent.to).map_err(|e| format!("--to: {e}"))?;
    let dst_ip = match (&target.host, args.intent.resolved) {
        (TargetHost::Ip(ip), _) => Some(*ip),
        (TargetHost::Name(_), resolved) => resolved,
    };
    let location = match &args.intent.location {
        Some(l) => l.clone(),
        None => config
            .locations
            .first()
            .map(|l| l.code.to_string())
            .ok_or("the configuration has no location")?,
    };
    let intent = Intent {
        account: &args.intent.account,
        user: args.intent.user.as_deref(),
        client: ClientAddr(client),
        internal_src_ip: args.intent.internal_src_ip,
        proxy_endpoint: args.intent.endpoint.as_deref(),
        target: &target,
        dst_ip,
        transport: match args.intent.proto {
            Proto::Tcp => Transport::Tcp,
            Proto::Udp => Transport::Udp,
            Proto::Icmp => Transport::Icmp,
        },
        location: &location,
        src_geo: Geo {
            country: args.intent.src_country.as_deref(),
            continent: args.intent.src_continent.as_deref(),
        },
        dst_geo: Geo {
            country: args.intent.dst_country.as_deref(),
            continent: args.intent.dst_continent.as_deref(),
        },
    };
    let explanation = explain(&intent, &snapshot);
    if args.json {
        let text = serde_json::to_string_pretty(&explanation).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        println!(
            "intent: {} user {} from {} to {} over {:?} at {location}",
            args.intent.account,
            args.intent.user.as_deref().unwrap_or("-"),
            client,
            target,
            args.intent.proto
        );
        print!("{explanation}");
    }
    Ok(if explanation.plan.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_client(text: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(sa);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 0))
        .map_err(|_| format!("--from: `{text}` is not an address"))
}
