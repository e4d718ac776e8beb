//! `/v1/locations` and `/v1/nodes`: data centres and the egressd processes in them.

use egress_model::{Location, Node};

keyed_collection! {
    type: Location,
    field: locations,
    tag: "locations",
    collection: "/v1/locations",
    item: "/v1/locations/{code}",
    param: "code",
    docs: [
        "Lists the locations (data centres).",
        "Adds a location.",
        "Returns one location.",
        "Replaces a location; a new `code` renames it.",
        "Removes a location (refused while anything refers to it).",
    ],
    handlers: [list_locations, create_location, get_location, update_location, delete_location],
}

keyed_collection! {
    type: Node,
    field: nodes,
    tag: "nodes",
    collection: "/v1/nodes",
    item: "/v1/nodes/{id}",
    param: "id",
    docs: [
        "Lists the nodes (egressd processes) of the deployment.",
        "Adds a node.",
        "Returns one node.",
        "Replaces a node; a new `id` renames it.",
        "Removes a node.",
    ],
    handlers: [list_nodes, create_node, get_node, update_node, delete_node],
}
