//! The JSON plan format (`plan --format json` and `plan --out plan.json`).
//!
//! One document serves machines reading plans in CI and `apply plan.json`, so what was
//! reviewed is exactly what gets applied. The shape is versioned (`format_version`) and
//! stable. Version 2 (written since issue 17) is compact: one operation per line, each its
//! kind's fields plus an `id` only where it is not the derived `<kind>:<target>` (`#n` for the
//! n-th of a kind and target in document order), `depends_on` as positions in `operations`,
//! and 64-bit per-principal live digests; top-level members are indented, everything inside
//! a line is compact. `{"format_version":2,"fingerprint":"sha256:…","inputs":{…},
//! "operations":[{"kind",…fields,"depends_on":[positions],"reasons"}],"summary":{…},…}`.
//! Version 1 documents (`{"id","kind","target","action","details","depends_on":[ids]}` per
//! operation, pretty-printed) are still read. The checksums (`fingerprint`,
//! `operations_sha256`) are computed over the same canonical operations in both versions, so
//! a plan's checksum and an `approve_mass_change` do not depend on the file's version.

mod compact;

use crate::diag::Diagnostic;
/// Digests are written as lower-case hex (the tests and scripts check files with it).
pub use crate::plan::hex;
use crate::plan::{ExchangeChange, Fingerprint, OpKind, Operation, Plan, SeatSummary, Summary};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Current format version (written); readers also accept `READABLE_VERSIONS`.
pub const FORMAT_VERSION: u32 = 2;

/// The versions `PlanFile::parse` reads.
pub const READABLE_VERSIONS: [u32; 2] = [1, 2];

/// A plan as a self-contained, re-readable document. In memory every operation is in its
/// canonical form (`PlanOperation`, what the checksums cover); `Serialize` writes the version
/// 2 document and `Deserialize` reads the version 1 shape: read documents with `parse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlanFile {
    /// `FORMAT_VERSION` when written; the version read when parsed.
    pub format_version: u32,
    /// `sha256:` over the desired and live fingerprints and the operations. It detects
    /// accidental corruption only (anyone can recompute it); apply trusts a saved plan only
    /// when a fresh plan has exactly its operations (`check_operations`).
    pub fingerprint: String,
    /// Fingerprints of the inputs, for the stale-plan check.
    pub inputs: Fingerprint,
    /// Operations in execution order.
    pub operations: Vec<PlanOperation>,
    /// Counts by action.
    pub summary: Summary,
    /// Licence summary per SKU.
    #[serde(default)]
    pub seats: Vec<SeatSummaryDoc>,
    /// Effective Exchange capability changes.
    #[serde(default)]
    pub exchange_changes: Vec<ExchangeChangeDoc>,
    /// Warnings and errors.
    #[serde(default)]
    pub diagnostics: Vec<DiagnosticDoc>,
    /// Inherited licences in an error state (drift no operation fixes), with their remedies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub license_errors: Vec<crate::plan::LicenseError>,
    /// Per-principal digests of the live state the plan was computed from, so a stale plan
    /// can be refused with *what* changed. Optional: older documents lack it. Not covered by
    /// the checksum: it only explains a staleness that `inputs.live` decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_digest: Option<LiveDigest>,
    /// Which config and tenant the plan is for, so `show` can name them in the pull-request
    /// comment without reading either. Display only: not covered by the checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<PlanContext>,
    /// Monthly cost before and after, when the config prices SKUs. Informational: not
    /// covered by the checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::PlanCost>,
}

/// Where a plan came from, as shown to reviewers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanContext {
    /// The config path, relative to the repository root (`.` for the root).
    pub config: String,
    /// The backend's description, e.g. `graph contoso.onmicrosoft.com`.
    pub tenant: String,
}

/// Digests of the live state, per user, per group and per SKU (consumed seats).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveDigest {
    /// Lower-case UPN -> `short_digest` of the user's canonical JSON.
    pub users: std::collections::BTreeMap<String, String>,
    /// Group display name (with the object id when several groups share it) ->
    /// `short_digest` of the group's canonical JSON.
    pub groups: std::collections::BTreeMap<String, String>,
    /// skuPartNumber -> consumed units.
    pub sku_consumed: std::collections::BTreeMap<String, u32>,
}

impl LiveDigest {
    /// Digests a (normalised) tenant. A tenant already in canonical order (as read) is
    /// digested in place: a normalised copy costs a second tenant in memory (~110 MB at
    /// 100,000 users).
    pub fn of(tenant: &crate::tenant::Tenant) -> LiveDigest {
        let normalized;
        let tenant = if tenant.is_normalized() {
            tenant
        } else {
            let mut copy = tenant.clone();
            copy.normalize();
            normalized = copy;
            &normalized
        };
        // One buffer reused for every principal's JSON: a fresh one each costs 1,000,000
        // allocations at 1,000,000 users.
        let mut json = Vec::new();
        let mut names: std::collections::HashMap<&str, usize> = Default::default();
        for g in &tenant.groups {
            *names.entry(g.display_name.as_str()).or_default() += 1;
        }
        LiveDigest {
            users: tenant
                .users
                .iter()
                .map(|u| {
                    (
                        u.user_principal_name.to_lowercase(),
                        short_digest_of(&mut json, u),
                    )
                })
                .collect(),
            groups: tenant
                .groups
                .iter()
                .map(|g| {
                    // Display names are not unique in Entra: a shared one is suffixed with
                    // the object id, or one group's digest would hide the other's.
                    let key = if names[g.display_name.as_str()] > 1 {
                        format!("{} ({})", g.display_name, g.id)
                    } else {
                        g.display_name.clone()
                    };
                    (key, short_digest_of(&mut json, g))
                })
                .collect(),
            sku_consumed: tenant
                .skus
                .iter()
                .map(|s| (s.sku_part_number.clone(), s.consumed))
                .collect(),
        }
    }
}

/// The first 16 hex digits (64 bits) of a sha256. The per-principal digests only explain a
/// staleness that `inputs.live` (a full sha256) decides: a changed principal whose 64 bits
/// stay the same (odds 2^-64) would only be left out of the explanation. A 1,000,000-user
/// digest is half the size with them.
fn short_digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..8])
}

/// `short_digest` of `value`'s JSON, serialised into `buffer` (reused by the caller).
fn short_digest_of(buffer: &mut Vec<u8>, value: &impl Serialize) -> String {
    buffer.clear();
    serde_json::to_writer(&mut *buffer, value).expect("principal serialises");
    short_digest(buffer)
}

impl LiveDigest {
    /// A version 1 digest (`sha256:` and 64 hex digits per principal) in today's short form.
    fn shortened(mut self) -> LiveDigest {
        for value in self.users.values_mut().chain(self.groups.values_mut()) {
            let hex = value.strip_prefix("sha256:").unwrap_or(value);
            *value = hex.chars().take(16).collect();
        }
        self
    }
}

/// One operation in the document: generic envelope plus kind-specific `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOperation {
    /// Stable op id.
    pub id: String,
    /// snake_case kind.
    pub kind: String,
    /// UPN or group name.
    pub target: String,
    /// `add`, `change` or `remove`.
    pub action: crate::plan::Action,
    /// The kind's fields (user_id, add, remove, from, to, ...).
    pub details: serde_json::Value,
    /// Ids this operation waits for.
    pub depends_on: Vec<String>,
    /// Why it is ordered or shaped this way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// `SeatSummary` as written in the document (plus the derived free count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatSummaryDoc {
    /// skuPartNumber.
    pub sku: String,
    /// Seats the tenant can give.
    pub enabled: u32,
    /// Consumed now.
    pub consumed_now: u32,
    /// Consumed after apply.
    pub consumed_after: u32,
    /// Highest consumption at any step.
    pub peak: u32,
    /// Free after apply (may be negative when the tenant is already over-assigned).
    pub free_after: i64,
}

/// `ExchangeChange` as written in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeChangeDoc {
    /// UPN.
    pub user: String,
    /// Capability before.
    pub before: String,
    /// Capability after.
    pub after: String,
}

/// `Diagnostic` as written in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticDoc {
    /// `error` or `warning`.
    pub severity: String,
    /// Message.
    pub message: String,
    /// `file:line:col`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Why a plan document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Not JSON or not the expected shape.
    #[error("not a m365ctl plan file: {0}")]
    Invalid(String),
    /// Written by another format version.
    #[error(
        "plan file format_version {0} is not supported (this m365ctl reads versions 1 and 2); re-run `m365ctl plan --out <file>` with this version"
    )]
    Version(u32),
    /// Content edited after planning: the checksum no longer matches.
    #[error("plan file checksum mismatch: it was modified after `m365ctl plan` wrote it")]
    Tampered,
    /// The saved operations are not the operations m365ctl computes now from the same inputs:
    /// the file was edited (a checksum anyone can recompute does not prove otherwise).
    #[error(
        "the saved plan's operations differ from the plan computed now from the same config and tenant, so it is not what `m365ctl plan` wrote:\n  {}\nnothing was applied; re-run `m365ctl plan --out <file>`, review it, then apply the new file",
        .0.join("\n  ")
    )]
    OperationsDiffer(Vec<String>),
}

impl PlanFile {
    /// Builds the document for a plan.
    pub fn from_plan(plan: &Plan) -> PlanFile {
        let operations: Vec<PlanOperation> = plan.operations.iter().map(operation_doc).collect();
        PlanFile {
            format_version: FORMAT_VERSION,
            fingerprint: checksum(&plan.fingerprint, &operations),
            inputs: plan.fingerprint.clone(),
            summary: plan.summary(),
            seats: plan.seats.iter().map(seat_doc).collect(),
            exchange_changes: plan.exchange_changes.iter().map(exchange_doc).collect(),
            diagnostics: plan.diagnostics.iter().map(diagnostic_doc).collect(),
            license_errors: plan.license_errors.clone(),
            operations,
            live_digest: None,
            context: None,
            cost: plan.cost.clone(),
        }
    }

    /// Names the config and tenant the plan is for (shown by `show`).
    pub fn with_context(mut self, context: PlanContext) -> PlanFile {
        self.context = Some(context);
        self
    }

    /// The checksum of the operation set alone (`sha256:<hex>` of the operations' canonical
    /// JSON): the same for every plan that would do exactly the same thing, whatever the
    /// inputs' fingerprints. A mass change is approved by naming it (`[guards]
    /// approve_mass_change`), and a reviewed plan is matched against a fresh one by it.
    pub fn operations_sha256(&self) -> String {
        operations_sha256(&self.operations)
    }

    /// Records the live state the plan was computed from (for stale-plan messages).
    pub fn with_live_digest(mut self, live: &crate::tenant::Tenant) -> PlanFile {
        self.live_digest = Some(LiveDigest::of(live));
        self
    }

    /// The document as text: exactly the bytes `write_json` writes.
    pub fn to_json(&self) -> String {
        let mut bytes = Vec::new();
        self.write_json(&mut bytes)
            .expect("writing to memory cannot fail");
        String::from_utf8(bytes).expect("serde_json writes UTF-8")
    }

    /// The version 2 document with a trailing newline (see the module doc). Field order is
    /// fixed and every map is a `BTreeMap`, so the same plan always gives the same bytes.
    /// Streamed: `plan --out` writes through this into its file and never holds the whole
    /// text (67 MB at 1,000,000 users).
    pub fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        compact::write(self, out)
    }

    /// Parses a document (version 1 or 2) and checks its checksum. The checksum only catches
    /// accidental corruption: trust comes from `check_operations`.
    pub fn parse(text: &str) -> Result<PlanFile, PlanFileError> {
        let doc = PlanFile::read(text)?;
        if checksum(&doc.inputs, &doc.operations) != doc.fingerprint {
            return Err(PlanFileError::Tampered);
        }
        Ok(doc)
    }

    /// The document in either version, its checksum not checked yet.
    fn read(text: &str) -> Result<PlanFile, PlanFileError> {
        let invalid = |e: serde_json::Error| PlanFileError::Invalid(e.to_string());
        let version: compact::Version = serde_json::from_str(text).map_err(invalid)?;
        let doc = match version.format_version {
            1 => {
                let mut doc: PlanFile = serde_json::from_str(text).map_err(invalid)?;
                doc.live_digest = doc.live_digest.map(LiveDigest::shortened);
                doc
            }
            2 => compact::read(serde_json::from_str(text).map_err(invalid)?)?,
            other => return Err(PlanFileError::Version(other)),
        };
        Ok(doc)
    }

    /// Refuses a saved plan whose operations are not exactly `fresh`'s: the plan is
    /// deterministic, so the reviewed file must list the very operations a fresh plan of the
    /// same inputs computes. The checksum cannot show this (anyone can recompute it), so
    /// apply executes a saved plan only after this comparison of the canonical operation
    /// sets (sorted by id, every field compared), and names each difference.
    pub fn check_operations(&self, fresh: &Plan) -> Result<(), PlanFileError> {
        let differences =
            operation_differences(&self.operations, &PlanFile::from_plan(fresh).operations);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(PlanFileError::OperationsDiffer(differences))
        }
    }

    /// The operations back as executable `Operation`s.
    pub fn to_operations(&self) -> Result<Vec<Operation>, PlanFileError> {
        self.operations
            .iter()
            .map(|op| {
                let mut details = op.details.clone();
                let map = details.as_object_mut().ok_or_else(|| {
                    PlanFileError::Invalid(format!("{}: details is not an object", op.id))
                })?;
                map.insert(
                    "kind".to_string(),
                    serde_json::Value::String(op.kind.clone()),
                );
                let kind: OpKind = serde_json::from_value(details)
                    .map_err(|e| PlanFileError::Invalid(format!("{}: {e}", op.id)))?;
                Ok(Operation {
                    id: op.id.clone(),
                    kind,
                    depends_on: op.depends_on.clone(),
                    reasons: op.reasons.clone(),
                })
            })
            .collect()
    }
}

/// One line per operation that is only in the saved plan, only in the fresh plan, or in both
/// with different content (naming the fields), in id order.
fn operation_differences(saved: &[PlanOperation], fresh: &[PlanOperation]) -> Vec<String> {
    use std::collections::BTreeMap;
    let canonical = |ops: &[PlanOperation]| -> (BTreeMap<String, PlanOperation>, Vec<String>) {
        let mut by_id = BTreeMap::new();
        let mut duplicates = Vec::new();
        for op in ops {
            let mut op = op.clone();
            op.depends_on.sort();
            if let Some(previous) = by_id.insert(op.id.clone(), op) {
                duplicates.push(format!("{}: listed more than once", shown(&previous.id)));
            }
        }
        (by_id, duplicates)
    };
    let (saved, mut lines) = canonical(saved);
    let (fresh, _) = canonical(fresh);
    let ids: std::collections::BTreeSet<&String> = saved.keys().chain(fresh.keys()).collect();
    for id in ids {
        match (saved.get(id), fresh.get(id)) {
            (Some(op), None) => lines.push(format!(
                "{}: in the file, not in the plan computed now ({} {})",
                shown(id),
                shown(&op.kind),
                shown(&op.target)
            )),
            (None, Some(op)) => lines.push(format!(
                "{}: in the plan computed now, missing from the file ({} {})",
                shown(id),
                shown(&op.kind),
                shown(&op.target)
            )),
            (Some(a), Some(b)) if a != b => {
                let fields: Vec<&str> = [
                    ("kind", a.kind != b.kind),
                    ("target", a.target != b.target),
                    ("action", a.action != b.action),
                    ("details", a.details != b.details),
                    ("depends_on", a.depends_on != b.depends_on),
                    ("reasons", a.reasons != b.reasons),
                ]
                .into_iter()
                .filter_map(|(name, differs)| differs.then_some(name))
                .collect();
                lines.push(format!("{}: {} differ", shown(id), fields.join(", ")));
            }
            _ => {}
        }
    }
    lines
}

/// A value from the file for a one-per-line message: cut, and escaped for the terminal (the
/// file may be an attacker's).
fn shown(value: &str) -> String {
    use crate::escape::{shorten, terminal};
    terminal(&shorten(value, 200)).into_owned()
}

fn operation_doc(op: &Operation) -> PlanOperation {
    let mut details = serde_json::to_value(&op.kind).expect("op serialises");
    if let Some(map) = details.as_object_mut() {
        map.remove("kind");
    }
    PlanOperation {
        id: op.id.clone(),
        kind: op.kind.name().to_string(),
        target: op.kind.target().to_string(),
        action: op.kind.action(),
        details,
        depends_on: op.depends_on.clone(),
        reasons: op.reasons.clone(),
    }
}

fn seat_doc(s: &SeatSummary) -> SeatSummaryDoc {
    SeatSummaryDoc {
        sku: s.sku_part_number.clone(),
        enabled: s.enabled,
        consumed_now: s.consumed_now,
        consumed_after: s.consumed_after,
        peak: s.peak,
        free_after: i64::from(s.enabled) - i64::from(s.consumed_after),
    }
}

fn exchange_doc(c: &ExchangeChange) -> ExchangeChangeDoc {
    ExchangeChangeDoc {
        user: c.upn.clone(),
        before: c.before.label().to_string(),
        after: c.after.label().to_string(),
    }
}

impl From<&Diagnostic> for DiagnosticDoc {
    fn from(d: &Diagnostic) -> DiagnosticDoc {
        diagnostic_doc(d)
    }
}

fn diagnostic_doc(d: &Diagnostic) -> DiagnosticDoc {
    DiagnosticDoc {
        severity: if d.is_error() { "error" } else { "warning" }.to_string(),
        message: d.message.clone(),
        location: d.origin.as_ref().map(|o| o.to_string()),
        hint: d.hint.clone(),
    }
}

/// `sha256:<hex>` over the canonical operations JSON (see `PlanFile::operations_sha256`).
pub fn operations_sha256(operations: &[PlanOperation]) -> String {
    let mut hasher = Sha256::new();
    hash_json(&mut hasher, operations);
    format!("sha256:{}", hex(&hasher.finalize()))
}

/// `sha256:<hex>` over the input fingerprints and the canonical operations JSON.
fn checksum(inputs: &Fingerprint, operations: &[PlanOperation]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(inputs.desired.as_bytes());
    hasher.update(b"\n");
    hasher.update(inputs.live.as_bytes());
    hasher.update(b"\n");
    hash_json(&mut hasher, operations);
    format!("sha256:{}", hex(&hasher.finalize()))
}

/// Feeds `value`'s compact JSON into `hasher` as it is serialised: the same digest as
/// hashing `serde_json::to_vec(value)`, without holding the text (the canonical operations
/// of a 1,000,000-user plan are over 100 MB).
fn hash_json(hasher: &mut Sha256, value: &(impl Serialize + ?Sized)) {
    let mut writer = std::io::BufWriter::with_capacity(64 * 1024, HashWriter(hasher));
    serde_json::to_writer(&mut writer, value).expect("ops serialise");
    std::io::Write::flush(&mut writer).expect("hashing cannot fail");
}

/// An `io::Write` that hashes what is written.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ops::AssignLicenses;
    use crate::plan::{LicenseGrant, Plan};

    fn sample_plan() -> Plan {
        Plan {
            operations: vec![Operation {
                id: "assign_licenses:ann@contoso.com".into(),
                kind: OpKind::AssignLicenses(AssignLicenses {
                    user_id: "u1".into(),
                    upn: "ann@contoso.com".into(),
                    add: vec![LicenseGrant {
                        sku_id: "s1".into(),
                        sku_part_number: "ENTERPRISEPACK".into(),
                        disabled_plans: vec![],
                        disabled_plan_names: vec![],
                        replaces_disabled: None,
                    }],
                    remove: vec![],
                }),
                depends_on: vec![],
                reasons: vec![],
            }],
            diagnostics: vec![],
            seats: vec![],
            exchange_changes: vec![],
            license_errors: vec![],
            fingerprint: Fingerprint {
                desired: "sha256:aa".into(),
                live: "sha256:bb".into(),
            },
            cost: None,
        }
    }

    #[test]
    fn round_trips_operations() {
        let plan = sample_plan();
        let doc = PlanFile::parse(&PlanFile::from_plan(&plan).to_json()).expect("parses");
        assert_eq!(doc.to_operations().unwrap(), plan.operations);
        assert_eq!(doc.operations[0].kind, "assign_licenses");
        assert_eq!(doc.operations[0].target, "ann@contoso.com");
        assert!(doc.operations[0].details.get("kind").is_none());
    }

    /// Every leaf of the operations array as a JSON pointer (strings, numbers, booleans).
    fn leaves(value: &serde_json::Value, path: String, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    leaves(
                        v,
                        format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    leaves(v, format!("{path}/{i}"), out);
                }
            }
            serde_json::Value::Null => {}
            _ => out.push(path),
        }
    }

    /// An attacker's edit of a saved plan file: change one value, drop, duplicate or move an
    /// operation's fields (its user and licences) under another's id; then the checksum is
    /// recomputed, as anyone can, so it matches again.
    fn tamper(doc: &PlanFile, edit: usize, pick: usize) -> Option<PlanFile> {
        let mut value: serde_json::Value = serde_json::from_str(&doc.to_json()).unwrap();
        let items = value["operations"].as_array_mut().unwrap();
        let n = items.len();
        match edit % 4 {
            0 => {
                let mut paths = Vec::new();
                leaves(
                    &serde_json::Value::Array(items.clone()),
                    String::new(),
                    &mut paths,
                );
                let path = &paths[pick % paths.len()];
                let mut all = serde_json::Value::Array(items.clone());
                let leaf = all.pointer_mut(path).unwrap();
                *leaf = match leaf.take() {
                    serde_json::Value::String(s) => serde_json::Value::String(format!("{s}x")),
                    serde_json::Value::Bool(b) => serde_json::Value::Bool(!b),
                    serde_json::Value::Number(n) => {
                        serde_json::Value::from(n.as_u64().unwrap_or(0) + 1)
                    }
                    other => other,
                };
                *items = all.as_array().unwrap().clone();
            }
            1 => {
                items.remove(pick % n);
            }
            2 => {
                let copy = items[pick % n].clone();
                items.push(copy);
            }
            _ => {
                let (a, b) = (pick % n, (pick / n + 1 + pick % n) % n);
                if a == b {
                    return None;
                }
                let mut moved = items[b].clone();
                moved["id"] = doc.operations[a].id.clone().into();
                items[a] = moved;
            }
        }
        // Not even the shape (an unknown kind, a position past the end): refused when read.
        let mut edited = PlanFile::read(&value.to_string()).ok()?;
        edited.fingerprint = checksum(&edited.inputs, &edited.operations);
        Some(edited)
    }

    proptest::proptest! {
        /// Any edit of the operations is refused even with a valid checksum.
        #[test]
        fn edited_operations_with_a_recomputed_checksum_are_refused(edit in 0usize..4, pick in 0usize..10_000) {
            let plan = crate::render::fixtures::every_kind();
            let doc = PlanFile::from_plan(&plan);
            if let Some(edited) = tamper(&doc, edit, pick) {
                proptest::prop_assume!(edited.operations != doc.operations);
                let reread = PlanFile::parse(&edited.to_json());
                proptest::prop_assert!(reread.is_ok(), "the checksum was recomputed: {reread:?}");
                let refused = reread.unwrap().check_operations(&plan);
                proptest::prop_assert!(
                    matches!(refused, Err(PlanFileError::OperationsDiffer(ref lines)) if !lines.is_empty()),
                    "{refused:?}"
                );
            }
        }
    }

    #[test]
    fn the_unedited_plan_is_accepted() {
        let plan = crate::render::fixtures::every_kind();
        let doc = PlanFile::parse(&PlanFile::from_plan(&plan).to_json()).unwrap();
        doc.check_operations(&plan).unwrap();
    }

    #[test]
    fn refuses_edited_documents() {
        let text = PlanFile::from_plan(&sample_plan()).to_json();
        let edited = text.replace("ENTERPRISEPACK", "ENTERPRISEPREMIUM");
        assert!(matches!(
            PlanFile::parse(&edited),
            Err(PlanFileError::Tampered)
        ));
    }

    /// A generated tenant, its config resolved and planned.
    fn planned(users: usize, seed: u64) -> (Plan, crate::tenant::Tenant) {
        let synth = crate::synth::generate(&crate::synth::SynthSpec::served(users, seed));
        let config = crate::desired::from_sources(
            &[("m365ctl.toml".into(), synth.config_toml.clone())],
            std::path::Path::new("."),
        )
        .expect("generated config loads");
        let (desired, _) = crate::desired::resolve(&config, &synth.tenant).expect("resolves");
        (crate::plan::plan(&desired, &synth.tenant), synth.tenant)
    }

    /// The same document as version 1 wrote it: pretty, operation envelopes, ids in
    /// `depends_on`, full `sha256:` digests per principal.
    fn version_1_text(doc: &PlanFile, live: &crate::tenant::Tenant) -> String {
        let full = |json: Vec<u8>| format!("sha256:{}", hex(&Sha256::digest(json)));
        let mut value = serde_json::json!({
            "format_version": 1,
            "fingerprint": doc.fingerprint,
            "inputs": doc.inputs,
            "operations": doc.operations,
            "summary": doc.summary,
            "seats": doc.seats,
            "exchange_changes": doc.exchange_changes,
            "diagnostics": doc.diagnostics,
        });
        if doc.live_digest.is_some() {
            value["live_digest"] = serde_json::json!({
                "users": live.users.iter().map(|u| {
                    (u.user_principal_name.to_lowercase(), full(serde_json::to_vec(u).unwrap()))
                }).collect::<std::collections::BTreeMap<_, _>>(),
                "groups": live.groups.iter().map(|g| {
                    (g.display_name.clone(), full(serde_json::to_vec(g).unwrap()))
                }).collect::<std::collections::BTreeMap<_, _>>(),
                "sku_consumed": live.skus.iter().map(|s| {
                    (s.sku_part_number.clone(), s.consumed)
                }).collect::<std::collections::BTreeMap<_, _>>(),
            });
        }
        serde_json::to_string_pretty(&value).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Every plan survives the compact document exactly (operations, ids, dependencies,
        /// digests), a version 1 document of the same plan reads as the same plan with the
        /// same checksum, and the compact one is smaller.
        #[test]
        fn compact_documents_read_back_exactly_and_version_1_still_reads(
            users in 20usize..200,
            seed in 0u64..1_000,
        ) {
            let (plan, live) = planned(users, seed);
            let doc = PlanFile::from_plan(&plan).with_live_digest(&live);
            let text = doc.to_json();
            let read = PlanFile::parse(&text).expect("reads back");
            proptest::prop_assert_eq!(&read, &doc);
            proptest::prop_assert_eq!(read.to_operations().unwrap(), plan.operations.clone());
            read.check_operations(&plan).expect("the fresh plan is the file's");

            let old = version_1_text(&doc, &live);
            let from_old = PlanFile::parse(&old).expect("version 1 reads");
            proptest::prop_assert_eq!(from_old.format_version, 1);
            proptest::prop_assert_eq!(&from_old.operations, &doc.operations);
            proptest::prop_assert_eq!(&from_old.live_digest, &doc.live_digest);
            proptest::prop_assert_eq!(from_old.operations_sha256(), doc.operations_sha256());
            proptest::prop_assert!(
                text.len() < old.len(),
                "compact {} bytes, version 1 {} bytes",
                text.len(),
                old.len()
            );
        }
    }

    #[test]
    fn ids_that_are_not_the_derived_ones_are_written_and_read_back() {
        let mut plan = sample_plan();
        let first = plan.operations[0].clone();
        let mut second = first.clone();
        // The planner's second call for a user (`#2`) may come first in the order.
        plan.operations[0].id = "assign_licenses:ann@contoso.com#2".into();
        second.depends_on = vec![plan.operations[0].id.clone()];
        plan.operations.push(second);
        let text = PlanFile::from_plan(&plan).to_json();
        assert!(
            text.contains(r#""id":"assign_licenses:ann@contoso.com#2""#),
            "{text}"
        );
        assert!(
            text.contains(r#""id":"assign_licenses:ann@contoso.com""#),
            "{text}"
        );
        assert!(text.contains(r#""depends_on":[0]"#), "{text}");
        let doc = PlanFile::parse(&text).unwrap();
        assert_eq!(doc.to_operations().unwrap(), plan.operations);
    }

    #[test]
    fn other_versions_and_dangling_positions_are_refused_with_a_reason() {
        let text = PlanFile::from_plan(&sample_plan()).to_json();
        let future = text.replace(r#""format_version": 2"#, r#""format_version": 3"#);
        let refused = PlanFile::parse(&future).unwrap_err().to_string();
        assert!(
            refused.contains("format_version 3 is not supported"),
            "{refused}"
        );
        assert!(refused.contains("reads versions 1 and 2"), "{refused}");
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["operations"][0]["depends_on"] = serde_json::json!([7]);
        let refused = PlanFile::parse(&value.to_string()).unwrap_err().to_string();
        assert!(refused.contains("depends_on position 7"), "{refused}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
        /// The live digest is a function of the tenant's content, not of the order it was
        /// read in: digesting in place (already canonical) and through a normalised copy
        /// (any other order) agree.
        #[test]
        fn live_digest_ignores_the_order_the_tenant_was_read_in(seed in 0u64..1_000) {
            let tenant = crate::synth::generate(&crate::synth::SynthSpec::served(60, seed)).tenant;
            let mut canonical = tenant.clone();
            canonical.normalize();
            let mut shuffled = canonical.clone();
            shuffled.users.reverse();
            shuffled.groups.reverse();
            for user in &mut shuffled.users {
                user.licenses.reverse();
            }
            for group in &mut shuffled.groups {
                group.members.reverse();
            }
            proptest::prop_assert!(canonical.is_normalized());
            proptest::prop_assert_eq!(LiveDigest::of(&shuffled), LiveDigest::of(&canonical));
            proptest::prop_assert_eq!(LiveDigest::of(&tenant), LiveDigest::of(&canonical));
        }
    }
}
