//! A hand-built plan covering every operation kind, for renderer snapshot tests.

use crate::catalog::ExchangeRank;
use crate::diag::{Diagnostic, Origin};
use crate::plan::ops::{
    AddGroupMember, AssignGroupLicenses, AssignLicenses, ConvertMailbox, RemoveGroupMember,
    SetSignIn, SetUsageLocation, SignIn,
};
use crate::plan::{
    ExchangeChange, Fingerprint, LicenseError, LicenseGrant, LicenseRemoval, OpKind, Operation,
    Plan, SeatSummary,
};
use crate::tenant::MailboxType;

fn grant(part: &str, disabled: &[&str]) -> LicenseGrant {
    LicenseGrant {
        sku_id: format!("{}-id", part.to_lowercase()),
        sku_part_number: part.to_string(),
        disabled_plans: disabled.iter().map(|d| format!("{d}-id")).collect(),
        disabled_plan_names: disabled.iter().map(|d| d.to_string()).collect(),
        replaces_disabled: None,
    }
}

fn removal(part: &str) -> LicenseRemoval {
    LicenseRemoval {
        sku_id: format!("{}-id", part.to_lowercase()),
        sku_part_number: part.to_string(),
    }
}

fn op(id: &str, kind: OpKind, depends_on: &[&str], reasons: &[&str]) -> Operation {
    Operation {
        id: id.to_string(),
        kind,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
    }
}

/// Every op kind, a warning with a location, seats and Exchange changes.
pub fn every_kind() -> Plan {
    Plan {
        operations: vec![
            op(
                "set_usage_location:dan@contoso.com",
                OpKind::SetUsageLocation(SetUsageLocation {
                    user_id: "u-dan".into(),
                    upn: "dan@contoso.com".into(),
                    from: None,
                    to: "GB".into(),
                }),
                &[],
                &["licences cannot be assigned without a usage location"],
            ),
            op(
                "assign_licenses:dan@contoso.com",
                OpKind::AssignLicenses(AssignLicenses {
                    user_id: "u-dan".into(),
                    upn: "dan@contoso.com".into(),
                    add: vec![grant("ENTERPRISEPACK", &["YAMMER_ENTERPRISE"])],
                    remove: vec![],
                }),
                &["set_usage_location:dan@contoso.com"],
                &[],
            ),
            op(
                "convert_mailbox:lee@contoso.com",
                OpKind::ConvertMailbox(ConvertMailbox {
                    user_id: "u-lee".into(),
                    upn: "lee@contoso.com".into(),
                    from: MailboxType::User,
                    to: MailboxType::Shared,
                }),
                &[],
                &["mailbox is 12.4 GB: shared mailboxes up to 50 GB need no licence"],
            ),
            op(
                "set_sign_in:lee@contoso.com",
                OpKind::SetSignIn(SetSignIn {
                    user_id: "u-lee".into(),
                    upn: "lee@contoso.com".into(),
                    from: SignIn::Allowed,
                    to: SignIn::Blocked,
                }),
                &[],
                &[],
            ),
            op(
                "assign_licenses:lee@contoso.com",
                OpKind::AssignLicenses(AssignLicenses {
                    user_id: "u-lee".into(),
                    upn: "lee@contoso.com".into(),
                    add: vec![],
                    remove: vec![removal("ENTERPRISEPACK")],
                }),
                &["convert_mailbox:lee@contoso.com"],
                &["the mailbox is converted to shared before its last Exchange licence goes"],
            ),
            op(
                "assign_licenses:ann@contoso.com",
                OpKind::AssignLicenses(AssignLicenses {
                    user_id: "u-ann".into(),
                    upn: "ann@contoso.com".into(),
                    add: vec![grant("ENTERPRISEPREMIUM", &[])],
                    remove: vec![removal("ENTERPRISEPACK")],
                }),
                &["assign_licenses:lee@contoso.com"],
                &["waits for lee@contoso.com to free a seat"],
            ),
            op(
                "assign_group_licenses:LIC-E5",
                OpKind::AssignGroupLicenses(AssignGroupLicenses {
                    group_id: "g-e5".into(),
                    group: "LIC-E5".into(),
                    add: vec![grant("ENTERPRISEPREMIUM", &["YAMMER_ENTERPRISE", "SWAY"])],
                    remove: vec![],
                }),
                &[],
                &[],
            ),
            op(
                "add_group_member:LIC-E5:bob@contoso.com",
                OpKind::AddGroupMember(AddGroupMember {
                    group_id: "g-e5".into(),
                    group: "LIC-E5".into(),
                    user_id: "u-bob".into(),
                    upn: "bob@contoso.com".into(),
                }),
                &["assign_group_licenses:LIC-E5"],
                &[],
            ),
            op(
                "remove_group_member:LIC-E5:carl@contoso.com",
                OpKind::RemoveGroupMember(RemoveGroupMember {
                    group_id: "g-e5".into(),
                    group: "LIC-E5".into(),
                    user_id: "u-carl".into(),
                    upn: "carl@contoso.com".into(),
                }),
                &[],
                &[],
            ),
            op(
                "set_usage_location:ann@contoso.com",
                OpKind::SetUsageLocation(SetUsageLocation {
                    user_id: "u-ann".into(),
                    upn: "ann@contoso.com".into(),
                    from: Some("GB".into()),
                    to: "US".into(),
                }),
                &[],
                &[],
            ),
        ],
        diagnostics: vec![Diagnostic::warning(
            "ann@contoso.com holds EXCHANGESTANDARD and ENTERPRISEPREMIUM: the Exchange Plan 1 licence is redundant",
            Some(Origin {
                file: "state/users.toml".into(),
                line: 12,
                column: 1,
                span: 0..0,
            }),
        )
        .with_hint("remove EXCHANGESTANDARD from the user's licences to free a seat")],
        seats: vec![
            SeatSummary {
                sku_part_number: "ENTERPRISEPACK".into(),
                enabled: 25,
                consumed_now: 24,
                consumed_after: 23,
                peak: 25,
            },
            SeatSummary {
                sku_part_number: "ENTERPRISEPREMIUM".into(),
                enabled: 5,
                consumed_now: 3,
                consumed_after: 5,
                peak: 5,
            },
        ],
        exchange_changes: vec![
            ExchangeChange {
                upn: "ann@contoso.com".into(),
                before: ExchangeRank::Plan2,
                after: ExchangeRank::Plan2,
            },
            ExchangeChange {
                upn: "dan@contoso.com".into(),
                before: ExchangeRank::None,
                after: ExchangeRank::Plan2,
            },
            ExchangeChange {
                upn: "lee@contoso.com".into(),
                before: ExchangeRank::Plan2,
                after: ExchangeRank::None,
            },
        ],
        license_errors: vec![LicenseError {
            upn: "kim@contoso.com".into(),
            sku_part_number: "ENTERPRISEPREMIUM".into(),
            group: "LIC-E5".into(),
            state: "Error".into(),
            error: Some("CountViolation".into()),
            remedy: "no ENTERPRISEPREMIUM seat is free, even after this plan: buy or free one, then reprocess the user's licences".into(),
        }],
        fingerprint: Fingerprint {
            desired: "sha256:1111".into(),
            live: "sha256:2222".into(),
        },
        cost: None,
    }
}

/// A plan with nothing to do.
pub fn empty() -> Plan {
    Plan {
        operations: vec![],
        diagnostics: vec![],
        seats: vec![SeatSummary {
            sku_part_number: "ENTERPRISEPACK".into(),
            enabled: 25,
            consumed_now: 20,
            consumed_after: 20,
            peak: 20,
        }],
        exchange_changes: vec![],
        license_errors: vec![],
        fingerprint: Fingerprint {
            desired: "sha256:1111".into(),
            live: "sha256:2222".into(),
        },
        cost: None,
    }
}

/// `every_kind` with prices for two of its SKUs and an unpriced third one, so the cost lines
/// show a priced saving, a priced increase and a SKU left out of the totals.
pub fn with_cost() -> Plan {
    use crate::cost::{Currency, Money, Prices, plan_cost};
    let mut plan = every_kind();
    plan.seats.push(SeatSummary {
        sku_part_number: "EXCHANGESTANDARD".into(),
        enabled: 10,
        consumed_now: 4,
        consumed_after: 4,
        peak: 4,
    });
    let currency = Currency::from_code("EUR").expect("ISO 4217");
    let price = |text: &str| Money::parse_price(text, &currency).expect("a price");
    let prices = Prices {
        monthly: [
            ("ENTERPRISEPACK".to_string(), price("23.00")),
            ("ENTERPRISEPREMIUM".to_string(), price("1038.50")),
        ]
        .into_iter()
        .collect(),
        currency: currency.clone(),
    };
    plan.cost = Some(plan_cost(&plan.seats, &prices));
    plan
}
