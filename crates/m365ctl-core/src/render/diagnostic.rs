//! Diagnostics as rustc-style snippets: `file:line:col`, the source line with the span
//! underlined, and `= hint: …`. The caller reads the file (at render time) and passes its
//! text in; without it the one-line form is used.

use super::escape::{shorten, terminal, terminal_same_offsets};
use crate::diag::{Diagnostic, Severity};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// Messages and hints longer than this are cut (they may quote a config value).
const MAX_MESSAGE_CHARS: usize = 500;

/// Source lines longer than this are not shown in a snippet.
const MAX_SOURCE_LINE_BYTES: usize = 1000;

/// Renders one diagnostic; `source` is the text of `diagnostic.origin.file`, when readable.
pub fn render(diagnostic: &Diagnostic, source: Option<&str>, color: bool) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    // Messages, hints, paths and source lines carry config and tenant text: escaped for the
    // terminal / CI log (the source keeps its byte offsets so the spans still point right).
    let message = lines_for_terminal(&shorten(&diagnostic.message, MAX_MESSAGE_CHARS));
    let hint_text = diagnostic
        .hint
        .as_deref()
        .map(|h| terminal(&shorten(h, MAX_MESSAGE_CHARS)).into_owned());
    let hint = hint_text
        .as_deref()
        .map(|h| Level::HELP.with_name(Some("hint")).message(h));
    // Secrets pasted into the file are starred out first, then the text is escaped; both
    // keep byte offsets, so the spans still point right.
    let redacted = source.map(redact_secrets);
    let source = redacted.as_deref().map(terminal_same_offsets);
    let located = diagnostic.origin.as_ref().and_then(|origin| {
        let source = source.as_deref()?;
        let span = clamp_span(source, origin.byte_span())?;
        // A huge line (a 1 MB value) is not echoed: the one-line form names the place.
        let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[span.start..]
            .find('\n')
            .map_or(source.len(), |i| span.start + i);
        (line_end - line_start <= MAX_SOURCE_LINE_BYTES).then_some((origin, source, span))
    });
    let path = diagnostic
        .origin
        .as_ref()
        .map(|o| terminal(&o.file).into_owned());
    let group = match located {
        Some((_, source, span)) => level.primary_title(message.as_str()).element(
            Snippet::source(source)
                .path(path.as_deref().unwrap_or_default())
                .annotation(AnnotationKind::Primary.span(span)),
        ),
        None => {
            let heading = match &diagnostic.origin {
                Some(origin) => format!("{}: {message}", terminal(&origin.to_string())),
                None => message.to_string(),
            };
            Group::with_title(level.primary_title(heading))
        }
    };
    let group = match hint {
        Some(hint) => group.element(hint),
        None => group,
    };
    let mut text = renderer.render(&[group]).to_string();
    text.push('\n');
    text
}

/// A message for the terminal, line by line: some messages list several problems, one per
/// line (a snapshot's, a tampered plan's), so line breaks are kept and each line is escaped
/// (no control byte, no workflow command). Values embedded in such messages are escaped where
/// the message is built.
fn lines_for_terminal(message: &str) -> String {
    message
        .split('\n')
        .map(|line| terminal(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `source` with the value of every secret-looking key starred out, byte for byte (spans
/// stay valid): a secret pasted into the config must not be echoed into a terminal or a CI
/// log by the very error that reports it.
pub fn redact_secrets(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        match secret_value(line) {
            Some(value) => {
                let start = value.start;
                out.push_str(&line[..start]);
                for c in line[value.clone()].chars() {
                    out.extend(std::iter::repeat_n('*', c.len_utf8()));
                }
                out.push_str(&line[value.end..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// The byte range of the quoted value's contents on a `key = "value"` line whose key names
/// a secret (`client_secret`, `password`, ...); `client_secret_env` only when its value is
/// not an environment variable's name.
fn secret_value(line: &str) -> Option<std::ops::Range<usize>> {
    let (key, rest) = line.split_once('=')?;
    let key = key.trim().trim_matches('"').to_ascii_lowercase();
    let secretive = ["secret", "password", "passwd", "private_key"]
        .iter()
        .any(|word| key.contains(word));
    if !secretive {
        return None;
    }
    let offset = line.len() - rest.len();
    let open = rest.find(['"', '\''])?;
    let quote = rest[open..].chars().next()?;
    let close = rest[open + 1..]
        .find(quote)
        .map(|i| open + 1 + i)
        .unwrap_or(rest.trim_end().len());
    let value = &rest[open + 1..close];
    let env_name = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if key.ends_with("_env") && env_name {
        return None;
    }
    Some(offset + open + 1..offset + close)
}

/// A span that lies inside `source` on char boundaries and on one line (a parser's span
/// that runs past the end of the line would draw the error on the next one); an empty span
/// grows to one char so the underline is visible, the last char of the line at its end.
fn clamp_span(source: &str, span: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    if span.start > source.len() || !source.is_char_boundary(span.start) {
        return None;
    }
    let mut start = span.start;
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(newline) = source[start..end].find(['\r', '\n']) {
        end = start + newline;
    }
    if end == start {
        match source[start..].chars().next() {
            Some(c) if c != '\n' && c != '\r' => end = start + c.len_utf8(),
            _ => {
                if let Some(previous) = source[..start].chars().next_back().filter(|c| *c != '\n') {
                    start -= previous.len_utf8();
                }
            }
        }
    }
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Origin;

    const SOURCE: &str =
        "[skus]\nE3 = \"ENTERPRISEPACK\"\n\n[users.\"ann@contoso.com\"]\nlicenses = [\"E7\"]\n";

    fn unknown_alias() -> Diagnostic {
        let start = SOURCE.find("\"E7\"").unwrap();
        Diagnostic::error(
            "unknown SKU alias \"E7\"",
            Some(Origin::from_span(
                "state/users.toml",
                SOURCE,
                start..start + 4,
            )),
        )
        .with_hint("declare it under [skus], e.g. E7 = \"SKU_PART_NUMBER\"")
    }

    #[test]
    fn snippet_names_file_line_and_column_and_underlines_the_span() {
        let text = render(&unknown_alias(), Some(SOURCE), false);
        assert!(text.contains("state/users.toml:5:13"), "{text}");
        assert!(text.contains("^^^^"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn without_source_falls_back_to_one_line() {
        let text = render(&unknown_alias(), None, false);
        assert!(
            text.starts_with("error: state/users.toml:5:13: unknown SKU alias"),
            "{text}"
        );
        assert!(text.contains("hint: declare it under [skus]"), "{text}");
    }

    #[test]
    fn a_secret_in_the_file_is_starred_out_of_the_snippet() {
        let source = "[tenant]\nauth = \"secret\"\nclient_secret = \"abc~Q8é.secret\"\nclient_secret_env = \"M365CTL_CLIENT_SECRET\"\n";
        let start = source.find("\"abc").unwrap();
        let d = Diagnostic::error(
            "a secret is written directly in the config",
            Some(Origin::from_span("m365ctl.toml", source, start..start + 17)),
        );
        let text = render(&d, Some(source), false);
        assert!(!text.contains("abc~Q8"), "{text}");
        let stars = format!("\"{}\"", "*".repeat("abc~Q8é.secret".len()));
        assert!(text.contains(&stars), "{text}");
        let redacted = redact_secrets(source);
        assert_eq!(redacted.len(), source.len());
        assert!(redacted.contains("client_secret_env = \"M365CTL_CLIENT_SECRET\""));
        assert!(redacted.contains("auth = \"secret\""));
        insta::assert_snapshot!(text);
    }

    /// The parser points just past an unclosed string: the snippet stays on that line.
    #[test]
    fn a_span_at_the_end_of_a_line_stays_on_that_line() {
        let source = "[skus]\nE3 = \"ENTERPRISEPACK\n\n[scope]\n";
        let at = source.find("PACK\n").unwrap() + 4;
        let d = Diagnostic::error(
            "invalid basic string, expected `\"`",
            Some(Origin::from_span("m365ctl.toml", source, at..at + 2)),
        );
        let text = render(&d, Some(source), false);
        assert!(!text.contains(" 3 |"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn out_of_range_span_does_not_panic() {
        let mut d = unknown_alias();
        d.origin.as_mut().unwrap().span = 10_000..10_004;
        let text = render(&d, Some(SOURCE), false);
        assert!(text.contains("unknown SKU alias"));
    }
}
