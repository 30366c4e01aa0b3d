//! The licence report on a tenant built to hold each kind of waste, and its totals on
//! generated tenants.

use super::licences::{LicenceReport, WasteKind, report};
use super::render;
use crate::cost::{Currency, Money, Prices};
use crate::tenant::{Group, LicenseAssignment, Mailbox, MailboxType, Sku, Tenant, User};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn sku(part: &str, enabled: u32) -> Sku {
    crate::catalog::sku_from_catalog(part, enabled).expect("in the catalog")
}

fn id(part: &str) -> String {
    sku(part, 0).sku_id
}

fn direct(part: &str) -> LicenseAssignment {
    LicenseAssignment {
        sku_id: id(part),
        disabled_plans: vec![],
        assigned_by_group: None,
        state: "Active".into(),
        error: None,
    }
}

fn inherited(part: &str, group: &str) -> LicenseAssignment {
    LicenseAssignment {
        assigned_by_group: Some(group.into()),
        ..direct(part)
    }
}

fn user(upn: &str, department: Option<&str>, licenses: Vec<LicenseAssignment>) -> User {
    User {
        id: format!("id-{upn}"),
        user_principal_name: upn.into(),
        display_name: None,
        account_enabled: true,
        usage_location: Some("GB".into()),
        on_premises_sync_enabled: false,
        attributes: department
            .map(|d| BTreeMap::from([("department".to_string(), d.to_string())]))
            .unwrap_or_default()
            .into(),
        licenses,
        mailbox: Some(mailbox(MailboxType::User, 1)),
    }
}

fn mailbox(kind: MailboxType, gb: u64) -> Mailbox {
    Mailbox {
        kind,
        size_bytes: Some(gb * 1024 * 1024 * 1024),
        archive_enabled: Some(false),
        litigation_hold: Some(false),
    }
}

/// One user per kind of waste, one licensed user without waste, a shared mailbox over the
/// limit and a room (both keep their licence: not waste, though their sign-in is blocked),
/// and a department written to attack a spreadsheet.
fn wasteful_tenant() -> Tenant {
    let mut bob = user(
        "bob@contoso.com",
        Some("Finance"),
        vec![direct("ENTERPRISEPACK")],
    );
    bob.account_enabled = false;
    // Shared and room mailboxes have sign-in blocked, as Microsoft advises.
    let mut info = user("info@contoso.com", None, vec![direct("ENTERPRISEPACK")]);
    info.mailbox = Some(mailbox(MailboxType::Shared, 2));
    info.account_enabled = false;
    let mut archive = user("archive@contoso.com", None, vec![direct("ENTERPRISEPACK")]);
    archive.mailbox = Some(mailbox(MailboxType::Shared, 61));
    archive.account_enabled = false;
    let mut room = user("room-1@contoso.com", None, vec![direct("ENTERPRISEPACK")]);
    room.mailbox = Some(mailbox(MailboxType::Room, 0));
    room.account_enabled = false;
    let users = vec![
        user(
            "ann@contoso.com",
            Some("Sales"),
            vec![direct("ENTERPRISEPREMIUM"), direct("EXCHANGESTANDARD")],
        ),
        archive,
        bob,
        user(
            "carol@contoso.com",
            Some("Engineering"),
            vec![
                direct("ENTERPRISEPREMIUM"),
                inherited("ENTERPRISEPREMIUM", "g-e5"),
            ],
        ),
        user(
            "dave@contoso.com",
            Some("=HYPERLINK(\"http://x\"), \"Sales\""),
            vec![direct("ENTERPRISEPACK")],
        ),
        info,
        room,
    ];
    let mut tenant = Tenant::new(
        None,
        vec![
            sku("ENTERPRISEPACK", 10),
            sku("ENTERPRISEPREMIUM", 5),
            sku("EXCHANGESTANDARD", 3),
        ],
        users,
        vec![Group {
            id: "g-e5".into(),
            display_name: "LIC-E5".into(),
            licenses: vec![],
            members: vec!["id-carol@contoso.com".into()],
        }],
    );
    tenant.recount_consumed();
    tenant.normalize();
    tenant
}

fn eur(list: &[(&str, &str)]) -> Prices {
    let currency = Currency::from_code("EUR").unwrap();
    Prices {
        monthly: list
            .iter()
            .map(|(p, m)| (p.to_string(), Money::parse_price(m, &currency).unwrap()))
            .collect(),
        currency,
    }
}

fn priced() -> Prices {
    eur(&[("ENTERPRISEPACK", "23.00"), ("ENTERPRISEPREMIUM", "38.00")])
}

#[test]
fn finds_each_kind_of_waste_once() {
    let r = report(&wasteful_tenant(), Some(&priced()));
    let found: Vec<(WasteKind, Option<&str>, &str, u32)> = r
        .waste
        .iter()
        .map(|w| (w.kind, w.upn.as_deref(), w.sku.as_str(), w.seats))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                WasteKind::DisabledAccount,
                Some("bob@contoso.com"),
                "ENTERPRISEPACK",
                1
            ),
            (
                WasteKind::SharedMailboxUnderLimits,
                Some("info@contoso.com"),
                "ENTERPRISEPACK",
                1
            ),
            (
                WasteKind::RedundantExchange,
                Some("ann@contoso.com"),
                "EXCHANGESTANDARD",
                1
            ),
            (
                WasteKind::DuplicatedByGroup,
                Some("carol@contoso.com"),
                "ENTERPRISEPREMIUM",
                0
            ),
            (WasteKind::UnassignedSeats, None, "ENTERPRISEPACK", 5),
            (WasteKind::UnassignedSeats, None, "ENTERPRISEPREMIUM", 3),
            (WasteKind::UnassignedSeats, None, "EXCHANGESTANDARD", 2),
        ]
    );
    // 23 + 23 + 5 x 23 + 3 x 38; the two EXCHANGESTANDARD seats have no price.
    assert_eq!(r.total.monthly.unwrap().plain(), "275.00");
    assert_eq!(r.total.unpriced_seats, 3);
}

#[test]
fn human_report() {
    insta::assert_snapshot!(render::human(&report(&wasteful_tenant(), Some(&priced()))));
}

#[test]
fn csv_report() {
    insta::assert_snapshot!(render::csv(&report(&wasteful_tenant(), Some(&priced()))));
}

#[test]
fn json_report() {
    insta::assert_snapshot!(render::json(&report(&wasteful_tenant(), Some(&priced()))));
}

#[test]
fn without_prices_there_is_no_money_and_no_currency() {
    let r = report(&wasteful_tenant(), None);
    assert_eq!(r.currency, None);
    assert!(r.waste.iter().all(|w| w.monthly.is_none()));
    assert!(!render::human(&r).contains("EUR"));
    assert_eq!(r.total.seats, 13);
}

/// A small random tenant: users hold random SKUs directly and through two groups, some are
/// disabled, some are shared mailboxes of random size, archive and hold.
fn arb_tenant() -> impl Strategy<Value = Tenant> {
    let parts = [
        "ENTERPRISEPACK",
        "ENTERPRISEPREMIUM",
        "EXCHANGESTANDARD",
        "EXCHANGEDESKLESS",
    ];
    let arb_user = (
        proptest::collection::vec((0..parts.len(), 0..3usize), 0..4),
        any::<bool>(),
        proptest::option::of((any::<bool>(), 0u64..80, any::<bool>(), any::<bool>())),
        proptest::option::of(prop_oneof!["Sales", "Finance", "=cmd"]),
    );
    (
        proptest::collection::vec(arb_user, 0..25),
        proptest::collection::vec(0u32..40, parts.len()),
    )
        .prop_map(move |(users, enabled)| {
            let users = users
                .into_iter()
                .enumerate()
                .map(|(i, (held, enabled, mbx, dept))| {
                    let licenses = held
                        .into_iter()
                        .map(|(p, path)| match path {
                            0 => direct(parts[p]),
                            1 => inherited(parts[p], "g1"),
                            _ => inherited(parts[p], "g2"),
                        })
                        .collect();
                    let mut u = user(&format!("u{i}@contoso.com"), dept.as_deref(), licenses);
                    u.account_enabled = enabled;
                    u.mailbox = mbx.map(|(shared, gb, archive, hold)| Mailbox {
                        archive_enabled: Some(archive),
                        litigation_hold: Some(hold),
                        ..mailbox(
                            if shared {
                                MailboxType::Shared
                            } else {
                                MailboxType::User
                            },
                            gb,
                        )
                    });
                    u
                })
                .collect();
            let skus = parts.iter().zip(enabled).map(|(p, n)| sku(p, n)).collect();
            let mut t = Tenant::new(None, skus, users, vec![]);
            t.recount_consumed();
            t.normalize();
            t
        })
}

proptest! {
    /// For every tenant: the kinds add up to the total (seats and money), every money figure
    /// is seats x price, no held seat is counted twice, and only held seats or unassigned
    /// seats are counted.
    #[test]
    fn totals_add_up(tenant in arb_tenant(), with_prices in any::<bool>()) {
        let prices = eur(&[("ENTERPRISEPACK", "23.00"), ("EXCHANGESTANDARD", "4.00")]);
        let r: LicenceReport = report(&tenant, with_prices.then_some(&prices));
        let seats: u64 = r.totals.iter().map(|t| t.seats).sum();
        prop_assert_eq!(seats, r.total.seats);
        prop_assert_eq!(r.totals.iter().map(|t| t.items).sum::<usize>(), r.waste.len());
        if with_prices {
            let sum = r.totals.iter().map(|t| t.monthly.unwrap().minor_units).sum::<i128>();
            prop_assert_eq!(sum, r.total.monthly.unwrap().minor_units);
            let unpriced: u64 = r.totals.iter().map(|t| t.unpriced_seats).sum();
            prop_assert_eq!(unpriced, r.total.unpriced_seats);
        }
        let mut seen = BTreeSet::new();
        for w in &r.waste {
            match (prices.of(&w.sku), w.monthly) {
                (Some(p), Some(m)) => prop_assert_eq!(m, p.times(w.seats)),
                (_, m) => prop_assert!(m.is_none() || !with_prices || prices.of(&w.sku).is_none()),
            }
            if let Some(upn) = &w.upn {
                prop_assert!(w.seats <= 1);
                if w.seats == 1 {
                    prop_assert!(seen.insert((upn.clone(), w.sku.clone())), "{} {} twice", upn, w.sku);
                    let held = r.holdings.iter().any(|h| &h.upn == upn && h.sku == w.sku && h.waste == Some(w.kind));
                    prop_assert!(held);
                }
            }
        }
        prop_assert_eq!(r.departments.iter().map(|d| d.seats).sum::<u64>(), r.holdings.len() as u64);
        if with_prices {
            let held: i128 = r.holdings.iter()
                .filter_map(|h| prices.of(&h.sku)).map(|p| p.minor_units).sum();
            let by_department: i128 = r.departments.iter()
                .map(|d| d.monthly.unwrap().minor_units).sum();
            prop_assert_eq!(held, by_department);
        }
        for s in &tenant.skus {
            let unassigned: u32 = r.waste.iter()
                .filter(|w| w.kind == WasteKind::UnassignedSeats && w.sku == s.sku_part_number)
                .map(|w| w.seats).sum();
            prop_assert_eq!(unassigned, s.enabled.saturating_sub(s.consumed));
            let holders = r.skus.iter().find(|h| h.sku == s.sku_part_number).unwrap();
            prop_assert_eq!(holders.holders, s.consumed);
            prop_assert_eq!(holders.by_department.values().sum::<u32>(), s.consumed);
        }
    }
}

#[test]
fn the_estate_adds_waste_up_per_currency_only() {
    use super::many::{TenantReport, human};
    let tenant = |name: &str, prices: Option<&Prices>| TenantReport {
        name: name.into(),
        config: format!("tenants/{name}"),
        report: Some(report(&wasteful_tenant(), prices)),
        errors: vec![],
    };
    let usd = {
        let mut p = priced();
        p.currency = Currency::from_code("USD").unwrap();
        p
    };
    let text = human(&[
        tenant("a", Some(&priced())),
        tenant("b", Some(&priced())),
        tenant("c", Some(&usd)),
        tenant("d", None),
    ]);
    assert!(
        text.ends_with(
            "Waste across 4 tenants: 52 seat(s), EUR 550.00 per month + USD 275.00 per month\n"
        ),
        "{text}"
    );
}
