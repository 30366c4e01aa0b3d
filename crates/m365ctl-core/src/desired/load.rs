//! Validating config texts: TOML -> `Config`, every problem with file:line:column.
//!
//! The shell (`m365ctl::input::load`) reads the files (one file, or a directory of `*.toml`
//! in sorted order) and hands the texts to `from_sources`. Files are parsed one by one; if
//! any has a syntax or shape error, those are reported alone (later checks would only echo
//! them). Otherwise every semantic check runs and all problems are collected, not just the
//! first.

use super::connection::{AuthMode, BackendConfig, GraphSettings};
use super::countries;
use super::declared::Declared;
use super::raw::{
    RawDisabledPlans, RawFile, RawGroup, RawLicenses, RawPrice, RawRule, RawScope, RawTenant,
    RawUser,
};
use super::shape;
use super::suggest;
use super::*;
use crate::cost::{Currency, Money, Prices};
use crate::diag::{Diagnostic, Diagnostics, Origin, SourceMap};
use serde_spanned::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::tenant::USER_ATTRIBUTES as RULE_ATTRIBUTES;

/// The public client `auth = "device-code"` signs in to when the config names none:
/// "Microsoft Graph Command Line Tools", the client Microsoft Graph PowerShell's
/// `Connect-MgGraph` uses, so no app registration is needed for a first, read-only look.
const DEVICE_CODE_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// What `client_id` means with `auth = "azure-cli"`: the Azure CLI's own client, which
/// issued the tokens it hands over.
const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Parses and validates config texts `(file name, text)` merged in order; `base` is the
/// directory relative paths are resolved against when no `[tenant]` table says otherwise.
pub fn from_sources(sources: &[(String, String)], base: &Path) -> Result<Config, Diagnostics> {
    let mut parsed: Vec<Source> = Vec::with_capacity(sources.len());
    let mut errors = Vec::new();
    for (name, text) in sources {
        if let Some(refused) = too_large(name, text.len()) {
            errors.push(refused);
            continue;
        }
        match super::chunked::parse(text, super::chunked::CHUNK_BYTES) {
            Ok(raw) => parsed.push(Source {
                map: SourceMap::new(name, text),
                raw,
            }),
            Err(e) => errors.extend(file_errors(name, text, &e)),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let mut builder = Builder::default();
    builder.collect_names(&parsed);
    // Each file's user entries are handed over by value, so each is freed once built: a
    // 100,000-entry users.toml is never held twice (raw and validated).
    let raw_users = parsed
        .iter_mut()
        .map(|src| std::mem::take(&mut src.raw.users))
        .collect();
    let config = builder.build(&parsed, raw_users, base);
    if builder.diags.is_empty() {
        let mut config = config;
        config.files = sources.iter().map(|(n, _)| PathBuf::from(n)).collect();
        config.warnings = super::settings::ineffective_profiles(&config);
        Ok(config)
    } else {
        Err(Diagnostics(builder.diags))
    }
}

/// A source whose byte positions do not fit an `Origin` (over 4 GiB: not a config).
fn too_large(name: &str, bytes: usize) -> Option<Diagnostic> {
    (bytes > crate::diag::MAX_SOURCE_BYTES).then(|| {
        Diagnostic::error(
            format!("{name} is {bytes} bytes: too large for a config file"),
            Some(Origin::from_span(name, "", 0..0)),
        )
        .with_hint("split the users into several files in the config directory")
    })
}

/// The errors of a file serde refused: its syntax error (the parser's message, at its
/// place), or else every shape error the schema walk finds, in plain words.
fn file_errors(name: &str, text: &str, serde_error: &toml::de::Error) -> Vec<Diagnostic> {
    let root = match toml::de::DeTable::parse(text) {
        Ok(root) => root,
        Err(syntax) => return vec![parse_error(name, text, &syntax)],
    };
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(super::schema::json_schema);
    let found = shape::check(&root, schema);
    if found.is_empty() {
        return vec![parse_error(name, text, serde_error)];
    }
    let map = SourceMap::new(name, text);
    found
        .into_iter()
        .map(|e| {
            let hint = match e.message.strip_prefix("unknown key `") {
                Some(rest) if rest.contains("secret") || rest.contains("password") => {
                    secret_hint().to_string()
                }
                _ => e.hint,
            };
            Diagnostic::error(e.message, Some(map.origin(e.span))).with_hint(hint)
        })
        .collect()
}

/// Turns a toml/serde error into a diagnostic at its span, with a hint for unknown keys.
fn parse_error(name: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let origin = Origin::from_span(name, text, e.span().unwrap_or(0..0));
    let message = shape::plain_types(e.message().trim());
    let hint = unknown_key_hint(&message).unwrap_or_else(|| {
        "see docs/config.md for the language; editors validate with m365ctl.schema.json".into()
    });
    Diagnostic::error(message, Some(origin)).with_hint(hint)
}

/// For serde's "unknown field `x`, expected one of `a`, `b`": the valid keys and a suggestion.
fn unknown_key_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if field.contains("secret") || field.contains("password") {
        return Some(secret_hint().to_string());
    }
    Some(suggest::hint(field, "keys", &valid))
}

/// What to do about a secret that was written into a file (and so maybe committed, pushed
/// and printed in a CI log): it is leaked.
const ROTATE_HINT: &str = "treat it as leaked and rotate it: create a new secret in the app registration \
     (Entra admin center > App registrations > Certificates & secrets), delete this one there, \
     and remove it from the file and from git history";

/// What to write instead of a leaked secret.
const LEAKED_SECRET_FIX: &str = "In the config, name the environment variable that holds the new one \
     (auth = \"secret\", client_secret_env = \"M365CTL_CLIENT_SECRET\"), or use auth = \"federated\" with no secret at all";

fn secret_hint() -> &'static str {
    "secrets never go in the config: set auth = \"secret\" and client_secret_env = \"M365CTL_CLIENT_SECRET\" \
     (the NAME of an environment variable, e.g. a CI secret), or use auth = \"federated\" with no secret at all"
}

/// One parsed file.
pub(super) struct Source<'a> {
    map: SourceMap<'a>,
    raw: RawFile,
}

impl Source<'_> {
    pub(super) fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        self.map.origin(span)
    }
}

/// Accumulates the merged config and every diagnostic.
#[derive(Default)]
pub(super) struct Builder {
    diags: Vec<Diagnostic>,
    aliases: BTreeMap<String, SkuAlias>,
    profile_names: BTreeMap<String, Origin>,
    /// `monthly_price`s as written, checked once `[defaults] currency` is known.
    written_prices: Vec<WrittenPrice>,
    /// Each SKU name written so far (trimmed), with the shared text of it and of its part
    /// number: an exported users.toml names a handful of SKUs 150,000 times.
    sku_names: HashMap<String, (Arc<str>, Arc<str>)>,
}

/// A `monthly_price` under `[skus]` before validation.
struct WrittenPrice {
    part_number: String,
    price: RawPrice,
    origin: Origin,
}

impl Builder {
    pub(super) fn error(
        &mut self,
        message: impl Into<String>,
        origin: Origin,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(message, Some(origin)).with_hint(hint));
    }

    /// `approve_mass_change`: an operations checksum exactly as the plan prints it.
    fn mass_change_approval(
        &mut self,
        src: &Source,
        value: &Spanned<String>,
    ) -> Option<MassChangeApproval> {
        let origin = src.origin(value.span());
        let text = value.get_ref();
        let valid = text.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if !valid {
            self.error(
                format!("approve_mass_change {text:?} is not an operations checksum"),
                origin,
                "copy the `sha256:` followed by 64 hex digits that `m365ctl plan` prints under the guard warning",
            );
            return None;
        }
        Some(MassChangeApproval {
            operations_sha256: text.clone(),
            origin,
        })
    }

    /// First pass: aliases and profile names, which any file may use.
    fn collect_names(&mut self, sources: &[Source]) {
        for src in sources {
            for (alias, sku) in &src.raw.skus {
                let part = &sku.part;
                let origin = src.origin(alias.span());
                if let Some(first) = self.aliases.get(alias.get_ref()) {
                    let hint = format!("first defined at {}", first.origin);
                    self.error(
                        format!("SKU alias `{}` is defined twice", alias.get_ref()),
                        origin,
                        hint,
                    );
                    continue;
                }
                let value = part.get_ref().trim();
                if value.is_empty() {
                    let o = src.origin(part.span());
                    self.error(
                        "empty SKU part number",
                        o,
                        "write the skuPartNumber, e.g. \"ENTERPRISEPACK\"",
                    );
                    continue;
                }
                if let Some(price) = &sku.monthly_price {
                    self.written_prices.push(WrittenPrice {
                        part_number: value.to_ascii_uppercase(),
                        price: price.get_ref().clone(),
                        origin: src.origin(price.span()),
                    });
                }
                self.aliases.insert(
                    alias.get_ref().clone(),
                    SkuAlias {
                        part_number: value.to_ascii_uppercase(),
                        origin,
                    },
                );
            }
            for name in src.raw.profiles.keys() {
                let origin = src.origin(name.span());
                if let Some(first) = self.profile_names.get(name.get_ref()) {
                    let hint = format!("first defined at {first}");
                    self.error(
                        format!("profile `{}` is defined twice", name.get_ref()),
                        origin,
                        hint,
                    );
                    continue;
                }
                self.profile_names.insert(name.get_ref().clone(), origin);
            }
        }
    }

    /// `raw_users` are the files' `[users]` tables, taken out of `sources` in the same order.
    fn build(
        &mut self,
        sources: &[Source],
        raw_users: Vec<BTreeMap<Spanned<String>, RawUser>>,
        base: &Path,
    ) -> Config {
        let mut tenant: Option<(&Source, &Spanned<RawTenant>)> = None;
        let mut scope: Option<(&Source, &Spanned<RawScope>)> = None;
        let mut defaults = None;
        let mut currency = None;
        let mut guards = Guards::default();
        let mut singletons: HashMap<&str, Origin> = HashMap::new();
        let mut profiles = BTreeMap::new();
        let mut rules = Vec::new();
        let mut users: Declared<UserEntry> =
            Declared::with_capacity(raw_users.iter().map(BTreeMap::len).sum());
        let mut groups: BTreeMap<String, GroupEntry> = BTreeMap::new();

        for (src, raw_users) in sources.iter().zip(raw_users) {
            let raw = &src.raw;
            let spans = [
                ("tenant", raw.tenant.as_ref().map(|t| t.span())),
                ("scope", raw.scope.as_ref().map(|t| t.span())),
                ("defaults", raw.defaults.as_ref().map(|t| t.span())),
                ("guards", raw.guards.as_ref().map(|t| t.span())),
            ];
            let mut duplicated = Vec::new();
            for (table, span) in spans {
                let Some(span) = span else { continue };
                let origin = src.origin(span);
                if let Some(first) = singletons.get(table) {
                    let hint = format!("first defined at {first}; keep one [{table}] table");
                    self.error(format!("[{table}] is defined in two places"), origin, hint);
                    duplicated.push(table);
                } else {
                    singletons.insert(table, origin);
                }
            }
            if let Some(t) = &raw.tenant
                && !duplicated.contains(&"tenant")
            {
                tenant = Some((src, t));
            }
            if let Some(s) = &raw.scope
                && !duplicated.contains(&"scope")
            {
                scope = Some((src, s));
            }
            if let Some(d) = &raw.defaults
                && !duplicated.contains(&"defaults")
            {
                if let Some(loc) = &d.get_ref().usage_location {
                    defaults = self.country(src, loc);
                }
                if let Some(code) = &d.get_ref().currency {
                    currency = Some(self.currency(src, code));
                }
            }
            if let Some(g) = &raw.guards
                && !duplicated.contains(&"guards")
            {
                let g = g.get_ref();
                let d = Guards::default();
                guards = Guards {
                    max_license_removals: g.max_license_removals.unwrap_or(d.max_license_removals),
                    max_license_removal_percent: g
                        .max_license_removal_percent
                        .unwrap_or(d.max_license_removal_percent),
                    max_mailbox_conversions: g
                        .max_mailbox_conversions
                        .unwrap_or(d.max_mailbox_conversions),
                    approve_mass_change: g
                        .approve_mass_change
                        .as_ref()
                        .and_then(|a| self.mass_change_approval(src, a)),
                };
                if guards.max_license_removal_percent > 100 {
                    let o = src.origin(raw.guards.as_ref().map(|g| g.span()).unwrap_or(0..0));
                    self.error(
                        "max_license_removal_percent is above 100",
                        o,
                        "use a percentage from 0 to 100",
                    );
                }
            }
            for (name, profile) in &raw.profiles {
                let origin = src.origin(name.span());
                if self.profile_names.get(name.get_ref()) != Some(&origin) {
                    continue; // the duplicate was reported in collect_names
                }
                let settings = self.settings(src, profile.settings());
                profiles.insert(
                    name.get_ref().clone(),
                    Profile {
                        name: name.get_ref().clone(),
                        origin,
                        settings,
                    },
                );
            }
            for rule in &raw.rules {
                if let Some(rule) = self.rule(src, rule) {
                    rules.push(rule);
                }
            }
            for (upn, user) in raw_users {
                let (upn, user) = (&upn, &user);
                let origin = src.origin(upn.span());
                let key = upn.get_ref().trim().to_lowercase();
                if let Some(first) = users.get(&key) {
                    let hint = format!(
                        "first declared at {}; keep one entry per user",
                        first.origin
                    );
                    self.error(
                        format!("user `{}` is declared twice", upn.get_ref()),
                        origin,
                        hint,
                    );
                    continue;
                }
                if !key.contains('@') {
                    self.error(
                        format!("`{}` is not a userPrincipalName", upn.get_ref()),
                        origin.clone(),
                        "users are keyed by UPN, e.g. [users.\"ann@contoso.com\"]",
                    );
                }
                let entry = self.user(src, upn, origin, user);
                users.push(key, entry);
            }
            for (name, group) in &raw.groups {
                let origin = src.origin(name.span());
                if let Some(first) = groups.get(name.get_ref()) {
                    let hint = format!("first declared at {}", first.origin);
                    self.error(
                        format!("group `{}` is declared twice", name.get_ref()),
                        origin,
                        hint,
                    );
                    continue;
                }
                let entry = self.group(src, name, origin, group);
                groups.insert(name.get_ref().clone(), entry);
            }
        }

        let apply_client_id = tenant
            .and_then(|(_, t)| t.get_ref().apply_client_id.as_ref())
            .map(|id| id.get_ref().trim().to_string())
            .filter(|id| !id.is_empty());
        let backend = match tenant {
            Some((src, t)) => self.backend(src, t),
            None => Some(BackendConfig::Snapshot {
                path: base.join("tenant.json"),
            }),
        };
        let scope = match scope {
            Some((src, s)) => self.scope(src, s.get_ref()),
            None => ScopeConfig {
                manage_skus: Vec::new(),
                users: UserScope::Declared,
                exclude: Vec::new(),
            },
        };
        let prices = self.prices(currency);
        Config {
            prices,
            backend: backend.unwrap_or(BackendConfig::Snapshot {
                path: base.join("tenant.json"),
            }),
            apply_client_id,
            files: Vec::new(),
            warnings: Vec::new(),
            tenant_table: tenant.map(|(src, t)| tenant_text(src, t)),
            aliases: self.aliases.clone(),
            scope,
            default_usage_location: defaults,
            guards,
            profiles,
            rules,
            // Built once from the list: a map filled one insert at a time keeps its nodes half
            // empty (71 MB instead of 38 MB for a 100,000-entry users.toml).
            users: users.into_map(),
            groups,
        }
    }

    /// `[defaults] currency`: an ISO 4217 code with a minor unit.
    fn currency(&mut self, src: &Source, code: &Spanned<String>) -> Option<Located<Currency>> {
        let origin = src.origin(code.span());
        match Currency::from_code(code.get_ref()) {
            Some(value) => Some(Located { value, origin }),
            None => {
                self.error(
                    format!("`{}` is not an ISO 4217 currency code", code.get_ref()),
                    origin,
                    "write the three-letter code of the currency you are billed in, e.g. \"EUR\", \"USD\", \"GBP\"",
                );
                None
            }
        }
    }

    /// Validates every `monthly_price` against the currency (`None`: no currency written;
    /// `Some(None)`: an invalid one, already reported). `None` when no price is set.
    fn prices(&mut self, currency: Option<Option<Located<Currency>>>) -> Option<Prices> {
        let written = std::mem::take(&mut self.written_prices);
        let first = written.first()?;
        let Some(currency) = currency else {
            self.error(
                "monthly_price needs a currency",
                first.origin.clone(),
                "set it under [defaults], e.g. currency = \"EUR\" (ISO 4217)",
            );
            return None;
        };
        let currency = currency?;
        let mut monthly: BTreeMap<String, (Money, Origin)> = BTreeMap::new();
        for w in written {
            let money = match &w.price {
                RawPrice::Text(text) => Money::parse_price(text, &currency.value),
                RawPrice::Integer(n) => Money::parse_price(&n.to_string(), &currency.value),
                RawPrice::Float(_) => Err(
                    "a TOML float cannot hold every price exactly: write the price as a string"
                        .to_string(),
                ),
            };
            let money = match money {
                Ok(money) => money,
                Err(message) => {
                    self.error(
                        format!("invalid monthly_price: {message}"),
                        w.origin,
                        format!(
                            "write the price of one seat per month in {} as a string, e.g. monthly_price = \"36.00\"",
                            currency.value.code
                        ),
                    );
                    continue;
                }
            };
            match monthly.get(&w.part_number) {
                Some((other, first)) if *other != money => {
                    let hint = format!("{} is priced {} at {first}", w.part_number, other.plain());
                    self.error(
                        format!("{} has two different monthly prices", w.part_number),
                        w.origin,
                        hint,
                    );
                }
                Some(_) => {}
                None => {
                    monthly.insert(w.part_number, (money, w.origin));
                }
            }
        }
        Some(Prices {
            currency: currency.value,
            monthly: monthly.into_iter().map(|(k, (m, _))| (k, m)).collect(),
        })
    }

    fn backend(&mut self, src: &Source, t: &Spanned<RawTenant>) -> Option<BackendConfig> {
        let table = src.origin(t.span());
        let t = t.get_ref();
        let dir = Path::new(src.map.file())
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if let Some(secret) = &t.client_secret {
            self.error(
                "a secret is written directly in the config",
                src.origin(secret.span()),
                format!("{ROTATE_HINT}. {LEAKED_SECRET_FIX}"),
            );
        }
        let kind = t
            .backend
            .as_ref()
            .map(|b| b.get_ref().as_str())
            .unwrap_or("snapshot");
        match kind {
            "snapshot" => {
                let file = t
                    .snapshot
                    .as_ref()
                    .map(|s| s.get_ref().as_str())
                    .unwrap_or("tenant.json");
                Some(BackendConfig::Snapshot {
                    path: dir.join(file),
                })
            }
            "graph" => self.graph(src, t, table, &dir),
            other => {
                let b = t.backend.as_ref().expect("a non-default kind was written");
                let hint = suggest::hint(other, "backends", &["snapshot", "graph"]);
                self.error(
                    format!("unknown backend `{other}`"),
                    src.origin(b.span()),
                    hint,
                );
                None
            }
        }
    }

    fn graph(
        &mut self,
        src: &Source,
        t: &RawTenant,
        table: Origin,
        dir: &Path,
    ) -> Option<BackendConfig> {
        let required = |field: &Option<Spanned<String>>| {
            field
                .as_ref()
                .map(|f| f.get_ref().trim().to_string())
                .filter(|f| !f.is_empty())
        };
        let tenant_id = required(&t.tenant_id);
        let auth_word = t.auth.as_ref().map(|a| a.get_ref().as_str());
        // A delegated sign-in needs no app registration: the admin signs in to Microsoft's
        // own public client unless the config names another.
        let client_id = required(&t.client_id).or_else(|| match auth_word {
            Some("device-code") => Some(DEVICE_CODE_CLIENT_ID.to_string()),
            Some("azure-cli") => Some(AZURE_CLI_CLIENT_ID.to_string()),
            _ => None,
        });
        if tenant_id.is_none() {
            self.error(
                "the graph backend needs tenant_id",
                table.clone(),
                "add tenant_id = \"contoso.onmicrosoft.com\" (or the tenant GUID) to [tenant]",
            );
        }
        if client_id.is_none() {
            self.error(
                "the graph backend needs client_id",
                table.clone(),
                "add client_id = \"<application (client) id of the app registration>\" to [tenant]",
            );
        }
        let auth = match t.auth.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
            None | Some(("federated", _)) => Some(AuthMode::Federated {
                audience: t
                    .federated_audience
                    .as_ref()
                    .map(|a| a.get_ref().clone())
                    .unwrap_or_else(|| "api://AzureADTokenExchange".into()),
                token_file: t
                    .federated_token_file
                    .as_ref()
                    .map(|f| dir.join(f.get_ref())),
            }),
            Some(("secret", _)) => {
                let env = t
                    .client_secret_env
                    .as_ref()
                    .map(|e| (e.get_ref().as_str(), e.span()))
                    .unwrap_or(("M365CTL_CLIENT_SECRET", 0..0));
                if is_env_name(env.0) && !looks_like_secret(env.0) {
                    Some(AuthMode::Secret {
                        env: env.0.to_string(),
                    })
                } else {
                    self.error(
                        "client_secret_env must be the name of an environment variable (it looks like a secret)",
                        src.origin(env.1),
                        format!("{ROTATE_HINT}. {LEAKED_SECRET_FIX}"),
                    );
                    None
                }
            }
            Some(("device-code", _)) => Some(AuthMode::DeviceCode),
            Some(("azure-cli", _)) => Some(AuthMode::AzureCli),
            Some(("certificate", span)) => match &t.certificate {
                Some(path) => Some(AuthMode::Certificate {
                    path: dir.join(path.get_ref()),
                }),
                None => {
                    self.error(
                        "auth = \"certificate\" needs `certificate`",
                        src.origin(span),
                        "add certificate = \"m365ctl.pem\" (PEM with the certificate and its private key)",
                    );
                    None
                }
            },
            Some((other, span)) => {
                let hint = suggest::hint(
                    other,
                    "auth modes",
                    &[
                        "federated",
                        "certificate",
                        "secret",
                        "device-code",
                        "azure-cli",
                    ],
                );
                self.error(format!("unknown auth `{other}`"), src.origin(span), hint);
                None
            }
        };
        let hosts = self.cloud_hosts(src, t);
        let tenant_id = tenant_id.and_then(|id| self.tenant_id(src, t, id));
        let hosts = hosts?;
        Some(BackendConfig::Graph(GraphSettings {
            tenant_id: tenant_id?,
            client_id: client_id?,
            auth: auth?,
            authority_host: hosts.authority,
            graph_host: hosts.graph,
            exchange_host: hosts.exchange,
        }))
    }

    /// A tenant id goes into the token URL: a GUID or a domain, nothing else.
    fn tenant_id(&mut self, src: &Source, t: &RawTenant, id: String) -> Option<String> {
        if crate::ids::is_tenant_id(&id) {
            return Some(id);
        }
        let span = t.tenant_id.as_ref().map_or(0..0, |s| s.span());
        self.error(
            "tenant_id must be the tenant GUID or a domain such as contoso.onmicrosoft.com",
            src.origin(span),
            "find it in the Entra admin center under Overview (Tenant ID) or Domain names",
        );
        None
    }

    /// The cloud's hosts, each overridable in the config only by another Microsoft host over
    /// https (see `cloud`): credentials are sent there.
    fn cloud_hosts(&mut self, src: &Source, t: &RawTenant) -> Option<CloudUrls> {
        use super::cloud::{self, Cloud, HostRole};
        let defaults = match &t.cloud {
            None => Some(Cloud::Global),
            Some(name) => {
                let found = Cloud::parse(name.get_ref());
                if found.is_none() {
                    let hint = suggest::hint(name.get_ref(), "clouds", &Cloud::names());
                    self.error(
                        format!("unknown cloud `{}`", name.get_ref()),
                        src.origin(name.span()),
                        hint,
                    );
                }
                found
            }
        }?
        .hosts();
        let mut host = |role: HostRole, field: &Option<Spanned<String>>| match field {
            None => Some(format!("https://{}", role.of(&defaults))),
            Some(value) => match cloud::configured_host(role, value.get_ref()) {
                Ok(url) => Some(url),
                Err(message) => {
                    self.error(message, src.origin(value.span()), cloud::host_hint(role));
                    None
                }
            },
        };
        let authority = host(HostRole::Authority, &t.authority_host);
        let graph = host(HostRole::Graph, &t.graph_host);
        let exchange = host(HostRole::Exchange, &t.exchange_host);
        Some(CloudUrls {
            authority: authority?,
            graph: graph?,
            exchange: exchange?,
        })
    }

    fn scope(&mut self, src: &Source, s: &RawScope) -> ScopeConfig {
        let manage_skus = s
            .manage_skus
            .iter()
            .filter_map(|r| self.sku_ref(src, r))
            .collect();
        let users = match s.users.as_ref().map(|u| (u.get_ref().as_str(), u.span())) {
            None | Some(("declared", _)) => UserScope::Declared,
            Some(("all", _)) => UserScope::All,
            Some((other, span)) => {
                let hint = suggest::hint(other, "values", &["declared", "all"]);
                self.error(
                    format!("unknown scope.users `{other}`"),
                    src.origin(span),
                    hint,
                );
                UserScope::Declared
            }
        };
        let exclude = s
            .exclude
            .iter()
            .map(|u| Located {
                value: u.get_ref().trim().to_lowercase(),
                origin: src.origin(u.span()),
            })
            .collect();
        ScopeConfig {
            manage_skus,
            users,
            exclude,
        }
    }

    pub(super) fn licenses(&mut self, src: &Source, l: &RawLicenses) -> Option<LicenseList> {
        match l {
            RawLicenses::List(list) => Some(LicenseList::Exactly(
                list.iter().filter_map(|r| self.sku_ref(src, r)).collect(),
            )),
            RawLicenses::Word(w) if w.get_ref() == "keep" => {
                Some(LicenseList::Keep(src.origin(w.span())))
            }
            RawLicenses::Word(w) => {
                self.error(
                    format!("licenses = \"{}\" is neither a list nor \"keep\"", w.get_ref()),
                    src.origin(w.span()),
                    "write a list of SKUs (licenses = [\"E3\"], or [] for none) or licenses = \"keep\"",
                );
                None
            }
        }
    }

    pub(super) fn disabled_plans(
        &mut self,
        src: &Source,
        d: &RawDisabledPlans,
    ) -> BTreeMap<String, DisabledPlans> {
        let mut out = BTreeMap::new();
        for (sku, plans) in d {
            let Some(sku) = self.sku_ref(src, sku) else {
                continue;
            };
            let plans = plans
                .iter()
                .map(|p| Located {
                    value: p.get_ref().trim().to_ascii_uppercase(),
                    origin: src.origin(p.span()),
                })
                .collect();
            out.insert(sku.part_number.to_string(), DisabledPlans { sku, plans });
        }
        out
    }

    pub(super) fn country(&mut self, src: &Source, c: &Spanned<String>) -> Option<Located<String>> {
        let origin = src.origin(c.span());
        let code = c.get_ref();
        if countries::is_valid(code) {
            return Some(Located {
                value: code.clone(),
                origin,
            });
        }
        let hint = match countries::suggestion(code) {
            Some(fix) => format!(
                "did you mean \"{fix}\"? usage locations are upper-case ISO 3166-1 alpha-2 codes"
            ),
            None => "use an ISO 3166-1 alpha-2 code such as \"GB\", \"US\", \"DE\", \"FR\", \"IN\""
                .to_string(),
        };
        self.error(
            format!("`{code}` is not an ISO 3166-1 alpha-2 country code"),
            origin,
            hint,
        );
        None
    }

    /// Resolves an alias (or accepts a part number) at its place.
    fn sku_ref(&mut self, src: &Source, r: &Spanned<String>) -> Option<SkuRef> {
        let written = r.get_ref().trim();
        let origin = src.origin(r.span());
        if let Some((written, part_number)) = self.sku_names.get(written) {
            return Some(SkuRef {
                written: written.clone(),
                part_number: part_number.clone(),
                origin,
            });
        }
        let part_number = match self.aliases.get(written) {
            Some(alias) => alias.part_number.clone(),
            None if looks_like_part_number(written) => written.to_ascii_uppercase(),
            None => {
                let names: Vec<&str> = self.aliases.keys().map(String::as_str).collect();
                let hint = format!(
                    "{}; or write the skuPartNumber itself, e.g. \"ENTERPRISEPACK\"",
                    suggest::hint(written, "aliases", &names)
                );
                self.error(format!("unknown SKU alias `{written}`"), origin, hint);
                return None;
            }
        };
        let names = (Arc::from(written), Arc::from(part_number));
        self.sku_names.insert(written.to_string(), names.clone());
        Some(SkuRef {
            written: names.0,
            part_number: names.1,
            origin,
        })
    }

    fn rule(&mut self, src: &Source, rule: &Spanned<RawRule>) -> Option<Rule> {
        let r = rule.get_ref();
        let origin = src.origin(r.matches.span());
        let mut ok = true;
        if r.matches.get_ref().is_empty() {
            self.error(
                "rule has an empty `match`",
                origin.clone(),
                "a rule needs at least one attribute, e.g. match = { department = \"Sales\" }",
            );
            ok = false;
        }
        let mut conditions = Vec::new();
        for (key, value) in r.matches.get_ref() {
            let canonical = RULE_ATTRIBUTES
                .iter()
                .find(|a| a.eq_ignore_ascii_case(key.get_ref()));
            let Some(attribute) = canonical else {
                let hint = suggest::hint(key.get_ref(), "attributes", &RULE_ATTRIBUTES);
                self.error(
                    format!("unknown rule attribute `{}`", key.get_ref()),
                    src.origin(key.span()),
                    hint,
                );
                ok = false;
                continue;
            };
            let values = match value.get_ref() {
                super::raw::RawMatchValue::One(v) => vec![v.clone()],
                super::raw::RawMatchValue::Any(vs) => vs.clone(),
            };
            if values.is_empty() {
                self.error(
                    format!("`{attribute}` matches an empty list"),
                    src.origin(value.span()),
                    "list at least one value, or remove the attribute",
                );
                ok = false;
            }
            conditions.push(Condition {
                attribute: attribute.to_string(),
                values: values.iter().map(|v| v.to_lowercase()).collect(),
            });
        }
        ok &= self.check_profile(src, &r.profile);
        ok.then(|| Rule {
            conditions,
            profile: r.profile.get_ref().clone(),
            priority: r.priority,
            origin,
        })
    }

    fn check_profile(&mut self, src: &Source, name: &Spanned<String>) -> bool {
        if self.profile_names.contains_key(name.get_ref()) {
            return true;
        }
        let names: Vec<String> = self.profile_names.keys().cloned().collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let hint = suggest::hint(name.get_ref(), "profiles", &names);
        self.error(
            format!("unknown profile `{}`", name.get_ref()),
            src.origin(name.span()),
            hint,
        );
        false
    }

    fn user(
        &mut self,
        src: &Source,
        upn: &Spanned<String>,
        origin: Origin,
        u: &RawUser,
    ) -> UserEntry {
        let profile = u.profile.as_ref().and_then(|p| {
            self.check_profile(src, p).then(|| Located {
                value: p.get_ref().clone(),
                origin: src.origin(p.span()),
            })
        });
        let settings = self.settings(src, u.settings());
        UserEntry {
            upn: upn.get_ref().trim().to_string(),
            origin,
            profile,
            settings,
        }
    }

    fn group(
        &mut self,
        src: &Source,
        name: &Spanned<String>,
        origin: Origin,
        g: &RawGroup,
    ) -> GroupEntry {
        let key = self.group_key(src, name, g.id.as_ref());
        GroupEntry {
            name: name.get_ref().clone(),
            origin,
            key,
            licenses: g
                .licenses
                .as_ref()
                .map(|l| l.iter().filter_map(|r| self.sku_ref(src, r)).collect()),
            disabled_plans: g
                .disabled_plans
                .as_ref()
                .map(|d| self.disabled_plans(src, d.get_ref())),
            members: g.members.as_ref().map(|m| {
                m.iter()
                    .map(|u| Located {
                        value: u.get_ref().trim().to_string(),
                        origin: src.origin(u.span()),
                    })
                    .collect()
            }),
        }
    }

    /// How a group entry names its group: a GUID key is an object id; `id = "…"` pins a
    /// name key to one object id and must be a GUID itself.
    fn group_key(
        &mut self,
        src: &Source,
        name: &Spanned<String>,
        id: Option<&Spanned<String>>,
    ) -> GroupKey {
        let key_is_id = is_object_id(name.get_ref().trim());
        match id {
            None if key_is_id => GroupKey::Id(name.get_ref().trim().to_ascii_lowercase()),
            None => GroupKey::Name,
            Some(id) if !is_object_id(id.get_ref().trim()) => {
                self.error(
                    format!("`{}` is not a group object id", id.get_ref()),
                    src.origin(id.span()),
                    "an object id is a GUID such as \"3f2b6c1e-8d4a-4c5e-9b7f-0a1d2e3f4a5b\" (Entra admin center > Groups > Object ID)",
                );
                GroupKey::Name
            }
            Some(id) if key_is_id => {
                self.error(
                    "this group is already keyed by its object id",
                    src.origin(id.span()),
                    "remove `id`, or key the entry by the group's display name",
                );
                GroupKey::Id(name.get_ref().trim().to_ascii_lowercase())
            }
            Some(id) => GroupKey::NameWithId(Located {
                value: id.get_ref().trim().to_ascii_lowercase(),
                origin: src.origin(id.span()),
            }),
        }
    }
}

/// The lines of the `[tenant]` table from its header to its last entry, whatever keys it
/// holds (the parsed document's spans, so a key added to the language later is kept too).
fn tenant_text(src: &Source, t: &Spanned<RawTenant>) -> String {
    let text = src.map.source();
    let end = toml::de::DeTable::parse(text)
        .ok()
        .and_then(|root| {
            let tenant = root.get_ref().get("tenant")?;
            tenant
                .get_ref()
                .as_table()?
                .iter()
                .map(|(key, value)| key.span().end.max(value.span().end))
                .max()
        })
        .unwrap_or(t.span().end)
        .max(t.span().start);
    src.map.lines(t.span().start..end).to_string()
}

/// A string that is plausibly a skuPartNumber rather than a misspelt alias: a product in
/// Microsoft's catalog, or an upper-case identifier of four or more characters.
fn looks_like_part_number(s: &str) -> bool {
    crate::catalog::product(s).is_some()
        || (s.len() >= 4
            && s.chars().any(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
}

/// Whether an "environment variable name" is more likely a pasted secret: long and mixing
/// lower case, upper case and digits (names are conventionally UPPER_SNAKE_CASE; Entra
/// secrets are random 40-character strings).
fn looks_like_secret(s: &str) -> bool {
    let has = |f: fn(&char) -> bool| s.chars().any(|c| f(&c));
    let (lower, upper, digit) = (
        has(char::is_ascii_lowercase),
        has(char::is_ascii_uppercase),
        has(char::is_ascii_digit),
    );
    (s.len() >= 16 && lower && upper && digit) || (s.len() >= 32 && lower && digit)
}

/// The three endpoint URLs of a validated `[tenant]`.
struct CloudUrls {
    authority: String,
    graph: String,
    exchange: String,
}

#[cfg(test)]
mod tests {
    /// Sources up to the limit keep exact positions (`Origin` stores `u32`s); one byte more is
    /// refused at 1:1 of the file, never loaded with positions cut short.
    #[test]
    fn a_source_too_large_for_its_positions_is_refused() {
        let limit = crate::diag::MAX_SOURCE_BYTES;
        assert!(
            u32::try_from(limit + 1).is_ok(),
            "the last line and column fit"
        );
        assert_eq!(super::too_large("users.toml", limit), None);
        let refused = super::too_large("users.toml", limit + 1).expect("refused");
        assert!(refused.is_error());
        assert_eq!(
            refused.to_string(),
            format!(
                "users.toml:1:1: error: users.toml is {} bytes: too large for a config file\n  hint: split the users into several files in the config directory",
                limit + 1
            )
        );
    }
}
