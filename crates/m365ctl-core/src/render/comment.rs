//! The pull-request comment: the markdown plan headed by what it is for (commit, config
//! directory, tenant) and closed by the operations checksum `apply` will hold the merge to; or,
//! when no plan could be computed, the errors. The body is never empty, so a failed run
//! replaces the previous green plan instead of leaving it standing. It starts with the same
//! hidden marker as the markdown plan, so the workflow edits its one comment in place.

use super::escape::{markdown_code_span, markdown_text};
use super::markdown::{self, DEFAULT_MAX_CHARS, MARKER, MarkdownOptions};
use crate::diag::Diagnostic;
use crate::plan::Plan;
use std::fmt::Write;

/// What the comment is about, shown under its title.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommentContext<'a> {
    /// The commit planned (the pull request's head), when known.
    pub commit: Option<&'a str>,
    /// The config path, repository-relative.
    pub config: &'a str,
    /// The backend's description (`graph contoso.onmicrosoft.com`), when the config loaded.
    pub tenant: Option<&'a str>,
}

/// Room kept for the header and footer within GitHub's comment limit.
const FRAME_CHARS: usize = 1_000;

/// The comment for a plan (with or without changes, with or without plan errors).
pub fn plan_comment(plan: &Plan, context: &CommentContext, operations_sha256: &str) -> String {
    let body = markdown::render(
        plan,
        MarkdownOptions {
            max_chars: DEFAULT_MAX_CHARS - FRAME_CHARS,
            ..MarkdownOptions::default()
        },
    );
    // `body` is the marker, the title, a blank line, then the plan.
    let (title, rest) = body.split_once("\n\n").unwrap_or((&body, ""));
    let mut out = format!("{title}\n\n{}\n\n{rest}", header(context));
    if !plan.is_empty() {
        let _ = writeln!(
            out,
            "\nOperations checksum: `{operations_sha256}` (after merge, `apply` runs only if a fresh plan has exactly these operations)."
        );
    }
    out
}

/// The comment when there is no plan: the config's errors (with their places), or the one
/// message of a failure that has none (a backend that could not be read).
pub fn error_comment(
    diagnostics: &[Diagnostic],
    message: Option<&str>,
    context: &CommentContext,
) -> String {
    let mut out = format!("{MARKER}\n### m365ctl plan\n\n{}\n\n", header(context));
    let _ = writeln!(
        out,
        "**No plan: {}. Nothing from this commit can be applied.**\n",
        if diagnostics.is_empty() {
            "m365ctl could not compute one"
        } else {
            "the configuration has errors"
        }
    );
    markdown::write_diagnostics(&mut out, diagnostics);
    if let Some(message) = message {
        let _ = writeln!(out, "> [!CAUTION]");
        for line in message.lines() {
            let _ = writeln!(out, "> {}", markdown_text(line));
        }
    }
    out
}

/// `Commit `abc…` · config `state` · tenant `graph contoso.onmicrosoft.com``.
fn header(context: &CommentContext) -> String {
    let code = markdown_code_span;
    let mut parts = Vec::new();
    if let Some(commit) = context.commit {
        parts.push(format!("Commit {}", code(commit)));
    }
    parts.push(format!("config {}", code(context.config)));
    if let Some(tenant) = context.tenant {
        parts.push(format!("tenant {}", code(tenant)));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    const CONTEXT: CommentContext = CommentContext {
        commit: Some("0123456789abcdef0123456789abcdef01234567"),
        config: "state",
        tenant: Some("graph contoso.onmicrosoft.com"),
    };

    #[test]
    fn names_commit_config_and_tenant_above_the_plan() {
        let text = plan_comment(&fixtures::every_kind(), &CONTEXT, "sha256:abc");
        assert!(text.starts_with(MARKER), "{text}");
        let header = text.lines().nth(3).unwrap();
        assert_eq!(
            header,
            "Commit `0123456789abcdef0123456789abcdef01234567` · config `state` · tenant `graph contoso.onmicrosoft.com`"
        );
        assert!(text.contains("Operations checksum: `sha256:abc`"), "{text}");
    }

    #[test]
    fn an_empty_plan_has_no_checksum_line() {
        let text = plan_comment(&fixtures::empty(), &CONTEXT, "sha256:abc");
        assert!(text.contains("No changes."), "{text}");
        assert!(!text.contains("Operations checksum"), "{text}");
    }

    #[test]
    fn a_failure_without_diagnostics_still_says_why() {
        let text = error_comment(&[], Some("reading the tenant: 403\nsecond line"), &CONTEXT);
        assert!(text.starts_with(MARKER));
        assert!(text.contains("could not compute one"), "{text}");
        assert!(
            text.contains("> reading the tenant: 403\n> second line"),
            "{text}"
        );
    }

    #[test]
    fn header_text_cannot_break_out_of_its_code_span() {
        let context = CommentContext {
            commit: None,
            config: "a`b<img>",
            tenant: None,
        };
        let text = error_comment(&[], Some("x"), &context);
        assert!(text.contains("config `a'b<img>`"), "{text}");
    }
}
