//! The request that carries out an operation, as data: what to send where, with which
//! permission. The Graph backend validates and encodes the object ids and sends it; nothing
//! about a kind is decided there.

use serde_json::Value;

/// A Microsoft Graph call or an Exchange Online cmdlet.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A Graph v1.0 call (sent in a `$batch`).
    Graph(GraphRequest),
    /// An Exchange Online admin API cmdlet (`InvokeCommand`).
    Exchange(ExchangeCommand),
}

/// A Graph v1.0 call.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphRequest {
    /// HTTP method.
    pub method: HttpMethod,
    /// Path below the version root, as parts: object ids are checked and percent-encoded by
    /// the sender, so no id can address another resource.
    pub path: Vec<PathPart>,
    /// Body, if any.
    pub body: Option<RequestBody>,
    /// The application permission the call needs (named when Graph answers 403).
    pub permission: &'static str,
}

/// The HTTP methods operations use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

/// One segment of a Graph path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    /// A fixed segment (`users`, `assignLicense`, `$ref`).
    Fixed(&'static str),
    /// An object id (must be a GUID; sent percent-encoded).
    Object(String),
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// JSON as is.
    Json(Value),
    /// `{"@odata.id": "{graph root}/directoryObjects/{id}"}`: a reference to an object, which
    /// names the sender's Graph root.
    DirectoryObject(String),
}

/// An Exchange Online cmdlet with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeCommand {
    /// Cmdlet name, e.g. `Set-Mailbox`.
    pub cmdlet: &'static str,
    /// `Parameters` of the `CmdletInput`.
    pub parameters: Value,
}

impl GraphRequest {
    /// The path with every object id mapped by `id` (validation and encoding), joined with `/`.
    pub fn path_with<E>(&self, mut id: impl FnMut(&str) -> Result<String, E>) -> Result<String, E> {
        let mut path = String::new();
        for part in &self.path {
            path.push('/');
            match part {
                PathPart::Fixed(s) => path.push_str(s),
                PathPart::Object(o) => path.push_str(&id(o)?),
            }
        }
        Ok(path)
    }
}
