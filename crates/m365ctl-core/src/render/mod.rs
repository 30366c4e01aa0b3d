//! Renderers: pure functions from a `Plan` (or diagnostics) to text.
//!
//! Nothing here does I/O or reads the environment: the CLI decides colour, format and
//! destination, and passes them in. That keeps every format snapshot-testable on a
//! hand-built plan.

pub mod comment;
pub mod cost;
pub mod diagnostic;
pub use crate::escape;
pub mod github;
pub mod human;
pub mod json;
pub mod markdown;
pub mod stacking;
pub mod tenants;

use crate::plan::{Action, Operation, Plan};
use std::collections::{BTreeMap, HashMap};

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
    /// `drift`: "Drift detected: N differences between the desired state and the tenant".
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
        groups.entry(principal_of(op)).or_default().push(op);
    }
    groups
}

/// The plan's operations by id, built once per render: each `depends_on` id is then found
/// in O(1), where a scan of all operations per dependency made rendering quadratic (1.4 s
/// of a 1,000,000-user plan went to finding dependencies).
pub(crate) struct OperationsById<'a> {
    by_id: HashMap<&'a str, &'a Operation>,
}

impl<'a> OperationsById<'a> {
    /// Indexes every operation of `plan`.
    pub(crate) fn of(plan: &'a Plan) -> OperationsById<'a> {
        OperationsById {
            by_id: plan
                .operations
                .iter()
                .map(|op| (op.id.as_str(), op))
                .collect(),
        }
    }

    /// The operation with this id, if the plan has it.
    pub(crate) fn get(&self, id: &str) -> Option<&'a Operation> {
        self.by_id.get(id).copied()
    }
}

/// The principal an operation is listed under.
fn principal_of(op: &Operation) -> Principal {
    // An operation on no user changes a group (its target is the group's name).
    let target = op.kind.target().to_string();
    match op.kind.user_id() {
        Some(_) => Principal::User(target),
        None => Principal::Group(target),
    }
}

/// The operations `op` waits for that belong to *another* principal, as `target (kind)`:
/// ordering within one user is implied by the listing, cross-user edges (a seat freed by
/// someone else, a group licence first) are what a reviewer needs to see. An id the plan
/// does not have is shown as is (a hand-edited or truncated plan), never dropped.
pub(crate) fn cross_dependencies(operations: &OperationsById<'_>, op: &Operation) -> Vec<String> {
    let own = principal_of(op);
    op.depends_on
        .iter()
        .filter_map(|id| match operations.get(id) {
            Some(dep) if principal_of(dep) == own => None,
            Some(dep) => Some(format!(
                "{} ({})",
                principal_of(dep).label(),
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
    let description = op.kind.kind().describe();
    ChangeLine {
        action: op.kind.action(),
        text: description.text,
        details: description.details,
    }
}

/// The Terraform-style summary sentence. "No changes" / "No drift" only for a plan that is
/// in sync: a plan with errors may not have compared everything, and a licence in an error
/// state is a difference even when no operation can fix it.
pub fn summary_line(plan: &Plan, wording: Wording) -> String {
    let s = plan.summary();
    let failing = plan.license_errors.len();
    if plan.in_sync() {
        return match wording {
            Wording::Plan => "No changes. The tenant matches the desired state.".to_string(),
            Wording::Drift => "No drift. The tenant matches the desired state.".to_string(),
        };
    }
    if plan.is_empty() && failing == 0 {
        return match wording {
            Wording::Plan => "No changes can be planned until the errors above are fixed: the tenant may not match the desired state.".to_string(),
            Wording::Drift => "Drift unknown: the errors above kept the tenant from being compared with the desired state.".to_string(),
        };
    }
    let failing_text = match failing {
        0 => String::new(),
        1 => "1 inherited licence in an error state".to_string(),
        n => format!("{n} inherited licences in an error state"),
    };
    match wording {
        Wording::Plan => {
            let mut line = format!(
                "Plan: {} to add, {} to change, {} to remove.",
                s.add, s.change, s.remove
            );
            if failing > 0 {
                line.push_str(&format!(" Not fixed by this plan: {failing_text}."));
            }
            line
        }
        Wording::Drift => format!(
            "Drift detected: {} differences between the desired state and the tenant ({} to add, {} to change, {} to remove{}).",
            plan.operations.len() + failing,
            s.add,
            s.change,
            s.remove,
            if failing > 0 {
                format!(", {failing_text}")
            } else {
                String::new()
            }
        ),
    }
}

/// A failing inherited licence as one line, shared by the human and markdown renderers.
pub(crate) fn describe_license_error(e: &crate::plan::LicenseError) -> String {
    let state = match &e.error {
        Some(error) => format!("{} ({error})", e.state),
        None => e.state.clone(),
    };
    format!("{} from group {}: {state}", e.sku_part_number, e.group)
}

/// The heading of the failing-licences section, then what it means and how the reprocessing
/// each remedy ends with is done (m365ctl has no operation for it).
pub(crate) const LICENSE_ERRORS_HEADING: (&str, &str) = (
    "Inherited licences in an error state",
    "not working as assigned, and no operation of this plan fixes them. After fixing the cause, reprocess the user's licences (Entra admin center > Users > Licenses > Reprocess, or POST /users/{id}/reprocessLicenseAssignment).",
);

/// Failing licences grouped by user (UPN order, then as listed).
pub(crate) fn license_errors_by_user(
    plan: &Plan,
) -> BTreeMap<&str, Vec<&crate::plan::LicenseError>> {
    let mut users: BTreeMap<&str, Vec<&crate::plan::LicenseError>> = BTreeMap::new();
    for e in &plan.license_errors {
        users.entry(e.upn.as_str()).or_default().push(e);
    }
    users
}

#[cfg(any(test, feature = "testkit"))]
pub mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostic;
    use proptest::prelude::*;

    /// Every text a plan is shown as: the terminal (coloured or not), the pull-request
    /// comment, GitHub Actions output, and last the JSON document (which has no sentence).
    fn every_format(plan: &Plan, wording: Wording) -> Vec<String> {
        let human = |color| human::render(plan, human::HumanOptions { color, wording });
        let mut github = github::annotations(&plan.diagnostics, &github::RepoPaths::default());
        github.push_str(&human(false));
        vec![
            human(false),
            human(true),
            markdown::render(
                plan,
                markdown::MarkdownOptions {
                    wording,
                    ..Default::default()
                },
            ),
            github,
            json::render(plan),
        ]
    }

    proptest! {
        /// Over plans with any number of operations, errors, warnings and failing licences,
        /// in both wordings and every format: "No changes" / "No drift" appears exactly when
        /// the plan is in sync, so a plan with errors never claims the tenant matches.
        #[test]
        fn only_a_plan_in_sync_says_the_tenant_matches(
            ops in 0usize..4,
            errors in 0usize..3,
            warnings in 0usize..2,
            failing in 0usize..2,
            drift in any::<bool>(),
        ) {
            let full = fixtures::every_kind();
            let mut plan = fixtures::empty();
            plan.operations = full.operations[..ops].to_vec();
            plan.license_errors = full.license_errors.iter().cycle().take(failing).cloned().collect();
            for i in 0..errors {
                plan.diagnostics.push(Diagnostic::error(format!("error {i}"), None));
            }
            for i in 0..warnings {
                plan.diagnostics.push(Diagnostic::warning(format!("warning {i}"), None));
            }
            let wording = if drift { Wording::Drift } else { Wording::Plan };
            let in_sync = ops == 0 && errors == 0 && failing == 0;
            prop_assert_eq!(plan.in_sync(), in_sync);
            let texts = every_format(&plan, wording);
            for (i, text) in texts.iter().enumerate() {
                let claims = text.contains("The tenant matches the desired state");
                if i + 1 == texts.len() {
                    prop_assert!(!claims, "{}", text);
                } else {
                    prop_assert_eq!(claims, in_sync, "{}", text);
                }
            }
        }
    }
}

#[cfg(test)]
mod dependency_tests {
    use super::*;
    use crate::plan::OpKind;
    use crate::plan::ops::{AddGroupMember, AssignGroupLicenses};
    use proptest::prelude::*;

    /// Operation `index` of a generated plan: principal `owner` (groups are negative), and
    /// an id that says which operation it is, so the expected rendering is known without
    /// searching the plan.
    fn generated_op(index: usize, owner: i32, depends_on: Vec<String>) -> Operation {
        let kind = if owner < 0 {
            OpKind::AssignGroupLicenses(AssignGroupLicenses {
                group_id: format!("g{owner}"),
                group: format!("group{}", -owner),
                add: vec![],
                remove: vec![],
            })
        } else {
            OpKind::AddGroupMember(AddGroupMember {
                group_id: "g".into(),
                group: "staff".into(),
                user_id: format!("u{owner}"),
                upn: format!("user{owner}@contoso.com"),
            })
        };
        Operation {
            id: format!("op{index}"),
            kind,
            depends_on,
            reasons: vec![],
        }
    }

    fn label(owner: i32) -> String {
        if owner < 0 {
            format!("group group{} (assign group licenses)", -owner)
        } else {
            format!("user{owner}@contoso.com (add group member)")
        }
    }

    proptest! {
        /// Every dependency of every operation resolves to the operation with that id: another
        /// principal's is named with its kind, the same principal's is implied by the listing,
        /// an id the plan lacks is shown as is. Owners and edges are arbitrary, so the index
        /// is checked against the generator's own record, not against another lookup.
        #[test]
        fn every_dependency_resolves_to_the_operation_with_its_id(
            owners in proptest::collection::vec(-3i32..6, 1..40),
            edges in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<bool>()), 0..80),
        ) {
            let mut depends: Vec<Vec<(String, Option<usize>)>> = vec![Vec::new(); owners.len()];
            for (from, to, dangling) in edges {
                let (from, to) = (from.index(owners.len()), to.index(owners.len()));
                if dangling {
                    depends[from].push((format!("missing{to}"), None));
                } else if to != from {
                    depends[from].push((format!("op{to}"), Some(to)));
                }
            }
            let mut plan = fixtures::empty();
            plan.operations = owners
                .iter()
                .zip(&depends)
                .enumerate()
                .map(|(i, (owner, deps))| {
                    generated_op(i, *owner, deps.iter().map(|(id, _)| id.clone()).collect())
                })
                .collect();
            let operations = OperationsById::of(&plan);
            for (i, op) in plan.operations.iter().enumerate() {
                let expected: Vec<String> = depends[i]
                    .iter()
                    .filter_map(|(id, target)| match target {
                        Some(t) if owners[*t] == owners[i] => None,
                        Some(t) => Some(label(owners[*t])),
                        None => Some(id.clone()),
                    })
                    .collect();
                prop_assert_eq!(cross_dependencies(&operations, op), expected);
            }
        }
    }
}
#[cfg(test)]
mod hostile_tests;
