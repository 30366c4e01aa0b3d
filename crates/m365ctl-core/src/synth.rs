//! Synthetic tenants: deterministic, realistic tenants of any size with a matching config.
//!
//! Benchmarks, fault-injection tests and `m365ctl sim serve` need tenants of 1k to 100k users
//! that look like real ones (20 SKUs from Microsoft's catalog, licence groups, attribute-driven
//! profiles, mailboxes) and a desired state that differs from them in a known fraction of
//! users. Generation is seeded and pure, so a figure measured today is reproducible tomorrow.

use crate::catalog;
use crate::tenant::{Group, GroupLicense, LicenseAssignment, Mailbox, MailboxType, Tenant, User};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The 20 SKUs a synthetic tenant subscribes to (skuPartNumbers of Microsoft's catalog).
pub const SKUS: [&str; 20] = [
    "ENTERPRISEPACK",
    "ENTERPRISEPREMIUM",
    "SPE_E3",
    "SPE_E5",
    "EXCHANGESTANDARD",
    "EXCHANGEENTERPRISE",
    "DESKLESSPACK",
    "SPE_F1",
    "STANDARDPACK",
    "O365_BUSINESS_PREMIUM",
    "O365_BUSINESS_ESSENTIALS",
    "SPB",
    "EMS",
    "POWER_BI_PRO",
    "POWER_BI_STANDARD",
    "FLOW_FREE",
    "VISIOCLIENT",
    "PROJECTPREMIUM",
    "EXCHANGEARCHIVE_ADDON",
    "EXCHANGEDESKLESS",
];

const DEPARTMENTS: [&str; 10] = [
    "Sales",
    "Engineering",
    "Finance",
    "HR",
    "Operations",
    "Retail",
    "Support",
    "Marketing",
    "Legal",
    "IT",
];

const COUNTRIES: [&str; 6] = ["GB", "US", "DE", "FR", "NL", "IE"];

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// Number of users.
    pub users: usize,
    /// Number of groups (of which `licensed_groups` carry a licence).
    pub groups: usize,
    /// Groups carrying a licence (group-based licensing).
    pub licensed_groups: usize,
    /// Fraction of users whose live state differs from the desired state (0.0..=1.0).
    pub change_rate: f64,
    /// PRNG seed.
    pub seed: u64,
}

impl SynthSpec {
    /// The shape `m365ctl sim serve --generate N --seed S` serves: one group per 50 users
    /// (at least 2, at most 2,000), a quarter of them licensed (1 to 20).
    pub fn served(users: usize, seed: u64) -> SynthSpec {
        let groups = (users / 50).clamp(2, 2_000);
        SynthSpec {
            users,
            groups,
            licensed_groups: (groups / 4).clamp(1, 20),
            change_rate: 0.02,
            seed,
        }
    }

    /// The benchmark shape of the Scale issue: `users` users, 2,000 groups, 20 SKUs, 2% changes.
    pub fn benchmark(users: usize) -> SynthSpec {
        SynthSpec {
            users,
            groups: 2_000,
            licensed_groups: 20,
            change_rate: 0.02,
            seed: 0x6d33_3635,
        }
    }
}

/// A generated tenant with its desired state.
#[derive(Debug, Clone)]
pub struct Synth {
    /// The live tenant (serve it from the fake server or write it as a snapshot).
    pub tenant: Tenant,
    /// The desired state as one TOML file (`[tenant]` points at `tenant.json` beside it).
    pub config_toml: String,
    /// Users whose live state was made to differ from the desired state.
    pub changed_users: usize,
}

/// A deterministic GUID-shaped id from a namespace byte and a number.
pub fn synthetic_guid(namespace: u8, n: u64) -> String {
    format!(
        "{namespace:02x}{:06x}-0000-4000-8000-{:012x}",
        (n >> 48) & 0xff_ffff,
        n & 0xffff_ffff_ffff
    )
}

/// What the profile rules give each kind of worker.
fn profile_skus(kind: &str) -> &'static [&'static str] {
    match kind {
        "FTE" => &["ENTERPRISEPACK", "EMS"],
        "Manager" => &["ENTERPRISEPREMIUM", "EMS"],
        "Frontline" => &["DESKLESSPACK"],
        "Contractor" => &["EXCHANGESTANDARD"],
        _ => &[],
    }
}

/// A mailbox size that fits the quota of the profile's Exchange plan
/// (`rules::mailbox::user_mailbox_quota`): frontline workers have Kiosk (2 GB).
fn mailbox_gb(kind: &str, drawn: u64) -> u64 {
    if kind == "Frontline" { 1 } else { drawn }
}

/// Generates a tenant and a config that is in sync with it except for `change_rate` of users.
pub fn generate(spec: &SynthSpec) -> Synth {
    // ChaCha8 from a u64 seed: the same tenant on every platform and rand 0.10.x release.
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let skus: Vec<_> = SKUS
        .iter()
        .map(|p| catalog::sku_from_catalog(p, 0).expect("synthetic SKU is in the catalog"))
        .collect();
    let sku_id: BTreeMap<&str, String> = skus
        .iter()
        .map(|s| {
            (
                SKUS[SKUS.iter().position(|p| *p == s.sku_part_number).unwrap()],
                s.sku_id.clone(),
            )
        })
        .collect();
    let kinds = [
        "FTE",
        "FTE",
        "FTE",
        "Manager",
        "Frontline",
        "Frontline",
        "Contractor",
    ];
    let mut users = Vec::with_capacity(spec.users);
    let mut changed = 0;
    for i in 0..spec.users {
        let kind = kinds[rng.random_range(0..kinds.len())];
        let department = DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())];
        let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
        let mut attributes = crate::tenant::UserAttributes::default();
        attributes.insert("department", department);
        attributes.insert("country", country);
        attributes.insert("extensionAttribute1", kind);
        let mut licenses: Vec<LicenseAssignment> = profile_skus(kind)
            .iter()
            .map(|p| LicenseAssignment {
                sku_id: sku_id[p].clone(),
                disabled_plans: Vec::new(),
                assigned_by_group: None,
                state: "Active".to_string(),
                error: None,
            })
            .collect();
        let mut usage_location = Some(country.to_string());
        if rng.random::<f64>() < spec.change_rate {
            changed += 1;
            match rng.random_range(0..3) {
                // Joiner: nothing assigned yet, no usage location.
                0 => {
                    licenses.clear();
                    usage_location = None;
                }
                // Mover: holds the wrong main licence.
                1 => {
                    if let Some(first) = licenses.first_mut() {
                        first.sku_id = sku_id["STANDARDPACK"].clone();
                    }
                }
                // Extra licence the profile does not give.
                _ => licenses.push(LicenseAssignment {
                    sku_id: sku_id["VISIOCLIENT"].clone(),
                    disabled_plans: Vec::new(),
                    assigned_by_group: None,
                    state: "Active".to_string(),
                    error: None,
                }),
            }
        }
        users.push(User {
            id: synthetic_guid(0x0a, i as u64),
            user_principal_name: format!("user{i:06}@contoso.example"),
            display_name: Some(format!("User {i}")),
            account_enabled: true,
            usage_location,
            on_premises_sync_enabled: false,
            attributes,
            licenses,
            mailbox: Some(Mailbox {
                kind: MailboxType::User,
                size_bytes: Some(mailbox_gb(kind, rng.random_range(1..=30)) * 1024 * 1024 * 1024),
                archive_enabled: Some(false),
                litigation_hold: Some(false),
            }),
        });
    }
    let mut groups = Vec::with_capacity(spec.groups);
    for g in 0..spec.groups {
        let licensed = g < spec.licensed_groups;
        let mut members = Vec::new();
        if licensed && !users.is_empty() {
            for _ in 0..(spec.users / 200).max(1) {
                let u = rng.random_range(0..users.len());
                members.push(users[u].id.clone());
            }
        }
        groups.push(Group {
            id: synthetic_guid(0x0b, g as u64),
            display_name: if licensed {
                format!("LIC-POWERBI-{g:02}")
            } else {
                format!("Team {g:04}")
            },
            licenses: if licensed {
                vec![GroupLicense {
                    sku_id: sku_id["POWER_BI_PRO"].clone(),
                    disabled_plans: Vec::new(),
                }]
            } else {
                Vec::new()
            },
            members,
        });
    }
    // Inherited assignments for members of licensed groups.
    let index: std::collections::HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.clone(), i))
        .collect();
    for group in &mut groups {
        group.members.sort();
        group.members.dedup();
        for member in &group.members {
            for lic in &group.licenses {
                users[index[member]].licenses.push(LicenseAssignment {
                    sku_id: lic.sku_id.clone(),
                    disabled_plans: Vec::new(),
                    assigned_by_group: Some(group.id.clone()),
                    state: "Active".to_string(),
                    error: None,
                });
            }
        }
    }
    let mut tenant = Tenant::new(Some(synthetic_guid(0x0c, 1)), skus, users, groups);
    tenant.recount_consumed();
    // Enough seats for the desired state plus 5% headroom.
    for sku in &mut tenant.skus {
        let desired_holders = spec.users as u32;
        sku.enabled = sku.consumed.max(desired_holders / 2) + desired_holders / 20 + 10;
    }
    tenant.normalize();
    Synth {
        tenant,
        config_toml: config_toml(),
        changed_users: changed,
    }
}

fn config_toml() -> String {
    let mut toml = String::from(
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n\n[skus]\n\
         E3 = \"ENTERPRISEPACK\"\nE5 = \"ENTERPRISEPREMIUM\"\nF3 = \"DESKLESSPACK\"\n\
         EXO_P1 = \"EXCHANGESTANDARD\"\nEMS = \"EMS\"\nE1 = \"STANDARDPACK\"\nVISIO = \"VISIOCLIENT\"\n\n\
         [scope]\nmanage_skus = [\"E3\", \"E5\", \"F3\", \"EXO_P1\", \"EMS\", \"E1\", \"VISIO\"]\nusers = \"declared\"\n\n\
         [defaults]\nusage_location = \"GB\"\n\n",
    );
    for (profile, licences) in [
        ("fte", "[\"E3\", \"EMS\"]"),
        ("manager", "[\"E5\", \"EMS\"]"),
        ("frontline", "[\"F3\"]"),
        ("contractor", "[\"EXO_P1\"]"),
    ] {
        let _ = write!(toml, "[profiles.{profile}]\nlicenses = {licences}\n\n");
    }
    for (kind, profile) in [
        ("FTE", "fte"),
        ("Manager", "manager"),
        ("Frontline", "frontline"),
        ("Contractor", "contractor"),
    ] {
        let _ = write!(
            toml,
            "[[rules]]\nmatch = {{ extensionAttribute1 = \"{kind}\" }}\nprofile = \"{profile}\"\n\n"
        );
    }
    toml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = generate(&SynthSpec::benchmark(1_000));
        let b = generate(&SynthSpec::benchmark(1_000));
        assert_eq!(a.tenant, b.tenant);
        assert_eq!(a.tenant.users.len(), 1_000);
        assert_eq!(a.tenant.groups.len(), 2_000);
        assert_eq!(a.tenant.skus.len(), 20);
        // about 2% changed, never zero for 1k users
        assert!((5..=45).contains(&a.changed_users), "{}", a.changed_users);
    }

    #[test]
    fn seats_cover_consumption() {
        let s = generate(&SynthSpec::benchmark(2_000));
        for sku in &s.tenant.skus {
            assert!(sku.consumed <= sku.enabled, "{}", sku.sku_part_number);
        }
    }
}
