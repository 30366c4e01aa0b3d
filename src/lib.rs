//! m365ctl: declarative Microsoft 365 licences and Exchange Online mailboxes.
//!
//! Data flows one way: TOML -> `desired::DesiredState`; backend -> `tenant::Tenant`;
//! (desired, live) -> `plan::Plan` (a DAG); plan -> `render` | `apply`. This crate is the
//! shell (commands, backends, HTTP, the executor, the fake server); the pure core is the
//! `m365ctl-core` crate, re-exported here so `m365ctl::plan` and `crate::plan` name it.
//! Everything written for a person goes through `output::Output` (no `print!` elsewhere).

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod exchange;
pub mod graph;
pub mod input;
pub mod output;
pub mod progress;

pub use m365ctl_core::{
    catalog, cost, dates, desired, diag, exit, ids, plan, planfile, render, report, rules, synth,
    tenant,
};

/// The fake Microsoft Graph / Exchange server (crate `m365ctl-sim`), behind the default `sim`
/// feature.
#[cfg(feature = "sim")]
pub use m365ctl_sim as sim;
