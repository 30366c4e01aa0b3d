//! JSON Schema of the config file, for editors (Taplo / Even Better TOML read draft-07):
//! completion, hover documentation and validation while typing, from the same types the
//! loader parses with, so the schema cannot drift from the language.

use super::raw::RawFile;
use schemars::generate::SchemaSettings;

/// The draft-07 JSON Schema of one config file.
pub fn json_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<RawFile>();
    schema.to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_draft07_and_closed() {
        let schema = json_schema();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema["properties"]["users"]["description"].is_string());
    }

    /// Every property of every object in the schema carries a description (hover docs).
    #[test]
    fn every_property_is_documented() {
        fn walk(value: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
            if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
                for (name, prop) in props {
                    if prop.get("description").is_none() {
                        missing.push(format!("{path}.{name}"));
                    }
                }
            }
            if let Some(map) = value.as_object() {
                for (k, v) in map {
                    walk(v, &format!("{path}/{k}"), missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&json_schema(), "", &mut missing);
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }
}
