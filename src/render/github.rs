//! GitHub Actions workflow commands: `::error file=…,line=…,col=…::message` annotations put
//! each diagnostic on the TOML line at fault in the pull request's "Files changed" view.

use crate::diag::{Diagnostic, Severity};

/// One workflow-command line per diagnostic, in the order given.
pub fn annotations(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(origin) = &d.origin {
            properties.push(format!("file={}", escape_property(&origin.file)));
            properties.push(format!("line={}", origin.line));
            properties.push(format!("col={}", origin.column));
        }
        properties.push("title=m365ctl".to_string());
        let mut message = d.message.clone();
        if let Some(hint) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(hint);
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

/// Escaping of the message part, as `@actions/core` does it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of property values (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Origin;

    #[test]
    fn names_file_line_and_column() {
        let source = "[users.\"ann@contoso.com\"]\nlicenses = [\"E7\"]\n";
        let origin = Origin::from_span("state/users.toml", source, 38..42);
        let diags = vec![
            Diagnostic::error("unknown SKU alias \"E7\"", Some(origin))
                .with_hint("declare it under [skus], e.g. E7 = \"SKU_PART_NUMBER\""),
            Diagnostic::warning("50% of seats, 100% done", None),
        ];
        insta::assert_snapshot!(annotations(&diags));
    }
}
