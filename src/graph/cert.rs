//! Certificate credentials: a JWT client assertion signed PS256 with the app's private key,
//! carrying the certificate's SHA-256 thumbprint (`x5t#S256`), as Entra ID documents.

use super::secret::Secret;
use crate::backend::BackendError;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// Assertions live five minutes: Microsoft recommends 5–10.
const ASSERTION_LIFETIME_SECS: u64 = 300;

/// The signing key and certificate thumbprint loaded from one PEM file.
pub struct CertificateKey {
    key: jsonwebtoken::EncodingKey,
    thumbprint_s256: String,
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKey")
            .field("x5t#S256", &self.thumbprint_s256)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

impl CertificateKey {
    /// Reads a PEM holding the certificate and its RSA private key (`openssl pkcs12 -nodes`
    /// output works as is).
    pub fn load(path: &std::path::Path) -> Result<CertificateKey, BackendError> {
        let fail = |m: String| BackendError::Auth(format!("certificate {}: {m}", path.display()));
        let pem = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        CertificateKey::from_pem(&pem).map_err(fail)
    }

    /// Parses the PEM text (certificate block + private key block).
    pub fn from_pem(pem: &str) -> Result<CertificateKey, String> {
        let cert = pem_block(pem, "CERTIFICATE").ok_or("no CERTIFICATE block")?;
        let der = STANDARD
            .decode(
                cert.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .map_err(|e| format!("certificate is not valid base64: {e}"))?;
        let key_pem = pem_block(pem, "PRIVATE KEY")
            .or_else(|| pem_block(pem, "RSA PRIVATE KEY"))
            .ok_or("no PRIVATE KEY block")?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes())
            .map_err(|e| format!("private key: {e}"))?;
        Ok(CertificateKey {
            key,
            thumbprint_s256: thumbprint_s256(&der),
        })
    }

    /// A fresh signed assertion for the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<Secret, BackendError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
        header.x5t_s256 = Some(self.thumbprint_s256.clone());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: unique_id(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| BackendError::Auth(format!("signing client assertion: {e}")))
    }
}

/// base64url(SHA-256(DER)), the `x5t#S256` header value.
pub fn thumbprint_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// The first `-----BEGIN {label}-----` ... `-----END {label}-----` block, markers included.
pub fn pem_block<'a>(pem: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)?;
    let stop = pem[start..].find(&end)? + start + end.len();
    Some(&pem[start..stop])
}

/// A GUID-shaped random id for `jti` (uniqueness, not secrecy, is what matters).
fn unique_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
