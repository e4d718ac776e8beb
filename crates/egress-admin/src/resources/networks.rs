//! `/v1/on-net` and `/v1/private-networks`: destinations that never use a plain dedicated exit.

use egress_model::{OnNetDestination, PrivateNetwork};

keyed_collection! {
    type: OnNetDestination,
    field: on_net,
    tag: "networks",
    collection: "/v1/on-net",
    item: "/v1/on-net/{name}",
    param: "name",
    docs: [
        "Lists the on-net destinations (served by the operator's own edge).",
        "Adds an on-net destination.",
        "Returns one on-net destination.",
        "Replaces an on-net destination; a new `name` renames it.",
        "Removes an on-net destination.",
    ],
    handlers: [list_on_net, create_on_net, get_on_net, update_on_net, delete_on_net],
}

keyed_collection! {
    type: PrivateNetwork,
    field: private_networks,
    tag: "networks",
    collection: "/v1/private-networks",
    item: "/v1/private-networks/{name}",
    param: "name",
    docs: [
        "Lists the private networks (reached through tunnels, always default egress).",
        "Adds a private network.",
        "Returns one private network.",
        "Replaces a private network; a new `name` renames it.",
        "Removes a private network.",
    ],
    handlers: [
        list_private_networks,
        create_private_network,
        get_private_network,
        update_private_network,
        delete_private_network,
    ],
}
