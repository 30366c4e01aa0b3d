//! `matrix`: the tenants under a directory as the JSON that GitHub Actions'
//! `strategy.matrix` takes (`fromJSON`), so a large estate fans out across runners, one job
//! per tenant: `{"include":[{"tenant":"contoso","config":"tenants/contoso"}]}`.

use super::multi::{Target, Targets, targets};
use super::{CommandError, Output, exit, write_stdout};
use crate::cli::MatrixArgs;

/// Runs `matrix`: one line of JSON (for `$GITHUB_OUTPUT`).
pub fn run(args: &MatrixArgs, out: &Output) -> Result<u8, CommandError> {
    let tenants = match targets(&args.config)? {
        Targets::Many(tenants) => tenants,
        Targets::One(path) => vec![Target {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            path,
        }],
    };
    write_stdout(out, &format!("{}\n", matrix_json(&tenants)))?;
    Ok(exit::OK)
}

/// `{"include":[{"tenant":NAME,"config":PATH}, ...]}` with `/` separators.
pub fn matrix_json(tenants: &[Target]) -> String {
    let include: Vec<serde_json::Value> = tenants
        .iter()
        .map(|t| {
            serde_json::json!({
                "tenant": t.name,
                "config": t.path.to_string_lossy().replace('\\', "/"),
            })
        })
        .collect();
    serde_json::json!({ "include": include }).to_string()
}
