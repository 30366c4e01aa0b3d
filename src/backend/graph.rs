//! The Graph backend: reads the live tenant from Microsoft Graph + Exchange Online and carries
//! out operations with Graph writes (`$batch`, 20 per envelope) and Exchange `Set-Mailbox`.
//!
//! Read cost for N users, G licensed groups, M mailboxes: `ceil(N/999)` user pages, one SKU
//! page, `ceil(G/100)` group pages plus one member page per 999 members of each group,
//! `ceil(M/1000)` mailbox pages. Mailbox sizes are left unknown by `read` (one call per mailbox
//! would cost one call per user); `read_mailbox_facts` then reads, with one
//! `Get-MailboxStatistics` call each (8 in flight), exactly the mailboxes the plan's decisions
//! depend on (`plan::facts_needed`: type changes, Exchange licences going down).

use super::{BackendError, ExecReport, GraphSettings, TenantBackend};
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

/// Properties read for every user: identity, rule attributes, licences by path.
const USER_SELECT: &str = "id,userPrincipalName,displayName,accountEnabled,usageLocation,onPremisesSyncEnabled,department,jobTitle,companyName,country,onPremisesExtensionAttributes,assignedLicenses,licenseAssignmentStates";

/// Concurrent `Get-MailboxStatistics` calls during a read (Exchange throttles per app).
const SIZE_CONCURRENCY: usize = 8;

/// Least-privileged application permissions, named in `Forbidden` errors.
mod permission {
    pub const READ_USERS: &str = "User.Read.All";
    pub const READ_SKUS: &str = "Organization.Read.All";
    pub const READ_GROUPS: &str = "GroupMember.Read.All";
}

/// Microsoft Graph + Exchange Online.
#[derive(Debug, Clone)]
pub struct GraphBackend {
    core: HttpCore,
    exchange: RestExchange,
    tenant_id: String,
    named_groups: Vec<String>,
    /// Counters a progress display reads; `None`: nobody watches (and `/users/$count` is
    /// not asked).
    progress: Option<Arc<crate::progress::ReadCounters>>,
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
        })
    }

    /// Also reads these groups (by display name, or by object id for a GUID) even when they
    /// carry no licence, so that groups named in the config are part of the live state.
    pub fn with_groups(mut self, names: impl IntoIterator<Item = String>) -> GraphBackend {
        self.named_groups = names.into_iter().collect();
        self
    }

    /// Reports the read's progress into `counters` (users n/N from `/users/$count`, groups,
    /// member pages, mailboxes, sizes) for a display on stderr.
    pub fn with_progress(mut self, counters: Arc<crate::progress::ReadCounters>) -> GraphBackend {
        self.progress = Some(counters);
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
    /// "Get only a count of users": a plain-text number), for the progress total. Only asked
    /// when progress is shown; a failure only leaves the total unknown.
    async fn count_users(&self) -> Result<(), BackendError> {
        if self.progress.is_none() {
            return Ok(());
        }
        let url = format!("{}/users/$count", self.core.graph_root());
        let request = Request::get(url).header("ConsistencyLevel", "eventual");
        match self.core.send(Resource::Graph, &request).await {
            Ok(reply) if reply.is_success() => {
                match std::str::from_utf8(&reply.body).map(|t| t.trim().parse::<u64>()) {
                    Ok(Ok(total)) => self.tally(|p| p.set_users_total(total)),
                    _ => tracing::debug!("/users/$count answered something else than a number"),
                }
            }
            Ok(reply) => tracing::debug!(status = reply.status, "/users/$count refused"),
            Err(e) => tracing::debug!(error = %e, "/users/$count failed"),
        }
        Ok(())
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

    async fn read_users(&self) -> Result<Vec<User>, BackendError> {
        let url = self.graph_url("/users", &[("$select", USER_SELECT), ("$top", "999")])?;
        let mut users = Vec::new();
        self.core
            .for_each_page(
                Resource::Graph,
                Request::get(url.as_str()),
                permission::READ_USERS,
                |page: Vec<dto::User>| {
                    self.tally(|p| p.add_users(page.len()));
                    users.extend(page.into_iter().map(dto::User::into_model));
                },
            )
            .await?;
        Ok(users)
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
        let mut result = Vec::with_capacity(groups.len());
        self.tally(|p| p.set_groups_total(groups.len()));
        for (_, mut group) in groups {
            group.members = self.read_members(&group.id).await?;
            self.tally(|p| p.add_group());
            result.push(group);
        }
        Ok(result)
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

    /// One Exchange call per mailbox, at most `SIZE_CONCURRENCY` in flight (Exchange
    /// throttles per app); results are tagged with their key, in completion order.
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

    /// The facts of one mailbox: `Get-MailboxStatistics` for the size and, when `Get-Mailbox`
    /// left archive or hold out, `Get-Mailbox -Identity` for them. Anything still missing is
    /// an error: the planner would otherwise judge the mailbox on a guess.
    async fn mailbox_facts(
        exchange: RestExchange,
        upn: String,
        mut mailbox: Mailbox,
    ) -> Result<Mailbox, BackendError> {
        mailbox.size_bytes = Some(exchange.mailbox_size(&upn).await?);
        if mailbox.archive_enabled.is_none() || mailbox.litigation_hold.is_none() {
            let record = exchange.mailbox(&upn).await?;
            let read = record.map(|r| r.mailbox);
            mailbox.archive_enabled = read.as_ref().and_then(|m| m.archive_enabled);
            mailbox.litigation_hold = read.as_ref().and_then(|m| m.litigation_hold);
        }
        if !mailbox.facts_known() {
            return Err(BackendError::Service {
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
                Err(BackendError::Service {
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
        Ok(BatchItem { method, url, body })
    }
}

/// The SKU a failed licence call most likely concerns, for the inherited-licence message.
fn removed_sku(op: &OpKind) -> Option<&str> {
    match op.licences() {
        Licences::User { remove, .. } => remove.first().map(|r| r.sku_part_number.as_str()),
        Licences::Group { .. } | Licences::Membership { .. } | Licences::Untouched => None,
    }
}

fn outcome_to_result(
    op: &OpKind,
    outcome: BatchOutcome,
    permission: &str,
) -> Result<ExecReport, BackendError> {
    if (200..300).contains(&outcome.status) {
        return Ok(ExecReport {
            request_id: outcome.request_id,
        });
    }
    let body = serde_json::to_vec(&outcome.body).unwrap_or_default();
    let error = ServiceError::parse(outcome.status, outcome.request_id, &body);
    // A retried add whose first attempt landed (the answer was lost) finds the member there:
    // the desired state holds, so it is a success, not a failure (apply stays idempotent).
    if matches!(op.licences(), Licences::Membership { joins: true, .. })
        && error.status == 400
        && error
            .message
            .contains("added object references already exist")
    {
        return Ok(ExecReport {
            request_id: error.request_id,
        });
    }
    Err(error.into_backend_error(op.target(), removed_sku(op), permission))
}

impl GraphBackend {
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
                        .into_backend_error(&item.url, None, permission),
                );
            }
            let invalid = |e: serde_json::Error| BackendError::Service {
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
        for group in tenant
            .groups
            .iter_mut()
            .filter(|g| member_groups.contains(g.id.as_str()))
        {
            group.members = self.read_members(&group.id).await?;
        }
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
        let mailboxes = async {
            let list = self.exchange.list_mailboxes().await;
            if let Ok(list) = &list {
                self.tally(|p| p.set_mailboxes(list.len()));
            }
            list
        };
        let (skus, users, groups, mailboxes, ()) = tokio::try_join!(
            self.read_skus(),
            self.read_users(),
            self.read_groups(),
            mailboxes,
            self.count_users()
        )?;
        let mut users = users;
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

    /// One `Get-MailboxStatistics` per mailbox asked for (plus `Get-Mailbox` where archive or
    /// hold is missing), at most `SIZE_CONCURRENCY` in flight.
    async fn read_mailbox_facts(
        &self,
        live: &mut Tenant,
        user_ids: &[String],
    ) -> Result<(), BackendError> {
        let wanted: Vec<(usize, (String, Mailbox))> = user_ids
            .iter()
            .filter_map(|id| live.user_position(id))
            .filter_map(|i| {
                let user = &live.users[i];
                let mailbox = user.mailbox.clone()?;
                Some((i, (user.user_principal_name.clone(), mailbox)))
            })
            .collect();
        self.tally(|p| p.set_sizes_total(wanted.len()));
        let progress = self.progress.clone();
        let read = self
            .per_mailbox(wanted, |exchange, (upn, mailbox)| {
                let progress = progress.clone();
                async move {
                    let facts = GraphBackend::mailbox_facts(exchange, upn, mailbox).await;
                    if let Some(p) = progress {
                        p.add_size();
                    }
                    facts
                }
            })
            .await?;
        for (i, mailbox) in read {
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
            results[i] = Some(outcome_to_result(&ops[i].kind, outcome, permission));
        }
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
