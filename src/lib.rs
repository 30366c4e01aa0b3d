//! m365ctl: declarative Microsoft 365 licences and Exchange Online mailboxes.
//!
//! Data flows one way: TOML -> `desired::DesiredState`; backend -> `tenant::Tenant`;
//! (desired, live) -> `plan::Plan` (a DAG); plan -> `render` | `apply`. This crate is the
//! shell (commands, backends, HTTP, the executor, the fake server); the pure core is the
//! `m365ctl-core` crate, re-exported here so `m365ctl::plan` and `crate::plan` name it.

pub mod apply;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod exchange;
pub mod graph;
pub mod input;
pub mod progress;
pub mod sim;

pub use m365ctl_core::{
    catalog, cost, desired, diag, exit, ids, plan, planfile, render, report, rules, synth, tenant,
};
