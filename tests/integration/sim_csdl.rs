//! Every property the fake Graph emits exists in Microsoft's v1.0 metadata with the right JSON
//! type: the fake is checked against `tests/fixtures/graph-v1.0-subset.csdl` (a verbatim
//! subset of `v1.0-Prod.csdl`), not against what m365ctl happens to read.

use crate::common::fake;
use crate::fx;

use m365ctl::sim::SimOptions;
use m365ctl::sim::schema::{self, Shape};
use serde_json::Value;
use std::collections::BTreeMap;

const CSDL: &str = include_str!("../fixtures/graph-v1.0-subset.csdl");

/// One declared property: its EDM type and whether `null` is allowed.
#[derive(Debug, Clone)]
struct Property {
    edm: String,
    nullable: bool,
}

/// A structured type: its base type, properties and navigation property names.
#[derive(Debug, Default)]
struct StructuredType {
    base: Option<String>,
    properties: Vec<(String, Property)>,
    navigation: Vec<String>,
}

fn attribute<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = line[start..].find('"')? + start;
    Some(&line[start..end])
}

/// The fixture's types by name (the subset is line-per-element, as Microsoft publishes it).
fn types() -> BTreeMap<String, StructuredType> {
    let mut types = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in CSDL.lines().map(str::trim) {
        if line.starts_with("<EntityType ") || line.starts_with("<ComplexType ") {
            let name = attribute(line, "Name")
                .expect("a type has a name")
                .to_string();
            let base =
                attribute(line, "BaseType").map(|b| b.trim_start_matches("graph.").to_string());
            types.insert(
                name.clone(),
                StructuredType {
                    base,
                    ..StructuredType::default()
                },
            );
            current = (!line.ends_with("/>")).then_some(name);
        } else if line.starts_with("<Property ") {
            let name = attribute(line, "Name").expect("a property has a name");
            let property = Property {
                edm: attribute(line, "Type")
                    .expect("a property has a type")
                    .to_string(),
                nullable: attribute(line, "Nullable") != Some("false"),
            };
            let owner = current.as_ref().expect("a property inside a type");
            types
                .get_mut(owner)
                .unwrap()
                .properties
                .push((name.to_string(), property));
        } else if line.starts_with("<NavigationProperty ") {
            let name = attribute(line, "Name").expect("a navigation property has a name");
            let owner = current
                .as_ref()
                .expect("a navigation property inside a type");
            types
                .get_mut(owner)
                .unwrap()
                .navigation
                .push(name.to_string());
        } else if line.starts_with("</EntityType") || line.starts_with("</ComplexType") {
            current = None;
        }
    }
    types
}

fn property<'a>(
    types: &'a BTreeMap<String, StructuredType>,
    type_name: &str,
    name: &str,
) -> Option<&'a Property> {
    let mut next = Some(type_name.to_string());
    while let Some(t) = next {
        let declared = types.get(&t)?;
        if let Some((_, p)) = declared.properties.iter().find(|(n, _)| n == name) {
            return Some(p);
        }
        next = declared.base.clone();
    }
    None
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_date_time(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T'
}

/// Checks one value against an EDM type; problems go to `errors`.
fn check_value(
    types: &BTreeMap<String, StructuredType>,
    edm: &str,
    nullable: bool,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    if value.is_null() {
        if !nullable {
            errors.push(format!("{at}: null but {edm} is not nullable"));
        }
        return;
    }
    if let Some(inner) = edm
        .strip_prefix("Collection(")
        .and_then(|e| e.strip_suffix(')'))
    {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_value(types, inner, false, item, &format!("{at}[{i}]"), errors);
                }
            }
            None => errors.push(format!("{at}: {value} is not a collection ({edm})")),
        }
        return;
    }
    let ok = match edm {
        "Edm.String" => value.is_string(),
        "Edm.Guid" => value.as_str().is_some_and(is_guid),
        "Edm.DateTimeOffset" => value.as_str().is_some_and(is_date_time),
        "Edm.Int32" | "Edm.Int64" => value.is_i64() || value.is_u64(),
        "Edm.Boolean" => value.is_boolean(),
        complex => {
            let name = complex.trim_start_matches("graph.");
            if types.contains_key(name) {
                check_object(types, name, value, at, errors);
                true
            } else {
                errors.push(format!(
                    "{at}: {value} has type {edm}, which the fixture does not describe"
                ));
                true
            }
        }
    };
    if !ok {
        errors.push(format!("{at}: {value} is not a valid {edm}"));
    }
}

/// Checks every property of an object of `type_name`.
fn check_object(
    types: &BTreeMap<String, StructuredType>,
    type_name: &str,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let Some(object) = value.as_object() else {
        errors.push(format!("{at}: {value} is not an object ({type_name})"));
        return;
    };
    for (key, v) in object {
        if key.starts_with("@odata.") {
            continue;
        }
        match property(types, type_name, key) {
            Some(p) => check_value(types, &p.edm, p.nullable, v, &format!("{at}.{key}"), errors),
            None => errors.push(format!("{at}.{key}: not a property of {type_name}")),
        }
    }
}

fn all_properties(declared: &[(&str, Shape)]) -> String {
    schema::DIRECTORY_OBJECT
        .iter()
        .chain(declared)
        .map(|(p, _)| *p)
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_fakes_property_tables_are_the_metadatas() {
    let types = types();
    for (type_name, table) in [("user", schema::USER), ("group", schema::GROUP)] {
        let declared: Vec<(&str, Shape)> = types[type_name]
            .properties
            .iter()
            .map(|(n, p)| {
                let shape = if p.edm.starts_with("Collection(") {
                    Shape::Collection
                } else {
                    Shape::Single
                };
                (n.as_str(), shape)
            })
            .collect();
        assert_eq!(declared, table, "sim::schema for {type_name}");
    }
    assert_eq!(types["user"].navigation, schema::USER_NAVIGATION);
    assert_eq!(types["group"].navigation, schema::GROUP_NAVIGATION);
    assert_eq!(types["user"].base.as_deref(), Some("directoryObject"));
    assert_eq!(types["directoryObject"].base.as_deref(), Some("entity"));
}

#[test]
fn the_checker_rejects_what_the_metadata_does_not_allow() {
    let types = types();
    let mut errors = Vec::new();
    let bad = serde_json::json!({
        "id": "u1",
        "shoeSize": 44,
        "accountEnabled": "yes",
        "assignedLicenses": [{"skuId": "not-a-guid", "disabledPlans": null}],
        "businessPhones": null,
    });
    check_object(&types, "user", &bad, "user", &mut errors);
    let text = errors.join("\n");
    for expected in [
        "shoeSize",
        "accountEnabled",
        "skuId",
        "disabledPlans",
        "businessPhones",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not reported in:\n{text}"
        );
    }
}

/// Reads every shape the fake serves, with every property selected, and checks each object.
#[tokio::test]
async fn every_property_the_fake_emits_is_in_the_v1_metadata_with_its_type() {
    let types = types();
    let synth = m365ctl::synth::generate(&m365ctl::synth::SynthSpec::served(120, 5));
    let fake = fx::start(synth.tenant.clone(), SimOptions::default()).await;
    let bearer = fake::graph_token(&fake).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http
            .get(format!("{}/v1.0{path}", fake.graph_host()))
            .bearer_auth(&bearer)
            .send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let single_user_only = [
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
    ];
    let collection_user_select: String = all_properties(schema::USER)
        .split(',')
        .filter(|p| !single_user_only.contains(p))
        .collect::<Vec<_>>()
        .join(",");
    let group_only_single = [
        "allowExternalSenders",
        "autoSubscribeNewMembers",
        "hideFromAddressLists",
        "hideFromOutlookClients",
        "isSubscribedByMail",
        "unseenCount",
    ];
    let collection_group_select: String = all_properties(schema::GROUP)
        .split(',')
        .filter(|p| !group_only_single.contains(p))
        .collect::<Vec<_>>()
        .join(",");
    let licensed_group = synth
        .tenant
        .groups
        .iter()
        .find(|g| !g.licenses.is_empty())
        .expect("a licensed group");
    let inheriting_user = &licensed_group.members[0];

    let mut checked: Vec<(&str, Value)> = Vec::new();
    for user in get(format!("/users?$top=999&$select={collection_user_select}")).await["value"]
        .as_array()
        .unwrap()
    {
        checked.push(("user", user.clone()));
    }
    checked.push((
        "user",
        get(format!(
            "/users/{inheriting_user}?$select={}",
            all_properties(schema::USER)
        ))
        .await,
    ));
    for user in get("/users".into()).await["value"].as_array().unwrap() {
        checked.push(("user", user.clone()));
    }
    for group in get(format!(
        "/groups?$top=999&$select={collection_group_select}"
    ))
    .await["value"]
        .as_array()
        .unwrap()
    {
        checked.push(("group", group.clone()));
    }
    checked.push((
        "group",
        get(format!(
            "/groups/{}?$select={}",
            licensed_group.id,
            all_properties(schema::GROUP)
        ))
        .await,
    ));
    checked.push(("group", get(format!("/groups/{}", licensed_group.id)).await));
    for member in get(format!("/groups/{}/members", licensed_group.id)).await["value"]
        .as_array()
        .unwrap()
    {
        checked.push(("user", member.clone()));
    }
    for sku in get("/subscribedSkus".into()).await["value"]
        .as_array()
        .unwrap()
    {
        checked.push(("subscribedSku", sku.clone()));
    }

    let mut errors = Vec::new();
    let mut properties = 0;
    for (type_name, value) in &checked {
        properties += value.as_object().map_or(0, |o| o.len());
        check_object(&types, type_name, value, type_name, &mut errors);
    }
    assert!(
        checked.len() > 150 && properties > 5_000,
        "{} objects, {properties} properties",
        checked.len()
    );
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors[..errors.len().min(40)].join("\n")
    );
    // The model's facts are really there (not only nulls): licences, states, sync flags.
    let with_states = checked
        .iter()
        .filter(|(_, v)| {
            v["licenseAssignmentStates"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert!(with_states > 50);
}
