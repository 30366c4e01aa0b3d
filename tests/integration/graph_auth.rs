//! Certificate and federated credentials against the fake's token endpoint, which verifies
//! the PS256 signature and the `x5t#S256` thumbprint like Entra ID.

use crate::fx;

use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, BackendError, TenantBackend};
use m365ctl::sim::SimOptions;
use std::path::PathBuf;

/// Test-only certificate + key (self-signed, CN=m365ctl-test-only); never a real credential.
fn cert_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/TEST_ONLY_graph_app_cert_and_key.pem")
}

fn certificate_options() -> SimOptions {
    let pem = std::fs::read_to_string(cert_path()).unwrap();
    let cert = m365ctl::graph::cert::pem_block(&pem, "CERTIFICATE").unwrap();
    let der = {
        use base64::Engine;
        let body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    };
    let public = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/TEST_ONLY_graph_app_public_key.pem"),
    )
    .unwrap();
    SimOptions {
        client_secret: None,
        certificate: Some((public, m365ctl::graph::cert::thumbprint_s256(&der))),
        ..SimOptions::default()
    }
}

#[tokio::test]
async fn certificate_assertion_is_verified_and_accepted() {
    // Matches `openssl x509 -outform der | openssl dgst -sha256 -binary | base64url`.
    let options = certificate_options();
    assert_eq!(
        options.certificate.as_ref().unwrap().1,
        "pyBmWFIjhwOgQV5SkHJPZ5PP6mUgodXXFSV5mBjKeZA"
    );
    let fake = fx::start(fx::tenant(12), options).await;
    let backend =
        GraphBackend::new(&fake.settings(AuthMode::Certificate { path: cert_path() })).unwrap();
    let tenant = backend.read().await.expect("certificate auth works");
    assert_eq!(tenant.users.len(), 12);
}

#[tokio::test]
async fn certificate_with_wrong_thumbprint_is_refused() {
    let mut options = certificate_options();
    options.certificate.as_mut().unwrap().1 = "not-the-thumbprint".into();
    let fake = fx::start(fx::tenant(12), options).await;
    let backend =
        GraphBackend::new(&fake.settings(AuthMode::Certificate { path: cert_path() })).unwrap();
    assert!(matches!(backend.read().await, Err(BackendError::Auth(_))));
}

#[tokio::test]
async fn missing_certificate_file_is_a_clear_error() {
    let fake = fx::start(fx::tenant(12), SimOptions::default()).await;
    let err = GraphBackend::new(&fake.settings(AuthMode::Certificate {
        path: "/nonexistent/app.pem".into(),
    }))
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/app.pem"), "{err}");
}

#[tokio::test]
async fn federated_token_file_is_sent_as_client_assertion() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("oidc-token");
    std::fs::write(&token_file, "eyJ.federated.token\n").unwrap();
    let options = SimOptions {
        client_secret: None,
        federated_assertion: Some("eyJ.federated.token".into()),
        ..SimOptions::default()
    };
    let fake = fx::start(fx::tenant(12), options).await;
    let auth = AuthMode::Federated {
        audience: "api://AzureADTokenExchange".into(),
        token_file: Some(token_file),
    };
    let tenant = GraphBackend::new(&fake.settings(auth))
        .unwrap()
        .read()
        .await
        .expect("federated auth works");
    assert_eq!(tenant.users.len(), 12);
}

#[tokio::test]
async fn missing_secret_variable_names_the_variable() {
    let fake = fx::start(fx::tenant(12), SimOptions::default()).await;
    let auth = AuthMode::Secret {
        env: "M365CTL_TEST_SURELY_UNSET_VARIABLE".into(),
    };
    let err = GraphBackend::new(&fake.settings(auth)).unwrap_err();
    assert!(
        err.to_string()
            .contains("M365CTL_TEST_SURELY_UNSET_VARIABLE"),
        "{err}"
    );
}
