//! Export: the live tenant written as desired state (TOML), the adoption path that spares
//! an admin typing thousands of users by hand. Written so that resolving it against the same
//! tenant asks for no change: direct assignments become `[users]` entries, group-based
//! licences become `[groups]` entries (never repeated per user), and only SKUs someone holds
//! are put under management.

use crate::tenant::{MailboxType, Sku, Tenant, User};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// What the `[tenant]` table of the exported config says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTenant {
    /// `backend = "snapshot"` reading this file (relative to the config).
    Snapshot {
        /// Snapshot path as it should be written.
        path: String,
    },
    /// `backend = "graph"` with workload identity federation (no secret anywhere).
    Graph {
        /// Entra tenant id or primary domain.
        tenant_id: String,
        /// App registration id.
        client_id: String,
    },
}

/// How to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The `[tenant]` table.
    pub tenant: ExportTenant,
    /// Write users and groups to their own files (`users.toml`, `groups.toml`) next to
    /// `m365ctl.toml`, for a config directory; otherwise one `m365ctl.toml`.
    pub split_files: bool,
}

/// Friendly aliases admins already use for the common part numbers.
const KNOWN_ALIASES: [(&str, &str); 18] = [
    ("ENTERPRISEPACK", "E3"),
    ("ENTERPRISEPREMIUM", "E5"),
    ("STANDARDPACK", "E1"),
    ("DESKLESSPACK", "F3"),
    ("SPE_E3", "M365_E3"),
    ("SPE_E5", "M365_E5"),
    ("SPE_F1", "M365_F3"),
    ("SPB", "BUSINESS_PREMIUM"),
    ("O365_BUSINESS_PREMIUM", "BUSINESS_STANDARD"),
    ("O365_BUSINESS_ESSENTIALS", "BUSINESS_BASIC"),
    ("EXCHANGESTANDARD", "EXO_P1"),
    ("EXCHANGEENTERPRISE", "EXO_P2"),
    ("EXCHANGEDESKLESS", "EXO_KIOSK"),
    ("EXCHANGEESSENTIALS", "EXO_ESSENTIALS"),
    ("EMS", "EMS_E3"),
    ("EMSPREMIUM", "EMS_E5"),
    ("POWER_BI_PRO", "PBI_PRO"),
    ("VISIOCLIENT", "VISIO_P2"),
];

/// Writes the live tenant as config files `(file name, TOML text)`, deterministically.
pub fn to_toml(live: &Tenant, options: ExportOptions) -> Vec<(String, String)> {
    let aliases = aliases(live);
    let by_id: HashMap<&str, &Sku> = live.skus.iter().map(|s| (s.sku_id.as_str(), s)).collect();
    let name_of = |sku_id: &str| {
        by_id
            .get(sku_id)
            .map(|s| aliases[&s.sku_part_number].clone())
    };

    let mut main = String::from(
        "#:schema ./m365ctl.schema.json\n# Exported by `m365ctl export`: the tenant as it is today. Planning this against the\n# same tenant changes nothing; edit it to change the tenant.\n\n",
    );
    write_tenant(&mut main, &options.tenant);
    main.push_str("\n[skus]\n");
    for sku in sorted_skus(live) {
        let alias = &aliases[&sku.sku_part_number];
        writeln!(main, "{} = {}", key(alias), quote(&sku.sku_part_number)).expect("string write");
    }
    let held = held_user_skus(live);
    main.push_str("\n[scope]\n");
    let managed: Vec<String> = sorted_skus(live)
        .filter(|s| s.applies_to == "User" && held.contains(s.sku_id.as_str()))
        .map(|s| quote(&aliases[&s.sku_part_number]))
        .collect();
    writeln!(main, "manage_skus = [{}]", managed.join(", ")).expect("string write");
    main.push_str("users = \"declared\"\n");

    let mut users = String::new();
    let mut sorted: Vec<&User> = live.users.iter().collect();
    sorted.sort_by_key(|u| u.user_principal_name.to_lowercase());
    for user in sorted {
        write_user(&mut users, user, &by_id, &name_of);
    }

    let upn_of: HashMap<&str, &str> = live
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.user_principal_name.as_str()))
        .collect();
    let mut groups = String::new();
    let mut sorted_groups: Vec<_> = live
        .groups
        .iter()
        .filter(|g| !g.licenses.is_empty())
        .collect();
    sorted_groups.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    for group in sorted_groups {
        // A display name several groups share would be ambiguous (and a duplicate TOML key):
        // such groups are keyed by object id, with the name as a comment.
        let shared = live
            .groups
            .iter()
            .filter(|g| g.display_name.eq_ignore_ascii_case(&group.display_name))
            .nth(1)
            .is_some();
        if shared {
            writeln!(
                groups,
                "\n# {}\n[groups.{}]",
                group.display_name.replace(char::is_control, " "),
                key(&group.id)
            )
        } else {
            writeln!(groups, "\n[groups.{}]", key(&group.display_name))
        }
        .expect("string write");
        let names: Vec<String> = group
            .licenses
            .iter()
            .filter_map(|l| name_of(&l.sku_id))
            .collect();
        writeln!(groups, "licenses = [{}]", quoted_list(&names)).expect("string write");
        let disabled = disabled_by_name(
            group
                .licenses
                .iter()
                .map(|l| (l.sku_id.as_str(), l.disabled_plans.as_slice())),
            &by_id,
            &name_of,
        );
        write_disabled(&mut groups, &disabled);
        let mut members: Vec<&str> = group
            .members
            .iter()
            .filter_map(|id| upn_of.get(id.as_str()).copied())
            .collect();
        members.sort_by_key(|m| m.to_lowercase());
        writeln!(groups, "members = [{}]", quoted_list(&members)).expect("string write");
    }

    if options.split_files {
        let mut files = vec![("m365ctl.toml".to_string(), main)];
        if !users.is_empty() {
            files.push(("users.toml".to_string(), users.trim_start().to_string()));
        }
        if !groups.is_empty() {
            files.push(("groups.toml".to_string(), groups.trim_start().to_string()));
        }
        files
    } else {
        main.push_str(&users);
        main.push_str(&groups);
        vec![("m365ctl.toml".to_string(), main)]
    }
}

fn write_tenant(out: &mut String, tenant: &ExportTenant) {
    out.push_str("[tenant]\n");
    match tenant {
        ExportTenant::Snapshot { path } => {
            writeln!(out, "backend = \"snapshot\"\nsnapshot = {}", quote(path))
                .expect("string write");
        }
        ExportTenant::Graph {
            tenant_id,
            client_id,
        } => {
            writeln!(
                out,
                "backend = \"graph\"\ntenant_id = {}\nclient_id = {}\nauth = \"federated\"",
                quote(tenant_id),
                quote(client_id)
            )
            .expect("string write");
        }
    }
}

/// One `[users]` entry for a user with a direct licence or a non-user mailbox.
fn write_user(
    out: &mut String,
    user: &User,
    by_id: &HashMap<&str, &Sku>,
    name_of: &dyn Fn(&str) -> Option<String>,
) {
    // A user's `licenses` are what they should hold, however it is met: a licence inherited
    // from a group is listed too (the planner then assigns nothing directly), while disabled
    // plans are written only for direct assignments (a group's are the group's).
    let held: Vec<_> = user
        .licenses
        .iter()
        .filter(|l| {
            by_id
                .get(l.sku_id.as_str())
                .is_some_and(|s| s.applies_to == "User")
        })
        .collect();
    let direct: Vec<_> = held
        .iter()
        .filter(|l| l.assigned_by_group.is_none())
        .collect();
    let special_mailbox = user
        .mailbox
        .as_ref()
        .is_some_and(|m| m.kind != MailboxType::User);
    if held.is_empty() && !special_mailbox {
        return;
    }
    writeln!(out, "\n[users.{}]", key(&user.user_principal_name)).expect("string write");
    let mut names: Vec<String> = held.iter().filter_map(|l| name_of(&l.sku_id)).collect();
    names.sort();
    names.dedup();
    writeln!(out, "licenses = [{}]", quoted_list(&names)).expect("string write");
    let mut disabled = disabled_by_name(
        direct
            .iter()
            .map(|l| (l.sku_id.as_str(), l.disabled_plans.as_slice())),
        by_id,
        name_of,
    );
    disabled.sort();
    write_disabled(out, &disabled);
    if let Some(location) = &user.usage_location {
        writeln!(out, "usage_location = {}", quote(location)).expect("string write");
    }
    if let Some(mailbox) = &user.mailbox {
        writeln!(out, "mailbox = {}", quote(mailbox.kind.as_str())).expect("string write");
    }
}

/// `(alias, disabled plan names)` for each `(sku id, disabled plan ids)` assignment that
/// disables something, as `disabled_plans` in the config names them.
fn disabled_by_name<'a>(
    assignments: impl Iterator<Item = (&'a str, &'a [String])>,
    by_id: &HashMap<&str, &Sku>,
    name_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, Vec<String>)> {
    assignments
        .filter_map(|(sku_id, disabled)| {
            Some((name_of(sku_id)?, plan_names(by_id.get(sku_id)?, disabled)))
        })
        .filter(|(_, plans)| !plans.is_empty())
        .collect()
}

fn write_disabled(out: &mut String, disabled: &[(String, Vec<String>)]) {
    if disabled.is_empty() {
        return;
    }
    let entries: Vec<String> = disabled
        .iter()
        .map(|(sku, plans)| format!("{} = [{}]", key(sku), quoted_list(plans)))
        .collect();
    writeln!(out, "disabled_plans = {{ {} }}", entries.join(", ")).expect("string write");
}

/// Disabled plan GUIDs -> service plan names, sorted (unknown GUIDs cannot be named and are left out).
fn plan_names(sku: &Sku, ids: &[String]) -> Vec<String> {
    let mut names: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            sku.plan_by_id(id)
                .map(|p| p.service_plan_name.to_ascii_uppercase())
        })
        .collect();
    names.sort();
    names
}

/// SKU ids someone holds by any path.
fn held_user_skus(live: &Tenant) -> BTreeSet<&str> {
    live.users
        .iter()
        .flat_map(|u| u.licenses.iter().map(|l| l.sku_id.as_str()))
        .collect()
}

fn sorted_skus(live: &Tenant) -> impl Iterator<Item = &Sku> {
    let mut skus: Vec<&Sku> = live.skus.iter().collect();
    skus.sort_by(|a, b| a.sku_part_number.cmp(&b.sku_part_number));
    skus.into_iter()
}

/// Alias per part number: the well-known short name, else the part number upper-cased with
/// anything but letters, digits and `_` replaced; made unique.
fn aliases(live: &Tenant) -> BTreeMap<String, String> {
    let known: HashMap<&str, &str> = KNOWN_ALIASES.into_iter().collect();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for sku in sorted_skus(live) {
        let part = &sku.sku_part_number;
        let base = known
            .get(part.to_ascii_uppercase().as_str())
            .map(|s| s.to_string())
            .unwrap_or_else(|| {
                part.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_uppercase()
                        } else {
                            '_'
                        }
                    })
                    .collect()
            });
        let mut alias = base.clone();
        let mut n = 2;
        while !taken.insert(alias.clone()) {
            alias = format!("{base}_{n}");
            n += 1;
        }
        out.insert(part.clone(), alias);
    }
    out
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| quote(s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TOML key, bare when possible.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}
