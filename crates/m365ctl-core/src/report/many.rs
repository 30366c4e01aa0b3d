//! `report licences` over several tenants: a section per tenant, the waste added up per
//! currency (amounts in different currencies are never added), a `tenant` column in CSV and
//! one JSON document. A tenant that could not be read is reported beside the others.

use super::csv::record;
use super::licences::LicenceReport;
use super::render;
use crate::cost::Money;
use crate::diag::Diagnostic;
use crate::planfile::DiagnosticDoc;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One tenant's report, or why there is none.
#[derive(Debug, Clone)]
pub struct TenantReport {
    /// The tenant's name (its directory).
    pub name: String,
    /// Its config path.
    pub config: String,
    /// The report, when the tenant was read.
    pub report: Option<LicenceReport>,
    /// Why it was not (config or backend errors).
    pub errors: Vec<Diagnostic>,
}

/// Wasted seats of all tenants, and their monthly price per currency.
fn waste_totals(tenants: &[TenantReport]) -> (u64, BTreeMap<&str, Money>) {
    let mut seats = 0;
    let mut money: BTreeMap<&str, Money> = BTreeMap::new();
    for r in tenants.iter().filter_map(|t| t.report.as_ref()) {
        seats += r.total.seats;
        if let (Some(currency), Some(m)) = (r.currency.as_deref(), r.total.monthly) {
            money
                .entry(currency)
                .and_modify(|sum| *sum = sum.plus(m))
                .or_insert(m);
        }
    }
    (seats, money)
}

/// For people: each tenant's report under a header, then the estate's waste.
pub fn human(tenants: &[TenantReport]) -> String {
    let mut out = String::new();
    for t in tenants {
        let _ = writeln!(out, "=== tenant {} ({}) ===\n", t.name, t.config);
        for e in &t.errors {
            let location = e
                .origin
                .as_ref()
                .map(|o| format!("{o}: "))
                .unwrap_or_default();
            let _ = writeln!(out, "{location}error: {}", e.message);
        }
        if let Some(r) = &t.report {
            out.push_str(&render::human(r));
        }
        out.push('\n');
    }
    let (seats, money) = waste_totals(tenants);
    let failed = tenants.iter().filter(|t| t.report.is_none()).count();
    let priced: Vec<String> = money
        .iter()
        .map(|(c, m)| format!("{c} {} per month", m.grouped()))
        .collect();
    let _ = writeln!(
        out,
        "Waste across {} tenants: {seats} seat(s){}{}",
        tenants.len(),
        if priced.is_empty() {
            String::new()
        } else {
            format!(", {}", priced.join(" + "))
        },
        if failed > 0 {
            format!(" ({failed} tenant(s) could not be read)")
        } else {
            String::new()
        }
    );
    out
}

/// One table: a `tenant` column before `csv`'s; a tenant that could not be read is an
/// `error` record carrying the message.
pub fn csv(tenants: &[TenantReport]) -> String {
    let mut out = render::header_with("tenant");
    for t in tenants {
        match &t.report {
            Some(r) => render::records(r, Some(&t.name), &mut out),
            None => {
                for e in &t.errors {
                    let mut row = vec![t.name.as_str(), "error"];
                    row.extend(["", "", "", "", "", "", "", "", ""]);
                    row.push(&e.message);
                    out.push_str(&record(&row));
                }
            }
        }
    }
    out
}

#[derive(Serialize)]
struct TenantDoc<'a> {
    name: &'a str,
    config: &'a str,
    errors: Vec<DiagnosticDoc>,
    report: Option<&'a LicenceReport>,
}

/// `{"tenants":[{"name","config","errors","report"}]}` with a final newline.
pub fn json(tenants: &[TenantReport]) -> String {
    let docs: Vec<TenantDoc> = tenants
        .iter()
        .map(|t| TenantDoc {
            name: &t.name,
            config: &t.config,
            errors: t.errors.iter().map(DiagnosticDoc::from).collect(),
            report: t.report.as_ref(),
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "tenants": docs }))
        .expect("the reports serialize");
    text.push('\n');
    text
}
