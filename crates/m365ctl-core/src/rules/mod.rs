//! The safety rules in one place: seat arithmetic, Exchange capability, what a mailbox needs
//! from its licences, Graph's write preconditions and the invariants every step must keep.
//!
//! Pure functions over the live model (no I/O). The planner's simulation and diff, the model's
//! write rules (`tenant::apply_operation`, used by the snapshot backend and the fake server),
//! the apply guards and the fake's invariant checker all call these, so they cannot disagree.
//! Each rule cites the Microsoft document it comes from; ARCHITECTURE.md's safety table maps
//! each one to the test that proves it.

pub mod exchange;
pub mod invariants;
pub mod mailbox;
pub mod seats;
pub mod writes;
