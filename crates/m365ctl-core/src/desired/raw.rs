//! The TOML file as written: serde types with spans, one per table of the language.
//!
//! These types only describe shapes. Values whose validity needs a good error message
//! (mailbox kinds, country codes, SKU aliases) stay strings here and are checked in
//! `load` (the shared settings of profiles and users in `settings`), so that every problem is reported with its place instead of stopping serde at the
//! first one. The JSON Schema for editors is derived from these same types.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;

pub use super::settings::{RawProfile, RawUser};

/// One config file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "m365ctl configuration")]
pub struct RawFile {
    /// Where the live tenant is read from and written to: a snapshot file or Microsoft Graph.
    #[schemars(with = "Option<RawTenant>")]
    pub tenant: Option<Spanned<RawTenant>>,
    /// Friendly aliases for SKU part numbers (`E3 = "ENTERPRISEPACK"`), optionally with a monthly
    /// price per seat (`E3 = { part = "ENTERPRISEPACK", monthly_price = "36.00" }`). Part numbers work directly too.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawSku>")]
    pub skus: BTreeMap<Spanned<String>, RawSku>,
    /// What m365ctl owns: the SKUs it manages exclusively and which users are in scope.
    #[schemars(with = "Option<RawScope>")]
    pub scope: Option<Spanned<RawScope>>,
    /// Values applied to every in-scope user that does not set them.
    #[schemars(with = "Option<RawDefaults>")]
    pub defaults: Option<Spanned<RawDefaults>>,
    /// Thresholds above which `apply` refuses without `--allow-mass-change`.
    #[schemars(with = "Option<RawGuards>")]
    pub guards: Option<Spanned<RawGuards>>,
    /// Named bundles of licences, disabled plans, mailbox type and usage location.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawProfile>")]
    pub profiles: BTreeMap<Spanned<String>, RawProfile>,
    /// Attribute-driven profile assignment: users whose directory attributes match get the profile.
    #[serde(default)]
    #[schemars(with = "Vec<RawRule>")]
    pub rules: Vec<Spanned<RawRule>>,
    /// Explicit users keyed by userPrincipalName; an entry wins over rules.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawUser>")]
    pub users: BTreeMap<Spanned<String>, RawUser>,
    /// Groups keyed by display name, or by object id (a GUID) when several groups share the name: group-based licensing and exact membership.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawGroup>")]
    pub groups: BTreeMap<Spanned<String>, RawGroup>,
}

/// `[tenant]`: backend selection and connection settings (never secrets).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// `snapshot` (default: a JSON file, no credentials) or `graph` (Microsoft Graph + Exchange Online).
    #[schemars(with = "Option<String>", extend("enum" = ["snapshot", "graph"]))]
    pub backend: Option<Spanned<String>>,
    /// Snapshot backend: the JSON file, relative to this config file. Default `tenant.json`.
    #[schemars(with = "Option<String>")]
    pub snapshot: Option<Spanned<String>>,
    /// Graph backend: Entra tenant id (GUID) or primary domain (`contoso.onmicrosoft.com`).
    #[schemars(with = "Option<String>")]
    pub tenant_id: Option<Spanned<String>>,
    /// Graph backend: the app registration's client id (with `device-code`: a public client, default Microsoft Graph Command Line Tools).
    #[schemars(with = "Option<String>")]
    pub client_id: Option<Spanned<String>>,
    /// Graph backend: the client id `apply` uses instead of `client_id`, so pull-request plans and drift read with a read-only app and only apply holds write permissions (each app's federated credential trusts only its own workflow).
    #[schemars(with = "Option<String>")]
    pub apply_client_id: Option<Spanned<String>>,
    /// Graph backend: `federated` (GitHub Actions OIDC, default), `certificate` or `secret`; read-only delegated sign-in of an admin for plan/drift/export: `device-code` or `azure-cli`.
    #[schemars(with = "Option<String>", extend("enum" = ["federated", "certificate", "secret", "device-code", "azure-cli"]))]
    pub auth: Option<Spanned<String>>,
    /// auth = "secret": the NAME of the environment variable holding the secret (default `M365CTL_CLIENT_SECRET`).
    #[schemars(with = "Option<String>")]
    pub client_secret_env: Option<Spanned<String>>,
    /// auth = "certificate": PEM file with the certificate and its private key, relative to this file.
    #[schemars(with = "Option<String>")]
    pub certificate: Option<Spanned<String>>,
    /// auth = "federated": file holding the OIDC token; default is GitHub Actions' token endpoint.
    #[schemars(with = "Option<String>")]
    pub federated_token_file: Option<Spanned<String>>,
    /// auth = "federated": audience requested for the OIDC token. Default `api://AzureADTokenExchange`.
    #[schemars(with = "Option<String>")]
    pub federated_audience: Option<Spanned<String>>,
    /// Microsoft cloud: `global` (default), `usgov`, `usgov-dod` or `china`.
    #[schemars(with = "Option<String>", extend("enum" = super::cloud::Cloud::names()))]
    pub cloud: Option<Spanned<String>>,
    /// Overrides the token authority host of the cloud (e.g. `login.microsoftonline.com`).
    #[schemars(with = "Option<String>")]
    pub authority_host: Option<Spanned<String>>,
    /// Overrides the Microsoft Graph host of the cloud (e.g. `graph.microsoft.com`).
    #[schemars(with = "Option<String>")]
    pub graph_host: Option<Spanned<String>>,
    /// Overrides the Exchange Online host of the cloud (e.g. `outlook.office365.com`).
    #[schemars(with = "Option<String>")]
    pub exchange_host: Option<Spanned<String>>,
    /// Not allowed: secrets never live in the config. Accepted by the parser only to explain that.
    #[schemars(skip)]
    pub client_secret: Option<Spanned<toml::Value>>,
}

/// `[scope]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    /// SKUs (aliases or part numbers) m365ctl manages exclusively: in-scope users not entitled to one lose it.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub manage_skus: Vec<Spanned<String>>,
    /// `declared` (default): only users declared or matched by a rule. `all`: every user; undeclared users lose managed SKUs.
    #[schemars(with = "Option<String>", extend("enum" = ["declared", "all"]))]
    pub users: Option<Spanned<String>>,
    /// UPNs m365ctl never touches, whatever else the config says (break-glass accounts).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub exclude: Vec<Spanned<String>>,
}

/// `[defaults]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// ISO 3166-1 alpha-2 usage location for in-scope users who have none in the tenant and whose profile or entry sets none; never relocates anyone.
    #[schemars(with = "Option<String>")]
    pub usage_location: Option<Spanned<String>>,
    /// ISO 4217 currency of every `monthly_price` under `[skus]` (e.g. `EUR`).
    #[schemars(with = "Option<String>")]
    pub currency: Option<Spanned<String>>,
}

/// A `[skus]` entry: a part number, or a table with the part number and a monthly price.
#[derive(Debug, Clone)]
pub struct RawSku {
    /// skuPartNumber the alias stands for.
    pub part: Spanned<String>,
    /// Monthly price of one seat, in `[defaults] currency`.
    pub monthly_price: Option<Spanned<RawPrice>>,
}

/// A price as written: a string (exact), an integer, or a float (refused by `load`: a binary
/// float may not hold the price exactly).
#[derive(Debug, Clone, PartialEq)]
pub enum RawPrice {
    /// `"36.00"`.
    Text(String),
    /// `36`.
    Integer(i64),
    /// `36.0`.
    Float(f64),
}

impl<'de> Deserialize<'de> for RawSku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<SkuValue>::deserialize(d)?;
        let span = spanned.span();
        Ok(match spanned.into_inner() {
            SkuValue::Part(part) => RawSku {
                part: Spanned::new(span, part),
                monthly_price: None,
            },
            SkuValue::Table(sku) => sku,
        })
    }
}

/// Helper so the plain string form keeps its span while the table keeps per-key spans.
enum SkuValue {
    Part(String),
    Table(RawSku),
}

impl<'de> Deserialize<'de> for SkuValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SkuValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a SKU part number or { part = \"...\", monthly_price = \"...\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SkuValue, E> {
                Ok(SkuValue::Part(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SkuValue, A::Error> {
                let mut part = None;
                let mut monthly_price = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "part" if part.is_none() => part = Some(map.next_value()?),
                        "monthly_price" if monthly_price.is_none() => {
                            monthly_price = Some(map.next_value()?);
                        }
                        "part" => return Err(serde::de::Error::duplicate_field("part")),
                        "monthly_price" => {
                            return Err(serde::de::Error::duplicate_field("monthly_price"));
                        }
                        other => {
                            return Err(serde::de::Error::unknown_field(
                                other,
                                &["part", "monthly_price"],
                            ));
                        }
                    }
                }
                let part = part.ok_or_else(|| serde::de::Error::missing_field("part"))?;
                Ok(SkuValue::Table(RawSku {
                    part,
                    monthly_price,
                }))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawPrice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawPrice;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a price as a string, e.g. \"36.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawPrice, E> {
                Ok(RawPrice::Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawPrice, E> {
                Ok(RawPrice::Integer(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawPrice, E> {
                Ok(RawPrice::Float(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawSku {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sku".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The skuPartNumber this alias stands for, or a table with it and the monthly price of one seat.",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "part": { "type": "string", "description": "skuPartNumber, e.g. ENTERPRISEPACK." },
                        "monthly_price": {
                            "description": "Price of one seat per month in [defaults] currency, as a decimal string (\"36.00\") or an integer.",
                            "anyOf": [
                                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$" },
                                { "type": "integer", "minimum": 0 }
                            ]
                        }
                    },
                    "required": ["part"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// `[guards]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGuards {
    /// Apply refuses when more than this many users would lose a licence (default 10)...
    pub max_license_removals: Option<usize>,
    /// ...and more than this percentage of managed users would (default 30).
    #[schemars(range(max = 100))]
    pub max_license_removal_percent: Option<u8>,
    /// Apply refuses when more than this many mailboxes would be converted (default 10).
    pub max_mailbox_conversions: Option<usize>,
    /// Approves one mass change in review: the `sha256:…` operations checksum the plan prints when a guard trips. Apply then allows exactly that set of operations, nothing else.
    #[schemars(with = "Option<String>", regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub approve_mass_change: Option<Spanned<String>>,
}

/// `licenses`: a list of SKUs, or `"keep"` to leave the user's licences as they are.
#[derive(Debug, Clone)]
pub enum RawLicenses {
    /// Exactly these managed SKUs.
    List(Vec<Spanned<String>>),
    /// `"keep"`, or another string (reported by `load` with its place).
    Word(Spanned<String>),
}

impl<'de> Deserialize<'de> for RawLicenses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<StringOrList>::deserialize(d)?;
        let span = spanned.span();
        Ok(match spanned.into_inner() {
            StringOrList::List(list) => RawLicenses::List(list),
            StringOrList::Word(word) => RawLicenses::Word(Spanned::new(span, word)),
        })
    }
}

/// Helper so a string keeps its span while a list keeps per-item spans.
enum StringOrList {
    Word(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of SKU aliases or \"keep\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList::Word(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StringOrList, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    list.push(item);
                }
                Ok(StringOrList::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawLicenses {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Licenses".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Exactly these managed SKUs (aliases or part numbers), or \"keep\" to leave the user's licences as they are.",
            "anyOf": [
                { "type": "array", "items": { "type": "string" } },
                { "const": "keep" }
            ]
        })
    }
}

/// Per-SKU disabled service plans: `{ E3 = ["YAMMER_ENTERPRISE"] }`.
pub type RawDisabledPlans = BTreeMap<Spanned<String>, Vec<Spanned<String>>>;

/// A `match` value: one string, or a list meaning "any of".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawMatchValue {
    /// Equal to this (case-insensitive).
    One(String),
    /// Equal to any of these (case-insensitive).
    Any(Vec<String>),
}

/// `[[rules]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Directory attributes that must all match (department, jobTitle, companyName, country, extensionAttribute1..15).
    #[serde(rename = "match")]
    #[schemars(with = "BTreeMap<String, RawMatchValue>")]
    pub matches: Spanned<BTreeMap<Spanned<String>, Spanned<RawMatchValue>>>,
    /// The profile matching users get.
    #[schemars(with = "String")]
    pub profile: Spanned<String>,
    /// Higher wins when several rules match a user (default 0).
    #[serde(default)]
    pub priority: i64,
}

/// `[groups."name"]` or `[groups."object id"]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// Object id (GUID) of the group: pins a name-keyed entry to one group when Entra holds several with this display name (the name must still match).
    #[schemars(with = "Option<String>", extend("pattern" = crate::desired::GUID_PATTERN))]
    pub id: Option<Spanned<String>>,
    /// SKUs assigned to the group (group-based licensing). Omitted = not managed.
    #[schemars(with = "Option<Vec<String>>")]
    pub licenses: Option<Vec<Spanned<String>>>,
    /// Disabled service plans per SKU of the group's licences.
    #[schemars(with = "Option<BTreeMap<String, Vec<String>>>")]
    pub disabled_plans: Option<Spanned<RawDisabledPlans>>,
    /// Exact direct membership (UPNs). Omitted = not managed.
    #[schemars(with = "Option<Vec<String>>")]
    pub members: Option<Vec<Spanned<String>>>,
}
