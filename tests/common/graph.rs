//! Shared fixtures for the Graph backend tests: a tenant with every licensing shape the
//! backend must read and write, and helpers that point a `GraphBackend` at the fake.

#![allow(dead_code)]

use m365ctl::backend::AuthMode;
use m365ctl::backend::graph::GraphBackend;
use m365ctl::catalog::sku_from_catalog;
use m365ctl::graph::RetryPolicy;
use m365ctl::sim::{FakeTenant, FakeTenantHandle, SimOptions};
use m365ctl::tenant::{Group, GroupLicense, LicenseAssignment, Mailbox, MailboxType, Tenant, User};
use std::collections::BTreeMap;
use std::time::Duration;

/// Environment variable holding the fake's client secret.
pub const SECRET_ENV: &str = "M365CTL_TEST_GRAPH_SECRET";
/// The fake's default client secret.
pub const SECRET: &str = "sim-client-secret";

/// Sets the secret variable (same value from every test, so concurrent tests agree).
pub fn secret_auth() -> AuthMode {
    // SAFETY: every test writes the same value; no test reads a different one.
    unsafe { std::env::set_var(SECRET_ENV, SECRET) };
    AuthMode::Secret {
        env: SECRET_ENV.to_string(),
    }
}

/// Short waits so fault tests finish quickly while still honouring `Retry-After`.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(5),
        max_total: Duration::from_secs(120),
    }
}

pub fn id(kind: u32, n: usize) -> String {
    format!("{kind:08}-0000-4000-8000-{n:012}")
}

pub fn upn(n: usize) -> String {
    format!("user{n:05}@contoso.com")
}

pub fn e3() -> String {
    sku_from_catalog("ENTERPRISEPACK", 0).unwrap().sku_id
}
pub fn e5() -> String {
    sku_from_catalog("ENTERPRISEPREMIUM", 0).unwrap().sku_id
}
pub fn exo1() -> String {
    sku_from_catalog("EXCHANGESTANDARD", 0).unwrap().sku_id
}

fn direct(sku: &str) -> LicenseAssignment {
    LicenseAssignment {
        sku_id: sku.to_string(),
        disabled_plans: Vec::new(),
        assigned_by_group: None,
        state: "Active".into(),
        error: None,
    }
}

/// The group that licenses E5.
pub fn e5_group_id() -> String {
    id(2, 1)
}
/// A group without licences, known only by name from the config.
pub fn plain_group_id() -> String {
    id(2, 2)
}

/// A tenant of `n` users (n >= 10) exercising direct and inherited licences, disabled plans,
/// rule attributes, missing usage locations, synced users and every mailbox kind.
pub fn tenant(n: usize) -> Tenant {
    let yammer = sku_from_catalog("ENTERPRISEPACK", 0)
        .unwrap()
        .plan_by_name("YAMMER_ENTERPRISE")
        .unwrap()
        .service_plan_id
        .clone();
    let mut users = Vec::new();
    let mut e5_members = Vec::new();
    for i in 0..n {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "department".to_string(),
            if i % 3 == 0 { "Sales" } else { "Engineering" }.to_string(),
        );
        if i % 4 == 0 {
            attributes.insert("extensionAttribute1".to_string(), "staff".to_string());
        }
        if i % 5 == 0 {
            attributes.insert("jobTitle".to_string(), "Engineer".to_string());
        }
        let mut licenses = Vec::new();
        let mut mailbox = Some(Mailbox {
            kind: MailboxType::User,
            size_bytes: Some(0),
            archive_enabled: Some(false),
            litigation_hold: Some(false),
        });
        match i % 10 {
            0..=4 => {
                let mut l = direct(&e3());
                if i % 2 == 0 {
                    l.disabled_plans = vec![yammer.clone()];
                }
                licenses.push(l);
            }
            5 | 6 => {
                e5_members.push(id(1, i));
                licenses.push(LicenseAssignment {
                    assigned_by_group: Some(e5_group_id()),
                    ..direct(&e5())
                });
                if i % 10 == 6 {
                    licenses.push(direct(&e5()));
                }
            }
            7 => licenses.push(direct(&exo1())),
            8 => {
                mailbox = Some(Mailbox {
                    kind: MailboxType::Shared,
                    size_bytes: Some(3 * 1024 * 1024 * 1024 + i as u64),
                    archive_enabled: Some(i % 20 == 8),
                    litigation_hold: Some(false),
                })
            }
            _ => mailbox = None,
        }
        users.push(User {
            id: id(1, i),
            user_principal_name: upn(i),
            display_name: Some(format!("User {i}")),
            account_enabled: i % 10 != 8,
            usage_location: if i % 10 == 9 { None } else { Some("GB".into()) },
            on_premises_sync_enabled: i % 10 == 3,
            attributes: attributes.into(),
            licenses,
            mailbox,
        });
    }
    let mut skus = vec![
        sku_from_catalog("ENTERPRISEPACK", (n / 2 + 2) as u32).unwrap(),
        sku_from_catalog("ENTERPRISEPREMIUM", (n / 5 + 2) as u32).unwrap(),
        sku_from_catalog("EXCHANGESTANDARD", (n / 10 + 1) as u32).unwrap(),
    ];
    skus[0].warning = 1;
    let mut t = Tenant::new(
        Some("c0ffee00-0000-4000-8000-000000000001".into()),
        skus,
        users,
        vec![
            Group {
                id: e5_group_id(),
                display_name: "LIC-E5".into(),
                licenses: vec![GroupLicense {
                    sku_id: e5(),
                    disabled_plans: Vec::new(),
                }],
                members: e5_members,
            },
            Group {
                id: plain_group_id(),
                display_name: "Sales O'Brien Team".into(),
                licenses: Vec::new(),
                members: vec![id(1, 0), id(1, 3)],
            },
        ],
    );
    t.recount_consumed();
    t.normalize();
    t
}

/// Starts the fake serving `tenant`.
pub async fn start(tenant: Tenant, options: SimOptions) -> FakeTenantHandle {
    FakeTenant::start(tenant, options)
        .await
        .expect("fake starts")
}

/// A Graph backend with secret auth against `fake`, reading the plain group by name too.
pub fn backend(fake: &FakeTenantHandle) -> GraphBackend {
    GraphBackend::with_retry_policy(&fake.settings(secret_auth()), fast_retries())
        .expect("backend builds")
        .with_groups(["Sales O'Brien Team".to_string()])
}
