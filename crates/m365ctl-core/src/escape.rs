//! One escape function per output format, applied to every string that did not come from
//! m365ctl itself: UPNs, group names, SKU part numbers and service plan names, usage
//! locations, status strings, diagnostic messages and hints, file paths and source lines.
//! Those come from the tenant, a snapshot or a pull request's config, and end up in a CI log,
//! a pull-request comment or a terminal, where they must not be able to act:
//!
//! - terminal and CI log (`terminal`): no control byte (ESC sequences, `\r` overwrites,
//!   newlines that start a line of their own), no bidirectional override (Trojan Source), and
//!   no GitHub workflow command: the runner executes `::cmd::` at the start of a line (after
//!   leading whitespace) and the legacy `##[cmd]` anywhere in a line (actions/runner
//!   `ActionCommand.TryParseV2` / `TryParse`), so `::` and `##[` are broken up by a zero-width
//!   space. This holds with colour on: colour codes are added around escaped text.
//! - workflow command values (`workflow_data`, `workflow_property`): GitHub's documented
//!   escapes (`%` `%25`, `\r` `%0D`, `\n` `%0A`, and `:` `%3A`, `,` `%2C` in properties;
//!   docs.github.com "Workflow commands for GitHub Actions", as `@actions/core` does).
//! - markdown text (`markdown_text`): no HTML, link, heading, list, quote, table cell break,
//!   code span, math, emphasis or @mention: inline metacharacters are backslash-escaped
//!   anywhere (`_` wherever it could flank emphasis, so `SPE_E3` stays as it is), block
//!   openers at the start, and an `@` that could start a mention (not after a letter or digit)
//!   is followed by a zero-width space. `markdown_html` is for text inside an HTML block (the
//!   `<summary>` line), where markdown is not parsed and entities are used instead. Lines in a
//!   fenced ```diff block only need `terminal` (no newline can end the fence), and a code span
//!   outside tables only needs its backticks replaced (`markdown_code_span`).
//! - JSON (`json_document`): serde_json escapes C0 controls; DEL, C1 controls and bidi
//!   overrides are escaped as `\uXXXX` too, and `##[` is written `#\u0023[` (same value).

use std::borrow::Cow;

/// Characters that can change what a terminal or log viewer shows beyond their own glyph:
/// C0/C1 controls and DEL, bidirectional embeddings, overrides, isolates and marks, and the
/// Unicode line and paragraph separators.
fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Breaks up workflow-command openers with a zero-width space (it shows nothing and is not
/// part of any opener, so escaping twice changes nothing).
const BREAK: char = '\u{200B}';

/// Untrusted text for a terminal or CI log: hostile characters shown as `\u{XX}`, workflow
/// command openers `::` and `##[` broken up.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hostile) && !text.contains("::") && !text.contains("##[") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous = None;
    for c in text.chars() {
        if is_hostile(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            previous = None;
            continue;
        }
        match (previous, c) {
            (Some(':'), ':') | (Some('#'), '#') => out.push(BREAK),
            _ => {}
        }
        out.push(c);
        previous = Some(c);
    }
    // `#` + break + `#[` is inert; a lone `#` before `#[` was handled above.
    Cow::Owned(out)
}

/// `text` cut after `max_chars` characters, saying how much was left out: a 1 MB value in a
/// config must not be echoed whole into a terminal or CI log.
pub fn shorten(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… ({} more bytes)",
            &text[..cut],
            text.len() - cut
        )),
    }
}

/// Untrusted source text for a snippet whose spans index into it: every hostile character is
/// replaced by `?`-like characters of the same UTF-8 length, and the `#` of `##[` by `?`, so
/// offsets stay valid.
pub fn terminal_same_offsets(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hostile(c) && c != '\n') && !text.contains("##[") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || !is_hostile(c) {
            out.push(c);
        } else {
            out.push_str(match c.len_utf8() {
                1 => "?",
                2 => "\u{BF}",
                _ => "\u{FFFD}",
            });
        }
    }
    Cow::Owned(out.replace("##[", "#?["))
}

/// The message part of a workflow command (after `::`), from untrusted text.
pub fn workflow_data(text: &str) -> String {
    escape_data(&terminal(text))
}

/// Escaping of the message part exactly as GitHub documents it, for text whose parts were
/// already made safe (our own `\n` between a message and its hint becomes `%0A`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of a workflow command (`file=…`), from untrusted text.
pub fn workflow_property(text: &str) -> String {
    workflow_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Untrusted text as inline code in a markdown table cell: `<code>…</code>` with the
/// content escaped like `markdown_text` (a backtick code span could not escape a backtick).
/// A possible @mention is broken up here too: whether a renderer links mentions inside inline
/// HTML code is its choice, not ours to rely on.
pub fn markdown_code(text: &str) -> String {
    format!("<code>{}</code>", markdown_text(text))
}

/// Untrusted text as a markdown code span (`` `…` ``) outside tables: the content of a code span
/// is literal (no HTML, emphasis, links or mentions), and only a backtick or a line ending can
/// end it, so backticks become `'` and control characters are shown escaped. Not for table
/// cells: GitHub splits cells at `|` even inside code spans (`markdown_code` is for those).
pub fn markdown_code_span(text: &str) -> String {
    format!("`{}`", terminal(text).replace('`', "'"))
}

/// Untrusted text in markdown (paragraphs, table cells, block quotes).
///
/// `_` is escaped unless its run sits between two ASCII letters or digits of the text itself
/// (`SPE_E3`, `EXCHANGE_S_ENTERPRISE` stay readable in the raw comment): such a run is both
/// left- and right-flanking and neither preceded nor followed by punctuation, so by the GFM
/// spec (6.2, rules 2 and 4) it can neither open nor close emphasis, and ASCII alphanumerics
/// are neither whitespace nor punctuation in any spec version. A run at either end of the text
/// is escaped: what the surrounding template puts next to it is not known here. `*` is
/// escaped everywhere because it does open emphasis inside words.
pub fn markdown_text(text: &str) -> String {
    let safe = terminal(text);
    let chars: Vec<char> = safe.chars().collect();
    let inert_underscores = intraword_underscores(&chars);
    let mut out = String::with_capacity(safe.len() + 8);
    // Block syntax only counts at the start of a line, and the text has no line breaks (see
    // `terminal`): only its first character (after spaces) and the `.` or `)` after a leading
    // number can open a heading, quote, list, fence or setext underline.
    let (mut only_spaces, mut number_so_far, mut seen_digit) = (true, true, false);
    let mut previous = ' ';
    for (i, &c) in chars.iter().enumerate() {
        match c {
            // Inline syntax anywhere: escapes, code spans, HTML and autolinks, links and images,
            // table cells, entities (which could spell an `@`), math, emphasis, strikethrough.
            '\\' | '`' | '<' | '>' | '[' | ']' | '|' | '&' | '$' | '*' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '_' if !inert_underscores[i] => out.push_str("\\_"),
            '#' | '-' | '+' | '=' if only_spaces => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if number_so_far && seen_digit => {
                out.push('\\');
                out.push(c);
            }
            '@' if starts_mention(previous) => {
                out.push_str("\\@");
                out.push(BREAK);
            }
            _ => out.push(c),
        }
        only_spaces &= c == ' ';
        number_so_far &= c.is_ascii_digit() || (c == ' ' && !seen_digit);
        seen_digit |= c.is_ascii_digit();
        previous = c;
    }
    // Leading spaces could indent a code block, two trailing ones make a line break, and any
    // whitespace at either end (U+00A0 too) would stop a surrounding `**` from opening or
    // closing (GFM spec 6.2, flanking): as entities they are only the same characters.
    let body = out.trim_matches(char::is_whitespace);
    if body.len() == out.len() {
        return out;
    }
    let lead = out.len() - out.trim_start_matches(char::is_whitespace).len();
    let (head, tail) = (&out[..lead], &out[lead + body.len()..]);
    format!("{}{body}{}", entities(head), entities(tail))
}

/// Every character of `text` as a decimal character reference (` ` is `&#32;`).
fn entities(text: &str) -> String {
    text.chars()
        .map(|c| format!("&#{};", u32::from(c)))
        .collect()
}

/// For each character, whether it is a `_` in a run between two ASCII letters or digits (a run
/// that can neither open nor close emphasis, see `markdown_text`).
fn intraword_underscores(chars: &[char]) -> Vec<bool> {
    let mut inert = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '_' {
            i += 1;
            continue;
        }
        let end = i + chars[i..].iter().take_while(|&&c| c == '_').count();
        let between_words = i > 0
            && chars[i - 1].is_ascii_alphanumeric()
            && chars.get(end).is_some_and(char::is_ascii_alphanumeric);
        inert[i..end].fill(between_words);
        i = end;
    }
    inert
}

/// Whether an `@` after `previous` could start a GitHub @mention: mentions need a non-word
/// character (or the start) before the `@`, so `ann@contoso.com` stays as it is while
/// `@admins` is broken up.
fn starts_mention(previous: char) -> bool {
    !(previous.is_alphanumeric() || previous == '_')
}

/// Untrusted text as code inside an HTML block (the `<summary>` line, where markdown is not
/// parsed): `<code>…</code>` with entities, a possible @mention broken up.
pub fn markdown_html_code(text: &str) -> String {
    let safe = terminal(text);
    let mut out = String::with_capacity(safe.len() + 16);
    out.push_str("<code>");
    let mut previous = ' ';
    for c in safe.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            '|' => out.push_str("&#124;"),
            '@' if starts_mention(previous) => out.push_str("&#64;\u{200B}"),
            _ => out.push(c),
        }
        previous = c;
    }
    out.push_str("</code>");
    out
}

/// A serialised JSON document made inert for terminals and CI logs without changing its
/// value: these characters can only occur inside strings, where `\uXXXX` means the same.
pub fn json_document(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut hashes = 0usize;
    for c in json.chars() {
        if is_hostile(c) && c != '\n' {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
            hashes = 0;
            continue;
        }
        if c == '[' && hashes >= 2 {
            // `##[` becomes `#\u0023[`: the last `#` is re-emitted escaped.
            out.pop();
            out.push_str("\\u0023");
        }
        hashes = if c == '#' { hashes + 1 } else { 0 };
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_shows_controls_and_breaks_commands() {
        assert_eq!(terminal("ann@contoso.com"), "ann@contoso.com");
        assert_eq!(terminal("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(
            terminal("x\n::add-mask::y"),
            "x\\u{a}:\u{200B}:add-mask:\u{200B}:y"
        );
        assert_eq!(terminal("##[error]x"), "#\u{200B}#[error]x");
        assert_eq!(terminal(&terminal("::a##[")), terminal("::a##["));
    }

    #[test]
    fn same_offsets_keeps_byte_positions() {
        let text = "a\x1b\u{85}\u{202E}##[x]\nb";
        let safe = terminal_same_offsets(text);
        assert_eq!(safe.len(), text.len());
        assert!(!safe.contains("##[") && !safe.contains('\x1b'), "{safe}");
    }

    #[test]
    fn json_value_is_unchanged() {
        let value = serde_json::json!({"a": "##[add-mask]x \u{9b}31m \u{7f} \u{202e} ok"});
        let text = json_document(&serde_json::to_string_pretty(&value).unwrap());
        assert!(!text.contains("##[") && !text.contains('\u{9b}'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
