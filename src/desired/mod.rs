//! The desired-state language: TOML files -> validated config -> resolved `DesiredState`.

pub mod model;

pub use model::*;
