//! The pure core of m365ctl: the config language (`desired`), the live model (`tenant`), the
//! licence catalogue (`catalog`), the safety rules (`rules`), the planner (`plan`), the
//! renderers (`render`), money (`cost`) and reports (`report`).
//!
//! Pure means: no I/O, no environment, no process, no async. The crate boundary keeps the
//! shell (the `m365ctl` crate: commands, backends, HTTP, the executor) out, its dependencies
//! hold no async runtime or HTTP client, and `clippy.toml` beside `Cargo.toml` forbids the
//! standard library's file, environment, process, network and console calls; the lints below
//! turn any use into an error.

#![deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

pub mod catalog;
pub mod cost;
pub mod countries;
pub mod dates;
pub mod desired;
pub mod diag;
pub mod escape;
pub mod exit;
pub mod ids;
pub mod plan;
pub mod planfile;
pub mod render;
pub mod report;
pub mod rules;
pub mod synth;
pub mod tenant;
