//! `report stacking` output: which users hold redundant Exchange-bearing licences and how
//! many seats that ties up, for people (a table) and for scripts (JSON).

use super::escape::terminal;
use crate::plan::stacking::{StackedLicense, StackingReport};
use std::fmt::Write as _;

/// A table per user and a seat total per SKU.
pub fn human(report: &StackingReport) -> String {
    if report.users.is_empty() {
        return "No licence stacking: nobody holds more than one Exchange-bearing licence.\n"
            .to_string();
    }
    let mut out = format!(
        "{} user(s) hold more than one Exchange-bearing licence; the highest Exchange plan wins, the others add nothing to the mailbox.\n\n",
        report.users.len()
    );
    let rows: Vec<[String; 3]> = report
        .users
        .iter()
        .map(|u| {
            let redundant: Vec<String> = u.redundant.iter().map(describe).collect();
            [
                terminal(&u.upn).into_owned(),
                describe(&u.kept),
                redundant.join(", "),
            ]
        })
        .collect();
    let headers = ["User", "Effective (kept)", "Redundant for Exchange"];
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 3]| {
        format!(
            "  {:w0$}  {:w1$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            w0 = widths[0],
            w1 = widths[1]
        )
    };
    out.push_str(&line(headers));
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2]]));
    }
    out.push_str(
        "\nSeats that could be freed for Exchange's sake (check the SKU's other services first):\n",
    );
    for f in &report.freeable {
        writeln!(out, "  {}: {}", terminal(&f.sku_part_number), f.seats).expect("string write");
    }
    out
}

/// The report as pretty JSON (`users`, `freeable`), with a final newline.
pub fn json(report: &StackingReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report serializes");
    text.push('\n');
    super::escape::json_document(&text)
}

/// `ENTERPRISEPACK (Exchange Plan 2, via group Sales)`.
fn describe(l: &StackedLicense) -> String {
    let part = terminal(&l.sku_part_number);
    match &l.via_group {
        Some(group) => format!("{part} ({}, via group {})", l.rank, terminal(group)),
        None => format!("{part} ({})", l.rank),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ExchangeRank;
    use crate::plan::stacking::{FreeableSeats, StackedUser};

    fn licence(part: &str, rank: ExchangeRank, via: Option<&str>) -> StackedLicense {
        StackedLicense {
            sku_part_number: part.into(),
            rank,
            via_group: via.map(str::to_string),
        }
    }

    #[test]
    fn an_empty_report_says_so() {
        assert!(human(&StackingReport::default()).starts_with("No licence stacking"));
    }

    #[test]
    fn each_user_shows_the_kept_and_redundant_licences_and_the_seats_total() {
        let report = StackingReport {
            users: vec![StackedUser {
                upn: "ann@contoso.com".into(),
                effective: ExchangeRank::Plan2,
                kept: licence("ENTERPRISEPREMIUM", ExchangeRank::Plan2, None),
                redundant: vec![licence(
                    "EXCHANGESTANDARD",
                    ExchangeRank::Plan1,
                    Some("Mail"),
                )],
            }],
            freeable: vec![FreeableSeats {
                sku_part_number: "EXCHANGESTANDARD".into(),
                seats: 1,
            }],
        };
        let text = human(&report);
        assert!(text.contains("ann@contoso.com"), "{text}");
        assert!(
            text.contains("ENTERPRISEPREMIUM (Exchange Plan 2)"),
            "{text}"
        );
        assert!(
            text.contains("EXCHANGESTANDARD (Exchange Plan 1, via group Mail)"),
            "{text}"
        );
        assert!(text.contains("  EXCHANGESTANDARD: 1\n"), "{text}");
        let value: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(value["freeable"][0]["seats"], 1);
        assert_eq!(value["users"][0]["redundant"][0]["via_group"], "Mail");
    }
}
