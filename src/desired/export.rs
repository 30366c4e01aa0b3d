//! Export: the live tenant written as desired state (TOML), the adoption path that spares
//! an admin typing thousands of users by hand. Written so that resolving it against the same
//! tenant asks for no change.
