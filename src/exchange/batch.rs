//! `Get-MailboxStatistics` for many mailboxes through the adminapi's JSON batch
//! (`POST /adminapi/beta/{tenant}/$batch`): ten `InvokeCommand` calls per request instead of
//! one request each.
//!
//! Microsoft does not document it; the shape is the peer tool CIPP's (`KelvinTegelaar/CIPP-API`
//! `New-ExoBulkRequest.ps1` @059a8a0f [3P], docs/graph.md "Exchange `$batch`"): at most 10
//! items, answers matched by id in any order, per-item status, `value` or `error` per body.
//! Items answered 429/5xx are sent again in a later envelope after their `Retry-After`; an item
//! error is the error a lone call gives; an item left unanswered is an error. An envelope
//! refused as unsupported (404/405/400, or an answer that is not `{"responses":[…]}`) turns
//! batching off for the rest of the run: every size is then read with its own call.

use super::{EXCHANGE_PERMISSION, RestExchange, StatisticsDto, no_size, size_of};
use crate::backend::BackendError;
use crate::graph::retry::is_retryable;
use crate::graph::{BatchOutcome, Request, Resource, ServiceError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The most `InvokeCommand` calls one envelope is known to carry (CIPP: "Split the
/// cmdletArray into batches of 10").
pub const MAX_BATCH: usize = 10;

/// The cmdlet batched.
const STATISTICS: &str = "Get-MailboxStatistics";

/// What the service made of one envelope.
enum Envelope {
    /// The endpoint is not served: read one mailbox per call instead.
    Unsupported(String),
    /// The item answers by position in the envelope's mailboxes.
    Answered(HashMap<usize, BatchOutcome>),
}

impl RestExchange {
    /// The sizes of at most `MAX_BATCH` mailboxes, in order: one envelope, then later ones
    /// for the items the service asked to retry, or lone calls once `$batch` is unsupported.
    pub(super) async fn sizes_of_envelope(
        &self,
        upns: &[String],
    ) -> Result<Vec<u64>, BackendError> {
        let policy = self.core.retry_policy();
        let start = Instant::now();
        let mut sizes: Vec<Option<u64>> = vec![None; upns.len()];
        let mut pending: Vec<usize> = (0..upns.len()).collect();
        let mut round = 0u32;
        while !pending.is_empty() {
            if !self.batch_supported.load(Ordering::Relaxed) {
                for i in pending {
                    sizes[i] = Some(super::ExchangeAdmin::mailbox_size(self, &upns[i]).await?);
                }
                break;
            }
            round += 1;
            let mut answers = match self.send_envelope(upns, &pending).await? {
                Envelope::Answered(answers) => answers,
                Envelope::Unsupported(why) => {
                    if self.batch_supported.swap(false, Ordering::Relaxed) {
                        tracing::info!(%why, "Exchange $batch unsupported: one call per mailbox");
                    }
                    continue;
                }
            };
            let mut retry = Vec::new();
            let mut longest: Option<Duration> = None;
            let mut throttled = false;
            for i in pending {
                let Some(item) = answers.remove(&i) else {
                    return Err(BackendError::Invalid {
                        target: upns[i].clone(),
                        code: "InvalidResponse".into(),
                        message: format!(
                            "the Exchange $batch answer has no entry for {STATISTICS}"
                        ),
                        request_id: None,
                    });
                };
                if is_retryable(item.status) {
                    let wait = policy.delay(round, item.retry_after);
                    if policy.allows(round, start.elapsed(), wait) {
                        throttled |= item.status == 429;
                        longest = longest.max(Some(wait));
                        retry.push(i);
                        continue;
                    }
                }
                sizes[i] = Some(self.item_size(&upns[i], item)?);
            }
            if let Some(wait) = longest {
                // One envelope is one throttling signal, as for Graph's `$batch`.
                if throttled {
                    self.core.pacer(Resource::Exchange).throttled(wait);
                }
                tracing::debug!(
                    items = retry.len(),
                    wait_ms = wait.as_millis() as u64,
                    "retrying Exchange batch items"
                );
                tokio::time::sleep(wait).await;
            }
            pending = retry;
        }
        sizes
            .into_iter()
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| BackendError::Transport("an Exchange $batch size was never read".into()))
    }

    /// Sends the `pending` mailboxes' `Get-MailboxStatistics` in one envelope, as CIPP does
    /// (outer `Prefer` with `odata.continue-on-error`, `parameter-based-routing`, each item
    /// with its own anchor and cmdlet header).
    async fn send_envelope(
        &self,
        upns: &[String],
        pending: &[usize],
    ) -> Result<Envelope, BackendError> {
        let requests: Vec<serde_json::Value> = pending
            .iter()
            .map(|&i| {
                serde_json::json!({
                    "id": item_id(i),
                    "method": "POST",
                    "url": self.url,
                    "body": {"CmdletInput": {"CmdletName": STATISTICS, "Parameters": {"Identity": upns[i]}}},
                    "headers": {
                        "X-AnchorMailbox": self.anchor,
                        "X-CmdletName": STATISTICS,
                        "Accept": "application/json; odata.metadata=minimal",
                        "Content-Type": "application/json",
                    },
                })
            })
            .collect();
        let request = Request::with_body(
            reqwest::Method::POST,
            self.batch_url.clone(),
            serde_json::json!({ "requests": requests }),
        )
        .header("Prefer", "odata.maxpagesize = 1000;odata.continue-on-error")
        .header("parameter-based-routing", "true")
        .header("X-AnchorMailbox", self.anchor.clone());
        let reply = self.core.send(Resource::Exchange, &request).await?;
        if matches!(reply.status, 400 | 404 | 405) {
            return Ok(Envelope::Unsupported(format!("HTTP {}", reply.status)));
        }
        if !reply.is_success() {
            return Err(reply
                .error()
                .into_backend_error(&self.batch_url, EXCHANGE_PERMISSION));
        }
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let Some(responses) = json["responses"].as_array() else {
            return Ok(Envelope::Unsupported(
                "the answer has no \"responses\"".into(),
            ));
        };
        let by_id: HashMap<String, usize> = pending.iter().map(|&i| (item_id(i), i)).collect();
        let mut answers = HashMap::new();
        for response in responses {
            let Some(&i) = response["id"].as_str().and_then(|id| by_id.get(id)) else {
                continue;
            };
            answers.insert(
                i,
                BatchOutcome::from_response(response, reply.request_id.as_deref()),
            );
        }
        Ok(Envelope::Answered(answers))
    }

    /// An item's size, or the error the same answer to a lone call gives.
    fn item_size(&self, upn: &str, item: BatchOutcome) -> Result<u64, BackendError> {
        let body = serde_json::to_vec(&item.body).unwrap_or_default();
        if !(200..300).contains(&item.status) {
            return Err(ServiceError::parse(item.status, item.request_id, &body)
                .with_retry_after(item.retry_after)
                .into_backend_error(&self.url, EXCHANGE_PERMISSION));
        }
        #[derive(serde::Deserialize)]
        struct Records {
            value: Vec<StatisticsDto>,
        }
        let records: Records =
            serde_json::from_slice(&body).map_err(|e| BackendError::Invalid {
                target: self.url.clone(),
                code: "InvalidResponse".into(),
                message: e.to_string(),
                request_id: item.request_id.clone(),
            })?;
        size_of(&records.value).ok_or_else(|| no_size(upn))
    }
}

/// An item's id: GUID-shaped, as CIPP's are, numbered by position.
fn item_id(position: usize) -> String {
    format!("00000000-0000-4000-8000-{position:012x}")
}
