//! What every backend applies to admin tokens: which names are usable, and how a token reads in
//! the audit log.

use crate::error::StoreError;
use crate::model::TokenInfo;

const MAX_NAME_CHARS: usize = 100;

/// Refuses a name that is blank, longer than 100 characters or holds control characters.
pub(crate) fn check_name(name: &str) -> Result<(), StoreError> {
    let refuse = |reason| {
        Err(StoreError::BadTokenName {
            name: name.to_string(),
            reason,
        })
    };
    if name.trim().is_empty() {
        return refuse("it is empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return refuse("it is longer than 100 characters");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains control characters");
    }
    Ok(())
}

/// The audit detail of a token change.
pub(crate) fn describe(info: &TokenInfo) -> String {
    format!("token {} {:?} ({})", info.id, info.name, info.scope)
}
