//! Request handling of the fake: the one HTTP handler (dispatch, throttling and faults,
//! logging, Graph's response headers and error bodies), Graph v1.0 reads and writes, and the
//! safety checks after every write. The token endpoint is in `token`, `$batch` in `batch`,
//! Exchange's `InvokeCommand` in `exchange`.

use super::faults::Fault;
use super::query::{self, CollectionQuery, Projection, QueryError};
use super::throttle::{self, Throttled};
use super::{
    LoggedRequest, Shared, State, batch, exchange, exchange_batch, token, upn_prefix, wire,
};
use crate::plan::ops::{AssignGroupLicenses, AssignLicenses, SetUsageLocation};
use crate::plan::ops::{Licences, LicenseGrant, LicenseRemoval, OpKind};
use crate::rules::invariants::Observed;
use crate::rules::writes::{GRAPH_BAD_REQUEST, GRAPH_NOT_FOUND};
use crate::tenant::{RuleViolation, Tenant};
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::time::Instant;

/// An answer before it becomes HTTP.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) retry_after: Option<u64>,
    pub(super) body: Body,
    /// Extra response headers (throttling diagnostics).
    pub(super) headers: Vec<(&'static str, String)>,
    /// Objects in the answer: latency grows with page size.
    pub(super) items: usize,
}

/// What an answer carries.
#[derive(Debug, Clone)]
pub(super) enum Body {
    /// No body (`204 No Content` and the like).
    Empty,
    /// A JSON value; an `error` object gets Graph's `innerError` on the way out.
    Json(Value),
    /// JSON already serialised: large pages are written straight from the model (`page_with`).
    Serialized(Vec<u8>),
    /// `text/plain` (`/$count`).
    Text(String),
}

impl Answer {
    pub(super) fn new(status: u16, body: Body) -> Answer {
        Answer {
            status,
            retry_after: None,
            body,
            headers: Vec::new(),
            items: 0,
        }
    }
    pub(super) fn ok(body: Value) -> Answer {
        Answer::new(200, Body::Json(body))
    }
    pub(super) fn error(status: u16, code: &str, message: impl Into<String>) -> Answer {
        Answer::new(
            status,
            Body::Json(json!({"error": {"code": code, "message": message.into()}})),
        )
    }
    /// The Exchange admin API's error shape: a 400 with the cmdlet's message in `details`
    /// (research graph-api.md §5.2). The fake names no exception type where it does not know
    /// the one Exchange uses; clients then know only that the cmdlet refused.
    pub(super) fn exchange_error(message: &str) -> Answer {
        Answer::new(
            400,
            Body::Json(
                json!({"error": {"code": "BadRequest", "message": "Invalid Operation", "details": [{"code": "Client", "message": message}]}}),
            ),
        )
    }
    /// Exchange's answer for an identity it cannot find: the exception type
    /// `ManagementObjectNotFoundException` in `details[0].message` (`Ex…|type|message`) and
    /// in `innererror.internalexception.type` (research graph-api.md §5.2, [3P] captured
    /// adminapi answers).
    pub(super) fn exchange_not_found(message: &str) -> Answer {
        let kind = crate::rules::writes::EXCHANGE_NOT_FOUND;
        Answer::new(
            400,
            Body::Json(json!({"error": {
                "code": "BadRequest",
                "message": "Invalid Operation",
                "details": [{"code": "Client", "message": format!("Ex6F9304|{kind}|{message}")}],
                "innererror": {"internalexception": {"type": kind, "message": message}},
            }})),
        )
    }
    fn query(error: QueryError) -> Answer {
        Answer::error(error.status, error.code, error.message)
    }
    /// A 429 of the throttling model, with the diagnostic headers Graph sends
    /// (https://learn.microsoft.com/en-us/graph/throttling-limits, "Identity and access
    /// service limits").
    pub(super) fn throttled(refusal: Throttled, scope_ids: &str) -> Answer {
        let mut answer = Answer::fault(Fault::Throttled(refusal.retry_after_secs));
        answer.headers = vec![
            (
                "x-ms-throttle-scope",
                format!("{}/{scope_ids}", refusal.limit.scope()),
            ),
            (
                "x-ms-throttle-information",
                refusal.limit.information().to_string(),
            ),
        ];
        answer
    }
    pub(super) fn fault(fault: Fault) -> Answer {
        match fault {
            Fault::Throttled(secs) => Answer {
                retry_after: Some(secs),
                ..Answer::error(429, "TooManyRequests", "Please retry again later.")
            },
            Fault::Transient(status) => Answer::error(
                status,
                "UnknownError",
                "The service is temporarily unavailable.",
            ),
        }
    }
}

/// One parsed request, shared by top-level requests and `$batch` items.
pub(super) struct Call<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    pub(super) query: Vec<(String, String)>,
    pub(super) header: &'a dyn Fn(&str) -> Option<String>,
    pub(super) body: &'a [u8],
}

impl Call<'_> {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(self.body).unwrap_or(Value::Null)
    }
    fn eventual(&self) -> bool {
        (self.header)("consistencylevel").is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
    }
}

/// The single axum handler: the fake dispatches paths itself (Graph paths contain `$`).
pub async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = parse_query(uri.query());
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut logged_path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    if path.ends_with("/InvokeCommand") {
        // Exchange calls share one URL: log which cmdlet and identity each one was.
        let input = &serde_json::from_slice::<Value>(&body).unwrap_or_default()["CmdletInput"];
        let cmdlet = input["CmdletName"].as_str().unwrap_or_default();
        let identity = input["Parameters"]["Identity"].as_str().unwrap_or_default();
        logged_path = format!("{logged_path}#{cmdlet}:{identity}");
        if let Some(filter) = input["Parameters"]["Filter"].as_str() {
            logged_path = format!("{logged_path}?Filter={filter}");
        }
    }
    let (answer, request_id, lose_answer) = {
        let mut state = shared.lock();
        let answer = if path == "/_github/oidc" {
            token::github_oidc(&shared, &query, header("authorization"))
        } else if path.ends_with("/oauth2/v2.0/devicecode") {
            super::device_code::device_authorization(&shared, &mut state, body.as_ref())
        } else if path.ends_with("/oauth2/v2.0/token") {
            state.token_requests += 1;
            token::token(&shared, &mut state, &path, body.as_ref())
        } else {
            let call = Call {
                method: method.as_str(),
                path: &path,
                query: query.clone(),
                header: &header,
                body: body.as_ref(),
            };
            api(&shared, &mut state, &call)
        };
        let request_id = next_request_id(&mut state);
        state.answered(&logged_path);
        state.log.push(LoggedRequest {
            method: method.to_string(),
            path: logged_path,
            status: answer.status,
            at: shared.started.elapsed(),
            retry_after: answer.retry_after,
        });
        let lose_answer = method != Method::GET
            && (200..300).contains(&answer.status)
            && !path.ends_with("/oauth2/v2.0/token")
            && shared.options.lost_answer_rate > 0.0
            && rand::RngExt::random::<f64>(&mut state.lost_answers)
                < shared.options.lost_answer_rate;
        (answer, request_id, lose_answer)
    };
    let latency = shared.options.latency + shared.options.latency_per_item * answer.items as u32;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if lose_answer {
        tokio::time::sleep(shared.options.lost_answer_delay).await;
    }
    let client_request_id = header("client-request-id").unwrap_or_else(|| request_id.clone());
    respond(
        answer,
        &request_id,
        &client_request_id,
        shared.options.garble_error_messages,
    )
}

/// Completes an error body as Graph sends it: `innerError` gets the ids and the real UTC time
/// of the answer beside any code it has (https://learn.microsoft.com/en-us/graph/errors).
/// With `garble`, every human message is replaced by other words, keeping codes and
/// Exchange's exception types: clients must classify errors without reading the text.
pub(super) fn complete_error(
    body: &mut Value,
    request_id: &str,
    client_request_id: &str,
    garble: bool,
) {
    let Some(error) = body.get_mut("error").filter(|e| e.is_object()) else {
        return;
    };
    let mut inner = error["innerError"].take();
    if !inner.is_object() {
        inner = json!({});
    }
    inner["date"] = json!(utc_now());
    inner["request-id"] = json!(request_id);
    inner["client-request-id"] = json!(client_request_id);
    error["innerError"] = inner;
    if garble {
        garble_messages(error);
    }
}

/// Words that say nothing any client could match on.
const GARBLED: &str = "Lorem ipsum dolor sit amet.";

fn garble_messages(error: &mut Value) {
    if error["message"].is_string() {
        error["message"] = json!(GARBLED);
    }
    if let Some(details) = error["details"].as_array_mut() {
        for detail in details {
            if let Some(message) = detail["message"].as_str() {
                // Keep Exchange's `Ex…|type|` prefix: the type is a code, not prose.
                let kept = match message.rsplit_once('|') {
                    Some((prefix, _)) => format!("{prefix}|{GARBLED}"),
                    None => GARBLED.to_string(),
                };
                detail["message"] = json!(kept);
            }
        }
    }
    let internal = &mut error["innererror"]["internalexception"];
    if internal.is_object() {
        internal["message"] = json!(GARBLED);
    }
}

/// Now as Graph writes `innerError.date`: `2026-01-01T12:34:56`, UTC (RFC 3339 without the
/// zone letter; the date arithmetic is `dates::rfc3339`, the journal's).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut now = m365ctl_core::dates::rfc3339(secs);
    now.pop(); // the trailing `Z`
    now
}

/// Graph's JSON content type.
pub(super) const JSON_CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

fn respond(answer: Answer, request_id: &str, client_request_id: &str, garble: bool) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let json_type = [(axum::http::header::CONTENT_TYPE, JSON_CONTENT_TYPE)];
    let mut response = match answer.body {
        Body::Serialized(bytes) => (status, json_type, bytes).into_response(),
        Body::Json(mut body) => {
            complete_error(&mut body, request_id, client_request_id, garble);
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            (status, json_type, bytes).into_response()
        }
        Body::Text(text) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            text,
        )
            .into_response(),
        Body::Empty => status.into_response(),
    };
    let headers = response.headers_mut();
    if let Ok(v) = request_id.parse() {
        headers.insert("request-id", v);
    }
    if let Ok(v) = client_request_id.parse() {
        headers.insert("client-request-id", v);
    }
    for (name, value) in answer.headers {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    }
    if let Some(secs) = answer.retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        headers.insert("retry-after", v);
    }
    response
}

pub(super) fn next_request_id(state: &mut State) -> String {
    state.next_id += 1;
    format!("00000000-0000-4000-a000-{:012x}", state.next_id)
}

/// Decodes a query string or an `application/x-www-form-urlencoded` body into its pairs, in
/// order (`+` is a space, `%XX` a byte, invalid UTF-8 replaced).
pub(super) fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Percent-decodes one path segment (`ann%40contoso.com`); `+` stays a `+` in paths.
fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// What a query name or value in a `nextLink` keeps literal: RFC 3986's unreserved
/// characters plus `$`, `,` and `/`, as Graph writes `$select=id,displayName`.
const QUERY_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b',')
    .remove(b'/');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_PART).to_string()
}

// ---------------------------------------------------------------- API surface

fn api(shared: &Shared, state: &mut State, call: &Call<'_>) -> Answer {
    process_due_group_licensing(state);
    let (audience, rest) = if let Some(rest) = call.path.strip_prefix("/v1.0") {
        (shared.graph_audience(), rest)
    } else if let Some(rest) = call.path.strip_prefix("/exo") {
        (shared.exchange_audience(), rest)
    } else {
        return Answer::error(404, GRAPH_NOT_FOUND, format!("no such path {}", call.path));
    };
    if let Some(refusal) = check_token(state, call, &audience) {
        return refusal;
    }
    let is_exchange = audience == shared.exchange_audience();
    let is_batch = !is_exchange && rest == "/$batch" && call.method == "POST";
    // `$batch` items are charged one by one (json-batching: "Requests in a batch are
    // evaluated individually against the applicable throttling limits").
    if is_batch {
        return batch::batch(shared, state, call);
    }
    // The adminapi's batch likewise (CIPP's New-ExoBulkRequest, research in docs/graph.md);
    // `exchange_batch: false` serves it as an unknown endpoint.
    if is_exchange
        && shared.options.exchange_batch
        && call.method == "POST"
        && rest == format!("/adminapi/beta/{}/$batch", shared.tenant_id)
    {
        return exchange_batch::batch(shared, state, call);
    }
    let usage = match charge(shared, state, call, rest, is_exchange) {
        Ok(usage) => usage,
        Err(refusal) => return refusal,
    };
    let mut answer = if is_exchange {
        exchange::invoke(shared, state, call, rest)
    } else {
        graph(shared, state, call, rest)
    };
    answer.headers.extend(usage);
    answer
}

/// Charges `call` to the throttle budget, the throttling model and the fault schedule, in
/// that order. Served: the usage headers Graph adds (`x-ms-resource-unit`, and
/// `x-ms-throttle-limit-percentage` above 80 % of the bucket); refused: the 429 or transient
/// failure to answer instead.
pub(super) fn charge(
    shared: &Shared,
    state: &mut State,
    call: &Call<'_>,
    rest: &str,
    is_exchange: bool,
) -> Result<Vec<(&'static str, String)>, Answer> {
    if let Some(secs) = state.throttle.as_mut().and_then(|t| t.take()) {
        return Err(Answer::fault(Fault::Throttled(secs)));
    }
    let mut usage = Vec::new();
    if let Some(budgets) = state.budgets.as_mut() {
        let now = Instant::now();
        let charged = if is_exchange {
            budgets.charge_exchange(now)
        } else {
            let cost = throttle::graph_cost(call.method, rest, &call.query);
            usage.push(("x-ms-resource-unit", cost.units.to_string()));
            budgets.charge_graph(cost, now)
        };
        if let Err(refusal) = charged {
            let ids = format!("{}/{}", shared.options.client_id, shared.tenant_id);
            return Err(Answer::throttled(refusal, &ids));
        }
        if let Some(share) = budgets.limit_percentage().filter(|_| !is_exchange) {
            usage.push(("x-ms-throttle-limit-percentage", format!("{share:.1}")));
        }
    }
    match state.faults.next_fault() {
        Some(fault) => Err(Answer::fault(fault)),
        None => Ok(usage),
    }
}

fn check_token(state: &State, call: &Call<'_>, audience: &str) -> Option<Answer> {
    let invalid = |message: &str| Some(Answer::error(401, "InvalidAuthenticationToken", message));
    let Some(bearer) = (call.header)("authorization") else {
        return invalid("Access token is empty.");
    };
    let Some(token) = bearer.strip_prefix("Bearer ") else {
        return invalid("Access token is empty.");
    };
    let Some(issued) = state.tokens.get(token) else {
        return invalid("Invalid JWT token. The token is not in JWS format.");
    };
    if state.reject_tokens {
        return invalid("Access token validation failure. Invalid audience.");
    }
    if Instant::now() >= issued.expires {
        return invalid("Lifetime validation failed, the token is expired.");
    }
    if issued.audience != audience {
        return invalid("Access token validation failure. Invalid audience.");
    }
    None
}

pub(super) fn graph(shared: &Shared, state: &mut State, call: &Call<'_>, rest: &str) -> Answer {
    let decoded: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let context = |fragment: &str| format!("{}/v1.0/$metadata#{fragment}", shared.base);
    match (call.method, segments.as_slice()) {
        ("GET", ["subscribedSkus"]) => {
            let skus: Vec<Value> = state
                .tenant
                .skus
                .iter()
                .map(|s| wire::sku(s, &shared.tenant_id, &shared.account_name))
                .collect();
            Answer::ok(json!({"@odata.context": context("subscribedSkus"), "value": skus}))
        }
        // Get subscribedSku by `{tenantId}_{skuId}`
        // (https://learn.microsoft.com/en-us/graph/api/subscribedsku-get).
        ("GET", ["subscribedSkus", id]) => {
            let found = id
                .strip_prefix(shared.tenant_id.as_str())
                .and_then(|rest| rest.strip_prefix('_'))
                .and_then(|sku_id| state.tenant.sku(sku_id));
            match found {
                Some(sku) => {
                    let mut body = wire::sku(sku, &shared.tenant_id, &shared.account_name);
                    body["@odata.context"] = json!(context("subscribedSkus/$entity"));
                    Answer::ok(body)
                }
                None => not_found(id),
            }
        }
        ("GET", ["users"]) => list_users(shared, state, call),
        ("GET", ["users", "$count"]) => count_users(call, state),
        ("GET", ["groups"]) => list_groups(shared, state, call),
        ("GET", ["groups", "$count"]) => count(call, &query::GROUP, &state.tenant.groups),
        ("GET", ["users", key]) => {
            let Some(u) = find_user(&state.tenant, key) else {
                return not_found(key);
            };
            match Projection::parse(&query::USER, call.param("$select"), false) {
                Ok(projection) => {
                    let mut body = serde_json::to_value(wire::UserView {
                        user: u,
                        projection: &projection,
                    })
                    .unwrap_or_default();
                    body["@odata.context"] =
                        json!(context(&format!("{}/$entity", projection.context("users"))));
                    Answer::ok(body)
                }
                Err(e) => Answer::query(e),
            }
        }
        // Application permissions are not supported for licenseDetails (permissions table of
        // https://learn.microsoft.com/en-us/graph/api/user-list-licensedetails): every token
        // of this fake is app-only.
        ("GET", ["users", key, "licenseDetails"]) => match find_user(&state.tenant, key) {
            Some(_) => Answer::error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            None => not_found(key),
        },
        ("GET", ["groups", id]) => {
            let Some(g) = state.tenant.group(id) else {
                return not_found(id);
            };
            match Projection::parse(&query::GROUP, call.param("$select"), false) {
                Ok(projection) => {
                    let mut body = with_processing_state(state, id, wire::group(g, &projection));
                    body["@odata.context"] = json!(context(&format!(
                        "{}/$entity",
                        projection.context("groups")
                    )));
                    Answer::ok(body)
                }
                Err(e) => Answer::query(e),
            }
        }
        ("GET", ["groups", id, "members", "$count"])
        | (
            "GET",
            [
                "groups",
                id,
                "members",
                "microsoft.graph.user" | "graph.user",
                "$count",
            ],
        ) => count_members(call, state, id),
        ("GET", ["groups", id, "members"]) => list_members(shared, state, call, id, false),
        // The type cast, by namespace or by the CSDL alias `graph` (the SDKs send the alias).
        (
            "GET",
            [
                "groups",
                id,
                "members",
                "microsoft.graph.user" | "graph.user",
            ],
        ) => list_members(shared, state, call, id, true),
        ("POST", ["users", key, "assignLicense"]) => {
            let Some(id) = find_user(&state.tenant, key).map(|u| u.id.clone()) else {
                return not_found(key);
            };
            match licence_lists(state, call) {
                Ok((add, remove)) => {
                    let upn = state
                        .tenant
                        .user(&id)
                        .map(|u| u.user_principal_name.clone())
                        .unwrap_or_default();
                    let op = OpKind::AssignLicenses(AssignLicenses {
                        user_id: id,
                        upn,
                        add,
                        remove,
                    });
                    write(shared, state, &op, 200)
                }
                Err(answer) => answer,
            }
        }
        ("POST", ["groups", id, "assignLicense"]) => match licence_lists(state, call) {
            Ok((add, remove)) => {
                let group = state
                    .tenant
                    .group(id)
                    .map(|g| g.display_name.clone())
                    .unwrap_or_default();
                let op = OpKind::AssignGroupLicenses(AssignGroupLicenses {
                    group_id: id.to_string(),
                    group,
                    add,
                    remove,
                });
                write(shared, state, &op, 202)
            }
            Err(answer) => answer,
        },
        ("PATCH", ["users", key]) => {
            let Some(user) = find_user(&state.tenant, key) else {
                return not_found(key);
            };
            let body = call.json();
            // accountEnabled: "true if the account is enabled; otherwise, false" (user
            // resource, Edm.Boolean); updating it needs User.EnableDisableAccount.All.
            if let Some(enabled) = body.get("accountEnabled") {
                let Some(enabled) = enabled.as_bool() else {
                    return Answer::error(
                        400,
                        "Request_BadRequest",
                        "Invalid value specified for property 'accountEnabled' of resource 'User'.",
                    );
                };
                // Graph's behaviour, not one of m365ctl's operation kinds: the fake accepts the
                // attribute whoever sends it. No licence or mailbox invariant depends on it.
                let id = user.id.clone();
                if let Some(i) = state.tenant.user_position(&id) {
                    state.tenant.users[i].account_enabled = enabled;
                }
                return Answer::new(204, Body::Empty);
            }
            let Some(location) = body["usageLocation"].as_str() else {
                return Answer::error(
                    400,
                    GRAPH_BAD_REQUEST,
                    "This fake only updates usageLocation and accountEnabled.",
                );
            };
            // usageLocation is "a two-letter country code (ISO standard 3166)" (user resource).
            if !crate::desired::countries::is_valid(location) {
                return violation_answer(
                    &state.tenant,
                    &RuleViolation::BadUsageLocationValue(location.to_string()),
                );
            }
            let op = OpKind::SetUsageLocation(SetUsageLocation {
                user_id: user.id.clone(),
                upn: user.user_principal_name.clone(),
                from: user.usage_location.clone(),
                to: location.to_string(),
            });
            write(shared, state, &op, 204)
        }
        ("POST", ["groups", id, "members", "$ref"]) => {
            let body = call.json();
            let Some(user_id) = body["@odata.id"]
                .as_str()
                .and_then(|s| s.rsplit('/').next())
            else {
                return Answer::error(400, GRAPH_BAD_REQUEST, "Invalid object identifier ''.");
            };
            let op = membership(state, id, user_id, true);
            write(shared, state, &op, 204)
        }
        ("DELETE", ["groups", id, "members", user_id, "$ref"]) => {
            let op = membership(state, id, user_id, false);
            write(shared, state, &op, 204)
        }
        _ => Answer::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{rest}'."),
        ),
    }
}

/// `/users/{id | userPrincipalName}` (user-get: "{id | userPrincipalName}"), UPNs compared
/// case-insensitively.
fn find_user<'a>(tenant: &'a Tenant, key: &str) -> Option<&'a crate::tenant::User> {
    tenant
        .user(key)
        .or_else(|| key.contains('@').then(|| tenant.user_by_upn(key)).flatten())
}

/// `/users/$count`, `/groups/$count`: `text/plain`, only with `ConsistencyLevel: eventual`,
/// `$filter` and `$search` honoured. Without the header Graph answers 400 `Request_BadRequest`
/// "$count is not currently supported." (aad-advanced-queries, "Error handling for advanced
/// queries on directory objects": https://learn.microsoft.com/en-us/graph/aad-advanced-queries).
fn count<'a, T: query::Filterable + 'a>(
    call: &Call<'_>,
    entity: &query::EntityType,
    items: impl IntoIterator<Item = &'a T>,
) -> Answer {
    count_by(call, entity, |query| query.apply(items).len())
}

/// `count` with the counting left to `counted` (a scan, or an index's range).
fn count_by(
    call: &Call<'_>,
    entity: &query::EntityType,
    counted: impl FnOnce(&CollectionQuery) -> usize,
) -> Answer {
    if !call.eventual() {
        return Answer::error(
            400,
            "Request_BadRequest",
            "$count is not currently supported.",
        );
    }
    // A raw count is an advanced query in itself: as if `$count=true` were given.
    let mut options = call.query.clone();
    options.push(("$count".into(), "true".into()));
    match CollectionQuery::parse(entity, &options, true) {
        Ok(query) => Answer::new(200, Body::Text(counted(&query).to_string())),
        Err(e) => Answer::query(e),
    }
}

/// `/users/$count` (the rules of `count`): a sole `startswith(userPrincipalName,…)` is
/// counted as a range of the UPN-ordered users (`upn_prefix`), as Graph's index would, not by
/// a scan; any other query, or users out of order, are scanned.
fn count_users(call: &Call<'_>, state: &State) -> Answer {
    let users = &state.tenant.users;
    count_by(call, &query::USER, |query| {
        match query.sole_prefix("userPrincipalName") {
            Some(prefix) if state.users_sorted => upn_prefix::count(users, prefix),
            _ => query.apply(users).len(),
        }
    })
}

/// The raw count of a group's members (the same rules as `count`).
fn count_members(call: &Call<'_>, state: &State, group_id: &str) -> Answer {
    match state.tenant.group(group_id) {
        Some(g) => count(
            call,
            &query::USER,
            g.members.iter().filter_map(|id| state.tenant.user(id)),
        ),
        None => not_found(group_id),
    }
}

fn list_users(shared: &Shared, state: &State, call: &Call<'_>) -> Answer {
    let (query, projection) = match (
        CollectionQuery::parse(&query::USER, &call.query, call.eventual()),
        Projection::parse(&query::USER, call.param("$select"), true),
    ) {
        (Ok(q), Ok(p)) => (q, p),
        (Err(e), _) | (_, Err(e)) => return Answer::query(e),
    };
    let context = projection.context("users");
    let write = |user: &crate::tenant::User, out: &mut Vec<u8>| {
        serde_json::to_writer(
            out,
            &wire::UserView {
                user,
                projection: &projection,
            },
        )
    };
    // The plain read pages the model in place: O(page) per request at 100,000 users.
    if query.is_plain() {
        page_with(
            shared,
            call,
            &state.tenant.users,
            &query,
            &context,
            |u, out| write(u, out),
        )
    } else {
        let users = query.apply(&state.tenant.users);
        page_with(shared, call, &users, &query, &context, |u, out| {
            write(u, out)
        })
    }
}

fn list_members(
    shared: &Shared,
    state: &State,
    call: &Call<'_>,
    group_id: &str,
    cast_to_user: bool,
) -> Answer {
    let Some(group) = state.tenant.group(group_id) else {
        return not_found(group_id);
    };
    let (query, projection) = match (
        CollectionQuery::parse(&query::USER, &call.query, call.eventual()),
        Projection::parse(&query::USER, call.param("$select"), true),
    ) {
        (Ok(q), Ok(p)) => (q, p),
        (Err(e), _) | (_, Err(e)) => return Answer::query(e),
    };
    let members = group.members.iter().filter_map(|id| state.tenant.user(id));
    let members: Vec<&crate::tenant::User> = if query.is_plain() {
        members.collect()
    } else {
        query.apply(members)
    };
    // The cast returns users only and names them in the context; the plain navigation returns
    // directoryObjects, each with its @odata.type.
    let context = if cast_to_user {
        projection.context("users")
    } else {
        "directoryObjects".to_string()
    };
    page_with(shared, call, &members, &query, &context, |user, out| {
        if cast_to_user {
            return serde_json::to_writer(
                out,
                &wire::UserView {
                    user,
                    projection: &projection,
                },
            );
        }
        let mut value = serde_json::to_value(wire::UserView {
            user,
            projection: &projection,
        })?;
        value["@odata.type"] = json!("#microsoft.graph.user");
        serde_json::to_writer(out, &value)
    })
}

fn not_found(id: &str) -> Answer {
    Answer::error(
        404,
        GRAPH_NOT_FOUND,
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn membership(state: &State, group_id: &str, user_id: &str, add: bool) -> OpKind {
    let group = state
        .tenant
        .group(group_id)
        .map(|g| g.display_name.clone())
        .unwrap_or_default();
    let upn = state
        .tenant
        .user(user_id)
        .map(|u| u.user_principal_name.clone())
        .unwrap_or_default();
    OpKind::group_membership(add, group_id.to_string(), group, user_id.to_string(), upn)
}

/// Parses an `assignLicense` body strictly: both lists present, `disabledPlans` an array.
fn licence_lists(
    state: &State,
    call: &Call<'_>,
) -> Result<(Vec<LicenseGrant>, Vec<LicenseRemoval>), Answer> {
    let body = call.json();
    let bad = |m: &str| Answer::error(400, GRAPH_BAD_REQUEST, m.to_string());
    let (Some(add), Some(remove)) = (
        body["addLicenses"].as_array(),
        body["removeLicenses"].as_array(),
    ) else {
        return Err(bad(
            "Invalid request: both addLicenses and removeLicenses are required (removeLicenses may be empty).",
        ));
    };
    let part = |sku: &str| {
        state
            .tenant
            .sku(sku)
            .map(|s| s.sku_part_number.clone())
            .unwrap_or_else(|| sku.to_string())
    };
    let mut grants = Vec::new();
    let none = Vec::new();
    for item in add {
        // `disabledPlans` may be left out of an item (the SDK leaves it out when unset; Graph
        // reads it as none disabled) but not sent as null.
        let disabled = match &item["disabledPlans"] {
            Value::Null if item.get("disabledPlans").is_none() => &none,
            Value::Array(plans) => plans,
            _ => {
                return Err(bad(
                    "Invalid request: disabledPlans must be an array of service plan ids, never null.",
                ));
            }
        };
        let Some(sku) = item["skuId"].as_str() else {
            return Err(bad("Invalid request: each addLicenses item needs a skuId."));
        };
        let mut plans: Vec<String> = disabled
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        plans.sort();
        grants.push(LicenseGrant {
            sku_id: sku.to_string(),
            sku_part_number: part(sku),
            disabled_plans: plans,
            disabled_plan_names: Vec::new(),
            replaces_disabled: None,
        });
    }
    let removals = remove
        .iter()
        .filter_map(|r| r.as_str())
        .map(|sku| LicenseRemoval {
            sku_id: sku.to_string(),
            sku_part_number: part(sku),
        })
        .collect();
    Ok((grants, removals))
}

/// Applies a write with Graph's rules, then checks the safety invariants.
pub(super) fn write(shared: &Shared, state: &mut State, op: &OpKind, success: u16) -> Answer {
    let affected = affected_users(&state.tenant, op);
    let before = Observed::of(&state.tenant, &affected);
    if let Err(violation) = state.licensing.write(&mut state.tenant, op) {
        // Rule checks come before any change: the tenant is as it was.
        return violation_answer(&state.tenant, &violation);
    }
    check_safety(shared, state, &before, op);
    // `assignLicense` answers with the object; other writes with no content.
    let body = match op.licences() {
        Licences::User { user_id, .. } => state.tenant.user(user_id).map(wire::user),
        Licences::Group { group_id, .. } => state.tenant.group(group_id).map(|g| {
            with_processing_state(
                state,
                group_id,
                wire::group(
                    g,
                    &Projection::parse(&query::GROUP, None, false)
                        .unwrap_or_else(|_| Projection::all(&query::GROUP)),
                ),
            )
        }),
        Licences::Membership { .. } | Licences::Untouched => None,
    };
    Answer::new(success, body.map_or(Body::Empty, Body::Json))
}

/// A group's JSON with its `licenseProcessingState` (asynchronous group licensing) when the
/// projection has it (Graph returns it only on `$select`).
fn with_processing_state(state: &State, group_id: &str, mut group: Value) -> Value {
    if let Some(processing) = group.get_mut("licenseProcessingState") {
        *processing = json!({"state": state.licensing.processing_state(group_id)});
    }
    group
}

/// Runs the group licensing jobs that are due, with the same invariant checks as a write.
pub(super) fn process_due_group_licensing(state: &mut State) {
    for job in state.licensing.take_due(Instant::now()) {
        let before = Observed::of(&state.tenant, &job.members);
        job.run(&mut state.tenant);
        check_invariants(state, &before, &job.op);
    }
}

/// Users a write can change: the user, or the members of the group.
fn affected_users(tenant: &Tenant, op: &OpKind) -> Vec<String> {
    match op.licences() {
        Licences::Group { group_id, .. } => tenant
            .group(group_id)
            .map(|g| g.members.clone())
            .unwrap_or_default(),
        Licences::User { .. } | Licences::Membership { .. } | Licences::Untouched => {
            op.user_id().map(str::to_string).into_iter().collect()
        }
    }
}

fn check_safety(shared: &Shared, state: &mut State, before: &Observed, op: &OpKind) {
    check_invariants(state, before, op);
    if let (Some(scope), Some(user)) = (&shared.options.write_scope, op.user_id())
        && !scope.contains(user)
    {
        state.violations.push(format!(
            "{} wrote to {} outside the declared scope",
            op.name(),
            op.target()
        ));
    }
}

/// The safety invariants (`rules::invariants`) across a write or its group licensing.
fn check_invariants(state: &mut State, before: &Observed, op: &OpKind) {
    for breach in before.new_breaches(&state.tenant) {
        state
            .violations
            .push(format!("{} left {breach}", op.name()));
    }
}

/// Graph's (or Exchange's) error answer for a rule violation: the code Graph documents and
/// its message (research graph-api.md §1.1 "Error messages"; user resource `usageLocation`;
/// `assignLicense`; group members `$ref`).
fn violation_answer(tenant: &Tenant, violation: &RuleViolation) -> Answer {
    let bad = |m: String| Answer::error(400, GRAPH_BAD_REQUEST, m);
    match violation {
        RuleViolation::NotFound(what) => not_found(what.rsplit(' ').next().unwrap_or(what)),
        RuleViolation::InvalidUsageLocation(_) => {
            bad("License assignment cannot be done for user with invalid usage location.".into())
        }
        RuleViolation::BadUsageLocationValue(_) => {
            bad("Invalid value specified for property 'usageLocation' of resource 'User'.".into())
        }
        RuleViolation::NoSeats { sku, .. } => {
            let id = tenant.sku_by_part_number(sku).map_or(sku.as_str(), |s| s.sku_id.as_str());
            bad(format!("Subscription with SKU {id} does not have any available licenses."))
        }
        RuleViolation::InheritedLicense { .. } => bad(
            "User license is inherited from a group membership and it cannot be removed directly from the user.".into(),
        ),
        RuleViolation::LicenseNotHeld { .. } => bad("User does not have a corresponding license.".into()),
        // The model words this one as Graph does.
        RuleViolation::UnknownSku(_) => bad(violation.to_string()),
        RuleViolation::UnknownPlan { plan, .. } => bad(format!("Service plan {plan} is not valid for this license.")),
        RuleViolation::AlreadyMember { .. } => bad(
            "One or more added object references already exist for the following modified properties: 'members'.".into(),
        ),
        RuleViolation::NoMailbox(_) => Answer::exchange_not_found(&violation.to_string()),
        RuleViolation::Mailbox(m) => Answer::exchange_error(m),
    }
}

/// One page of `items`, each written by `write` straight into the body: only the items on the
/// page are rendered, so paging a 100,000-user tenant costs the fake O(page), not O(tenant),
/// per request, and no intermediate JSON tree is built for the big collections.
/// `@odata.count` is the collection's total, on the first page, only when the query asked for
/// it with `ConsistencyLevel: eventual` (https://learn.microsoft.com/en-us/graph/paging).
fn page_with<T>(
    shared: &Shared,
    call: &Call<'_>,
    items: &[T],
    query: &CollectionQuery,
    context: &str,
    write: impl Fn(&T, &mut Vec<u8>) -> serde_json::Result<()>,
) -> Answer {
    let offset = call
        .param("$skiptoken")
        .and_then(|t| t.strip_prefix("RFNwdAIAAQAAAD"))
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let size = query.top;
    let page = items.iter().skip(offset).take(size);
    let mut body = Vec::with_capacity(64 * 1024);
    let context = format!("{}/v1.0/$metadata#{context}", shared.base);
    body.extend_from_slice(b"{\"@odata.context\":");
    if let Err(e) = serde_json::to_writer(&mut body, &context) {
        return Answer::error(500, "InternalServerError", e.to_string());
    }
    if query.count && offset == 0 {
        body.extend_from_slice(format!(",\"@odata.count\":{}", items.len()).as_bytes());
    }
    if items.len() > offset + size {
        let mut next: Vec<String> = call
            .query
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        next.push(format!("$skiptoken=RFNwdAIAAQAAAD{}", offset + size));
        let link = format!("{}{}?{}", shared.base, call.path, next.join("&"));
        body.extend_from_slice(b",\"@odata.nextLink\":");
        if let Err(e) = serde_json::to_writer(&mut body, &link) {
            return Answer::error(500, "InternalServerError", e.to_string());
        }
    }
    body.extend_from_slice(b",\"value\":[");
    let mut written = 0usize;
    for item in page {
        if written > 0 {
            body.push(b',');
        }
        if let Err(e) = write(item, &mut body) {
            return Answer::error(500, "InternalServerError", e.to_string());
        }
        written += 1;
    }
    body.extend_from_slice(b"]}");
    Answer {
        items: written,
        ..Answer::new(200, Body::Serialized(body))
    }
}

fn list_groups(shared: &Shared, state: &State, call: &Call<'_>) -> Answer {
    let (query, projection) = match (
        CollectionQuery::parse(&query::GROUP, &call.query, call.eventual()),
        Projection::parse(&query::GROUP, call.param("$select"), true),
    ) {
        (Ok(q), Ok(p)) => (q, p),
        (Err(e), _) | (_, Err(e)) => return Answer::query(e),
    };
    let groups = query.apply(&state.tenant.groups);
    page_with(
        shared,
        call,
        &groups,
        &query,
        &projection.context("groups"),
        |group, out| serde_json::to_writer(out, &wire::group(group, &projection)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_through_encode_and_decode() {
        let q = format!("{}={}", encode("$filter"), encode("displayName eq 'R&D'"));
        assert_eq!(q, "$filter=displayName%20eq%20%27R%26D%27");
        assert_eq!(
            parse_query(Some(&q)),
            vec![("$filter".to_string(), "displayName eq 'R&D'".to_string())]
        );
        // Forms and clients may write a space as `+`; a path keeps it.
        assert_eq!(
            parse_query(Some("grant_type=client+credentials&&scope")),
            [("grant_type", "client credentials"), ("scope", "")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(decode_segment("a+b%40c.example"), "a+b@c.example");
    }

    proptest::proptest! {
        /// Every query the fake writes into a `nextLink` reads back as the same pairs, in
        /// order, whatever the names and values hold (`&`, `=`, `+`, `%`, non-ASCII).
        #[test]
        fn every_query_round_trips(pairs in proptest::collection::vec((".+", ".*"), 0..5)) {
            let text: Vec<String> =
                pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
            proptest::prop_assert_eq!(parse_query(Some(&text.join("&"))), pairs);
        }

        /// No path segment, however malformed its escapes (`%` before a non-ASCII
        /// character, a trailing `%4`), stops the fake; an escaped one decodes to itself.
        #[test]
        fn every_segment_decodes(raw in ".*", text in ".*") {
            let _ = decode_segment(&raw);
            let escaped =
                percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC);
            proptest::prop_assert_eq!(decode_segment(&escaped.to_string()), text);
        }
    }

    #[test]
    fn retry_after_of_a_budget_is_reported() {
        let a = Answer::fault(Fault::Throttled(3));
        assert_eq!((a.status, a.retry_after), (429, Some(3)));
    }
}
