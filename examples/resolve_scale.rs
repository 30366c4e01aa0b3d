//! Measures `desired::resolve` at enterprise scale: 100,000 live users x 50 rules.
//! Run with `cargo run --release --example resolve_scale`.

use m365ctl::desired::{from_sources, resolve};
use m365ctl::tenant::{LicenseAssignment, ServicePlan, Sku, Tenant, User};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

const USERS: usize = 100_000;
const RULES: usize = 50;

fn main() {
    let mut live = Tenant::new(
        None,
        vec![Sku {
            sku_id: "sku-e3".into(),
            sku_part_number: "ENTERPRISEPACK".into(),
            enabled: 200_000,
            warning: 0,
            consumed: 0,
            applies_to: "User".into(),
            capability_status: "Enabled".into(),
            service_plans: vec![ServicePlan {
                service_plan_id: "p1".into(),
                service_plan_name: "EXCHANGE_S_ENTERPRISE".into(),
            }],
        }],
        Vec::new(),
        Vec::new(),
    );
    for i in 0..USERS {
        let mut attributes = BTreeMap::new();
        attributes.insert("department".to_string(), format!("Dept{}", i % (RULES * 2)));
        attributes.insert("extensionAttribute1".to_string(), format!("x{}", i % 7));
        live.users.push(User {
            id: format!("u{i}"),
            user_principal_name: format!("user{i}@contoso.com"),
            display_name: None,
            account_enabled: true,
            usage_location: Some("GB".into()),
            on_premises_sync_enabled: false,
            attributes: attributes.into(),
            licenses: vec![LicenseAssignment {
                sku_id: "sku-e3".into(),
                disabled_plans: vec![],
                assigned_by_group: None,
                state: "Active".into(),
                error: None,
            }],
            mailbox: None,
        });
    }
    let mut text = String::from(
        "[scope]\nmanage_skus = [\"ENTERPRISEPACK\"]\n[profiles.staff]\nlicenses = [\"ENTERPRISEPACK\"]\n",
    );
    for r in 0..RULES {
        writeln!(text, "[[rules]]\nmatch = {{ department = \"dept{r}\", extensionAttribute1 = [\"X1\", \"x2\", \"x3\"] }}\nprofile = \"staff\"").unwrap();
    }
    for u in (0..USERS).step_by(100) {
        writeln!(text, "[users.\"user{u}@contoso.com\"]\nprofile = \"staff\"").unwrap();
    }
    let start = Instant::now();
    let config =
        from_sources(&[("bench.toml".into(), text)], Path::new(".")).expect("valid config");
    let loaded = start.elapsed();
    let start = Instant::now();
    let (state, warnings) = resolve(&config, &live).expect("resolves");
    let resolved = start.elapsed();
    println!(
        "load: {loaded:?} (1,000 users, {RULES} rules); resolve: {resolved:?} for {USERS} users x {RULES} rules -> {} desired users, {} warnings",
        state.users.len(),
        warnings.len()
    );
}
