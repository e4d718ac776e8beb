//! The OpenAPI 3.1 document, generated from the handlers' own annotations and types, served at
//! `/v1/openapi.json`.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi as Document, PathItem, Ref, RefOr,
    ResponseBuilder, Schema, Type,
};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::resources::{
    accounts, address_space, config, dedicated_ips, distribution, endpoints, explain, geo,
    locations, networks, observe, policies, users,
};

/// Routes anyone may call; every other needs a bearer token.
pub(crate) const PUBLIC_PATHS: [&str; 4] =
    ["/healthz", "/readyz", "/v1/openapi.json", "/geofeed.csv"];

/// Routes whose responses carry no `ETag` (they do not read one configuration revision).
const UNTAGGED_PATHS: [&str; 11] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/revisions",
    "/v1/audit",
    "/v1/explain",
    "/v1/connections",
    "/v1/port-usage",
    "/v1/logs",
    "/v1/traffic-history",
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "egressd admin API",
        description = "Configuration, explain and live views of an egressd node. Writes take \
                       `If-Match: \"<revision>\"`; every configuration response carries the \
                       `ETag` of the revision it read or wrote."
    ),
    paths(
        config::get_config, config::put_config, config::list_revisions, config::get_revision,
        config::list_audit,
        locations::list_locations, locations::create_location, locations::get_location,
        locations::update_location, locations::delete_location,
        locations::list_nodes, locations::create_node, locations::get_node,
        locations::update_node, locations::delete_node,
        address_space::list_pools, address_space::create_pool, address_space::get_pool,
        address_space::update_pool, address_space::delete_pool, address_space::list_leased_ips,
        accounts::list_accounts, accounts::create_account, accounts::get_account,
        accounts::update_account, accounts::delete_account,
        accounts::get_traffic_settings, accounts::put_traffic_settings,
        accounts::get_groups, accounts::put_groups,
        accounts::get_byoip_prefixes, accounts::put_byoip_prefixes,
        users::list_users, users::create_user, users::get_user, users::update_user,
        users::delete_user,
        endpoints::list_endpoints, endpoints::create_endpoint, endpoints::get_endpoint,
        endpoints::update_endpoint, endpoints::delete_endpoint,
        dedicated_ips::list_dedicated_ips, dedicated_ips::create_dedicated_ip,
        dedicated_ips::put_dedicated_ips, dedicated_ips::get_dedicated_ip,
        dedicated_ips::update_dedicated_ip, dedicated_ips::delete_dedicated_ip,
        policies::list_policies, policies::create_policy, policies::get_policy,
        policies::update_policy, policies::delete_policy, policies::enable_policy,
        policies::disable_policy, policies::move_policy, policies::validate_policy,
        networks::list_on_net, networks::create_on_net, networks::get_on_net,
        networks::update_on_net, networks::delete_on_net,
        networks::list_private_networks, networks::create_private_network,
        networks::get_private_network, networks::update_private_network,
        networks::delete_private_network,
        explain::explain_intent,
        geo::geofeed_csv, geo::egress_manifest, geo::geo_check,
        observe::healthz, observe::readyz, observe::status, observe::connections,
        observe::port_usage, observe::logs, observe::traffic_history, observe::metrics,
        distribution::next_revision, distribution::node_reports, distribution::fleet_health,
        distribution::report_health,
        openapi_json,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// Returns this OpenAPI 3.1 document (no token needed).
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi_json() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| {
        document()
            .to_json()
            .expect("the generated document serialises to JSON")
    });
    let mut response = text.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// What every operation shares and its annotation leaves out: the bearer scheme, the error
/// responses it can give, and the `ETag` header.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An admin token: `egressd token create`"))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                conventions(path, method, operation);
            }
        }
    }
}

/// The operations of a path item with their method names.
pub(crate) fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("PUT", item.put.as_mut()),
        ("POST", item.post.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("OPTIONS", item.options.as_mut()),
        ("HEAD", item.head.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("TRACE", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

fn conventions(path: &str, method: &str, operation: &mut Operation) {
    // An empty key would address another route (`/v1/accounts//users` is not a user list).
    for parameter in operation.parameters.iter_mut().flatten() {
        if let (ParameterIn::Path, Some(RefOr::T(Schema::Object(schema)))) =
            (&parameter.parameter_in, parameter.schema.as_mut())
        {
            if schema.schema_type == Type::String.into() {
                schema.min_length = Some(1);
            }
        }
    }
    let public = PUBLIC_PATHS.contains(&path);
    let write = crate::auth::is_write(&method.parse().expect("an HTTP method name"), path);
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if !public {
        operation.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        errors.extend([
            ("400", "The request does not parse"),
            ("401", "No valid bearer token"),
            ("403", "The token's scope does not allow this"),
            ("500", "The store or the node failed"),
        ]);
    }
    if path.contains('{') || path == "/v1/config" {
        errors.push(("404", "No such item (or account)"));
    }
    if write {
        errors.extend([
            (
                "409",
                "Stale If-Match, duplicate key, or the node runs in file mode",
            ),
            ("413", "The body is too large"),
            (
                "422",
                "The resulting configuration is invalid; nothing was stored",
            ),
        ]);
    }
    if path == "/readyz" {
        errors.push(("503", "Not ready"));
    }
    for (status, description) in errors {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert(RefOr::T(response));
    }
    if !UNTAGGED_PATHS.contains(&path) {
        for (status, response) in operation.responses.responses.iter_mut() {
            if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                let etag = HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("The revision read or written, in quotes"))
                    .build();
                response.headers.insert("ETag".to_string(), etag);
            }
        }
    }
}
