//! Graph's JSON batching as the fake serves it.

use super::routes::{
    Answer, Body, Call, JSON_CONTENT_TYPE, charge, complete_error, graph, next_request_id,
    parse_query,
};
use super::{LoggedRequest, Shared, State};
use serde_json::{Value, json};

/// Graph's `$batch` limit.
const MAX_BATCH: usize = 20;

/// JSON batching (https://learn.microsoft.com/en-us/graph/json-batching): at most 20 items,
/// unique ids, `headers` with `Content-Type` whenever an item has a body, per-item status
/// (throttling evaluated per item), `dependsOn` failures answered 424, every item answer with
/// its own headers.
pub(super) fn batch(shared: &Shared, state: &mut State, call: &Call<'_>) -> Answer {
    let body = call.json();
    let Some(requests) = body["requests"].as_array() else {
        return Answer::error(400, "BadRequest", "Invalid batch payload format.");
    };
    if requests.len() > MAX_BATCH {
        return Answer::error(
            400,
            "BadRequest",
            "The number of batch requests exceeds the limit of 20.",
        );
    }
    let mut ids = std::collections::HashSet::new();
    if !requests.iter().all(|r| {
        r["id"]
            .as_str()
            .is_some_and(|id| ids.insert(id.to_string()))
    }) {
        return Answer::error(
            400,
            "BadRequest",
            "Batch request ids must be present and unique.",
        );
    }
    if let Some(request) = requests
        .iter()
        .find(|r| !r["body"].is_null() && item_header(r, "content-type").is_none())
    {
        return Answer::error(
            400,
            "BadRequest",
            format!(
                "Write request id : {} does not contain Content-Type header or body.",
                request["id"].as_str().unwrap_or_default()
            ),
        );
    }
    let envelope_client_id = (call.header)("client-request-id");
    let mut statuses: std::collections::HashMap<String, u16> = std::collections::HashMap::new();
    let mut responses = Vec::new();
    let mut items = 0;
    for request in requests {
        let id = request["id"].as_str().unwrap_or_default().to_string();
        let method = request["method"]
            .as_str()
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let url = request["url"].as_str().unwrap_or_default().to_string();
        let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let path = format!("/v1.0/{}", path.trim_start_matches('/'));
        let item_body = item_body(request);
        let header = |name: &str| item_header(request, name);
        let item = Call {
            method: &method,
            path: &path,
            query: parse_query(Some(query)),
            header: &header,
            body: &item_body,
        };
        let rest = path.trim_start_matches("/v1.0").to_string();
        let failed_dependency = request["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .any(|d| statuses.get(d).is_none_or(|s| !(200..300).contains(s)));
        let answer = if failed_dependency {
            Answer::error(
                424,
                "FailedDependency",
                "The request depends on a request that failed.",
            )
        } else {
            match charge(shared, state, &item, &rest, false) {
                Ok(usage) => {
                    let mut answer = graph(shared, state, &item, &rest);
                    answer.headers.extend(usage);
                    answer
                }
                Err(refusal) => refusal,
            }
        };
        items += answer.items.max(1);
        let request_id = next_request_id(state);
        let client_request_id = header("client-request-id")
            .or_else(|| envelope_client_id.clone())
            .unwrap_or_else(|| request_id.clone());
        state.log.push(LoggedRequest {
            method: method.clone(),
            path: format!("$batch:{url}"),
            status: answer.status,
            at: shared.started.elapsed(),
            retry_after: answer.retry_after,
        });
        statuses.insert(id.clone(), answer.status);
        responses.push(item_response(
            shared,
            &request["id"],
            answer,
            &request_id,
            Some(&client_request_id),
        ));
    }
    Answer {
        items,
        ..Answer::ok(json!({"responses": responses}))
    }
}

/// A header of one batch item, by case-insensitive name.
pub(super) fn item_header(request: &Value, name: &str) -> Option<String> {
    request["headers"].as_object().and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    })
}

/// A batch item's body as the bytes a lone request would carry (none when absent).
pub(super) fn item_body(request: &Value) -> Vec<u8> {
    if request["body"].is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&request["body"]).unwrap_or_default()
    }
}

/// An item's entry in `responses` (Graph's `$batch` and Exchange's share the JSON batch
/// format): its id, status and headers (`request-id`, `client-request-id` where the service
/// sends one, `Retry-After`, the answer's own) and its body, an error body completed as a lone
/// answer's would be.
pub(super) fn item_response(
    shared: &Shared,
    id: &Value,
    answer: Answer,
    request_id: &str,
    client_request_id: Option<&str>,
) -> Value {
    let mut headers = json!({"request-id": request_id});
    if let Some(client_request_id) = client_request_id {
        headers["client-request-id"] = json!(client_request_id);
    }
    if let Some(secs) = answer.retry_after {
        headers["Retry-After"] = json!(secs.to_string());
    }
    for (name, value) in &answer.headers {
        headers[*name] = json!(value);
    }
    let body = match answer.body {
        Body::Serialized(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Body::Json(mut body) => {
            complete_error(
                &mut body,
                request_id,
                client_request_id.unwrap_or(request_id),
                shared.options.garble_error_messages,
            );
            body
        }
        Body::Text(text) => json!(text),
        Body::Empty => Value::Null,
    };
    let mut response = json!({"id": id, "status": answer.status, "headers": headers});
    if !body.is_null() {
        response["headers"]["Content-Type"] = json!(if body.is_string() {
            "text/plain"
        } else {
            JSON_CONTENT_TYPE
        });
        response["body"] = body;
    }
    response
}
