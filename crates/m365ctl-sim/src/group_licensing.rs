//! Asynchronous group-based licensing, as Microsoft Graph does it: `POST
//! /groups/{id}/assignLicense` answers `202 Accepted` and Entra processes the members later
//! (Microsoft Graph v1.0, group: assignLicense; "group-based licensing" in Entra ID: the
//! group's `licenseProcessingState` and each member's `licenseAssignmentStates` change when
//! processing is done). Adding or removing a member of a licensed group is processed the same
//! way. Until then the group shows its new licences and members, while the members keep
//! their old inherited assignments and seats.
//!
//! The fake keeps a queue of processing jobs due `delay` after the write and runs the ones
//! that are due before it answers any request, so what a client sees depends only on time,
//! as with Graph. With a zero delay every write is processed at once (the snapshot
//! backend's behaviour).

use crate::plan::OpKind;
use crate::plan::ops::Licences;
use crate::tenant::{RuleViolation, Tenant, apply_group_level, apply_operation, process_members};
use std::time::Duration;
use tokio::time::Instant;

/// Group licensing work accepted but not processed yet.
#[derive(Debug, Default)]
pub(super) struct Queue {
    delay: Duration,
    jobs: Vec<Job>,
}

/// Members of one group to process once `due`.
#[derive(Debug)]
pub(super) struct Job {
    due: Instant,
    group_id: String,
    /// User ids to process.
    pub members: Vec<String>,
    /// The write that queued the job (named in safety violations found when it runs).
    pub op: OpKind,
}

impl Queue {
    /// A queue processing members `delay` after each write.
    pub fn new(delay: Duration) -> Queue {
        Queue {
            delay,
            jobs: Vec::new(),
        }
    }

    /// Applies a write with Graph's rules: group licensing writes change the group now and
    /// queue its members; every other write (and everything, with a zero delay) takes
    /// effect at once. A rejected write changes nothing.
    pub fn write(&mut self, tenant: &mut Tenant, op: &OpKind) -> Result<(), RuleViolation> {
        if self.delay.is_zero() {
            return apply_operation(tenant, op);
        }
        let Some(members) = apply_group_level(tenant, op) else {
            return apply_operation(tenant, op);
        };
        let group_id = match op.licences() {
            Licences::Group { group_id, .. } | Licences::Membership { group_id, .. } => {
                group_id.to_string()
            }
            // `apply_group_level` answers `None` for these: handled above.
            Licences::User { .. } | Licences::Untouched => String::new(),
        };
        let members = members?
            .into_iter()
            .map(|ui| tenant.users[ui].id.clone())
            .collect();
        self.jobs.push(Job {
            due: Instant::now() + self.delay,
            group_id,
            members,
            op: op.clone(),
        });
        Ok(())
    }

    /// Removes and returns the jobs due by `now`, oldest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<Job> {
        let (due, waiting) = std::mem::take(&mut self.jobs)
            .into_iter()
            .partition(|job| job.due <= now);
        self.jobs = waiting;
        due
    }

    /// The group's `licenseProcessingState.state`.
    pub fn processing_state(&self, group_id: &str) -> &'static str {
        if self.jobs.iter().any(|job| job.group_id == group_id) {
            "ProcessingInProgress"
        } else {
            "ProcessingComplete"
        }
    }
}

impl Job {
    /// Processes the job's members against the groups as they are now.
    pub fn run(&self, tenant: &mut Tenant) {
        let users = self
            .members
            .iter()
            .filter_map(|id| tenant.user_position(id))
            .collect();
        process_members(tenant, users);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LicenseRemoval;
    use crate::plan::ops::AssignGroupLicenses;

    fn tenant() -> Tenant {
        let mut t: Tenant = serde_json::from_value(serde_json::json!({
            "skus": [{"sku_id": "e3", "sku_part_number": "ENTERPRISEPACK", "enabled": 5, "consumed": 0}],
            "users": [{"id": "u1", "user_principal_name": "ann@contoso.com", "usage_location": "GB",
                       "licenses": [{"sku_id": "e3", "assigned_by_group": "g1"}]}],
            "groups": [{"id": "g1", "display_name": "LIC-E3", "members": ["u1"],
                        "licenses": [{"sku_id": "e3"}]}]
        }))
        .unwrap();
        t.recount_consumed();
        t
    }

    fn drop_e3() -> OpKind {
        OpKind::AssignGroupLicenses(AssignGroupLicenses {
            group_id: "g1".into(),
            group: "LIC-E3".into(),
            add: vec![],
            remove: vec![LicenseRemoval {
                sku_id: "e3".into(),
                sku_part_number: "ENTERPRISEPACK".into(),
            }],
        })
    }

    #[test]
    fn members_keep_their_licence_until_the_job_is_processed() {
        let mut t = tenant();
        let mut queue = Queue::new(Duration::from_secs(60));
        queue.write(&mut t, &drop_e3()).unwrap();
        assert!(t.groups[0].licenses.is_empty(), "the group changes at once");
        assert!(t.users[0].holds("e3"), "the member is not processed yet");
        assert_eq!(t.skus[0].consumed, 1);
        assert_eq!(queue.processing_state("g1"), "ProcessingInProgress");
        assert!(queue.take_due(Instant::now()).is_empty());
        let jobs = queue.take_due(Instant::now() + Duration::from_secs(61));
        assert_eq!(jobs.len(), 1);
        jobs[0].run(&mut t);
        assert!(!t.users[0].holds("e3"));
        assert_eq!(t.skus[0].consumed, 0);
        assert_eq!(queue.processing_state("g1"), "ProcessingComplete");
    }

    #[test]
    fn without_a_delay_writes_are_processed_at_once_and_rejections_change_nothing() {
        let mut t = tenant();
        let mut queue = Queue::new(Duration::ZERO);
        queue.write(&mut t, &drop_e3()).unwrap();
        assert!(!t.users[0].holds("e3"));
        let mut delayed = Queue::new(Duration::from_secs(1));
        let before = t.clone();
        assert!(
            delayed.write(&mut t, &drop_e3()).is_err(),
            "E3 is gone already"
        );
        assert_eq!(t, before);
        assert_eq!(delayed.processing_state("g1"), "ProcessingComplete");
    }
}
