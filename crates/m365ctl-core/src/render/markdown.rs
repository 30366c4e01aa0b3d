//! The pull-request comment (Atlantis style) and `$GITHUB_STEP_SUMMARY` body.
//!
//! Warnings first, then a summary table, the licence table, Exchange changes, and one
//! collapsible `<details>` per principal holding a ```diff block. A hidden marker lets the
//! workflow find and update its one comment instead of adding a new one per push. Long plans
//! are cut between principals (never inside a table or code block) with "… and N more".

use super::escape::{
    markdown_code, markdown_code_span, markdown_html_code, markdown_text, terminal,
};
use super::{Wording, by_principal, describe, summary_line};
use crate::diag::{Diagnostic, Severity};
use crate::plan::Plan;
use std::fmt::Write;

/// The hidden marker the workflows search for to update one comment.
pub const MARKER: &str = "<!-- m365ctl-plan -->";

/// GitHub rejects comments above 65,536 characters; stay well below it.
pub const DEFAULT_MAX_CHARS: usize = 60_000;

/// Rendering options for the markdown format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// Plan or drift wording.
    pub wording: Wording,
    /// Stop adding per-principal sections once the body would exceed this many characters.
    pub max_chars: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            wording: Wording::Plan,
            max_chars: DEFAULT_MAX_CHARS,
        }
    }
}

/// Renders the plan as GitHub-flavoured markdown.
pub fn render(plan: &Plan, options: MarkdownOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let title = match options.wording {
        Wording::Plan => "m365ctl plan",
        Wording::Drift => "m365ctl drift report",
    };
    let _ = writeln!(out, "### {title}\n");
    if let Some(cost) = &plan.cost {
        out.push_str(&super::cost::markdown(cost));
    }
    let _ = writeln!(out, "**{}**\n", summary_line(plan, options.wording));
    if plan.has_errors() {
        let _ = writeln!(out, "**The plan has errors and cannot be applied.**\n");
    }

    write_diagnostics(&mut out, &plan.diagnostics);

    if !plan.is_empty() {
        let s = plan.summary();
        let _ = writeln!(out, "| Add | Change | Remove |");
        let _ = writeln!(out, "|----:|-------:|-------:|");
        let _ = writeln!(out, "| {} | {} | {} |\n", s.add, s.change, s.remove);
    }

    if !plan.seats.is_empty() {
        let _ = writeln!(
            out,
            "| Licence | Enabled | Consumed now | After apply | Free after |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for seat in &plan.seats {
            let free = i64::from(seat.enabled) - i64::from(seat.consumed_after);
            let flag = if free < 0 || seat.peak > seat.enabled {
                " :x:"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {free}{flag} |",
                markdown_code(&seat.sku_part_number),
                seat.enabled,
                seat.consumed_now,
                seat.consumed_after
            );
        }
        out.push('\n');
    }

    let exchange: Vec<_> = plan
        .exchange_changes
        .iter()
        .filter(|c| c.before != c.after)
        .collect();
    if !exchange.is_empty() {
        let _ = writeln!(out, "| User | Exchange before | Exchange after |");
        let _ = writeln!(out, "|---|---|---|");
        for c in exchange {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                markdown_code(&c.upn),
                c.before.label(),
                c.after.label()
            );
        }
        out.push('\n');
    }

    if !plan.license_errors.is_empty() {
        let (title, note) = super::LICENSE_ERRORS_HEADING;
        // `note` is m365ctl's own text; UPNs, groups, states and remedies are escaped.
        let _ = writeln!(out, "**{title}**: {note}\n");
        for (upn, errors) in super::license_errors_by_user(plan) {
            for e in errors {
                let _ = writeln!(
                    out,
                    "- {}: {}  \n  Fix: {}",
                    markdown_code_span(upn),
                    markdown_text(&super::describe_license_error(e)),
                    markdown_text(&e.remedy)
                );
            }
        }
        out.push('\n');
    }

    let operations = super::OperationsById::of(plan);
    let sections: Vec<String> = by_principal(plan)
        .into_iter()
        .map(|(principal, ops)| {
            let mut body = String::new();
            for op in &ops {
                let line = describe(op);
                let _ = writeln!(body, "{} {}", line.action.symbol(), terminal(&line.text));
                for (action, detail) in &line.details {
                    let _ = writeln!(body, "{}     {}", action.symbol(), terminal(detail));
                }
                for reason in &op.reasons {
                    let _ = writeln!(body, "#     because {}", terminal(reason));
                }
                let waits = super::cross_dependencies(&operations, op);
                if !waits.is_empty() {
                    let _ = writeln!(body, "#     after {}", terminal(&waits.join(", ")));
                }
            }
            let counts = count_actions(&ops);
            format!(
                "<details><summary>{} {counts}</summary>\n\n```diff\n{body}```\n\n</details>\n",
                markdown_html_code(&principal.label())
            )
        })
        .collect();
    let total = sections.len();
    for (index, section) in sections.into_iter().enumerate() {
        if out.len() + section.len() > options.max_chars {
            let _ = writeln!(
                out,
                "\n… and {} more users or groups (run `m365ctl plan` locally for the full plan).",
                total - index
            );
            break;
        }
        out.push_str(&section);
    }
    out
}

/// Each diagnostic as a GitHub alert block (errors CAUTION, warnings WARNING); shared with
/// the error comment so a config error reads the same as a plan error.
pub(crate) fn write_diagnostics(out: &mut String, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => "CAUTION",
            Severity::Warning => "WARNING",
        };
        let _ = writeln!(out, "> [!{kind}]");
        let location = d
            .origin
            .as_ref()
            .map(|o| format!("{}: ", markdown_code_span(&o.to_string())))
            .unwrap_or_default();
        let _ = writeln!(out, "> {location}{}", markdown_text(&d.message));
        if let Some(hint) = &d.hint {
            let _ = writeln!(out, "> Hint: {}", markdown_text(hint));
        }
        out.push('\n');
    }
}

/// `(+2 ~1 -1)` for a section's header: the section's operations by action.
fn count_actions(ops: &[&crate::plan::Operation]) -> String {
    use crate::plan::Action;
    let parts: Vec<String> = [Action::Add, Action::Change, Action::Remove]
        .into_iter()
        .filter_map(|action| {
            let n = ops.iter().filter(|op| op.kind.action() == action).count();
            (n > 0).then(|| format!("{}{n}", action.symbol()))
        })
        .collect();
    format!("({})", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    #[test]
    fn every_kind() {
        insta::assert_snapshot!(render(&fixtures::every_kind(), MarkdownOptions::default()));
    }

    #[test]
    fn empty_plan() {
        let text = render(&fixtures::empty(), MarkdownOptions::default());
        assert!(text.starts_with(MARKER));
        assert!(text.contains("No changes. The tenant matches the desired state."));
        assert!(!text.contains("<details>"));
    }

    #[test]
    fn truncates_between_sections_never_inside_tables() {
        let plan = fixtures::every_kind();
        let full = render(&plan, MarkdownOptions::default());
        let first_details = full.find("<details>").expect("has sections");
        let cut = render(
            &plan,
            MarkdownOptions {
                wording: Wording::Plan,
                max_chars: first_details + 10,
            },
        );
        assert!(!cut.contains("<details>"), "{cut}");
        assert!(cut.contains("… and 6 more users or groups"), "{cut}");
        // The tables before the sections are complete.
        assert!(cut.contains("| <code>ENTERPRISEPREMIUM</code> | 5 | 3 | 5 | 0 |"));
        assert_eq!(cut.matches("```").count() % 2, 0);
    }

    #[test]
    fn escapes_html_in_messages() {
        let mut plan = fixtures::empty();
        plan.diagnostics
            .push(crate::diag::Diagnostic::warning("<script> | x", None));
        let text = render(&plan, MarkdownOptions::default());
        assert!(text.contains("\\<script\\> \\| x"), "{text}");
    }
}
