//! Version 2 of the plan document on disk: the same `PlanFile`, written compactly.
//!
//! At 1,000,000 users the pretty version 1 document was 133 MB, most of it indentation,
//! operation envelopes that repeat what the kind's fields say (`target`, `action`, the
//! `details` wrapper, ids derivable from kind and target, dependencies spelled as ids) and
//! 64-digit per-user digests. Here each operation is one compact line of its kind's own
//! fields; reading rebuilds the canonical `PlanOperation`s, so checksums are unchanged.

use super::{
    DiagnosticDoc, ExchangeChangeDoc, LiveDigest, PlanContext, PlanFile, PlanFileError,
    PlanOperation, SeatSummaryDoc, operation_doc,
};
use crate::plan::{Fingerprint, OpKind, Operation, Summary};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;

/// Just the version, read first to pick the document's shape.
#[derive(Deserialize)]
pub(super) struct Version {
    pub format_version: u32,
}

/// An operation as written: its kind's fields, `id` only when it is not the derived one,
/// dependencies as positions in `operations`.
#[derive(Serialize)]
struct OperationOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    kind: &'a str,
    #[serde(flatten)]
    details: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<Dependency<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reasons: &'a [String],
}

/// A dependency: the position of the operation waited for, or its id when it is not in the
/// document (never for a plan m365ctl made; kept so any plan can be written).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Dependency<'a> {
    At(usize),
    Id(std::borrow::Cow<'a, str>),
}

/// An operation as read back.
#[derive(Deserialize)]
struct OperationIn {
    #[serde(default)]
    id: Option<String>,
    #[serde(flatten)]
    kind: OpKind,
    #[serde(default)]
    depends_on: Vec<Dependency<'static>>,
    #[serde(default)]
    reasons: Vec<String>,
}

/// The version 2 document as read.
#[derive(Deserialize)]
pub(super) struct DocumentIn {
    fingerprint: String,
    inputs: Fingerprint,
    operations: Vec<OperationIn>,
    summary: Summary,
    #[serde(default)]
    seats: Vec<SeatSummaryDoc>,
    #[serde(default)]
    exchange_changes: Vec<ExchangeChangeDoc>,
    #[serde(default)]
    diagnostics: Vec<DiagnosticDoc>,
    #[serde(default)]
    license_errors: Vec<crate::plan::LicenseError>,
    #[serde(default)]
    live_digest: Option<LiveDigest>,
    #[serde(default)]
    context: Option<PlanContext>,
    #[serde(default)]
    cost: Option<crate::cost::PlanCost>,
}

/// Ids as the planner makes them: `<kind>:<target>`, then `#2`, `#3`… for later operations
/// of the same kind and target, counted in document order.
/// Counted by kind and target (a kind has no `:`, so the pair names the `<kind>:<target>`
/// prefix), borrowed: no id is built to write a plan whose ids are all derived.
#[derive(Default)]
struct DerivedIds<'a>(HashMap<(&'a str, &'a str), usize>);

impl<'a> DerivedIds<'a> {
    /// How many operations of this kind and target there are so far, this one included.
    fn count(&mut self, kind: &'a str, target: &'a str) -> usize {
        let n = self.0.entry((kind, target)).or_default();
        *n += 1;
        *n
    }

    /// The next operation's derived id.
    fn next(&mut self, kind: &'a str, target: &'a str) -> String {
        match self.count(kind, target) {
            1 => format!("{kind}:{target}"),
            n => format!("{kind}:{target}#{n}"),
        }
    }

    /// Whether `id` is the next operation's derived id (`next(kind, target) == id`).
    fn is_next(&mut self, kind: &'a str, target: &'a str, id: &str) -> bool {
        let n = self.count(kind, target);
        let Some(rest) = id
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| rest.strip_prefix(target))
        else {
            return false;
        };
        match n {
            1 => rest.is_empty(),
            n => rest.strip_prefix('#') == Some(n.to_string().as_str()),
        }
    }
}

/// The operations of `doc` as written: ids only where not derived, dependencies as positions.
fn operations_out(doc: &PlanFile) -> impl Iterator<Item = OperationOut<'_>> {
    let position: HashMap<&str, usize> = doc
        .operations
        .iter()
        .enumerate()
        .map(|(i, op)| (op.id.as_str(), i))
        .collect();
    let mut ids = DerivedIds::default();
    doc.operations.iter().map(move |op| {
        let derived = ids.is_next(&op.kind, &op.target, &op.id);
        OperationOut {
            id: (!derived).then_some(op.id.as_str()),
            kind: &op.kind,
            details: &op.details,
            depends_on: op
                .depends_on
                .iter()
                .map(|d| match position.get(d.as_str()) {
                    Some(&at) => Dependency::At(at),
                    None => Dependency::Id(d.as_str().into()),
                })
                .collect(),
            reasons: &op.reasons,
        }
    })
}

/// `operations_out` as a JSON array, serialised lazily.
struct OperationsOut<'a>(&'a PlanFile);

impl Serialize for OperationsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(operations_out(self.0))
    }
}

/// The version 2 document as one value, for documents that embed plans (the many-tenants
/// run): the same members `write` lays out line by line.
#[derive(Serialize)]
struct DocumentOut<'a> {
    format_version: u32,
    fingerprint: &'a str,
    inputs: &'a Fingerprint,
    operations: OperationsOut<'a>,
    summary: &'a Summary,
    seats: &'a [SeatSummaryDoc],
    exchange_changes: &'a [ExchangeChangeDoc],
    diagnostics: &'a [DiagnosticDoc],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    license_errors: &'a [crate::plan::LicenseError],
    #[serde(skip_serializing_if = "Option::is_none")]
    live_digest: Option<&'a LiveDigest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'a PlanContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<&'a crate::cost::PlanCost>,
}

impl Serialize for PlanFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DocumentOut {
            format_version: super::FORMAT_VERSION,
            fingerprint: &self.fingerprint,
            inputs: &self.inputs,
            operations: OperationsOut(self),
            summary: &self.summary,
            seats: &self.seats,
            exchange_changes: &self.exchange_changes,
            diagnostics: &self.diagnostics,
            license_errors: &self.license_errors,
            live_digest: self.live_digest.as_ref(),
            context: self.context.as_ref(),
            cost: self.cost.as_ref(),
        }
        .serialize(s)
    }
}

/// Writes `doc` as version 2 with a trailing newline: top-level members one per line, arrays
/// and the live digest's maps one element per line, each element compact.
pub(super) fn write(doc: &PlanFile, out: &mut dyn Write) -> std::io::Result<()> {
    let mut w = Members {
        out,
        first: true,
        line: Vec::with_capacity(256),
    };
    w.out.write_all(b"{")?;
    w.member("format_version", &super::FORMAT_VERSION)?;
    w.member("fingerprint", &doc.fingerprint)?;
    w.member("inputs", &doc.inputs)?;
    w.lines("operations", operations_out(doc))?;
    w.member("summary", &doc.summary)?;
    w.lines("seats", doc.seats.iter())?;
    w.lines("exchange_changes", doc.exchange_changes.iter())?;
    w.lines("diagnostics", doc.diagnostics.iter())?;
    if !doc.license_errors.is_empty() {
        w.lines("license_errors", doc.license_errors.iter())?;
    }
    if let Some(digest) = &doc.live_digest {
        w.key("live_digest")?;
        let mut inner = Members {
            out: &mut *w.out,
            first: true,
            line: std::mem::take(&mut w.line),
        };
        inner.out.write_all(b"{")?;
        inner.map_lines("users", &digest.users)?;
        inner.map_lines("groups", &digest.groups)?;
        inner.map_lines("sku_consumed", &digest.sku_consumed)?;
        inner.out.write_all(b"\n  }")?;
    }
    if let Some(context) = &doc.context {
        w.member("context", context)?;
    }
    if let Some(cost) = &doc.cost {
        w.member("cost", cost)?;
    }
    w.out.write_all(b"\n}\n")
}

/// Writes the members of a top-level object: each on its own line, indented two spaces,
/// its value compact (arrays and maps written by `lines` get a line per element). Each line
/// is serialised into `line` and written whole: serde_json's many small writes each through
/// `dyn Write` cost more than the serialising (2,000,000 lines at 1,000,000 users).
struct Members<'a> {
    out: &'a mut dyn Write,
    first: bool,
    line: Vec<u8>,
}

impl Members<'_> {
    fn key(&mut self, name: &str) -> std::io::Result<()> {
        let separator: &[u8] = if self.first { b"\n  " } else { b",\n  " };
        self.first = false;
        self.out.write_all(separator)?;
        serde_json::to_writer(&mut *self.out, name)?;
        self.out.write_all(b": ")
    }

    fn member(&mut self, name: &str, value: &impl Serialize) -> std::io::Result<()> {
        self.key(name)?;
        serde_json::to_writer(&mut *self.out, value).map_err(Into::into)
    }

    /// An array with one element per line.
    fn lines<T: Serialize>(
        &mut self,
        name: &str,
        items: impl Iterator<Item = T>,
    ) -> std::io::Result<()> {
        self.key(name)?;
        self.out.write_all(b"[")?;
        let mut empty = true;
        for item in items {
            self.line.clear();
            self.line
                .extend_from_slice(if empty { b"\n    " } else { b",\n    " });
            empty = false;
            serde_json::to_writer(&mut self.line, &item)?;
            self.out.write_all(&self.line)?;
        }
        self.out.write_all(if empty { b"]" } else { b"\n  ]" })
    }

    /// A map one entry per line, one level deeper (inside `live_digest`).
    fn map_lines<V: Serialize>(
        &mut self,
        name: &str,
        map: &std::collections::BTreeMap<String, V>,
    ) -> std::io::Result<()> {
        let separator: &[u8] = if self.first { b"\n    " } else { b",\n    " };
        self.first = false;
        self.out.write_all(separator)?;
        serde_json::to_writer(&mut *self.out, name)?;
        self.out.write_all(b": {")?;
        for (i, (key, value)) in map.iter().enumerate() {
            self.line.clear();
            self.line
                .extend_from_slice(if i == 0 { b"\n      " } else { b",\n      " });
            serde_json::to_writer(&mut self.line, key)?;
            self.line.extend_from_slice(b": ");
            serde_json::to_writer(&mut self.line, value)?;
            self.out.write_all(&self.line)?;
        }
        self.out
            .write_all(if map.is_empty() { b"}" } else { b"\n    }" })
    }
}

/// Rebuilds the `PlanFile` from a version 2 document: ids derived or as written,
/// dependencies back to ids, each operation's canonical form recomputed from its kind.
pub(super) fn read(doc: DocumentIn) -> Result<PlanFile, PlanFileError> {
    let ids: Vec<String> = {
        let mut derived = DerivedIds::default();
        doc.operations
            .iter()
            .map(|op| {
                let next = derived.next(op.kind.name(), op.kind.target());
                op.id.clone().unwrap_or(next)
            })
            .collect()
    };
    let mut operations: Vec<PlanOperation> = Vec::with_capacity(doc.operations.len());
    for (at, op) in doc.operations.into_iter().enumerate() {
        let depends_on = op
            .depends_on
            .into_iter()
            .map(|d| match d {
                Dependency::At(p) => ids.get(p).cloned().ok_or_else(|| {
                    PlanFileError::Invalid(format!(
                        "{}: depends_on position {p} is not an operation of the file",
                        ids[at]
                    ))
                }),
                Dependency::Id(id) => Ok(id.into_owned()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        operations.push(operation_doc(&Operation {
            id: ids[at].clone(),
            kind: op.kind,
            depends_on,
            reasons: op.reasons,
        }));
    }
    Ok(PlanFile {
        format_version: 2,
        fingerprint: doc.fingerprint,
        inputs: doc.inputs,
        operations,
        summary: doc.summary,
        seats: doc.seats,
        exchange_changes: doc.exchange_changes,
        diagnostics: doc.diagnostics,
        license_errors: doc.license_errors,
        live_digest: doc.live_digest,
        context: doc.context,
        cost: doc.cost,
    })
}

#[cfg(test)]
mod tests {
    use super::DerivedIds;
    use proptest::prelude::*;

    proptest! {
        /// Writing tells a derived id without building it: for every sequence of kinds,
        /// targets (with `:` and `#` in them) and ids (derived, near-derived or other),
        /// `is_next` answers exactly what comparing with `next` answers.
        #[test]
        fn is_next_agrees_with_next(
            ops in proptest::collection::vec(
                (
                    prop::sample::select(vec!["a", "ab", "a_b"]),
                    prop::sample::select(vec!["", "x", "x:y", "y", "x#2", "b:x"]),
                    prop::sample::select(vec!["", "#1", "#2", "#3", "#02", ":x", "x"]),
                    any::<bool>(),
                ),
                0..40,
            )
        ) {
            let owned: Vec<(String, String, String)> = ops
                .iter()
                .map(|(kind, target, suffix, derived)| {
                    let id = if *derived {
                        format!("{kind}:{target}{suffix}")
                    } else {
                        format!("{kind}{suffix}")
                    };
                    (kind.to_string(), target.to_string(), id)
                })
                .collect();
            let mut by_next = DerivedIds::default();
            let mut by_is_next = DerivedIds::default();
            for (kind, target, id) in &owned {
                let expected = by_next.next(kind, target) == *id;
                prop_assert_eq!(by_is_next.is_next(kind, target, id), expected, "{} {} {}", kind, target, id);
            }
        }
    }
}
