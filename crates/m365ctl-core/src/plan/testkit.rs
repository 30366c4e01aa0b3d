//! A compact builder for small tenants and desired states in planner tests, and the queries
//! those tests ask of a plan.

use super::{Operation, Plan};
use crate::catalog::sku_from_catalog;
use crate::desired::{
    DesiredGroup, DesiredLicense, DesiredState, DesiredUser, Guards, LicenseIntent, LicenseSet,
    Scope, UserScope,
};
use crate::tenant::{Group, GroupLicense, LicenseAssignment, Mailbox, MailboxType, Tenant, User};
use std::collections::{BTreeMap, BTreeSet};

/// Object id of a test user.
pub fn uid(upn: &str) -> String {
    format!("id-{upn}")
}

/// Object id of a test group.
pub fn gid(name: &str) -> String {
    format!("gid-{name}")
}

/// Builds a consistent live tenant: inherited assignments and seat counts are derived.
#[derive(Default)]
pub struct TenantBuilder {
    tenant: Tenant,
}

impl TenantBuilder {
    /// An empty tenant.
    pub fn new() -> TenantBuilder {
        TenantBuilder::default()
    }

    /// Subscribes to a catalog SKU with `enabled` seats.
    pub fn sku(mut self, part: &str, enabled: u32) -> TenantBuilder {
        self.tenant
            .skus
            .push(sku_from_catalog(part, enabled).expect("known SKU"));
        self
    }

    /// Subscribes to each of `parts` with the same `enabled` seats: most planner tests give
    /// every SKU the same room so that seats play no part.
    pub fn skus(self, parts: &[&str], enabled: u32) -> TenantBuilder {
        parts.iter().fold(self, |b, part| b.sku(part, enabled))
    }

    fn sku_id(&self, part: &str) -> String {
        self.tenant
            .sku_by_part_number(part)
            .expect("SKU subscribed in the test")
            .sku_id
            .clone()
    }

    /// A user in GB with these direct licences and a user mailbox.
    pub fn user(self, upn: &str, skus: &[&str]) -> TenantBuilder {
        self.user_at(upn, Some("GB"), skus)
    }

    /// A user with an explicit usage location.
    pub fn user_at(mut self, upn: &str, location: Option<&str>, skus: &[&str]) -> TenantBuilder {
        let licenses = skus
            .iter()
            .map(|p| LicenseAssignment {
                sku_id: self.sku_id(p),
                disabled_plans: vec![],
                assigned_by_group: None,
                state: "Active".to_string(),
                error: None,
            })
            .collect();
        self.tenant.users.push(User {
            id: uid(upn),
            user_principal_name: upn.to_string(),
            display_name: None,
            account_enabled: true,
            usage_location: location.map(str::to_string),
            on_premises_sync_enabled: false,
            attributes: Default::default(),
            licenses,
            mailbox: Some(Mailbox {
                kind: MailboxType::User,
                size_bytes: Some(1 << 30),
                archive_enabled: Some(false),
                litigation_hold: Some(false),
            }),
        });
        self
    }

    /// Changes the last user's mailbox.
    pub fn mailbox(mut self, kind: Option<MailboxType>, size_gb: u64) -> TenantBuilder {
        let user = self.tenant.users.last_mut().expect("a user first");
        user.mailbox = kind.map(|kind| Mailbox {
            kind,
            size_bytes: Some(size_gb << 30),
            archive_enabled: Some(false),
            litigation_hold: Some(false),
        });
        self
    }

    /// Gives the last user's mailbox an archive (`archive`) and/or litigation hold (`hold`).
    pub fn mailbox_facts(mut self, archive: bool, hold: bool) -> TenantBuilder {
        let user = self.tenant.users.last_mut().expect("a user first");
        let mailbox = user.mailbox.as_mut().expect("a mailbox first");
        mailbox.archive_enabled = Some(archive);
        mailbox.litigation_hold = Some(hold);
        self
    }

    /// Sets the last user's `accountEnabled` (whether it may sign in).
    pub fn account_enabled(mut self, enabled: bool) -> TenantBuilder {
        self.tenant
            .users
            .last_mut()
            .expect("a user first")
            .account_enabled = enabled;
        self
    }

    /// Marks the last user as synchronised from on-premises.
    pub fn synced(mut self) -> TenantBuilder {
        self.tenant
            .users
            .last_mut()
            .expect("a user first")
            .on_premises_sync_enabled = true;
        self
    }

    /// Disables plans (by name) in the last user's direct assignment of `part`.
    pub fn disabled(mut self, part: &str, plans: &[&str]) -> TenantBuilder {
        let sku = self.tenant.sku_by_part_number(part).expect("SKU").clone();
        let user = self.tenant.users.last_mut().expect("a user first");
        let l = user
            .licenses
            .iter_mut()
            .find(|l| l.sku_id == sku.sku_id)
            .expect("user holds the SKU");
        l.disabled_plans = plans
            .iter()
            .map(|p| sku.plan_by_name(p).expect("plan").service_plan_id.clone())
            .collect();
        self
    }

    /// A licensed group with members (UPNs of users already added).
    pub fn group(mut self, name: &str, skus: &[&str], members: &[&str]) -> TenantBuilder {
        let licenses = skus
            .iter()
            .map(|p| GroupLicense {
                sku_id: self.sku_id(p),
                disabled_plans: vec![],
            })
            .collect();
        self.tenant.groups.push(Group {
            id: gid(name),
            display_name: name.to_string(),
            licenses,
            members: members.iter().map(|m| uid(m)).collect(),
        });
        self
    }

    /// The generated group `G{index}` licensed with `skus`, its members the generated users
    /// (of `users`) whose bit is set in `members`.
    pub fn generated_group(
        self,
        index: usize,
        skus: &[&str],
        members: u8,
        users: usize,
    ) -> TenantBuilder {
        let members: Vec<String> = generated_members(members, users).collect();
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        self.group(&format!("G{index}"), skus, &members)
    }

    /// The tenant with inherited assignments and consumed seats derived.
    pub fn build(mut self) -> Tenant {
        let groups = self.tenant.groups.clone();
        for user in &mut self.tenant.users {
            for g in groups.iter().filter(|g| g.members.contains(&user.id)) {
                for l in &g.licenses {
                    user.licenses.push(LicenseAssignment {
                        sku_id: l.sku_id.clone(),
                        disabled_plans: l.disabled_plans.clone(),
                        assigned_by_group: Some(g.id.clone()),
                        state: "Active".to_string(),
                        error: None,
                    });
                }
            }
        }
        self.tenant.recount_consumed();
        self.tenant.normalize();
        self.tenant
    }
}

/// The usual frame of a planner test: a tenant subscribing to `parts` (five seats each, so
/// that seats play no part) and a desired state managing exactly them. Add users and groups
/// to the builder; declare them in the desired state.
pub fn managing(parts: &[&str]) -> (TenantBuilder, DesiredState) {
    (TenantBuilder::new().skus(parts, 5), desired(parts))
}

/// The commonest situation: `upn` holds E3 (`ENTERPRISEPACK`, 5 seats) directly, and a
/// desired state manages E3 and declares nobody yet.
pub fn e3_holder(upn: &str) -> (Tenant, DesiredState) {
    let (b, d) = managing(&["ENTERPRISEPACK"]);
    (b.user(upn, &["ENTERPRISEPACK"]).build(), d)
}

/// One user trading a SKU for another: `upn` holds `from` directly and wants `to` instead,
/// five seats of each, the desired state managing both.
pub fn licence_swap(upn: &str, from: &str, to: &str) -> (Tenant, DesiredState) {
    let (b, mut d) = managing(&[from, to]);
    let live = b.user(upn, &[from]).build();
    want(&mut d, upn, &[to]);
    (live, d)
}

/// Two users trading SKUs with no seat to spare: amy holds `a` and wants `b`, ben holds `b`
/// and wants `a`, one seat of each; the desired state manages both.
pub fn seat_swap(a: &str, b: &str) -> (Tenant, DesiredState) {
    let live = TenantBuilder::new()
        .skus(&[a, b], 1)
        .user("amy@x.com", &[a])
        .user("ben@x.com", &[b])
        .build();
    let mut d = desired(&[a, b]);
    want(&mut d, "amy@x.com", &[b]);
    want(&mut d, "ben@x.com", &[a]);
    (live, d)
}

/// A desired state managing these SKUs, declared users only.
pub fn desired(managed: &[&str]) -> DesiredState {
    DesiredState {
        scope: Scope {
            managed_skus: managed.iter().map(|s| s.to_string()).collect(),
            users: UserScope::Declared,
        },
        users: BTreeMap::new(),
        groups: BTreeMap::new(),
        guards: Guards::default(),
    }
}

/// Desired licences without disabled-plan management.
pub fn lics(parts: &[&str]) -> LicenseSet {
    parts
        .iter()
        .map(|p| DesiredLicense {
            sku_part_number: p.to_string(),
            disabled_plans: None,
            origin: None,
        })
        .collect()
}

/// Declares a user holding exactly `parts`.
pub fn want<'d>(d: &'d mut DesiredState, upn: &str, parts: &[&str]) -> &'d mut DesiredUser {
    d.users.insert(
        upn.to_ascii_lowercase(),
        DesiredUser {
            upn: upn.to_string(),
            origin: None,
            profile: None,
            usage_location: None,
            licenses: Some(lics(parts).into()),
            license_intent: LicenseIntent::Exactly,
            mailbox: None,
            mailbox_deletion_accepted: false,
            sign_in: None,
        },
    );
    d.users
        .get_mut(&upn.to_ascii_lowercase())
        .expect("inserted")
}

/// Sets the disabled plans declared for `part` on a user `want` declared (`None` = keep
/// whatever the live assignment disables).
pub fn disable(user: &mut DesiredUser, part: &str, plans: Option<&[&str]>) {
    let licenses = user.licenses.as_mut().expect("declared licences");
    std::sync::Arc::make_mut(licenses)
        .get_mut(part)
        .expect("declared SKU")
        .disabled_plans = plans.map(|p| p.iter().map(|s| s.to_string()).collect());
}

/// Declares a group with managed licences and members.
pub fn want_group(d: &mut DesiredState, name: &str, parts: &[&str], members: Option<&[&str]>) {
    d.groups.insert(
        name.to_string(),
        DesiredGroup {
            id: gid(name),
            name: name.to_string(),
            origin: None,
            licenses: Some(lics(parts)),
            members: members.map(|m| {
                m.iter()
                    .map(|u| u.to_ascii_lowercase())
                    .collect::<BTreeSet<_>>()
            }),
            member_origins: Default::default(),
        },
    );
}

/// The principal name of generated user `i`: the property tests' tenants and desired states
/// name users by position, and both sides must agree.
pub fn generated_upn(i: usize) -> String {
    format!("u{i}@x.com")
}

/// The principal names of the generated users (of `users`) whose bit is set in `mask`.
pub fn generated_members(mask: u8, users: usize) -> impl Iterator<Item = String> {
    (0..users)
        .filter(move |i| mask & (1 << i) != 0)
        .map(generated_upn)
}

/// Declares generated user `i` as the property tests' `declared` code says: 0 leaves it
/// undeclared (`None`), 1 leaves its licences unmanaged, 2 keeps whatever it holds, 3 and more
/// give it exactly `wanted`.
pub fn declare_generated_user<'d>(
    d: &'d mut DesiredState,
    i: usize,
    declared: u8,
    wanted: &[&str],
) -> Option<&'d mut DesiredUser> {
    if declared == 0 {
        return None;
    }
    let du = want(d, &generated_upn(i), wanted);
    match declared {
        1 => du.licenses = None,
        2 => du.license_intent = LicenseIntent::Keep,
        _ => {}
    }
    Some(du)
}

/// The entries of `within` whose bit is set in `mask`: how the property tests turn a generated
/// bit mask into SKU part numbers.
pub fn pick(mask: u8, within: &[&'static str]) -> Vec<&'static str> {
    within
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect()
}

/// Declares the generated group `G{index}` among `users` generated users: `declared` bit 0
/// manages its licences (`want_skus`, a mask over `managed`), `declared >= 2` manages its members
/// (`want_members`, a mask over the users); 0 leaves the group unmanaged.
pub fn declare_generated_group(
    d: &mut DesiredState,
    index: usize,
    users: usize,
    declared: u8,
    want_skus: u8,
    want_members: u8,
    managed: &[&'static str],
) {
    if declared == 0 {
        return;
    }
    let name = format!("G{index}");
    let members: BTreeSet<String> = generated_members(want_members, users).collect();
    d.groups.insert(
        name.clone(),
        DesiredGroup {
            id: gid(&name),
            name,
            origin: None,
            licenses: (declared & 1 == 1).then(|| lics(&pick(want_skus, managed))),
            members: (declared >= 2).then_some(members),
            member_origins: Default::default(),
        },
    );
}

/// Whether the desired state accepts losing `upn`'s mailbox (`mailbox = "delete"`): what the
/// order checker needs to tell an accepted loss from a stranded mailbox.
pub fn deletion_accepted(d: &DesiredState) -> impl Fn(&str) -> bool + '_ {
    |upn: &str| {
        d.users
            .get(&upn.to_ascii_lowercase())
            .is_some_and(|u| u.mailbox_deletion_accepted)
    }
}

/// The tenant after every operation of `plan`, in its printed order, under Graph's rules.
pub fn apply_all(live: &Tenant, plan: &Plan) -> Tenant {
    let mut after = live.clone();
    for op in &plan.operations {
        crate::tenant::apply_operation(&mut after, &op.kind)
            .unwrap_or_else(|e| panic!("{} rejected: {e}", op.id));
    }
    after
}

/// The operation ids of a plan, in order: what most ordering assertions compare.
pub fn ids(plan: &Plan) -> Vec<&str> {
    plan.operations.iter().map(|o| o.id.as_str()).collect()
}

/// Where operation `id` stands in the plan; panics naming the ids there are.
pub fn position(plan: &Plan, id: &str) -> usize {
    plan.operations
        .iter()
        .position(|o| o.id == id)
        .unwrap_or_else(|| panic!("{id} not in {:?}", ids(plan)))
}

/// Operation `id` of the plan.
pub fn op<'p>(plan: &'p Plan, id: &str) -> &'p Operation {
    &plan.operations[position(plan, id)]
}

/// Whether operation `id` waits for operation `on`: an edge, not luck of the printed order.
pub fn depends_on(plan: &Plan, id: &str, on: &str) -> bool {
    op(plan, id).depends_on.contains(&on.to_string())
}

/// The messages of the plan's errors.
pub fn errors(plan: &Plan) -> Vec<String> {
    plan.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect()
}

/// The messages of the plan's warnings.
pub fn warnings(plan: &Plan) -> Vec<String> {
    plan.diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| d.message.clone())
        .collect()
}

/// The hint of the first diagnostic whose message contains `message_part` (empty if none).
pub fn hint_of(plan: &Plan, message_part: &str) -> String {
    plan.diagnostics
        .iter()
        .find(|d| d.message.contains(message_part))
        .and_then(|d| d.hint.clone())
        .unwrap_or_default()
}

/// Fails on any diagnostic that is the planner's own bug rather than the tenant's problem.
pub fn no_internal_errors(plan: &Plan) {
    for d in &plan.diagnostics {
        assert!(
            !d.message.contains("internal planner error"),
            "{}",
            d.message
        );
    }
}

/// Applies the plan with Graph's rules, checking seats and mailbox safety after every step.
pub fn apply_checked(live: &Tenant, plan: &Plan) -> Tenant {
    let mut t = live.clone();
    let unlicensed_before = crate::tenant::unlicensed_user_mailboxes(&t);
    for op in &plan.operations {
        crate::tenant::apply_operation(&mut t, &op.kind)
            .unwrap_or_else(|e| panic!("{} rejected: {e}", op.id));
        for sku in &t.skus {
            assert!(
                i64::from(sku.consumed) <= crate::rules::seats::capacity(sku),
                "{} over capacity after {}",
                sku.sku_part_number,
                op.id
            );
        }
        for upn in crate::tenant::unlicensed_user_mailboxes(&t) {
            let warned = plan
                .diagnostics
                .iter()
                .any(|d| d.message.contains(&upn) && d.message.contains("will be disabled"));
            assert!(
                unlicensed_before.contains(&upn) || warned,
                "{upn} lost Exchange after {}",
                op.id
            );
        }
    }
    t
}
