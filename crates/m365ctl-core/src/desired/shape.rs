//! Shape errors, every one of them in one run, in plain words.
//!
//! serde stops at the first value of the wrong type and names Rust types ("expected usize").
//! When it fails, this module walks the parsed TOML (with spans) against the config's own JSON
//! Schema (derived from the same serde types, so the two cannot disagree on shapes) and
//! reports each wrong type, unknown key and missing key at its place: "expected a whole
//! number (0 or more), found a string". Values that need a domain hint (mailbox kinds,
//! clouds, SKU aliases) are left to the loader's semantic checks.

use super::suggest;
use serde_json::Value;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// Keys the schema leaves out on purpose but the loader accepts in order to explain them
/// (a secret written in `[tenant]`).
const EXPLAINED_KEYS: [&str; 1] = ["client_secret"];

/// One shape problem: where, what, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Byte span in the file.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// Every shape error of a syntactically valid config file (none when it parses but the
/// schema has nothing to say: the caller then falls back to serde's own message).
pub fn check(root: &serde_spanned::Spanned<DeTable<'_>>, schema: &Value) -> Vec<ShapeError> {
    let mut walker = Walker {
        definitions: &schema["definitions"],
        errors: Vec::new(),
    };
    walker.table(root.get_ref(), root.span(), schema, "");
    // Tables iterate in key order; a reader expects the file's order.
    walker.errors.sort_by_key(|e| (e.span.start, e.span.end));
    walker.errors
}

struct Walker<'s> {
    definitions: &'s Value,
    errors: Vec<ShapeError>,
}

impl<'s> Walker<'s> {
    /// Follows `$ref` and drops the `null` of an `Option` (`anyOf [X, null]`).
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let mut schema = schema;
        loop {
            if let Some(name) = schema["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/definitions/"))
            {
                schema = &self.definitions[name];
                continue;
            }
            if let Some(options) = schema["anyOf"].as_array() {
                let real: Vec<&Value> = options.iter().filter(|o| o["type"] != "null").collect();
                if let [only] = real.as_slice() {
                    schema = only;
                    continue;
                }
            }
            return schema;
        }
    }

    fn value(&mut self, value: &DeValue<'_>, span: Range<usize>, schema: &'s Value, path: &str) {
        let schema = self.resolve(schema);
        if let Some(options) = schema["anyOf"].as_array() {
            let fits = options.iter().any(|option| {
                let mut trial = Walker {
                    definitions: self.definitions,
                    errors: Vec::new(),
                };
                trial.value(value, span.clone(), option, path);
                trial.errors.is_empty()
            });
            if !fits {
                self.mismatch(span, path, &self.expected(schema), value);
            }
            return;
        }
        if let Some(constant) = schema.get("const") {
            if value.as_str() != constant.as_str() {
                self.mismatch(span, path, &self.expected(schema), value);
            }
            return;
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let fits = types.is_empty()
            || types.iter().any(|t| {
                matches!(
                    (*t, value),
                    ("object", DeValue::Table(_))
                        | ("array", DeValue::Array(_))
                        | ("string", DeValue::String(_))
                        | ("integer", DeValue::Integer(_))
                        | ("boolean", DeValue::Boolean(_))
                        | ("number", DeValue::Integer(_) | DeValue::Float(_))
                )
            });
        if !fits {
            self.mismatch(span, path, &self.expected(schema), value);
            return;
        }
        match value {
            DeValue::Table(table) => self.table(table, span, schema, path),
            DeValue::Array(items) if schema.get("items").is_some() => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.value(item.get_ref(), item.span(), &schema["items"], &item_path);
                }
            }
            DeValue::Integer(integer) => {
                let number = i128::from_str_radix(integer.as_str(), integer.radix()).ok();
                let below = schema["minimum"]
                    .as_f64()
                    .zip(number)
                    .is_some_and(|(min, n)| (n as f64) < min);
                let above = schema["maximum"]
                    .as_f64()
                    .zip(number)
                    .is_some_and(|(max, n)| (n as f64) > max);
                if below || above {
                    let found = integer.to_string();
                    self.push(
                        span,
                        format!(
                            "expected {} for `{path}`, found {found}",
                            self.expected(schema)
                        ),
                        "see docs/config.md for what the value means".to_string(),
                    );
                }
            }
            _ => {}
        }
    }

    fn table(&mut self, table: &DeTable<'_>, span: Range<usize>, schema: &'s Value, path: &str) {
        let properties = schema["properties"].as_object();
        let additional = &schema["additionalProperties"];
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let child = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{}", quote_key(name))
            };
            if let Some(property) = properties.and_then(|p| p.get(name)) {
                self.value(value.get_ref(), value.span(), property, &child);
            } else if additional.is_object() {
                self.value(value.get_ref(), value.span(), additional, &child);
            } else if !EXPLAINED_KEYS.contains(&name) && *additional == Value::Bool(false) {
                let valid: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let place = if path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in [{path}]")
                };
                self.push(
                    key.span(),
                    format!("unknown key `{name}` {place}"),
                    suggest::hint(name, "keys", &valid),
                );
            }
        }
        for required in schema["required"].as_array().into_iter().flatten() {
            let Some(required) = required.as_str() else {
                continue;
            };
            if !table.keys().any(|k| k.get_ref().as_ref() == required) {
                self.push(
                    span.clone(),
                    format!("`{path}` is missing `{required}`"),
                    format!("add {required} = ... to this table"),
                );
            }
        }
    }

    fn mismatch(&mut self, span: Range<usize>, path: &str, expected: &str, found: &DeValue<'_>) {
        self.push(
            span,
            format!(
                "expected {expected} for `{path}`, found {}",
                found_words(found)
            ),
            "see docs/config.md for the language; editors validate with m365ctl.schema.json"
                .to_string(),
        );
    }

    fn push(&mut self, span: Range<usize>, message: String, hint: String) {
        self.errors.push(ShapeError {
            span,
            message,
            hint,
        });
    }

    /// What a schema accepts, in plain words.
    fn expected(&self, schema: &'s Value) -> String {
        let schema = self.resolve(schema);
        if let Some(options) = schema["anyOf"].as_array() {
            let words: Vec<String> = options
                .iter()
                .filter(|o| o["type"] != "null")
                .map(|o| self.expected(o))
                .collect();
            return words.join(" or ");
        }
        if let Some(constant) = schema.get("const") {
            return constant.to_string();
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => Vec::new(),
        };
        let words: Vec<String> = types
            .iter()
            .map(|t| match *t {
                "object" => "a table".to_string(),
                "array" => match schema.get("items") {
                    Some(items) => format!("a list of {}", plural(&self.expected(items))),
                    None => "a list".to_string(),
                },
                "string" => "a string (in quotes)".to_string(),
                "integer" => whole_number(schema),
                "boolean" => "true or false".to_string(),
                other => other.to_string(),
            })
            .collect();
        words.join(" or ")
    }
}

/// "a whole number", with its range when the schema has one.
fn whole_number(schema: &Value) -> String {
    match (schema["minimum"].as_f64(), schema["maximum"].as_f64()) {
        (Some(min), Some(max)) => format!("a whole number from {min} to {max}"),
        (Some(min), None) => format!("a whole number ({min} or more)"),
        _ => "a whole number".to_string(),
    }
}

fn plural(words: &str) -> String {
    match words {
        "a string (in quotes)" => "strings (in quotes)".to_string(),
        other => other.trim_start_matches("a ").to_string() + "s",
    }
}

/// What was written, in plain words (never the value itself: it may be a secret).
fn found_words(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// serde's Rust type names in a fallback message, in plain words.
pub fn plain_types(message: &str) -> String {
    const WORDS: [(&str, &str); 10] = [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected a string", "expected a string (in quotes)"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a table"),
    ];
    let mut text = message.to_string();
    for (rust, plain) in WORDS {
        text = text.replace(rust, plain);
    }
    text.replace("invalid type: ", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        let root = DeTable::parse(text).expect("valid TOML");
        check(&root, &crate::desired::schema::json_schema())
            .into_iter()
            .map(|e| format!("{}: {}", &text[e.span.clone()], e.message))
            .collect()
    }

    #[test]
    fn every_wrong_type_is_reported_in_plain_words() {
        let found = errors(
            "[guards]\nmax_license_removals = -3\nmax_license_removal_percent = \"x\"\n\n\
             [profiles.a]\nlicenses = 3\n\n[[rules]]\nmatch = { department = 1 }\nprofile = \"a\"\npriority = \"high\"\n",
        );
        assert_eq!(
            found,
            [
                "-3: expected a whole number (0 or more) for `guards.max_license_removals`, found -3",
                "\"x\": expected a whole number from 0 to 100 for `guards.max_license_removal_percent`, found a string",
                "3: expected a list of strings (in quotes) or \"keep\" for `profiles.a.licenses`, found a whole number",
                "1: expected a string (in quotes) or a list of strings (in quotes) for `rules[0].match.department`, found a whole number",
                "\"high\": expected a whole number for `rules[0].priority`, found a string",
            ]
        );
    }

    #[test]
    fn unknown_and_missing_keys_are_all_reported() {
        let found = errors(
            "[users.\"a@b.c\"]\nlicences = []\nmailbx = \"user\"\n\n[[rules]]\nmatch = {}\n",
        );
        assert_eq!(
            found,
            [
                "licences: unknown key `licences` in [users.\"a@b.c\"]",
                "mailbx: unknown key `mailbx` in [users.\"a@b.c\"]",
                "[[rules]]: `rules[0]` is missing `profile`",
            ]
        );
    }

    #[test]
    fn plain_types_rewrites_rust_names() {
        assert_eq!(
            plain_types("invalid type: string \"x\", expected usize"),
            "string \"x\", expected a whole number (0 or more)"
        );
    }
}
