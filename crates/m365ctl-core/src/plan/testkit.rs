//! A compact builder for small tenants and desired states in planner tests.

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
    let members: BTreeSet<String> = (0..users)
        .filter(|i| want_members & (1 << i) != 0)
        .map(generated_upn)
        .collect();
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
