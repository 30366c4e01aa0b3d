//! The desired-state language: TOML files -> validated `Config` -> resolved `DesiredState`.
//!
//! `load` is offline (syntax, keys, aliases, country codes, references between tables);
//! `resolve` is pure and checks the config against a live `Tenant` (SKUs owned, plans that
//! exist, users and groups that exist) while expanding profiles, rules and defaults.

mod chunked;
pub mod cloud;
pub mod connection;
mod declared;
pub use crate::countries;
pub mod export;
#[cfg(test)]
mod fuzz_tests;
pub mod input;
mod load;
pub mod model;
mod raw;
mod resolve;
pub mod schema;
pub mod settings;
mod shape;
mod suggest;
mod upns;

pub use load::from_sources;
pub use model::*;
pub use resolve::{resolve, resolve_taking_users};
pub use settings::{Setting, Settings};

use crate::diag::Origin;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// JSON Schema pattern of an Entra object id (a GUID), for `[groups] id`.
pub const GUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Whether `s` is shaped like an Entra object id (8-4-4-4-12 hex digits): a `[groups]` key of
/// that shape names the group by id, not by display name.
pub fn is_object_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A parsed, validated config (one file or a directory of `*.toml` merged).
#[derive(Debug, Clone)]
pub struct Config {
    /// Which backend to use.
    pub backend: connection::BackendConfig,
    /// `[tenant] apply_client_id`: the write identity `apply` uses (graph backend).
    pub apply_client_id: Option<String>,
    /// The files read, in merge order.
    pub files: Vec<PathBuf>,
    /// Problems with the directory that do not stop a run (sub-directories holding `.toml`
    /// files that are not read); the commands print them.
    pub warnings: Vec<crate::diag::Diagnostic>,
    /// The `[tenant]` table exactly as written (comments between its entries included), so
    /// `export` can copy it without rewriting auth, cloud or hosts; `None` when absent.
    pub tenant_table: Option<String>,
    /// SKU aliases keyed by alias as written.
    pub aliases: BTreeMap<String, SkuAlias>,
    /// `[scope]`.
    pub scope: ScopeConfig,
    /// `[defaults] usage_location`, validated.
    pub default_usage_location: Option<Located<String>>,
    /// `[guards]` with defaults filled in.
    pub guards: Guards,
    /// Monthly seat prices from `[skus]` in `[defaults] currency`; `None` when none is set.
    pub prices: Option<crate::cost::Prices>,
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// Rules in declaration order (files in sorted order).
    pub rules: Vec<Rule>,
    /// Explicit user entries keyed by lower-case UPN.
    pub users: BTreeMap<String, UserEntry>,
    /// Group entries keyed as written (display name or object id).
    pub groups: BTreeMap<String, GroupEntry>,
}

/// A value and the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub origin: Origin,
}

/// One `[skus]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuAlias {
    /// Part number it stands for (upper-case).
    pub part_number: String,
    /// Where the alias was defined.
    pub origin: Origin,
}

/// A SKU named somewhere in the config, with its alias already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuRef {
    /// As written (alias or part number), for messages. Shared by every reference written
    /// the same way.
    pub written: Arc<str>,
    /// skuPartNumber, upper-case. Shared likewise.
    pub part_number: Arc<str>,
    /// Where it was written.
    pub origin: Origin,
}

/// `[scope]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeConfig {
    /// SKUs m365ctl manages exclusively.
    pub manage_skus: Vec<SkuRef>,
    /// Which users are in scope.
    pub users: UserScope,
    /// Lower-case UPNs never touched.
    pub exclude: Vec<Located<String>>,
}

/// A `licenses` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseList {
    /// Exactly these SKUs.
    Exactly(Vec<SkuRef>),
    /// `"keep"`.
    Keep(Origin),
}

/// Disabled plans of one SKU: plan names (upper-case) with their places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledPlans {
    /// The SKU key, resolved.
    pub sku: SkuRef,
    /// Plan names as written, upper-cased, with places.
    pub plans: Vec<Located<String>>,
}

/// `[profiles.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// Where it was declared.
    pub origin: Origin,
    /// What it sets.
    pub settings: Settings,
}

/// One condition of a rule: attribute (Graph's name) equals any of `values` (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Graph attribute name in its canonical spelling (`department`, `extensionAttribute1`).
    pub attribute: String,
    /// Accepted values.
    pub values: Vec<String>,
}

/// `[[rules]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// All must match.
    pub conditions: Vec<Condition>,
    /// Profile name (checked to exist).
    pub profile: String,
    /// Higher wins.
    pub priority: i64,
    /// Where the rule is (its `match` table).
    pub origin: Origin,
}

/// `[users."upn"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// UPN as written.
    pub upn: String,
    /// Where it was declared (the key).
    pub origin: Origin,
    /// Profile name (checked to exist).
    pub profile: Option<Located<String>>,
    /// Overrides.
    pub settings: Settings,
}

/// How a `[groups]` entry names its group. Entra allows several groups with one display
/// name, so a name alone may be ambiguous: the resolver refuses it then, never picks one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// The key is the display name, which must belong to exactly one group.
    Name,
    /// The key is the object id (lower-case).
    Id(String),
    /// The key is the display name and `id = "…"` pins the object id (lower-case); the
    /// group's name must still match the key, so a copied id cannot retarget the entry.
    NameWithId(Located<String>),
}

/// `[groups."name"]` or `[groups."object id"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// The key as written (display name or object id), for messages.
    pub name: String,
    /// Where it was declared.
    pub origin: Origin,
    /// Whether the key is a name, an id, or a name pinned to an id.
    pub key: GroupKey,
    /// Group licences; `None` = not managed.
    pub licenses: Option<Vec<SkuRef>>,
    /// Disabled plans per SKU.
    pub disabled_plans: Option<BTreeMap<String, DisabledPlans>>,
    /// Exact members (UPN as written); `None` = not managed.
    pub members: Option<Vec<Located<String>>>,
}
