//! Exchange Online admin REST client (`/adminapi/beta/{tenant}/InvokeCommand`), the API the
//! ExchangeOnlineManagement v3 module uses. Microsoft does not document it, so it sits behind
//! the small `ExchangeAdmin` trait: if it changes, only this module changes.

use crate::backend::BackendError;
use crate::graph::{HttpCore, Request, Resource};
use crate::plan::ops::ExchangeCommand;
use crate::tenant::{Mailbox, MailboxType};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

mod batch;

pub use batch::MAX_BATCH;

/// Exchange permission named in errors: the app role plus the Exchange RBAC role.
pub const EXCHANGE_PERMISSION: &str =
    "Exchange.ManageAsApp (plus the Exchange Recipient Administrator role)";

/// The well-known system mailbox Exchange routes app-only admin calls through.
const ANCHOR_MAILBOX: &str = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

/// A mailbox as `Get-Mailbox` reports it, keyed to the Entra user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRecord {
    /// `ExternalDirectoryObjectId`: the Entra user id.
    pub user_id: String,
    /// `UserPrincipalName`.
    pub upn: String,
    /// The mailbox; its size is unknown until `mailbox_size` reads it.
    pub mailbox: Mailbox,
}

/// What m365ctl needs from Exchange Online.
pub trait ExchangeAdmin: Send + Sync {
    /// Every user, shared, room and equipment mailbox, read in pages of 1,000.
    fn list_mailboxes(
        &self,
    ) -> impl Future<Output = Result<Vec<MailboxRecord>, BackendError>> + Send;
    /// The mailboxes `list_mailboxes` would return that pass an OPATH `-Filter`
    /// (`UserPrincipalName -like 'a*'`): one segment of a read split to run side by side.
    fn list_mailboxes_where(
        &self,
        filter: &str,
    ) -> impl Future<Output = Result<Vec<MailboxRecord>, BackendError>> + Send;
    /// One mailbox by UPN (`Get-Mailbox -Identity`), `None` when the user has none: the
    /// executor's pre-write check of a conversion reads only the mailboxes it converts.
    fn mailbox(
        &self,
        upn: &str,
    ) -> impl Future<Output = Result<Option<MailboxRecord>, BackendError>> + Send;
    /// `TotalItemSize` in bytes (`Get-MailboxStatistics`): one call per mailbox.
    fn mailbox_size(&self, upn: &str) -> impl Future<Output = Result<u64, BackendError>> + Send;
    /// `TotalItemSize` of each of `upns`, in order: `MAX_BATCH` calls per `$batch` envelope
    /// (a read of many mailboxes costs a tenth of the requests), or one call each once the
    /// service refused the envelope as unsupported. Never fewer sizes than asked for.
    fn mailbox_sizes(
        &self,
        upns: &[String],
    ) -> impl Future<Output = Result<Vec<u64>, BackendError>> + Send;
    /// Runs an operation's cmdlet (`Set-Mailbox -Type Shared|Regular`, ...) for `target`
    /// (named in errors); returns the request id.
    fn run(
        &self,
        target: &str,
        command: &ExchangeCommand,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;
}

/// `ExchangeAdmin` over the adminapi REST endpoint.
#[derive(Debug, Clone)]
pub struct RestExchange {
    core: HttpCore,
    url: String,
    /// `{exchange_host}/adminapi/beta/{tenant_id}/$batch`.
    batch_url: String,
    anchor: String,
    /// Whether `$batch` is still believed served; one refusal as unsupported turns it off for
    /// every clone for the rest of the run.
    batch_supported: Arc<AtomicBool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MailboxDto {
    external_directory_object_id: Option<String>,
    user_principal_name: Option<String>,
    recipient_type_details: String,
    #[serde(default)]
    archive_status: Option<String>,
    #[serde(default)]
    litigation_hold_enabled: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatisticsDto {
    total_item_size: Option<serde_json::Value>,
}

impl RestExchange {
    /// A client for `{exchange_host}/adminapi/beta/{tenant_id}/InvokeCommand`.
    pub fn new(core: HttpCore, exchange_host: &str, tenant_id: &str) -> RestExchange {
        let api = format!(
            "{}/adminapi/beta/{}",
            exchange_host.trim_end_matches('/'),
            crate::ids::encode_path_segment(tenant_id)
        );
        RestExchange {
            core,
            url: format!("{api}/InvokeCommand"),
            batch_url: format!("{api}/$batch"),
            anchor: format!("APP:{ANCHOR_MAILBOX}@{tenant_id}"),
            batch_supported: Arc::new(AtomicBool::new(true)),
        }
    }

    fn command(&self, cmdlet: &str, parameters: serde_json::Value) -> Request {
        Request::with_body(
            reqwest::Method::POST,
            self.url.clone(),
            serde_json::json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}),
        )
        .header("Prefer", "odata.maxpagesize=1000")
        .header("X-AnchorMailbox", self.anchor.clone())
    }

    /// `Get-Mailbox -ResultSize Unlimited` of the four kinds m365ctl manages, with `-Filter`
    /// when given, every page.
    async fn get_mailboxes(
        &self,
        filter: Option<&str>,
    ) -> Result<Vec<MailboxRecord>, BackendError> {
        let mut parameters = serde_json::json!({
            "ResultSize": "Unlimited",
            "RecipientTypeDetails": MailboxType::ALL.map(MailboxType::recipient_type_details),
        });
        if let Some(filter) = filter {
            parameters["Filter"] = serde_json::json!(filter);
        }
        let request = self.command("Get-Mailbox", parameters);
        let mut records = Vec::new();
        self.core
            .for_each_page(
                Resource::Exchange,
                request,
                EXCHANGE_PERMISSION,
                |page: Vec<MailboxDto>| {
                    records.extend(page.into_iter().filter_map(to_record));
                },
            )
            .await?;
        Ok(records)
    }
}

impl ExchangeAdmin for RestExchange {
    async fn list_mailboxes(&self) -> Result<Vec<MailboxRecord>, BackendError> {
        self.get_mailboxes(None).await
    }

    async fn list_mailboxes_where(&self, filter: &str) -> Result<Vec<MailboxRecord>, BackendError> {
        self.get_mailboxes(Some(filter)).await
    }

    async fn mailbox(&self, upn: &str) -> Result<Option<MailboxRecord>, BackendError> {
        let request = self.command("Get-Mailbox", serde_json::json!({"Identity": upn}));
        let reply = self.core.send(Resource::Exchange, &request).await?;
        if !reply.is_success() {
            // Exchange answers an unknown identity with ManagementObjectNotFoundException.
            let error = reply.error().into_backend_error(upn, EXCHANGE_PERMISSION);
            if error.refusal() == Some(&crate::backend::Refusal::NotFound) {
                return Ok(None);
            }
            return Err(error);
        }
        #[derive(serde::Deserialize)]
        struct Records {
            value: Vec<MailboxDto>,
        }
        let records: Records =
            serde_json::from_slice(&reply.body).map_err(|e| BackendError::Invalid {
                target: upn.to_string(),
                code: "InvalidResponse".into(),
                message: format!("Get-Mailbox: {e}"),
                request_id: reply.request_id.clone(),
            })?;
        Ok(records.value.into_iter().find_map(to_record))
    }

    async fn mailbox_size(&self, upn: &str) -> Result<u64, BackendError> {
        let request = self.command(
            "Get-MailboxStatistics",
            serde_json::json!({"Identity": upn}),
        );
        let mut size = None;
        self.core
            .for_each_page(
                Resource::Exchange,
                request,
                EXCHANGE_PERMISSION,
                |page: Vec<StatisticsDto>| {
                    if !page.is_empty() {
                        size = size_of(&page);
                    }
                },
            )
            .await?;
        size.ok_or_else(|| no_size(upn))
    }

    async fn mailbox_sizes(&self, upns: &[String]) -> Result<Vec<u64>, BackendError> {
        let mut sizes = Vec::with_capacity(upns.len());
        for chunk in upns.chunks(MAX_BATCH) {
            sizes.extend(self.sizes_of_envelope(chunk).await?);
        }
        Ok(sizes)
    }

    async fn run(
        &self,
        target: &str,
        command: &ExchangeCommand,
    ) -> Result<Option<String>, BackendError> {
        let request = self.command(command.cmdlet, command.parameters.clone());
        let reply = self.core.send(Resource::Exchange, &request).await?;
        if reply.is_success() {
            Ok(reply.request_id)
        } else {
            Err(reply
                .error()
                .into_backend_error(target, EXCHANGE_PERMISSION))
        }
    }
}

/// The size a page of `Get-MailboxStatistics` records reports: its first record's.
fn size_of(page: &[StatisticsDto]) -> Option<u64> {
    page.first()?.total_item_size.as_ref().and_then(parse_size)
}

/// A statistics answer without a size: an error, never a guessed size.
fn no_size(upn: &str) -> BackendError {
    BackendError::Invalid {
        target: upn.to_string(),
        code: "InvalidResponse".into(),
        message: "Get-MailboxStatistics returned no TotalItemSize".into(),
        request_id: None,
    }
}

fn to_record(dto: MailboxDto) -> Option<MailboxRecord> {
    let kind = MailboxType::from_recipient_type_details(&dto.recipient_type_details)?;
    Some(MailboxRecord {
        user_id: dto.external_directory_object_id?,
        upn: dto.user_principal_name.unwrap_or_default(),
        // A property Exchange did not send is unknown, not "off".
        mailbox: Mailbox {
            kind,
            size_bytes: None,
            archive_enabled: dto.archive_status.map(|s| s.eq_ignore_ascii_case("Active")),
            litigation_hold: dto.litigation_hold_enabled,
        },
    })
}

/// Parses `TotalItemSize`: a number of bytes, or Exchange's text form
/// `"1.234 GB (1,325,400,064 bytes)"`.
pub fn parse_size(value: &serde_json::Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let text = value.as_str()?;
    let inner = text.rsplit_once('(')?.1.split_once("bytes")?.0;
    inner.replace(',', "").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exchange_size_text() {
        let v = serde_json::json!("1.234 GB (1,325,400,064 bytes)");
        assert_eq!(parse_size(&v), Some(1_325_400_064));
        assert_eq!(parse_size(&serde_json::json!(42)), Some(42));
        assert_eq!(parse_size(&serde_json::json!("Unlimited")), None);
    }
}
