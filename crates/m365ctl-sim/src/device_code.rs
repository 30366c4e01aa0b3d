//! The fake's device authorization grant (RFC 8628) as Entra implements it (Microsoft
//! identity platform docs, "OAuth 2.0 device authorization grant flow"), so the delegated
//! sign-in is tested against the same behaviour a tenant shows:
//! - `POST /{tenant}/oauth2/v2.0/devicecode` (`client_id`, `scope`) answers `device_code`,
//!   `user_code`, `verification_uri`, `expires_in`, `interval` and a `message`;
//! - polling `POST .../token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`
//!   answers 400 `authorization_pending` until the user has signed in (here: after a scripted
//!   number of polls), `slow_down` to a client polling faster than `interval` (RFC 8628
//!   §3.5), `expired_token` once `expires_in` has passed, then the tokens (a refresh token
//!   when `offline_access` was asked);
//! - `grant_type=refresh_token` trades a refresh token for a token of another resource.
//!
//! Scopes name one resource per request (`{resource}/{permission}` or `{resource}/.default`),
//! as Entra requires.

use super::routes::{Answer, Body, parse_query};
use super::{Shared, State};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// A 400 with an OAuth error body, as Entra's token service answers.
fn oauth_error(error: &str, description: &str) -> Answer {
    Answer::new(
        400,
        Body::Json(json!({"error": error, "error_description": description})),
    )
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(super) fn device_authorization(shared: &Shared, state: &mut State, body: &[u8]) -> Answer {
    let form = parse_query(std::str::from_utf8(body).ok());
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("client_id") != Some(shared.options.client_id.as_str()) {
        return oauth_error(
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    let known = |r: &str| r == shared.graph_audience() || r == shared.exchange_audience();
    match state.device_codes.authorize(
        &shared.options.device_code,
        field("scope").unwrap_or_default(),
        known,
    ) {
        Ok(body) => Answer::ok(body),
        Err((error, description)) => oauth_error(error, &description),
    }
}

/// The delegated grants of the token endpoint (device code, refresh token); `None` for the
/// others, which the client-credentials endpoint answers.
pub(super) fn delegated_grant(
    shared: &Shared,
    state: &mut State,
    form: &[(String, String)],
) -> Option<Answer> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let known = |r: &str| r == shared.graph_audience() || r == shared.exchange_audience();
    let grant = match field("grant_type")? {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            if field("client_id") != Some(shared.options.client_id.as_str()) {
                return Some(oauth_error(
                    "unauthorized_client",
                    "AADSTS700016: Application not found in the directory.",
                ));
            }
            state.device_codes.poll(
                &shared.options.device_code,
                field("device_code").unwrap_or_default(),
            )
        }
        "refresh_token" => state.device_codes.refresh(
            field("refresh_token").unwrap_or_default(),
            field("scope").unwrap_or_default(),
            known,
        ),
        _ => return None,
    };
    Some(match grant {
        Grant::Refuse { error, description } => oauth_error(error, &description),
        Grant::Issue { resource, offline } => {
            let token = super::token::issue_token(shared, state, &resource);
            let mut body = json!({"token_type": "Bearer", "expires_in": shared.options.token_lifetime.as_secs(), "access_token": token});
            if offline {
                body["refresh_token"] = json!(state.device_codes.new_refresh_token());
            }
            Answer::ok(body)
        }
    })
}

/// How the simulated admin behaves at the device sign-in.
#[derive(Debug, Clone)]
pub struct DeviceCodeOptions {
    /// Polls answered `authorization_pending` before the admin has signed in.
    pub pending_polls: u32,
    /// The poll interval, in seconds: polls closer together are answered `slow_down`
    /// (Entra announces 5; tests use 0).
    pub interval_secs: u64,
    /// Announce this interval instead of `interval_secs` (a client that trusts it too
    /// literally meets `slow_down`).
    pub announced_interval_secs: Option<u64>,
    /// How long a device code is valid (Entra: 15 minutes).
    pub expires_in: Duration,
    /// The admin declines instead of signing in.
    pub decline: bool,
}

impl Default for DeviceCodeOptions {
    fn default() -> DeviceCodeOptions {
        DeviceCodeOptions {
            pending_polls: 1,
            interval_secs: 5,
            announced_interval_secs: None,
            expires_in: Duration::from_secs(900),
            decline: false,
        }
    }
}

/// One device code handed out and not yet redeemed.
#[derive(Debug)]
struct Pending {
    resource: String,
    offline: bool,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    polls: u32,
}

/// Device codes and refresh tokens in flight.
#[derive(Debug, Default)]
pub(super) struct DeviceCodes {
    pending: HashMap<String, Pending>,
    refresh_tokens: HashMap<String, ()>,
    issued: u64,
}

/// What the token endpoint should do after a device-code or refresh grant.
pub(super) enum Grant {
    /// Issue an access token for this resource (with a refresh token when `offline`).
    Issue {
        /// Token audience.
        resource: String,
        /// Also hand out a refresh token.
        offline: bool,
    },
    /// Answer this OAuth error (status 400).
    Refuse {
        /// `error`.
        error: &'static str,
        /// `error_description`.
        description: String,
    },
}

/// The resource a space-separated scope list names (ignoring `offline_access`, `openid`,
/// `profile`), and whether `offline_access` was asked; `None` when it names none or several.
fn resource_of(scope: &str) -> Option<(String, bool)> {
    let mut resource: Option<String> = None;
    let mut offline = false;
    for item in scope.split_whitespace() {
        match item {
            "offline_access" => offline = true,
            "openid" | "profile" | "email" => {}
            scoped => {
                let (base, _) = scoped.rsplit_once('/')?;
                if resource.as_deref().is_some_and(|r| r != base) {
                    return None;
                }
                resource = Some(base.to_string());
            }
        }
    }
    resource.map(|r| (r, offline))
}

impl DeviceCodes {
    /// `POST /devicecode`: `Ok(body)` or `Err((error, description))`.
    pub(super) fn authorize(
        &mut self,
        options: &DeviceCodeOptions,
        scope: &str,
        known_resource: impl Fn(&str) -> bool,
    ) -> Result<Value, (&'static str, String)> {
        let Some((resource, offline)) = resource_of(scope).filter(|(r, _)| known_resource(r))
        else {
            return Err((
                "invalid_scope",
                "AADSTS70011: The provided value for the input parameter 'scope' is not valid."
                    .into(),
            ));
        };
        self.issued += 1;
        let device_code = format!("simdevicecode.{}", self.issued);
        let user_code = format!("SIM{:05}", self.issued);
        self.pending.insert(
            device_code.clone(),
            Pending {
                resource,
                offline,
                expires: Instant::now() + options.expires_in,
                interval: Duration::from_secs(options.interval_secs),
                last_poll: None,
                polls: 0,
            },
        );
        Ok(json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": options.expires_in.as_secs(),
            "interval": options.announced_interval_secs.unwrap_or(options.interval_secs),
            "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
        }))
    }

    /// A poll with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
    pub(super) fn poll(&mut self, options: &DeviceCodeOptions, device_code: &str) -> Grant {
        let now = Instant::now();
        let Some(pending) = self.pending.get_mut(device_code) else {
            return Grant::Refuse {
                error: "bad_verification_code",
                description: "AADSTS70000: The provided value for the 'device_code' is not valid."
                    .into(),
            };
        };
        if now >= pending.expires {
            self.pending.remove(device_code);
            return Grant::Refuse {
                error: "expired_token",
                description: "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.".into(),
            };
        }
        let too_fast = pending
            .last_poll
            .is_some_and(|last| now.duration_since(last) < pending.interval);
        pending.last_poll = Some(now);
        if too_fast {
            return Grant::Refuse {
                error: "slow_down",
                description: "polling faster than the interval".into(),
            };
        }
        pending.polls += 1;
        if pending.polls <= options.pending_polls {
            return Grant::Refuse {
                error: "authorization_pending",
                description: "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.".into(),
            };
        }
        let pending = self.pending.remove(device_code).expect("present above");
        if options.decline {
            return Grant::Refuse {
                error: "authorization_declined",
                description: "AADSTS70000: the user declined the sign-in".into(),
            };
        }
        Grant::Issue {
            resource: pending.resource,
            offline: pending.offline,
        }
    }

    /// `grant_type=refresh_token` for `scope`.
    pub(super) fn refresh(
        &mut self,
        refresh_token: &str,
        scope: &str,
        known_resource: impl Fn(&str) -> bool,
    ) -> Grant {
        if !self.refresh_tokens.contains_key(refresh_token) {
            return Grant::Refuse {
                error: "invalid_grant",
                description: "AADSTS9002313: Invalid request. Request is malformed or invalid."
                    .into(),
            };
        }
        match resource_of(scope).filter(|(r, _)| known_resource(r)) {
            Some((resource, offline)) => Grant::Issue { resource, offline },
            None => Grant::Refuse {
                error: "invalid_scope",
                description:
                    "AADSTS70011: The provided value for the input parameter 'scope' is not valid."
                        .into(),
            },
        }
    }

    /// A new refresh token, remembered so it can be redeemed.
    pub(super) fn new_refresh_token(&mut self) -> String {
        self.issued += 1;
        let token = format!("simrefresh.{}", self.issued);
        self.refresh_tokens.insert(token.clone(), ());
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_names_one_resource() {
        assert_eq!(
            resource_of("https://g/User.Read.All https://g/Organization.Read.All offline_access"),
            Some(("https://g".to_string(), true))
        );
        assert_eq!(
            resource_of("https://e/.default"),
            Some(("https://e".into(), false))
        );
        assert_eq!(
            resource_of("https://g/User.Read.All https://e/.default"),
            None
        );
        assert_eq!(resource_of("offline_access"), None);
    }

    #[test]
    fn polls_are_pending_then_issued_and_fast_polls_are_slowed_down() {
        let options = DeviceCodeOptions {
            pending_polls: 1,
            interval_secs: 3600,
            ..DeviceCodeOptions::default()
        };
        let mut codes = DeviceCodes::default();
        let body = codes
            .authorize(&options, "https://g/User.Read.All offline_access", |_| true)
            .unwrap();
        let code = body["device_code"].as_str().unwrap().to_string();
        assert!(matches!(
            codes.poll(&options, &code),
            Grant::Refuse {
                error: "authorization_pending",
                ..
            }
        ));
        assert!(matches!(
            codes.poll(&options, &code),
            Grant::Refuse {
                error: "slow_down",
                ..
            }
        ));
        let relaxed = DeviceCodeOptions {
            interval_secs: 0,
            ..options
        };
        let mut codes = DeviceCodes::default();
        let body = codes
            .authorize(&relaxed, "https://g/User.Read.All", |_| true)
            .unwrap();
        let code = body["device_code"].as_str().unwrap().to_string();
        codes.poll(&relaxed, &code);
        assert!(matches!(
            codes.poll(&relaxed, &code),
            Grant::Issue { offline: false, .. }
        ));
        assert!(matches!(
            codes.poll(&relaxed, &code),
            Grant::Refuse {
                error: "bad_verification_code",
                ..
            }
        ));
    }

    #[test]
    fn an_expired_code_is_refused() {
        let options = DeviceCodeOptions {
            expires_in: Duration::ZERO,
            ..DeviceCodeOptions::default()
        };
        let mut codes = DeviceCodes::default();
        let body = codes
            .authorize(&options, "https://g/.default", |_| true)
            .unwrap();
        let code = body["device_code"].as_str().unwrap().to_string();
        assert!(matches!(
            codes.poll(&options, &code),
            Grant::Refuse {
                error: "expired_token",
                ..
            }
        ));
    }
}
