//! Each resource reads and writes its own part of the document, and the whole document shows
//! the change.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{initech_ips, Api};

/// Create, read, replace and delete one item of a keyed collection.
async fn crud(api: &Api, collection: &str, key: &str, item: Value, changed: Value) {
    let created = api.op(Method::POST, collection, Some(item.clone())).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{collection}: {}",
        created.text
    );
    let uri = format!("{collection}/{key}");
    let read = api.op(Method::GET, &uri, None).await;
    assert_eq!(read.status, StatusCode::OK, "{uri}: {}", read.text);
    let replaced = api.op(Method::PUT, &uri, Some(changed.clone())).await;
    assert_eq!(replaced.status, StatusCode::OK, "{uri}: {}", replaced.text);
    let listed = api.op(Method::GET, collection, None).await;
    assert!(
        listed
            .json
            .as_array()
            .is_some_and(|l| l.contains(&replaced.json)),
        "{collection} lists the replaced item: {}",
        listed.text
    );
    let deleted = api.op(Method::DELETE, &uri, None).await;
    assert_eq!(
        deleted.status,
        StatusCode::NO_CONTENT,
        "{uri}: {}",
        deleted.text
    );
    let gone = api.op(Method::GET, &uri, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{uri}");
}

#[tokio::test]
async fn keyed_collections_create_read_replace_and_delete() {
    let api = Api::start("crud");
    let sea = json!({"code": "sea", "city": "Seattle", "region": "US-WA", "country": "US",
                     "latitude": 47.61, "longitude": -122.33, "ipv6_slice": 4,
                     "default_egress": {"ipv4": "198.51.100.48/28"}});
    let mut sea2 = sea.clone();
    sea2["city"] = json!("Seattle, WA");
    crud(&api, "/v1/locations", "sea", sea.clone(), sea2).await;

    crud(
        &api,
        "/v1/nodes",
        "lax-2",
        json!({"id": "lax-2", "location": "lax"}),
        json!({"id": "lax-2", "location": "nyc"}),
    )
    .await;
    crud(
        &api,
        "/v1/address-pools",
        "spare",
        json!({"name": "spare", "prefix": "203.0.113.128/26"}),
        json!({"name": "spare", "prefix": "203.0.113.192/26"}),
    )
    .await;
    crud(
        &api,
        "/v1/on-net",
        "edge-2",
        json!({"name": "edge-2", "hosts": ["static.example"]}),
        json!({"name": "edge-2", "prefixes": [], "hosts": ["assets.example"]}),
    )
    .await;
    crud(
        &api,
        "/v1/private-networks",
        "lab",
        json!({"name": "lab", "prefixes": ["10.99.0.0/16"]}),
        json!({"name": "lab", "prefixes": ["10.98.0.0/16"]}),
    )
    .await;
    crud(
        &api,
        "/v1/accounts/acme/proxy-endpoints",
        "office-2",
        json!({"name": "office-2", "protocol": "http", "listen": "0.0.0.0:3130",
               "authorization": {"source_prefixes": ["10.30.0.0/16"]}}),
        json!({"name": "office-2", "protocol": "socks5", "listen": "0.0.0.0:1081",
               "authorization": "credentials"}),
    )
    .await;
    crud(
        &api,
        "/v1/accounts/acme/dedicated-ips",
        "203.0.113.70",
        json!({"ipv4": "203.0.113.70", "ipv6": "2001:db8:e000:70::/64", "location": "nyc"}),
        json!({"ipv4": "203.0.113.70", "ipv6": "2001:db8:e000:71::/64", "location": "nyc"}),
    )
    .await;
    crud(
        &api,
        "/v1/accounts/acme/users",
        "dave",
        json!({"name": "dave", "groups": ["finance"]}),
        json!({"name": "dave", "email": null, "groups": [], "has_password": false}),
    )
    .await;
    crud(
        &api,
        "/v1/accounts/acme/policies",
        "ssh",
        json!({"precedence": 5, "name": "ssh", "traffic": "net.dst.port == 22",
               "method": "default"}),
        json!({"id": null, "precedence": 6, "name": "ssh", "enabled": true,
               "traffic": "net.dst.port == 2222", "identity": "", "method": "default"}),
    )
    .await;
    // 9 collections, 3 writes each.
    assert_eq!(api.latest(), 1 + 9 * 3);
}

#[tokio::test]
async fn account_settings_and_whole_accounts() {
    let api = Api::start("settings");
    let groups = api
        .op(
            Method::PUT,
            "/v1/accounts/acme/groups",
            Some(json!(["finance", "engineering", "contractors", "sales"])),
        )
        .await;
    groups.expect(StatusCode::OK);
    let read = api.op(Method::GET, "/v1/accounts/acme/groups", None).await;
    assert_eq!(read.json[3], "sales");
    assert_eq!(read.etag(), Some(2));

    let traffic = api
        .op(
            Method::PUT,
            "/v1/accounts/globex/traffic-settings",
            Some(json!({"proxy": true, "tcp": true, "udp": true, "host_selectors": false})),
        )
        .await;
    traffic.expect(StatusCode::OK);
    let read = api
        .op(Method::GET, "/v1/accounts/globex/traffic-settings", None)
        .await;
    assert_eq!(read.json["udp"], true);

    let prefixes = api
        .op(
            Method::PUT,
            "/v1/accounts/globex/byoip-prefixes",
            Some(json!([
                "192.0.2.0/24",
                "2001:db8:beef::/48",
                "198.18.100.0/24"
            ])),
        )
        .await;
    prefixes.expect(StatusCode::OK);
    let read = api
        .op(Method::GET, "/v1/accounts/globex/byoip-prefixes", None)
        .await;
    assert_eq!(read.json.as_array().map(Vec::len), Some(3));

    // A whole account: created with its IPs, renamed, deleted.
    let created = api
        .op(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "initech", "name": "Initech", "dedicated_ips": initech_ips()})),
        )
        .await;
    created.expect(StatusCode::CREATED);
    let mut account = created.json.clone();
    account["name"] = json!("Initech Ltd");
    let renamed = api
        .op(Method::PUT, "/v1/accounts/initech", Some(account))
        .await;
    renamed.expect(StatusCode::OK);
    assert_eq!(renamed.json["name"], "Initech Ltd");
    let duplicate = api
        .op(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "initech", "name": "Again"})),
        )
        .await;
    duplicate.expect_error(StatusCode::CONFLICT, "already_exists");
    api.op(Method::DELETE, "/v1/accounts/initech", None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let config = api.op(Method::GET, "/v1/config", None).await;
    assert!(config.json["accounts"]
        .as_array()
        .is_some_and(|a| a.iter().all(|a| a["id"] != "initech")));

    // One IP alone breaks the two-cities rule: refused with the rule's code.
    let lonely = api
        .op(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "solo", "name": "Solo", "dedicated_ips": [initech_ips()[0]]})),
        )
        .await;
    lonely.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(lonely.json["problems"][0]["rule"], "too_few_dedicated_ips");

    // The whole document, read and written back with If-Match.
    let document = api.op(Method::GET, "/v1/config", None).await;
    let etag = format!("\"{}\"", document.etag().expect("etag"));
    let mut changed = document.json.clone();
    changed["deployment"]["max_connections_per_destination"] = json!(30000);
    let put = api
        .call(
            Method::PUT,
            "/v1/config",
            Some(&api.tokens.operator),
            Some(changed),
            &[("if-match", &etag)],
        )
        .await;
    put.expect(StatusCode::OK);
    assert_eq!(
        put.json["deployment"]["max_connections_per_destination"],
        30000
    );
}
