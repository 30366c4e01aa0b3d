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

use super::batch::{item_body, item_header, item_response};
use super::routes::{Answer, Call, charge, next_request_id};
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
        let request_id = next_request_id(state);
        responses.push(item_response(
            shared,
            &request["id"],
            answer,
            &request_id,
            None,
        ));
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
    let body = item_body(request);
    let header = |name: &str| item_header(request, name);
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
