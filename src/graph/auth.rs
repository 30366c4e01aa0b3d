//! OAuth2 client credentials against Entra ID (or a delegated, read-only sign-in, see
//! `delegated`), one cached token per resource (Graph and Exchange are separate audiences),
//! refreshed a minute before expiry.

use super::secret::Secret;
use crate::backend::{AuthMode, BackendError, GraphSettings};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The assertion type Entra expects for certificate and federated credentials.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Refresh this long before the token's own expiry so no request carries a dying token.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The settings with any host overrides from the environment applied
/// (`M365CTL_AUTHORITY_HOST`, `M365CTL_GRAPH_HOST`, `M365CTL_EXCHANGE_HOST`, full URLs such as
/// `http://127.0.0.1:8080`). The config may only name Microsoft's hosts over https (it may come
/// from an unreviewed pull request); whoever controls the environment or the command line
/// already controls the credentials, so that is where tests and `sim serve` point elsewhere.
/// Each override is logged, so a run against a non-Microsoft host never goes unnoticed.
pub fn with_host_overrides(
    mut settings: GraphSettings,
    var: impl Fn(&str) -> Option<String>,
) -> GraphSettings {
    use crate::desired::cloud::{HostRole, env_override};
    for (role, field) in [
        (HostRole::Authority, &mut settings.authority_host),
        (HostRole::Graph, &mut settings.graph_host),
        (HostRole::Exchange, &mut settings.exchange_host),
    ] {
        let name = env_override(role);
        if let Some(value) = var(name)
            .map(|v| v.trim().trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty())
        {
            tracing::warn!("{} overridden by {name}: {value}", role.key());
            *field = value;
        }
    }
    settings
}

/// Which token to use: one per audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Microsoft Graph (`{graph_host}/.default`).
    Graph,
    /// Exchange Online admin API (`{exchange_host}/.default`).
    Exchange,
}

/// How the app proves its identity to the token endpoint.
#[derive(Debug)]
enum Credential {
    Secret(Secret),
    Certificate(super::cert::CertificateKey),
    Federated {
        audience: String,
        token_file: Option<std::path::PathBuf>,
    },
    /// A signed-in admin's own (read-only) token instead of the app's.
    Delegated(super::delegated::Delegated),
}

#[derive(Debug)]
struct CachedToken {
    token: Secret,
    refresh_at: Instant,
}

/// Obtains and caches access tokens. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Authenticator {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    credential: Credential,
    graph_scope: String,
    exchange_scope: String,
    graph: Mutex<Option<CachedToken>>,
    exchange: Mutex<Option<CachedToken>>,
}

impl Authenticator {
    /// Builds the authenticator; reads the secret from its environment variable or the
    /// certificate file now, so configuration errors surface before any request.
    pub fn new(
        settings: &GraphSettings,
        http: reqwest::Client,
    ) -> Result<Authenticator, BackendError> {
        let credential = match &settings.auth {
            AuthMode::Secret { env } => {
                let value = std::env::var(env).map_err(|_| {
                    BackendError::Auth(format!(
                        "client secret environment variable {env} is not set"
                    ))
                })?;
                Credential::Secret(Secret::new(value))
            }
            AuthMode::Certificate { path } => {
                Credential::Certificate(super::cert::CertificateKey::load(path)?)
            }
            AuthMode::Federated {
                audience,
                token_file,
            } => Credential::Federated {
                audience: audience.clone(),
                token_file: token_file.clone(),
            },
            AuthMode::DeviceCode => Credential::Delegated(super::delegated::Delegated::DeviceCode(
                super::delegated::DeviceCode::new(
                    &settings.authority_host,
                    &settings.tenant_id,
                    &settings.client_id,
                    &settings.graph_host,
                    &settings.exchange_host,
                ),
            )),
            AuthMode::AzureCli => Credential::Delegated(super::delegated::Delegated::AzureCli(
                super::delegated::AzureCli {
                    tenant: settings.tenant_id.clone(),
                    graph_host: settings.graph_host.clone(),
                    exchange_host: settings.exchange_host.clone(),
                },
            )),
        };
        Ok(Authenticator {
            http,
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                settings.authority_host.trim_end_matches('/'),
                crate::ids::encode_path_segment(&settings.tenant_id)
            ),
            client_id: settings.client_id.clone(),
            credential,
            graph_scope: format!("{}/.default", settings.graph_host.trim_end_matches('/')),
            exchange_scope: format!("{}/.default", settings.exchange_host.trim_end_matches('/')),
            graph: Mutex::new(None),
            exchange: Mutex::new(None),
        })
    }

    fn slot(&self, resource: Resource) -> (&Mutex<Option<CachedToken>>, &str) {
        match resource {
            Resource::Graph => (&self.graph, &self.graph_scope),
            Resource::Exchange => (&self.exchange, &self.exchange_scope),
        }
    }

    /// A valid token for `resource`, from the cache or freshly issued.
    pub async fn token(&self, resource: Resource) -> Result<Secret, BackendError> {
        let (slot, scope) = self.slot(resource);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let fresh = match &self.credential {
            Credential::Delegated(delegated) => {
                let issued = delegated.token(&self.http, resource).await?;
                CachedToken {
                    token: issued.token,
                    refresh_at: Instant::now() + issued.lifetime.saturating_sub(REFRESH_MARGIN),
                }
            }
            _ => self.request_token(scope).await?,
        };
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops `rejected` from the cache (after a 401) so the next `token` call fetches a new
    /// one; a token already replaced by a concurrent caller is left alone.
    pub async fn invalidate(&self, resource: Resource, rejected: &Secret) {
        let (slot, _) = self.slot(resource);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == rejected) {
            *cached = None;
        }
    }

    async fn request_token(&self, scope: &str) -> Result<CachedToken, BackendError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", self.client_id.clone()),
            ("scope", scope.to_string()),
        ];
        match &self.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.expose().to_string())),
            Credential::Certificate(key) => {
                let assertion = key.assertion(&self.client_id, &self.token_url)?;
                form.push(("client_assertion_type", JWT_BEARER.to_string()));
                form.push(("client_assertion", assertion.expose().to_string()));
            }
            Credential::Federated {
                audience,
                token_file,
            } => {
                let assertion = self
                    .federated_assertion(audience, token_file.as_deref())
                    .await?;
                form.push(("client_assertion_type", JWT_BEARER.to_string()));
                form.push(("client_assertion", assertion.expose().to_string()));
            }
            Credential::Delegated(_) => {
                return Err(BackendError::Auth(
                    "a delegated sign-in has no client credentials".into(),
                ));
            }
        }
        tracing::debug!(url = %self.token_url, scope, "requesting access token");
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| BackendError::Auth(format!("token endpoint {}: {e}", self.token_url)))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| BackendError::Auth(format!("token endpoint answered {status}: {e}")))?;
        if !status.is_success() {
            let error = body["error"].as_str().unwrap_or("unknown_error");
            let description = body["error_description"].as_str().unwrap_or_default();
            return Err(BackendError::Auth(format!(
                "token endpoint refused ({status}): {error}: {description}"
            )));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| BackendError::Auth("token response has no access_token".into()))?;
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3599));
        Ok(CachedToken {
            token: Secret::new(token),
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }

    /// The OIDC token used as client assertion: from a file (Kubernetes, generic CI) or from
    /// GitHub Actions' token service.
    async fn federated_assertion(
        &self,
        audience: &str,
        token_file: Option<&std::path::Path>,
    ) -> Result<Secret, BackendError> {
        if let Some(path) = token_file {
            let text = crate::input::read_text(path)
                .map_err(|e| BackendError::Auth(format!("federated token file: {}", e.message)))?;
            return Ok(Secret::new(text.trim()));
        }
        let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").map_err(|_| {
            BackendError::Auth(
                "federated auth: ACTIONS_ID_TOKEN_REQUEST_URL is not set (add `permissions: id-token: write` to the workflow, or set federated_token_file in [tenant])".into(),
            )
        })?;
        let bearer = Secret::new(std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map_err(
            |_| {
                BackendError::Auth(
                    "federated auth: ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set".into(),
                )
            },
        )?);
        let response = self
            .http
            .get(&url)
            .query(&[("audience", audience)])
            .bearer_auth(bearer.expose())
            .send()
            .await
            .map_err(|e| BackendError::Auth(format!("GitHub OIDC token request: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(BackendError::Auth(format!(
                "GitHub OIDC token request answered {status}"
            )));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| BackendError::Auth(format!("GitHub OIDC token response: {e}")))?;
        body["value"]
            .as_str()
            .map(Secret::new)
            .ok_or_else(|| BackendError::Auth("GitHub OIDC response has no value".into()))
    }
}
