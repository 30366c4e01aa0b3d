//! Export: the live tenant written as desired state (TOML) that people can maintain, the
//! adoption path that spares an admin typing thousands of users by hand.
//!
//! The export infers the config a careful admin would write: the licence / disabled-plan /
//! mailbox combinations users share become `[profiles]`, the one directory attribute that best
//! predicts them becomes `[[rules]]`, and `[users]` entries are written only for users the
//! rules do not describe. Resolving the result against the same tenant asks for no change.
//!
//! Managed SKUs are the user SKUs someone holds *directly*: a SKU only ever given by groups is
//! left to its `[groups]` entries, so adding someone to a licence group needs no user edit.

use super::settings::Setting;
use crate::tenant::ops::SignIn;
use crate::tenant::{MailboxType, Sku, Tenant, USER_ATTRIBUTES, User};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// The file holding `[skus]`, `[scope]`, `[defaults]`, `[profiles]` and `[[rules]]`.
pub const LICENSING_FILE: &str = "licensing.toml";
/// The file holding `[users]` entries.
pub const USERS_FILE: &str = "users.toml";
/// The file holding `[groups]` entries.
pub const GROUPS_FILE: &str = "groups.toml";
/// The file holding `[tenant]`, written only when the export directory has none.
pub const TENANT_FILE: &str = "m365ctl.toml";

/// How to export.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportOptions {
    /// The `[tenant]` table's text for a new `m365ctl.toml`; `None` when the export directory
    /// already has the file that connects to the tenant (export never rewrites `[tenant]`).
    pub tenant_table: Option<String>,
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

/// Lines a `[users]` entry costs (header, one setting, blank line) and a `[[rules]]` entry
/// costs (header, match, profile, blank line): what the rule choice minimises.
const ENTRY_LINES: usize = 3;
const RULE_LINES: usize = 4;

/// The name of the offboarding profile every export offers.
const LEAVER: &str = "leaver";

/// What a user holds, as a profile would state it: managed licences (by alias, with the
/// disabled plan names of a direct assignment; empty = not managed), the mailbox type and a
/// blocked sign-in (an allowed one is the default and stays unmanaged).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Holding {
    licenses: Vec<(String, Vec<String>)>,
    mailbox: Option<MailboxType>,
    /// The other settings stated, `(key, value)` in `Setting::ALL` order (`stated`).
    stated: Vec<(&'static str, &'static str)>,
}

impl Holding {
    /// Nothing worth declaring: no managed licence and an ordinary (or no) mailbox. Such users
    /// stay undeclared, and so untouched.
    fn is_plain(&self) -> bool {
        self.licenses.is_empty()
            && matches!(self.mailbox, None | Some(MailboxType::User))
            && self.stated.is_empty()
    }

    fn leaver() -> Holding {
        Holding {
            licenses: Vec::new(),
            mailbox: Some(MailboxType::Shared),
            stated: Vec::new(),
        }
    }
}

/// One `[[rules]]` entry: users whose `attribute` equals `value` get `holding`'s profile.
struct RuleOut {
    attribute: &'static str,
    value: String,
    holding: usize,
    users: usize,
}

/// What the export decided: each user's holding, the rules, who needs an entry, the
/// profiles' names.
struct Inference<'a> {
    /// Users in UPN order.
    users: Vec<&'a User>,
    /// Distinct holdings, in order of first appearance.
    holdings: Vec<Holding>,
    /// Per user (same order as `users`), the index of their holding.
    user_holding: Vec<usize>,
    rules: Vec<RuleOut>,
    /// Per user, the rule that matches them.
    ruled: Vec<Option<usize>>,
    /// Users (indices, ascending) the rules do not describe exactly.
    entries: Vec<usize>,
    /// Holdings that are profiles, by name.
    names: BTreeMap<usize, String>,
    /// Declared users (by rule or entry) per holding.
    counts: HashMap<usize, usize>,
}

impl Inference<'_> {
    fn declared(&self, i: usize) -> bool {
        self.ruled[i].is_some() || self.entries.binary_search(&i).is_ok()
    }
}

/// Writes the live tenant as config files `(file name, TOML text)`, deterministically.
pub fn to_toml(live: &Tenant, options: ExportOptions) -> Vec<(String, String)> {
    let aliases = aliases(live);
    let by_id: HashMap<&str, &Sku> = live.skus.iter().map(|s| (s.sku_id.as_str(), s)).collect();
    let alias_of = |sku_id: &str| {
        by_id
            .get(sku_id)
            .map(|s| aliases[&s.sku_part_number].clone())
    };
    let managed = managed_skus(live, &by_id);
    let inference = infer(live, &by_id, &managed, &alias_of);

    let mut files = Vec::new();
    if let Some(table) = &options.tenant_table {
        let mut main = header(
            "How m365ctl reaches the tenant. The rest of the config is in the other .toml files\n\
             # of this directory, which m365ctl merges.",
        );
        main.push('\n');
        main.push_str(table.trim_end());
        main.push('\n');
        files.push((TENANT_FILE.to_string(), main));
    }
    files.push((
        LICENSING_FILE.to_string(),
        licensing_file(live, &aliases, &managed, &inference),
    ));
    let users_text = users_entries(&inference);
    if !users_text.is_empty() {
        let mut text = header(
            "Users the rules in licensing.toml do not describe exactly, one entry each.\n\
             # An entry wins over the rules; `profile = \"leaver\"` offboards someone.",
        );
        text.push_str(&users_text);
        files.push((USERS_FILE.to_string(), text));
    }
    let groups_text = groups(live, &by_id, &alias_of);
    if !groups_text.is_empty() {
        let mut text = header(
            "Licence groups: the licences each assigns and its exact membership (one UPN a line).",
        );
        text.push_str(&groups_text);
        files.push((GROUPS_FILE.to_string(), text));
    }
    files
}

/// Holdings per user, the rules, the entries for everyone the rules miss, and the profiles.
fn infer<'a>(
    live: &'a Tenant,
    by_id: &HashMap<&str, &Sku>,
    managed: &BTreeSet<&str>,
    alias_of: &dyn Fn(&str) -> Option<String>,
) -> Inference<'a> {
    let mut users: Vec<&User> = live.users.iter().collect();
    users.sort_by_key(|u| u.user_principal_name.to_lowercase());
    let mut holdings: Vec<Holding> = Vec::new();
    let mut interned: HashMap<Holding, usize> = HashMap::new();
    let user_holding: Vec<usize> = users
        .iter()
        .map(|u| {
            let h = holding(u, by_id, managed, alias_of);
            *interned.entry(h.clone()).or_insert_with(|| {
                holdings.push(h);
                holdings.len() - 1
            })
        })
        .collect();
    let plain: Vec<bool> = holdings.iter().map(Holding::is_plain).collect();

    let (rules, ruled) = choose_rules(&users, &user_holding, &plain);
    let entries: Vec<usize> = (0..users.len())
        .filter(|&i| match ruled[i] {
            Some(r) => rules[r].holding != user_holding[i],
            None => !plain[user_holding[i]],
        })
        .collect();

    // Profiles: every holding a rule names, and every holding two entries share.
    let mut uses: BTreeMap<usize, usize> = BTreeMap::new();
    for &i in &entries {
        *uses.entry(user_holding[i]).or_default() += 1;
    }
    let mut profiled: BTreeSet<usize> = rules.iter().map(|r| r.holding).collect();
    profiled.extend(uses.iter().filter(|(_, n)| **n >= 2).map(|(h, _)| *h));
    let names = profile_names(&holdings, &profiled);
    let mut inference = Inference {
        users,
        holdings,
        user_holding,
        rules,
        ruled,
        entries,
        names,
        counts: HashMap::new(),
    };
    for i in 0..inference.users.len() {
        if inference.declared(i) {
            *inference
                .counts
                .entry(inference.user_holding[i])
                .or_default() += 1;
        }
    }
    inference
}

/// `licensing.toml`: aliases, scope, defaults, profiles (most used first), rules.
fn licensing_file(
    live: &Tenant,
    aliases: &BTreeMap<String, String>,
    managed: &BTreeSet<&str>,
    inference: &Inference<'_>,
) -> String {
    let mut out = header(
        "Exported by `m365ctl export`: SKU aliases, what m365ctl manages, the licence and mailbox\n\
         # combinations users share (profiles) and the attribute that predicts them (rules).\n\
         # Planning this directory against the tenant it was exported from changes nothing.",
    );
    out.push_str("\n[skus]\n");
    for sku in sorted_skus(live) {
        let alias = &aliases[&sku.sku_part_number];
        writeln!(out, "{} = {}", key(alias), quote(&sku.sku_part_number)).expect("string write");
    }
    out.push_str(
        "\n# SKUs someone holds directly. m365ctl removes them from declared users who should not\n\
         # hold them; SKUs given only by groups are managed through [groups].\n[scope]\n",
    );
    let managed_aliases: Vec<String> = sorted_skus(live)
        .filter(|s| managed.contains(s.sku_id.as_str()))
        .map(|s| aliases[&s.sku_part_number].clone())
        .collect();
    writeln!(out, "manage_skus = {}", list(&managed_aliases)).expect("string write");
    out.push_str("users = \"declared\"\n");
    let declared_without_location = (0..inference.users.len())
        .any(|i| inference.declared(i) && inference.users[i].usage_location.is_none());
    write_defaults(&mut out, live, declared_without_location);
    write_profiles(&mut out, inference);
    write_rules(&mut out, inference);
    out
}

fn write_profiles(out: &mut String, inference: &Inference<'_>) {
    let count = |h: &usize| inference.counts.get(h).copied().unwrap_or(0);
    let mut by_use: Vec<usize> = inference.names.keys().copied().collect();
    by_use.sort_by_key(|h| (std::cmp::Reverse(count(h)), &inference.names[h]));
    for h in by_use {
        let n = count(&h);
        writeln!(
            out,
            "\n[profiles.{}]   # {n} user{}",
            key(&inference.names[&h]),
            if n == 1 { "" } else { "s" }
        )
        .expect("string write");
        write_holding(out, &inference.holdings[h]);
    }
    if !inference.names.values().any(|n| n == LEAVER) {
        out.push_str(
            "\n# Offboarding: the mailbox is converted to shared first, then the licences go.\n",
        );
        writeln!(out, "[profiles.{LEAVER}]").expect("string write");
        write_holding(out, &Holding::leaver());
    }
}

/// One rule per profile: the values that lead to it are "any of" one `match`.
fn write_rules(out: &mut String, inference: &Inference<'_>) {
    let rules = &inference.rules;
    let mut exceptions = vec![0usize; rules.len()];
    for &i in &inference.entries {
        if let Some(r) = inference.ruled[i] {
            exceptions[r] += 1;
        }
    }
    let mut merged: Vec<(usize, Vec<&str>, usize, usize)> = Vec::new();
    for (rule, exceptions) in rules.iter().zip(exceptions) {
        match merged.iter_mut().find(|m| m.0 == rule.holding) {
            Some(m) => {
                m.1.push(&rule.value);
                m.2 += rule.users;
                m.3 += exceptions;
            }
            None => merged.push((rule.holding, vec![&rule.value], rule.users, exceptions)),
        }
    }
    let attribute = rules.first().map(|r| r.attribute).unwrap_or_default();
    for (holding, values, users, exceptions) in merged {
        writeln!(
            out,
            "\n[[rules]]   # {users} user{}{}",
            if users == 1 { "" } else { "s" },
            if exceptions > 0 {
                format!("; {exceptions} more have their own entry in {USERS_FILE}")
            } else {
                String::new()
            }
        )
        .expect("string write");
        let value = match values.as_slice() {
            [one] => quote(one),
            many => format!(
                "[{}]",
                many.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ")
            ),
        };
        writeln!(
            out,
            "match = {{ {attribute} = {value} }}\nprofile = {}",
            quote(&inference.names[&holding])
        )
        .expect("string write");
    }
}

/// `[users]` entries: the profile's name, or the fields of a combination only they have.
fn users_entries(inference: &Inference<'_>) -> String {
    let mut out = String::new();
    for &i in &inference.entries {
        let upn = &inference.users[i].user_principal_name;
        writeln!(out, "\n[users.{}]", key(upn)).expect("string write");
        let h = inference.user_holding[i];
        match inference.names.get(&h) {
            Some(name) => writeln!(out, "profile = {}", quote(name)).expect("string write"),
            None => write_holding(&mut out, &inference.holdings[h]),
        }
    }
    out
}

fn header(comment: &str) -> String {
    format!("#:schema ./m365ctl.schema.json\n# {comment}\n")
}

/// `[defaults] usage_location`: the most common location, which fills in for new joiners.
/// Written only when no declared user lacks one (it would set theirs: the plan would not be
/// empty); otherwise shown as a comment.
fn write_defaults(out: &mut String, live: &Tenant, declared_without_location: bool) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for user in &live.users {
        if let Some(location) = &user.usage_location {
            *counts.entry(location.as_str()).or_default() += 1;
        }
    }
    let Some((common, _)) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
    else {
        return;
    };
    out.push_str("\n# Fills in a usage location for declared users that have none (never relocates anyone).\n");
    if declared_without_location {
        out.push_str(
            "# Commented out: some declared users have no usage location today and would get it.\n# ",
        );
    }
    writeln!(out, "[defaults]").expect("string write");
    if declared_without_location {
        out.push_str("# ");
    }
    writeln!(out, "usage_location = {}", quote(common)).expect("string write");
}

/// User SKUs someone holds directly, by id.
fn managed_skus<'a>(live: &'a Tenant, by_id: &HashMap<&str, &Sku>) -> BTreeSet<&'a str> {
    live.users
        .iter()
        .flat_map(|u| u.licenses.iter())
        .filter(|l| l.assigned_by_group.is_none())
        .filter(|l| {
            by_id
                .get(l.sku_id.as_str())
                .is_some_and(|s| s.applies_to == "User")
        })
        .map(|l| l.sku_id.as_str())
        .collect()
}

/// A user's holding. Licences are what they hold of the managed SKUs by any path (an
/// inherited one is listed so that the planner keeps it, assigning nothing directly);
/// disabled plans are those of a direct assignment (a group's are the group's).
fn holding(
    user: &User,
    by_id: &HashMap<&str, &Sku>,
    managed: &BTreeSet<&str>,
    alias_of: &dyn Fn(&str) -> Option<String>,
) -> Holding {
    let mut licenses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &user.licenses {
        if !managed.contains(l.sku_id.as_str()) {
            continue;
        }
        let Some(alias) = alias_of(&l.sku_id) else {
            continue;
        };
        let disabled = licenses.entry(alias).or_default();
        if l.assigned_by_group.is_none()
            && let Some(sku) = by_id.get(l.sku_id.as_str())
        {
            *disabled = plan_names(sku, &l.disabled_plans);
        }
    }
    // A resource mailbox holding licences (through a group, say) cannot be stated as such:
    // the language refuses licences on room and equipment mailboxes, so its mailbox type is
    // left unmanaged.
    let mailbox = user.mailbox.as_ref().map(|m| m.kind).filter(|kind| {
        licenses.is_empty() || !matches!(kind, MailboxType::Room | MailboxType::Equipment)
    });
    Holding {
        licenses: licenses.into_iter().collect(),
        mailbox,
        stated: Setting::ALL
            .iter()
            .filter_map(|&setting| {
                let value = stated(setting)?(user)?;
                Some((setting.key(), value))
            })
            .collect(),
    }
}

/// How export states a setting besides licences, disabled plans and mailbox (which `holding`
/// derives with the SKUs): the value to write for a live user, if any. Every setting named:
/// a new one says whether export states it, so the exported config still plans empty.
fn stated(setting: Setting) -> Option<fn(&User) -> Option<&'static str>> {
    match setting {
        Setting::Licenses | Setting::DisabledPlans | Setting::Mailbox => None,
        // The most common one goes to `[defaults]` (`write_defaults`), which only fills in
        // missing locations: never stated per profile.
        Setting::UsageLocation => None,
        // A blocked account (a leaver, a shared mailbox's); an allowed one is the default and
        // stays unmanaged.
        Setting::SignIn => Some(|user| (!user.account_enabled).then_some(SignIn::Blocked.as_str())),
    }
}

/// Picks the one attribute whose values best predict holdings (fewest lines written) and a
/// rule per value where that pays. Returns the rules and, per user, the rule that matches.
fn choose_rules(
    users: &[&User],
    holding: &[usize],
    plain: &[bool],
) -> (Vec<RuleOut>, Vec<Option<usize>>) {
    let declared = holding.iter().filter(|&&h| !plain[h]).count();
    let no_rules_cost = declared * ENTRY_LINES;
    let mut best: Option<(usize, Vec<RuleOut>, Vec<Option<usize>>)> = None;
    for attribute in USER_ATTRIBUTES {
        // Values compared as the resolver does: trimmed, case-insensitively.
        let mut values: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
        for (i, user) in users.iter().enumerate() {
            let Some(value) = user.attribute(attribute).map(str::trim) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            values
                .entry(value.to_lowercase())
                .or_insert_with(|| (value.to_string(), Vec::new()))
                .1
                .push(i);
        }
        if values.is_empty() {
            continue;
        }
        let mut cost = no_rules_cost;
        let mut rules = Vec::new();
        let mut ruled = vec![None; users.len()];
        for (written, members) in values.into_values() {
            let mut tally: BTreeMap<usize, usize> = BTreeMap::new();
            for &i in &members {
                if !plain[holding[i]] {
                    *tally.entry(holding[i]).or_default() += 1;
                }
            }
            let Some((&top, &count)) = tally
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            else {
                continue;
            };
            let declared_here = tally.values().sum::<usize>();
            let with_rule = RULE_LINES + (members.len() - count) * ENTRY_LINES;
            let without = declared_here * ENTRY_LINES;
            if count < 2 || with_rule >= without {
                continue;
            }
            cost = cost + with_rule - without;
            for &i in &members {
                ruled[i] = Some(rules.len());
            }
            rules.push(RuleOut {
                attribute,
                value: written,
                holding: top,
                users: count,
            });
        }
        if !rules.is_empty() && best.as_ref().is_none_or(|(c, _, _)| cost < *c) {
            best = Some((cost, rules, ruled));
        }
    }
    match best {
        Some((cost, rules, ruled)) if cost < no_rules_cost => (rules, ruled),
        _ => (Vec::new(), vec![None; users.len()]),
    }
}

/// Names for the profiled holdings: the licence aliases (`e3-ems`), `unlicensed`, a mailbox
/// other than user (`-shared`), `-custom` when plans are disabled; made unique. The empty
/// holding with a shared mailbox is the `leaver` profile.
fn profile_names(holdings: &[Holding], profiled: &BTreeSet<usize>) -> BTreeMap<usize, String> {
    let mut ordered: Vec<usize> = profiled.iter().copied().collect();
    ordered.sort_by(|a, b| holdings[*a].cmp(&holdings[*b]));
    let mut taken = BTreeSet::new();
    let mut names = BTreeMap::new();
    for h in ordered {
        let holding = &holdings[h];
        let base = if *holding == Holding::leaver() {
            LEAVER.to_string()
        } else {
            let mut base = if holding.licenses.is_empty() {
                "unlicensed".to_string()
            } else {
                holding
                    .licenses
                    .iter()
                    .map(|(alias, _)| alias.to_lowercase().replace('_', "-"))
                    .collect::<Vec<_>>()
                    .join("-")
            };
            if holding.licenses.iter().any(|(_, d)| !d.is_empty()) {
                base.push_str("-custom");
            }
            if let Some(kind) = holding.mailbox.filter(|k| *k != MailboxType::User) {
                base.push('-');
                base.push_str(kind.as_str());
            }
            for (_, value) in &holding.stated {
                base.push('-');
                base.push_str(value);
            }
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) || (name == LEAVER && *holding != Holding::leaver()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.insert(h, name);
    }
    names
}

/// `licenses`, `disabled_plans.SKU`, `mailbox` and the other stated settings' lines stating
/// a holding.
fn write_holding(out: &mut String, holding: &Holding) {
    let aliases: Vec<&str> = holding.licenses.iter().map(|(a, _)| a.as_str()).collect();
    writeln!(out, "licenses = {}", list(&aliases)).expect("string write");
    for (alias, plans) in &holding.licenses {
        if !plans.is_empty() {
            writeln!(out, "disabled_plans.{} = {}", key(alias), list(plans)).expect("string write");
        }
    }
    if let Some(kind) = holding.mailbox {
        writeln!(out, "mailbox = {}", quote(kind.as_str())).expect("string write");
    }
    for (setting, value) in &holding.stated {
        writeln!(out, "{setting} = {}", quote(value)).expect("string write");
    }
}

/// `[groups]` entries for the groups that carry licences.
fn groups(
    live: &Tenant,
    by_id: &HashMap<&str, &Sku>,
    alias_of: &dyn Fn(&str) -> Option<String>,
) -> String {
    let upn_of: HashMap<&str, &str> = live
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.user_principal_name.as_str()))
        .collect();
    let mut out = String::new();
    let mut sorted: Vec<_> = live
        .groups
        .iter()
        .filter(|g| !g.licenses.is_empty())
        .collect();
    sorted.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    for group in sorted {
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
                out,
                "\n# {}\n[groups.{}]",
                group.display_name.replace(char::is_control, " "),
                key(&group.id)
            )
        } else {
            writeln!(out, "\n[groups.{}]", key(&group.display_name))
        }
        .expect("string write");
        let names: Vec<String> = group
            .licenses
            .iter()
            .filter_map(|l| alias_of(&l.sku_id))
            .collect();
        writeln!(out, "licenses = {}", list(&names)).expect("string write");
        for l in &group.licenses {
            let (Some(alias), Some(sku)) = (alias_of(&l.sku_id), by_id.get(l.sku_id.as_str()))
            else {
                continue;
            };
            let plans = plan_names(sku, &l.disabled_plans);
            if !plans.is_empty() {
                writeln!(out, "disabled_plans.{} = {}", key(&alias), list(&plans))
                    .expect("string write");
            }
        }
        let mut members: Vec<&str> = group
            .members
            .iter()
            .filter_map(|id| upn_of.get(id.as_str()).copied())
            .collect();
        members.sort_by_key(|m| m.to_lowercase());
        writeln!(out, "members = {}", list(&members)).expect("string write");
    }
    out
}

/// Disabled plan GUIDs -> service plan names, sorted. When one of them is not a plan of the
/// SKU (it cannot be named), none are written: the SKU's disabled plans stay unmanaged,
/// because a partial list would ask to enable the plan that could not be named.
fn plan_names(sku: &Sku, ids: &[String]) -> Vec<String> {
    let named: Option<Vec<String>> = ids
        .iter()
        .map(|id| {
            sku.plan_by_id(id)
                .map(|p| p.service_plan_name.to_ascii_uppercase())
        })
        .collect();
    let mut names = named.unwrap_or_default();
    names.sort();
    names.dedup();
    names
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

/// A TOML array: inline when it has at most one element, otherwise one element per line so
/// that adding or removing one is a one-line diff.
fn list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => "[]".to_string(),
        [one] => format!("[{}]", quote(one.as_ref())),
        many => {
            let mut out = String::from("[\n");
            for item in many {
                writeln!(out, "    {},", quote(item.as_ref())).expect("string write");
            }
            out.push(']');
            out
        }
    }
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
