//! With several gateways, each reaches the others' backbone addresses over a private backbone,
//! and the byte counters show which link — backbone or internet uplink — carried a transfer.

use std::net::{IpAddr, SocketAddr};

use egress_harness::{fetch_bulk, BulkOrigin, Lab, LinkBytes, TopologySpec, ORIGIN_V4};

const MIB: u64 = 1024 * 1024;

fn spec() -> TopologySpec {
    TopologySpec::new()
        .gateway("lax", &["203.0.113.10/32"])
        .gateway("fra", &["203.0.113.20/32"])
        .gateway("sin", &["203.0.113.30/32"])
}

fn namespaces_with(prefix: &str) -> usize {
    let output = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with(prefix))
        .count()
}

#[test]
fn every_gateway_reaches_every_other_over_the_backbone() {
    let mut lab = Lab::new("every_gateway_reaches_every_other_over_the_backbone").expect("lab");
    let net = lab.topology(&spec()).expect("topology");
    let prefix = format!("{}-", lab.prefix());
    assert_eq!(
        namespaces_with(&prefix),
        6,
        "client, internet, 3 gateways, backbone"
    );

    for to in &net.gateways {
        let addr = SocketAddr::new(to.backbone_v4.expect("3 gateways: a backbone").into(), 7000);
        let listener = to.ns.listen_tcp(addr).expect("listener on the backbone");
        for from in net.gateways.iter().filter(|from| from.ns != to.ns) {
            let _stream = from
                .ns
                .connect_tcp(None, addr)
                .unwrap_or_else(|err| panic!("{} -> {}: {err}", from.ns.role(), to.ns.role()));
            let (_conn, peer) = listener.accept().expect("accept");
            // Its backbone address, not its uplink: the SYN did not cross the internet.
            let expected = IpAddr::from(from.backbone_v4.expect("3 gateways: a backbone"));
            assert_eq!(
                peer.ip(),
                expected,
                "{} -> {}",
                from.ns.role(),
                to.ns.role()
            );
        }
    }

    drop(net);
    drop(lab);
    assert_eq!(
        namespaces_with(&prefix),
        0,
        "the lab's drop deletes the backbone too"
    );
}

#[test]
fn a_single_gateway_has_no_backbone() {
    let mut lab = Lab::new("a_single_gateway_has_no_backbone").expect("lab");
    let net = lab.internet(&["203.0.113.10/32"]).expect("topology");
    assert!(net.backbone.is_none());
    let gateway = &net.gateways[0];
    assert_eq!(gateway.backbone_v4, None);
    assert!(gateway.backbone_bytes().is_err());
    assert!(gateway.uplink_bytes().is_ok());
    assert_eq!(lab.namespaces().len(), 3);
}

/// Moves `bytes` from `origin` to a client in `client_ns` and returns how many arrived.
fn transfer(origin: &BulkOrigin, client_ns: &egress_harness::Netns, bytes: u64) -> u64 {
    let mut stream = client_ns
        .connect_tcp(None, origin.addr())
        .expect("connect to the bulk origin");
    fetch_bulk(&mut stream, bytes).expect("fetch")
}

#[test]
fn byte_counters_show_which_link_carried_a_transfer() {
    let mut lab = Lab::new("byte_counters_show_which_link_carried_a_transfer").expect("lab");
    let net = lab.topology(&spec()).expect("topology");
    let lax = net.gateway("lax").expect("in spec");
    let fra = net.gateway("fra").expect("in spec");
    let counters = |gateway: &egress_harness::Gateway| -> (LinkBytes, LinkBytes) {
        (
            gateway.backbone_bytes().expect("backbone counters"),
            gateway.uplink_bytes().expect("uplink counters"),
        )
    };

    // lax sends 4 MiB to fra over the backbone.
    let at_lax = SocketAddr::new(lax.backbone_v4.expect("backbone").into(), 9000);
    let origin = BulkOrigin::start(&lax.ns, at_lax).expect("bulk origin in lax");
    let (lax_backbone, lax_uplink) = counters(lax);
    let (fra_backbone, fra_uplink) = counters(fra);
    assert_eq!(transfer(&origin, &fra.ns, 4 * MIB), 4 * MIB);
    let lax_backbone = lax.backbone_bytes().expect("counters").since(lax_backbone);
    let lax_uplink = lax.uplink_bytes().expect("counters").since(lax_uplink);
    let fra_backbone = fra.backbone_bytes().expect("counters").since(fra_backbone);
    let fra_uplink = fra.uplink_bytes().expect("counters").since(fra_uplink);
    assert!(lax_backbone.tx >= 4 * MIB, "lax backbone {lax_backbone:?}");
    assert!(fra_backbone.rx >= 4 * MIB, "fra backbone {fra_backbone:?}");
    assert!(lax_uplink.tx < MIB, "lax uplink {lax_uplink:?}");
    assert!(fra_uplink.rx < MIB, "fra uplink {fra_uplink:?}");
    assert_eq!(
        origin
            .seen()
            .iter()
            .map(|peer| peer.ip())
            .collect::<Vec<_>>(),
        [IpAddr::from(fra.backbone_v4.expect("backbone"))]
    );

    // The same volume from the internet arrives on lax's uplink and not on its backbone.
    let internet = SocketAddr::new(ORIGIN_V4.into(), 9000);
    let origin = BulkOrigin::start(&net.internet, internet).expect("bulk origin in internet");
    let (backbone_before, uplink_before) = counters(lax);
    assert_eq!(transfer(&origin, &lax.ns, 4 * MIB), 4 * MIB);
    let backbone = lax
        .backbone_bytes()
        .expect("counters")
        .since(backbone_before);
    let uplink = lax.uplink_bytes().expect("counters").since(uplink_before);
    assert!(uplink.rx >= 4 * MIB, "lax uplink {uplink:?}");
    assert!(backbone.rx < MIB, "lax backbone {backbone:?}");
}
