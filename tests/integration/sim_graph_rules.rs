//! The fake enforces Graph's own rules on raw HTTP, so the backend tests mean something:
//! `$top` caps, `$select`, advanced-query requirements, `$batch` limits and `dependsOn`,
//! audiences, Graph's error bodies with `request-id`, and the safety-violation record.

use crate::common::fake;
use crate::fx;

use m365ctl::sim::{FakeTenantHandle, SimOptions};
use serde_json::{Value, json};
use std::time::Duration;

async fn get(
    fake: &FakeTenantHandle,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let bearer = fake::graph_token(fake).await;
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", fake.graph_host()))
        .bearer_auth(bearer);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("request-id")
        .map(|v| v.to_str().unwrap().to_string());
    (
        status,
        response.json().await.unwrap_or_default(),
        request_id,
    )
}

async fn post(fake: &FakeTenantHandle, path: &str, body: Value) -> (u16, Value) {
    let bearer = fake::graph_token(fake).await;
    let response = reqwest::Client::new()
        .post(format!("{}{path}", fake.graph_host()))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn top_is_capped_at_999_and_defaults_to_100() {
    let fake = fx::start(fx::tenant(250), SimOptions::default()).await;
    let (status, body, request_id) = get(&fake, "/v1.0/users?$top=1000", &[]).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
    assert_eq!(
        body["error"]["innerError"]["request-id"].as_str(),
        request_id.as_deref()
    );
    let (status, body, _) = get(&fake, "/v1.0/users", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 100);
    assert!(
        body["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$skiptoken=")
    );
}

#[tokio::test]
async fn select_returns_only_the_selected_properties() {
    let fake = fx::start(fx::tenant(10), SimOptions::default()).await;
    let (_, body, _) = get(&fake, "/v1.0/users?$select=id,usageLocation&$top=2", &[]).await;
    let first = body["value"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "usageLocation"]);
}

#[tokio::test]
async fn licensed_group_filter_requires_eventual_consistency() {
    let fake = fx::start(fx::tenant(10), SimOptions::default()).await;
    let path = "/v1.0/groups?$filter=assignedLicenses/$count%20ne%200&$count=true";
    let (status, body, _) = get(&fake, path, &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("Request_UnsupportedQuery"))
    );
    let (status, body, _) = get(&fake, path, &[("ConsistencyLevel", "eventual")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        1,
        "only the licensed group"
    );
}

#[tokio::test]
async fn batch_limits_per_item_status_and_failed_dependencies() {
    let fake = fx::start(fx::tenant(10), SimOptions::default()).await;
    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/subscribedSkus"}))
        .collect();
    let (status, _) = post(&fake, "/v1.0/$batch", json!({"requests": too_many})).await;
    assert_eq!(status, 400);

    let requests = json!({"requests": [
        {"id": "1", "method": "POST", "url": format!("/users/{}/assignLicense", fx::id(1, 9)),
         "headers": {"Content-Type": "application/json"},
         "body": {"addLicenses": [{"skuId": fx::e3(), "disabledPlans": []}], "removeLicenses": []}},
        {"id": "2", "method": "PATCH", "url": format!("/users/{}", fx::id(1, 9)), "dependsOn": ["1"],
         "headers": {"Content-Type": "application/json"}, "body": {"usageLocation": "US"}},
        {"id": "3", "method": "POST", "url": format!("/users/{}/assignLicense", fx::id(1, 1)),
         "headers": {"Content-Type": "application/json"},
         "body": {"addLicenses": [{"skuId": fx::e5(), "disabledPlans": null}], "removeLicenses": []}},
    ]});
    let (status, body) = post(&fake, "/v1.0/$batch", requests).await;
    assert_eq!(status, 200, "the envelope succeeds whatever the items do");
    let status_of = |id: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["status"]
            .as_u64()
    };
    assert_eq!(status_of("1"), Some(400), "no usage location");
    assert_eq!(status_of("2"), Some(424), "depends on the failed item");
    assert_eq!(
        status_of("3"),
        Some(400),
        "disabledPlans must be an array, never null"
    );
    assert_eq!(
        fake.tenant().user(&fx::id(1, 9)).unwrap().usage_location,
        None
    );
}

#[tokio::test]
async fn a_token_for_graph_is_refused_by_exchange() {
    let fake = fx::start(fx::tenant(10), SimOptions::default()).await;
    let bearer = fake::graph_token(&fake).await;
    let response = reqwest::Client::new()
        .post(format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            fake.exchange_host(),
            fake.tenant_id()
        ))
        .bearer_auth(bearer)
        .json(&json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
}

#[tokio::test]
async fn removing_the_last_exchange_licence_is_recorded_as_a_safety_violation() {
    let scope = [fx::id(1, 0)].into_iter().collect();
    let fake = fx::start(
        fx::tenant(10),
        SimOptions {
            write_scope: Some(scope),
            ..SimOptions::default()
        },
    )
    .await;
    // user 5 holds E5 only through LIC-E5: leaving the group strands the user mailbox.
    let bearer = fake::graph_token(&fake).await;
    let response = reqwest::Client::new()
        .delete(format!(
            "{}/v1.0/groups/{}/members/{}/$ref",
            fake.graph_host(),
            fx::e5_group_id(),
            fx::id(1, 5)
        ))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    // The write is outside the scope at once; the mailbox is stranded once group licensing
    // has processed the member (asynchronously, as in Graph).
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("outside the declared scope"));
    tokio::time::sleep(m365ctl::sim::DEFAULT_GROUP_LICENSING_DELAY + Duration::from_millis(50))
        .await;
    let violations = fake.violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(
        violations[1].contains(&fx::upn(5))
            && violations[1].contains("without an Exchange licence")
    );
}

/// Latency grows with page size (`latency_per_item`): a page of 200 users is held at least
/// 200 x the per-item delay (a lower bound only, so a loaded machine cannot make it flaky).
#[tokio::test]
async fn latency_grows_with_page_size() {
    let fake = fx::start(
        fx::tenant(250),
        SimOptions {
            latency_per_item: std::time::Duration::from_millis(2),
            ..SimOptions::default()
        },
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body, _) = get(&fake, "/v1.0/users?$top=200&$select=id", &[]).await;
    let big = started.elapsed();
    assert_eq!(
        (status, body["value"].as_array().unwrap().len()),
        (200, 200)
    );
    assert!(big >= std::time::Duration::from_millis(400), "{big:?}");
}

/// Group `assignLicense` answers 202 and Entra processes the members later: the group shows
/// `licenseProcessingState` in progress and its members keep their old assignments until the
/// fake's delay has passed (https://learn.microsoft.com/en-us/graph/api/group-assignlicense).
#[tokio::test]
async fn group_licensing_is_processed_after_the_202() {
    let fake = fx::start(fx::tenant(10), SimOptions::default()).await;
    let bearer = fake::graph_token(&fake).await;
    let client = reqwest::Client::new();
    let group = fx::e5_group_id();
    let response = client
        .post(format!(
            "{}/v1.0/groups/{group}/assignLicense",
            fake.graph_host()
        ))
        .bearer_auth(&bearer)
        .json(&json!({"addLicenses": [], "removeLicenses": [fx::e5()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let state = || async {
        let url = format!(
            "{}/v1.0/groups/{group}?$select=id,licenseProcessingState",
            fake.graph_host()
        );
        let body: Value = client
            .get(url)
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["licenseProcessingState"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // Member 5 inherits E5 from the group only (member 6 also holds it directly).
    let inherits = |t: &m365ctl::tenant::Tenant| {
        t.user(&fx::id(1, 5))
            .expect("member")
            .licenses
            .iter()
            .any(|l| l.assigned_by_group.as_deref() == Some(group.as_str()))
    };
    assert_eq!(state().await, "ProcessingInProgress");
    assert!(inherits(&fake.tenant()), "not processed yet");
    tokio::time::sleep(m365ctl::sim::DEFAULT_GROUP_LICENSING_DELAY + Duration::from_millis(50))
        .await;
    assert_eq!(state().await, "ProcessingComplete");
    assert!(!inherits(&fake.tenant()), "processed");
}

/// `accountEnabled` is Graph's (user resource: `Edm.Boolean`, "true if the account is
/// enabled; otherwise, false"), whichever m365ctl operation kinds exist: the fake stores a
/// boolean and reads it back, and refuses any other value with 400, leaving the account as
/// it was.
#[tokio::test]
async fn account_enabled_is_patched_as_a_boolean_and_anything_else_is_refused() {
    let fake = fx::start(fx::tenant(10), SimOptions::default()).await;
    let user_id = fx::id(1, 4);
    let patch = |value: Value| {
        json!({"requests": [{"id": "1", "method": "PATCH", "url": format!("/users/{user_id}"),
            "headers": {"Content-Type": "application/json"}, "body": {"accountEnabled": value}}]})
    };
    let status = |body: &Value| body["responses"][0]["status"].as_u64();
    for enabled in [false, true, false] {
        let (_, body) = post(&fake, "/v1.0/$batch", patch(json!(enabled))).await;
        assert_eq!(status(&body), Some(204), "{body}");
        assert_eq!(
            fake.tenant().user(&user_id).unwrap().account_enabled,
            enabled
        );
    }
    for bad in [json!("true"), json!(1), Value::Null] {
        let (_, body) = post(&fake, "/v1.0/$batch", patch(bad.clone())).await;
        assert_eq!(status(&body), Some(400), "{bad}: {body}");
        assert!(!fake.tenant().user(&user_id).unwrap().account_enabled);
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}
