//! Graph error bodies and their mapping onto `BackendError`, naming the principal, the
//! operation and the least-privileged permission the call needs.

use crate::backend::BackendError;
use crate::tenant::RuleViolation;

/// A non-success answer from Graph or Exchange, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// `error.code` (Graph) or the HTTP status text.
    pub code: String,
    /// `error.message` (or the most specific Exchange message).
    pub message: String,
    /// `request-id` header or `error.innerError.request-id`.
    pub request_id: Option<String>,
}

impl ServiceError {
    /// Parses Graph's `{"error":{"code","message","innerError":{"request-id"}}}` or an
    /// Exchange adminapi error (`error.details[0].message`, then innererror), tolerating
    /// non-JSON bodies (Exchange sometimes answers 403 with NUL bytes).
    pub fn parse(status: u16, request_id: Option<String>, body: &[u8]) -> ServiceError {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let error = &json["error"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let message = text(&error["details"][0]["message"])
            .or_else(|| text(&error["innererror"]["internalexception"]["message"]))
            .or_else(|| text(&error["message"]))
            .unwrap_or_else(|| format!("HTTP {status}"));
        ServiceError {
            status,
            code: text(&error["code"]).unwrap_or_else(|| status.to_string()),
            message,
            request_id: request_id.or_else(|| text(&error["innerError"]["request-id"])),
        }
    }

    /// Maps to a typed `BackendError` for `target` (UPN or group); `permission` is the
    /// least-privileged application permission the failed call needs.
    pub fn into_backend_error(
        self,
        target: &str,
        sku: Option<&str>,
        permission: &str,
    ) -> BackendError {
        let message = self.message.to_ascii_lowercase();
        let rejected = |violation| BackendError::Rejected {
            target: target.to_string(),
            violation,
        };
        if self.status == 403 {
            return BackendError::Forbidden {
                permission: permission.to_string(),
                detail: format!("{target}: {}", self.message),
            };
        }
        if self.status == 401 {
            return BackendError::Auth(format!("{target}: {}", self.message));
        }
        if self.status == 404 {
            return rejected(RuleViolation::NotFound(target.to_string()));
        }
        if message.contains("invalid usage location") {
            return rejected(RuleViolation::InvalidUsageLocation(target.to_string()));
        }
        if message.contains("inherited from a group membership") {
            return rejected(RuleViolation::InheritedLicense {
                user: target.to_string(),
                sku: sku.unwrap_or("?").to_string(),
            });
        }
        let code = if message.contains("does not have any available licenses") {
            "CountViolation".to_string()
        } else if message.contains("mutually exclusive") {
            "MutuallyExclusiveViolation".to_string()
        } else {
            self.code
        };
        BackendError::Service {
            target: target.to_string(),
            code,
            message: self.message,
            request_id: self.request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(message: &str) -> Vec<u8> {
        serde_json::json!({"error":{"code":"Request_BadRequest","message":message,
            "innerError":{"request-id":"r-1","date":"2026-01-01T00:00:00"}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn graph_messages_map_to_typed_errors() {
        let e = ServiceError::parse(
            400,
            None,
            &body("License assignment cannot be done for user with invalid usage location."),
        );
        assert_eq!(e.request_id.as_deref(), Some("r-1"));
        assert!(matches!(
            e.into_backend_error("ann@x", None, "P"),
            BackendError::Rejected { violation: RuleViolation::InvalidUsageLocation(u), .. } if u == "ann@x"
        ));
        let e = ServiceError::parse(
            400,
            Some("h".into()),
            &body("Subscription with SKU 1 does not have any available licenses."),
        );
        assert!(matches!(
            e.into_backend_error("ann@x", None, "P"),
            BackendError::Service { code, request_id: Some(r), .. } if code == "CountViolation" && r == "h"
        ));
        let e = ServiceError::parse(403, None, b"\0\0");
        assert!(matches!(
            e.into_backend_error("ann@x", None, "LicenseAssignment.ReadWrite.All"),
            BackendError::Forbidden { permission, .. } if permission == "LicenseAssignment.ReadWrite.All"
        ));
    }

    #[test]
    fn exchange_detail_message_wins() {
        let b = br#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"message":"Mailbox not found"}]}}"#;
        assert_eq!(
            ServiceError::parse(400, None, b).message,
            "Mailbox not found"
        );
    }
}
