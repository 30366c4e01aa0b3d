//! The Exchange admin API's JSON batch as the fake serves it:
//! `POST /adminapi/beta/{tenant}/$batch` with `{"requests":[…]}` of `InvokeCommand` calls.
//!
//! Microsoft does not document it. Its shape is the one the peer tool CIPP sends
//! (`KelvinTegelaar/CIPP-API`, `Modules/CIPPCore/Public/GraphHelper/New-ExoBulkRequest.ps1`
//! @059a8a0f [3P]; docs/graph.md "Exchange `$batch`"): at most 10 requests per envelope
//! ("Split the cmdletArray into batches of 10"), each item an absolute `InvokeCommand` URL with
//! its own `X-AnchorMailbox`, answered `{"responses":[{"id","status","body"}]}` with a body's
//! `value` or `error` per item. Ten is the only size known to work, so more is refused. Items
//! run through the same handler as a lone call and are charged one by one, as Graph's
//! `$batch` items are (https://learn.microsoft.com/en-us/graph/json-batching).
//! Without `Prefer: odata.continue-on-error` the service stops at the first failed item and
//! answers nothing for the rest (OData 4.01 Part 1 §8.2.8.3,
//! https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part1-protocol.html#sec_Preferencecontinueonerrorodatacontin).

use super::routes::{
    Answer, Body, Call, JSON_CONTENT_TYPE, charge, complete_error, next_request_id,
};
use super::{LoggedRequest, Shared, State, exchange};
use serde_json::{Value, json};

/// The most `InvokeCommand` calls one envelope is known to carry (CIPP's batches of 10).
const MAX_BATCH: usize = 10;

/// Serves one envelope: refuses a malformed or oversized one whole, else answers every item
/// with its own status, in order, ids echoed.
pub(super) fn batch(shared: &Shared, state: &mut State, call: &Call<'_>) -> Answer {
    let body = call.json();
    let Some(requests) = body["requests"].as_array() else {
        return Answer::exchange_error("The batch request body must be {\"requests\":[...]}.");
    };
    if requests.len() > MAX_BATCH {
        return Answer::exchange_error(&format!(
            "The batch request contains {} requests; at most {MAX_BATCH} are supported.",
            requests.len()
        ));
    }
    let mut ids = std::collections::HashSet::new();
    if !requests
        .iter()
        .all(|r| r["id"].as_str().is_some_and(|id| ids.insert(id)))
    {
        return Answer::exchange_error("Batch request ids must be present and unique.");
    }
    let continue_on_error = (call.header)("prefer").is_some_and(|p| {
        p.split([';', ','])
            .any(|part| part.trim().eq_ignore_ascii_case("odata.continue-on-error"))
    });
    let mut responses = Vec::new();
    let mut items = 0;
    for request in requests {
        let answer = item(shared, state, request);
        items += answer.items.max(1);
        let failed = answer.status >= 400;
        responses.push(response(shared, state, request, answer));
        if failed && !continue_on_error {
            break;
        }
    }
    Answer {
        items,
        ..Answer::ok(json!({"responses": responses}))
    }
}

/// One item through the lone call's path: charged like a lone call, then `exchange::invoke`
/// with the item's own method, URL, headers and body; logged as a `$batch:` item.
fn item(shared: &Shared, state: &mut State, request: &Value) -> Answer {
    let method = request["method"]
        .as_str()
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let url = request["url"].as_str().unwrap_or_default();
    let (address, query) = url.split_once('?').unwrap_or((url, ""));
    // Items name the endpoint absolutely (CIPP); anything else names no endpoint.
    let rest = address
        .strip_prefix(&shared.exchange_audience())
        .unwrap_or(address);
    let body = if request["body"].is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&request["body"]).unwrap_or_default()
    };
    let header = |name: &str| {
        request["headers"].as_object().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        })
    };
    let call = Call {
        method: &method,
        path: address,
        query: super::routes::parse_query(Some(query)),
        header: &header,
        body: &body,
    };
    let answer = match charge(shared, state, &call, rest, true) {
        Ok(usage) => {
            let mut answer = exchange::invoke(shared, state, &call, rest);
            answer.headers.extend(usage);
            answer
        }
        Err(refusal) => refusal,
    };
    let input = &request["body"]["CmdletInput"];
    state.log.push(LoggedRequest {
        method,
        path: format!(
            "$batch:{url}#{}:{}",
            input["CmdletName"].as_str().unwrap_or_default(),
            input["Parameters"]["Identity"].as_str().unwrap_or_default()
        ),
        status: answer.status,
        at: shared.started.elapsed(),
        retry_after: answer.retry_after,
    });
    answer
}

/// An item's entry in `responses`: its id, status, headers and body (an error body completed
/// as a lone answer's would be).
fn response(shared: &Shared, state: &mut State, request: &Value, answer: Answer) -> Value {
    let request_id = next_request_id(state);
    let mut headers = json!({"request-id": request_id});
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
                &request_id,
                &request_id,
                shared.options.garble_error_messages,
            );
            body
        }
        Body::Text(text) => json!(text),
        Body::Empty => Value::Null,
    };
    let mut response = json!({"id": request["id"], "status": answer.status, "headers": headers});
    if !body.is_null() {
        response["headers"]["Content-Type"] = json!(JSON_CONTENT_TYPE);
        response["body"] = body;
    }
    response
}
