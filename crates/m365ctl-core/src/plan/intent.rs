//! The diff: what each principal should change, before any ordering. Decides grants and
//! removals per user (direct vs inherited), group licence and membership changes, mailbox
//! conversions, and the safety rules that keep or refuse changes (never silently lose mail).

use super::index::Index;
use super::ops::{LicenseGrant, LicenseRemoval, OpKind, SetSignIn, SignIn};
use crate::catalog::ExchangeRank;
use crate::desired::{DesiredLicense, DesiredState, DesiredUser, LicenseIntent, LicenseSet};
use crate::diag::{Diagnostic, Origin};
use crate::rules::mailbox::{MailboxShortfall, shortfall, worsened};
use crate::tenant::{
    GroupLicense, LicenseAssignment, MailboxType, Sku, grant_direct, human_size, sync_inherited,
};
use std::collections::{BTreeSet, HashMap};

/// Changes to one group's licences.
#[derive(Debug, Clone)]
pub(crate) struct GroupChange {
    /// Group index.
    pub gi: usize,
    /// Licences to add or re-assign.
    pub add: Vec<LicenseGrant>,
    /// Licences to remove.
    pub remove: Vec<LicenseRemoval>,
}

/// A membership change and why it is made.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    /// Group index.
    pub gi: usize,
    /// Shown to reviewers.
    pub reason: Option<String>,
}

/// Everything one user should change.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserChange {
    /// `(from, to)` usage location.
    pub location: Option<(Option<String>, String)>,
    /// Direct licences to add or re-assign.
    pub grants: Vec<LicenseGrant>,
    /// Direct licences to remove.
    pub removals: Vec<LicenseRemoval>,
    /// Groups to join.
    pub join: Vec<Membership>,
    /// Groups to leave.
    pub leave: Vec<Membership>,
    /// `(from, to)` mailbox conversion.
    pub convert: Option<(MailboxType, MailboxType)>,
    /// Losing Exchange by grants and removals in one call would risk a gap: add first.
    pub continuity: bool,
    /// Explanations attached to this user's licence operation.
    pub reasons: Vec<String>,
    /// The user knowingly loses their last Exchange licence (warned).
    pub mailbox_disable_accepted: bool,
    /// Account attributes to write that touch no licence (sign-in): each kind states its own
    /// ordering needs (`Kind::role`), so they become operations as they are.
    pub attributes: Vec<OpKind>,
}

impl UserChange {
    fn is_empty(&self) -> bool {
        // Every field named: a new one must say whether it makes the change non-empty.
        let UserChange {
            location,
            grants,
            removals,
            join,
            leave,
            convert,
            continuity: _,
            reasons: _,
            mailbox_disable_accepted,
            attributes,
        } = self;
        location.is_none()
            && grants.is_empty()
            && removals.is_empty()
            && join.is_empty()
            && leave.is_empty()
            && convert.is_none()
            && !mailbox_disable_accepted
            && attributes.is_empty()
    }
}

/// Rule `sign_in`: a declared sign-in state the account does not have yet becomes a change
/// (user resource `accountEnabled`; "About shared mailboxes": block sign-in for the shared
/// mailbox account). Not declared = not managed.
pub(crate) fn sign_in_change(user: &crate::tenant::User, wanted: Option<SignIn>) -> Option<OpKind> {
    let to = wanted?;
    let from = SignIn::of_account(user.account_enabled);
    (from != to).then(|| {
        OpKind::SetSignIn(SetSignIn {
            user_id: user.id.clone(),
            upn: user.user_principal_name.clone(),
            from,
            to,
        })
    })
}

/// The whole diff.
#[derive(Debug, Default)]
pub(crate) struct Intent {
    /// Group licence changes, in group-name order.
    pub groups: Vec<GroupChange>,
    /// Per user (by index), in UPN order of the desired state then of touched members.
    pub users: Vec<(usize, UserChange)>,
    /// Warnings and errors.
    pub diagnostics: Vec<Diagnostic>,
    /// Users (by index) whose mailbox decisions depend on its facts (size, archive, hold):
    /// the mailbox changes type or its Exchange licences go down.
    pub needs_facts: Vec<usize>,
}

/// Maps desired disabled plan names to the SKU's plan ids, sorted; errors list the real names.
fn disabled_ids(
    sku: &Sku,
    lic: &DesiredLicense,
    current: Option<&[String]>,
    principal: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    let Some(names) = &lic.disabled_plans else {
        return Some(current.map(<[String]>::to_vec).unwrap_or_default());
    };
    let mut ids = Vec::new();
    for name in names {
        match sku.plan_by_name(name) {
            Some(p) => ids.push(p.service_plan_id.clone()),
            None => {
                let real: Vec<&str> = sku
                    .service_plans
                    .iter()
                    .map(|p| p.service_plan_name.as_str())
                    .collect();
                diags.push(
                    Diagnostic::error(
                        format!(
                            "{principal}: service plan {name} is not part of {}",
                            sku.sku_part_number
                        ),
                        lic.origin.clone(),
                    )
                    .with_hint(format!(
                        "{} contains: {}",
                        sku.sku_part_number,
                        real.join(", ")
                    )),
                );
                return None;
            }
        }
    }
    ids.sort();
    ids.dedup();
    Some(ids)
}

/// A grant of `sku` with `disabled` plan ids; `previous` = the plan ids disabled today when
/// the principal already holds the SKU (a re-assignment).
fn grant(sku: &Sku, disabled: Vec<String>, previous: Option<&[String]>) -> LicenseGrant {
    let names = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| {
                sku.plan_by_id(id)
                    .map(|p| p.service_plan_name.clone())
                    .unwrap_or_else(|| id.clone())
            })
            .collect()
    };
    LicenseGrant {
        sku_id: sku.sku_id.clone(),
        sku_part_number: sku.sku_part_number.clone(),
        disabled_plan_names: names(&disabled),
        disabled_plans: disabled,
        replaces_disabled: previous.map(|ids| {
            let mut names = names(ids);
            names.sort();
            names
        }),
    }
}

fn removal(sku_id: &str, ix: &Index<'_>) -> LicenseRemoval {
    LicenseRemoval {
        sku_id: sku_id.to_string(),
        sku_part_number: ix.part(sku_id).to_string(),
    }
}

/// Resolves a desired licence map to tenant SKUs, reporting unknown or unassignable ones.
fn resolve_skus<'a>(
    ix: &Index<'a>,
    licenses: &'a LicenseSet,
    principal: &str,
    origin: Option<&Origin>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(&'a Sku, &'a DesiredLicense)> {
    let mut out = Vec::new();
    for lic in licenses {
        let part = &lic.sku_part_number;
        let at = lic.origin.clone().or_else(|| origin.cloned());
        match ix.sku_by_part(part) {
            None => diags.push(
                Diagnostic::error(
                    format!("{principal}: the tenant has no subscription {part}"),
                    at,
                )
                .with_hint("check the [skus] aliases against `m365ctl export`"),
            ),
            Some(sku) if !sku.applies_to.eq_ignore_ascii_case("User") => diags.push(
                Diagnostic::error(
                    format!(
                        "{principal}: {part} applies to {}, not to users",
                        sku.applies_to
                    ),
                    at,
                )
                .with_hint("only SKUs with appliesTo = User can be assigned"),
            ),
            Some(sku) => out.push((sku, lic)),
        }
    }
    out
}

/// Whether the SKU behind `sku_id` is one the config's scope owns (matched on part number,
/// case-insensitively); licences of other SKUs are never added or removed.
fn is_managed_sku(desired: &DesiredState, ix: &Index<'_>, sku_id: &str) -> bool {
    ix.sku(sku_id).is_some_and(|s| {
        desired
            .scope
            .managed_skus
            .contains(&s.sku_part_number.to_ascii_uppercase())
    })
}

/// Computes the diff between `desired` and the live tenant behind `ix`.
pub(crate) fn diff(desired: &DesiredState, ix: &Index<'_>) -> Intent {
    let live = ix.live;
    let mut intent = Intent::default();
    let diags = &mut intent.diagnostics;
    let managed = |sku_id: &str| is_managed_sku(desired, ix, sku_id);

    // Groups: licences, then declared memberships.
    let mut future_group_lics: HashMap<usize, Vec<GroupLicense>> = HashMap::new();
    let mut joins: HashMap<usize, Vec<Membership>> = HashMap::new();
    let mut leaves: HashMap<usize, Vec<Membership>> = HashMap::new();
    let mut declared_members: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    let mut declared_keys: HashMap<usize, &str> = HashMap::new();
    for (name, group) in &desired.groups {
        let Some(gi) = ix.group_by_id(&group.id) else {
            diags.push(
                Diagnostic::error(
                    format!(
                        "group {name:?} (object id {}) does not exist in the tenant",
                        group.id
                    ),
                    group.origin.clone(),
                )
                .with_hint("create the group in Entra ID first, or check the name"),
            );
            continue;
        };
        declared_keys.insert(gi, name);
        let live_group = &live.groups[gi];
        if let Some(licenses) = &group.licenses {
            let mut add = Vec::new();
            let mut future = Vec::new();
            for (sku, lic) in resolve_skus(ix, licenses, name, group.origin.as_ref(), diags) {
                let current = live_group.licenses.iter().find(|l| l.sku_id == sku.sku_id);
                let current_plans = current.map(|c| c.disabled_plans.as_slice());
                let Some(ids) = disabled_ids(sku, lic, current_plans, name, diags) else {
                    if let Some(c) = current {
                        future.push(c.clone());
                    }
                    continue;
                };
                if current.is_none_or(|c| c.disabled_plans != ids) {
                    add.push(grant(sku, ids.clone(), current_plans));
                }
                future.push(GroupLicense {
                    sku_id: sku.sku_id.clone(),
                    disabled_plans: ids,
                });
            }
            let mut remove = Vec::new();
            for l in &live_group.licenses {
                if future.iter().any(|f| f.sku_id == l.sku_id) {
                    continue;
                }
                if managed(&l.sku_id) {
                    remove.push(removal(&l.sku_id, ix));
                } else {
                    future.push(l.clone());
                }
            }
            if !add.is_empty() || !remove.is_empty() {
                intent.groups.push(GroupChange { gi, add, remove });
            }
            future_group_lics.insert(gi, future);
        }
        if let Some(members) = &group.members {
            let mut wanted = BTreeSet::new();
            for upn in members {
                match ix.user_by_upn(upn) {
                    Some(ui) => {
                        wanted.insert(ui);
                    }
                    None => diags.push(
                        Diagnostic::error(
                            format!("group {name:?}: member {upn} does not exist in the tenant"),
                            group.origin.clone(),
                        )
                        .with_hint("m365ctl does not create users; check the UPN"),
                    ),
                }
            }
            let current: BTreeSet<usize> = live_group
                .members
                .iter()
                .filter_map(|m| ix.user_by_id(m))
                .collect();
            for &ui in wanted.difference(&current) {
                joins.entry(ui).or_default().push(Membership {
                    gi,
                    reason: Some(format!("listed in [groups.{name:?}].members")),
                });
            }
            for &ui in current.difference(&wanted) {
                leaves.entry(ui).or_default().push(Membership {
                    gi,
                    reason: Some(format!("not listed in [groups.{name:?}].members")),
                });
            }
            declared_members.insert(gi, wanted);
        }
    }
    let group_lics = |gi: usize| -> &[GroupLicense] {
        future_group_lics
            .get(&gi)
            .map(Vec::as_slice)
            .unwrap_or(&live.groups[gi].licenses)
    };

    // Users: desired ones in UPN order, then members touched only by group declarations.
    let mut order: Vec<(usize, Option<&DesiredUser>)> = Vec::with_capacity(desired.users.len());
    let mut seen = vec![false; live.users.len()];
    for (upn, du) in &desired.users {
        match ix.user_by_upn(upn) {
            Some(ui) => {
                if !std::mem::replace(&mut seen[ui], true) {
                    order.push((ui, Some(du)));
                }
            }
            None => diags.push(
                Diagnostic::error(
                    format!("user {upn} does not exist in the tenant"),
                    du.origin.clone(),
                )
                .with_hint("m365ctl does not create users; check the UPN or remove the entry"),
            ),
        }
    }
    // Members of groups whose licences change are checked too: a group losing an Exchange
    // licence can strand their mailboxes.
    let members_of_changed = intent.groups.iter().flat_map(|g| {
        live.groups[g.gi]
            .members
            .iter()
            .filter_map(|m| ix.user_by_id(m))
    });
    let mut extra: Vec<usize> = joins
        .keys()
        .chain(leaves.keys())
        .copied()
        .chain(members_of_changed)
        .filter(|&ui| !seen[ui])
        .collect();
    extra.sort_by_key(|&ui| live.users[ui].user_principal_name.to_ascii_lowercase());
    extra.dedup();
    order.extend(extra.into_iter().map(|ui| (ui, None)));

    for (ui, du) in order {
        let mut change = UserChange {
            join: joins.remove(&ui).unwrap_or_default(),
            leave: leaves.remove(&ui).unwrap_or_default(),
            ..UserChange::default()
        };
        change.join.sort_by_key(|m| m.gi);
        change.leave.sort_by_key(|m| m.gi);
        let user = &live.users[ui];
        let origin = du.and_then(|d| d.origin.clone());
        let cx = UserCx {
            ix,
            desired,
            du,
            ui,
            user,
            upn: user.user_principal_name.as_str(),
            origin: &origin,
            group_lics: &group_lics,
            declared_members: &declared_members,
            declared_keys: &declared_keys,
        };
        plan_user(&cx, &mut change, diags, &mut intent.needs_facts);
        if !change.is_empty() {
            intent.users.push((ui, change));
        }
    }
    intent
}

/// One user as the planner's per-user rules see it.
#[derive(Clone, Copy)]
struct UserCx<'c, 'a, 'g> {
    ix: &'c Index<'a>,
    desired: &'c DesiredState,
    du: Option<&'c DesiredUser>,
    ui: usize,
    user: &'c crate::tenant::User,
    upn: &'c str,
    origin: &'c Option<Origin>,
    group_lics: &'c dyn Fn(usize) -> &'g [GroupLicense],
    declared_members: &'c HashMap<usize, BTreeSet<usize>>,
    declared_keys: &'c HashMap<usize, &'c str>,
}

impl UserCx<'_, '_, '_> {
    /// Whether m365ctl manages this SKU (`scope.manage_skus`).
    fn managed(&self, sku_id: &str) -> bool {
        is_managed_sku(self.desired, self.ix, sku_id)
    }

    /// The groups the user is in after the change's joins and leaves.
    fn future_groups(&self, change: &UserChange) -> Vec<usize> {
        let mut groups: Vec<usize> = self.ix.memberships[self.ui]
            .iter()
            .copied()
            .filter(|g| !change.leave.iter().any(|m| m.gi == *g))
            .collect();
        groups.extend(change.join.iter().map(|m| m.gi));
        groups.sort_unstable();
        groups.dedup();
        groups
    }
}

/// Plans one user's licences, location, sign-in and mailbox: the per-user rules in order
/// (the order of their diagnostics is the plan's).
fn plan_user(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
    needs_facts: &mut Vec<usize>,
) {
    // Every desired field named: a new one is a compile error here until a rule reads it.
    let (usage_location, sign_in) = match cx.du {
        Some(DesiredUser {
            // Locate and explain decisions; no rule of their own.
            upn: _,
            origin: _,
            profile: _,
            // Read through `cx` by the licence and mailbox rules below.
            license_intent: _,
            licenses: _,
            mailbox: _,
            mailbox_deletion_accepted: _,
            usage_location,
            sign_in,
        }) => (usage_location.as_ref(), *sign_in),
        None => (None, None),
    };
    change.attributes.extend(sign_in_change(cx.user, sign_in));
    change.location = usage_location_change(cx.user, usage_location);
    let desired_lics = cx.du.and_then(|d| match d.license_intent {
        LicenseIntent::Exactly => d.licenses.as_ref(),
        LicenseIntent::Keep => None,
    });
    if let Some(licenses) = desired_lics {
        let wanted = resolve_skus(cx.ix, licenses, cx.upn, cx.origin.as_ref(), diags);
        let wanted_ids: BTreeSet<&str> = wanted.iter().map(|(s, _)| s.sku_id.as_str()).collect();
        leave_groups_for_unwanted_licences(cx, change, &wanted_ids, diags);
        licence_grants(cx, change, &wanted, diags);
        licence_removals(cx, change, &wanted_ids);
    }
    resource_mailboxes_get_no_licences(cx, change, diags);
    mailbox_conversion(cx, change, diags);
    usage_location_required(cx, change, diags);
    mailbox_safety(cx, change, diags, needs_facts);
}

/// Rule `usage_location`: a declared usage location the user does not have yet (user
/// resource `usageLocation`, ISO 3166-1 alpha-2).
fn usage_location_change(
    user: &crate::tenant::User,
    wanted: Option<&String>,
) -> Option<(Option<String>, String)> {
    let to = wanted?;
    (user.usage_location.as_deref() != Some(to.as_str()))
        .then(|| (user.usage_location.clone(), to.clone()))
}

/// Rule `licence_removals` through groups: an inherited licence the desired state does not
/// want is removed by leaving the group (Graph: "User license is inherited from a group
/// membership and it cannot be removed directly"), or is an error when the group's members
/// are declared with the user or the group is not managed.
fn leave_groups_for_unwanted_licences(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    wanted_ids: &BTreeSet<&str>,
    diags: &mut Vec<Diagnostic>,
) {
    let UserCx {
        ix,
        desired,
        ui,
        upn,
        origin,
        group_lics,
        declared_members,
        declared_keys,
        ..
    } = *cx;
    let managed = |sku_id: &str| cx.managed(sku_id);
    let future_groups = |change: &UserChange| cx.future_groups(change);
    // Inherited licences the desired state no longer wants: leave the group.
    for gi in future_groups(change) {
        let unwanted: Vec<&str> = group_lics(gi)
            .iter()
            .map(|l| l.sku_id.as_str())
            .filter(|s| managed(s) && !wanted_ids.contains(s))
            .collect();
        let Some(first) = unwanted.first() else {
            continue;
        };
        let part = ix.part(first);
        let label = ix.group_label(gi);
        // The line that caused it: the user's line in the group's `members`.
        let member_origin = declared_keys
            .get(&gi)
            .and_then(|key| desired.groups.get(*key))
            .and_then(|g| g.member_origins.get(&upn.to_lowercase()).cloned());
        match (declared_members.get(&gi), declared_keys.get(&gi)) {
            (Some(members), Some(key)) if members.contains(&ui) => diags.push(
                Diagnostic::error(
                    format!(
                        "{upn} is listed as a member of group {label} which gives {part}, but their licences exclude {part}"
                    ),
                    member_origin.or_else(|| origin.clone()),
                )
                .with_hint(format!(
                    "add {part} to the user's licences or remove them from [groups.{key:?}].members"
                )),
            ),
            (_, Some(_)) => change.leave.push(Membership {
                gi,
                reason: Some(format!(
                    "{part} is inherited from group {label}: leaving the group is the only way to remove it"
                )),
            }),
            _ => diags.push(
                Diagnostic::error(
                    format!(
                        "{upn} inherits {part} from group {label} which is not managed here; remove them from the group or declare [groups.{:?}]",
                        ix.group_key(gi)
                    ),
                    origin.clone(),
                )
                .with_hint(format!(
                    "a licence inherited from a group cannot be removed from the user directly; add {part} to the user's licences to keep it"
                )),
            ),
        }
    }
}

/// Rule `licence_grants`: each wanted SKU the user does not hold directly with the declared
/// disabled plans is granted (Graph `assignLicense` `addLicenses`), unless a group gives it;
/// disabled plans on a licence a group gives are an error (the group's apply).
fn licence_grants(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    wanted: &[(&crate::tenant::Sku, &DesiredLicense)],
    diags: &mut Vec<Diagnostic>,
) {
    let UserCx {
        ix,
        user,
        upn,
        origin,
        group_lics,
        declared_keys,
        ..
    } = *cx;
    let future_groups = |change: &UserChange| cx.future_groups(change);
    change.leave.sort_by_key(|m| m.gi);
    let groups_after = future_groups(change);
    let inherited_from = |sku_id: &str| -> Option<usize> {
        groups_after
            .iter()
            .copied()
            .find(|&g| group_lics(g).iter().any(|l| l.sku_id == sku_id))
    };
    for (sku, lic) in wanted {
        let direct = user.direct_license(&sku.sku_id);
        let current = direct.map(|d| d.disabled_plans.as_slice());
        let Some(ids) = disabled_ids(sku, lic, current, upn, diags) else {
            continue;
        };
        match (direct, inherited_from(&sku.sku_id)) {
            (Some(d), via) => {
                if let Some(g) = via {
                    diags.push(
                        Diagnostic::warning(
                            format!(
                                "{upn} holds {} directly and through group {}: the direct assignment is redundant",
                                sku.sku_part_number, ix.group_label(g)
                            ),
                            lic.origin.clone().or_else(|| origin.clone()),
                        )
                        .with_hint(format!(
                            "remove {} from the user's licences to rely on the group",
                            sku.sku_part_number
                        )),
                    );
                }
                if sorted_eq(&d.disabled_plans, &ids) {
                    continue;
                }
                change.grants.push(grant(sku, ids, Some(&d.disabled_plans)));
            }
            (None, Some(g)) => {
                // The licence is the group's: disabled plans declared on the user would
                // silently do nothing. Only the group's disabled plans apply.
                let given = group_lics(g)
                    .iter()
                    .find(|l| l.sku_id == sku.sku_id)
                    .map(|l| l.disabled_plans.as_slice())
                    .unwrap_or_default();
                if lic.disabled_plans.is_some() && !sorted_eq(given, &ids) {
                    let key = declared_keys.get(&g).copied().unwrap_or(ix.group_key(g));
                    diags.push(
                        Diagnostic::error(
                            format!(
                                "{upn}: disabled_plans for {part} would have no effect: {part} reaches the user through group {label}, whose disabled plans apply",
                                part = sku.sku_part_number,
                                label = ix.group_label(g)
                            ),
                            lic.origin.clone().or_else(|| origin.clone()),
                        )
                        .with_hint(format!(
                            "set disabled_plans for {part} on [groups.{key:?}] (it applies to every member), or remove it from the user",
                            part = sku.sku_part_number
                        )),
                    );
                }
            }
            (None, None) => change.grants.push(grant(sku, ids, None)),
        }
    }
}

/// Rule `licence_removals`: a managed direct licence the desired state does not list is
/// removed (Graph `assignLicense` `removeLicenses`).
fn licence_removals(cx: &UserCx<'_, '_, '_>, change: &mut UserChange, wanted_ids: &BTreeSet<&str>) {
    let UserCx { ix, user, .. } = *cx;
    let managed = |sku_id: &str| cx.managed(sku_id);
    for l in &user.licenses {
        if l.assigned_by_group.is_none()
            && managed(&l.sku_id)
            && !wanted_ids.contains(l.sku_id.as_str())
        {
            change.removals.push(removal(&l.sku_id, ix));
        }
    }
}

/// Rule: room and equipment mailboxes never get user licences ("Room and equipment mailboxes
/// don't require a license").
fn resource_mailboxes_get_no_licences(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
) {
    let UserCx {
        user, upn, origin, ..
    } = *cx;
    // Room and equipment mailboxes never get user licences.
    let mailbox = user.mailbox.as_ref();
    let live_kind = mailbox.map(|m| m.kind);
    if matches!(live_kind, Some(MailboxType::Room | MailboxType::Equipment))
        && !change
            .grants
            .iter()
            .all(|g| user.direct_license(&g.sku_id).is_some())
    {
        diags.push(
            Diagnostic::error(
                format!(
                    "{upn} is a {} mailbox: resource mailboxes never get user licences",
                    live_kind.map(MailboxType::as_str).unwrap_or_default()
                ),
                origin.clone(),
            )
            .with_hint("give this entry licenses = [] or a profile without licences"),
        );
        change
            .grants
            .retain(|g| user.direct_license(&g.sku_id).is_some());
    }
}

/// Rule `mailbox_conversion`: between user and shared only ("Convert a user mailbox to a
/// shared mailbox"); a mailbox synchronised from on-premises is converted there.
fn mailbox_conversion(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
) {
    let UserCx {
        du,
        user,
        upn,
        origin,
        ..
    } = *cx;
    let live_kind = user.mailbox.as_ref().map(|m| m.kind);
    // Mailbox conversion.
    let desired_kind = du.and_then(|d| d.mailbox);
    if let (Some(from), Some(to)) = (live_kind, desired_kind)
        && from != to
    {
        let resource = |k: MailboxType| matches!(k, MailboxType::Room | MailboxType::Equipment);
        if resource(from) || resource(to) {
            diags.push(
                Diagnostic::error(
                    format!("{upn}: cannot convert a {from} mailbox to {to}"),
                    origin.clone(),
                )
                .with_hint("m365ctl converts mailboxes only between user and shared"),
            );
        } else if user.on_premises_sync_enabled {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "{upn} is synchronised from on-premises: its mailbox is not converted to {to} here"
                    ),
                    origin.clone(),
                )
                .with_hint("convert the mailbox in on-premises Exchange (Set-RemoteMailbox -Type)"),
            );
        } else {
            change.convert = Some((from, to));
        }
    }
}

/// Rule: usage location is required for a licence assigned directly (Graph `assignLicense`:
/// "License assignment cannot be done for user with invalid usage location"); group-based
/// licensing assigns anyway with the tenant's country (Entra licensing-group-advanced), so
/// joining a licensing group without one is only a warning.
fn usage_location_required(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
) {
    let UserCx {
        ix,
        desired,
        user,
        upn,
        origin,
        group_lics,
        ..
    } = *cx;
    let live = ix.live;
    let location_after = change
        .location
        .as_ref()
        .map(|(_, to)| Some(to.clone()))
        .unwrap_or_else(|| user.usage_location.clone());
    // Usage location is required for a licence assigned directly (Graph refuses it: "License
    // assignment cannot be done for user with invalid usage location"). Group-based licensing
    // assigns anyway, using the tenant's country (Entra licensing-group-advanced): joining a
    // licensing group without one is only worth a warning.
    if location_after.is_none() {
        if !change.grants.is_empty() {
            diags.push(
                Diagnostic::error(
                    format!("{upn} gets a licence but has no usage location"),
                    origin.clone(),
                )
                .with_hint("set usage_location on the user or defaults.usage_location"),
            );
        } else if let Some(m) = change.join.iter().find(|m| !group_lics(m.gi).is_empty()) {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "{upn} has no usage location: the licences of group {} will be delivered for the tenant's country",
                        ix.group_label(m.gi)
                    ),
                    origin.clone().or_else(|| {
                        // A member named only by the group: point at the group's entry.
                        let id = &live.groups[m.gi].id;
                        desired.groups.values().find(|g| &g.id == id)?.origin.clone()
                    }),
                )
                .with_hint("set usage_location on the user (or defaults.usage_location) if they work in another country: some services are not sold everywhere"),
            );
        }
    }
}

/// Rule: never lose mail silently ("Remove licenses from users": a user mailbox without a
/// licence is deleted after 30 days; "About shared mailboxes": Plan 2 over 50 GB, archive or
/// hold; "Exchange Online limits": quotas). Facts the decision depends on must have been read.
/// Three named rules in order: `mailbox_facts_read`, `mailbox_keeps_what_it_needs`,
/// `user_mailbox_has_exchange`; continuity is set from the change they leave.
fn mailbox_safety(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
    needs_facts: &mut Vec<usize>,
) {
    // What a mailbox needs is `rules::mailbox`; only a shortfall the plan would create is
    // judged (the live state is not its doing).
    if let Some(mailbox) = cx.user.mailbox.as_ref()
        && mailbox_facts_read(cx, mailbox, change, diags, needs_facts)
    {
        mailbox_keeps_what_it_needs(cx, mailbox, change, diags);
        user_mailbox_has_exchange(cx, change, diags);
    }
    set_continuity(cx.ix, &cx.user.licenses, change);
}

impl UserCx<'_, '_, '_> {
    /// The user's licences once the change is made (direct ones kept or granted, inherited
    /// ones from the groups they are in after it).
    fn licences_after(&self, change: &UserChange) -> Vec<LicenseAssignment> {
        projected_licenses(
            &self.user.licenses,
            change,
            &self.future_groups(change),
            self.group_lics,
            &self.ix.live.groups,
        )
    }

    /// The Exchange rank the user holds once the change is made.
    fn rank_after(&self, change: &UserChange) -> ExchangeRank {
        self.ix.rank_of(&self.licences_after(change))
    }
}

/// Rule `mailbox_facts_read`: every decision below may turn on the mailbox's facts (size,
/// archive, hold), so a change of type or a lost Exchange path needs them read. The executor
/// may run any order the edges allow, so an Exchange licence lost at any step counts, even
/// when the end state gives it back. False (with an error) when they were not read.
fn mailbox_facts_read(
    cx: &UserCx<'_, '_, '_>,
    mailbox: &crate::tenant::Mailbox,
    change: &UserChange,
    diags: &mut Vec<Diagnostic>,
    needs_facts: &mut Vec<usize>,
) -> bool {
    let UserCx {
        ix,
        ui,
        user,
        upn,
        origin,
        group_lics,
        ..
    } = *cx;
    let live = ix.live;
    let exchange = |sku_id: &str, disabled: &[String]| ix.sku_rank(sku_id, disabled).has_mailbox();
    let loses_a_path = change.removals.iter().any(|r| {
        user.direct_license(&r.sku_id)
            .is_some_and(|d| exchange(&d.sku_id, &d.disabled_plans))
    }) || change.grants.iter().any(|g| {
        user.direct_license(&g.sku_id)
            .is_some_and(|d| exchange(&d.sku_id, &d.disabled_plans))
    }) || change.leave.iter().any(|m| {
        live.groups[m.gi]
            .licenses
            .iter()
            .any(|l| exchange(&l.sku_id, &l.disabled_plans))
    }) || ix.memberships[ui].iter().any(|&gi| {
        live.groups[gi]
            .licenses
            .iter()
            .any(|l| exchange(&l.sku_id, &l.disabled_plans) && !group_lics(gi).contains(l))
    });
    let decides = change.convert.is_some()
        || loses_a_path
        || cx.rank_after(change) < ix.rank_of(&user.licenses)
        || exchange_skus(ix, &cx.licences_after(change)) < exchange_skus(ix, &user.licenses);
    if !decides {
        return true;
    }
    needs_facts.push(ui);
    if mailbox.facts_known() {
        return true;
    }
    diags.push(
        Diagnostic::error(
            format!(
                "{upn}: the plan depends on mailbox facts that were not read ({})",
                mailbox.unknown_facts().join(", ")
            ),
            origin.clone(),
        )
        .with_hint(
            "the mailbox changes type or loses Exchange licences, so its size, archive and litigation hold decide what is safe; read them from Exchange (Get-MailboxStatistics, Get-Mailbox) or record them in the snapshot",
        ),
    );
    false
}

/// Rule `mailbox_keeps_what_it_needs`: a shortfall the change would create (`rules::mailbox`)
/// keeps the licence that covers it where one is being removed (a shared mailbox over the
/// limits keeps Plan 2; a synced mailbox stays a user's until converted on-premises), is
/// accepted with a warning under `mailbox = "delete"`, or is an error naming it. Keeping a
/// licence can leave a milder shortfall (a kept Kiosk licence too small for the mailbox), so
/// it is judged again after a keep.
fn mailbox_keeps_what_it_needs(
    cx: &UserCx<'_, '_, '_>,
    mailbox: &crate::tenant::Mailbox,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
) {
    let UserCx {
        ix,
        du,
        user,
        origin,
        ..
    } = *cx;
    let desired_kind = du.and_then(|d| d.mailbox);
    let kind_after = change.convert.map(|(_, to)| to).unwrap_or(mailbox.kind);
    let rank_before = ix.rank_of(&user.licenses);
    let before = shortfall(mailbox, mailbox.kind, rank_before);
    while let Some(lack) = worsened(
        before.as_ref(),
        shortfall(mailbox, kind_after, cx.rank_after(change)),
    ) {
        let stays_user_until_converted =
            user.on_premises_sync_enabled && desired_kind == Some(MailboxType::Shared);
        match lack {
            MailboxShortfall::SharedNeedsPlan2 { reasons, .. } => {
                let why = format!("the shared mailbox still needs Exchange Online Plan 2: {reasons}");
                if keep_exchange(cx, mailbox, change, ExchangeRank::Plan2, &why, diags) {
                    continue;
                }
            }
            MailboxShortfall::Unlicensed if stays_user_until_converted => {
                let why = "the mailbox stays a user mailbox until it is converted on-premises";
                if keep_exchange(cx, mailbox, change, ExchangeRank::Essentials, why, diags) {
                    continue;
                }
            }
            MailboxShortfall::Unlicensed => unlicensed(cx, mailbox, change, diags),
            MailboxShortfall::OverQuota { size, quota, rank } => diags.push(
                Diagnostic::error(
                    format!(
                        "{}: the {} mailbox would not fit the {} quota of {rank} (it has {rank_before} now)",
                        cx.upn,
                        human_size(size),
                        human_size(quota)
                    ),
                    origin.clone(),
                )
                .with_hint(format!(
                    "keep a licence whose Exchange plan holds {} (Exchange Online Plan 2: 100 GB), or reduce the mailbox below {} first",
                    human_size(size),
                    human_size(quota)
                )),
            ),
        }
        break;
    }
}

/// A mailbox left with no Exchange licence: an error for a declared user mailbox, a warning
/// when the config accepts the deletion (`mailbox = "delete"`), else an error with the ways out.
fn unlicensed(
    cx: &UserCx<'_, '_, '_>,
    mailbox: &crate::tenant::Mailbox,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
) {
    let (upn, origin) = (cx.upn, cx.origin);
    let accepted = cx.du.is_some_and(|d| d.mailbox_deletion_accepted);
    if cx.du.and_then(|d| d.mailbox) == Some(MailboxType::User) {
        diags.push(
            Diagnostic::error(
                format!(
                    "{upn}: mailbox = \"user\" needs an Exchange licence, but none would remain"
                ),
                origin.clone(),
            )
            .with_hint("add an Exchange-bearing licence, or set mailbox = \"shared\" for a leaver"),
        );
    } else if accepted {
        change.mailbox_disable_accepted = true;
        diags.push(
            Diagnostic::warning(
                format!(
                    "{upn} loses its last Exchange licence: the mailbox will be disabled ({} of mail, deleted after 30 days)",
                    mailbox.size_text()
                ),
                origin.clone(),
            )
            .with_hint("mailbox = \"delete\" accepts this; set mailbox = \"shared\" to keep the mail without a licence"),
        );
    } else {
        diags.push(
            Diagnostic::error(
                format!(
                    "{upn} would lose its last Exchange licence: the user mailbox ({}) would be disabled and deleted after 30 days",
                    mailbox.size_text()
                ),
                origin.clone(),
            )
            .with_hint(format!(
                "set mailbox = \"shared\" to keep the mail without a licence, keep an Exchange licence, or declare [users.\"{upn}\"] with mailbox = \"delete\" to accept the deletion"
            )),
        );
    }
}

/// Rule `user_mailbox_has_exchange`: a conversion to a user mailbox needs an Exchange licence
/// once the change is made ("Convert a shared mailbox back to a user mailbox": assign a
/// licence); without one the conversion is dropped with an error.
fn user_mailbox_has_exchange(
    cx: &UserCx<'_, '_, '_>,
    change: &mut UserChange,
    diags: &mut Vec<Diagnostic>,
) {
    if change
        .convert
        .is_some_and(|(_, to)| to == MailboxType::User)
        && !cx.rank_after(change).has_mailbox()
    {
        diags.push(
            Diagnostic::error(
                format!(
                    "{}: a user mailbox needs an Exchange licence, but the user would have none",
                    cx.upn
                ),
                cx.origin.clone(),
            )
            .with_hint("add an Exchange-bearing licence to the user"),
        );
        change.convert = None;
    }
}

/// Keeps the best direct licence the change was going to remove that gives at least `needed`
/// (warning why) and says so, or reports that none can: the mailbox would lose what it needs.
fn keep_exchange(
    cx: &UserCx<'_, '_, '_>,
    mailbox: &crate::tenant::Mailbox,
    change: &mut UserChange,
    needed: ExchangeRank,
    why: &str,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let UserCx {
        ix,
        user,
        upn,
        origin,
        ..
    } = *cx;
    let best = change
        .removals
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            user.direct_license(&r.sku_id)
                .map(|d| (ix.sku_rank(&d.sku_id, &d.disabled_plans), i))
        })
        .filter(|(rank, _)| *rank >= needed)
        .max_by_key(|(rank, i)| (*rank, std::cmp::Reverse(*i)));
    let size = mailbox.size_text();
    // Say the size once: the over-50-GB reason already does.
    let size_note = if why.contains(&size) {
        String::new()
    } else {
        format!(" (mailbox size {size})")
    };
    match best {
        Some((_, i)) => {
            let kept = change.removals.remove(i);
            diags.push(
                Diagnostic::warning(
                    format!("{upn} keeps {}: {why}{size_note}", kept.sku_part_number),
                    origin.clone(),
                )
                .with_hint("remove the archive or hold, or reduce the mailbox below 50 GB, before the licence can go"),
            );
            true
        }
        None => {
            diags.push(
            Diagnostic::error(
                format!("{upn} would not keep what its mailbox needs: {why}{size_note}"),
                origin.clone(),
            )
            .with_hint(if needed == ExchangeRank::Plan2 {
                "keep a licence that includes Exchange Online Plan 2 (EXCHANGE_S_ENTERPRISE, e.g. ENTERPRISEPACK or EXCHANGEENTERPRISE) with its Exchange plan enabled, or remove the archive and hold and reduce the mailbox below 50 GB first"
            } else {
                "give the user an Exchange licence directly before the group change"
            }),
            );
            false
        }
    }
}

/// Marks a user whose licence call both grants and removes Exchange plans: the grant must
/// land first (two calls), because Graph does not document add+remove as atomic.
fn set_continuity(ix: &Index<'_>, live: &[LicenseAssignment], change: &mut UserChange) {
    let removes_exchange = change.removals.iter().any(|r| {
        live.iter().any(|l| {
            l.assigned_by_group.is_none()
                && l.sku_id == r.sku_id
                && ix.sku_rank(&l.sku_id, &l.disabled_plans).has_mailbox()
        })
    });
    let grants_exchange = change
        .grants
        .iter()
        .any(|g| ix.sku_rank(&g.sku_id, &g.disabled_plans).has_mailbox());
    change.continuity = removes_exchange && grants_exchange;
    if change.continuity {
        change.reasons.push(
            "Exchange continuity: the new Exchange licence is added before the old one is removed"
                .to_string(),
        );
    }
}

/// How many distinct Exchange-bearing SKUs the assignments hold effectively: fewer after a
/// change means the user's Exchange licences go down, even when the rank stays (stacking).
fn exchange_skus(ix: &Index<'_>, licenses: &[LicenseAssignment]) -> usize {
    let mut skus: Vec<&str> = licenses
        .iter()
        .filter(|l| l.is_effective() && ix.sku_rank(&l.sku_id, &l.disabled_plans).has_mailbox())
        .map(|l| l.sku_id.as_str())
        .collect();
    skus.sort_unstable();
    skus.dedup();
    skus.len()
}

fn sorted_eq(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    a.sort();
    a == b
}

/// The assignments a user would hold after `change` (direct and inherited), by the same
/// rules the model and the simulator apply (`grant_direct`, `sync_inherited`).
fn projected_licenses<'g>(
    live: &[LicenseAssignment],
    change: &UserChange,
    groups_after: &[usize],
    group_lics: &dyn Fn(usize) -> &'g [GroupLicense],
    groups: &[crate::tenant::Group],
) -> Vec<LicenseAssignment> {
    let mut out: Vec<LicenseAssignment> = live
        .iter()
        .filter(|l| {
            l.assigned_by_group.is_some() || !change.removals.iter().any(|r| r.sku_id == l.sku_id)
        })
        .cloned()
        .collect();
    for g in &change.grants {
        grant_direct(&mut out, g);
    }
    let wanted = groups_after
        .iter()
        .flat_map(|&gi| {
            group_lics(gi)
                .iter()
                .map(move |l| (groups[gi].id.clone(), l.clone()))
        })
        .collect();
    sync_inherited(&mut out, wanted);
    out
}

#[cfg(test)]
mod rule_tests {
    //! The per-user rules, each on its own on small tenants.
    use super::*;
    use crate::plan::testkit::*;
    use crate::tenant::Tenant;

    /// Runs `rule` for `upn` alone: the change it leaves and its diagnostics.
    fn run(
        d: &DesiredState,
        live: &Tenant,
        upn: &str,
        rule: impl FnOnce(&UserCx<'_, '_, '_>, &mut UserChange, &mut Vec<Diagnostic>),
    ) -> (UserChange, Vec<String>) {
        let ix = Index::new(live);
        let ui = live
            .users
            .iter()
            .position(|u| u.user_principal_name == upn)
            .expect("user");
        let declared_keys: HashMap<usize, &str> = d
            .groups
            .iter()
            .filter_map(|(name, g)| Some((ix.group_by_id(&g.id)?, name.as_str())))
            .collect();
        let group_lics = |gi: usize| live.groups[gi].licenses.as_slice();
        let du = d.users.get(upn);
        let origin = None;
        let cx = UserCx {
            ix: &ix,
            desired: d,
            du,
            ui,
            user: &live.users[ui],
            upn,
            origin: &origin,
            group_lics: &group_lics,
            declared_members: &HashMap::new(),
            declared_keys: &declared_keys,
        };
        let mut change = UserChange::default();
        let mut diags = Vec::new();
        rule(&cx, &mut change, &mut diags);
        (change, diags.into_iter().map(|d| d.message).collect())
    }

    /// `licence_grants` and `licence_removals` for the user's declared licences.
    fn licences(cx: &UserCx<'_, '_, '_>, change: &mut UserChange, diags: &mut Vec<Diagnostic>) {
        let licenses = cx.du.and_then(|d| d.licenses.as_ref()).expect("declared");
        let wanted = resolve_skus(cx.ix, licenses, cx.upn, None, diags);
        let ids: BTreeSet<&str> = wanted.iter().map(|(s, _)| s.sku_id.as_str()).collect();
        licence_grants(cx, change, &wanted, diags);
        licence_removals(cx, change, &ids);
    }

    #[test]
    fn usage_location_changes_only_when_declared_and_different() {
        for live_location in [None, Some("GB"), Some("US")] {
            for wanted in [None, Some("GB")] {
                let live = TenantBuilder::new()
                    .user_at("ann@x.com", live_location, &[])
                    .build();
                let mut d = desired(&[]);
                want(&mut d, "ann@x.com", &[]).usage_location = wanted.map(str::to_string);
                let wanted = d
                    .users
                    .get("ann@x.com")
                    .and_then(|u| u.usage_location.as_ref());
                let change = usage_location_change(&live.users[0], wanted);
                let expected = wanted
                    .filter(|w| live_location != Some(*w))
                    .map(|w| (live_location.map(str::to_string), w.to_string()));
                assert_eq!(change, expected);
            }
        }
    }

    #[test]
    fn licence_grants_and_removals_follow_the_declared_list_of_managed_skus() {
        let live = TenantBuilder::new()
            .skus(
                &["ENTERPRISEPACK", "ENTERPRISEPREMIUM", "EXCHANGESTANDARD"],
                5,
            )
            .user("ann@x.com", &["ENTERPRISEPACK", "EXCHANGESTANDARD"])
            .build();
        // EXCHANGESTANDARD is not managed: never removed.
        let mut d = desired(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
        want(&mut d, "ann@x.com", &["ENTERPRISEPREMIUM"]);
        let (change, diags) = run(&d, &live, "ann@x.com", licences);
        let parts = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            parts(
                change
                    .grants
                    .iter()
                    .map(|g| g.sku_part_number.as_str())
                    .collect()
            ),
            ["ENTERPRISEPREMIUM"]
        );
        assert_eq!(
            parts(
                change
                    .removals
                    .iter()
                    .map(|r| r.sku_part_number.as_str())
                    .collect()
            ),
            ["ENTERPRISEPACK"]
        );
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn an_unwanted_licence_of_a_managed_group_is_left_by_leaving_the_group() {
        let (b, mut d) = managing(&["ENTERPRISEPACK"]);
        let live = b
            .user("ann@x.com", &[])
            .group("LIC", &["ENTERPRISEPACK"], &["ann@x.com"])
            .build();
        want_group(&mut d, "LIC", &["ENTERPRISEPACK"], None);
        want(&mut d, "ann@x.com", &[]);
        let (change, diags) = run(&d, &live, "ann@x.com", |cx, change, diags| {
            leave_groups_for_unwanted_licences(cx, change, &BTreeSet::new(), diags)
        });
        assert_eq!(change.leave.len(), 1);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn resource_mailboxes_never_get_licences() {
        let (b, mut d) = managing(&["ENTERPRISEPACK"]);
        let live = b
            .user("room@x.com", &[])
            .mailbox(Some(MailboxType::Room), 0)
            .build();
        want(&mut d, "room@x.com", &["ENTERPRISEPACK"]);
        let (change, diags) = run(&d, &live, "room@x.com", |cx, change, diags| {
            licences(cx, change, diags);
            resource_mailboxes_get_no_licences(cx, change, diags);
        });
        assert!(change.grants.is_empty());
        assert_eq!(
            diags,
            ["room@x.com is a room mailbox: resource mailboxes never get user licences"]
        );
    }

    #[test]
    fn mailboxes_convert_only_between_user_and_shared() {
        for (from, to, converts) in [
            (MailboxType::User, MailboxType::Shared, true),
            (MailboxType::Shared, MailboxType::User, true),
            (MailboxType::User, MailboxType::Room, false),
            (MailboxType::Equipment, MailboxType::Shared, false),
        ] {
            let live = TenantBuilder::new()
                .user("ann@x.com", &[])
                .mailbox(Some(from), 1)
                .build();
            let mut d = desired(&[]);
            want(&mut d, "ann@x.com", &[]).mailbox = Some(to);
            let (change, diags) = run(&d, &live, "ann@x.com", mailbox_conversion);
            assert_eq!(change.convert.is_some(), converts, "{from} -> {to}");
            assert_eq!(diags.len(), usize::from(!converts), "{diags:?}");
        }
    }

    #[test]
    fn a_direct_licence_without_usage_location_is_an_error() {
        let (b, mut d) = managing(&["ENTERPRISEPACK"]);
        let live = b.user_at("ann@x.com", None, &[]).build();
        want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
        let (_, diags) = run(&d, &live, "ann@x.com", |cx, change, diags| {
            licences(cx, change, diags);
            usage_location_required(cx, change, diags);
        });
        assert_eq!(
            diags,
            ["ann@x.com gets a licence but has no usage location"]
        );
    }

    #[test]
    fn losing_the_last_exchange_licence_of_a_user_mailbox_is_an_error() {
        let (b, mut d) = managing(&["ENTERPRISEPACK"]);
        let live = b
            .user("ann@x.com", &["ENTERPRISEPACK"])
            .mailbox(Some(MailboxType::User), 1)
            .build();
        want(&mut d, "ann@x.com", &[]);
        let (_, diags) = run(&d, &live, "ann@x.com", |cx, change, diags| {
            licences(cx, change, diags);
            mailbox_safety(cx, change, diags, &mut Vec::new());
        });
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0].contains("would lose its last Exchange licence"),
            "{diags:?}"
        );
    }
}
