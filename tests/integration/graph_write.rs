//! Every operation kind executed through the Graph backend changes the fake exactly like
//! `tenant::apply_operation` changes the snapshot, and Graph's refusals map to typed errors.

use crate::fx;
use m365ctl::plan::ops::{
    AssignGroupLicenses, AssignLicenses, ConvertMailbox, SetSignIn, SetUsageLocation, SignIn,
};

use m365ctl::backend::{BackendError, Refusal, TenantBackend};
use m365ctl::plan::Operation;
use m365ctl::plan::ops::{LicenseGrant, LicenseRemoval, OpKind};
use m365ctl::sim::SimOptions;
use m365ctl::tenant::{MailboxType, Tenant, apply_operation};

fn grant(tenant: &Tenant, sku: &str, disabled: &[&str]) -> LicenseGrant {
    let s = tenant.sku(sku).unwrap();
    let mut plans: Vec<String> = disabled
        .iter()
        .map(|n| s.plan_by_name(n).unwrap().service_plan_id.clone())
        .collect();
    plans.sort();
    LicenseGrant {
        sku_id: sku.to_string(),
        sku_part_number: s.sku_part_number.clone(),
        disabled_plans: plans,
        disabled_plan_names: disabled.iter().map(|d| d.to_string()).collect(),
        replaces_disabled: None,
    }
}

fn removal(tenant: &Tenant, sku: &str) -> LicenseRemoval {
    LicenseRemoval {
        sku_id: sku.to_string(),
        sku_part_number: tenant.sku(sku).unwrap().sku_part_number.clone(),
    }
}

fn op(kind: OpKind) -> Operation {
    Operation {
        id: format!("{}:{}", kind.name(), kind.target()),
        kind,
        depends_on: Vec::new(),
        reasons: Vec::new(),
    }
}

fn assign(n: usize, add: Vec<LicenseGrant>, remove: Vec<LicenseRemoval>) -> OpKind {
    OpKind::AssignLicenses(AssignLicenses {
        user_id: fx::id(1, n),
        upn: fx::upn(n),
        add,
        remove,
    })
}

fn member(n: usize, group_id: String, group: &str, add: bool) -> OpKind {
    OpKind::group_membership(add, group_id, group.to_string(), fx::id(1, n), fx::upn(n))
}

/// Steps in order; each step is one `execute` call of independent operations.
fn scenario(t: &Tenant) -> Vec<Vec<OpKind>> {
    let (e3, e5, exo1) = (fx::e3(), fx::e5(), fx::exo1());
    vec![
        vec![
            OpKind::SetUsageLocation(SetUsageLocation {
                user_id: fx::id(1, 9),
                upn: fx::upn(9),
                from: None,
                to: "US".into(),
            }),
            OpKind::SetSignIn(SetSignIn {
                user_id: fx::id(1, 8),
                upn: fx::upn(8),
                from: SignIn::Allowed,
                to: SignIn::Blocked,
            }),
            assign(0, vec![grant(t, &exo1, &[])], vec![removal(t, &e3)]),
            member(1, fx::e5_group_id(), "LIC-E5", true),
            member(6, fx::e5_group_id(), "LIC-E5", false),
            OpKind::ConvertMailbox(ConvertMailbox {
                user_id: fx::id(1, 2),
                upn: fx::upn(2),
                from: MailboxType::User,
                to: MailboxType::Shared,
            }),
            // Refused by Graph's rules:
            assign(19, vec![grant(t, &e3, &[])], vec![]),
            assign(5, vec![], vec![removal(t, &e5)]),
            OpKind::ConvertMailbox(ConvertMailbox {
                user_id: fx::id(1, 3),
                upn: fx::upn(3),
                from: MailboxType::User,
                to: MailboxType::Shared,
            }),
        ],
        vec![
            assign(9, vec![grant(t, &e3, &["YAMMER_ENTERPRISE"])], vec![]),
            OpKind::AssignGroupLicenses(AssignGroupLicenses {
                group_id: fx::e5_group_id(),
                group: "LIC-E5".into(),
                add: vec![grant(t, &e5, &["YAMMER_ENTERPRISE"])],
                remove: vec![],
            }),
            assign(4, vec![grant(t, &e3, &[])], vec![]),
        ],
        vec![OpKind::ConvertMailbox(ConvertMailbox {
            user_id: fx::id(1, 2),
            upn: fx::upn(2),
            from: MailboxType::Shared,
            to: MailboxType::User,
        })],
    ]
}

#[tokio::test]
async fn every_op_kind_matches_apply_operation() {
    let tenant = fx::tenant(40);
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let mut expected = tenant.clone();
    let mut kinds = std::collections::BTreeSet::new();
    for step in scenario(&tenant) {
        let ops: Vec<Operation> = step.into_iter().map(op).collect();
        let results = backend.execute(&ops).await;
        for (op, result) in ops.iter().zip(&results) {
            let model = apply_operation(&mut expected, &op.kind);
            assert_eq!(
                result.is_ok(),
                model.is_ok(),
                "{}: graph {result:?} vs model {model:?}",
                op.id
            );
            if result.is_ok() {
                kinds.insert(op.kind.name());
                assert!(
                    result.as_ref().unwrap().request_id.is_some(),
                    "{}: request-id kept",
                    op.id
                );
            }
        }
        expected.normalize();
        // Group licensing reaches the members asynchronously (202 Accepted): once processed,
        // the fake's tenant is the model's.
        if ops
            .iter()
            .any(|o| m365ctl::apply::settle::is_group_licensing(&o.kind))
        {
            tokio::time::sleep(
                m365ctl::sim::DEFAULT_GROUP_LICENSING_DELAY + std::time::Duration::from_millis(50),
            )
            .await;
        }
        assert_eq!(fake.tenant(), expected);
    }
    assert_eq!(
        kinds.len(),
        7,
        "all seven operation kinds succeeded at least once: {kinds:?}"
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
    let writes = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1.0/$batch")
        .count();
    assert_eq!(
        writes, 2,
        "Graph writes of a step share one $batch envelope"
    );
}

#[tokio::test]
async fn graph_refusals_name_the_user_and_keep_the_request_id() {
    let tenant = fx::tenant(40);
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let ops = vec![op(assign(19, vec![grant(&tenant, &fx::e3(), &[])], vec![]))];
    let results = backend.execute(&ops).await;
    match &results[0] {
        Err(BackendError::Refused {
            target,
            refusal: Refusal::BadRequest,
            request_id,
            ..
        }) => {
            assert_eq!(target, &fx::upn(19));
            assert!(request_id.is_some(), "request-id kept for support tickets");
        }
        other => panic!("expected a BadRequest refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn more_than_twenty_writes_are_split_into_batches_of_twenty() {
    let tenant = fx::tenant(60);
    let fake = fx::start(tenant, SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let ops: Vec<Operation> = (10..55)
        .filter(|n| ![10, 13].contains(n))
        .map(|n| op(member(n, fx::plain_group_id(), "Sales O'Brien Team", true)))
        .collect();
    assert_eq!(ops.len(), 43);
    let results = backend.execute(&ops).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let envelopes = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1.0/$batch")
        .count();
    assert_eq!(envelopes, 3);
    assert_eq!(
        fake.tenant()
            .group(&fx::plain_group_id())
            .unwrap()
            .members
            .len(),
        45
    );
}

#[tokio::test]
async fn adding_an_existing_member_is_idempotent() {
    let fake = fx::start(fx::tenant(20), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let add = op(member(0, fx::plain_group_id(), "Sales O'Brien Team", true));
    let results = backend.execute(&[add]).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let answered = fake
        .requests()
        .into_iter()
        .find(|r| r.is_batch_item())
        .unwrap();
    assert_eq!(
        answered.status, 400,
        "Graph refused the duplicate; the backend treats it as done"
    );
}

#[tokio::test]
async fn the_pre_write_check_of_a_conversion_reads_that_mailbox_only() {
    let tenant = fx::tenant(40);
    let with = |kind: MailboxType| {
        tenant
            .users
            .iter()
            .position(|u| u.mailbox.as_ref().is_some_and(|m| m.kind == kind))
            .expect("fixture has that mailbox type")
    };
    let without = tenant
        .users
        .iter()
        .position(|u| u.mailbox.is_none())
        .expect("fixture has a user without mailbox");
    let convert = |i: usize, to| {
        let u = &tenant.users[i];
        op(OpKind::ConvertMailbox(ConvertMailbox {
            user_id: u.id.clone(),
            upn: u.user_principal_name.clone(),
            from: MailboxType::User,
            to,
        }))
    };
    let ops = vec![
        convert(with(MailboxType::Shared), MailboxType::Shared),
        convert(with(MailboxType::User), MailboxType::Shared),
        convert(without, MailboxType::Shared),
    ];
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let done = backend.already_done(&ops).await.expect("no error");
    assert_eq!(done, vec![true, false, false]);
    let exchange: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.path.split_once('#').map(|(_, c)| c.to_string()))
        .collect();
    let mut expected: Vec<String> = ops
        .iter()
        .map(|o| format!("Get-Mailbox:{}", o.kind.target()))
        .collect();
    let mut exchange_sorted = exchange.clone();
    exchange_sorted.sort();
    expected.sort();
    assert_eq!(
        exchange_sorted, expected,
        "one Get-Mailbox -Identity per conversion"
    );
}

/// `PATCH /users/{id}` with `accountEnabled` reaches the fake, which keeps Graph's rules (a
/// boolean, else 400), and a fresh read sees the account blocked, then allowed again.
#[tokio::test]
async fn blocking_sign_in_reaches_graph_and_is_read_back() {
    let fake = fx::start(fx::tenant(20), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let user_id = fx::id(1, 3);
    for (from, to) in [
        (SignIn::Allowed, SignIn::Blocked),
        (SignIn::Blocked, SignIn::Allowed),
    ] {
        let set = op(OpKind::SetSignIn(SetSignIn {
            user_id: user_id.clone(),
            upn: fx::upn(3),
            from,
            to,
        }));
        let results = backend.execute(std::slice::from_ref(&set)).await;
        assert!(results[0].is_ok(), "{:?}", results[0]);
        let patched = fake
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.is_batch_item())
            .expect("the PATCH went out in a $batch");
        assert_eq!(patched.status, 204);
        let live = backend.read().await.expect("read");
        let user = live.user(&user_id).expect("the user");
        assert_eq!(user.account_enabled, to.account_enabled());
        let done = backend.already_done(std::slice::from_ref(&set)).await;
        assert_eq!(
            done.expect("targeted re-read"),
            [true],
            "re-read: in effect"
        );
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}
