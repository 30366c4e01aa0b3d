//! `show`: render a saved plan without reading the tenant or the config. The pull-request
//! job plans once (`plan --out`) and renders the comment and the annotations from that file,
//! so what reviewers read is byte for byte the plan `apply` is later held to.

use super::{CommandError, Output, effective_format, emit_plan, exit, repo_paths, write_stdout};
use crate::catalog::ExchangeRank;
use crate::cli::ShowArgs;
use crate::diag::{Diagnostic, Origin, Severity};
use crate::plan::{ExchangeChange, Plan, SeatSummary};
use crate::planfile::{DiagnosticDoc, PlanFile};
use crate::render::comment::{CommentContext, plan_comment};
use crate::render::github::{RepoPaths, repo_relative};
use crate::render::{Format, Wording};

/// Runs `show`: exit 0 when the file was rendered, 1 when it cannot be read or verified.
pub fn run(args: &ShowArgs, out: &Output) -> Result<u8, CommandError> {
    let path = &args.planfile;
    // A regular file of bounded size (a FIFO would hang); its content is an untrusted claim.
    let text = crate::input::read_text(path)
        .map_err(|e| CommandError::msg(format!("{} ({})", e.message, e.hint)))?;
    let doc = PlanFile::parse(&text)
        .map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))?;
    let paths = repo_paths();
    let plan =
        to_plan(&doc, &paths).map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))?;
    match effective_format(args.format) {
        Format::Json => write_stdout(out, &crate::render::escape::json_document(&doc.to_json()))?,
        Format::Markdown => {
            let context = doc.context.clone().unwrap_or_default();
            let comment = plan_comment(
                &plan,
                &CommentContext {
                    commit: args.commit.as_deref(),
                    config: &context.config,
                    tenant: Some(context.tenant.as_str()).filter(|t| !t.is_empty()),
                },
                &doc.operations_sha256(),
            );
            write_stdout(out, &comment)?;
        }
        format => emit_plan(&plan, format, Wording::Plan, out)?,
    }
    Ok(exit::OK)
}

/// The plan a document describes, for the renderers. Diagnostic locations become
/// repository-relative (the file keeps them as `plan` saw them).
fn to_plan(doc: &PlanFile, paths: &RepoPaths) -> Result<Plan, String> {
    Ok(Plan {
        operations: doc.to_operations().map_err(|e| e.to_string())?,
        diagnostics: doc
            .diagnostics
            .iter()
            .map(|d| diagnostic(d, paths))
            .collect(),
        seats: doc
            .seats
            .iter()
            .map(|s| SeatSummary {
                sku_part_number: s.sku.clone(),
                enabled: s.enabled,
                consumed_now: s.consumed_now,
                consumed_after: s.consumed_after,
                peak: s.peak,
            })
            .collect(),
        exchange_changes: doc
            .exchange_changes
            .iter()
            .map(|c| {
                Ok(ExchangeChange {
                    upn: c.user.clone(),
                    before: rank(&c.before)?,
                    after: rank(&c.after)?,
                })
            })
            .collect::<Result<_, String>>()?,
        license_errors: doc.license_errors.clone(),
        fingerprint: doc.inputs.clone(),
        cost: doc.cost.clone(),
    })
}

fn rank(label: &str) -> Result<ExchangeRank, String> {
    [
        ExchangeRank::None,
        ExchangeRank::Essentials,
        ExchangeRank::Kiosk,
        ExchangeRank::Plan1,
        ExchangeRank::Plan2,
    ]
    .into_iter()
    .find(|r| r.label() == label)
    .ok_or_else(|| format!("unknown Exchange capability {label:?}"))
}

/// A saved diagnostic; `file:line:col` back into an origin (a location that does not parse
/// stays in the message, so nothing is lost).
fn diagnostic(doc: &DiagnosticDoc, paths: &RepoPaths) -> Diagnostic {
    let severity = if doc.severity == "error" {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut message = doc.message.clone();
    let origin = doc.location.as_deref().and_then(|location| {
        let parsed = parse_location(location, paths);
        if parsed.is_none() {
            message = format!("{location}: {message}");
        }
        parsed
    });
    Diagnostic {
        severity,
        message,
        origin,
        hint: doc.hint.clone(),
    }
}

fn parse_location(location: &str, paths: &RepoPaths) -> Option<Origin> {
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next().filter(|f| !f.is_empty())?;
    Some(Origin {
        file: repo_relative(file, paths).into(),
        line,
        column,
        span: 0..0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    /// Every renderer gives the same text for a plan and for its saved document (locations
    /// made repository-relative aside, which the fixture's already are).
    #[test]
    fn a_saved_plan_renders_like_the_plan() {
        for plan in [fixtures::every_kind(), fixtures::empty()] {
            let doc = PlanFile::parse(&PlanFile::from_plan(&plan).to_json()).unwrap();
            let back = to_plan(&doc, &RepoPaths::default()).unwrap();
            let human = |p: &Plan| {
                crate::render::human::render(
                    p,
                    crate::render::human::HumanOptions {
                        color: false,
                        wording: Wording::Plan,
                    },
                )
            };
            assert_eq!(human(&back), human(&plan));
            let md = |p: &Plan| {
                crate::render::markdown::render(
                    p,
                    crate::render::markdown::MarkdownOptions::default(),
                )
            };
            assert_eq!(md(&back), md(&plan));
            assert_eq!(back.operations, plan.operations);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Over generated tenants and configs (every operation kind, seat tables, Exchange
        /// changes, warnings with places): the saved plan renders exactly like the plan.
        #[test]
        fn every_generated_plan_renders_the_same_from_its_file(
            seed in proptest::prelude::any::<u64>(),
            users in 20usize..150,
            change_percent in 5u32..60,
        ) {
            let synth = crate::synth::generate(&crate::synth::SynthSpec {
                users,
                groups: 12,
                licensed_groups: 3,
                change_rate: f64::from(change_percent) / 100.0,
                seed,
            });
            let config = crate::desired::from_sources(
                &[("m365ctl.toml".to_string(), synth.config_toml.clone())],
                std::path::Path::new("."),
            )
            .expect("generated configs load");
            let (desired, warnings) = crate::desired::resolve(&config, &synth.tenant)
                .expect("generated configs resolve");
            let mut plan = crate::plan::plan(&desired, &synth.tenant);
            plan.diagnostics.splice(0..0, warnings);
            // Diagnostics at places in the config, both severities, with and without hints.
            let text = &synth.config_toml;
            for (i, at) in [0, text.len() / 3, text.len() - 1].into_iter().enumerate() {
                let origin = Origin::from_span("m365ctl.toml", text, at..at + 1);
                let d = if i % 2 == 0 {
                    Diagnostic::warning(format!("generated warning {i}"), Some(origin))
                } else {
                    Diagnostic::error(format!("generated error {i}"), Some(origin)).with_hint("a hint")
                };
                plan.diagnostics.push(d);
            }
            let doc = PlanFile::parse(&PlanFile::from_plan(&plan).to_json()).unwrap();
            let back = to_plan(&doc, &RepoPaths::default()).unwrap();
            let human = |p: &Plan| crate::render::human::render(
                p,
                crate::render::human::HumanOptions { color: false, wording: Wording::Plan },
            );
            proptest::prop_assert_eq!(human(&back), human(&plan));
            let md = |p: &Plan| crate::render::markdown::render(
                p,
                crate::render::markdown::MarkdownOptions::default(),
            );
            proptest::prop_assert_eq!(md(&back), md(&plan));
            let gh = |p: &Plan| crate::render::github::annotations(&p.diagnostics, &RepoPaths::default());
            proptest::prop_assert_eq!(gh(&back), gh(&plan));
            proptest::prop_assert_eq!(back.operations, plan.operations);
        }
    }

    #[test]
    fn locations_parse_back_and_become_repository_relative() {
        let paths = RepoPaths {
            cwd: "/r/sub".into(),
            root: Some("/r".into()),
        };
        let o = parse_location("./m365ctl.toml:3:14", &paths).unwrap();
        assert_eq!((&*o.file, o.line, o.column), ("sub/m365ctl.toml", 3, 14));
        assert!(parse_location("no place", &paths).is_none());
        let d = diagnostic(
            &DiagnosticDoc {
                severity: "error".into(),
                message: "m".into(),
                location: Some("odd".into()),
                hint: None,
            },
            &paths,
        );
        assert_eq!(d.message, "odd: m");
        assert!(d.is_error());
    }
}
