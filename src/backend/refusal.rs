//! One taxonomy of refusals for both backends: why Microsoft (or the snapshot backend's model
//! of its rules) said no to a request. The Graph backend classifies an answer from its codes
//! and HTTP status only, never from message text: Microsoft rewords messages and localises
//! them, and a classifier that reads the text the fake writes passes its tests by
//! construction. Where Graph uses one code for several refusals, the variant is the generic
//! one and the message stays for humans.

pub use crate::rules::writes::{
    EXCHANGE_NOT_FOUND, GRAPH_BAD_REQUEST, GRAPH_NOT_FOUND, LicenceRule,
};
use crate::tenant::RuleViolation;

/// Why the service refused a request, as far as its codes and status say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request broke one of the service's rules and the answer names no finer code:
    /// Graph answers a missing usage location, a subscription without free seats, the direct
    /// removal of an inherited licence, an unknown SKU and an existing member all with 400
    /// `Request_BadRequest` (research graph-api.md §1.1 "Error messages"), and Exchange a
    /// cmdlet error without a more specific exception type.
    BadRequest,
    /// A licence-assignment rule Graph names by code in `innerError.code` or
    /// `details[].code` (the codes of `licenseAssignmentState.error`).
    Licence(LicenceRule),
    /// The object does not exist: 404, Graph `Request_ResourceNotFound`, Exchange
    /// `ManagementObjectNotFoundException`.
    NotFound,
    /// 403: the app lacks a permission; names the least-privileged one the call needs.
    PermissionDenied {
        /// Application permission to grant, e.g. `LicenseAssignment.ReadWrite.All`.
        permission: String,
    },
    /// 409: the object changed or exists in a conflicting state.
    Conflict,
    /// 429 still after the client's retries (https://learn.microsoft.com/en-us/graph/throttling),
    /// with the answer's `Retry-After` when it had one.
    Throttled {
        /// How long Microsoft asked the client to wait.
        retry_after: Option<std::time::Duration>,
    },
    /// 5xx still after the client's retries.
    Transient {
        /// HTTP status.
        status: u16,
    },
    /// Any other status.
    Other {
        /// HTTP status.
        status: u16,
    },
}

/// The machine-readable parts of an error answer: what classification may read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCodes {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: Option<String>,
    /// `error.innerError.code` and every `error.details[].code`.
    pub inner_codes: Vec<String>,
    /// Exchange's exception type (`innererror.internalexception.type`, or the type field of
    /// `details[0].message`).
    pub exception_type: Option<String>,
    /// The `Retry-After` header.
    pub retry_after: Option<std::time::Duration>,
}

impl Refusal {
    /// Classifies an error answer; `permission` is the least-privileged permission of the
    /// call, named when the answer is a 403. The most specific code wins: Exchange's
    /// exception type, then licence-rule codes, then `error.code`, then the status.
    pub fn classify(codes: &ErrorCodes, permission: &str) -> Refusal {
        if codes.exception_type.as_deref() == Some(EXCHANGE_NOT_FOUND) {
            return Refusal::NotFound;
        }
        if let Some(rule) = codes
            .inner_codes
            .iter()
            .chain(&codes.code)
            .find_map(|c| LicenceRule::from_code(c))
        {
            return Refusal::Licence(rule);
        }
        if codes.code.as_deref() == Some(GRAPH_NOT_FOUND) {
            return Refusal::NotFound;
        }
        match codes.status {
            400 => Refusal::BadRequest,
            403 => Refusal::PermissionDenied {
                permission: permission.to_string(),
            },
            404 => Refusal::NotFound,
            409 => Refusal::Conflict,
            429 => Refusal::Throttled {
                retry_after: codes.retry_after,
            },
            500..=599 => Refusal::Transient {
                status: codes.status,
            },
            status => Refusal::Other { status },
        }
    }

    /// The refusal Graph or Exchange gives for the write rule `violation` breaks, as far as
    /// their codes say: what the snapshot backend reports, so both backends agree.
    pub fn of_violation(violation: &RuleViolation) -> Refusal {
        match violation {
            RuleViolation::NotFound(_) | RuleViolation::NoMailbox(_) => Refusal::NotFound,
            RuleViolation::InvalidUsageLocation(_)
            | RuleViolation::BadUsageLocationValue(_)
            | RuleViolation::NoSeats { .. }
            | RuleViolation::InheritedLicense { .. }
            | RuleViolation::LicenseNotHeld { .. }
            | RuleViolation::UnknownSku(_)
            | RuleViolation::UnknownPlan { .. }
            | RuleViolation::Mailbox(_)
            | RuleViolation::AlreadyMember { .. } => Refusal::BadRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(status: u16, code: &str, inner: &[&str], exception: Option<&str>) -> ErrorCodes {
        ErrorCodes {
            status,
            code: Some(code.to_string()),
            inner_codes: inner.iter().map(|c| c.to_string()).collect(),
            exception_type: exception.map(str::to_string),
            retry_after: None,
        }
    }

    #[test]
    fn licence_codes_round_trip_and_win_over_the_generic_code() {
        for rule in LicenceRule::ALL {
            assert_eq!(LicenceRule::from_code(rule.code()), Some(rule));
            let answer = codes(400, GRAPH_BAD_REQUEST, &["x", rule.code()], None);
            assert_eq!(Refusal::classify(&answer, "P"), Refusal::Licence(rule));
        }
        assert_eq!(LicenceRule::from_code("countviolation"), None);
    }

    #[test]
    fn statuses_classify_when_no_code_is_more_specific() {
        let table = [
            (400, Refusal::BadRequest),
            (
                403,
                Refusal::PermissionDenied {
                    permission: "P".into(),
                },
            ),
            (404, Refusal::NotFound),
            (409, Refusal::Conflict),
            (429, Refusal::Throttled { retry_after: None }),
            (503, Refusal::Transient { status: 503 }),
            (418, Refusal::Other { status: 418 }),
        ];
        for (status, expected) in table {
            assert_eq!(
                Refusal::classify(&codes(status, "Whatever", &[], None), "P"),
                expected
            );
        }
        // Exchange's not-found type and Graph's not-found code beat a generic status.
        let exchange = codes(400, "BadRequest", &[], Some(EXCHANGE_NOT_FOUND));
        assert_eq!(Refusal::classify(&exchange, "P"), Refusal::NotFound);
        let graph = codes(400, GRAPH_NOT_FOUND, &[], None);
        assert_eq!(Refusal::classify(&graph, "P"), Refusal::NotFound);
    }
}
