//! Microsoft Graph client: OAuth2 client credentials (secret, certificate, federated), paging,
//! `$batch`, retries that honour `Retry-After`, and mapping of Graph errors onto typed
//! backend errors. Tokens and secrets only ever live in `Secret`, whose `Debug` is redacted.

pub mod auth;
pub mod cert;
pub mod client;
pub mod delegated;
pub mod error;
pub mod pacing;
pub mod retry;
pub mod secret;

pub use auth::{Authenticator, Resource};
pub use client::{BatchItem, BatchOutcome, HttpCore, Reply, Request};
pub use error::ServiceError;
pub use retry::RetryPolicy;
pub use secret::Secret;
