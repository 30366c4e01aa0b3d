//! `report licences` as text: a terminal summary, CSV for spreadsheets (RFC 4180, formula
//! cells defused) and JSON for scripts.

use super::csv::record;
use super::licences::{LicenceReport, WasteKind, WasteTotal};
use crate::cost::Money;
use std::fmt::Write;

fn money(currency: Option<&str>, m: Option<Money>) -> String {
    match (currency, m) {
        (Some(c), Some(m)) => format!("{c} {}", m.grouped()),
        _ => "-".to_string(),
    }
}

fn total_line(report: &LicenceReport, t: &WasteTotal) -> String {
    let currency = report.currency.as_deref();
    let mut line = format!("{} seat(s)", t.seats);
    if let Some(m) = t.monthly {
        let _ = write!(line, ", {} per month", money(currency, Some(m)));
        if t.unpriced_seats > 0 {
            let _ = write!(line, " (+{} seat(s) of unpriced SKUs)", t.unpriced_seats);
        }
    }
    line
}

/// For people: holders per SKU and department, then the waste by kind with its price.
pub fn human(report: &LicenceReport) -> String {
    let currency = report.currency.as_deref();
    let mut out = String::from(
        "Licences per SKU: holders of enabled seats, by department (per user: --format csv or json)\n",
    );
    let width = report.skus.iter().map(|s| s.sku.len()).max().unwrap_or(0);
    for s in &report.skus {
        let departments: Vec<String> = s
            .by_department
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        let price = s
            .monthly_price
            .map(|p| format!("  {}/seat", money(currency, Some(p))))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<width$}  {:>5} of {:<5}{price}  {}",
            s.sku,
            s.holders,
            s.enabled,
            departments.join(", ")
        );
    }
    out.push('\n');
    out.push_str("Licences per department: seats held and their monthly price\n");
    let width = report
        .departments
        .iter()
        .map(|d| d.department.chars().count())
        .max()
        .unwrap_or(0);
    for d in &report.departments {
        let total = WasteTotal {
            kind: None,
            items: 0,
            seats: d.seats,
            monthly: d.monthly,
            unpriced_seats: d.unpriced_seats,
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {}",
            d.department,
            total_line(report, &total)
        );
    }
    out.push('\n');
    if report.waste.is_empty() {
        out.push_str("No waste found.\n");
        return out;
    }
    let _ = writeln!(out, "Waste: {}\n", total_line(report, &report.total));
    for t in &report.totals {
        let Some(kind) = t.kind.filter(|_| t.items > 0) else {
            continue;
        };
        let _ = writeln!(out, "{}: {}", kind.title(), total_line(report, t));
        let items: Vec<_> = report.waste.iter().filter(|w| w.kind == kind).collect();
        let who = |w: &&super::licences::WasteItem| w.upn.clone().unwrap_or_default();
        let w0 = items.iter().map(|w| who(w).len()).max().unwrap_or(0);
        let w1 = items.iter().map(|w| w.sku.len()).max().unwrap_or(0);
        for w in &items {
            let cost = if kind == WasteKind::UnassignedSeats {
                format!("{} seat(s)  {}", w.seats, money(currency, w.monthly))
            } else {
                money(currency, w.monthly)
            };
            let line = if w0 == 0 {
                format!("  {:<w1$}  {cost}  {}", w.sku, w.detail)
            } else {
                format!("  {:<w0$}  {:<w1$}  {cost}  {}", who(w), w.sku, w.detail)
            };
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    out
}

/// Column names of the CSV.
const COLUMNS: [&str; 11] = [
    "record",
    "kind",
    "upn",
    "department",
    "sku",
    "via",
    "account_enabled",
    "seats",
    "monthly_cost",
    "currency",
    "detail",
];

/// One `holding` record per user and SKU (who holds what), then one `waste` record per
/// finding. Amounts are plain decimals (`23.00`) so spreadsheets read them as numbers.
pub fn csv(report: &LicenceReport) -> String {
    let mut out = record(&COLUMNS);
    records(report, None, &mut out);
    out
}

/// The CSV header with a leading column (`tenant` for a report over several tenants).
pub(super) fn header_with(first: &str) -> String {
    let mut cells = vec![first];
    cells.extend(COLUMNS);
    record(&cells)
}

/// The records of `csv`, each after a leading `tenant` cell when given.
pub(super) fn records(report: &LicenceReport, tenant: Option<&str>, out: &mut String) {
    let mut push = |cells: [&str; 11]| {
        let mut row: Vec<&str> = tenant.into_iter().collect();
        row.extend(cells);
        out.push_str(&record(&row));
    };
    let currency = report.currency.clone().unwrap_or_default();
    let plain = |m: Option<Money>| m.map(|m| m.plain()).unwrap_or_default();
    let price = |sku: &str| {
        report
            .skus
            .iter()
            .find(|s| s.sku == sku)
            .and_then(|s| s.monthly_price)
    };
    let departments: std::collections::HashMap<&str, &str> = report
        .holdings
        .iter()
        .filter_map(|h| Some((h.upn.as_str(), h.department.as_deref()?)))
        .collect();
    for h in &report.holdings {
        push([
            "holding",
            h.waste.map_or("", WasteKind::name),
            &h.upn,
            h.department.as_deref().unwrap_or_default(),
            &h.sku,
            &h.via.join(";"),
            if h.account_enabled { "true" } else { "false" },
            "1",
            &plain(price(&h.sku)),
            &currency,
            "",
        ]);
    }
    for w in &report.waste {
        let department = w
            .upn
            .as_deref()
            .and_then(|u| departments.get(u).copied())
            .unwrap_or_default();
        push([
            "waste",
            w.kind.name(),
            w.upn.as_deref().unwrap_or_default(),
            department,
            &w.sku,
            "",
            "",
            &w.seats.to_string(),
            &plain(w.monthly),
            &currency,
            &w.detail,
        ]);
    }
}

/// The report as pretty JSON with a final newline.
pub fn json(report: &LicenceReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report serializes");
    text.push('\n');
    text
}
