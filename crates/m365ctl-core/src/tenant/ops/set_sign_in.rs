//! `set_sign_in`: `PATCH /users/{id}` with `accountEnabled` (user resource; permission
//! `User.EnableDisableAccount.All`). Microsoft recommends blocking sign-in to the account of a
//! shared mailbox ("About shared mailboxes": "Block sign-in for the shared mailbox account");
//! a leaver's account is blocked the same way.

use super::*;

/// Whether the account may sign in: `sign_in = "blocked" | "allowed"` in the config, and the
/// user's `accountEnabled` in the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignIn {
    /// `accountEnabled: false`.
    Blocked,
    /// `accountEnabled: true`.
    Allowed,
}

impl SignIn {
    /// The spellings of the config and the plan.
    pub const NAMES: [&'static str; 2] = ["blocked", "allowed"];

    /// `accountEnabled` of a user as a sign-in state.
    pub fn of_account(enabled: bool) -> SignIn {
        if enabled {
            SignIn::Allowed
        } else {
            SignIn::Blocked
        }
    }

    /// The `accountEnabled` value.
    pub fn account_enabled(self) -> bool {
        self == SignIn::Allowed
    }

    /// As written in the config and the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            SignIn::Blocked => "blocked",
            SignIn::Allowed => "allowed",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<SignIn> {
        match s {
            "blocked" => Some(SignIn::Blocked),
            "allowed" => Some(SignIn::Allowed),
            _ => None,
        }
    }
}

/// Blocks or allows sign-in to a user's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSignIn {
    /// User object id.
    pub user_id: String,
    /// UPN.
    pub upn: String,
    /// Current state.
    pub from: SignIn,
    /// Desired state.
    pub to: SignIn,
}

impl Kind for SetSignIn {
    fn name(&self) -> &'static str {
        "set_sign_in"
    }
    fn action(&self) -> Action {
        Action::Change
    }
    fn target(&self) -> &str {
        &self.upn
    }
    fn user_id(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    fn describe(&self) -> Description {
        Description::line(format!(
            "sign-in: {} -> {}",
            self.from.as_str(),
            self.to.as_str()
        ))
    }
    fn request(&self) -> Request {
        Request::Graph(GraphRequest {
            method: HttpMethod::Patch,
            path: vec![
                PathPart::Fixed("users"),
                PathPart::Object(self.user_id.clone()),
            ],
            body: Some(RequestBody::Json(
                serde_json::json!({"accountEnabled": self.to.account_enabled()}),
            )),
            permission: "User.EnableDisableAccount.All",
        })
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        let user = crate::tenant::mutate::user_mut(tenant, &self.user_id)?;
        user.account_enabled = self.to.account_enabled();
        Ok(())
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        live.user(&self.user_id)
            .is_some_and(|u| u.account_enabled == self.to.account_enabled())
    }
    fn reads(&self) -> Reads<'_> {
        Reads {
            user: Some(&self.user_id),
            ..Reads::default()
        }
    }
    fn licences(&self) -> Licences<'_> {
        Licences::Untouched
    }
    fn role(&self) -> Role {
        match self.to {
            // "Convert a shared mailbox back to a user mailbox": the account signs in again.
            SignIn::Allowed => Role::BeforeConvert(MailboxType::User),
            SignIn::Blocked => Role::Attribute,
        }
    }
    fn replay(&self, _: &mut Replayed<'_>) {}
    fn retry_refusal_may_mean_done(&self) -> bool {
        false
    }
}
