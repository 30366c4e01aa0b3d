//! Workload identity federation as in GitHub Actions: the OIDC token is fetched from
//! `ACTIONS_ID_TOKEN_REQUEST_URL` with the request token and exchanged at the token endpoint.
//! Its own test binary because it sets process environment variables.

#[path = "common/graph.rs"]
mod fx;

use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, TenantBackend};
use m365ctl::sim::SimOptions;

#[tokio::test]
async fn github_oidc_token_is_exchanged_for_graph_and_exchange_tokens() {
    let id_token = "eyJhbGciOiJSUzI1NiJ9.github-actions.sig";
    let options = SimOptions {
        client_secret: None,
        github_oidc: Some(("gh-request-token".into(), id_token.into())),
        federated_assertion: Some(id_token.into()),
        ..SimOptions::default()
    };
    let fake = fx::start(fx::tenant(12), options).await;
    // SAFETY: the only test in this binary; nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("ACTIONS_ID_TOKEN_REQUEST_URL", fake.github_oidc_url());
        std::env::set_var("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token");
    }
    let auth = AuthMode::Federated {
        audience: "api://AzureADTokenExchange".into(),
        token_file: None,
    };
    let tenant = GraphBackend::new(&fake.settings(auth))
        .unwrap()
        .read()
        .await
        .expect("federated read");
    assert_eq!(tenant.users.len(), 12);
    let oidc = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/_github/oidc"))
        .count();
    assert_eq!(
        oidc, 2,
        "one OIDC token per Entra token (Graph and Exchange)"
    );
    assert_eq!(fake.token_requests(), 2);
}
