//! The resources of the API, one file per family, and the keyed-list operations they share.

// First: the macro it defines is used by the modules after it.
#[macro_use]
mod collection;

pub(crate) mod accounts;
pub(crate) mod address_space;
pub(crate) mod config;
pub(crate) mod dedicated_ips;
pub(crate) mod distribution;
pub(crate) mod endpoints;
pub(crate) mod explain;
pub(crate) mod explain_view;
pub(crate) mod geo;
pub(crate) mod locations;
pub(crate) mod networks;
pub(crate) mod observe;
pub(crate) mod policies;
pub(crate) mod users;

use egress_model::{
    Account, AddressPool, Config, DedicatedIp, Location, Node, OnNetDestination, Policy,
    PrivateNetwork, ProxyEndpoint, User,
};

use crate::error::ApiError;

/// An item of a list in the configuration, identified by a key unique in that list.
pub(crate) trait Keyed {
    /// What it is called in messages, such as `location`.
    const KIND: &'static str;
    /// Its key, as it appears in the URL.
    fn key(&self) -> String;
}

macro_rules! keyed {
    ($($t:ty, $kind:literal, |$v:ident| $key:expr;)*) => {$(
        impl Keyed for $t {
            const KIND: &'static str = $kind;
            fn key(&self) -> String {
                let $v = self;
                $key
            }
        }
    )*};
}

keyed! {
    Location, "location", |l| l.code.to_string();
    Node, "node", |n| n.id.clone();
    AddressPool, "address pool", |p| p.name.clone();
    OnNetDestination, "on-net destination", |d| d.name.clone();
    PrivateNetwork, "private network", |n| n.name.clone();
    Account, "account", |a| a.id.0.clone();
    User, "user", |u| u.name.clone();
    ProxyEndpoint, "proxy endpoint", |e| e.name.clone();
    DedicatedIp, "dedicated IP", |d| d.ipv4.to_string();
    Policy, "policy", |p| p.policy_id().to_string();
}

fn not_found<T: Keyed>(key: &str) -> ApiError {
    ApiError::NotFound {
        what: format!("{} {key:?}", T::KIND),
    }
}

/// The item with `key`.
pub(crate) fn find<'a, T: Keyed>(items: &'a [T], key: &str) -> Result<&'a T, ApiError> {
    items
        .iter()
        .find(|i| i.key() == key)
        .ok_or_else(|| not_found::<T>(key))
}

/// The item with `key`, to change.
pub(crate) fn find_mut<'a, T: Keyed>(items: &'a mut [T], key: &str) -> Result<&'a mut T, ApiError> {
    items
        .iter_mut()
        .find(|i| i.key() == key)
        .ok_or_else(|| not_found::<T>(key))
}

/// Appends `item`; refuses a key that is taken.
pub(crate) fn insert<T: Keyed>(items: &mut Vec<T>, item: T) -> Result<(), ApiError> {
    let key = item.key();
    if items.iter().any(|i| i.key() == key) {
        return Err(ApiError::AlreadyExists {
            what: format!("{} {key:?}", T::KIND),
        });
    }
    items.push(item);
    Ok(())
}

/// Replaces the item with `key` by `item`, which may carry a new key if that one is free.
pub(crate) fn replace<T: Keyed>(items: &mut [T], key: &str, item: T) -> Result<(), ApiError> {
    let position = items
        .iter()
        .position(|i| i.key() == key)
        .ok_or_else(|| not_found::<T>(key))?;
    let new_key = item.key();
    if new_key != key && items.iter().any(|i| i.key() == new_key) {
        return Err(ApiError::AlreadyExists {
            what: format!("{} {new_key:?}", T::KIND),
        });
    }
    items[position] = item;
    Ok(())
}

/// Removes the item with `key`.
pub(crate) fn remove<T: Keyed>(items: &mut Vec<T>, key: &str) -> Result<T, ApiError> {
    let position = items
        .iter()
        .position(|i| i.key() == key)
        .ok_or_else(|| not_found::<T>(key))?;
    Ok(items.remove(position))
}

/// The account with id `id`.
pub(crate) fn account<'a>(config: &'a Config, id: &str) -> Result<&'a Account, ApiError> {
    find(&config.accounts, id)
}

/// The account with id `id`, to change.
pub(crate) fn account_mut<'a>(
    config: &'a mut Config,
    id: &str,
) -> Result<&'a mut Account, ApiError> {
    find_mut(&mut config.accounts, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_model::LocationCode;

    fn node(id: &str) -> Node {
        Node {
            id: id.into(),
            location: LocationCode("lax".into()),
            fleet_address: None,
        }
    }

    #[test]
    fn keyed_lists_refuse_duplicates_and_missing_keys() {
        let mut nodes = vec![node("a")];
        assert!(insert(&mut nodes, node("b")).is_ok());
        assert!(matches!(
            insert(&mut nodes, node("a")),
            Err(ApiError::AlreadyExists { .. })
        ));
        assert!(matches!(
            replace(&mut nodes, "a", node("b")),
            Err(ApiError::AlreadyExists { .. })
        ));
        assert!(replace(&mut nodes, "a", node("c")).is_ok());
        assert!(matches!(find(&nodes, "a"), Err(ApiError::NotFound { .. })));
        assert_eq!(remove(&mut nodes, "c").map(|n| n.id), Ok("c".to_string()));
        assert_eq!(nodes, vec![node("b")]);
    }
}
