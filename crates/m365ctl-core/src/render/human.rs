//! The terminal plan: Terraform-like, grouped per user and group, reviewable in 30 seconds.
//!
//! Order: warnings and errors first (they decide whether to read on), then the changes per
//! principal with `+ ~ -`, then the licence table, Exchange capability changes, and the
//! summary line. Colour is a parameter, never read from the environment here.

use super::escape::terminal;
use super::{Wording, by_principal, describe, summary_line};
use crate::diag::{Diagnostic, Severity};
use crate::plan::{Action, Plan, SeatSummary};
use anstyle::{AnsiColor, Style};
use std::fmt::Write;

/// Rendering options for the human format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanOptions {
    /// Emit ANSI colour.
    pub color: bool,
    /// Plan or drift wording.
    pub wording: Wording,
}

struct Palette {
    color: bool,
}

impl Palette {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn action(&self, action: Action, text: &str) -> String {
        let color = match action {
            Action::Add => AnsiColor::Green,
            Action::Change => AnsiColor::Yellow,
            Action::Remove => AnsiColor::Red,
        };
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn severity(&self, severity: Severity) -> String {
        match severity {
            Severity::Warning => self.paint(
                Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
                "warning",
            ),
            Severity::Error => self.paint(
                Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
                "error",
            ),
        }
    }
}

/// Renders the plan for a terminal.
pub fn render(plan: &Plan, options: HumanOptions) -> String {
    let p = Palette {
        color: options.color,
    };
    let mut out = String::new();
    render_diagnostics(&mut out, &p, &plan.diagnostics);

    if !plan.is_empty() {
        let lead = match options.wording {
            Wording::Plan => "m365ctl will perform the following actions",
            Wording::Drift => "The tenant differs from the desired state; apply would perform",
        };
        let _ = writeln!(
            out,
            "{lead} (symbols: {} add, {} change, {} remove):\n",
            p.action(Action::Add, "+"),
            p.action(Action::Change, "~"),
            p.action(Action::Remove, "-")
        );
        let operations = super::OperationsById::of(plan);
        for (principal, ops) in by_principal(plan) {
            let _ = writeln!(
                out,
                "  {}",
                p.bold(&format!("# {}", terminal(&principal.label())))
            );
            for op in ops {
                let line = describe(op);
                let symbol = line.action.symbol().to_string();
                let _ = writeln!(
                    out,
                    "  {} {}",
                    p.action(line.action, &symbol),
                    p.action(line.action, &terminal(&line.text))
                );
                for (action, detail) in &line.details {
                    let symbol = action.symbol().to_string();
                    let _ = writeln!(
                        out,
                        "      {} {}",
                        p.action(*action, &symbol),
                        p.action(*action, &terminal(detail))
                    );
                }
                for reason in &op.reasons {
                    let _ = writeln!(out, "      because {}", terminal(reason));
                }
                let waits = super::cross_dependencies(&operations, op);
                if !waits.is_empty() {
                    let _ = writeln!(out, "      after {}", terminal(&waits.join(", ")));
                }
            }
            out.push('\n');
        }
    }

    render_license_errors(&mut out, &p, plan);
    render_seats(&mut out, &p, &plan.seats);
    if let Some(cost) = &plan.cost {
        out.push_str(&super::cost::human(cost));
    }
    render_exchange(&mut out, plan);
    let _ = writeln!(out, "{}", p.bold(&summary_line(plan, options.wording)));
    if plan.has_errors() {
        let _ = writeln!(
            out,
            "{}",
            p.action(
                Action::Remove,
                "The plan has errors (listed first) and cannot be applied."
            )
        );
    }
    out
}

fn render_diagnostics(out: &mut String, p: &Palette, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    // Errors before warnings: they decide whether the plan can be applied at all.
    sorted.sort_by_key(|d| std::cmp::Reverse(d.severity));
    for d in sorted {
        let location = d
            .origin
            .as_ref()
            .map(|o| format!("{}: ", terminal(&o.to_string())))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{location}{}: {}",
            p.severity(d.severity),
            terminal(&d.message)
        );
        if let Some(hint) = &d.hint {
            let _ = writeln!(out, "  = hint: {}", terminal(hint));
        }
    }
    out.push('\n');
}

/// Column widths are computed from the data so the table stays aligned for long part numbers.
fn render_seats(out: &mut String, p: &Palette, seats: &[SeatSummary]) {
    if seats.is_empty() {
        return;
    }
    let header = [
        "Licence",
        "enabled",
        "consumed now",
        "after apply",
        "free after",
    ];
    let rows: Vec<[String; 5]> = seats
        .iter()
        .map(|s| {
            [
                terminal(&s.sku_part_number).into_owned(),
                s.enabled.to_string(),
                s.consumed_now.to_string(),
                s.consumed_after.to_string(),
                (i64::from(s.enabled) - i64::from(s.consumed_after)).to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = format!("  {:<w$}", cells[0], w = widths[0]);
        for (cell, w) in cells.iter().zip(widths).skip(1) {
            let _ = write!(s, "  {cell:>w$}");
        }
        s
    };
    let _ = writeln!(out, "{}", p.bold(&line(header)));
    for (row, seat) in rows.iter().zip(seats) {
        let text = line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
        if seat.consumed_after > seat.enabled || seat.peak > seat.enabled {
            let _ = writeln!(out, "{}", p.action(Action::Remove, &text));
        } else {
            let _ = writeln!(out, "{text}");
        }
    }
    out.push('\n');
}

/// Licences the tenant reports failing, per user, each with its fix.
fn render_license_errors(out: &mut String, p: &Palette, plan: &Plan) {
    if plan.license_errors.is_empty() {
        return;
    }
    let (title, note) = super::LICENSE_ERRORS_HEADING;
    let _ = writeln!(out, "{title}: {note}\n");
    for (upn, errors) in super::license_errors_by_user(plan) {
        let _ = writeln!(out, "  {}", p.bold(&format!("# {}", terminal(upn))));
        for e in errors {
            let line = terminal(&super::describe_license_error(e)).into_owned();
            let _ = writeln!(out, "  {}", p.action(Action::Remove, &format!("! {line}")));
            let _ = writeln!(out, "      fix: {}", terminal(&e.remedy));
        }
        out.push('\n');
    }
}

fn render_exchange(out: &mut String, plan: &Plan) {
    let changes: Vec<_> = plan
        .exchange_changes
        .iter()
        .filter(|c| c.before != c.after)
        .collect();
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "Exchange capability changes:");
    let upns: Vec<String> = changes
        .iter()
        .map(|c| terminal(&c.upn).into_owned())
        .collect();
    let width = upns.iter().map(|u| u.chars().count()).max().unwrap_or(0);
    for (c, upn) in changes.into_iter().zip(&upns) {
        let direction = if c.after > c.before {
            "upgrade"
        } else {
            "downgrade"
        };
        let _ = writeln!(
            out,
            "  {upn:<width$}  {} -> {} ({direction})",
            c.before.label(),
            c.after.label()
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    fn plain(wording: Wording) -> HumanOptions {
        HumanOptions {
            color: false,
            wording,
        }
    }

    #[test]
    fn every_kind_plain() {
        insta::assert_snapshot!(render(&fixtures::every_kind(), plain(Wording::Plan)));
    }

    #[test]
    fn every_kind_drift_wording() {
        let plan = fixtures::every_kind();
        let text = render(&plan, plain(Wording::Drift));
        assert!(
            text.contains("\nThe tenant differs from the desired state"),
            "{text}"
        );
        // Counted here from the fixture's operations, so a kind added to it needs no edit.
        let count = |action| {
            plan.operations
                .iter()
                .filter(|o| o.kind.action() == action)
                .count()
        };
        let (add, change, remove) = (
            count(crate::plan::Action::Add),
            count(crate::plan::Action::Change),
            count(crate::plan::Action::Remove),
        );
        assert_eq!(plan.license_errors.len(), 1);
        let expected = format!(
            "Drift detected: {} differences between the desired state and the tenant ({add} to add, {change} to change, {remove} to remove, 1 inherited licence in an error state).\n",
            add + change + remove + 1
        );
        assert!(text.ends_with(&expected), "{text}\nexpected: {expected}");
    }

    #[test]
    fn empty_plan_says_no_changes() {
        insta::assert_snapshot!(render(&fixtures::empty(), plain(Wording::Plan)));
    }

    #[test]
    fn errors_are_listed_first_and_block_apply() {
        let mut plan = fixtures::every_kind();
        plan.diagnostics.push(
            Diagnostic::error("ENTERPRISEPREMIUM: the plan needs 6 seats, 5 exist", None)
                .with_hint("buy 1 seat or remove E5 from one user"),
        );
        let text = render(&plan, plain(Wording::Plan));
        assert!(text.starts_with("error: ENTERPRISEPREMIUM"), "{text}");
        assert!(text.ends_with("cannot be applied.\n"), "{text}");
    }

    #[test]
    fn colour_only_when_enabled() {
        let plan = fixtures::every_kind();
        assert!(!render(&plan, plain(Wording::Plan)).contains('\x1b'));
        let coloured = render(
            &plan,
            HumanOptions {
                color: true,
                wording: Wording::Plan,
            },
        );
        assert!(coloured.contains("\x1b[32m"), "green for additions");
        assert!(coloured.contains("\x1b[31m"), "red for removals");
    }

    #[test]
    fn over_assigned_seats_stand_out() {
        let mut plan = fixtures::empty();
        plan.seats[0].consumed_after = 30;
        let coloured = render(
            &plan,
            HumanOptions {
                color: true,
                wording: Wording::Plan,
            },
        );
        assert!(coloured.contains("\x1b[31m  ENTERPRISEPACK"), "{coloured}");
        assert!(render(&plan, plain(Wording::Plan)).contains("-5"));
    }
}
