//! m365ctl: declarative Microsoft 365 licences and Exchange Online mailboxes.
//!
//! Data flows one way: TOML -> `desired::DesiredState`; backend -> `tenant::Tenant`;
//! (desired, live) -> `plan::Plan` (a DAG); plan -> `render` | `apply`. The modules
//! `desired`, `tenant`, `catalog`, `plan` and `render` are pure: no I/O, no async.

pub mod apply;
pub mod backend;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod desired;
pub mod diag;
pub mod exchange;
pub mod exit;
pub mod graph;
pub mod ids;
pub mod input;
pub mod plan;
pub mod planfile;
pub mod progress;
pub mod render;
pub mod report;
pub mod rules;
pub mod sim;
pub mod synth;
pub mod tenant;
