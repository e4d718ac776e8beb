//! The geofeed is public, an account's egress manifest is its own and cacheable, and the
//! geolocation check compares the node's databases with the configuration.

mod support;

use axum::http::{header, Method, StatusCode};
use egress_geo::GeoDatabase;
use egress_mmdb_writer::{city_record, MmdbWriter};
use serde_json::json;
use support::{example, Api};

#[tokio::test]
async fn the_geofeed_is_served_without_a_token_as_geofeed_csv() {
    let api = Api::start("geofeed");
    let reply = api.call(Method::GET, "/geofeed.csv", None, None, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/geofeed+csv"
    );
    assert_eq!(reply.etag(), Some(1));
    assert_eq!(reply.text, egress_geo::geofeed(&example()).to_csv());
    assert!(
        reply
            .text
            .lines()
            .any(|l| l == "203.0.113.10/32,US,US-CA,Los Angeles,"),
        "{}",
        reply.text
    );
    // A new dedicated IP shows up in the next fetch.
    api.op(
        Method::POST,
        "/v1/accounts/acme/dedicated-ips",
        Some(json!({"ipv4": "203.0.113.11", "ipv6": "2001:db8:e000:11::/64", "location": "lax"})),
    )
    .await
    .expect(StatusCode::CREATED);
    let reply = api
        .call(
            Method::GET,
            "/geofeed.csv",
            None,
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    reply.expect(StatusCode::OK);
    assert!(
        reply
            .text
            .lines()
            .any(|l| l == "203.0.113.10/31,US,US-CA,Los Angeles,"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn an_account_reader_gets_its_manifest_with_an_etag_and_304_when_unchanged() {
    let api = Api::start("manifest");
    let token = api.tokens.acme_reader.clone();
    let uri = "/v1/accounts/acme/egress-manifest";
    let reply = api.call(Method::GET, uri, Some(&token), None, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.etag(), Some(1));
    assert_eq!(reply.json["version"], 1);
    assert_eq!(reply.json["revision"], 1);
    assert_eq!(reply.json["account"], "acme");
    let ips: Vec<&str> = reply.json["dedicated_ips"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|ip| ip["ipv4"].as_str())
        .collect();
    assert_eq!(ips, ["203.0.113.10", "203.0.113.20", "203.0.113.30"]);
    assert_eq!(
        reply.json["dedicated_ips"][0]["location"]["city"],
        "Los Angeles"
    );
    assert_eq!(reply.json["dedicated_ips"][0]["status"], "active");

    let again = api
        .call(
            Method::GET,
            uri,
            Some(&token),
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    again.expect(StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
    assert_eq!(again.etag(), Some(1));

    // Draining an IP changes the manifest and its ETag.
    api.op(
        Method::PUT,
        "/v1/accounts/acme/dedicated-ips/203.0.113.30",
        Some(
            json!({"ipv4": "203.0.113.30", "ipv6": "2001:db8:e000:30::/64",
                    "location": "fra", "status": "draining"}),
        ),
    )
    .await
    .expect(StatusCode::OK);
    let changed = api
        .call(
            Method::GET,
            uri,
            Some(&token),
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    changed.expect(StatusCode::OK);
    assert_eq!(changed.etag(), Some(2));
    assert_eq!(changed.json["dedicated_ips"][2]["status"], "draining");
}

#[tokio::test]
async fn another_account_s_manifest_is_forbidden_and_an_unknown_one_missing() {
    let api = Api::start("manifest-scope");
    let token = api.tokens.acme_reader.clone();
    api.call(
        Method::GET,
        "/v1/accounts/globex/egress-manifest",
        Some(&token),
        None,
        &[],
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "forbidden");
    api.op(Method::GET, "/v1/accounts/initech/egress-manifest", None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    api.call(
        Method::GET,
        "/v1/accounts/acme/egress-manifest",
        None,
        None,
        &[],
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn the_geo_check_reports_what_each_database_says() {
    let mut db = MmdbWriter::new("GeoIP2-City");
    db.insert(
        "203.0.113.0/25".parse().expect("net"),
        &city_record("US", Some("CA"), Some("Los Angeles")),
    );
    let db = GeoDatabase::from_bytes("city.mmdb", db.to_bytes()).expect("a database");
    let api = Api::start_with_geo("geo-check", vec![db]);
    let reply = api.op(Method::GET, "/v1/geo/check", None).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.json["databases"][0]["name"], "city.mmdb");
    let find = |addr: &str| {
        reply.json["addresses"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|a| a["address"] == addr)
            .unwrap_or_else(|| panic!("{addr} missing: {}", reply.text))
            .clone()
    };
    assert_eq!(find("203.0.113.10")["answers"][0]["verdict"], "match");
    let nyc = find("203.0.113.20");
    assert_eq!(nyc["matches"], false);
    assert_eq!(nyc["expected"]["city"], "New York");
    assert_eq!(nyc["answers"][0]["verdict"], "mismatch");
    assert_eq!(nyc["answers"][0]["mismatched"], json!(["city"]));
    assert_eq!(find("198.51.100.0")["answers"][0]["verdict"], "not_listed");
    // nyc (city) and fra, globex's fra (country and city) disagree.
    assert_eq!(reply.json["mismatches"], 3);
    assert_eq!(*api.node.last_geo_mismatches.lock().expect("lock"), Some(3));

    let acme = api.tokens.acme.clone();
    api.call(Method::GET, "/v1/geo/check", Some(&acme), None, &[])
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn the_geo_check_without_databases_says_how_to_give_one() {
    let api = Api::start("geo-check-none");
    let reply = api.op(Method::GET, "/v1/geo/check", None).await;
    reply.expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(reply.text.contains("--geo-mmdb"), "{}", reply.text);
}
