//! Where the live tenant is read from: the `[tenant]` table as plain data.
//!
//! The loader produces these values and the shell turns them into a backend; they live in
//! the core so the language never depends on the code that talks to Microsoft.

/// Which backend a config selects, parsed from its `[tenant]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// A snapshot file; relative paths are resolved against the config directory.
    Snapshot {
        /// Snapshot JSON path.
        path: std::path::PathBuf,
    },
    /// Microsoft Graph + Exchange Online.
    Graph(GraphSettings),
}

/// Connection settings for the Graph backend. Secrets are never stored here: only the *name*
/// of the environment variable or file that holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSettings {
    /// Entra tenant id (GUID) or primary domain.
    pub tenant_id: String,
    /// App registration (client) id.
    pub client_id: String,
    /// How to authenticate.
    pub auth: AuthMode,
    /// Token authority, e.g. `https://login.microsoftonline.com` (national clouds differ).
    pub authority_host: String,
    /// Graph root, e.g. `https://graph.microsoft.com`.
    pub graph_host: String,
    /// Exchange Online root, e.g. `https://outlook.office365.com`.
    pub exchange_host: String,
}

impl AuthMode {
    /// A signed-in admin's own token rather than the app's: reads only, never `apply`.
    pub fn is_delegated(&self) -> bool {
        matches!(self, AuthMode::DeviceCode | AuthMode::AzureCli)
    }
}

/// OAuth2 client-credentials flavours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Client secret read from this environment variable (default `M365CTL_CLIENT_SECRET`).
    Secret {
        /// Environment variable name.
        env: String,
    },
    /// Certificate: PEM file with the certificate and its private key (JWT client assertion).
    Certificate {
        /// PEM path.
        path: std::path::PathBuf,
    },
    /// Workload identity federation: an OIDC token (GitHub Actions) used as client assertion.
    Federated {
        /// Audience requested from the OIDC provider (default `api://AzureADTokenExchange`).
        audience: String,
        /// Optional file holding the token (Kubernetes / generic); otherwise GitHub's
        /// `ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN` are used.
        token_file: Option<std::path::PathBuf>,
    },
    /// Delegated and read-only: an admin signs in on a device (RFC 8628), for a first plan
    /// or export before an app registration exists. `apply` refuses it.
    DeviceCode,
    /// Delegated and read-only: the Azure CLI's sign-in (`az account get-access-token`).
    /// `apply` refuses it.
    AzureCli,
}
