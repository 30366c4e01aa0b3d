//! What the two `assignLicense` kinds share (`assign_licenses` on a user,
//! `assign_group_licenses` on a group): the action and role a call's lists give it, how
//! reviewers read it, the request, and comparing disabled plans. Each kind keeps its own
//! module with its own target, model write and done-check.

use super::*;

/// `Action` of a licence call from its lists: a `~` when only disabled plans change.
pub(super) fn licence_action(add: &[LicenseGrant], remove: &[LicenseRemoval]) -> Action {
    match (add.is_empty(), remove.is_empty()) {
        (false, true) if add.iter().all(|g| g.replaces_disabled.is_some()) => Action::Change,
        (false, true) => Action::Add,
        (true, false) => Action::Remove,
        _ => Action::Change,
    }
}

/// `Role` of a licence call from its lists.
pub(super) fn licence_role(add: &[LicenseGrant], remove: &[LicenseRemoval]) -> Role {
    match (add.is_empty(), remove.is_empty()) {
        (false, true) => Role::Gain,
        (true, false) => Role::Loss,
        _ => Role::GainLoss,
    }
}

/// How reviewers read a licence call, shared by user and group licences: `licences` and a
/// detail line per licence added, re-scoped or removed.
pub(super) fn licence_description(add: &[LicenseGrant], remove: &[LicenseRemoval]) -> Description {
    let list = |names: &[String]| {
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    };
    let mut details: Vec<(Action, String)> = add
        .iter()
        .map(|g| match &g.replaces_disabled {
            Some(before) => (
                Action::Change,
                format!(
                    "{} disabled plans: {} -> {}",
                    g.sku_part_number,
                    list(before),
                    list(&g.disabled_plan_names)
                ),
            ),
            None if g.disabled_plan_names.is_empty() => (Action::Add, g.sku_part_number.clone()),
            None => (
                Action::Add,
                format!(
                    "{} (disabled plans: {})",
                    g.sku_part_number,
                    list(&g.disabled_plan_names)
                ),
            ),
        })
        .collect();
    details.extend(
        remove
            .iter()
            .map(|r| (Action::Remove, r.sku_part_number.clone())),
    );
    Description {
        text: "licences".to_string(),
        details,
    }
}

/// The `assignLicense` call on `collection/{id}` (`users` or `groups`), shared by user and
/// group licences: `disabledPlans` never null.
pub(super) fn licence_request(
    collection: &'static str,
    id: &str,
    add: &[LicenseGrant],
    remove: &[LicenseRemoval],
) -> Request {
    let body = serde_json::json!({
        "addLicenses": add.iter().map(|g| serde_json::json!({"skuId": g.sku_id, "disabledPlans": g.disabled_plans})).collect::<Vec<_>>(),
        "removeLicenses": remove.iter().map(|r| r.sku_id.clone()).collect::<Vec<_>>(),
    });
    Request::Graph(GraphRequest {
        method: HttpMethod::Post,
        path: vec![
            PathPart::Fixed(collection),
            PathPart::Object(id.to_string()),
            PathPart::Fixed("assignLicense"),
        ],
        body: Some(RequestBody::Json(body)),
        permission: "LicenseAssignment.ReadWrite.All",
    })
}

/// Whether two disabled-plan lists name the same plans, in any order.
pub(super) fn same_plans(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let mut b: Vec<&str> = b.iter().map(|s| s.as_str()).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}
