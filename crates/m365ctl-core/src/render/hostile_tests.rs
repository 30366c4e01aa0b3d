//! Hostile tenant, snapshot and config strings through every renderer (issue 14, item 3).
//!
//! Every string that is not m365ctl's own (UPNs, group names, SKU part numbers, service plan
//! names, usage locations, reasons, diagnostic messages, hints and file paths, the config
//! source shown in snippets) is replaced by generated hostile text: workflow commands, ANSI
//! escapes, C1 controls, bidi overrides, newlines, markdown and HTML. The outputs must carry no
//! workflow command but ours, no escape or control byte (with colour: none but our own SGR
//! codes), the same number of lines as a benign plan (stdout formats), and the same markdown
//! structure.

use super::escape;
use super::{diagnostic, github, human, json, markdown};
use crate::diag::{Diagnostic, Origin};
use crate::plan::ops::{
    AddGroupMember, AssignGroupLicenses, AssignLicenses, ConvertMailbox, RemoveGroupMember,
    SetSignIn, SetUsageLocation,
};
use crate::plan::{OpKind, Plan};
use proptest::prelude::*;

/// Fragments an attacker would try, mixed with arbitrary characters.
fn hostile() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("::add-mask::".to_string()),
        Just("::stop-commands::tok".to_string()),
        Just("::error file=x::boom".to_string()),
        Just("##[add-mask]x".to_string()),
        Just("\n::warning::x\n".to_string()),
        Just("\r".to_string()),
        Just("\x1b[31m".to_string()),
        Just("\x1b]8;;http://x\x07".to_string()),
        Just("\u{9b}2J".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{2028}".to_string()),
        Just("```".to_string()),
        Just("\n```\n# Approved\n".to_string()),
        Just("<script>".to_string()),
        Just("</details></summary>".to_string()),
        Just("<!--".to_string()),
        Just("# ".to_string()),
        Just("1. ".to_string()),
        Just("- ".to_string()),
        Just("> ".to_string()),
        Just("@admins".to_string()),
        Just("|".to_string()),
        Just("`".to_string()),
        Just("*x*".to_string()),
        Just("_".to_string()),
        Just("_x_".to_string()),
        Just("__x__".to_string()),
        Just("SPE_E3".to_string()),
        Just("$x$".to_string()),
        Just("[a](http://x)".to_string()),
        Just("&lt;".to_string()),
        Just("%0A".to_string()),
        Just("\\".to_string()),
        any::<char>().prop_map(String::from),
        "[ -~]{1,4}",
    ];
    proptest::collection::vec(fragment, 0..6).prop_map(|parts| parts.concat())
}

/// The fixture plan with every untrusted string taken, in turn, from `strings`.
fn hostile_plan(strings: &[String]) -> Plan {
    let mut next = {
        let mut i = 0;
        move || {
            i += 1;
            strings[i % strings.len()].clone()
        }
    };
    let mut plan = super::fixtures::every_kind();
    for op in &mut plan.operations {
        op.reasons = op.reasons.iter().map(|_| next()).collect();
        match &mut op.kind {
            OpKind::SetUsageLocation(SetUsageLocation { upn, from, to, .. }) => {
                *upn = next();
                *from = Some(next());
                *to = next();
            }
            OpKind::AssignLicenses(AssignLicenses {
                upn, add, remove, ..
            }) => {
                *upn = next();
                licences(add, remove, &mut next);
            }
            OpKind::AssignGroupLicenses(AssignGroupLicenses {
                group, add, remove, ..
            }) => {
                *group = next();
                licences(add, remove, &mut next);
            }
            OpKind::AddGroupMember(AddGroupMember { group, upn, .. })
            | OpKind::RemoveGroupMember(RemoveGroupMember { group, upn, .. }) => {
                *group = next();
                *upn = next();
            }
            OpKind::ConvertMailbox(ConvertMailbox { upn, .. })
            | OpKind::SetSignIn(SetSignIn { upn, .. }) => *upn = next(),
        }
    }
    // A dependency the plan does not contain is shown by its (untrusted) id.
    plan.operations[0].depends_on.push(next());
    for seat in &mut plan.seats {
        seat.sku_part_number = next();
    }
    for change in &mut plan.exchange_changes {
        change.upn = next();
    }
    for e in &mut plan.license_errors {
        e.upn = next();
        e.sku_part_number = next();
        e.group = next();
        e.state = next();
        e.error = Some(next());
        e.remedy = next();
    }
    let source = next();
    plan.diagnostics = vec![
        Diagnostic::error(
            next(),
            Some(Origin::from_span(&next(), &source, 0..source.len())),
        )
        .with_hint(next()),
        Diagnostic::warning(next(), None).with_hint(next()),
    ];
    plan
}

fn licences(
    add: &mut [crate::plan::LicenseGrant],
    remove: &mut [crate::plan::LicenseRemoval],
    next: &mut impl FnMut() -> String,
) {
    for g in add {
        g.sku_part_number = next();
        g.disabled_plan_names = g.disabled_plan_names.iter().map(|_| next()).collect();
        if let Some(before) = &mut g.replaces_disabled {
            *before = before.iter().map(|_| next()).collect();
        }
    }
    for r in remove {
        r.sku_part_number = next();
    }
}

/// Every output a plan can produce, by name: (format, text, is it a log/terminal stream).
fn outputs(plan: &Plan) -> Vec<(&'static str, String)> {
    let opts = |color| human::HumanOptions {
        color,
        wording: super::Wording::Plan,
    };
    let md = markdown::render(
        plan,
        markdown::MarkdownOptions {
            max_chars: usize::MAX,
            ..Default::default()
        },
    );
    let mut github_log = github::annotations(&plan.diagnostics, &github::RepoPaths::default());
    github_log.push_str(&human::render(plan, opts(false)));
    let snippets: String = plan
        .diagnostics
        .iter()
        .map(|d| {
            let source = d
                .origin
                .as_ref()
                .map(|_| "x = \"##[add-mask]\x1b[2J\u{202e}\"\n");
            diagnostic::render(d, source, false)
        })
        .collect();
    vec![
        ("human", human::render(plan, opts(false))),
        ("markdown", md),
        ("github", github_log),
        ("json", json::render(plan)),
        ("diagnostic", snippets),
    ]
}

/// Lines the GitHub runner would execute as workflow commands.
fn command_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .collect()
}

fn hostile_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Removes the SGR colour codes anstyle writes (`ESC [ digits/; m`).
fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .filter(|&i| after[i..].starts_with('m'));
        match end {
            Some(i) => rest = &after[i + 1..],
            None => {
                out.push_str("\x1b[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `@` signs outside fenced code and code spans that GitHub could turn into a mention: after a non-word
/// character (or at the start) and not followed by the zero-width space that breaks it.
fn live_mentions(md: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in md.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut in_span = false;
        for (i, &c) in chars.iter().enumerate() {
            // Code spans are literal: no mention is linked inside one.
            if c == '`' && (i == 0 || chars[i - 1] != '\\') {
                in_span = !in_span;
            }
            if in_span {
                continue;
            }
            // The character before, looking through a markdown backslash escape.
            let before = match i {
                0 => ' ',
                1 => chars[0],
                _ if chars[i - 1] == '\\' => chars[i - 2],
                _ => chars[i - 1],
            };
            let after = chars.get(i + 1).copied().unwrap_or(' ');
            if c == '@' && !(before.is_alphanumeric() || before == '_') && after != '\u{200B}' {
                found.push(line.to_string());
            }
        }
        // An `@` written as an entity is one we broke up: it must be followed by the break.
        for (at, _) in line.match_indices("&#64;") {
            if !line[at + 5..].starts_with('\u{200B}') {
                found.push(line.to_string());
            }
        }
    }
    found
}

/// The markdown extensions GitHub renders in comments (alerts, tables, task lists,
/// strikethrough, math, footnotes); not smart punctuation, which GitHub does not do.
fn github_syntax() -> pulldown_cmark::Options {
    use pulldown_cmark::Options;
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_MATH
        | Options::ENABLE_GFM
        | Options::ENABLE_FOOTNOTES
}

/// Where the renderers put `markdown_text` (each `{}`), and where a template could: alone, next
/// to words and punctuation, in strong and emphasised text, block quotes, alerts, list items,
/// table cells and inline `<code>` (the last three are the plan comment's and cost notes' own).
const MARKDOWN_CONTEXTS: &[&str] = &[
    "{}",
    "a {} b",
    "a{}b",
    "({})",
    "**{}**: {}.",
    "> [!CAUTION]\n> `x:1:1`: {}\n> Hint: {}\n",
    "- `x`: {} from group {}: {} ({})  \n  Fix: {}\n",
    "| A | B |\n|---|---:|\n| <code>{}</code> | {} |\n",
    "_Not in the total (no monthly_price in [skus]): {}, {}._",
];

/// The document's events other than text, and its text, `\u{200B}` (our mention and command
/// break) left out.
fn parsed(md: &str) -> (Vec<String>, String) {
    let (mut structure, mut text) = (Vec::new(), String::new());
    for event in pulldown_cmark::Parser::new_ext(md, github_syntax()) {
        match event {
            pulldown_cmark::Event::Text(t) => text.push_str(&t),
            other => structure.push(format!("{other:?}")),
        }
    }
    (structure, text.replace('\u{200B}', ""))
}

/// Text rich in inline markdown: words, every ASCII punctuation character, and runs of the
/// emphasis, strikethrough and math delimiters next to words, so that flanking openers and
/// closers occur in every run of the test.
fn markdown_prone() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        3 => "[A-Za-z0-9]{1,3}",
        3 => prop::sample::select(vec!["_", "__", "___", "*", "**", "~", "~~", "$", "$$", "`", " "])
            .prop_map(String::from),
        2 => "[!-/:-@\\[-`{-~]",
        1 => any::<char>().prop_map(String::from),
        1 => hostile(),
    ];
    proptest::collection::vec(fragment, 1..10).prop_map(|parts| parts.concat())
}

/// The markdown's structure: block and inline tags, HTML tag names, with text collapsed.
fn skeleton(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Parser};
    let mut out: Vec<String> = Vec::new();
    for event in Parser::new_ext(md, github_syntax()) {
        let item = match event {
            Event::Text(_) | Event::SoftBreak => "text".to_string(),
            Event::Code(_) => "code".to_string(),
            Event::Html(h) | Event::InlineHtml(h) => {
                let tags: Vec<&str> = h
                    .split('<')
                    .skip(1)
                    .map(|t| {
                        t.split(|c: char| c == '>' || c.is_whitespace())
                            .next()
                            .unwrap_or("")
                    })
                    .collect();
                format!("html {}", tags.join(" "))
            }
            Event::Start(tag) => format!("start {:?}", std::mem::discriminant(&tag)),
            Event::End(tag) => format!("end {tag:?}"),
            other => format!("{other:?}"),
        };
        if item == "text" && out.last().is_some_and(|l| l == "text") {
            continue;
        }
        out.push(item);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hostile_strings_cannot_act_in_any_output(strings in proptest::collection::vec(hostile(), 1..12)) {
        let strings: Vec<String> = strings.into_iter().map(|s| if s.is_empty() { "x".into() } else { s }).collect();
        let plan = hostile_plan(&strings);
        // The same plan with harmless strings that are equal where the hostile ones are (so
        // operations group under the same principals).
        let names: Vec<String> = strings
            .iter()
            .map(|s| format!("benign{}", strings.iter().position(|t| t == s).unwrap()))
            .collect();
        let benign = hostile_plan(&names);
        for ((name, text), (_, expected)) in outputs(&plan).into_iter().zip(outputs(&benign)) {
            // No escape, control or bidi character (newlines only between lines).
            prop_assert!(!text.chars().any(hostile_char), "{name}: {text:?}");
            // No workflow command, except the annotations we write in the github log.
            let commands = command_lines(&text);
            let ours = if name == "github" { plan.diagnostics.len() } else { 0 };
            prop_assert_eq!(commands.len(), ours, "{}: {:?}", name, commands);
            for line in commands {
                prop_assert!(line.starts_with("::error file=") || line.starts_with("::warning title=m365ctl::"), "{}", line);
            }
            // No line was added or removed by a string (stderr diagnostics keep a message's
            // line breaks, each line escaped: checked above).
            if name != "diagnostic" {
                prop_assert_eq!(text.lines().count(), expected.lines().count(), "{}: {}", name, text);
            }
            if name == "markdown" {
                prop_assert_eq!(skeleton(&text), skeleton(&expected), "{}", text);
                prop_assert!(live_mentions(&text).is_empty(), "{:?}", live_mentions(&text));
            }
        }
        // Colour adds only SGR codes around escaped text.
        let coloured = human::render(&plan, human::HumanOptions { color: true, wording: super::Wording::Plan });
        prop_assert_eq!(strip_sgr(&coloured), human::render(&plan, human::HumanOptions { color: false, wording: super::Wording::Plan }));
        // The JSON document still means the same plan.
        let doc = crate::planfile::PlanFile::parse(&json::render(&plan)).unwrap();
        prop_assert_eq!(doc, crate::planfile::PlanFile::from_plan(&plan));
    }

    /// `markdown_text` is literal: in every context a renderer uses, the escaped text adds no
    /// markdown (emphasis, strikethrough, code, math, links, HTML, table cells, blocks) and
    /// GitHub shows exactly the characters given (after `terminal`).
    #[test]
    fn markdown_text_is_literal_in_every_context(s in markdown_prone()) {
        let shown = escape::terminal(&s).replace('\u{200B}', "");
        prop_assume!(!shown.is_empty());
        let escaped = escape::markdown_text(&s);
        for context in MARKDOWN_CONTEXTS {
            let (structure, text) = parsed(&context.replace("{}", &escaped));
            let (expected_structure, template_text) = parsed(&context.replace("{}", "QQQ"));
            prop_assert_eq!(structure, expected_structure, "{:?} in {:?}: {}", s, context, escaped);
            prop_assert_eq!(text, template_text.replace("QQQ", &shown), "{:?} in {:?}: {}", s, context, escaped);
        }
    }

    /// `_` runs between ASCII letters or digits (SKU part numbers, service plan names) cannot
    /// open or close emphasis and are kept as they are, for a readable comment.
    #[test]
    fn intraword_underscores_are_not_escaped(
        words in proptest::collection::vec("[A-Za-z0-9]{1,5}", 2..5),
        run in 1..4usize,
    ) {
        let id = words.join(&"_".repeat(run));
        prop_assert_eq!(escape::markdown_text(&id), id);
    }

    #[test]
    fn escapes_are_idempotent_and_keep_benign_text(s in hostile()) {
        let once = escape::terminal(&s).into_owned();
        prop_assert_eq!(escape::terminal(&once).into_owned(), once.clone());
        prop_assert!(!once.chars().any(hostile_char));
        prop_assert!(!once.contains("::") && !once.contains("##["));
    }
}

#[test]
fn benign_text_is_unchanged() {
    for s in [
        "ann@contoso.com",
        "ENTERPRISEPACK",
        "LIC-E5",
        "GB",
        "O'Neil",
    ] {
        assert_eq!(escape::terminal(s), s);
    }
}
