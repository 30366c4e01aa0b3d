//! The stale-plan check: `apply plan.json` re-reads the tenant and refuses a plan whose
//! inputs changed since it was reviewed, saying *what* changed (which users, groups, seats).

use crate::plan::Fingerprint;
use crate::planfile::{LiveDigest, PlanFile};
use crate::tenant::Tenant;
use std::collections::{BTreeMap, BTreeSet};

/// A saved plan that no longer matches its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the saved plan is stale: {}\nre-run `m365ctl plan --out <file>`, review it, then apply the new file",
    .changes.join("; ")
)]
pub struct StalePlan {
    /// One line per change, e.g. `ann@contoso.com: licences changed`,
    /// `ENTERPRISEPACK: consumed 10 -> 11`.
    pub changes: Vec<String>,
}

/// Compares a saved plan with fingerprints recomputed now and the tenant as read now.
pub fn check(saved: &PlanFile, fresh: &Fingerprint, fresh_live: &Tenant) -> Result<(), StalePlan> {
    let mut changes = Vec::new();
    if saved.inputs.desired != fresh.desired {
        changes.push("the desired state (config) changed since the plan was made".to_string());
    }
    if saved.inputs.live != fresh.live {
        let detail = saved
            .live_digest
            .as_ref()
            .map(|before| diff(before, &LiveDigest::of(fresh_live), fresh_live))
            .unwrap_or_default();
        if detail.is_empty() {
            changes.push("the live tenant changed since the plan was made".to_string());
        }
        changes.extend(detail);
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(StalePlan { changes })
    }
}

/// Human lines for every difference between two digests; `now` names what changed in a user.
pub fn diff(before: &LiveDigest, after: &LiveDigest, now: &Tenant) -> Vec<String> {
    let mut lines = Vec::new();
    for (upn, change) in changed_keys(&before.users, &after.users) {
        let what = match change {
            Change::Added => "appeared".to_string(),
            Change::Removed => "was deleted".to_string(),
            Change::Modified => match now.user_by_upn(upn) {
                Some(u) => format!("changed (now {})", describe_user(u, now)),
                None => "changed".to_string(),
            },
        };
        lines.push(format!("{upn}: {what}"));
    }
    for (group, change) in changed_keys(&before.groups, &after.groups) {
        let what = match change {
            Change::Added => "appeared",
            Change::Removed => "was deleted",
            Change::Modified => "licences or members changed",
        };
        lines.push(format!("group {group}: {what}"));
    }
    let skus: BTreeSet<&String> = before
        .sku_consumed
        .keys()
        .chain(after.sku_consumed.keys())
        .collect();
    for sku in skus {
        let (b, a) = (before.sku_consumed.get(sku), after.sku_consumed.get(sku));
        if b != a {
            let show = |v: Option<&u32>| v.map_or("absent".to_string(), u32::to_string);
            lines.push(format!("{sku}: consumed {} -> {}", show(b), show(a)));
        }
    }
    // Names come from the tenant: escaped here, where the one-line-per-change layout is made.
    lines
        .into_iter()
        .map(|line| crate::render::escape::terminal(&line).into_owned())
        .collect()
}

enum Change {
    Added,
    Removed,
    Modified,
}

fn changed_keys<'a>(
    before: &'a BTreeMap<String, String>,
    after: &'a BTreeMap<String, String>,
) -> Vec<(&'a str, Change)> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (before.get(k), after.get(k)) {
            (None, Some(_)) => Some((k.as_str(), Change::Added)),
            (Some(_), None) => Some((k.as_str(), Change::Removed)),
            (Some(b), Some(a)) if a != b => Some((k.as_str(), Change::Modified)),
            _ => None,
        })
        .collect()
}

/// Licences, usage location and mailbox type of a user, for the stale message.
fn describe_user(user: &crate::tenant::User, tenant: &Tenant) -> String {
    let licences: Vec<String> = user
        .held_sku_ids()
        .into_iter()
        .map(|id| {
            tenant
                .sku(id)
                .map_or(id.to_string(), |s| s.sku_part_number.clone())
        })
        .collect();
    let licences = if licences.is_empty() {
        "no licences".to_string()
    } else {
        format!("licences {}", licences.join(", "))
    };
    let location = user
        .usage_location
        .as_deref()
        .unwrap_or("no usage location");
    let mailbox = user.mailbox.as_ref().map_or("no mailbox".to_string(), |m| {
        format!("{} mailbox", m.kind.as_str())
    });
    format!("{licences}; {location}; {mailbox}")
}
