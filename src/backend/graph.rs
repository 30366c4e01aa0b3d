//! The Graph backend: reads the live tenant from Microsoft Graph + Exchange Online and carries
//! out operations with Graph writes (`$batch`, 20 per envelope) and Exchange `Set-Mailbox`.
//!
//! Read cost for N users, G licensed groups, M mailboxes: `ceil(N/999)` user pages, one SKU
//! page, `ceil(G/100)` group pages plus one member page per 999 members of each group,
//! `ceil(M/1000)` mailbox pages, and `/users/$count` once (twice when segmented). Above
//! `segments::SEGMENTED_ABOVE` users the user and mailbox pages are read in segments side by
//! side (`segments`: principal-name prefixes sized by `$batch`ed counts, 45 per prefix split),
//! at most one extra partial page per segment; group member chains run side by side too. Every request goes through the pacer, which bounds what is in flight.
//! Mailbox sizes are left unknown by `read` (one call per mailbox would cost one call per
//! user); `read_mailbox_facts` then reads exactly the mailboxes the plan's decisions depend on
//! (`plan::facts_needed`: type changes, Exchange licences going down) with one
//! `Get-MailboxStatistics` each, sent 10 to an Exchange `$batch` envelope (`exchange::batch`,
//! 8 envelopes in flight): `ceil(F/10)` requests for F facts, or F lone calls where the
//! service refuses the envelope.

use super::{BackendError, ExecReport, GraphSettings, Refusal, TenantBackend};
use crate::exchange::{ExchangeAdmin, MailboxRecord, RestExchange};
use crate::graph::{
    Authenticator, BatchItem, BatchOutcome, HttpCore, Request, Resource, RetryPolicy, ServiceError,
};
use crate::plan::Operation;
use crate::plan::ops::{
    GraphRequest, HttpMethod, Licences, OpKind, Request as OpRequest, RequestBody,
};
use crate::tenant::{
    Group, GroupLicense, LicenseAssignment, Mailbox, ServicePlan, Sku, Tenant, User,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

mod segments;

/// Properties read for every user: identity, rule attributes, licences by path.
const USER_SELECT: &str = "id,userPrincipalName,displayName,accountEnabled,usageLocation,onPremisesSyncEnabled,department,jobTitle,companyName,country,onPremisesExtensionAttributes,assignedLicenses,licenseAssignmentStates";

/// Exchange requests in flight while reading mailbox facts (`$batch` envelopes of statistics,
/// or lone calls): Exchange throttles per app.
const SIZE_CONCURRENCY: usize = 8;

/// Least-privileged application permissions, named in `Forbidden` errors.
mod permission {
    pub const READ_USERS: &str = "User.Read.All";
    pub const READ_SKUS: &str = "Organization.Read.All";
    pub const READ_GROUPS: &str = "GroupMember.Read.All";
}

/// What a segmented read kept (`GraphBackend::read_segmented`), with why the rest is re-read.
enum Segmented {
    Both(Vec<User>, Vec<MailboxRecord>),
    UsersOnly(Vec<User>, String),
    Neither(String),
}

/// Microsoft Graph + Exchange Online.
#[derive(Debug, Clone)]
pub struct GraphBackend {
    core: HttpCore,
    exchange: RestExchange,
    tenant_id: String,
    named_groups: Vec<String>,
    /// Counters a progress display reads; `None`: nobody watches.
    progress: Option<Arc<crate::progress::ReadCounters>>,
    /// Whether a large tenant's users and mailboxes are read in segments side by side.
    segmented: bool,
}

impl GraphBackend {
    /// Connects lazily: builds the HTTP client and loads credentials (secret from its
    /// environment variable, certificate from its file); no request is made yet.
    pub fn new(settings: &GraphSettings) -> Result<GraphBackend, BackendError> {
        GraphBackend::with_retry_policy(settings, RetryPolicy::default())
    }

    /// As `new`, with an explicit retry policy (tests and benchmarks shorten it).
    pub fn with_retry_policy(
        settings: &GraphSettings,
        retry: RetryPolicy,
    ) -> Result<GraphBackend, BackendError> {
        GraphBackend::with_timeout(settings, retry, Duration::from_secs(120))
    }

    /// As `with_retry_policy`, with the per-request timeout (a timed-out request is retried
    /// like a transient failure; fault tests shorten it to provoke lost answers).
    pub fn with_timeout(
        settings: &GraphSettings,
        retry: RetryPolicy,
        request_timeout: Duration,
    ) -> Result<GraphBackend, BackendError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(request_timeout)
            .user_agent(concat!("m365ctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BackendError::Transport(e.to_string()))?;
        let auth = Arc::new(Authenticator::new(settings, http.clone())?);
        let core = HttpCore::new(http, auth, retry, &settings.graph_host);
        let exchange =
            RestExchange::new(core.clone(), &settings.exchange_host, &settings.tenant_id);
        Ok(GraphBackend {
            core,
            exchange,
            tenant_id: settings.tenant_id.clone(),
            named_groups: Vec::new(),
            progress: None,
            segmented: true,
        })
    }

    /// Also reads these groups (by display name, or by object id for a GUID) even when they
    /// carry no licence, so that groups named in the config are part of the live state.
    pub fn with_groups(mut self, names: impl IntoIterator<Item = String>) -> GraphBackend {
        self.named_groups = names.into_iter().collect();
        self
    }

    /// Paces writes to `quota` (default: Microsoft's published write quota per app + tenant,
    /// `WriteQuota::MICROSOFT`).
    pub fn with_write_quota(mut self, quota: crate::graph::pacing::WriteQuota) -> GraphBackend {
        self.core = self.core.with_write_quota(quota);
        self
    }

    /// Reports the read's progress into `counters` (users n/N from `/users/$count`, groups,
    /// member pages, mailboxes, sizes) for a display on stderr.
    pub fn with_progress(mut self, counters: Arc<crate::progress::ReadCounters>) -> GraphBackend {
        self.progress = Some(counters);
        self
    }

    /// Whether users and mailboxes of a tenant above `segments::SEGMENTED_ABOVE` users are
    /// read in segments side by side (the default) or as one chain each: the benchmark and
    /// the tests compare the two on one tenant.
    pub fn with_segmented_reads(mut self, segmented: bool) -> GraphBackend {
        self.segmented = segmented;
        self
    }

    /// The counters `with_progress` set, for the display.
    pub fn progress_counters(&self) -> Option<Arc<crate::progress::ReadCounters>> {
        self.progress.clone()
    }

    /// Bumps a progress counter when someone watches.
    fn tally(&self, bump: impl FnOnce(&crate::progress::ReadCounters)) {
        if let Some(counters) = &self.progress {
            bump(counters);
        }
    }

    /// `GET /users/$count` with `ConsistencyLevel: eventual` (Microsoft Graph user-list.md,
    /// "Get only a count of users": a plain-text number). Counting is an advanced query in
    /// itself (https://learn.microsoft.com/en-us/graph/aad-advanced-queries: "Use of `$count`
    /// as a URL segment"); only the count is eventually consistent, never the objects read. It
    /// sizes the read, checks a segmented read, and is the progress total. A failure only
    /// leaves the total unknown (the read is then sequential).
    async fn count_users(&self) -> Option<u64> {
        let url = format!("{}/users/$count", self.core.graph_root());
        let request = Request::get(url).header("ConsistencyLevel", "eventual");
        let total = match self.core.send(Resource::Graph, &request).await {
            Ok(reply) if reply.is_success() => {
                let total = std::str::from_utf8(&reply.body)
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok());
                if total.is_none() {
                    tracing::debug!("/users/$count answered something else than a number");
                }
                total
            }
            Ok(reply) => {
                tracing::debug!(status = reply.status, "/users/$count refused");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "/users/$count failed");
                None
            }
        }?;
        self.tally(|p| p.set_users_total(total));
        Some(total)
    }

    /// `GET /users/$count?$filter=startswith(userPrincipalName,'…')` for each prefix, with
    /// `ConsistencyLevel: eventual` on each item (a count is an advanced query:
    /// https://learn.microsoft.com/en-us/graph/aad-advanced-queries; headers go per item:
    /// https://learn.microsoft.com/en-us/graph/json-batching), 20 per `$batch`, the envelopes
    /// side by side. A prefix Graph did not count is left out of the answer (the partition
    /// then keeps its parent whole).
    async fn count_prefixes(&self, prefixes: &[String]) -> HashMap<String, u64> {
        let root = self.core.graph_root().to_string();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in prefixes.chunks(20) {
            let items: Vec<(String, BatchItem)> = chunk
                .iter()
                .filter_map(|prefix| {
                    let filter = segments::graph_term(prefix);
                    let url = self
                        .graph_url("/users/$count", &[("$filter", &filter)])
                        .ok()?;
                    let relative = url.as_str().strip_prefix(&root)?.to_string();
                    let item = BatchItem {
                        method: reqwest::Method::GET,
                        url: relative,
                        body: None,
                        headers: vec![("ConsistencyLevel", "eventual".into())],
                    };
                    Some((prefix.clone(), item))
                })
                .collect();
            let core = self.core.clone();
            tasks.spawn(async move {
                let (prefixes, items): (Vec<String>, Vec<BatchItem>) = items.into_iter().unzip();
                let outcomes = core.batch(&items).await;
                prefixes.into_iter().zip(outcomes).collect::<Vec<_>>()
            });
        }
        let mut counts = HashMap::new();
        while let Some(joined) = tasks.join_next().await {
            for (prefix, outcome) in joined.into_iter().flatten() {
                match batch_count(&outcome) {
                    Some(n) => {
                        counts.insert(prefix, n);
                    }
                    None => tracing::debug!(
                        prefix,
                        status = outcome.status,
                        "a prefix's count was not answered"
                    ),
                }
            }
        }
        counts
    }

    /// `{graph root}{path}?{query}`, with the query values percent-encoded.
    fn graph_url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, BackendError> {
        reqwest::Url::parse_with_params(&format!("{}{path}", self.core.graph_root()), query)
            .map_err(|e| BackendError::Transport(e.to_string()))
    }

    async fn read_skus(&self) -> Result<Vec<Sku>, BackendError> {
        let url = format!("{}/subscribedSkus", self.core.graph_root());
        let mut skus = Vec::new();
        self.core
            .for_each_page(
                Resource::Graph,
                Request::get(url),
                permission::READ_SKUS,
                |page: Vec<dto::Sku>| {
                    skus.extend(page.into_iter().map(dto::Sku::into_model));
                },
            )
            .await?;
        Ok(skus)
    }

    /// Users and mailboxes: for a tenant of `total` users that `partition` splits, the user
    /// and mailbox segments side by side, each result kept only when it checks out
    /// (`read_segmented`); else, or for what does not check out, one chain of pages each.
    async fn read_users_and_mailboxes(
        &self,
        total: Option<u64>,
        partition: Option<segments::Partition>,
    ) -> Result<(Vec<User>, Vec<MailboxRecord>), BackendError> {
        let sequential = || async {
            tokio::try_join!(
                self.read_user_pages(None, None),
                self.exchange.list_mailboxes()
            )
        };
        let (Some(total), Some(partition)) = (total, partition) else {
            return sequential().await;
        };
        match self.read_segmented(total, partition).await {
            Segmented::Both(users, mailboxes) => Ok((users, mailboxes)),
            Segmented::UsersOnly(users, reason) => {
                tracing::warn!("reading mailboxes as one chain of pages instead: {reason}");
                Ok((users, self.exchange.list_mailboxes().await?))
            }
            Segmented::Neither(reason) => {
                tracing::warn!("reading users and mailboxes as one chain each instead: {reason}");
                self.tally(|p| p.reset_users());
                sequential().await
            }
        }
    }

    /// The prefixes refined from counts (one round of `$batch`ed counts per level; segment
    /// pages, seconds each at scale, would hold every round up at the pacer, so they start
    /// after), then the user and mailbox segments side by side, then the checks that make
    /// each union the whole collection. Users: no user twice, and `/users/$count` before and after equal to the
    /// users read (a user created or deleted meanwhile, or a name outside the documented
    /// characters, makes them differ). Mailboxes: Exchange has no count, so they are whole
    /// when the users are (every user's name then starts with a prefix the segments cover,
    /// and a mailbox's principal name is its user's), no mailbox came twice, and the count did
    /// not change from before the user segments to after both.
    async fn read_segmented(&self, total: u64, mut partition: segments::Partition) -> Segmented {
        while !partition.settled() {
            let counts = self.count_prefixes(&partition.to_count()).await;
            if let Err(reason) = partition.refine(|p| counts.get(p).copied()) {
                return Segmented::Neither(reason);
            }
        }
        let mut user_tasks = tokio::task::JoinSet::new();
        let mut mailbox_tasks = tokio::task::JoinSet::new();
        for segment in partition.segments() {
            self.spawn_user_segment(&mut user_tasks, segment.clone());
            self.spawn_mailbox_segment(&mut mailbox_tasks, segment);
        }
        let (users, mailboxes) = tokio::join!(
            collect_segments(
                user_tasks,
                |u: &User| u.id.clone(),
                |u| { u.user_principal_name.clone() }
            ),
            collect_segments(
                mailbox_tasks,
                |r: &MailboxRecord| r.user_id.clone(),
                |r| { r.upn.clone() }
            )
        );
        let after = self.count_users().await;
        let users = users.and_then(|users| {
            if after == Some(total) && users.len() as u64 == total {
                Ok(users)
            } else {
                Err(format!(
                    "the segments hold {} users, /users/$count said {total} before and {} after",
                    users.len(),
                    after.map_or("nothing".to_string(), |n| n.to_string())
                ))
            }
        });
        match (users, mailboxes) {
            (Ok(users), Ok(mailboxes)) => Segmented::Both(users, mailboxes),
            (Ok(users), Err(reason)) => Segmented::UsersOnly(users, reason),
            (Err(reason), _) => Segmented::Neither(reason),
        }
    }

    /// One chain of `/users` pages (`$top=999`), optionally `$filter`ed to a segment. With a
    /// segment, a user outside it is an error (the filter was not applied as asked).
    async fn read_user_pages(
        &self,
        filter: Option<String>,
        segment: Option<&segments::Segment>,
    ) -> Result<Vec<User>, BackendError> {
        let mut query = vec![("$select", USER_SELECT), ("$top", "999")];
        if let Some(filter) = &filter {
            query.push(("$filter", filter));
        }
        let url = self.graph_url("/users", &query)?;
        let mut users = Vec::new();
        let mut stray = None;
        self.core
            .for_each_page(
                Resource::Graph,
                Request::get(url.as_str()),
                permission::READ_USERS,
                |page: Vec<dto::User>| {
                    self.tally(|p| p.add_users(page.len()));
                    for user in page {
                        let user = user.into_model();
                        if segment.is_some_and(|s| !s.holds(&user.user_principal_name)) {
                            stray.get_or_insert(user.user_principal_name.clone());
                        }
                        users.push(user);
                    }
                },
            )
            .await?;
        match stray {
            Some(upn) => Err(BackendError::Invalid {
                target: url.to_string(),
                code: "InvalidResponse".into(),
                message: format!("the segment {filter:?} returned {upn:?}, which it does not hold"),
                request_id: None,
            }),
            None => Ok(users),
        }
    }

    /// Reads one user segment in `tasks`; `Err` when it fails or returns a user outside it.
    fn spawn_user_segment(
        &self,
        tasks: &mut tokio::task::JoinSet<Result<Vec<User>, String>>,
        segment: segments::Segment,
    ) {
        let backend = self.clone();
        tasks.spawn(async move {
            backend
                .read_user_pages(Some(segment.graph_filter()), Some(&segment))
                .await
                .map_err(|error| error.to_string())
        });
    }

    /// Reads one mailbox segment in `tasks`; `Err` when it fails or returns a mailbox outside
    /// it.
    fn spawn_mailbox_segment(
        &self,
        tasks: &mut tokio::task::JoinSet<Result<Vec<MailboxRecord>, String>>,
        segment: segments::Segment,
    ) {
        let exchange = self.exchange.clone();
        tasks.spawn(async move {
            let records = exchange
                .list_mailboxes_where(&segment.exchange_filter())
                .await
                .map_err(|e| e.to_string())?;
            match records.iter().find(|r| !segment.holds(&r.upn)) {
                Some(stray) => Err(format!(
                    "the segment {:?} returned {:?}, which it does not hold",
                    segment.exchange_filter(),
                    stray.upn
                )),
                None => Ok(records),
            }
        });
    }

    async fn read_groups(&self) -> Result<Vec<Group>, BackendError> {
        let select = "id,displayName,assignedLicenses";
        let licensed = self.graph_url(
            "/groups",
            &[
                ("$select", select),
                ("$filter", "assignedLicenses/$count ne 0"),
                ("$count", "true"),
                ("$top", "999"),
            ],
        )?;
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        let mut collect = |page: Vec<dto::Group>| {
            for g in page {
                let g = g.into_model();
                groups.insert(g.id.clone(), g);
            }
        };
        self.core
            .for_each_page(
                Resource::Graph,
                Request::get(licensed.as_str()).header("ConsistencyLevel", "eventual"),
                permission::READ_GROUPS,
                &mut collect,
            )
            .await?;
        for name in &self.named_groups {
            // A config key shaped like a GUID names the group by object id (`id` supports
            // `eq` in $filter on directory objects); a display name may match several groups
            // and all of them are read, so the resolver can refuse the ambiguity.
            let property = if crate::desired::is_object_id(name) {
                "id"
            } else {
                "displayName"
            };
            let filter = format!("{property} eq '{}'", name.replace('\'', "''"));
            let url = self.graph_url("/groups", &[("$select", select), ("$filter", &filter)])?;
            self.core
                .for_each_page(
                    Resource::Graph,
                    Request::get(url.as_str()),
                    permission::READ_GROUPS,
                    &mut collect,
                )
                .await?;
        }
        let mut result: Vec<Group> = groups.into_values().collect();
        self.tally(|p| p.set_groups_total(result.len()));
        self.read_members_of(&mut result).await?;
        Ok(result)
    }

    /// Every group's member chain, side by side: at most `MAX_IN_FLIGHT` chains at once, so
    /// that thousands of groups do not queue thousands of tasks at the pacer (which bounds the
    /// requests in flight across everything the read does).
    async fn read_members_of(&self, groups: &mut [Group]) -> Result<(), BackendError> {
        type Joined = Result<(usize, Result<Vec<String>, BackendError>), tokio::task::JoinError>;
        let settle = |groups: &mut [Group], joined: Joined| -> Result<(), BackendError> {
            let (i, members) = joined.map_err(|e| BackendError::Transport(e.to_string()))?;
            groups[i].members = members?;
            self.tally(|p| p.add_group());
            Ok(())
        };
        let limit = Arc::new(tokio::sync::Semaphore::new(
            crate::graph::client::MAX_IN_FLIGHT,
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..groups.len() {
            let permit = limit
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| BackendError::Transport(e.to_string()))?;
            let (backend, id) = (self.clone(), groups[i].id.clone());
            tasks.spawn(async move {
                let members = backend.read_members(&id).await;
                drop(permit);
                (i, members)
            });
            // A failed chain ends the read now, not after every other group was asked.
            while let Some(joined) = tasks.try_join_next() {
                settle(groups, joined)?;
            }
        }
        while let Some(joined) = tasks.join_next().await {
            settle(groups, joined)?;
        }
        Ok(())
    }

    /// A group's user members (ids), in pages of 999.
    async fn read_members(&self, group_id: &str) -> Result<Vec<String>, BackendError> {
        let url = self.graph_url(
            &format!(
                "/groups/{}/members/microsoft.graph.user",
                crate::ids::encode_path_segment(group_id)
            ),
            &[("$select", "id"), ("$top", "999")],
        )?;
        let mut members = Vec::new();
        self.core
            .for_each_page(
                Resource::Graph,
                Request::get(url.as_str()),
                permission::READ_GROUPS,
                |page: Vec<dto::Member>| {
                    self.tally(|p| p.add_member_page());
                    members.extend(page.into_iter().map(|m| m.id));
                },
            )
            .await?;
        Ok(members)
    }

    /// One Exchange task per input (a mailbox, or an envelope of them), at most
    /// `SIZE_CONCURRENCY` in flight (Exchange throttles per app); results are tagged with
    /// their key, in completion order.
    async fn per_mailbox<K, I, T, Fut>(
        &self,
        mailboxes: impl IntoIterator<Item = (K, I)>,
        call: impl Fn(RestExchange, I) -> Fut,
    ) -> Result<Vec<(K, T)>, BackendError>
    where
        K: Send + 'static,
        T: Send + 'static,
        Fut: Future<Output = Result<T, BackendError>> + Send + 'static,
    {
        let limit = Arc::new(tokio::sync::Semaphore::new(SIZE_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (key, input) in mailboxes {
            let (limit, work) = (limit.clone(), call(self.exchange.clone(), input));
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (key, work.await)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (key, result) = joined.map_err(|e| BackendError::Transport(e.to_string()))?;
            results.push((key, result?));
        }
        Ok(results)
    }

    /// The facts of one mailbox given its size (`Get-MailboxStatistics`): when `Get-Mailbox`
    /// left archive or hold out, `Get-Mailbox -Identity` for them. Anything still missing is
    /// an error: the planner would otherwise judge the mailbox on a guess.
    async fn mailbox_facts(
        exchange: &RestExchange,
        upn: String,
        mut mailbox: Mailbox,
        size: u64,
    ) -> Result<Mailbox, BackendError> {
        mailbox.size_bytes = Some(size);
        if mailbox.archive_enabled.is_none() || mailbox.litigation_hold.is_none() {
            let record = exchange.mailbox(&upn).await?;
            let read = record.map(|r| r.mailbox);
            mailbox.archive_enabled = read.as_ref().and_then(|m| m.archive_enabled);
            mailbox.litigation_hold = read.as_ref().and_then(|m| m.litigation_hold);
        }
        if !mailbox.facts_known() {
            return Err(BackendError::Invalid {
                target: upn,
                code: "InvalidResponse".into(),
                message: format!(
                    "Exchange did not report the mailbox's {}",
                    mailbox.unknown_facts().join(", ")
                ),
                request_id: None,
            });
        }
        Ok(mailbox)
    }

    /// The `$batch` item for `op` (`None` for Exchange operations), or why it is refused
    /// before any request: an object id that is not a GUID. Every id is also percent-encoded
    /// as a path segment, so no id can address another resource (`victim?x=1`, `../x`).
    fn batch_item(&self, op: &OpKind, request: &GraphRequest) -> Result<BatchItem, BackendError> {
        let seg = |id: &str| -> Result<String, BackendError> {
            if crate::ids::is_guid(id) {
                Ok(crate::ids::encode_path_segment(id))
            } else {
                Err(BackendError::Invalid {
                    target: op.target().to_string(),
                    code: "InvalidObjectId".into(),
                    message: format!(
                        "object id {:?} is not a GUID: refused before any request",
                        id.chars().take(80).collect::<String>()
                    ),
                    request_id: None,
                })
            }
        };
        let method = match request.method {
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let url = request.path_with(seg)?;
        let body = match &request.body {
            None => None,
            Some(RequestBody::Json(json)) => Some(json.clone()),
            Some(RequestBody::DirectoryObject(id)) => Some(serde_json::json!({
                "@odata.id": format!("{}/directoryObjects/{}", self.core.graph_root(), seg(id)?)
            })),
        };
        Ok(BatchItem {
            method,
            url,
            body,
            headers: Vec::new(),
        })
    }
}

/// Every segment's objects, or why the union is not the collection: a segment failed, or an
/// object (by `id`) came in two segments (named by `name`).
async fn collect_segments<T: Send + 'static>(
    mut tasks: tokio::task::JoinSet<Result<Vec<T>, String>>,
    id: impl Fn(&T) -> String,
    name: impl Fn(&T) -> String,
) -> Result<Vec<T>, String> {
    let mut objects = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        objects.extend(joined.map_err(|e| e.to_string())??);
    }
    let mut ids = std::collections::HashSet::with_capacity(objects.len());
    match objects.iter().find(|o| !ids.insert(id(o))) {
        Some(twice) => Err(format!("{} was read in two segments", name(twice))),
        None => Ok(objects),
    }
}

/// The number a `$count` item answered: `text/plain` outside a batch; inside one, a JSON
/// number or string, or the text base64-encoded (json-batching encodes bodies that are not
/// JSON). `None` for anything else, or a refusal.
fn batch_count(outcome: &BatchOutcome) -> Option<u64> {
    use base64::Engine as _;
    if !(200..300).contains(&outcome.status) {
        return None;
    }
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match &outcome.body {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(text) => number(text).or_else(|| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?;
            number(std::str::from_utf8(&bytes).ok()?)
        }),
        _ => None,
    }
}

fn outcome_to_result(
    outcome: BatchOutcome,
    target: &str,
    permission: &str,
) -> Result<ExecReport, BackendError> {
    if (200..300).contains(&outcome.status) {
        return Ok(ExecReport {
            request_id: outcome.request_id,
        });
    }
    let body = serde_json::to_vec(&outcome.body).unwrap_or_default();
    Err(
        ServiceError::parse(outcome.status, outcome.request_id, &body)
            .with_retry_after(outcome.retry_after)
            .into_backend_error(target, permission),
    )
}

impl GraphBackend {
    /// A retried add whose first attempt landed (the answer was lost) is refused with 400
    /// `Request_BadRequest`, the code Graph also gives other refusals, so the code cannot say
    /// the member is there: read the group, and count the add done when they are (apply
    /// stays idempotent without reading the message).
    async fn accept_members_already_added(
        &self,
        ops: &[Operation],
        results: &mut [Option<Result<ExecReport, BackendError>>],
    ) {
        let refused: Vec<usize> = (0..ops.len())
            .filter(|&i| {
                ops[i].kind.kind().retry_refusal_may_mean_done()
                    && matches!(&results[i], Some(Err(e)) if e.refusal() == Some(&Refusal::BadRequest))
            })
            .collect();
        if refused.is_empty() {
            return;
        }
        let adds: Vec<Operation> = refused.iter().map(|&i| ops[i].clone()).collect();
        if let Ok(done) = self.already_done(&adds).await {
            for (&i, done) in refused.iter().zip(done) {
                if done {
                    results[i] = Some(Ok(ExecReport::default()));
                }
            }
        }
    }

    /// Reads only what `ops` target, for the executor's pre-write check: users with
    /// `GET /users/{id}` and groups with `GET /groups/{id}` (in `$batch`es of 20), the members
    /// of groups whose membership changes, and the mailboxes converted (`Get-Mailbox
    /// -Identity`, at most `SIZE_CONCURRENCY` in flight). A target that no longer exists is
    /// left out (its operation is then "not in effect" and the write reports the real error).
    async fn read_targets(&self, ops: &[Operation]) -> Result<Tenant, BackendError> {
        let mut user_ids = std::collections::BTreeSet::new();
        let mut group_ids = std::collections::BTreeSet::new();
        let mut member_groups = std::collections::BTreeSet::new();
        let mut converted = std::collections::BTreeSet::new();
        for op in ops {
            let reads = op.kind.kind().reads();
            user_ids.extend(reads.user);
            group_ids.extend(reads.group);
            if reads.members {
                member_groups.extend(reads.group);
            }
            converted.extend(reads.mailbox);
        }
        let mut tenant = self
            .read_objects(&user_ids, &group_ids, &member_groups)
            .await?;
        let records = self
            .per_mailbox(
                converted.into_iter().map(|upn| ((), upn.to_string())),
                |exchange, upn| async move { exchange.mailbox(&upn).await },
            )
            .await?;
        for (_, record) in records {
            if let Some(record) = record
                && let Some(i) = tenant.user_position(&record.user_id)
            {
                tenant.users[i].mailbox = Some(record.mailbox);
            }
        }
        Ok(tenant)
    }

    /// Users by `GET /users/{id}` and groups by `GET /groups/{id}` (in `$batch`es of 20), and
    /// the members of `member_groups`. Objects that no longer exist are left out.
    async fn read_objects(
        &self,
        user_ids: &std::collections::BTreeSet<&str>,
        group_ids: &std::collections::BTreeSet<&str>,
        member_groups: &std::collections::BTreeSet<&str>,
    ) -> Result<Tenant, BackendError> {
        let get = |url: String| BatchItem {
            method: reqwest::Method::GET,
            url,
            body: None,
            headers: Vec::new(),
        };
        // An id that is not a GUID is not read (its write is refused before any request).
        let valid = |id: &&&str| crate::ids::is_guid(id);
        let items: Vec<BatchItem> = user_ids
            .iter()
            .filter(valid)
            .map(|id| {
                get(format!(
                    "/users/{}?$select={USER_SELECT}",
                    crate::ids::encode_path_segment(id)
                ))
            })
            .chain(group_ids.iter().filter(valid).map(|id| {
                get(format!(
                    "/groups/{}?$select=id,displayName,assignedLicenses",
                    crate::ids::encode_path_segment(id)
                ))
            }))
            .collect();
        let outcomes = self.core.batch(&items).await;
        let mut tenant = Tenant::default();
        for (item, outcome) in items.iter().zip(outcomes) {
            if outcome.status == 404 {
                continue;
            }
            let is_user = item.url.starts_with("/users/");
            if !(200..300).contains(&outcome.status) {
                let body = serde_json::to_vec(&outcome.body).unwrap_or_default();
                let permission = if is_user {
                    permission::READ_USERS
                } else {
                    permission::READ_GROUPS
                };
                return Err(
                    ServiceError::parse(outcome.status, outcome.request_id, &body)
                        .into_backend_error(&item.url, permission),
                );
            }
            let invalid = |e: serde_json::Error| BackendError::Invalid {
                target: item.url.clone(),
                code: "InvalidResponse".into(),
                message: e.to_string(),
                request_id: None,
            };
            if is_user {
                let user: dto::User = serde_json::from_value(outcome.body).map_err(invalid)?;
                tenant.users.push(user.into_model());
            } else {
                let group: dto::Group = serde_json::from_value(outcome.body).map_err(invalid)?;
                tenant.groups.push(group.into_model());
            }
        }
        let (mut with_members, rest): (Vec<Group>, Vec<Group>) = std::mem::take(&mut tenant.groups)
            .into_iter()
            .partition(|g| member_groups.contains(g.id.as_str()));
        self.read_members_of(&mut with_members).await?;
        tenant.groups = rest;
        tenant.groups.extend(with_members);
        Ok(tenant)
    }

    /// For the executor's wait after group licensing writes: the groups of `ops` with their
    /// members, then the users concerned (every member for a group licence change, the member
    /// for a membership change), with targeted reads only.
    async fn read_licensing_progress(&self, ops: &[Operation]) -> Result<Tenant, BackendError> {
        let mut groups = std::collections::BTreeSet::new();
        let mut users = std::collections::BTreeSet::new();
        for op in ops {
            match op.kind.licences() {
                Licences::Group { group_id, .. } => {
                    groups.insert(group_id);
                }
                Licences::Membership {
                    group_id, user_id, ..
                } => {
                    groups.insert(group_id);
                    users.insert(user_id);
                }
                Licences::User { .. } | Licences::Untouched => {}
            }
        }
        let mut tenant = self
            .read_objects(&std::collections::BTreeSet::new(), &groups, &groups)
            .await?;
        let whole_groups: std::collections::BTreeSet<&str> = ops
            .iter()
            .filter_map(|op| match op.kind.licences() {
                Licences::Group { group_id, .. } => Some(group_id),
                Licences::Membership { .. } | Licences::User { .. } | Licences::Untouched => None,
            })
            .collect();
        let members: Vec<String> = tenant
            .groups
            .iter()
            .filter(|g| whole_groups.contains(g.id.as_str()))
            .flat_map(|g| g.members.iter().cloned())
            .collect();
        users.extend(members.iter().map(String::as_str));
        let read = self
            .read_objects(
                &users,
                &std::collections::BTreeSet::new(),
                &std::collections::BTreeSet::new(),
            )
            .await?;
        tenant.users = read.users;
        Ok(tenant)
    }
}

impl TenantBackend for GraphBackend {
    /// Targeted reads instead of the trait's whole-tenant re-read: at 100,000 users a re-read
    /// per executor batch would cost more than the writes.
    async fn already_done(&self, ops: &[Operation]) -> Result<Vec<bool>, BackendError> {
        let live = self.read_targets(ops).await?;
        Ok(ops
            .iter()
            .map(|op| crate::tenant::done::is_in_effect(&live, &op.kind))
            .collect())
    }

    fn describe(&self) -> String {
        format!("graph {}", self.tenant_id)
    }

    /// Targeted reads (`read_licensing_progress`), not a whole-tenant read per poll.
    async fn read_group_licensing(&self, ops: &[Operation]) -> Result<Tenant, BackendError> {
        self.read_licensing_progress(ops).await
    }

    /// Everything but mailbox sizes (`read_mailbox_facts` reads those the plan needs).
    async fn read(&self) -> Result<Tenant, BackendError> {
        let users_and_mailboxes = async {
            let total = self.count_users().await;
            let partition = total
                .filter(|_| self.segmented)
                .and_then(segments::Partition::start);
            let (users, mailboxes) = self.read_users_and_mailboxes(total, partition).await?;
            self.tally(|p| p.set_mailboxes(mailboxes.len()));
            Ok::<_, BackendError>((users, mailboxes))
        };
        let (skus, groups, (mut users, mailboxes)) =
            tokio::try_join!(self.read_skus(), self.read_groups(), users_and_mailboxes)?;
        let mut by_user: HashMap<String, MailboxRecord> = mailboxes
            .into_iter()
            .map(|r| (r.user_id.clone(), r))
            .collect();
        for user in &mut users {
            user.mailbox = by_user.remove(&user.id).map(|r| r.mailbox);
        }
        let mut tenant = Tenant::new(Some(self.tenant_id.clone()), skus, users, groups);
        tenant.normalize();
        Ok(tenant)
    }

    /// One `Get-MailboxStatistics` per mailbox asked for, `exchange::MAX_BATCH` to a `$batch`
    /// envelope (one call each where the service has no `$batch`), plus `Get-Mailbox` where
    /// archive or hold is missing; at most `SIZE_CONCURRENCY` envelopes in flight.
    async fn read_mailbox_facts(
        &self,
        live: &mut Tenant,
        user_ids: &[String],
    ) -> Result<(), BackendError> {
        let wanted: Vec<(usize, String, Mailbox)> = user_ids
            .iter()
            .filter_map(|id| live.user_position(id))
            .filter_map(|i| {
                let user = &live.users[i];
                let mailbox = user.mailbox.clone()?;
                Some((i, user.user_principal_name.clone(), mailbox))
            })
            .collect();
        self.tally(|p| p.set_sizes_total(wanted.len()));
        let envelopes = wanted
            .chunks(crate::exchange::MAX_BATCH)
            .map(|chunk| ((), chunk.to_vec()));
        let progress = self.progress.clone();
        let read = self
            .per_mailbox(envelopes, |exchange, chunk| {
                let progress = progress.clone();
                async move {
                    let upns: Vec<String> = chunk.iter().map(|(_, upn, _)| upn.clone()).collect();
                    let sizes = exchange.mailbox_sizes(&upns).await?;
                    if sizes.len() != upns.len() {
                        return Err(BackendError::Transport(format!(
                            "Exchange answered {} sizes for {} mailboxes",
                            sizes.len(),
                            upns.len()
                        )));
                    }
                    let mut facts = Vec::with_capacity(chunk.len());
                    for ((i, upn, mailbox), size) in chunk.into_iter().zip(sizes) {
                        let mailbox =
                            GraphBackend::mailbox_facts(&exchange, upn, mailbox, size).await?;
                        if let Some(p) = &progress {
                            p.add_size();
                        }
                        facts.push((i, mailbox));
                    }
                    Ok(facts)
                }
            })
            .await?;
        for (i, mailbox) in read.into_iter().flat_map(|((), facts)| facts) {
            live.users[i].mailbox = Some(mailbox);
        }
        Ok(())
    }

    async fn execute(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        let mut results: Vec<Option<Result<ExecReport, BackendError>>> = vec![None; ops.len()];
        let mut items = Vec::new();
        let mut item_ops = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match op.kind.kind().request() {
                OpRequest::Graph(request) => match self.batch_item(&op.kind, &request) {
                    Err(refused) => results[i] = Some(Err(refused)),
                    Ok(item) => {
                        items.push(item);
                        item_ops.push((i, request.permission));
                    }
                },
                OpRequest::Exchange(command) => {
                    let result = self.exchange.run(op.kind.target(), &command).await;
                    results[i] = Some(result.map(|request_id| ExecReport { request_id }));
                }
            }
        }
        let outcomes = self.core.batch(&items).await;
        for ((i, permission), outcome) in item_ops.into_iter().zip(outcomes) {
            results[i] = Some(outcome_to_result(outcome, ops[i].kind.target(), permission));
        }
        self.accept_members_already_added(ops, &mut results).await;
        results
            .into_iter()
            .map(|r| r.expect("every operation has a result"))
            .collect()
    }
}

/// Graph wire shapes (v1.0 CSDL names), private to this backend.
mod dto {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Sku {
        sku_id: String,
        sku_part_number: String,
        #[serde(default)]
        applies_to: Option<String>,
        #[serde(default)]
        capability_status: Option<String>,
        #[serde(default)]
        consumed_units: u32,
        #[serde(default)]
        prepaid_units: PrepaidUnits,
        #[serde(default)]
        service_plans: Vec<ServicePlanInfo>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct PrepaidUnits {
        #[serde(default)]
        enabled: u32,
        #[serde(default)]
        warning: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ServicePlanInfo {
        service_plan_id: String,
        service_plan_name: String,
    }

    impl Sku {
        pub fn into_model(self) -> super::Sku {
            super::Sku {
                sku_id: self.sku_id,
                sku_part_number: self.sku_part_number,
                enabled: self.prepaid_units.enabled,
                warning: self.prepaid_units.warning,
                consumed: self.consumed_units,
                applies_to: self.applies_to.unwrap_or_else(|| "User".into()),
                capability_status: self.capability_status.unwrap_or_else(|| "Enabled".into()),
                service_plans: self
                    .service_plans
                    .into_iter()
                    .map(|p| ServicePlan {
                        service_plan_id: p.service_plan_id,
                        service_plan_name: p.service_plan_name,
                    })
                    .collect(),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct User {
        id: String,
        user_principal_name: String,
        display_name: Option<String>,
        account_enabled: Option<bool>,
        usage_location: Option<String>,
        on_premises_sync_enabled: Option<bool>,
        department: Option<String>,
        job_title: Option<String>,
        company_name: Option<String>,
        country: Option<String>,
        #[serde(default)]
        on_premises_extension_attributes: Option<BTreeMap<String, Option<String>>>,
        #[serde(default)]
        license_assignment_states: Vec<LicenseState>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LicenseState {
        sku_id: String,
        #[serde(default)]
        disabled_plans: Vec<String>,
        assigned_by_group: Option<String>,
        state: Option<String>,
        error: Option<String>,
    }

    impl User {
        pub fn into_model(self) -> super::User {
            let mut attributes = BTreeMap::new();
            for (key, value) in [
                ("department", self.department),
                ("jobTitle", self.job_title),
                ("companyName", self.company_name),
                ("country", self.country),
            ] {
                if let Some(v) = value {
                    attributes.insert(key.to_string(), v);
                }
            }
            for (key, value) in self.on_premises_extension_attributes.into_iter().flatten() {
                if let Some(v) = value {
                    attributes.insert(key, v);
                }
            }
            super::User {
                id: self.id,
                user_principal_name: self.user_principal_name,
                display_name: self.display_name,
                account_enabled: self.account_enabled.unwrap_or(true),
                usage_location: self.usage_location,
                on_premises_sync_enabled: self.on_premises_sync_enabled.unwrap_or(false),
                attributes: attributes.into(),
                licenses: self
                    .license_assignment_states
                    .into_iter()
                    .map(|l| LicenseAssignment {
                        sku_id: l.sku_id,
                        disabled_plans: l.disabled_plans,
                        assigned_by_group: l.assigned_by_group,
                        state: l.state.unwrap_or_else(|| "Active".into()),
                        error: l.error.filter(|e| e != "None"),
                    })
                    .collect(),
                mailbox: None,
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Group {
        id: String,
        display_name: String,
        #[serde(default)]
        assigned_licenses: Vec<AssignedLicense>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AssignedLicense {
        sku_id: String,
        #[serde(default)]
        disabled_plans: Vec<String>,
    }

    impl Group {
        pub fn into_model(self) -> super::Group {
            super::Group {
                id: self.id,
                display_name: self.display_name,
                licenses: self
                    .assigned_licenses
                    .into_iter()
                    .map(|l| GroupLicense {
                        sku_id: l.sku_id,
                        disabled_plans: l.disabled_plans,
                    })
                    .collect(),
                members: Vec::new(),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    pub struct Member {
        pub id: String,
    }
}
