//! The Exchange Online admin API of the fake: `POST /adminapi/beta/{tenant}/InvokeCommand` with
//! the cmdlets m365ctl runs (`Get-Mailbox`, `Get-MailboxStatistics`, `Set-Mailbox -Type`).
//!
//! Microsoft does not document this REST surface; its shape is the ExchangeOnlineManagement v3
//! module's (research graph-api.md §5.2). The cmdlets' semantics are documented: `Get-Mailbox`
//! returns full records, `-ResultSize` defaults to 1,000 with a warning when more exist
//! (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox),
//! `-Identity` accepts a UPN, SMTP address, alias, GUID or object id, and every mailbox has
//! statistics (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailboxstatistics).

use super::routes::{Answer, Body, Call, write};
use super::{Shared, State, wire};
use crate::plan::ops::ConvertMailbox;
use crate::plan::ops::OpKind;
use crate::tenant::{MailboxType, Tenant, User};
use serde_json::{Value, json};

/// The well-known system mailbox app-only admin calls are routed through.
const SYSTEM_MAILBOX: &str = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";
/// `Get-Mailbox`'s default `-ResultSize`.
const DEFAULT_RESULT_SIZE: usize = 1_000;
/// The adminapi's largest page (`Prefer: odata.maxpagesize`).
const MAX_PAGE: usize = 1_000;
/// The warning `Get-Mailbox` gives when `-ResultSize` cut the answer short.
const MORE_RESULTS: &str = "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.";

/// Serves one `InvokeCommand` call.
pub(super) fn invoke(shared: &Shared, state: &mut State, call: &Call<'_>, rest: &str) -> Answer {
    let expected = format!("/adminapi/beta/{}/InvokeCommand", shared.tenant_id);
    if call.method != "POST" || rest != expected {
        return Answer::error(404, "NotFound", format!("no Exchange endpoint {rest}"));
    }
    if !anchor_accepted(
        shared,
        &state.tenant,
        (call.header)("x-anchormailbox").as_deref(),
    ) {
        return Answer::error(
            400,
            "BadRequest",
            "X-AnchorMailbox header is missing or names no mailbox of this organization.",
        );
    }
    let body = call.json();
    let input = &body["CmdletInput"];
    let parameters = &input["Parameters"];
    let identity = parameters["Identity"].as_str();
    match (input["CmdletName"].as_str(), identity) {
        (Some("Get-Mailbox"), Some(identity)) => {
            match find(&state.tenant, identity).and_then(wire::mailbox) {
                Some(record) => Answer::ok(json!({"value": [select(call, record)]})),
                None => Answer::exchange_not_found(&format!(
                    "The operation couldn't be performed because object '{identity}' couldn't be found on 'SIMPR01A001.PROD.OUTLOOK.COM'."
                )),
            }
        }
        (Some("Get-Mailbox"), None) => list(shared, state, call, parameters),
        (Some("Get-MailboxStatistics"), Some(identity)) => {
            match find(&state.tenant, identity).and_then(wire::statistics) {
                Some(stats) => Answer::ok(json!({"value": [select(call, stats)]})),
                None => Answer::exchange_not_found(&format!(
                    "The specified mailbox Identity:{identity} doesn't exist."
                )),
            }
        }
        (Some("Set-Mailbox"), Some(identity)) => set_type(shared, state, identity, parameters),
        (Some(cmdlet), None) if cmdlet != "Get-Mailbox" => Answer::exchange_error(&format!(
            "Cannot process command because of one or more missing mandatory parameters: Identity ({cmdlet})."
        )),
        (other, _) => Answer::exchange_error(&format!(
            "The term '{}' is not recognized as a cmdlet in this fake.",
            other.unwrap_or_default()
        )),
    }
}

/// Exchange routes a call by `X-AnchorMailbox`; it accepts the forms the v3 module and other
/// clients send: `APP:SystemMailbox{…}@{tenant id or domain}`, `UPN:`/`SMTP:` of a mailbox,
/// `Oid:{object id}@{tenant id}` (case-insensitive prefixes).
fn anchor_accepted(shared: &Shared, tenant: &Tenant, anchor: Option<&str>) -> bool {
    let Some((kind, value)) = anchor.and_then(|a| a.split_once(':')) else {
        return false;
    };
    let is_tenant = |domain: &str| {
        domain.eq_ignore_ascii_case(&shared.tenant_id)
            || tenant.users.iter().any(|u| {
                u.user_principal_name
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
            })
    };
    match kind.to_ascii_uppercase().as_str() {
        "APP" => value.rsplit_once('@').is_some_and(|(mailbox, domain)| {
            mailbox.eq_ignore_ascii_case(SYSTEM_MAILBOX) && is_tenant(domain)
        }),
        "UPN" | "SMTP" => tenant
            .user_by_upn(value)
            .is_some_and(|u| u.mailbox.is_some()),
        "OID" => value
            .rsplit_once('@')
            .is_some_and(|(id, domain)| tenant.user(id).is_some() && is_tenant(domain)),
        _ => false,
    }
}

/// A mailbox by any identity `-Identity` accepts.
fn find<'a>(tenant: &'a Tenant, identity: &str) -> Option<&'a User> {
    tenant
        .user_by_upn(identity)
        .or_else(|| tenant.user(identity))
        .or_else(|| {
            tenant.users.iter().find(|u| {
                u.mailbox.is_some()
                    && (wire::alias(u).eq_ignore_ascii_case(identity)
                        || wire::derived_guid(&format!("mailbox:{}", u.id))
                            .eq_ignore_ascii_case(identity))
            })
        })
        .filter(|u| u.mailbox.is_some())
}

/// `?$select=A,B` on `InvokeCommand` keeps only those record properties (case-insensitive).
fn select(call: &Call<'_>, record: Value) -> Value {
    let Some(names) = call.param("$select") else {
        return record;
    };
    let wanted: Vec<&str> = names.split(',').map(str::trim).collect();
    match record {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| wanted.iter().any(|w| w.eq_ignore_ascii_case(k)))
                .collect(),
        ),
        other => other,
    }
}

/// `Get-Mailbox` without `-Identity`: `-RecipientTypeDetails`, `-Filter` (`opath`) and
/// `-ResultSize` honoured,
/// pages of `Prefer: odata.maxpagesize` (at most 1,000) linked by `@odata.nextLink`.
fn list(shared: &Shared, state: &State, call: &Call<'_>, parameters: &Value) -> Answer {
    let kinds: Option<Vec<&str>> = match &parameters["RecipientTypeDetails"] {
        Value::Array(list) => Some(list.iter().filter_map(Value::as_str).collect()),
        Value::String(one) => Some(one.split(',').map(str::trim).collect()),
        _ => None,
    };
    let limit = match &parameters["ResultSize"] {
        Value::Null => DEFAULT_RESULT_SIZE,
        Value::String(s) if s.eq_ignore_ascii_case("Unlimited") => usize::MAX,
        Value::String(s) => match s.parse() {
            Ok(n) => n,
            Err(_) => {
                return Answer::exchange_error(&format!(
                    "Cannot bind parameter 'ResultSize'. Cannot convert value \"{s}\" to type \"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]\"."
                ));
            }
        },
        Value::Number(n) => n.as_u64().map_or(DEFAULT_RESULT_SIZE, |n| n as usize),
        _ => DEFAULT_RESULT_SIZE,
    };
    let filter = match &parameters["Filter"] {
        Value::Null => None,
        Value::String(text) => match super::opath::MailboxFilter::parse(text) {
            Ok(filter) => Some(filter),
            Err(message) => return Answer::exchange_error(&message),
        },
        other => {
            return Answer::exchange_error(&format!(
                "Cannot bind parameter 'Filter'. Cannot convert value \"{other}\" to type \"System.String\"."
            ));
        }
    };
    let matching: Vec<&User> = wire::mailbox_users(&state.tenant)
        .filter(|u| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&u.user_principal_name))
        })
        .filter(|u| {
            kinds.as_ref().is_none_or(|kinds| {
                u.mailbox.as_ref().is_some_and(|m| {
                    kinds
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(m.kind.recipient_type_details()))
                })
            })
        })
        .collect();
    let truncated = matching.len() > limit;
    let shown = &matching[..matching.len().min(limit)];
    let size = (call.header)("prefer")
        .and_then(|p| {
            p.strip_prefix("odata.maxpagesize=")
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let offset = call
        .param("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = shown
        .iter()
        .skip(offset)
        .take(size)
        .filter_map(|u| wire::mailbox(u))
        .map(|r| select(call, r))
        .collect();
    let items = page.len();
    let mut body = json!({
        "@odata.context": format!("{}/adminapi/beta/$metadata#Collection(Exchange.GenericHashTable)", shared.exchange_audience()),
        "value": page,
    });
    if shown.len() > offset + size {
        let mut query: Vec<String> = call
            .query
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        query.push(format!("$skiptoken={}", offset + size));
        body["@odata.nextLink"] =
            json!(format!("{}{}?{}", shared.base, call.path, query.join("&")));
    } else if truncated {
        body["@adminapi.warnings"] = json!([MORE_RESULTS]);
    }
    Answer {
        items,
        ..Answer::new(200, Body::Json(body))
    }
}

/// `Set-Mailbox -Type Shared|Regular|Room|Equipment` through Graph's write rules.
fn set_type(shared: &Shared, state: &mut State, identity: &str, parameters: &Value) -> Answer {
    let to = match parameters["Type"]
        .as_str()
        .and_then(MailboxType::from_exchange_name)
    {
        Some(to) => to,
        None => {
            let other = parameters["Type"].as_str();
            return Answer::exchange_error(&format!(
                "Cannot bind parameter 'Type' to the value {other:?}."
            ));
        }
    };
    let Some(user) = find(&state.tenant, identity) else {
        return Answer::exchange_not_found(&format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found."
        ));
    };
    let Some(from) = user.mailbox.as_ref().map(|m| m.kind) else {
        return Answer::exchange_not_found(&format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found on the mailbox server."
        ));
    };
    let op = OpKind::ConvertMailbox(ConvertMailbox {
        user_id: user.id.clone(),
        upn: user.user_principal_name.clone(),
        from,
        to,
    });
    let answer = write(shared, state, &op, 200);
    if answer.status == 200 {
        Answer::ok(json!({"value": [], "@adminapi.warnings": []}))
    } else {
        answer
    }
}
