//! Graph and Exchange error bodies and their classification into `backend::Refusal` by
//! code and status (never by message text), naming the principal and the least-privileged
//! permission the call needs.

use crate::backend::{BackendError, ErrorCodes, Refusal};

/// A non-success answer from Graph or Exchange, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// Status and codes: all that classification reads.
    pub codes: ErrorCodes,
    /// `error.message` (or the most specific Exchange message), for humans only.
    pub message: String,
    /// `request-id` header or `error.innerError.request-id`.
    pub request_id: Option<String>,
}

impl ServiceError {
    /// Parses Graph's `{"error":{"code","message","details":[{"code"}],"innerError":{"code",
    /// "request-id"}}}` (https://learn.microsoft.com/en-us/graph/errors) or an Exchange
    /// adminapi error, whose `details[0].message` is `Ex…|<exception type>|<message>` and
    /// whose `innererror.internalexception` has `type` and `message` (research graph-api.md
    /// §5.2), tolerating non-JSON bodies (Exchange sometimes answers 403 with NUL bytes).
    pub fn parse(status: u16, request_id: Option<String>, body: &[u8]) -> ServiceError {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let error = &json["error"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let detail = error["details"][0]["message"].as_str().map(exchange_detail);
        let internal = &error["innererror"]["internalexception"];
        let message = detail
            .map(|(_, message)| message.to_string())
            .or_else(|| text(&internal["message"]))
            .or_else(|| text(&error["message"]))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let inner_codes = error["details"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| &d["code"])
            .chain([&error["innerError"]["code"], &error["innererror"]["code"]])
            .filter_map(text)
            .collect();
        ServiceError {
            codes: ErrorCodes {
                status,
                code: text(&error["code"]),
                inner_codes,
                retry_after: None,
                exception_type: text(&internal["type"])
                    .or_else(|| detail.and_then(|(kind, _)| kind.map(str::to_string))),
            },
            message,
            request_id: request_id.or_else(|| text(&error["innerError"]["request-id"])),
        }
    }

    /// With the answer's `Retry-After` (what a throttled refusal says about when to retry).
    pub fn with_retry_after(mut self, retry_after: Option<std::time::Duration>) -> ServiceError {
        self.codes.retry_after = retry_after;
        self
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.codes.status
    }

    /// Maps to a typed `BackendError` for `target` (UPN or group); `permission` is the
    /// least-privileged application permission the failed call needs.
    pub fn into_backend_error(self, target: &str, permission: &str) -> BackendError {
        if self.codes.status == 401 {
            return BackendError::Auth(format!("{target}: {}", self.message));
        }
        let refusal = Refusal::classify(&self.codes, permission);
        let said = match &self.codes.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message,
        };
        let message = match &refusal {
            Refusal::PermissionDenied { permission } => {
                format!("forbidden: missing permission {permission} ({said})")
            }
            _ => said,
        };
        BackendError::Refused {
            target: target.to_string(),
            refusal,
            message,
            request_id: self.request_id,
        }
    }
}

/// Splits an Exchange detail message `Ex6F9304|<exception type>|<message>` into the type
/// and the message; any other text is all message.
fn exchange_detail(detail: &str) -> (Option<&str>, &str) {
    let mut parts = detail.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(tag), Some(kind), Some(message)) if tag.starts_with("Ex") && !kind.is_empty() => {
            (Some(kind), message)
        }
        _ => (None, detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_body(code: &str, message: &str) -> Vec<u8> {
        serde_json::json!({"error":{"code":code,"message":message,
            "innerError":{"request-id":"r-1","date":"2026-01-01T00:00:00"}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn graph_answers_classify_by_code_and_status_whatever_the_message_says() {
        // The old classifier read these messages; now the same code gives the same refusal.
        for message in [
            "License assignment cannot be done for user with invalid usage location.",
            "Subscription with SKU 1 does not have any available licenses.",
            "User license is inherited from a group membership and it cannot be removed directly from the user.",
            "Lorem ipsum",
        ] {
            let e = ServiceError::parse(400, None, &graph_body("Request_BadRequest", message));
            assert_eq!(e.request_id.as_deref(), Some("r-1"));
            let error = e.into_backend_error("ann@x", "P");
            assert_eq!(error.refusal(), Some(&Refusal::BadRequest), "{message}");
            assert!(error.to_string().starts_with("ann@x: Request_BadRequest: "));
        }
        let e = ServiceError::parse(403, Some("h".into()), b"\0\0");
        let error = e.into_backend_error("ann@x", "LicenseAssignment.ReadWrite.All");
        assert_eq!(
            error.refusal(),
            Some(&Refusal::PermissionDenied {
                permission: "LicenseAssignment.ReadWrite.All".into()
            })
        );
        assert!(
            error
                .to_string()
                .contains("missing permission LicenseAssignment.ReadWrite.All")
        );
        assert!(matches!(
            ServiceError::parse(401, None, b"").into_backend_error("ann@x", "P"),
            BackendError::Auth(_)
        ));
    }

    #[test]
    fn exchange_detail_gives_the_message_and_the_exception_type() {
        let b = br#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"code":"Client","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|Mailbox not found"}]}}"#;
        let e = ServiceError::parse(400, None, b);
        assert_eq!(e.message, "Mailbox not found");
        assert_eq!(
            e.codes.exception_type.as_deref(),
            Some(crate::backend::refusal::EXCHANGE_NOT_FOUND)
        );
        assert_eq!(e.codes.inner_codes, vec!["Client".to_string()]);
        assert_eq!(
            e.into_backend_error("ann@x", "P").refusal(),
            Some(&Refusal::NotFound)
        );
        let untyped = br#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"message":"a | b"}]}}"#;
        let e = ServiceError::parse(400, None, untyped);
        assert_eq!(
            (e.message.as_str(), e.codes.exception_type),
            ("a | b", None)
        );
    }
}
