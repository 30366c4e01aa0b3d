//! Delegated, read-only sign-in: an admin's own account instead of an app registration, so a
//! first plan or export does not wait weeks for admin consent to an app.
//!
//! Two sources of a user token:
//! - the OAuth 2.0 device authorization grant (RFC 8628) as Entra implements it
//!   (Microsoft identity platform docs, "OAuth 2.0 device authorization grant flow"):
//!   `POST {authority}/{tenant}/oauth2/v2.0/devicecode`, then poll
//!   `POST .../token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`,
//!   waiting `interval` seconds between polls, five more after `slow_down`, until a token,
//!   `expired_token` or a refusal. The refresh token (`offline_access`) then gets the
//!   Exchange Online token without a second sign-in.
//! - the Azure CLI's sign-in, reused by running `az account get-access-token --resource R
//!   --tenant T`: the documented interface, where reading MSAL's token cache directly would
//!   depend on a private, platform-encrypted format.
//!
//! Tokens are `Secret`s: never printed, never logged. Only read scopes are requested, and
//! `apply` refuses delegated sign-in altogether.

use super::auth::Resource;
use super::secret::Secret;
use crate::backend::BackendError;
use std::time::Duration;
use tokio::sync::Mutex;

/// `grant_type` of a device-code poll (RFC 8628 §3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Delegated Microsoft Graph permissions requested: the read-only least privileges of the
/// calls a read makes (users with licences, licence groups' members, subscribed SKUs).
pub const GRAPH_SCOPES: [&str; 3] = [
    "User.Read.All",
    "GroupMember.Read.All",
    "Organization.Read.All",
];

/// RFC 8628 §3.5: "the interval MUST be increased by 5 seconds" after `slow_down`.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// RFC 8628 §3.2: the poll interval when the server names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// An Azure CLI token's lifetime when its answer has no `expires_on`: short, so an unknown
/// expiry is found out by asking again rather than by a 401.
const UNKNOWN_EXPIRY: Duration = Duration::from_secs(300);

/// Where delegated tokens come from.
#[derive(Debug)]
pub enum Delegated {
    /// Device code sign-in, then refresh tokens.
    DeviceCode(DeviceCode),
    /// `az account get-access-token`.
    AzureCli(AzureCli),
}

/// A token and how long it lives.
pub struct Issued {
    /// The access token.
    pub token: Secret,
    /// Its lifetime from now.
    pub lifetime: Duration,
}

impl Delegated {
    /// A token for `resource`.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<Issued, BackendError> {
        match self {
            Delegated::DeviceCode(d) => d.token(http, resource).await,
            Delegated::AzureCli(a) => a.token(resource).await,
        }
    }
}

/// The device authorization grant against one tenant, with the refresh token it yields.
#[derive(Debug)]
pub struct DeviceCode {
    /// `{authority}/{tenant}/oauth2/v2.0`.
    pub endpoint: String,
    /// The public client the admin signs in to.
    pub client_id: String,
    /// Graph root (`https://graph.microsoft.com`), the resource of the sign-in's scopes.
    pub graph_host: String,
    /// Exchange Online root, whose token comes from the refresh token.
    pub exchange_host: String,
    /// Tenant, for the sign-in prompt.
    pub tenant: String,
    refresh: Mutex<Option<Secret>>,
}

impl DeviceCode {
    /// A device-code source; nothing is asked until the first token is needed.
    pub fn new(
        authority_host: &str,
        tenant: &str,
        client_id: &str,
        graph_host: &str,
        exchange_host: &str,
    ) -> DeviceCode {
        DeviceCode {
            endpoint: format!(
                "{}/{}/oauth2/v2.0",
                authority_host.trim_end_matches('/'),
                tenant
            ),
            client_id: client_id.to_string(),
            graph_host: graph_host.trim_end_matches('/').to_string(),
            exchange_host: exchange_host.trim_end_matches('/').to_string(),
            tenant: tenant.to_string(),
            refresh: Mutex::new(None),
        }
    }

    fn graph_scope(&self) -> String {
        let mut scopes: Vec<String> = GRAPH_SCOPES
            .iter()
            .map(|s| format!("{}/{s}", self.graph_host))
            .collect();
        scopes.push("offline_access".to_string());
        scopes.join(" ")
    }

    fn scope(&self, resource: Resource) -> String {
        match resource {
            Resource::Graph => self.graph_scope(),
            Resource::Exchange => format!("{}/.default offline_access", self.exchange_host),
        }
    }

    /// A token for `resource`: from the refresh token when there is one, else after the
    /// admin signs in (once per run; concurrent callers wait for that one sign-in).
    async fn token(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<Issued, BackendError> {
        let mut refresh = self.refresh.lock().await;
        if let Some(current) = refresh.clone() {
            let form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("client_id", self.client_id.clone()),
                ("refresh_token", current.expose().to_string()),
                ("scope", self.scope(resource)),
            ];
            let answer = post_form(http, &format!("{}/token", self.endpoint), &form).await?;
            return match answer {
                Ok(body) => {
                    let (issued, next) = issued(&body)?;
                    if let Some(next) = next {
                        *refresh = Some(next);
                    }
                    Ok(issued)
                }
                Err((error, description)) => Err(BackendError::Auth(format!(
                    "delegated sign-in: the token for {} was refused: {error}: {description} \
                     (the signed-in account needs read access there: for Exchange Online a role \
                     such as View-Only Recipients)",
                    self.resource_name(resource)
                ))),
            };
        }
        let (graph, next) = self.sign_in(http).await?;
        *refresh = next;
        match resource {
            Resource::Graph => Ok(graph),
            Resource::Exchange => {
                drop(refresh);
                Box::pin(self.token(http, resource)).await
            }
        }
    }

    fn resource_name(&self, resource: Resource) -> &str {
        match resource {
            Resource::Graph => &self.graph_host,
            Resource::Exchange => &self.exchange_host,
        }
    }

    /// RFC 8628: ask for a code, show it, poll until the admin has signed in.
    async fn sign_in(
        &self,
        http: &reqwest::Client,
    ) -> Result<(Issued, Option<Secret>), BackendError> {
        let form = vec![
            ("client_id", self.client_id.clone()),
            ("scope", self.graph_scope()),
        ];
        let body = post_form(http, &format!("{}/devicecode", self.endpoint), &form)
            .await?
            .map_err(|(error, description)| {
                BackendError::Auth(format!(
                    "device code sign-in refused: {error}: {description}"
                ))
            })?;
        let text = |key: &str| {
            body[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| BackendError::Auth(format!("device code answer has no {key}")))
        };
        let device_code = Secret::new(text("device_code")?);
        let user_code = text("user_code")?;
        let uri = text("verification_uri")?;
        let expires_in = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(900));
        let mut interval = body["interval"]
            .as_u64()
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_INTERVAL);
        crate::progress::message(&format!(
            "To sign in to {} (read-only), open {uri} and enter the code {user_code} \
             (valid for {} minutes).",
            self.tenant,
            expires_in.as_secs().div_ceil(60)
        ));
        let deadline = tokio::time::Instant::now() + expires_in;
        loop {
            tokio::time::sleep(interval).await;
            let form = vec![
                ("grant_type", DEVICE_CODE_GRANT.to_string()),
                ("client_id", self.client_id.clone()),
                ("device_code", device_code.expose().to_string()),
            ];
            match post_form(http, &format!("{}/token", self.endpoint), &form).await? {
                Ok(body) => {
                    crate::progress::message("Signed in.");
                    return issued(&body);
                }
                Err((error, _)) if error == "authorization_pending" => {}
                Err((error, _)) if error == "slow_down" => interval += SLOW_DOWN_STEP,
                Err((error, _)) if error == "expired_token" => {
                    return Err(BackendError::Auth(
                        "the sign-in code expired before it was used: run the command again".into(),
                    ));
                }
                Err((error, _))
                    if error == "authorization_declined" || error == "access_denied" =>
                {
                    return Err(BackendError::Auth("the sign-in was declined".into()));
                }
                Err((error, description)) => {
                    return Err(BackendError::Auth(format!(
                        "device code sign-in failed: {error}: {description}"
                    )));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BackendError::Auth(
                    "the sign-in code expired before it was used: run the command again".into(),
                ));
            }
        }
    }
}

/// POSTs a form to the token service: `Ok(body)` on success, `Err((error, description))`
/// for an OAuth error answer; transport failures are errors of their own.
async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, String)],
) -> Result<Result<serde_json::Value, (String, String)>, BackendError> {
    let response = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| BackendError::Auth(format!("token service {url}: {e}")))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| BackendError::Auth(format!("token service answered {status}: {e}")))?;
    if status.is_success() {
        Ok(Ok(body))
    } else {
        let error = body["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_string();
        let description = body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(Err((error, description)))
    }
}

/// The access token, its lifetime and the next refresh token of a token answer.
fn issued(body: &serde_json::Value) -> Result<(Issued, Option<Secret>), BackendError> {
    let token = body["access_token"]
        .as_str()
        .ok_or_else(|| BackendError::Auth("token answer has no access_token".into()))?;
    let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3599));
    Ok((
        Issued {
            token: Secret::new(token),
            lifetime,
        },
        body["refresh_token"].as_str().map(Secret::new),
    ))
}

/// The Azure CLI's sign-in, one `az account get-access-token` per resource.
#[derive(Debug)]
pub struct AzureCli {
    /// Tenant to ask for (`--tenant`).
    pub tenant: String,
    /// Graph root (the `--resource` of Graph tokens).
    pub graph_host: String,
    /// Exchange Online root (the `--resource` of Exchange tokens).
    pub exchange_host: String,
}

impl AzureCli {
    async fn token(&self, resource: Resource) -> Result<Issued, BackendError> {
        let host = match resource {
            Resource::Graph => self.graph_host.trim_end_matches('/').to_string(),
            Resource::Exchange => self.exchange_host.trim_end_matches('/').to_string(),
        };
        let tenant = self.tenant.clone();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(if cfg!(windows) { "az.cmd" } else { "az" })
                .args(["account", "get-access-token", "--output", "json"])
                .args(["--resource", &host, "--tenant", &tenant])
                .output()
        })
        .await
        .map_err(|e| BackendError::Auth(format!("az: {e}")))?
        .map_err(|e| {
            BackendError::Auth(format!(
                "auth = \"azure-cli\" needs the Azure CLI (az) on PATH ({e}); install it and run \
                 `az login --tenant {}`, or use auth = \"device-code\"",
                self.tenant
            ))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(BackendError::Auth(format!(
                "az account get-access-token failed: {first} (run `az login --tenant {}`)",
                self.tenant
            )));
        }
        parse_az_token(&output.stdout, now_unix())
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `az account get-access-token --output json`: `accessToken`, and `expires_on` (Unix
/// seconds, a number or a string, in Azure CLI 2.54 and later). Without `expires_on` the
/// token is trusted for `UNKNOWN_EXPIRY` only (`expiresOn` is local time without a zone).
pub fn parse_az_token(stdout: &[u8], now: u64) -> Result<Issued, BackendError> {
    let body: serde_json::Value = serde_json::from_slice(stdout).map_err(|e| {
        BackendError::Auth(format!("az account get-access-token printed no JSON: {e}"))
    })?;
    let token = body["accessToken"].as_str().ok_or_else(|| {
        BackendError::Auth("az account get-access-token printed no accessToken".into())
    })?;
    let expires_on = body["expires_on"]
        .as_u64()
        .or_else(|| body["expires_on"].as_str().and_then(|s| s.parse().ok()));
    let lifetime = expires_on
        .map(|at| Duration::from_secs(at.saturating_sub(now)))
        .unwrap_or(UNKNOWN_EXPIRY);
    Ok(Issued {
        token: Secret::new(token),
        lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_az_token_lives_until_its_expires_on_whatever_its_type() {
        let number = parse_az_token(br#"{"accessToken":"t1","expires_on":1100}"#, 1000).unwrap();
        assert_eq!(number.lifetime, Duration::from_secs(100));
        assert_eq!(number.token.expose(), "t1");
        let string = parse_az_token(br#"{"accessToken":"t2","expires_on":"1060"}"#, 1000).unwrap();
        assert_eq!(string.lifetime, Duration::from_secs(60));
        let unknown = parse_az_token(
            br#"{"accessToken":"t3","expiresOn":"2026-01-01 10:00:00"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(unknown.lifetime, UNKNOWN_EXPIRY);
        let err = parse_az_token(b"Please run 'az login'", 0).err().unwrap();
        assert!(!err.to_string().contains("t1"));
    }
}
