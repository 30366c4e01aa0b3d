//! Expansion of a `Config` against the live tenant into the planner's `DesiredState`.
//!
//! Pure and linear in users x rules: live users are indexed by lower-case UPN once (without
//! a copy of each UPN, `upns`), each profile is expanded once, and rule values are lower-cased
//! at load time. Every error names the config place that caused it; all of them are collected.

use super::settings::{Inherited, inherit};
use super::suggest;
use super::upns::UpnIndex;
use super::*;
use crate::diag::{Diagnostic, Diagnostics, Origin};
use crate::tenant::{Group, Sku, Tenant, User};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// How many users a rule-conflict message names before summarising.
const CONFLICT_EXAMPLES: usize = 5;

/// How many misspelt UPNs of one run get a "did you mean" (each costs a pass over the users).
const UPN_SUGGESTIONS: usize = 20;

/// Expands profiles, rules and defaults against the live users and checks the config against
/// the tenant (SKUs owned, plans that exist). Returns the desired state and warnings.
pub fn resolve(
    config: &Config,
    live: &Tenant,
) -> Result<(DesiredState, Vec<Diagnostic>), Diagnostics> {
    resolve_entries(config, Entries::Borrowed(&config.users), live)
}

/// `resolve` for a caller that reads no `[users]` entry afterwards (`plan`): it takes them
/// out of `config` and frees each one as soon as it is resolved, so the entries and the
/// desired users they become are never all alive at once (at 100,000 exported entries they
/// were, with the tenant: the plan's peak). The same desired state and diagnostics.
pub fn resolve_taking_users(
    config: &mut Config,
    live: &Tenant,
) -> Result<(DesiredState, Vec<Diagnostic>), Diagnostics> {
    let users = std::mem::take(&mut config.users);
    resolve_entries(config, Entries::Taken(users), live)
}

fn resolve_entries(
    config: &Config,
    entries: Entries<'_>,
    live: &Tenant,
) -> Result<(DesiredState, Vec<Diagnostic>), Diagnostics> {
    let mut r = Resolver::new(config, live);
    let state = r.run(entries);
    if r.diags.iter().any(Diagnostic::is_error) {
        Err(Diagnostics(r.diags))
    } else {
        Ok((state, r.diags))
    }
}

/// The `[users]` entries being resolved: the config's own (left as they are) or taken from it
/// (each freed once resolved).
enum Entries<'c> {
    Borrowed(&'c BTreeMap<String, UserEntry>),
    Taken(BTreeMap<String, UserEntry>),
}

impl Entries<'_> {
    fn values(&self) -> impl Iterator<Item = &UserEntry> {
        match self {
            Entries::Borrowed(map) => map.values(),
            Entries::Taken(map) => map.values(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Entries::Borrowed(map) => map.len(),
            Entries::Taken(map) => map.len(),
        }
    }

    /// Every entry with its key, in key order; a taken entry is dropped once `each` returns.
    fn for_each(self, mut each: impl FnMut(String, &UserEntry)) {
        match self {
            Entries::Borrowed(map) => map.iter().for_each(|(k, e)| each(k.clone(), e)),
            Entries::Taken(map) => map.into_iter().for_each(|(k, e)| each(k, &e)),
        }
    }
}

struct Resolver<'a> {
    config: &'a Config,
    live: &'a Tenant,
    skus: HashMap<String, &'a Sku>,
    managed: BTreeSet<String>,
    warned_skus: HashSet<String>,
    /// Places of `disabled_plans` entries already reported as having no effect (a profile's
    /// entry is reported once, not once per user).
    no_effect_reported: HashSet<Origin>,
    /// Places of `disabled_plans` entries that applied to at least one user's licence.
    applied: HashSet<Origin>,
    /// A profile's `disabled_plans` entries that did not apply to some user, with that user
    /// and why: a no-op only if they apply to none of the profile's users.
    profile_misses: Vec<(DisabledPlans, String)>,
    upn_searches: usize,
    diags: Vec<Diagnostic>,
}

impl<'a> Resolver<'a> {
    fn new(config: &'a Config, live: &'a Tenant) -> Resolver<'a> {
        Resolver {
            config,
            live,
            skus: live
                .skus
                .iter()
                .map(|s| (s.sku_part_number.to_ascii_uppercase(), s))
                .collect(),
            managed: BTreeSet::new(),
            warned_skus: HashSet::new(),
            no_effect_reported: HashSet::new(),
            applied: HashSet::new(),
            profile_misses: Vec::new(),
            upn_searches: 0,
            diags: Vec::new(),
        }
    }

    fn error(&mut self, message: String, origin: &Origin, hint: String) {
        self.diags
            .push(Diagnostic::error(message, Some(origin.clone())).with_hint(hint));
    }

    fn run(&mut self, entries: Entries<'_>) -> DesiredState {
        let config = self.config;
        for sku in &config.scope.manage_skus {
            if self.owned(sku).is_some() {
                self.managed.insert(sku.part_number.to_string());
            }
        }
        for profile in config.profiles.values() {
            self.check_settings(&profile.settings, "profile");
        }
        for entry in entries.values() {
            self.check_settings(&entry.settings, "user entry");
        }

        let users_by_upn = UpnIndex::new(&self.live.users);
        let excluded: HashSet<&str> = config
            .scope
            .exclude
            .iter()
            .map(|e| e.value.as_str())
            .collect();
        let default_location = config
            .default_usage_location
            .as_ref()
            .map(|l| l.value.clone());

        // Collected into a list and built into the map once (a map filled one insert at a
        // time keeps its nodes half empty, and was then rebuilt: both alive at once). A later
        // user of the same key replaces an earlier one, as inserting did.
        let mut users: Vec<(String, DesiredUser)> = Vec::with_capacity(entries.len());
        // Keys of entries that became no desired user (unknown or excluded): with the
        // declared users at the front of `users`, every declared key, in key order.
        let mut skipped: Vec<String> = Vec::new();
        entries.for_each(|key, entry| {
            let Some(live_user) = users_by_upn.get(&key) else {
                let hint = self.similar_upn_hint(&key, &users_by_upn);
                self.error(
                    format!("user `{}` does not exist in the tenant", entry.upn),
                    &entry.origin,
                    hint,
                );
                skipped.push(key);
                return;
            };
            if excluded.contains(key.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        format!("user `{}` is declared but listed in scope.exclude: it is left untouched", entry.upn),
                        Some(entry.origin.clone()),
                    )
                    .with_hint("remove the entry or the exclusion"),
                );
                skipped.push(key);
                return;
            }
            let profile = entry
                .profile
                .as_ref()
                .and_then(|p| config.profiles.get(&p.value));
            let (mut user, merged) =
                expand(&entry.upn, &entry.origin, profile, Some(&entry.settings));
            self.record_disabled(&merged, &user, &format!("user `{}`", entry.upn));
            fill_default_location(&mut user, live_user, default_location.as_deref());
            users.push((key, user));
        });
        let declared_users = users.len();
        let is_declared = |users: &[(String, DesiredUser)], key: &str| {
            users[..declared_users]
                .binary_search_by(|(k, _)| k.as_str().cmp(key))
                .is_ok()
                || skipped.binary_search_by(|k| k.as_str().cmp(key)).is_ok()
        };

        let templates: HashMap<&str, (DesiredUser, Vec<MergedDisabled>)> = config
            .profiles
            .values()
            .map(|p| (p.name.as_str(), expand("", &p.origin, Some(p), None)))
            .collect();
        let mut matched = vec![0usize; config.rules.len()];
        let mut conflicts: BTreeMap<(usize, usize), Vec<&str>> = BTreeMap::new();
        for user in &self.live.users {
            let key = user.user_principal_name.to_lowercase();
            if excluded.contains(key.as_str()) || is_declared(&users, &key) {
                continue;
            }
            match best_rule(&config.rules, user, &mut matched) {
                Winner::None => {
                    if config.scope.users == UserScope::All {
                        users.push((
                            key,
                            DesiredUser::without_managed_licenses(user.user_principal_name.clone()),
                        ));
                    }
                }
                Winner::Rule(i) => {
                    let rule = &config.rules[i];
                    let mut desired = templates[rule.profile.as_str()].0.clone();
                    desired.upn = user.user_principal_name.clone();
                    desired.origin = Some(rule.origin.clone());
                    fill_default_location(&mut desired, user, default_location.as_deref());
                    users.push((key, desired));
                }
                Winner::Conflict(a, b) => conflicts
                    .entry((a, b))
                    .or_default()
                    .push(&user.user_principal_name),
            }
        }
        for ((a, b), upns) in conflicts {
            self.conflict(a, b, &upns);
        }
        for (rule, count) in config.rules.iter().zip(&matched) {
            if *count > 0 {
                let (template, merged) = &templates[rule.profile.as_str()];
                let who = format!("the users the rule at {} matches", rule.origin);
                self.record_disabled(merged, template, &who);
            }
            if *count == 0 {
                self.diags.push(
                    Diagnostic::warning(
                        format!("rule for profile `{}` matches no user", rule.profile),
                        Some(rule.origin.clone()),
                    )
                    .with_hint("check the attribute values against the tenant (matching is case-insensitive equality)"),
                );
            }
        }

        self.report_profile_misses();
        let groups = self.groups(&users_by_upn);
        DesiredState {
            scope: Scope {
                managed_skus: self.managed.clone(),
                users: config.scope.users,
            },
            // Built once from the list (declared users, then the live users rules match): the
            // last of equal keys wins, as inserting them one by one into the map did.
            users: users.into_iter().collect(),
            groups,
            guards: config.guards.clone(),
        }
    }

    /// The tenant's SKU for a reference, or an error (and a warning when it is not Enabled).
    fn owned(&mut self, sku: &SkuRef) -> Option<&'a Sku> {
        let Some(found) = self.skus.get(&*sku.part_number).copied() else {
            let mut owned: Vec<&str> = self
                .live
                .skus
                .iter()
                .map(|s| s.sku_part_number.as_str())
                .collect();
            owned.sort_unstable();
            let hint = format!(
                "the tenant has: {}",
                if owned.is_empty() {
                    "no SKUs".to_string()
                } else {
                    owned.join(", ")
                }
            );
            let what = if sku.written == sku.part_number {
                format!("`{}`", sku.part_number)
            } else {
                format!("`{}` ({})", sku.written, sku.part_number)
            };
            self.error(
                format!("the tenant does not own SKU {what}"),
                &sku.origin,
                hint,
            );
            return None;
        };
        if found.capability_status != "Enabled"
            && self.warned_skus.insert(sku.part_number.to_string())
        {
            self.diags.push(
                Diagnostic::warning(
                    format!("SKU `{}` is {} in the tenant", sku.part_number, found.capability_status),
                    Some(sku.origin.clone()),
                )
                .with_hint("a suspended or warning subscription may stop granting service; check the billing account"),
            );
        }
        Some(found)
    }

    /// SKUs owned and in scope; disabled plans real and about licensed SKUs.
    fn check_settings(&mut self, settings: &Settings, what: &str) {
        // Every setting named: a new one says whether the tenant must confirm it.
        let Settings {
            licenses,
            disabled_plans,
            // Checked offline by the loader; the tenant has nothing to confirm.
            mailbox: _,
            usage_location: _,
            sign_in: _,
        } = settings;
        if let Some(LicenseList::Exactly(list)) = licenses {
            for sku in list {
                if self.owned(sku).is_some() && !self.managed.contains(&*sku.part_number) {
                    self.error(
                        format!("licence `{}` is not in scope.manage_skus", sku.written),
                        &sku.origin,
                        format!(
                            "add \"{}\" to scope.manage_skus: m365ctl only assigns SKUs it manages",
                            sku.written
                        ),
                    );
                }
            }
        }
        if let Some(disabled) = disabled_plans {
            for entry in disabled.values() {
                self.check_plans(entry);
                if let Some(LicenseList::Exactly(list)) = licenses
                    && !list.iter().any(|l| l.part_number == entry.sku.part_number)
                {
                    self.no_effect_reported.insert(entry.sku.origin.clone());
                    self.error(
                        format!(
                            "disabled_plans names `{}`, which this {what} does not license",
                            entry.sku.written
                        ),
                        &entry.sku.origin,
                        format!(
                            "add \"{}\" to licenses or remove it from disabled_plans",
                            entry.sku.written
                        ),
                    );
                }
            }
        }
    }

    fn check_plans(&mut self, entry: &DisabledPlans) {
        let Some(sku) = self.owned(&entry.sku) else {
            return;
        };
        for plan in &entry.plans {
            if sku.plan_by_name(&plan.value).is_none() {
                let mut names: Vec<&str> = sku
                    .service_plans
                    .iter()
                    .map(|p| p.service_plan_name.as_str())
                    .collect();
                names.sort_unstable();
                let hint = match suggest::closest(&plan.value, names.iter().copied()) {
                    Some(close) => format!(
                        "did you mean `{close}`? {} contains: {}",
                        sku.sku_part_number,
                        names.join(", ")
                    ),
                    None => format!("{} contains: {}", sku.sku_part_number, names.join(", ")),
                };
                self.error(
                    format!(
                        "service plan `{}` is not part of {}",
                        plan.value, sku.sku_part_number
                    ),
                    &plan.origin,
                    hint,
                );
            }
        }
    }

    /// Notes what became of each `disabled_plans` entry merged into `user`: an entry written
    /// in the user's own entry that names none of their licences would silently do nothing
    /// (an error now); a profile's is judged over all of the profile's users at the end.
    fn record_disabled(&mut self, merged: &[MergedDisabled], user: &DesiredUser, who: &str) {
        for m in merged {
            if m.applied {
                self.applied.insert(m.plans.sku.origin.clone());
                continue;
            }
            let why = match (user.license_intent, &user.licenses) {
                (LicenseIntent::Keep, _) => "their licences are \"keep\"".to_string(),
                (_, None) => {
                    "their licences are not managed (no `licenses` in the entry or its profile)"
                        .to_string()
                }
                (_, Some(_)) => format!("their licences do not include `{}`", m.plans.sku.written),
            };
            if m.from_entry {
                self.no_effect(&m.plans, &format!("{who}: {why}"));
            } else {
                self.profile_misses
                    .push((m.plans.clone(), format!("{who}: {why}")));
            }
        }
    }

    /// A profile's `disabled_plans` entry that applied to none of its users.
    fn report_profile_misses(&mut self) {
        for (plans, example) in std::mem::take(&mut self.profile_misses) {
            if !self.applied.contains(&plans.sku.origin) {
                self.no_effect(
                    &plans,
                    &format!("no user of the profile gets it ({example})"),
                );
            }
        }
    }

    /// One error per place for `disabled_plans` that would silently do nothing.
    fn no_effect(&mut self, plans: &DisabledPlans, why: &str) {
        if !self.no_effect_reported.insert(plans.sku.origin.clone()) {
            return;
        }
        self.error(
            format!(
                "disabled_plans for `{}` would have no effect on {why}",
                plans.sku.written
            ),
            &plans.sku.origin,
            format!(
                "add \"{}\" to licenses, or remove it from disabled_plans",
                plans.sku.written
            ),
        );
    }

    fn conflict(&mut self, a: usize, b: usize, upns: &[&str]) {
        let (ra, rb) = (&self.config.rules[a], &self.config.rules[b]);
        let mut shown = upns
            .iter()
            .take(CONFLICT_EXAMPLES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if upns.len() > CONFLICT_EXAMPLES {
            shown.push_str(&format!(" and {} more", upns.len() - CONFLICT_EXAMPLES));
        }
        self.error(
            format!(
                "rules at {} (profile `{}`) and {} (profile `{}`) both match {} with priority {}",
                ra.origin, ra.profile, rb.origin, rb.profile, shown, ra.priority
            ),
            &rb.origin,
            "give one rule a higher priority, narrow a match, or declare the users in [users]"
                .to_string(),
        );
    }

    fn similar_upn_hint(&mut self, upn: &str, users: &UpnIndex<'a>) -> String {
        if let Some(close) = self.closest_upn(upn, users) {
            return format!("did you mean `{close}`? m365ctl does not create users");
        }
        let domain_known = upn
            .split_once('@')
            .is_some_and(|(_, d)| users.any_ends_with(&format!("@{d}")));
        if domain_known {
            "m365ctl does not create users: check the spelling, or create the user first"
                .to_string()
        } else {
            "m365ctl does not create users, and no tenant user has this domain: check the UPN suffix".to_string()
        }
    }

    /// The tenant UPN closest to a misspelt one. Bounded: candidates of a similar length
    /// only, and only the first `UPN_SUGGESTIONS` misspellings of a run are searched (each
    /// search reads every user of the tenant).
    fn closest_upn(&mut self, upn: &str, users: &UpnIndex<'a>) -> Option<String> {
        if self.upn_searches >= UPN_SUGGESTIONS {
            return None;
        }
        self.upn_searches += 1;
        let wanted = upn.to_lowercase();
        let limit = (wanted.chars().count() / 3).max(1);
        let candidates = users.keys_near_length(wanted.len(), limit);
        let close = suggest::closest(&wanted, candidates.iter().map(|k| k.as_ref()))?;
        users.get(close).map(|u| u.user_principal_name.clone())
    }

    fn groups(&mut self, users: &UpnIndex<'a>) -> BTreeMap<String, DesiredGroup> {
        let mut by_name: HashMap<String, Vec<&'a Group>> = HashMap::new();
        let mut by_id: HashMap<String, &'a Group> = HashMap::new();
        for group in &self.live.groups {
            by_name
                .entry(group.display_name.to_lowercase())
                .or_default()
                .push(group);
            by_id.insert(group.id.to_ascii_lowercase(), group);
        }
        let mut declared: HashMap<&'a str, &Origin> = HashMap::new();
        let mut out = BTreeMap::new();
        for entry in self.config.groups.values() {
            let Some(live) = self.live_group(entry, &by_name, &by_id) else {
                continue;
            };
            if let Some(first) = declared.insert(live.id.as_str(), &entry.origin) {
                self.error(
                    format!(
                        "group `{}` ({}) is declared twice",
                        live.display_name, live.id
                    ),
                    &entry.origin,
                    format!("first declared at {first}; keep one entry per group"),
                );
                continue;
            }
            for sku in entry.licenses.iter().flatten() {
                self.owned(sku);
            }
            for plans in entry.disabled_plans.iter().flat_map(BTreeMap::values) {
                self.check_plans(plans);
                let why = match &entry.licenses {
                    None => "its licences are not managed (no `licenses`)".to_string(),
                    Some(list) if !list.iter().any(|l| l.part_number == plans.sku.part_number) => {
                        format!("its licences do not include `{}`", plans.sku.written)
                    }
                    Some(_) => continue,
                };
                self.error(
                    format!(
                        "disabled_plans for `{}` would have no effect on group `{}`: {why}",
                        plans.sku.written, entry.name
                    ),
                    &plans.sku.origin,
                    format!(
                        "add \"{}\" to the group's licenses, or remove it from disabled_plans",
                        plans.sku.written
                    ),
                );
            }
            let mut members = BTreeSet::new();
            let mut member_origins = BTreeMap::new();
            for member in entry.members.iter().flatten() {
                let key = member.value.to_lowercase();
                if users.contains(&key) {
                    member_origins.insert(key.clone(), member.origin.clone());
                    members.insert(key);
                } else {
                    let hint = match self.closest_upn(&member.value, users) {
                        Some(close) => {
                            format!("did you mean `{close}`? members are UPNs of existing users")
                        }
                        None => "members are UPNs of existing users".to_string(),
                    };
                    self.error(
                        format!(
                            "member `{}` of group `{}` does not exist in the tenant",
                            member.value, entry.name
                        ),
                        &member.origin,
                        hint,
                    );
                }
            }
            let licenses = entry
                .licenses
                .as_ref()
                .map(|list| license_map(list, entry.disabled_plans.as_ref()));
            out.insert(
                entry.name.clone(),
                DesiredGroup {
                    id: live.id.clone(),
                    name: entry.name.clone(),
                    origin: Some(entry.origin.clone()),
                    licenses,
                    members: entry.members.as_ref().map(|_| members),
                    member_origins,
                },
            );
        }
        out
    }

    /// The one live group an entry names, or an error. A display name held by several groups
    /// (Entra allows that) is refused with every object id, never resolved to one of them.
    fn live_group(
        &mut self,
        entry: &GroupEntry,
        by_name: &HashMap<String, Vec<&'a Group>>,
        by_id: &HashMap<String, &'a Group>,
    ) -> Option<&'a Group> {
        let (id, at) = match &entry.key {
            GroupKey::Name => {
                let found = by_name
                    .get(&entry.name.to_lowercase())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                return match found {
                    [] => {
                        let names = self.live.groups.iter().map(|g| g.display_name.as_str());
                        let hint = match suggest::closest(&entry.name, names) {
                            Some(close) => {
                                format!("did you mean `{close}`? m365ctl does not create groups")
                            }
                            None => "create the group first (m365ctl does not create groups) or fix the display name".to_string(),
                        };
                        self.error(
                            format!("group `{}` does not exist in the tenant", entry.name),
                            &entry.origin,
                            hint,
                        );
                        None
                    }
                    [one] => Some(*one),
                    several => {
                        let ids: Vec<&str> = several.iter().map(|g| g.id.as_str()).collect();
                        self.error(
                            format!(
                                "{} groups are named `{}` in the tenant (object ids {}): the entry could mean any of them",
                                ids.len(),
                                entry.name,
                                ids.join(", ")
                            ),
                            &entry.origin,
                            format!(
                                "pin the entry to one group with id = \"{}\" under [groups.{:?}], or key it by the object id: [groups.\"{}\"]",
                                ids[0], entry.name, ids[0]
                            ),
                        );
                        None
                    }
                };
            }
            GroupKey::Id(id) => (id, &entry.origin),
            GroupKey::NameWithId(id) => (&id.value, &id.origin),
        };
        let Some(&group) = by_id.get(id) else {
            self.error(
                format!("no group in the tenant has object id {id}"),
                at,
                "copy the Object ID from Entra admin center > Groups (m365ctl does not create groups)".to_string(),
            );
            return None;
        };
        if matches!(entry.key, GroupKey::NameWithId(_))
            && group.display_name.to_lowercase() != entry.name.to_lowercase()
        {
            self.error(
                format!(
                    "group {id} is named `{}`, not `{}`",
                    group.display_name, entry.name
                ),
                at,
                format!(
                    "key the entry by the group's display name [groups.{:?}], or fix the id",
                    group.display_name
                ),
            );
            return None;
        }
        Some(group)
    }
}

/// `[defaults] usage_location` fills a gap, it does not relocate anyone: it applies only when
/// neither the entry nor the profile names a location *and* the user has none in the tenant
/// (usage location decides which services are legal to deliver; silently moving every user of
/// a multinational tenant to the default country would be a disaster, not a default).
fn fill_default_location(desired: &mut DesiredUser, live: &User, default: Option<&str>) {
    if desired.usage_location.is_none() && live.usage_location.is_none() {
        desired.usage_location = default.map(str::to_string);
    }
}

/// A `disabled_plans` entry merged into a user, and what became of it.
struct MergedDisabled {
    plans: DisabledPlans,
    /// Written in the user's own entry (not inherited from the profile).
    from_entry: bool,
    /// It names one of the user's resulting licences, so it takes effect.
    applied: bool,
}

/// Merges a profile and an entry (entry wins field by field; disabled plans per SKU) into
/// one user, with every disabled-plans entry merged and whether it applies.
fn expand(
    upn: &str,
    origin: &Origin,
    profile: Option<&Profile>,
    entry: Option<&Settings>,
) -> (DesiredUser, Vec<MergedDisabled>) {
    // Every inherited setting named: a new one is a compile error here until it reaches the
    // desired state (or is named as not reaching it).
    let Inherited {
        licenses,
        disabled_plans,
        mailbox,
        usage_location,
        sign_in,
    } = inherit(entry, profile.map(|p| &p.settings));
    let mut disabled: BTreeMap<String, DisabledPlans> = BTreeMap::new();
    let mut from_entry: HashSet<String> = HashSet::new();
    for (source, is_entry) in disabled_plans.into_iter().zip([false, true]) {
        for (sku, plans) in source.into_iter().flatten() {
            disabled.insert(sku.clone(), plans.clone());
            if is_entry {
                from_entry.insert(sku.clone());
            }
        }
    }
    let (licenses, license_intent) = match licenses {
        None => (None, LicenseIntent::Exactly),
        Some(LicenseList::Keep(_)) => (None, LicenseIntent::Keep),
        Some(LicenseList::Exactly(list)) => (
            Some(license_map(list, Some(&disabled))),
            LicenseIntent::Exactly,
        ),
    };
    let merged = disabled
        .into_iter()
        .map(|(sku, plans)| MergedDisabled {
            applied: licenses.as_ref().is_some_and(|l| l.get(&sku).is_some()),
            from_entry: from_entry.contains(&sku),
            plans,
        })
        .collect();
    let mailbox_deletion_accepted = mailbox == Some(MailboxIntent::Delete);
    let mailbox = match mailbox {
        Some(MailboxIntent::Kind(kind)) => Some(kind),
        Some(MailboxIntent::Delete) | None => None,
    };
    let user = DesiredUser {
        upn: upn.to_string(),
        origin: Some(origin.clone()),
        profile: profile.map(|p| p.name.clone()),
        usage_location: usage_location.cloned(),
        licenses: licenses.map(Arc::new),
        license_intent,
        mailbox,
        mailbox_deletion_accepted,
        sign_in,
    };
    (user, merged)
}

/// SKU references -> desired licences keyed by part number, with their disabled plans.
fn license_map(list: &[SkuRef], disabled: Option<&BTreeMap<String, DisabledPlans>>) -> LicenseSet {
    list.iter()
        .map(|sku| {
            let plans = disabled
                .and_then(|d| d.get(&*sku.part_number))
                .map(|d| d.plans.iter().map(|p| p.value.clone()).collect());
            DesiredLicense {
                sku_part_number: sku.part_number.to_string(),
                disabled_plans: plans,
                origin: Some(sku.origin.clone()),
            }
        })
        .collect()
}

/// Which rule decides a user.
enum Winner {
    None,
    Rule(usize),
    /// Two rules of the top priority name different profiles.
    Conflict(usize, usize),
}

/// The highest-priority matching rule; counts every match for the "matches nobody" warning.
fn best_rule(rules: &[Rule], user: &User, matched: &mut [usize]) -> Winner {
    let mut best: Option<usize> = None;
    let mut conflict: Option<usize> = None;
    for (i, rule) in rules.iter().enumerate() {
        if !rule.conditions.iter().all(|c| condition_holds(c, user)) {
            continue;
        }
        matched[i] += 1;
        match best {
            None => best = Some(i),
            Some(b) if rule.priority > rules[b].priority => {
                best = Some(i);
                conflict = None;
            }
            Some(b) if rule.priority == rules[b].priority && rule.profile != rules[b].profile => {
                conflict.get_or_insert(i);
            }
            Some(_) => {}
        }
    }
    match (best, conflict) {
        (None, _) => Winner::None,
        (Some(b), None) => Winner::Rule(b),
        (Some(b), Some(c)) => Winner::Conflict(b, c),
    }
}

/// Case-insensitive equality of the user's attribute with any of the (lower-cased) values.
fn condition_holds(condition: &Condition, user: &User) -> bool {
    let Some(value) = user.attribute(&condition.attribute) else {
        return false;
    };
    let value = value.trim();
    if value.is_ascii() {
        condition
            .values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value))
    } else {
        let lower = value.to_lowercase();
        condition.values.contains(&lower)
    }
}
