//! HTTP/3 through the gateway's MASQUE endpoints: a CONNECT-UDP tunnel from the client
//! namespace, and an inner quinn/h3 client whose QUIC packets ride it.

use std::net::SocketAddr;

use egress_harness::{
    h3_get, quic_client_endpoint, ConnectUdpCarrier, H3Origin, HarnessError, MasqueProxy,
    H3_ORIGIN_NAME,
};

use super::{Scenario, GATEWAY, MASQUE_NAME};

/// How to reach the scenario's MASQUE endpoint on `port`, with these credentials.
pub fn masque_proxy(
    scenario: &Scenario,
    port: u16,
    credentials: Option<(&str, &str)>,
) -> MasqueProxy {
    let certificate = scenario
        .masque_certificate
        .as_ref()
        .expect("the scenario's setup has masque: true");
    MasqueProxy {
        addr: SocketAddr::new(GATEWAY.into(), port),
        server_name: MASQUE_NAME.to_owned(),
        certificate: certificate.der.clone(),
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
    }
}

/// Opens a CONNECT-UDP tunnel to `server` through `proxy` and fetches `/` from the HTTP/3
/// origin inside it. Returns the answer (or why there is none: a refused tunnel is
/// [`HarnessError::ConnectUdpRefused`]) and the tunnel's client port (the gateway's
/// `src_port`), when the tunnel opened.
pub fn h3_get_through_masque(
    scenario: &Scenario,
    proxy: &MasqueProxy,
    origin: &H3Origin,
    server: SocketAddr,
) -> (Result<String, HarnessError>, Option<u16>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the HTTP/3 client");
    runtime.block_on(async {
        let carrier = match ConnectUdpCarrier::open(&scenario.net.client, proxy, server).await {
            Ok(carrier) => carrier,
            Err(e) => return (Err(e), None),
        };
        let client_port = carrier.local_addr().port();
        let closer = carrier.closer();
        let endpoint = quic_client_endpoint(carrier).expect("a QUIC endpoint over CONNECT-UDP");
        let answer = h3_get(&endpoint, server, H3_ORIGIN_NAME, origin.certificate()).await;
        // The inner close first, through the tunnel; then the tunnel itself, before the
        // runtime (and with it the endpoints' drivers) goes.
        endpoint.close(0u32.into(), b"done");
        endpoint.wait_idle().await;
        closer.close().await;
        (answer, Some(client_port))
    })
}
