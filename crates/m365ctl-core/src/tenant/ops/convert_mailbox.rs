//! `convert_mailbox`: Exchange `Set-Mailbox -Type` ("Convert a user mailbox to a shared
//! mailbox": a licence is needed to convert; remove it after).

use super::*;

/// Converts a mailbox between user and shared (or room, equipment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertMailbox {
    /// User object id.
    pub user_id: String,
    /// UPN.
    pub upn: String,
    /// Current type.
    pub from: MailboxType,
    /// Desired type.
    pub to: MailboxType,
}

impl Kind for ConvertMailbox {
    fn name(&self) -> &'static str {
        "convert_mailbox"
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
        Description::line(format!("mailbox: {} -> {}", self.from, self.to))
    }
    fn request(&self) -> Request {
        Request::Exchange(ExchangeCommand {
            cmdlet: "Set-Mailbox",
            parameters: serde_json::json!({"Identity": self.upn, "Type": self.to.exchange_name()}),
        })
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        crate::tenant::mutate::convert_mailbox(tenant, &self.user_id, self.to)
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        live.user(&self.user_id)
            .and_then(|u| u.mailbox.as_ref())
            .is_some_and(|m| m.kind == self.to)
    }
    fn reads(&self) -> Reads<'_> {
        Reads {
            user: Some(&self.user_id),
            mailbox: Some(&self.upn),
            ..Reads::default()
        }
    }
    fn licences(&self) -> Licences<'_> {
        Licences::Untouched
    }
    fn role(&self) -> Role {
        Role::Convert(self.to)
    }
    fn replay(&self, user: &mut Replayed<'_>) {
        *user.mailbox = Some(self.to);
    }
    fn retry_refusal_may_mean_done(&self) -> bool {
        false
    }
}
