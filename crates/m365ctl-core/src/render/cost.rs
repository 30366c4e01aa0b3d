//! The monthly cost block of a plan, in the human and markdown formats (the JSON format
//! carries `PlanCost` itself). Reviewers of a licence change ask first what it costs, so the
//! pull-request comment leads with it.

use crate::cost::{Money, PlanCost};
use crate::render::escape;
use std::fmt::Write;

/// Column headers of the cost table, shared by both formats.
const HEADER: [&str; 7] = [
    "Licence",
    "price/seat",
    "seats now",
    "seats after",
    "monthly now",
    "monthly after",
    "change",
];

/// One row per SKU plus the total row, as text cells (`-` where a SKU has no price).
fn rows(cost: &PlanCost) -> Vec<[String; 7]> {
    let amount = |m: Option<Money>| m.map_or_else(|| "-".to_string(), |m| m.grouped());
    let mut rows: Vec<[String; 7]> = cost
        .skus
        .iter()
        .map(|s| {
            [
                s.sku.clone(),
                s.monthly_price
                    .map_or_else(|| "(no price)".to_string(), |m| m.grouped()),
                s.seats_now.to_string(),
                s.seats_after.to_string(),
                amount(s.monthly_now),
                amount(s.monthly_after),
                match (s.monthly_now, s.monthly_after) {
                    (Some(now), Some(after)) => after.minus(now).signed(),
                    _ => "-".to_string(),
                },
            ]
        })
        .collect();
    rows.push([
        "Total".to_string(),
        String::new(),
        String::new(),
        String::new(),
        cost.total_now.grouped(),
        cost.total_after.grouped(),
        cost.change.signed(),
    ]);
    rows
}

/// The sentence summing the cost up: `EUR 330.00 -> EUR 351.00 per month (+21.00)`.
pub fn headline(cost: &PlanCost) -> String {
    format!(
        "{c} {} -> {c} {} per month ({})",
        cost.total_now.grouped(),
        cost.total_after.grouped(),
        cost.change.signed(),
        c = cost.currency
    )
}

/// Notes under the table: what the totals leave out and what a saving needs.
fn notes(cost: &PlanCost, escape: fn(&str) -> String) -> Vec<String> {
    let mut notes = Vec::new();
    if !cost.unpriced.is_empty() {
        let names: Vec<String> = cost.unpriced.iter().map(|n| escape(n)).collect();
        notes.push(format!(
            "Not in the total (no monthly_price in [skus]): {}.",
            names.join(", ")
        ));
    }
    if cost.change.minor_units < 0 {
        notes.push(
            "Microsoft bills purchased seats: freed seats save money once the subscription is reduced."
                .to_string(),
        );
    }
    notes
}

/// The cost table for a terminal, aligned from the data.
pub fn human(cost: &PlanCost) -> String {
    // SKU names come from the tenant or a snapshot: untrusted, so made inert for a terminal.
    let mut rows = rows(cost);
    for row in &mut rows {
        row[0] = escape::terminal(&row[0]).into_owned();
    }
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut s = format!("  {:<w$}", cells[0], w = widths[0]);
        for (cell, w) in cells.iter().zip(widths).skip(1) {
            let _ = write!(s, "  {cell:>w$}");
        }
        s.trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Monthly licence cost (assigned seats x price): {}",
        headline(cost)
    );
    let _ = writeln!(out, "{}", line(HEADER));
    for row in &rows {
        let cells: [&str; 7] = std::array::from_fn(|i| row[i].as_str());
        let _ = writeln!(out, "{}", line(cells));
    }
    for note in notes(cost, |n| escape::terminal(n).into_owned()) {
        let _ = writeln!(out, "  {note}");
    }
    out.push('\n');
    out
}

/// The cost headline and table for a pull-request comment or step summary.
pub fn markdown(cost: &PlanCost) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "**Monthly licence cost: {}**\n", headline(cost));
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let rows = rows(cost);
    let last = rows.len() - 1;
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(col, cell)| match (i == last, col, cell.is_empty()) {
                (_, _, true) => String::new(),
                (true, _, false) => format!("**{cell}**"),
                (false, 0, false) => escape::markdown_code(cell),
                _ => cell.clone(),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    for note in notes(cost, escape::markdown_text) {
        let _ = writeln!(out, "_{note}_\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    #[test]
    fn human_cost_lines() {
        insta::assert_snapshot!(human(fixtures::with_cost().cost.as_ref().expect("priced")));
    }

    /// A SKU name from a hostile tenant or snapshot is inert in both formats: no escape byte
    /// for a terminal, no code span closed, no HTML or heading in the pull-request comment.
    #[test]
    fn hostile_sku_names_are_inert() {
        let hostile = "X`</code><img src=x>\u{1b}[31m\n# head";
        let mut cost = fixtures::with_cost().cost.expect("priced");
        cost.skus[0].sku = hostile.to_string();
        cost.unpriced = vec![hostile.to_string()];
        let text = human(&cost);
        assert!(!text.contains('\u{1b}'), "{text}");
        let md = markdown(&cost);
        let escaped = |tag: &str| {
            md.match_indices(tag)
                .all(|(i, _)| md.as_bytes()[i - 1] == b'\\')
        };
        assert!(escaped("<img") && escaped("</code\\>"), "{md}");
        assert_eq!(
            md.matches("<code>").count(),
            md.matches("</code>").count(),
            "{md}"
        );
        assert!(!md.lines().any(|l| l.starts_with('#')), "{md}");
    }

    #[test]
    fn markdown_cost_lines() {
        insta::assert_snapshot!(markdown(
            fixtures::with_cost().cost.as_ref().expect("priced")
        ));
    }
}

#[cfg(test)]
mod in_every_format {
    use crate::render::{Wording, fixtures, human, json, markdown};

    #[test]
    fn human_plan_shows_the_cost_after_the_licence_table() {
        let text = human::render(
            &fixtures::with_cost(),
            human::HumanOptions {
                color: false,
                wording: Wording::Plan,
            },
        );
        let seats = text.find("  Licence  ").expect("licence table");
        let cost = text.find("Monthly licence cost").expect("cost block");
        assert!(seats < cost, "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn pull_request_comment_leads_with_the_cost() {
        let text = markdown::render(&fixtures::with_cost(), markdown::MarkdownOptions::default());
        let body = text
            .lines()
            .find(|l| !(l.starts_with("<!--") || l.starts_with("###") || l.is_empty()))
            .expect("a body");
        assert!(
            body.starts_with(
                "**Monthly licence cost: EUR 3,667.50 -> EUR 5,721.50 per month (+2,054.00)"
            ),
            "{text}"
        );
        assert!(
            text.find("Monthly licence cost").unwrap() < text.find("Plan: ").unwrap(),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn json_plan_carries_the_cost_as_exact_decimal_strings() {
        let text = json::render(&fixtures::with_cost());
        let doc = crate::planfile::PlanFile::parse(&text).expect("a valid plan file");
        assert_eq!(doc.cost, fixtures::with_cost().cost);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        insta::assert_json_snapshot!(value["cost"]);
    }

    #[test]
    fn the_saved_plans_pull_request_comment_leads_with_the_cost() {
        use crate::render::comment::{CommentContext, plan_comment};
        let context = CommentContext {
            commit: Some("0123abc"),
            config: "state",
            tenant: Some("graph contoso.onmicrosoft.com"),
        };
        let text = plan_comment(&fixtures::with_cost(), &context, "sha256:abc");
        let body: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("<!--") && !l.starts_with("###"))
            .take(2)
            .collect();
        assert!(body[0].starts_with("Commit `0123abc`"), "{text}");
        assert!(
            body[1].starts_with("**Monthly licence cost: EUR 3,667.50 -> EUR 5,721.50"),
            "{text}"
        );
    }

    #[test]
    fn unpriced_plans_show_no_cost_anywhere() {
        let plan = fixtures::every_kind();
        assert!(plan.cost.is_none());
        let md = markdown::render(&plan, markdown::MarkdownOptions::default());
        let json = json::render(&plan);
        assert!(!md.contains("Monthly licence cost"));
        assert!(!json.contains("\"cost\""));
    }
}
