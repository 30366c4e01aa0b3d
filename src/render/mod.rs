//! Renderers: pure functions from a `Plan` (or diagnostics) to text.
//!
//! Nothing here does I/O or reads the environment: the CLI decides colour, format and
//! destination, and passes them in. That keeps every format snapshot-testable on a
//! hand-built plan.

pub mod comment;
pub mod diagnostic;
pub mod github;
pub mod human;
pub mod json;
pub mod markdown;
pub mod stacking;

use crate::plan::{Action, OpKind, Operation, Plan};
use std::collections::BTreeMap;

/// The plan output formats of `plan` and `drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Terraform-like terminal output.
    Human,
    /// A pull-request comment (Atlantis style).
    Markdown,
    /// The `planfile::PlanFile` document.
    Json,
    /// Workflow-command annotations, step summary and the human plan (GitHub Actions).
    Github,
}

/// Whether a plan describes pending changes or drift: the wording differs, the content not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// `plan`: "Plan: N to add ...".
    Plan,
    /// `drift`: "Drift detected: N differences between state/ and the tenant".
    Drift,
}

/// The principal a group of operations is shown under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Principal {
    /// A licensed group (group-based licensing).
    Group(String),
    /// A user, by UPN.
    User(String),
}

impl Principal {
    pub(crate) fn label(&self) -> String {
        match self {
            Principal::Group(name) => format!("group {name}"),
            Principal::User(upn) => upn.clone(),
        }
    }
}

/// Operations grouped by the principal reviewers think in (groups first, then users, both
/// sorted), each list keeping the plan's execution order.
pub(crate) fn by_principal(plan: &Plan) -> BTreeMap<Principal, Vec<&Operation>> {
    let mut groups: BTreeMap<Principal, Vec<&Operation>> = BTreeMap::new();
    for op in &plan.operations {
        let key = match &op.kind {
            OpKind::AssignGroupLicenses { group, .. } => Principal::Group(group.clone()),
            other => Principal::User(other.target().to_string()),
        };
        groups.entry(key).or_default().push(op);
    }
    groups
}

/// The operations `op` waits for that belong to *another* principal, as `target (kind)`:
/// ordering within one user is implied by the listing, cross-user edges (a seat freed by
/// someone else, a group licence first) are what a reviewer needs to see.
pub(crate) fn cross_dependencies(plan: &Plan, op: &Operation) -> Vec<String> {
    let principal = |o: &Operation| match &o.kind {
        OpKind::AssignGroupLicenses { group, .. } => Principal::Group(group.clone()),
        other => Principal::User(other.target().to_string()),
    };
    let own = principal(op);
    op.depends_on
        .iter()
        .filter_map(|id| match plan.operations.iter().find(|o| &o.id == id) {
            Some(dep) if principal(dep) == own => None,
            Some(dep) => Some(format!(
                "{} ({})",
                principal(dep).label(),
                dep.kind.name().replace('_', " ")
            )),
            None => Some(id.clone()),
        })
        .collect()
}

/// One reviewable line of a change: its action and text, plus indented detail lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeLine {
    pub action: Action,
    pub text: String,
    pub details: Vec<(Action, String)>,
}

/// Describes an operation as change lines, shared by the human and markdown renderers so
/// both say the same thing.
pub(crate) fn describe(op: &Operation) -> ChangeLine {
    let action = op.kind.action();
    match &op.kind {
        OpKind::SetUsageLocation { from, to, .. } => ChangeLine {
            action,
            text: match from {
                Some(from) => format!("usage location: {from} -> {to}"),
                None => format!("usage location: (none) -> {to}"),
            },
            details: vec![],
        },
        OpKind::AssignLicenses { add, remove, .. }
        | OpKind::AssignGroupLicenses { add, remove, .. } => {
            let mut details: Vec<(Action, String)> = add
                .iter()
                .map(|g| {
                    let list = |names: &[String]| {
                        if names.is_empty() {
                            "(none)".to_string()
                        } else {
                            names.join(", ")
                        }
                    };
                    match &g.replaces_disabled {
                        Some(before) => (
                            Action::Change,
                            format!(
                                "{} disabled plans: {} -> {}",
                                g.sku_part_number,
                                list(before),
                                list(&g.disabled_plan_names)
                            ),
                        ),
                        None if g.disabled_plan_names.is_empty() => {
                            (Action::Add, g.sku_part_number.clone())
                        }
                        None => (
                            Action::Add,
                            format!(
                                "{} (disabled plans: {})",
                                g.sku_part_number,
                                list(&g.disabled_plan_names)
                            ),
                        ),
                    }
                })
                .collect();
            details.extend(
                remove
                    .iter()
                    .map(|r| (Action::Remove, r.sku_part_number.clone())),
            );
            ChangeLine {
                action,
                text: "licences".to_string(),
                details,
            }
        }
        OpKind::AddGroupMember { group, .. } => ChangeLine {
            action,
            text: format!("member of group {group}"),
            details: vec![],
        },
        OpKind::RemoveGroupMember { group, .. } => ChangeLine {
            action,
            text: format!("member of group {group}"),
            details: vec![],
        },
        OpKind::ConvertMailbox { from, to, .. } => ChangeLine {
            action,
            text: format!("mailbox: {from} -> {to}"),
            details: vec![],
        },
    }
}

/// The Terraform-style summary sentence, or the no-changes sentence.
pub fn summary_line(plan: &Plan, wording: Wording) -> String {
    let s = plan.summary();
    match (wording, plan.is_empty()) {
        (Wording::Plan, true) => "No changes. The tenant matches the desired state.".to_string(),
        (Wording::Drift, true) => {
            "No drift. The tenant matches the desired state in state/.".to_string()
        }
        (Wording::Plan, false) => format!(
            "Plan: {} to add, {} to change, {} to remove.",
            s.add, s.change, s.remove
        ),
        (Wording::Drift, false) => format!(
            "Drift detected: {} differences between state/ and the tenant ({} to add, {} to change, {} to remove).",
            plan.operations.len(),
            s.add,
            s.change,
            s.remove
        ),
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
