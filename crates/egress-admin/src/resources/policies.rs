//! `/v1/accounts/{id}/policies`: egress policies, kept in precedence order, with enable,
//! disable and move.

use axum::extract::State;
use egress_model::Policy;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::resources::{account, account_mut, find, find_mut, insert, remove, replace};
use crate::state::AppState;
use crate::write::{validate, write, Change, Tagged};

/// Where to move a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The new precedence; policies in the way shift down by one, keeping their order.
    pub precedence: u32,
}

/// A policy to check without storing it.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRequest {
    /// The policy as it would be created or saved.
    pub policy: Policy,
    /// The id of the policy it would replace (an edit); absent for a new policy.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// The outcome of a validation that found nothing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValidationView {
    /// Always `true`: a policy that breaks a rule gets 422 with its problems instead.
    pub valid: bool,
}

/// Lists an account's policies in precedence order.
#[utoipa::path(get, path = "/v1/accounts/{id}/policies", tag = "policies",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The policies, lowest precedence first", body = Vec<Policy>)))]
pub(crate) async fn list_policies(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<Vec<Policy>>, ApiError> {
    let current = state.current().await?;
    let mut policies = account(&current.config.config, &id)?.policies.clone();
    policies.sort_by_key(|p| p.precedence);
    Ok(Tagged::ok(current.revision, policies))
}

/// Adds a policy (its precedence must be free; use move to insert between others).
#[utoipa::path(post, path = "/v1/accounts/{id}/policies", tag = "policies", request_body = Policy,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 201, description = "Created", body = Policy)))]
pub(crate) async fn create_policy(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(policy): Body<Policy>,
) -> Result<Tagged<Policy>, ApiError> {
    let (revision, policy) = write(&state, change, move |config| {
        let policies = &mut account_mut(config, &id)?.policies;
        insert(policies, policy.clone())?;
        policies.sort_by_key(|p| p.precedence);
        Ok(policy)
    })
    .await?;
    Ok(Tagged::created(revision, policy))
}

/// Checks a policy against the latest configuration without storing anything: the same rules
/// as a create (or, with `replaces`, a save), so a form can show problems as they are typed.
#[utoipa::path(post, path = "/v1/accounts/{id}/policy-validation", tag = "policies",
    request_body = ValidationRequest,
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The policy breaks no rule", body = ValidationView),
        (status = 409, description = "A new policy's id is taken", body = crate::error::ErrorBody),
        (status = 413, description = "The body is too large", body = crate::error::ErrorBody),
        (status = 422, description = "The problems a save would be refused with; nothing was stored", body = crate::error::ErrorBody)))]
pub(crate) async fn validate_policy(
    State(state): State<AppState>,
    Params(id): Params<String>,
    Body(request): Body<ValidationRequest>,
) -> Result<Tagged<ValidationView>, ApiError> {
    let revision = validate(&state, move |config| {
        let policies = &mut account_mut(config, &id)?.policies;
        match &request.replaces {
            Some(key) => replace(policies, key, request.policy)?,
            None => insert(policies, request.policy)?,
        }
        Ok(())
    })
    .await?;
    Ok(Tagged::ok(revision, ValidationView { valid: true }))
}

/// Returns one policy.
#[utoipa::path(get, path = "/v1/accounts/{id}/policies/{policy_id}", tag = "policies",
    params(("id" = String, Path, description = "Account id"),
           ("policy_id" = String, Path, description = "Policy id (the name when it has no id)")),
    responses((status = 200, description = "The policy", body = Policy)))]
pub(crate) async fn get_policy(
    State(state): State<AppState>,
    Params((id, policy_id)): Params<(String, String)>,
) -> Result<Tagged<Policy>, ApiError> {
    let current = state.current().await?;
    let policy = find(&account(&current.config.config, &id)?.policies, &policy_id)?;
    Ok(Tagged::ok(current.revision, policy.clone()))
}

/// Replaces a policy.
#[utoipa::path(put, path = "/v1/accounts/{id}/policies/{policy_id}", tag = "policies",
    request_body = Policy,
    params(("id" = String, Path, description = "Account id"),
           ("policy_id" = String, Path, description = "Policy id (the name when it has no id)")),
    responses((status = 200, description = "Replaced", body = Policy)))]
pub(crate) async fn update_policy(
    State(state): State<AppState>,
    change: Change,
    Params((id, policy_id)): Params<(String, String)>,
    Body(policy): Body<Policy>,
) -> Result<Tagged<Policy>, ApiError> {
    let (revision, policy) = write(&state, change, move |config| {
        let policies = &mut account_mut(config, &id)?.policies;
        replace(policies, &policy_id, policy.clone())?;
        policies.sort_by_key(|p| p.precedence);
        Ok(policy)
    })
    .await?;
    Ok(Tagged::ok(revision, policy))
}

/// Deletes a policy.
#[utoipa::path(delete, path = "/v1/accounts/{id}/policies/{policy_id}", tag = "policies",
    params(("id" = String, Path, description = "Account id"),
           ("policy_id" = String, Path, description = "Policy id (the name when it has no id)")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_policy(
    State(state): State<AppState>,
    change: Change,
    Params((id, policy_id)): Params<(String, String)>,
) -> Result<Tagged<()>, ApiError> {
    let (revision, _) = write(&state, change, move |config| {
        remove(&mut account_mut(config, &id)?.policies, &policy_id).map(drop)
    })
    .await?;
    Ok(Tagged::deleted(revision))
}

/// Sets a policy's enabled flag and returns it.
async fn set_enabled(
    state: &AppState,
    change: Change,
    id: String,
    policy_id: String,
    enabled: bool,
) -> Result<Tagged<Policy>, ApiError> {
    let (revision, policy) = write(state, change, move |config| {
        let policy = find_mut(&mut account_mut(config, &id)?.policies, &policy_id)?;
        policy.enabled = enabled;
        Ok(policy.clone())
    })
    .await?;
    Ok(Tagged::ok(revision, policy))
}

/// Enables a policy.
#[utoipa::path(post, path = "/v1/accounts/{id}/policies/{policy_id}/enable", tag = "policies",
    params(("id" = String, Path, description = "Account id"),
           ("policy_id" = String, Path, description = "Policy id (the name when it has no id)")),
    responses((status = 200, description = "Enabled", body = Policy)))]
pub(crate) async fn enable_policy(
    State(state): State<AppState>,
    change: Change,
    Params((id, policy_id)): Params<(String, String)>,
) -> Result<Tagged<Policy>, ApiError> {
    set_enabled(&state, change, id, policy_id, true).await
}

/// Disables a policy (it stays in place and is skipped).
#[utoipa::path(post, path = "/v1/accounts/{id}/policies/{policy_id}/disable", tag = "policies",
    params(("id" = String, Path, description = "Account id"),
           ("policy_id" = String, Path, description = "Policy id (the name when it has no id)")),
    responses((status = 200, description = "Disabled", body = Policy)))]
pub(crate) async fn disable_policy(
    State(state): State<AppState>,
    change: Change,
    Params((id, policy_id)): Params<(String, String)>,
) -> Result<Tagged<Policy>, ApiError> {
    set_enabled(&state, change, id, policy_id, false).await
}

/// Moves a policy to a precedence; policies in the way shift down by one, keeping their order.
#[utoipa::path(post, path = "/v1/accounts/{id}/policies/{policy_id}/move", tag = "policies",
    request_body = MoveRequest,
    params(("id" = String, Path, description = "Account id"),
           ("policy_id" = String, Path, description = "Policy id (the name when it has no id)")),
    responses((status = 200, description = "Every policy of the account after the move, in order", body = Vec<Policy>)))]
pub(crate) async fn move_policy(
    State(state): State<AppState>,
    change: Change,
    Params((id, policy_id)): Params<(String, String)>,
    Body(target): Body<MoveRequest>,
) -> Result<Tagged<Vec<Policy>>, ApiError> {
    let (revision, policies) = write(&state, change, move |config| {
        let policies = &mut account_mut(config, &id)?.policies;
        move_to(policies, &policy_id, target.precedence)?;
        Ok(policies.clone())
    })
    .await?;
    Ok(Tagged::ok(revision, policies))
}

/// Gives policy `key` precedence `to`, shifts the policies at and after `to` that are in the way
/// by one (only as far as needed, so later gaps stay), and sorts the list.
fn move_to(policies: &mut [Policy], key: &str, to: u32) -> Result<(), ApiError> {
    let moved = policies
        .iter()
        .position(|p| p.policy_id() == key)
        .ok_or_else(|| ApiError::NotFound {
            what: format!("policy {key:?}"),
        })?;
    policies[moved].precedence = to;
    let mut behind: Vec<usize> = (0..policies.len())
        .filter(|&i| i != moved && policies[i].precedence >= to)
        .collect();
    behind.sort_by_key(|&i| policies[i].precedence);
    let mut taken = to;
    for i in behind {
        if policies[i].precedence > taken {
            break;
        }
        taken = taken.checked_add(1).ok_or_else(|| {
            ApiError::bad_request(format!(
                "moving policy {key:?} to {to} would push another past the largest precedence"
            ))
        })?;
        policies[i].precedence = taken;
    }
    policies.sort_by_key(|p| p.precedence);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_model::EgressMethod;

    fn policies(list: &[(&str, u32)]) -> Vec<Policy> {
        list.iter()
            .map(|(name, precedence)| Policy {
                id: None,
                precedence: *precedence,
                name: name.to_string(),
                enabled: true,
                traffic: String::new(),
                identity: String::new(),
                method: EgressMethod::Default,
            })
            .collect()
    }

    fn order(list: &[Policy]) -> Vec<(String, u32)> {
        list.iter()
            .map(|p| (p.name.clone(), p.precedence))
            .collect()
    }

    fn pairs(list: &[(&str, u32)]) -> Vec<(String, u32)> {
        list.iter().map(|(n, p)| (n.to_string(), *p)).collect()
    }

    #[test]
    fn moving_onto_an_occupied_precedence_shifts_the_others_in_order() {
        let mut list = policies(&[("a", 10), ("b", 11), ("c", 12), ("d", 20)]);
        move_to(&mut list, "c", 10).expect("moves");
        assert_eq!(
            order(&list),
            pairs(&[("c", 10), ("a", 11), ("b", 12), ("d", 20)])
        );
    }

    #[test]
    fn moving_to_a_free_precedence_touches_nothing_else() {
        let mut list = policies(&[("a", 10), ("b", 20), ("c", 30)]);
        move_to(&mut list, "a", 25).expect("moves");
        assert_eq!(order(&list), pairs(&[("b", 20), ("a", 25), ("c", 30)]));
    }

    #[test]
    fn moving_down_onto_a_later_policy_puts_it_before_that_one() {
        let mut list = policies(&[("a", 10), ("b", 11), ("c", 12)]);
        move_to(&mut list, "a", 12).expect("moves");
        assert_eq!(order(&list), pairs(&[("b", 11), ("a", 12), ("c", 13)]));
    }

    #[test]
    fn moving_past_the_largest_precedence_is_refused() {
        let mut list = policies(&[("a", 1), ("b", u32::MAX)]);
        let err = move_to(&mut list, "a", u32::MAX).expect_err("no room");
        assert!(matches!(err, ApiError::BadRequest { .. }));
        let err = move_to(&mut list, "zzz", 3).expect_err("unknown");
        assert!(matches!(err, ApiError::NotFound { .. }));
    }
}
