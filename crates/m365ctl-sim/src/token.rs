//! Entra's token endpoint (client credentials: secret, certificate assertion, federated
//! assertion) and GitHub Actions' OIDC token service, as the fake serves them.

use super::routes::{Answer, Body, parse_query};
use super::{IssuedToken, Shared, State};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

pub(super) fn token(shared: &Shared, state: &mut State, path: &str, body: &[u8]) -> Answer {
    let form = parse_query(std::str::from_utf8(body).ok());
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let refuse = |status: u16, error: &str, description: &str| {
        Answer::new(
            status,
            Body::Json(
                json!({"error": error, "error_description": description, "error_codes": [7000215]}),
            ),
        )
    };
    if let Some(answer) = super::device_code::delegated_grant(shared, state, &form) {
        return answer;
    }
    if field("grant_type") != Some("client_credentials") {
        return refuse(
            400,
            "unsupported_grant_type",
            "AADSTS70003: only client_credentials is supported by this fake.",
        );
    }
    if field("client_id") != Some(shared.options.client_id.as_str()) {
        return refuse(
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    let token_url = format!("{}{}", shared.base, path);
    let authenticated = match (field("client_secret"), field("client_assertion")) {
        (Some(secret), None) => shared.options.client_secret.as_deref() == Some(secret),
        (None, Some(assertion)) => {
            field("client_assertion_type")
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && (shared.options.federated_assertion.as_deref() == Some(assertion)
                    || verify_certificate_assertion(shared, assertion, &token_url))
        }
        _ => false,
    };
    if !authenticated {
        return refuse(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let Some(audience) = field("scope").and_then(|s| s.strip_suffix("/.default")) else {
        return refuse(
            400,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    };
    if audience != shared.graph_audience() && audience != shared.exchange_audience() {
        return refuse(
            400,
            "invalid_scope",
            "AADSTS500011: The resource principal was not found in the tenant.",
        );
    }
    let token = issue_token(shared, state, audience);
    Answer::ok(
        json!({"token_type": "Bearer", "expires_in": shared.options.token_lifetime.as_secs(), "ext_expires_in": shared.options.token_lifetime.as_secs(), "access_token": token}),
    )
}

/// A new access token for `audience`, remembered so the API accepts it (client credentials
/// and the delegated grants of `device_code` alike).
pub(super) fn issue_token(shared: &Shared, state: &mut State, audience: &str) -> String {
    state.next_id += 1;
    let token = format!(
        "simtoken.{}.{:016x}",
        state.next_id,
        rand::rngs::ChaCha8Rng::seed_from_u64(state.next_id ^ shared.options.seed).next_u64()
    );
    state.tokens.insert(
        token.clone(),
        IssuedToken {
            audience: audience.to_string(),
            expires: Instant::now() + shared.options.token_lifetime,
        },
    );
    token
}

/// Verifies a certificate client assertion like Entra: PS256/RS256 signature by the
/// registered key, `x5t#S256` of the registered certificate, audience = token endpoint.
fn verify_certificate_assertion(shared: &Shared, assertion: &str, token_url: &str) -> bool {
    let Some((public_pem, thumbprint)) = &shared.options.certificate else {
        return false;
    };
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return false;
    };
    if header.x5t_s256.as_deref() != Some(thumbprint.as_str()) {
        return false;
    }
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.algorithms = vec![
        jsonwebtoken::Algorithm::PS256,
        jsonwebtoken::Algorithm::RS256,
    ];
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[shared.options.client_id.as_str()]);
    validation.sub = Some(shared.options.client_id.clone());
    jsonwebtoken::decode::<Value>(assertion, &key, &validation).is_ok()
}

/// GitHub Actions' token service: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=...` with
/// `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` answers `{"value": "<jwt>"}`.
pub(super) fn github_oidc(
    shared: &Shared,
    query: &[(String, String)],
    authorization: Option<String>,
) -> Answer {
    let Some((request_token, id_token)) = &shared.options.github_oidc else {
        return Answer::error(404, "NotFound", "no GitHub OIDC service configured");
    };
    let presented = authorization.as_deref().and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
    });
    if presented != Some(request_token.as_str()) {
        return Answer::error(401, "Unauthorized", "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
    let audience = query
        .iter()
        .find(|(k, _)| k == "audience")
        .map(|(_, v)| v.as_str());
    if audience != Some("api://AzureADTokenExchange") {
        return Answer::error(
            400,
            "BadRequest",
            "audience must be api://AzureADTokenExchange",
        );
    }
    Answer::ok(json!({"count": 1, "value": id_token}))
}
