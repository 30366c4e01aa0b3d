//! OData query options on the directory collections (`/users`, `/groups`, members): what Graph
//! honours and what it refuses, with Graph's own error codes and messages.
//!
//! Sources: query parameters (https://learn.microsoft.com/en-us/graph/query-parameters),
//! advanced queries on directory objects
//! (https://learn.microsoft.com/en-us/graph/aad-advanced-queries), the user and group resource
//! pages (default properties, `$filter` support per property) and `user-list` (`$top` 1..999).
//! The fake honours a documented subset and answers anything else with Graph's 400, never by
//! silently ignoring an option a client relies on.

use super::schema::{self, Shape};
use crate::tenant::{Group, User};

/// Graph's largest page of directory objects.
pub const MAX_TOP: usize = 999;
/// Graph's default page size for directory objects.
pub const DEFAULT_TOP: usize = 100;

/// A refusal in Graph's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> QueryError {
    QueryError {
        status: 400,
        code,
        message: message.into(),
    }
}

/// The advanced-query refusal Graph gives when `ConsistencyLevel: eventual` + `$count=true`
/// are missing.
pub fn advanced_required(operator: &str) -> QueryError {
    bad(
        "Request_UnsupportedQuery",
        format!(
            "Operator '{operator}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
        ),
    )
}

/// An entity type the fake serves in collections.
#[derive(Debug)]
pub struct EntityType {
    /// `microsoft.graph.{name}` and the `@odata.context` entity set.
    pub name: &'static str,
    /// Name used in filter errors ("of resource 'User'").
    pub resource: &'static str,
    /// Properties declared on the type (besides `directoryObject`'s).
    pub properties: &'static [(&'static str, Shape)],
    /// Navigation properties (what `$expand` may name).
    pub navigation: &'static [&'static str],
    /// Returned without `$select`.
    pub defaults: &'static [&'static str],
    /// Selectable only on a single object, not on the collection (Graph: 501).
    pub single_only: &'static [&'static str],
    /// Filterable by `eq`/`in`/`startswith` without advanced query.
    pub filterable: &'static [&'static str],
    /// Sortable by `$orderby` without advanced query.
    pub sortable: &'static [&'static str],
}

/// `microsoft.graph.user`. Default properties and single-object-only properties from the user
/// resource page (https://learn.microsoft.com/en-us/graph/api/resources/user) and `user-list`.
pub static USER: EntityType = EntityType {
    name: "user",
    resource: "User",
    properties: schema::USER,
    navigation: schema::USER_NAVIGATION,
    defaults: &[
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    ],
    single_only: &[
        "aboutMe",
        "birthday",
        "hireDate",
        "interests",
        "mySite",
        "pastProjects",
        "preferredName",
        "responsibilities",
        "schools",
        "skills",
        "mailboxSettings",
        "deviceEnrollmentLimit",
        "print",
    ],
    filterable: &[
        "id",
        "userPrincipalName",
        "displayName",
        "mail",
        "accountEnabled",
        "usageLocation",
        "department",
        "jobTitle",
        "companyName",
        "country",
        "givenName",
        "surname",
    ],
    sortable: &["displayName", "userPrincipalName"],
};

/// `microsoft.graph.group`. Default properties from the group resource page
/// (https://learn.microsoft.com/en-us/graph/api/resources/group): `assignedLicenses` is not
/// among them.
pub static GROUP: EntityType = EntityType {
    name: "group",
    resource: "Group",
    properties: schema::GROUP,
    navigation: schema::GROUP_NAVIGATION,
    defaults: &[
        "id",
        "deletedDateTime",
        "classification",
        "createdDateTime",
        "description",
        "displayName",
        "expirationDateTime",
        "groupTypes",
        "isAssignableToRole",
        "mail",
        "mailEnabled",
        "mailNickname",
        "membershipRule",
        "membershipRuleProcessingState",
        "onPremisesDomainName",
        "onPremisesLastSyncDateTime",
        "onPremisesNetBiosName",
        "onPremisesSamAccountName",
        "onPremisesSecurityIdentifier",
        "onPremisesSyncEnabled",
        "preferredDataLocation",
        "preferredLanguage",
        "proxyAddresses",
        "renewedDateTime",
        "resourceBehaviorOptions",
        "resourceProvisioningOptions",
        "securityEnabled",
        "securityIdentifier",
        "theme",
        "visibility",
        "onPremisesProvisioningErrors",
        "serviceProvisioningErrors",
    ],
    single_only: &[
        "allowExternalSenders",
        "autoSubscribeNewMembers",
        "hideFromAddressLists",
        "hideFromOutlookClients",
        "isSubscribedByMail",
        "unseenCount",
    ],
    filterable: &[
        "id",
        "displayName",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "mailNickname",
    ],
    sortable: &["displayName"],
};

impl EntityType {
    /// The declared shape of `name` (case-insensitive), with its canonical spelling.
    pub fn property(&self, name: &str) -> Option<(&'static str, Shape)> {
        schema::DIRECTORY_OBJECT
            .iter()
            .chain(self.properties)
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
            .copied()
    }

    fn unknown(&self, name: &str) -> QueryError {
        bad(
            "Request_BadRequest",
            format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.{}'.",
                self.name
            ),
        )
    }
}

/// Which properties to write, in canonical spelling, and whether `$select` named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// Properties in output order.
    pub properties: Vec<&'static str>,
    /// Whether they came from `$select` (for `@odata.context`).
    pub selected: bool,
}

impl Projection {
    /// From `$select` (or the default set); `collection` refuses single-object-only
    /// properties as Graph does (501).
    pub fn parse(
        entity: &EntityType,
        select: Option<&str>,
        collection: bool,
    ) -> Result<Projection, QueryError> {
        let Some(select) = select.filter(|s| !s.trim().is_empty()) else {
            return Ok(Projection {
                properties: entity.defaults.to_vec(),
                selected: false,
            });
        };
        let mut properties = Vec::new();
        for name in select.split(',').map(str::trim) {
            let (canonical, _) = entity.property(name).ok_or_else(|| entity.unknown(name))?;
            if collection && entity.single_only.contains(&canonical) {
                return Err(QueryError {
                    status: 501,
                    code: "NotImplemented",
                    message: "This operation target is not yet supported.".into(),
                });
            }
            if !properties.contains(&canonical) {
                properties.push(canonical);
            }
        }
        Ok(Projection {
            properties,
            selected: true,
        })
    }

    /// Every property (`wire::user` for write answers and checks).
    pub fn all(entity: &EntityType) -> Projection {
        let properties = schema::DIRECTORY_OBJECT
            .iter()
            .chain(entity.properties)
            .map(|(p, _)| *p)
            .filter(|p| !entity.single_only.contains(p))
            .collect();
        Projection {
            properties,
            selected: true,
        }
    }

    /// The `@odata.context` fragment: `users` or `users(id,displayName)`.
    pub fn context(&self, set: &str) -> String {
        if self.selected {
            format!("{set}({})", self.properties.join(","))
        } else {
            set.to_string()
        }
    }
}

/// A property value as filters see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    /// A string property (`None` = null).
    Text(Option<&'a str>),
    /// A Boolean property.
    Flag(bool),
    /// The SKU ids of `assignedLicenses`.
    Skus(Vec<&'a str>),
}

/// What the filter engine reads from an object.
pub trait Filterable {
    /// The value of `property` (canonical spelling), `None` when the fake does not model it.
    fn field(&self, property: &str) -> Option<Field<'_>>;
}

impl Filterable for User {
    fn field(&self, property: &str) -> Option<Field<'_>> {
        Some(match property {
            "id" => Field::Text(Some(&self.id)),
            "userPrincipalName" => Field::Text(Some(&self.user_principal_name)),
            "displayName" => Field::Text(self.display_name.as_deref()),
            "mail" => Field::Text(self.mailbox.is_some().then_some(&*self.user_principal_name)),
            "accountEnabled" => Field::Flag(self.account_enabled),
            "usageLocation" => Field::Text(self.usage_location.as_deref()),
            "onPremisesSyncEnabled" => Field::Flag(self.on_premises_sync_enabled),
            "assignedLicenses" => Field::Skus(
                self.licenses
                    .iter()
                    .filter(|l| l.is_effective())
                    .map(|l| l.sku_id.as_str())
                    .collect(),
            ),
            "givenName" | "surname" => Field::Text(None),
            other => Field::Text(self.attribute(other)),
        })
    }
}

impl Filterable for Group {
    fn field(&self, property: &str) -> Option<Field<'_>> {
        Some(match property {
            "id" => Field::Text(Some(&self.id)),
            "displayName" => Field::Text(Some(&self.display_name)),
            "mail" => Field::Text(None),
            "mailNickname" => Field::Text(Some(&self.id)),
            "mailEnabled" => Field::Flag(false),
            "securityEnabled" => Field::Flag(true),
            "assignedLicenses" => {
                Field::Skus(self.licenses.iter().map(|l| l.sku_id.as_str()).collect())
            }
            _ => return None,
        })
    }
}

/// One `$filter` clause.
#[derive(Debug, Clone, PartialEq)]
enum Clause {
    /// `prop eq 'v'` / `prop in ('a','b')` (case-insensitive).
    TextIn(&'static str, Vec<Option<String>>),
    /// `prop eq true`.
    FlagIs(&'static str, bool),
    /// `startswith(prop,'v')`.
    StartsWith(&'static str, String),
    /// `endswith(prop,'v')`; advanced (aad-advanced-queries: "The `endsWith` operator is
    /// supported only with advanced query parameters").
    EndsWith(&'static str, String),
    /// `not …`; advanced ("The `not` and `ne` negation operators are supported only with
    /// advanced query parameters").
    Not(Box<Clause>),
    /// `assignedLicenses/any(x:x/skuId eq GUID)`.
    HasSku(String),
    /// `assignedLicenses/$count ne 0` (`true`) or `eq 0` (`false`); advanced.
    AnyLicence(bool),
    /// `prop ne 'v'`; advanced.
    TextNot(&'static str, Option<String>),
    /// `onPremisesExtensionAttributes/extensionAttributeN eq 'v'`; advanced.
    Extension(String, Option<String>),
    /// `a or b` and `(…)`: any of these conjunctions holds (OData: `and` binds tighter than
    /// `or`). Graph honours `or` without advanced query, e.g. `startswith(displayName,'mary')
    /// or startswith(userPrincipalName,'mary')` (filter-query-parameter, "Get all users with
    /// the name Mary across multiple properties").
    AnyOf(Vec<Vec<Clause>>),
}

/// A parsed `$filter` / `$orderby` / `$search` / `$count` for one collection request.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionQuery {
    clauses: Vec<Clause>,
    order: Option<(&'static str, bool)>,
    search: Option<(&'static str, String)>,
    /// `$count=true` with `ConsistencyLevel: eventual`: write `@odata.count`.
    pub count: bool,
    /// Page size.
    pub top: usize,
}

/// Query option names Graph accepts on directory collections.
const OPTIONS: [&str; 8] = [
    "$select",
    "$filter",
    "$top",
    "$skiptoken",
    "$count",
    "$orderby",
    "$search",
    "$expand",
];

impl CollectionQuery {
    /// Parses the options of a collection request on `entity`; `eventual` is the
    /// `ConsistencyLevel: eventual` header.
    pub fn parse(
        entity: &EntityType,
        query: &[(String, String)],
        eventual: bool,
    ) -> Result<CollectionQuery, QueryError> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        for (name, _) in query {
            let known = OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(name));
            let without_dollar = OPTIONS.iter().any(|o| o[1..].eq_ignore_ascii_case(name));
            if !known && (name.starts_with('$') || without_dollar) {
                return Err(bad(
                    "Request_BadRequest",
                    format!("Unrecognized query argument specified: '{name}'."),
                ));
            }
        }
        if let Some(expand) = param("$expand") {
            let name = expand.split(['(', ',']).next().unwrap_or_default().trim();
            let navigation = entity
                .navigation
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name));
            return Err(match entity.property(name) {
                _ if navigation => QueryError {
                    status: 501,
                    code: "NotImplemented",
                    message: format!(
                        "This fake does not expand '{name}': it serves no navigation properties inline."
                    ),
                },
                Some(_) => bad(
                    "Request_BadRequest",
                    format!(
                        "Property '{name}' on type 'microsoft.graph.{}' is not a navigation property or complex property. Only navigation properties can be expanded.",
                        entity.name
                    ),
                ),
                None => entity.unknown(name),
            });
        }
        let counted = param("$count").is_some_and(|c| c.eq_ignore_ascii_case("true"));
        let advanced = eventual && counted;
        let top = match param("$top") {
            None => DEFAULT_TOP,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=MAX_TOP).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "Request_UnsupportedQuery",
                        format!(
                            "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                        ),
                    ));
                }
            },
        };
        let clauses = match param("$filter").map(str::trim).filter(|f| !f.is_empty()) {
            Some(filter) => parse_expression(entity, filter, advanced)?,
            None => Vec::new(),
        };
        let order = match param("$orderby").map(str::trim).filter(|o| !o.is_empty()) {
            Some(order) => {
                let mut words = order.split_whitespace();
                let name = words.next().unwrap_or_default();
                let direction = words.next().unwrap_or("asc");
                let property = entity
                    .sortable
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(name))
                    .copied();
                let plain = clauses.is_empty() || advanced;
                match (property, direction.to_ascii_lowercase().as_str(), plain) {
                    (Some(p), "asc", true) => Some((p, false)),
                    (Some(p), "desc", true) => Some((p, true)),
                    _ if entity.property(name).is_none() => return Err(entity.unknown(name)),
                    _ => {
                        return Err(bad(
                            "Request_UnsupportedQuery",
                            "Sorting not supported for current query.",
                        ));
                    }
                }
            }
            None => None,
        };
        let search = match param("$search") {
            Some(_) if !eventual => {
                return Err(bad(
                    "Request_UnsupportedQuery",
                    "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
                ));
            }
            Some(search) => Some(parse_search(entity, search)?),
            None => None,
        };
        Ok(CollectionQuery {
            clauses,
            order,
            search,
            count: advanced,
            top,
        })
    }

    /// Whether the request needs the collection filtered or re-ordered (else it pages the
    /// model's order as it is).
    pub fn is_plain(&self) -> bool {
        self.clauses.is_empty() && self.order.is_none() && self.search.is_none()
    }

    /// The prefix of a query that is exactly `startswith(property,'prefix')` (no other
    /// clause, no `$search`): the one query an index answers as a range.
    pub fn sole_prefix(&self, property: &str) -> Option<&str> {
        match (self.clauses.as_slice(), &self.search) {
            ([Clause::StartsWith(p, prefix)], None) if *p == property => Some(prefix),
            _ => None,
        }
    }

    /// The matching items in answer order.
    pub fn apply<'a, T: Filterable + 'a>(
        &self,
        items: impl IntoIterator<Item = &'a T>,
    ) -> Vec<&'a T> {
        let mut out: Vec<&T> = items.into_iter().filter(|i| self.matches(*i)).collect();
        if let Some((property, descending)) = self.order {
            let key = |i: &&T| match i.field(property) {
                Some(Field::Text(t)) => t.map(str::to_lowercase),
                _ => None,
            };
            out.sort_by_cached_key(key);
            if descending {
                out.reverse();
            }
        }
        out
    }

    fn matches<T: Filterable>(&self, item: &T) -> bool {
        let text = |p: &str| match item.field(p) {
            Some(Field::Text(t)) => t,
            _ => None,
        };
        self.clauses.iter().all(|clause| holds(item, clause))
            && self.search.as_ref().is_none_or(|(p, term)| {
                text(p).is_some_and(|t| {
                    t.split(|c: char| !c.is_alphanumeric())
                        .any(|word| word.to_lowercase().starts_with(term))
                })
            })
    }
}

/// Whether one clause holds for `item`; string comparisons ignore ASCII case as Graph's do on
/// directory objects (`startswith(displayName,'mary')` finds "Mary", filter-query-parameter).
fn holds<T: Filterable>(item: &T, clause: &Clause) -> bool {
    let text = |p: &str| match item.field(p) {
        Some(Field::Text(t)) => t,
        _ => None,
    };
    let same = |a: Option<&str>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    };
    match clause {
        Clause::TextIn(p, values) => values.iter().any(|v| same(text(p), v)),
        Clause::TextNot(p, v) => !same(text(p), v),
        Clause::FlagIs(p, v) => item.field(p) == Some(Field::Flag(*v)),
        Clause::StartsWith(p, prefix) => text(p).is_some_and(|t| {
            t.len() >= prefix.len()
                && t.is_char_boundary(prefix.len())
                && t[..prefix.len()].eq_ignore_ascii_case(prefix)
        }),
        Clause::EndsWith(p, suffix) => text(p).is_some_and(|t| {
            t.len() >= suffix.len()
                && t.is_char_boundary(t.len() - suffix.len())
                && t[t.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }),
        Clause::Not(inner) => !holds(item, inner),
        Clause::HasSku(sku) => {
            matches!(item.field("assignedLicenses"), Some(Field::Skus(s)) if s.iter().any(|x| x.eq_ignore_ascii_case(sku)))
        }
        Clause::AnyLicence(any) => {
            matches!(item.field("assignedLicenses"), Some(Field::Skus(s)) if s.is_empty() != *any)
        }
        Clause::Extension(key, v) => same(text(key), v),
        Clause::AnyOf(alternatives) => alternatives
            .iter()
            .any(|all| all.iter().all(|c| holds(item, c))),
    }
}

/// A whole `$filter`: a disjunction of conjunctions, as OData's precedence reads it.
fn parse_expression(
    entity: &EntityType,
    filter: &str,
    advanced: bool,
) -> Result<Vec<Clause>, QueryError> {
    let conjunction = |text: &str| -> Result<Vec<Clause>, QueryError> {
        split_top(text, " and ")
            .into_iter()
            .map(|c| parse_term(entity, c.trim(), advanced))
            .collect()
    };
    let alternatives = split_top(filter, " or ");
    if alternatives.len() == 1 {
        return conjunction(filter);
    }
    Ok(vec![Clause::AnyOf(
        alternatives
            .into_iter()
            .map(|a| conjunction(a.trim()))
            .collect::<Result<_, _>>()?,
    )])
}

/// One term: a parenthesised expression or a clause.
fn parse_term(entity: &EntityType, term: &str, advanced: bool) -> Result<Clause, QueryError> {
    match enclosed(term) {
        Some(inner) => Ok(Clause::AnyOf(vec![parse_expression(
            entity,
            inner.trim(),
            advanced,
        )?])),
        None => parse_clause(entity, term, advanced),
    }
}

/// The inside of `( … )` when the first parenthesis closes at the very end.
fn enclosed(term: &str) -> Option<&str> {
    let inner = term.strip_prefix('(')?;
    let (mut depth, mut quoted) = (1i32, false);
    for (i, b) in inner.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1 == inner.len()).then(|| &inner[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits on `word` (` and `, ` or `) outside quotes and parentheses (case-insensitive).
fn split_top<'a>(filter: &'a str, word: &str) -> Vec<&'a str> {
    split_outside_quotes(filter, word).0
}

/// Splits on `word` outside quotes and parentheses (case-insensitive), and says whether the
/// quotes and parentheses balance: `$filter` and Exchange's OPATH `-Filter` share it.
pub(crate) fn split_outside_quotes<'a>(filter: &'a str, word: &str) -> (Vec<&'a str>, bool) {
    let lower = filter.to_ascii_lowercase();
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut depth) = (0, false, 0i32);
    let bytes = filter.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            _ if !quoted && depth == 0 && lower.as_bytes()[i..].starts_with(word.as_bytes()) => {
                parts.push(&filter[start..i]);
                start = i + word.len();
                i += word.len() - 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&filter[start..]);
    (parts, !quoted && depth == 0)
}

/// A quoted string literal (`'O''Brien'`), `null`, or `None` when it is neither.
fn literal(text: &str) -> Option<Option<String>> {
    let text = text.trim();
    if text == "null" {
        return Some(None);
    }
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(Some(inner.replace("''", "'")))
}

fn parse_clause(entity: &EntityType, clause: &str, advanced: bool) -> Result<Clause, QueryError> {
    let invalid = || {
        bad(
            "BadRequest",
            format!("Invalid filter clause: syntax error in '{clause}'."),
        )
    };
    let unsupported = |p: &str| {
        bad(
            "Request_UnsupportedQuery",
            format!(
                "Unsupported or invalid query filter clause specified for property '{p}' of resource '{}'.",
                entity.resource
            ),
        )
    };
    let filterable = |name: &str| -> Result<&'static str, QueryError> {
        let (canonical, _) = entity.property(name).ok_or_else(|| entity.unknown(name))?;
        if entity.filterable.contains(&canonical) {
            Ok(canonical)
        } else {
            Err(unsupported(canonical))
        }
    };
    let lower = clause.to_ascii_lowercase();
    if lower.starts_with("not ") || lower.starts_with("not(") {
        if !advanced {
            return Err(advanced_required("not"));
        }
        return Ok(Clause::Not(Box::new(parse_term(
            entity,
            clause[3..].trim(),
            advanced,
        )?)));
    }
    for (function, ends) in [("startswith(", false), ("endswith(", true)] {
        let Some(args) = lower
            .starts_with(function)
            .then(|| clause[function.len()..].strip_suffix(')'))
            .flatten()
        else {
            continue;
        };
        let (name, value) = args.split_once(',').ok_or_else(invalid)?;
        let property = filterable(name.trim())?;
        let value = literal(value).flatten().ok_or_else(invalid)?;
        return match ends {
            false => Ok(Clause::StartsWith(property, value)),
            true if !advanced => Err(advanced_required("endsWith")),
            true => Ok(Clause::EndsWith(property, value)),
        };
    }
    if let Some(rest) = clause.strip_prefix("assignedLicenses/") {
        if entity.property("assignedLicenses").is_none() {
            return Err(entity.unknown("assignedLicenses"));
        }
        let compact: String = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(inner) = compact
            .strip_prefix("any(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let (var, condition) = inner.split_once(':').ok_or_else(invalid)?;
            let sku = condition
                .trim()
                .strip_prefix(&format!("{}/skuId eq ", var.trim()))
                .ok_or_else(invalid)?;
            return Ok(Clause::HasSku(sku.trim().trim_matches('\'').to_string()));
        }
        return match compact.as_str() {
            "$count ne 0" | "$count eq 0" if !advanced => Err(advanced_required(&compact[7..9])),
            "$count ne 0" => Ok(Clause::AnyLicence(true)),
            "$count eq 0" => Ok(Clause::AnyLicence(false)),
            _ => Err(invalid()),
        };
    }
    if let Some(rest) = clause.strip_prefix("onPremisesExtensionAttributes/") {
        let (key, value) = rest.split_once(" eq ").ok_or_else(invalid)?;
        let key = key.trim();
        let known = crate::tenant::USER_ATTRIBUTES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key) && k.starts_with("extensionAttribute"));
        let (Some(key), true) = (known, entity.name == "user") else {
            return Err(unsupported(key));
        };
        if !advanced {
            return Err(unsupported(key));
        }
        return Ok(Clause::Extension(
            key.to_string(),
            literal(value).ok_or_else(invalid)?,
        ));
    }
    let mut words = clause.splitn(3, ' ');
    let (name, operator, value) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default().to_ascii_lowercase(),
        words.next().unwrap_or_default(),
    );
    let property = filterable(name)?;
    match operator.as_str() {
        "eq" => match value.trim() {
            "true" => Ok(Clause::FlagIs(property, true)),
            "false" => Ok(Clause::FlagIs(property, false)),
            v => Ok(Clause::TextIn(
                property,
                vec![literal(v).ok_or_else(invalid)?],
            )),
        },
        "in" => {
            let list = value
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(invalid)?;
            let values = list
                .split(',')
                .map(|v| literal(v).ok_or_else(invalid))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Clause::TextIn(property, values))
        }
        "ne" if !advanced => Err(advanced_required("ne")),
        "ne" => Ok(Clause::TextNot(
            property,
            literal(value).ok_or_else(invalid)?,
        )),
        "endswith" | "not" if !advanced => Err(advanced_required(&operator)),
        _ => Err(unsupported(property)),
    }
}

fn parse_search(entity: &EntityType, search: &str) -> Result<(&'static str, String), QueryError> {
    let invalid = || {
        bad(
            "Request_UnsupportedQuery",
            format!(
                "Syntax error: '{search}' is not a valid $search expression: use \"property:term\"."
            ),
        )
    };
    let inner = search
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(invalid)?;
    let (name, term) = inner.split_once(':').ok_or_else(invalid)?;
    let (property, _) = entity
        .property(name.trim())
        .ok_or_else(|| entity.unknown(name.trim()))?;
    if ![
        "displayName",
        "mail",
        "userPrincipalName",
        "description",
        "mailNickname",
    ]
    .contains(&property)
    {
        return Err(bad(
            "Request_UnsupportedQuery",
            format!("Search is not supported on property '{property}'."),
        ));
    }
    Ok((property, term.trim().to_lowercase()))
}

/// Query pairs from literals, as the router hands them over: the one test helper of the
/// query and throttle models.
#[cfg(test)]
pub(super) fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_select_names_are_refused_with_graphs_message() {
        let e = Projection::parse(&USER, Some("id,nope"), true).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "Could not find a property named 'nope' on type 'microsoft.graph.user'."
        );
        let p = Projection::parse(&USER, Some("ID, usagelocation"), true).unwrap();
        assert_eq!(p.properties, ["id", "usageLocation"]);
        assert_eq!(
            Projection::parse(&USER, Some("aboutMe"), true)
                .unwrap_err()
                .status,
            501
        );
        assert!(Projection::parse(&USER, Some("aboutMe"), false).is_ok());
    }

    #[test]
    fn defaults_leave_out_licences() {
        let p = Projection::parse(&USER, None, true).unwrap();
        assert!(!p.properties.contains(&"assignedLicenses"));
        assert!(!p.properties.contains(&"usageLocation"));
        let g = Projection::parse(&GROUP, None, true).unwrap();
        assert!(!g.properties.contains(&"assignedLicenses"));
        for name in USER.defaults.iter().chain(GROUP.defaults) {
            assert!(
                USER.property(name).is_some() || GROUP.property(name).is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn advanced_operators_need_eventual_and_count() {
        let filter = q(&[("$filter", "displayName ne 'x'")]);
        assert_eq!(
            CollectionQuery::parse(&USER, &filter, true)
                .unwrap_err()
                .code,
            "Request_UnsupportedQuery"
        );
        let mut counted = filter.clone();
        counted.push(("$count".into(), "true".into()));
        assert!(CollectionQuery::parse(&USER, &counted, true).is_ok());
        assert!(CollectionQuery::parse(&USER, &counted, false).is_err());
    }

    #[test]
    fn expand_distinguishes_navigation_structural_and_unknown_names() {
        let expand = |name: &str| {
            CollectionQuery::parse(&USER, &q(&[("$expand", name)]), false)
                .unwrap_err()
                .status
        };
        assert_eq!(
            expand("manager"),
            501,
            "a navigation property the fake does not serve"
        );
        assert_eq!(expand("displayName"), 400);
        assert_eq!(expand("nope"), 400);
    }

    #[test]
    fn unrecognised_options_and_unsupported_filters_are_refused() {
        assert!(CollectionQuery::parse(&USER, &q(&[("$foo", "1")]), false).is_err());
        assert!(CollectionQuery::parse(&USER, &q(&[("select", "id")]), false).is_err());
        assert!(CollectionQuery::parse(&USER, &q(&[("api-version", "1")]), false).is_ok());
        let e =
            CollectionQuery::parse(&USER, &q(&[("$filter", "city eq 'x'")]), false).unwrap_err();
        assert!(
            e.message.contains("property 'city' of resource 'User'"),
            "{e:?}"
        );
        let e =
            CollectionQuery::parse(&USER, &q(&[("$filter", "nope eq 'x'")]), false).unwrap_err();
        assert!(e.message.contains("Could not find a property named 'nope'"));
    }

    fn user(id: &str, upn: &str, name: &str) -> User {
        User {
            id: id.into(),
            user_principal_name: upn.into(),
            display_name: Some(name.into()),
            account_enabled: true,
            usage_location: None,
            on_premises_sync_enabled: false,
            attributes: Default::default(),
            licenses: Vec::new(),
            mailbox: None,
        }
    }

    fn named(i: usize, upn: &str, name: &str) -> User {
        user(&i.to_string(), upn, name)
    }

    proptest::proptest! {
        /// For any tenant and any supported clause on a string property (alone, joined by
        /// `or` and `and`, parenthesised), the fake returns exactly the users a plain reading
        /// of the clause selects (case-insensitively, as the directory compares, `and`
        /// binding tighter than `or`), and `$orderby` returns the same users sorted.
        #[test]
        fn filters_select_exactly_the_matching_users(
            names in proptest::collection::vec("[ab]{1,3}", 1..25),
            probe in "[abAB]{1,2}",
            property in proptest::sample::select(vec!["displayName", "userPrincipalName"]),
            kind in 0..5u8,
            descending in proptest::bool::ANY,
        ) {
            let users: Vec<User> = names
                .iter()
                .enumerate()
                .map(|(i, n)| named(i, &format!("{n}{i}@x.com"), n))
                .collect();
            let value = |u: &User| if property == "displayName" {
                u.display_name.clone().unwrap_or_default()
            } else {
                u.user_principal_name.clone()
            };
            let (filter, expected): (String, Vec<&User>) = match kind {
                0 => (
                    format!("{property} eq '{probe}'"),
                    users.iter().filter(|u| value(u).eq_ignore_ascii_case(&probe)).collect(),
                ),
                1 => (
                    format!("startswith({property},'{probe}')"),
                    users.iter().filter(|u| value(u).to_lowercase().starts_with(&probe.to_lowercase())).collect(),
                ),
                3 => (
                    format!("startswith({property},'{probe}') or ({property} eq '{}' and startswith({property},'{}'))", names[0], &names[0][..1]),
                    users.iter().filter(|u| value(u).to_lowercase().starts_with(&probe.to_lowercase()) || value(u).eq_ignore_ascii_case(&names[0])).collect(),
                ),
                4 => (
                    format!("(startswith({property},'{probe}') or startswith({property},'b')) and startswith({property},'a')"),
                    users.iter().filter(|u| {
                        let v = value(u).to_lowercase();
                        (v.starts_with(&probe.to_lowercase()) || v.starts_with('b')) && v.starts_with('a')
                    }).collect(),
                ),
                _ => (
                    format!("{property} in ('{probe}','{}')", names[0]),
                    users.iter().filter(|u| value(u).eq_ignore_ascii_case(&probe) || value(u).eq_ignore_ascii_case(&names[0])).collect(),
                ),
            };
            let query = CollectionQuery::parse(&USER, &q(&[("$filter", &filter)]), false).unwrap();
            let got: Vec<&str> = query.apply(&users).iter().map(|u| u.id.as_str()).collect();
            let want: Vec<&str> = expected.iter().map(|u| u.id.as_str()).collect();
            proptest::prop_assert_eq!(got, want);

            let order = format!("displayName {}", if descending { "desc" } else { "asc" });
            let sorted = CollectionQuery::parse(&USER, &q(&[("$orderby", &order)]), false).unwrap();
            let names_out: Vec<String> = sorted
                .apply(&users)
                .iter()
                .map(|u| u.display_name.clone().unwrap_or_default().to_lowercase())
                .collect();
            let mut again = names_out.clone();
            again.sort();
            if descending {
                again.reverse();
            }
            proptest::prop_assert_eq!(names_out.len(), users.len());
            proptest::prop_assert_eq!(names_out, again);
        }
    }

    #[test]
    fn filters_orderby_and_search_select_the_right_users() {
        let users = vec![
            user("1", "ann@contoso.com", "Ann Lee"),
            user("2", "bob@contoso.com", "Bob O'Brien"),
            user("3", "anna@contoso.com", "Anna Smith"),
        ];
        let run = |pairs: &[(&str, &str)], eventual| {
            CollectionQuery::parse(&USER, &q(pairs), eventual)
                .unwrap()
                .apply(&users)
                .iter()
                .map(|u| u.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            run(
                &[("$filter", "userPrincipalName eq 'BOB@contoso.com'")],
                false
            ),
            ["2"]
        );
        assert_eq!(
            run(&[("$filter", "displayName eq 'Bob O''Brien'")], false),
            ["2"]
        );
        assert_eq!(
            run(&[("$filter", "startswith(displayName,'ann')")], false),
            ["1", "3"]
        );
        assert_eq!(run(&[("$filter", "id in ('1','3')")], false), ["1", "3"]);
        assert_eq!(
            run(&[("$orderby", "displayName desc")], false),
            ["2", "3", "1"]
        );
        assert_eq!(run(&[("$search", "\"displayName:smi\"")], true), ["3"]);
        assert_eq!(
            run(
                &[(
                    "$filter",
                    "startswith(userPrincipalName,'ann') and id eq '3'"
                )],
                false
            ),
            ["3"]
        );
    }
}
