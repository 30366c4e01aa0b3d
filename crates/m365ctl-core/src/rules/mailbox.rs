//! What a mailbox needs from its licences.
//!
//! - A **user** mailbox needs an Exchange Online licence: "When a license is removed from a
//!   user, Exchange Online data that is associated with that account is held for 30 days. After
//!   the 30-day grace period, the data is deleted and can't be recovered" (Microsoft 365 admin,
//!   "Remove licenses from users", manage/remove-licenses-from-users.md).
//! - Its size must fit the quota of the Exchange plan it has: Kiosk 2 GB, Essentials and Plan 1
//!   50 GB, Plan 2 100 GB (Microsoft, "Exchange Online limits", service description, section
//!   "Mailbox storage limits"). A mailbox over its quota stops receiving mail.
//! - A **shared** mailbox needs no licence up to 50 GB, but "Exchange Online Plan 2 license"
//!   when it stores more than 50 GB, has an archive (In-Place Archive) or is on litigation hold
//!   (Microsoft 365 admin, "About shared mailboxes", email/about-shared-mailboxes.md, and
//!   "Convert a user mailbox to a shared mailbox"). m365ctl asks for Plan 2 itself: the
//!   alternative (Plan 1 plus the Exchange Online Archiving add-on) is not modelled.
//! - Room and equipment mailboxes need no licence (same page: resource mailboxes).

use super::exchange::ExchangeRank;
use crate::tenant::{Mailbox, MailboxType, human_size};

/// Shared mailboxes store up to this much without a licence (Microsoft: 50 GB).
pub const SHARED_MAILBOX_FREE_LIMIT_BYTES: u64 = 50 * GIB;

const GIB: u64 = 1024 * 1024 * 1024;

/// The mailbox quota an Exchange rank gives a user mailbox (Microsoft, "Exchange Online
/// limits": Kiosk 2 GB, Essentials 50 GB, Plan 1 50 GB, Plan 2 100 GB); `None` without
/// Exchange.
pub fn user_mailbox_quota(rank: ExchangeRank) -> Option<u64> {
    match rank {
        ExchangeRank::None => None,
        ExchangeRank::Kiosk => Some(2 * GIB),
        ExchangeRank::Essentials | ExchangeRank::Plan1 => Some(50 * GIB),
        ExchangeRank::Plan2 => Some(100 * GIB),
    }
}

/// Why a shared mailbox needs Exchange Online Plan 2, in words, when it does: over 50 GB,
/// an archive, litigation hold. A fact that was not read counts as a reason: an unknown
/// mailbox is never assumed small (the planner reads the facts it depends on first).
pub fn shared_mailbox_needs_plan2(mailbox: &Mailbox) -> Option<String> {
    let mut reasons = Vec::new();
    match mailbox.size_bytes {
        Some(size) if size > SHARED_MAILBOX_FREE_LIMIT_BYTES => reasons.push(format!(
            "mailbox is {} (shared mailboxes over 50 GB need a licence)",
            human_size(size)
        )),
        Some(_) => {}
        None => reasons.push("its size was not read".to_string()),
    }
    match mailbox.archive_enabled {
        Some(true) => reasons.push("archive is enabled".to_string()),
        Some(false) => {}
        None => reasons.push("its archive status was not read".to_string()),
    }
    match mailbox.litigation_hold {
        Some(true) => reasons.push("litigation hold is on".to_string()),
        Some(false) => {}
        None => reasons.push("its litigation hold was not read".to_string()),
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// A mailbox whose licences do not meet what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxShortfall {
    /// A user mailbox without any Exchange licence: it is disabled, then deleted after 30 days.
    Unlicensed,
    /// A user mailbox larger than the quota of its Exchange plan.
    OverQuota {
        /// Mailbox size in bytes.
        size: u64,
        /// Quota of `rank` in bytes.
        quota: u64,
        /// The rank the user has.
        rank: ExchangeRank,
    },
    /// A shared mailbox over the free limits without Exchange Online Plan 2.
    SharedNeedsPlan2 {
        /// Why (size, archive, hold).
        reasons: String,
        /// The rank the mailbox has.
        rank: ExchangeRank,
    },
}

impl std::fmt::Display for MailboxShortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailboxShortfall::Unlicensed => f.write_str(
                "a user mailbox without an Exchange licence (disabled, deleted after 30 days)",
            ),
            MailboxShortfall::OverQuota { size, quota, rank } => write!(
                f,
                "a {} user mailbox over the {} quota of {rank}",
                human_size(*size),
                human_size(*quota)
            ),
            MailboxShortfall::SharedNeedsPlan2 { reasons, rank } => write!(
                f,
                "a shared mailbox that needs Exchange Online Plan 2 ({reasons}) with {rank}"
            ),
        }
    }
}

impl MailboxShortfall {
    /// How bad it is: a mailbox going to be deleted is worse than one that lacks Plan 2 as a
    /// shared mailbox, which is worse than one over its quota (mail stops arriving).
    fn severity(&self) -> u8 {
        match self {
            MailboxShortfall::OverQuota { .. } => 1,
            MailboxShortfall::SharedNeedsPlan2 { .. } => 2,
            MailboxShortfall::Unlicensed => 3,
        }
    }
}

/// The shortfall a change brings, judged against what the mailbox lacked before: only a worse
/// one counts (a live tenant's existing shortfall is not the change's doing, and turning it
/// into a milder one is progress).
pub fn worsened(
    before: Option<&MailboxShortfall>,
    after: Option<MailboxShortfall>,
) -> Option<MailboxShortfall> {
    let after = after?;
    let was = before.map_or(0, MailboxShortfall::severity);
    (after.severity() > was).then_some(after)
}

/// What `mailbox`, were it of type `kind`, lacks with Exchange capability `rank`; `None` when
/// its licences are enough. An unread size is not judged against a quota: quotas only
/// shrink when the Exchange rank goes down, and the planner reads the size of every mailbox
/// whose rank goes down before it plans (`plan::facts_needed`).
pub fn shortfall(
    mailbox: &Mailbox,
    kind: MailboxType,
    rank: ExchangeRank,
) -> Option<MailboxShortfall> {
    match kind {
        MailboxType::User => match user_mailbox_quota(rank) {
            None => Some(MailboxShortfall::Unlicensed),
            Some(quota) => mailbox
                .size_bytes
                .filter(|size| *size > quota)
                .map(|size| MailboxShortfall::OverQuota { size, quota, rank }),
        },
        MailboxType::Shared if rank < ExchangeRank::Plan2 => shared_mailbox_needs_plan2(mailbox)
            .map(|reasons| MailboxShortfall::SharedNeedsPlan2 { reasons, rank }),
        MailboxType::Shared | MailboxType::Room | MailboxType::Equipment => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mailbox(size_gb: u64, archive: bool, hold: bool) -> Mailbox {
        Mailbox {
            kind: MailboxType::User,
            size_bytes: Some(size_gb * GIB),
            archive_enabled: Some(archive),
            litigation_hold: Some(hold),
        }
    }

    fn rank(i: u8) -> ExchangeRank {
        [
            ExchangeRank::None,
            ExchangeRank::Essentials,
            ExchangeRank::Kiosk,
            ExchangeRank::Plan1,
            ExchangeRank::Plan2,
        ][usize::from(i % 5)]
    }

    proptest! {
        #[test]
        fn shared_mailboxes_need_plan2_exactly_when_over_the_limits(
            size in 0u64..120, archive: bool, hold: bool, r in 0u8..5
        ) {
            let mb = mailbox(size, archive, hold);
            let over = size > 50 || archive || hold;
            let lacks = shortfall(&mb, MailboxType::Shared, rank(r)).is_some();
            prop_assert_eq!(lacks, over && rank(r) != ExchangeRank::Plan2);
        }

        #[test]
        fn user_mailboxes_need_exchange_and_room_for_their_size(
            size in 0u64..120, r in 0u8..5
        ) {
            let mb = mailbox(size, false, false);
            let quota_gb = match rank(r) {
                ExchangeRank::None => None,
                ExchangeRank::Kiosk => Some(2),
                ExchangeRank::Essentials | ExchangeRank::Plan1 => Some(50),
                ExchangeRank::Plan2 => Some(100),
            };
            let found = shortfall(&mb, MailboxType::User, rank(r));
            match quota_gb {
                None => prop_assert_eq!(found, Some(MailboxShortfall::Unlicensed)),
                Some(q) if size > q => {
                    let is_over_quota = matches!(found, Some(MailboxShortfall::OverQuota { .. }));
                    prop_assert!(is_over_quota);
                }
                Some(_) => prop_assert_eq!(found, None),
            }
            prop_assert_eq!(shortfall(&mb, MailboxType::Room, rank(r)), None);
        }
    }
}
