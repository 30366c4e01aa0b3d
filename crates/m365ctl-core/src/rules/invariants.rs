//! The safety invariants m365ctl promises at every step of every apply: no SKU is pushed over
//! its capacity, and no mailbox is left with less than its licences must give (a user mailbox
//! without Exchange, or over its quota; a shared mailbox over the limits without Plan 2).
//! Checked by the planner's order checker, the executor's tests and the fake after every
//! write; each rule is the one in `seats` and `mailbox`.

use super::exchange::user_exchange_rank;
use super::mailbox::{MailboxShortfall, shortfall, worsened};
use super::seats;
use crate::tenant::{Tenant, User};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// A SKU consumed beyond its capacity (`seats::capacity`).
    SeatsOver {
        /// skuPartNumber.
        sku: String,
        /// Seats consumed.
        consumed: i64,
        /// `seats::capacity`.
        capacity: i64,
    },
    /// A mailbox with less than its licences must give.
    Mailbox {
        /// UPN.
        upn: String,
        /// What it lacks.
        shortfall: MailboxShortfall,
    },
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breach::SeatsOver {
                sku,
                consumed,
                capacity,
            } => write!(f, "{sku} at {consumed} consumed of {capacity} seats"),
            Breach::Mailbox { upn, shortfall } => write!(f, "{upn} has {shortfall}"),
        }
    }
}

/// What a user's mailbox lacks in the model now, if anything.
pub fn user_shortfall(tenant: &Tenant, user: &User) -> Option<MailboxShortfall> {
    let mailbox = user.mailbox.as_ref()?;
    shortfall(mailbox, mailbox.kind, user_exchange_rank(tenant, user))
}

/// UPNs whose *user* mailbox has no effective Exchange licence: the invariant m365ctl must
/// never break (the mailbox would be disabled and, after 30 days, deleted).
pub fn unlicensed_user_mailboxes(tenant: &Tenant) -> Vec<String> {
    tenant
        .users
        .iter()
        .filter(|u| user_shortfall(tenant, u) == Some(MailboxShortfall::Unlicensed))
        .map(|u| u.user_principal_name.clone())
        .collect()
}

/// The invariant-relevant state of some users and of every SKU, taken before a step, so the
/// step is judged by what it changed: a tenant may already break an invariant (a SKU reduced
/// at renewal), and only a step that makes things worse is at fault. Proportional to the
/// users observed, not to the tenant (the fake serves 100,000-user tenants).
#[derive(Debug, Clone)]
pub struct Observed {
    mailboxes: Vec<(String, Option<MailboxShortfall>)>,
    consumed: Vec<(String, i64)>,
}

impl Observed {
    /// Observes the users with these object ids (unknown ids are skipped) and every SKU.
    pub fn of(tenant: &Tenant, user_ids: &[String]) -> Observed {
        Observed {
            mailboxes: user_ids
                .iter()
                .filter_map(|id| tenant.user(id))
                .map(|u| (u.id.clone(), user_shortfall(tenant, u)))
                .collect(),
            consumed: tenant
                .skus
                .iter()
                .map(|s| (s.sku_id.clone(), i64::from(s.consumed)))
                .collect(),
        }
    }

    /// The breaches `after` has that this observation did not: a SKU over capacity whose
    /// consumption grew, a mailbox whose shortfall appeared or got worse (`mailbox::worsened`).
    pub fn new_breaches(&self, after: &Tenant) -> Vec<Breach> {
        let mut out = Vec::new();
        for sku in &after.skus {
            let before = self
                .consumed
                .iter()
                .find(|(id, _)| *id == sku.sku_id)
                .map_or(0, |(_, c)| *c);
            let now = i64::from(sku.consumed);
            if !seats::step_fits(sku, before, now) {
                out.push(Breach::SeatsOver {
                    sku: sku.sku_part_number.clone(),
                    consumed: now,
                    capacity: seats::capacity(sku),
                });
            }
        }
        for (id, before) in &self.mailboxes {
            let Some(user) = after.user(id) else { continue };
            if let Some(now) = worsened(before.as_ref(), user_shortfall(after, user)) {
                out.push(Breach::Mailbox {
                    upn: user.user_principal_name.clone(),
                    shortfall: now,
                });
            }
        }
        out
    }
}
