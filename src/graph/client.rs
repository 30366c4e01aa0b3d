//! The HTTP core shared by Graph and Exchange calls: bearer tokens, one refresh on 401,
//! retries on throttling and transient failures, `@odata.nextLink` paging and `$batch`.

use super::auth::{Authenticator, Resource};
use super::pacing::{Pacer, WriteBudget, WriteQuota};
use super::retry::{RetryPolicy, is_retryable, parse_retry_after};
use crate::backend::BackendError;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Graph's limit on requests per `$batch`.
pub const MAX_BATCH: usize = 20;

/// Requests in flight per service before any throttling is seen; `Pacer` lowers it on 429.
pub const MAX_IN_FLIGHT: usize = 16;

/// One HTTP request, rebuilt for each attempt.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Absolute URL.
    pub url: String,
    /// JSON body, if any.
    pub body: Option<serde_json::Value>,
    /// Extra headers (`ConsistencyLevel`, `Prefer`, `X-AnchorMailbox`).
    pub headers: Vec<(&'static str, String)>,
}

impl Request {
    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: reqwest::Method::GET,
            url: url.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    /// A request with a JSON body.
    pub fn with_body(
        method: reqwest::Method,
        url: impl Into<String>,
        body: serde_json::Value,
    ) -> Request {
        Request {
            method,
            url: url.into(),
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }
}

/// The final answer to a request after retries: any status, with its body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Graph's `request-id` header.
    pub request_id: Option<String>,
    /// `Retry-After` of the last answer (a 429 still throttled after the retries).
    pub retry_after: Option<Duration>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The service error this reply carries.
    pub fn error(&self) -> super::error::ServiceError {
        super::error::ServiceError::parse(self.status, self.request_id.clone(), &self.body)
            .with_retry_after(self.retry_after)
    }
}

/// One collection page (`value` + `@odata.nextLink`).
#[derive(Debug, serde::Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// One item of a `$batch` (URL relative to `/v1.0`).
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Relative URL, e.g. `/users/{id}/assignLicense`.
    pub url: String,
    /// JSON body, if any.
    pub body: Option<serde_json::Value>,
    /// Request headers of this item (json-batching: "headers" go per item, e.g.
    /// `ConsistencyLevel: eventual` for a count); `Content-Type` is added for a body.
    pub headers: Vec<(&'static str, String)>,
}

/// The outcome of one batch item after its own retries.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// Item status (or the envelope's, if the envelope failed).
    pub status: u16,
    /// `request-id` of the item (or envelope).
    pub request_id: Option<String>,
    /// The item's `Retry-After`, if it had one.
    pub retry_after: Option<Duration>,
    /// Item body.
    pub body: serde_json::Value,
}

impl BatchOutcome {
    /// One entry of a JSON batch's `responses` (Graph's `$batch` and the Exchange adminapi's
    /// share OData's JSON batch format): its status (500 when missing, so it is never taken
    /// for a success), its `request-id` (else the envelope's), `Retry-After` and body.
    pub fn from_response(
        response: &serde_json::Value,
        envelope_request_id: Option<&str>,
    ) -> BatchOutcome {
        let header = |name: &str| response_header(response, name);
        BatchOutcome {
            status: response["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500),
            request_id: header("request-id").or_else(|| envelope_request_id.map(str::to_string)),
            retry_after: parse_retry_after(header("retry-after").as_deref()),
            body: response["body"].clone(),
        }
    }
}

/// A header of one JSON batch `responses` entry; names are case-insensitive.
fn response_header(response: &serde_json::Value, name: &str) -> Option<String> {
    response["headers"].as_object().and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    })
}

/// Authenticated, retrying HTTP access to Graph and Exchange.
#[derive(Debug, Clone)]
pub struct HttpCore {
    http: reqwest::Client,
    auth: Arc<Authenticator>,
    retry: RetryPolicy,
    graph_root: String,
    /// Adaptive concurrency per service, shared by every clone (Graph and Exchange throttle
    /// separately).
    pacers: Arc<[Pacer; 2]>,
    /// Graph's write quota, kept client-side so writes leave at the rate it refills.
    writes: Arc<WriteBudget>,
}

impl HttpCore {
    /// Wraps a client and authenticator; `graph_host` without `/v1.0`.
    pub fn new(
        http: reqwest::Client,
        auth: Arc<Authenticator>,
        retry: RetryPolicy,
        graph_host: &str,
    ) -> HttpCore {
        HttpCore {
            http,
            auth,
            retry,
            graph_root: format!("{}/v1.0", graph_host.trim_end_matches('/')),
            pacers: Arc::new([Pacer::new(MAX_IN_FLIGHT), Pacer::new(MAX_IN_FLIGHT)]),
            writes: Arc::new(WriteBudget::new(WriteQuota::MICROSOFT)),
        }
    }

    /// Paces Graph writes to `quota` instead of Microsoft's published one (a tenant whose
    /// quota differs, a test at a scaled-down model).
    pub fn with_write_quota(mut self, quota: WriteQuota) -> HttpCore {
        self.writes = Arc::new(WriteBudget::new(quota));
        self
    }

    /// The client's write bucket.
    pub fn write_budget(&self) -> &WriteBudget {
        &self.writes
    }

    /// The pacer of one service.
    pub fn pacer(&self, resource: Resource) -> &Pacer {
        match resource {
            Resource::Graph => &self.pacers[0],
            Resource::Exchange => &self.pacers[1],
        }
    }

    /// `https://graph.microsoft.com/v1.0`.
    pub fn graph_root(&self) -> &str {
        &self.graph_root
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Sends `request`, retrying 429/5xx/network failures per policy and refreshing the
    /// token exactly once on 401. Returns the final reply whatever its status; errors only
    /// for authentication and transport failures.
    pub async fn send(&self, resource: Resource, request: &Request) -> Result<Reply, BackendError> {
        let start = Instant::now();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.auth.token(resource).await?;
            let mut builder = self
                .http
                .request(request.method.clone(), &request.url)
                .bearer_auth(token.expose());
            for (name, value) in &request.headers {
                builder = builder.header(*name, value);
            }
            if let Some(body) = &request.body {
                builder = builder.json(body);
            }
            let slot = self.pacer(resource).acquire().await;
            let outcome = builder.send().await;
            let (wait_hint, failure) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let header = |n: &str| {
                        response
                            .headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let request_id = header("request-id").or_else(|| header("client-request-id"));
                    let retry_after = parse_retry_after(header("retry-after").as_deref());
                    if status == 429 {
                        let wait = self.retry.delay(attempt, retry_after);
                        self.pacer(resource).throttled(wait);
                    } else {
                        self.pacer(resource).answered();
                    }
                    tracing::trace!(method = %request.method, url = %request.url, status, attempt, "response");
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| BackendError::Transport(format!("{}: {e}", request.url)))?
                        .to_vec();
                    let reply = Reply {
                        status,
                        request_id,
                        retry_after,
                        body,
                    };
                    if status == 401 && !refreshed {
                        refreshed = true;
                        attempt -= 1;
                        tracing::debug!(url = %request.url, "401: refreshing the access token once");
                        self.auth.invalidate(resource, &token).await;
                        continue;
                    }
                    if !is_retryable(status) {
                        return Ok(reply);
                    }
                    (retry_after, Ok(reply))
                }
                Err(e) => (
                    None,
                    Err(BackendError::Transport(format!("{}: {e}", request.url))),
                ),
            };
            let wait = self.retry.delay(attempt, wait_hint);
            if !self.retry.allows(attempt, start.elapsed(), wait) {
                return failure;
            }
            drop(slot);
            tracing::debug!(url = %request.url, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Follows `@odata.nextLink` from `request`, handing each page's items to `on_page` as it
    /// arrives (pages are parsed one at a time; no raw JSON is kept). Exchange pages are
    /// fetched by POSTing the same body to the next link, as the adminapi expects.
    pub async fn for_each_page<T: DeserializeOwned>(
        &self,
        resource: Resource,
        mut request: Request,
        permission: &str,
        mut on_page: impl FnMut(Vec<T>),
    ) -> Result<(), BackendError> {
        loop {
            let reply = self.send(resource, &request).await?;
            if !reply.is_success() {
                return Err(reply.error().into_backend_error(&request.url, permission));
            }
            let page: Page<T> =
                serde_json::from_slice(&reply.body).map_err(|e| BackendError::Invalid {
                    target: request.url.clone(),
                    code: "InvalidResponse".into(),
                    message: e.to_string(),
                    request_id: reply.request_id.clone(),
                })?;
            on_page(page.value);
            match page.next_link {
                Some(next) => request.url = next,
                None => return Ok(()),
            }
        }
    }

    /// Runs independent Graph requests through `$batch`, 20 per envelope, retrying each
    /// throttled or transient item on its own (after the longest `Retry-After` of the round).
    /// Outcomes are returned in the order of `items`.
    pub async fn batch(&self, items: &[BatchItem]) -> Vec<BatchOutcome> {
        let mut outcomes: Vec<Option<BatchOutcome>> = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let start = Instant::now();
        let mut round = 0u32;
        while !pending.is_empty() {
            round += 1;
            let mut retry: Vec<usize> = Vec::new();
            let mut longest: Option<Duration> = None;
            for chunk in pending.chunks(MAX_BATCH) {
                for (index, outcome, after) in self.batch_round(items, chunk).await {
                    let wait = self.retry.delay(round, after);
                    if is_retryable(outcome.status)
                        && self.retry.allows(round, start.elapsed(), wait)
                    {
                        longest = longest.max(Some(wait));
                        retry.push(index);
                    }
                    outcomes[index] = Some(outcome);
                }
            }
            if !retry.is_empty() {
                let wait = longest.unwrap_or_default();
                tracing::debug!(
                    items = retry.len(),
                    wait_ms = wait.as_millis() as u64,
                    "retrying batch items"
                );
                tokio::time::sleep(wait).await;
            }
            pending = retry;
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every batch item has an outcome"))
            .collect()
    }

    /// Sends one envelope; returns (item index, outcome, item Retry-After).
    async fn batch_round(
        &self,
        items: &[BatchItem],
        chunk: &[usize],
    ) -> Vec<(usize, BatchOutcome, Option<Duration>)> {
        let requests: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&i| {
                let item = &items[i];
                let mut r = serde_json::json!({"id": i.to_string(), "method": item.method.as_str(), "url": item.url});
                let mut headers: serde_json::Map<String, serde_json::Value> = item
                    .headers
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone().into()))
                    .collect();
                if let Some(body) = &item.body {
                    r["body"] = body.clone();
                    headers.insert("Content-Type".into(), "application/json".into());
                }
                if !headers.is_empty() {
                    r["headers"] = headers.into();
                }
                r
            })
            .collect();
        let request = Request::with_body(
            reqwest::Method::POST,
            format!("{}/$batch", self.graph_root),
            serde_json::json!({ "requests": requests }),
        );
        let envelope_failure =
            |status: u16, request_id: Option<String>, body: serde_json::Value| {
                chunk
                    .iter()
                    .map(|&i| {
                        let outcome = BatchOutcome {
                            status,
                            request_id: request_id.clone(),
                            retry_after: None,
                            body: body.clone(),
                        };
                        (i, outcome, None)
                    })
                    .collect::<Vec<_>>()
            };
        // Each write item counts against the write quota on its own (json-batching).
        let writes = chunk
            .iter()
            .filter(|&&i| items[i].method != reqwest::Method::GET)
            .count();
        self.writes.take(writes).await;
        let reply = match self.send(Resource::Graph, &request).await {
            Ok(reply) => reply,
            Err(e) => {
                let body =
                    serde_json::json!({"error": {"code": "Transport", "message": e.to_string()}});
                return envelope_failure(599, None, body);
            }
        };
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        if !reply.is_success() {
            return envelope_failure(reply.status, reply.request_id, json);
        }
        let mut found = Vec::new();
        // The longest wait any throttled item was told, and whether one named the write quota.
        let mut throttled: Option<(Duration, bool)> = None;
        for response in json["responses"].as_array().into_iter().flatten() {
            let Some(index) = response["id"]
                .as_str()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            if !chunk.contains(&index) {
                continue;
            }
            let outcome = BatchOutcome::from_response(response, reply.request_id.as_deref());
            let after = outcome.retry_after;
            if outcome.status == 429 {
                let wait = self.retry.delay(1, after);
                let write_limit = response_header(response, "x-ms-throttle-information")
                    .is_some_and(|i| i.eq_ignore_ascii_case("WriteLimitExceeded"));
                let (longest, writes) = throttled.unwrap_or_default();
                throttled = Some((longest.max(wait), writes || write_limit));
            }
            found.push((index, outcome, after));
        }
        // Each item counts against Graph's limits, so throttled items slow everyone; one
        // envelope is one signal (halving once per throttled item would collapse the limit).
        if let Some((wait, write_limit)) = throttled {
            self.pacer(Resource::Graph).throttled(wait);
            if write_limit {
                self.writes.exhausted();
            }
        }
        for &i in chunk {
            if !found.iter().any(|(j, _, _)| *j == i) {
                let body = serde_json::json!({"error": {"code": "MissingResponse", "message": "the $batch response has no entry for this request"}});
                found.push((
                    i,
                    BatchOutcome {
                        status: 502,
                        request_id: reply.request_id.clone(),
                        retry_after: None,
                        body,
                    },
                    None,
                ));
            }
        }
        found
    }
}
