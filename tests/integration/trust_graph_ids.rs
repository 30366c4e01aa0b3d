//! Issue 14, item 6: object ids never change which Graph resource a request addresses. An id
//! that is not a GUID (`victim?x=1`, `../groups/x`, an encoded slash) is refused before any
//! request, and it never fails the unrelated operations batched with it.

use crate::fx;
use m365ctl::backend::{BackendError, TenantBackend};
use m365ctl::plan::Operation;
use m365ctl::plan::ops::OpKind;
use m365ctl::plan::ops::SetUsageLocation;
use m365ctl::sim::SimOptions;
use proptest::prelude::*;

fn set_location(user_id: String, n: usize) -> Operation {
    let kind = OpKind::SetUsageLocation(SetUsageLocation {
        user_id,
        upn: fx::upn(n),
        from: None,
        to: "FR".into(),
    });
    Operation {
        id: format!("{}:{}#{n}", kind.name(), kind.target()),
        kind,
        depends_on: vec![],
        reasons: vec![],
    }
}

/// Ids an attacker would put into a snapshot or a plan: each is a real user's id with a
/// suffix or prefix that would retarget an unencoded URL.
fn hostile_id() -> impl Strategy<Value = String> {
    let victim = fx::id(1, 3);
    prop_oneof![
        Just(format!("{victim}?x=1")),
        Just(format!("{victim}#")),
        Just(format!("{victim}/")),
        Just(format!("../users/{victim}")),
        Just(format!("{victim}%2F..")),
        Just(format!("{victim}/$ref")),
        Just(String::new()),
        Just("..".to_string()),
        "[ -~]{0,40}".prop_filter("not a GUID", |s| !m365ctl::ids::is_guid(s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_bad_id_is_refused_before_any_request_and_fails_nothing_else(bad in hostile_id()) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let tenant = fx::tenant(12);
            let fake = fx::start(tenant, SimOptions::default()).await;
            let backend = fx::backend(&fake);
            let ops = vec![
                set_location(fx::id(1, 1), 1),
                set_location(bad.clone(), 3),
                set_location(fx::id(1, 2), 2),
            ];
            fake.clear_requests();
            let results = backend.execute(&ops).await;
            assert!(results[0].is_ok(), "{results:?}");
            assert!(results[2].is_ok(), "{results:?}");
            match &results[1] {
                Err(BackendError::Invalid { code, .. }) => assert_eq!(code, "InvalidObjectId"),
                other => panic!("{bad:?}: {other:?}"),
            }
            // Exactly the two good writes reached Graph; the victim (user 3) is untouched.
            let writes: Vec<String> = fake
                .requests()
                .into_iter()
                .filter(|r| r.is_batch_item())
                .map(|r| r.path)
                .collect();
            assert_eq!(writes.len(), 2, "{writes:?}");
            assert!(writes.iter().all(|p| !p.contains(&fx::id(1, 3))), "{writes:?}");
            let after = fake.tenant();
            let victim = after.users.iter().find(|u| u.id == fx::id(1, 3)).unwrap();
            assert_ne!(victim.usage_location.as_deref(), Some("FR"));
            fake.shutdown().await;
        });
    }
}
