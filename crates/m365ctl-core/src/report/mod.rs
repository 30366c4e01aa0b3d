//! Reports about the live tenant that need no desired state. Pure: a `Tenant` (and
//! optionally prices) in, a value out; `render` turns it into text.

pub mod csv;
pub mod licences;
pub mod many;
pub mod render;

#[cfg(test)]
mod tests;
