//! Several tenants in one run (`plan`/`drift`/`apply` with several configs): one combined
//! summary with a section per tenant, in every format. Pure: the command gathers a
//! `TenantResult` per tenant (a failure is a result like any other, so one tenant's error
//! never hides the others' plans) and these functions only render them.

use super::{Wording, cost, human, markdown, summary_line};
use crate::diag::{Diagnostic, Severity};
use crate::exit;
use crate::plan::Plan;
use crate::planfile::{DiagnosticDoc, PlanFile};
use serde::Serialize;
use std::fmt::Write;

/// What happened to one tenant.
#[derive(Debug, Clone)]
pub struct TenantResult {
    /// The tenant's name (its directory name).
    pub name: String,
    /// The config path, as given or found.
    pub config: String,
    /// The plan, when one was computed.
    pub plan: Option<Plan>,
    /// `apply`'s report, when it ran.
    pub apply_report: Option<String>,
    /// Errors that stopped this tenant (config, backend, refusal).
    pub errors: Vec<Diagnostic>,
    /// The exit code this tenant alone would have given.
    pub exit_code: u8,
}

/// A tenant's result in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Exit 1: an error.
    Failed,
    /// Changes (or drift) present.
    Changes,
    /// Nothing to do.
    InSync,
}

impl TenantResult {
    /// The tenant's status, from its exit code and plan.
    pub fn status(&self) -> Status {
        if self.exit_code == exit::ERROR {
            Status::Failed
        } else if self.plan.as_ref().is_some_and(|p| !p.is_empty()) {
            Status::Changes
        } else {
            Status::InSync
        }
    }

    /// One line: what happened, with the plan's counts and monthly cost.
    fn outcome_line(&self, wording: Wording) -> String {
        let mut line = match (self.status(), self.errors.first()) {
            (Status::Failed, Some(e)) => format!("FAILED: {}", e.message),
            (Status::Failed, None) => match &self.plan {
                Some(p) if p.has_errors() => "FAILED: the plan has errors".to_string(),
                _ => "FAILED".to_string(),
            },
            _ => self
                .plan
                .as_ref()
                .map(|p| summary_line(p, wording))
                .unwrap_or_default(),
        };
        if let Some(c) = self.plan.as_ref().and_then(|p| p.cost.as_ref()) {
            let _ = write!(line, " Monthly: {}", cost::headline(c));
        }
        line
    }
}

/// The exit code of the whole run: any error 1, else any change 2, else 0.
pub fn aggregate_exit(results: &[TenantResult]) -> u8 {
    let codes = || results.iter().map(|r| r.exit_code);
    if codes().any(|c| c == exit::ERROR) {
        exit::ERROR
    } else if codes().any(|c| c == exit::CHANGES) {
        exit::CHANGES
    } else {
        exit::OK
    }
}

/// `N tenants: K with changes, S in sync, F failed.`
pub fn totals_line(results: &[TenantResult], wording: Wording) -> String {
    let count = |s: Status| results.iter().filter(|r| r.status() == s).count();
    let changed = match wording {
        Wording::Plan => "with changes",
        Wording::Drift => "drifted",
    };
    format!(
        "{} tenants: {} {changed}, {} in sync, {} failed.",
        results.len(),
        count(Status::Changes),
        count(Status::InSync),
        count(Status::Failed)
    )
}

/// The monthly cost of all priced tenants, one headline per currency (amounts in different
/// currencies are never added up).
pub fn cost_headlines(results: &[TenantResult]) -> Vec<String> {
    let mut by_currency: std::collections::BTreeMap<&str, crate::cost::PlanCost> =
        std::collections::BTreeMap::new();
    for c in results
        .iter()
        .filter_map(|r| r.plan.as_ref()?.cost.as_ref())
    {
        match by_currency.get_mut(c.currency.as_str()) {
            Some(sum) => {
                sum.total_now = sum.total_now.plus(c.total_now);
                sum.total_after = sum.total_after.plus(c.total_after);
                sum.change = sum.total_after.minus(sum.total_now);
            }
            None => {
                by_currency.insert(&c.currency, c.clone());
            }
        }
    }
    by_currency.values().map(cost::headline).collect()
}

fn error_lines(errors: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in errors {
        let location = d
            .origin
            .as_ref()
            .map(|o| format!("{o}: "))
            .unwrap_or_default();
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{location}{severity}: {}", d.message);
        if let Some(hint) = &d.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
    }
    out
}

/// For a terminal: each tenant's plan under a header, then one line per tenant and the totals.
pub fn human(results: &[TenantResult], wording: Wording, color: bool) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "=== tenant {} ({}) ===\n", r.name, r.config);
        out.push_str(&error_lines(&r.errors));
        if !r.errors.is_empty() {
            out.push('\n');
        }
        if let Some(plan) = &r.plan {
            out.push_str(&human::render(plan, human::HumanOptions { color, wording }));
        }
        if let Some(report) = &r.apply_report {
            out.push_str(report);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", totals_line(results, wording));
    for headline in cost_headlines(results) {
        let _ = writeln!(
            out,
            "Monthly licence cost of the priced tenants: {headline}"
        );
    }
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in results {
        let _ = writeln!(out, "  {:<width$}  {}", r.name, r.outcome_line(wording));
    }
    out
}

/// For a pull-request comment or step summary: the totals and a table first (with each
/// tenant's monthly cost), then each tenant's plan in a collapsible section. The length
/// budget is shared so that every tenant keeps a section.
pub fn markdown(results: &[TenantResult], wording: Wording, max_chars: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", markdown::MARKER);
    let title = match wording {
        Wording::Plan => "m365ctl plan",
        Wording::Drift => "m365ctl drift report",
    };
    let _ = writeln!(out, "### {title}: {} tenants\n", results.len());
    for headline in cost_headlines(results) {
        let _ = writeln!(
            out,
            "**Monthly licence cost of the priced tenants: {headline}**\n"
        );
    }
    let _ = writeln!(out, "**{}**\n", totals_line(results, wording));
    let _ = writeln!(out, "| Tenant | Result | Monthly licence cost |");
    let _ = writeln!(out, "|---|---|---|");
    for r in results {
        let result = match r.status() {
            Status::Failed => ":x: failed".to_string(),
            _ => r
                .plan
                .as_ref()
                .map(|p| summary_line(p, wording))
                .unwrap_or_default(),
        };
        let money = r
            .plan
            .as_ref()
            .and_then(|p| p.cost.as_ref())
            .map(cost::headline)
            .unwrap_or_else(|| "-".to_string());
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            escape(&r.name),
            escape(&result),
            escape(&money)
        );
    }
    out.push('\n');
    let budget = max_chars.saturating_sub(out.len()) / results.len().max(1);
    for r in results {
        let mut body = String::new();
        if !r.errors.is_empty() {
            let _ = writeln!(body, "```\n{}```\n", error_lines(&r.errors));
        }
        if let Some(plan) = &r.plan {
            let text = markdown::render(
                plan,
                markdown::MarkdownOptions {
                    wording,
                    max_chars: budget.saturating_sub(200),
                },
            );
            // The comment has one marker and one title: each section starts at its content.
            let text = text
                .strip_prefix(markdown::MARKER)
                .unwrap_or(&text)
                .trim_start();
            let text = text
                .strip_prefix("### ")
                .and_then(|t| t.split_once('\n'))
                .map_or(text, |(_, rest)| rest.trim_start());
            body.push_str(text);
        }
        if let Some(report) = &r.apply_report {
            let _ = writeln!(body, "```\n{report}```\n");
        }
        let _ = writeln!(
            out,
            "<details><summary><code>{}</code>: {}</summary>\n\n{body}\n</details>\n",
            escape(&r.name),
            escape(&r.outcome_line(wording))
        );
    }
    out
}

/// The JSON document of a run over several tenants.
#[derive(Debug, Serialize)]
struct RunDoc<'a> {
    format_version: u32,
    exit_code: u8,
    summary: SummaryDoc,
    tenants: Vec<TenantDoc<'a>>,
}

#[derive(Debug, Serialize)]
struct SummaryDoc {
    tenants: usize,
    with_changes: usize,
    in_sync: usize,
    failed: usize,
}

#[derive(Debug, Serialize)]
struct TenantDoc<'a> {
    name: &'a str,
    config: &'a str,
    status: Status,
    exit_code: u8,
    errors: Vec<DiagnosticDoc>,
    plan: Option<PlanFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apply_report: Option<&'a str>,
}

/// `{"format_version":1,"exit_code":…,"summary":{…},"tenants":[{"name","config","status",
/// "exit_code","errors","plan": <the plan document>}]}`, with a final newline.
pub fn json(results: &[TenantResult]) -> String {
    let count = |s: Status| results.iter().filter(|r| r.status() == s).count();
    let doc = RunDoc {
        format_version: 1,
        exit_code: aggregate_exit(results),
        summary: SummaryDoc {
            tenants: results.len(),
            with_changes: count(Status::Changes),
            in_sync: count(Status::InSync),
            failed: count(Status::Failed),
        },
        tenants: results
            .iter()
            .map(|r| TenantDoc {
                name: &r.name,
                config: &r.config,
                status: r.status(),
                exit_code: r.exit_code,
                errors: r.errors.iter().map(DiagnosticDoc::from).collect(),
                plan: r.plan.as_ref().map(PlanFile::from_plan),
                apply_report: r.apply_report.as_deref(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("the run serializes");
    text.push('\n');
    text
}

/// Workflow-command annotations for every tenant's errors and plan diagnostics, files
/// repository-relative.
pub fn annotations(results: &[TenantResult], paths: &super::github::RepoPaths) -> String {
    let mut all: Vec<Diagnostic> = Vec::new();
    for r in results {
        all.extend(r.errors.iter().cloned());
        if let Some(plan) = &r.plan {
            all.extend(plan.diagnostics.iter().cloned());
        }
    }
    super::github::annotations(&all, paths)
}

fn escape(text: &str) -> String {
    text.replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;
    use proptest::prelude::*;

    fn result(
        name: &str,
        plan: Option<Plan>,
        errors: Vec<Diagnostic>,
        exit_code: u8,
    ) -> TenantResult {
        TenantResult {
            name: name.into(),
            config: format!("tenants/{name}"),
            plan,
            apply_report: None,
            errors,
            exit_code,
        }
    }

    /// A priced tenant with changes, a failed one, and one in sync.
    fn three() -> Vec<TenantResult> {
        let origin = crate::diag::Origin {
            file: "tenants/broken/m365ctl.toml".into(),
            line: 1,
            column: 6,
            span: 0..0,
        };
        vec![
            result(
                "broken",
                None,
                vec![
                    Diagnostic::error("unclosed table, expected `]`", Some(origin))
                        .with_hint("see docs/config.md"),
                ],
                exit::ERROR,
            ),
            result(
                "contoso",
                Some(fixtures::with_cost()),
                vec![],
                exit::CHANGES,
            ),
            result("fabrikam", Some(fixtures::empty()), vec![], exit::OK),
        ]
    }

    #[test]
    fn human_summary() {
        let text = human(&three(), Wording::Plan, false);
        assert!(text.contains("=== tenant contoso (tenants/contoso) ==="));
        let tail = &text[text.find("3 tenants:").expect("totals")..];
        insta::assert_snapshot!(tail);
    }

    #[test]
    fn markdown_summary_leads_with_the_table_and_keeps_every_section() {
        let text = markdown(&three(), Wording::Plan, 60_000);
        for name in ["broken", "contoso", "fabrikam"] {
            assert!(
                text.contains(&format!("<details><summary><code>{name}</code>")),
                "{name}"
            );
        }
        assert_eq!(
            text.matches(markdown::MARKER).count(),
            1,
            "one marker for one comment"
        );
        assert_eq!(text.matches("### ").count(), 1, "one title");
        let head = &text[..text.find("<details>").expect("sections")];
        insta::assert_snapshot!(head);
        let short = markdown(&three(), Wording::Plan, 3_000);
        assert!(
            short.contains("<details><summary><code>fabrikam</code>"),
            "{short}"
        );
    }

    #[test]
    fn json_summary() {
        let text = json(&three());
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The plan documents are the plan format's own (snapshotted there).
        for t in doc["tenants"].as_array_mut().unwrap() {
            if !t["plan"].is_null() {
                t["plan"] = serde_json::Value::String("<plan document>".into());
            }
        }
        insta::assert_json_snapshot!(doc);
    }

    #[test]
    fn costs_add_up_per_currency_only() {
        let mut results = three();
        results.push(result(
            "contoso2",
            Some(fixtures::with_cost()),
            vec![],
            exit::CHANGES,
        ));
        assert_eq!(
            cost_headlines(&results),
            ["EUR 7,335.00 -> EUR 11,443.00 per month (+4,108.00)"]
        );
        let mut usd = fixtures::with_cost();
        usd.cost.as_mut().unwrap().currency = "USD".into();
        results.push(result("us", Some(usd), vec![], exit::CHANGES));
        assert_eq!(cost_headlines(&results).len(), 2);
    }

    #[test]
    fn drift_wording() {
        let text = totals_line(&three(), Wording::Drift);
        assert_eq!(text, "3 tenants: 1 drifted, 1 in sync, 1 failed.");
    }

    proptest! {
        /// For every mix of tenant outcomes: any error gives 1, else any change 2, else 0.
        #[test]
        fn exit_code_aggregates(codes in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(2u8)], 0..60)) {
            let results: Vec<TenantResult> = codes.iter().enumerate()
                .map(|(i, &c)| result(&format!("t{i}"), None, vec![], c)).collect();
            let expected = if codes.contains(&1) { 1 } else if codes.contains(&2) { 2 } else { 0 };
            prop_assert_eq!(aggregate_exit(&results), expected);
        }
    }
}
