//! The web config file, in the format of Prometheus's exporter-toolkit
//! (`--web.config.file`), so operators can reuse theirs:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # relative paths: from this file's folder
//!   key_file: server.key
//!   # client_auth_type: RequireAndVerifyClientCert   # mutual TLS (optional)
//!   # client_ca_file: clients-ca.crt
//!   # min_version: TLS12           # TLS12 (default) or TLS13
//!   # max_version: TLS13
//! basic_auth_users:
//!   alice: $2y$10$...            # bcrypt hash of the password
//! ```
//!
//! Everything is checked when the file is loaded: unknown keys, the
//! certificate and key files (read and parsed, the key must fit the
//! certificate) and every bcrypt hash. An empty file means plain HTTP
//! without authentication.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;

/// A loaded, checked web config.
#[derive(Clone)]
pub struct WebConfig {
    path: PathBuf,
    tls: Option<Arc<ServerConfig>>,
    users: BTreeMap<String, String>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the hashes.
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A problem with the web config file: always names the file, and the key
/// and line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("web config file {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A syntax error, an unknown key or a value of the wrong type, or a
    /// value that is well-formed but unusable (a bad bcrypt hash, a missing
    /// certificate file, …).
    #[error("web config file {path}{}{}: {message}",
        line.map(|l| format!(", line {l}")).unwrap_or_default(),
        key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        key: Option<String>,
        message: String,
    },
}

impl WebConfigError {
    /// The key the error is about (dotted, e.g. `tls_server_config.cert_file`).
    pub fn key(&self) -> Option<&str> {
        match self {
            WebConfigError::Invalid { key, .. } => key.as_deref(),
            WebConfigError::Read { .. } => None,
        }
    }

    /// The 1-based line of the file the error is about.
    pub fn line(&self) -> Option<usize> {
        match self {
            WebConfigError::Invalid { line, .. } => *line,
            WebConfigError::Read { .. } => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
}

impl WebConfig {
    /// Reads and checks a web config file.
    pub fn load(path: impl AsRef<Path>) -> Result<WebConfig, WebConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        WebConfig::parse(&text, path)
    }

    /// Parses and checks web config text; `path` names the file in errors
    /// and anchors relative certificate and key paths.
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let ctx = Ctx { text, path };
        // An empty document (or one of comments only) is no configuration.
        let raw: RawConfig = serde_yaml_ng::from_str::<Option<RawConfig>>(text)
            .map_err(|e| ctx.yaml_error(&e))?
            .unwrap_or_default();
        let base = path.parent().unwrap_or(Path::new(""));
        let tls = raw
            .tls_server_config
            .map(|t| build_tls(&ctx, base, t))
            .transpose()?;
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            let key = format!("basic_auth_users.{user}");
            if user.is_empty() || user.contains(':') {
                return Err(ctx.invalid(
                    &key,
                    "a user name must not be empty nor contain ':' (HTTP basic auth cannot carry it)",
                ));
            }
            if let Err(e) = hash.parse::<bcrypt::HashParts>() {
                return Err(ctx.invalid(
                    &key,
                    format!(
                        "not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    ),
                ));
            }
        }
        Ok(WebConfig {
            path: path.to_owned(),
            tls: tls.map(Arc::new),
            users,
        })
    }

    /// The file this config was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the services speak HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need basic-auth credentials.
    pub fn auth_enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls_enabled() { "https" } else { "http" }
    }

    pub(crate) fn tls_config(&self) -> Option<Arc<ServerConfig>> {
        self.tls.clone()
    }

    pub(crate) fn users(&self) -> &BTreeMap<String, String> {
        &self.users
    }
}

struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> WebConfigError {
        WebConfigError::Invalid {
            path: self.path.to_owned(),
            line: key_line(self.text, key),
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    fn yaml_error(&self, e: &serde_yaml_ng::Error) -> WebConfigError {
        let full = e.to_string();
        // serde_yaml writes "path.to.key: message at line L column C".
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full.clone(),
        };
        let (prefix, rest) = match message.split_once(": ") {
            Some((p, r)) if !p.contains(' ') => (Some(p), r),
            _ => (None, message.as_str()),
        };
        let field = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|m| rest.strip_prefix(m))
            .and_then(|r| r.split_once('`'))
            .map(|(f, _)| f);
        let key = match (prefix, field) {
            (Some(p), Some(f)) => Some(format!("{p}.{f}")),
            (None, Some(f)) => Some(f.to_owned()),
            (Some(p), None) => Some(p.to_owned()),
            (None, None) => None,
        };
        let line = e
            .location()
            .map(|l| l.line())
            .or_else(|| key.as_deref().and_then(|k| key_line(self.text, k)));
        let mut message = rest.to_owned();
        if rest.starts_with("unknown field") && field.is_some_and(|f| TOOLKIT_ONLY.contains(&f)) {
            message = format!(
                "`{}` is an exporter-toolkit setting that motcua does not support; remove it",
                field.unwrap_or_default()
            );
        }
        WebConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            key,
            message,
        }
    }
}

/// exporter-toolkit settings motcua does not implement (rustls picks the
/// cipher suites and curves itself).
const TOOLKIT_ONLY: &[&str] = &[
    "http_server_config",
    "rate_limit",
    "cert",
    "key",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
];

/// The 1-based line where a dotted key is written: the last segment,
/// searched after the line of the segment before it.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    let mut found = None;
    for segment in key.split('.') {
        let hit = text.lines().enumerate().skip(from).find(|(_, l)| {
            let t = l.trim_start();
            let t = t.strip_prefix("- ").unwrap_or(t);
            [
                segment.to_owned(),
                format!("\"{segment}\""),
                format!("'{segment}'"),
            ]
            .iter()
            .any(|s| {
                t.strip_prefix(s.as_str())
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
        });
        match hit {
            Some((i, _)) => {
                from = i + 1;
                found = Some(i + 1);
            }
            None => return found,
        }
    }
    found
}

fn anchor(base: &Path, p: &Path) -> PathBuf {
    if p.is_relative() {
        base.join(p)
    } else {
        p.to_owned()
    }
}

fn tls_version(
    ctx: &Ctx<'_>,
    key: &str,
    v: &str,
) -> Result<&'static rustls::SupportedProtocolVersion, WebConfigError> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(ctx.invalid(
            key,
            format!("{v} is not supported (insecure); use TLS12 or TLS13"),
        )),
        other => Err(ctx.invalid(key, format!("{other:?} is not TLS12 or TLS13"))),
    }
}

fn build_tls(ctx: &Ctx<'_>, base: &Path, t: RawTls) -> Result<ServerConfig, WebConfigError> {
    let cert_key = "tls_server_config.cert_file";
    let key_key = "tls_server_config.key_file";
    let cert_file = t
        .cert_file
        .ok_or_else(|| ctx.invalid(cert_key, "missing: HTTPS needs a certificate (PEM)"))?;
    let key_file = t
        .key_file
        .ok_or_else(|| ctx.invalid(key_key, "missing: HTTPS needs a private key (PEM)"))?;
    let cert_file = anchor(base, &cert_file);
    let key_file = anchor(base, &key_file);

    let certs = read_certs(ctx, cert_key, &cert_file)?;
    let key = read_file(ctx, key_key, &key_file).and_then(|bytes| {
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
            ctx.invalid(
                key_key,
                format!("{}: no usable PEM private key ({e})", key_file.display()),
            )
        })
    })?;

    let min_key = "tls_server_config.min_version";
    let max_key = "tls_server_config.max_version";
    let min = t
        .min_version
        .as_deref()
        .map(|v| tls_version(ctx, min_key, v))
        .transpose()?
        .unwrap_or(&rustls::version::TLS12);
    let max = t
        .max_version
        .as_deref()
        .map(|v| tls_version(ctx, max_key, v))
        .transpose()?
        .unwrap_or(&rustls::version::TLS13);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| rank(v) >= rank(min) && rank(v) <= rank(max))
            .collect();
    if versions.is_empty() {
        return Err(ctx.invalid(max_key, "max_version is below min_version"));
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| ctx.invalid(min_key, e.to_string()))?;

    let auth_key = "tls_server_config.client_auth_type";
    let ca_key = "tls_server_config.client_ca_file";
    let auth_type = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match auth_type {
        "NoClientCert" => {
            if t.client_ca_file.is_some() {
                return Err(ctx.invalid(
                    ca_key,
                    "client_ca_file is set but client_auth_type is NoClientCert; set \
                     client_auth_type to RequireAndVerifyClientCert or VerifyClientCertIfGiven",
                ));
            }
            builder.with_no_client_auth()
        }
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let ca_file = t.client_ca_file.as_deref().ok_or_else(|| {
                ctx.invalid(
                    ca_key,
                    format!("missing: {auth_type} needs the clients' CA"),
                )
            })?;
            let ca_file = anchor(base, ca_file);
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(ctx, ca_key, &ca_file)? {
                roots
                    .add(c)
                    .map_err(|e| ctx.invalid(ca_key, format!("{}: {e}", ca_file.display())))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = if auth_type == "VerifyClientCertIfGiven" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| ctx.invalid(ca_key, format!("{}: {e}", ca_file.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        other => {
            return Err(ctx.invalid(
                auth_key,
                format!(
                    "{other:?} is not supported; use NoClientCert, VerifyClientCertIfGiven or \
                     RequireAndVerifyClientCert"
                ),
            ));
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        ctx.invalid(
            key_key,
            format!(
                "{} does not fit the certificate in {}: {e}",
                key_file.display(),
                cert_file.display()
            ),
        )
    })?;
    // axum serves HTTP/1.1 only here.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn rank(v: &rustls::SupportedProtocolVersion) -> u8 {
    if v.version == rustls::ProtocolVersion::TLSv1_3 {
        13
    } else {
        12
    }
}

fn read_file(ctx: &Ctx<'_>, key: &str, file: &Path) -> Result<Vec<u8>, WebConfigError> {
    std::fs::read(file)
        .map_err(|e| ctx.invalid(key, format!("{}: cannot read: {e}", file.display())))
}

fn read_certs(
    ctx: &Ctx<'_>,
    key: &str,
    file: &Path,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let bytes = read_file(ctx, key, file)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ctx.invalid(key, format!("{}: bad PEM ({e})", file.display())))?;
    if certs.is_empty() {
        return Err(ctx.invalid(
            key,
            format!("{}: no PEM certificate in the file", file.display()),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_plain_http_without_auth() {
        for text in ["", "# nothing\n", "---\n"] {
            let c = WebConfig::parse(text, Path::new("web.yml")).unwrap();
            assert!(!c.tls_enabled() && !c.auth_enabled(), "{text:?}");
        }
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "basic_auth_users: {}\ntls_server_config:\n  cert_file: a.crt\n  certfile: b\n";
        let err = WebConfig::parse(text, Path::new("/etc/motcua/web.yml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/motcua/web.yml"), "{msg}");
        assert_eq!(err.key(), Some("tls_server_config.certfile"), "{msg}");
        assert_eq!(err.line(), Some(4), "{msg}");
        let err = WebConfig::parse("basic_auth: {}\n", Path::new("w.yml")).unwrap_err();
        assert_eq!(err.key(), Some("basic_auth"), "{err}");
        assert_eq!(err.line(), Some(1), "{err}");
    }

    #[test]
    fn unsupported_toolkit_settings_say_so() {
        let err = WebConfig::parse("http_server_config:\n  http2: false\n", Path::new("w.yml"))
            .unwrap_err();
        assert_eq!(err.key(), Some("http_server_config"), "{err}");
        assert!(err.to_string().contains("does not support"), "{err}");
    }

    #[test]
    fn bad_hash_names_the_user() {
        let text = "basic_auth_users:\n  alice: $2y$10$abc\n";
        let err = WebConfig::parse(text, Path::new("w.yml")).unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.key(), Some("basic_auth_users.alice"), "{msg}");
        assert_eq!(err.line(), Some(2), "{msg}");
        assert!(msg.contains("bcrypt"), "{msg}");
        assert!(!msg.contains("$2y$10$abc"), "the hash leaked: {msg}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = WebConfig::parse("basic_auth_users: [alice]\n", Path::new("w.yml")).unwrap_err();
        assert_eq!(err.key(), Some("basic_auth_users"), "{err}");
        assert_eq!(err.line(), Some(1), "{err}");
    }

    #[test]
    fn key_line_follows_nesting() {
        let text = "a:\n  cert_file: x\ntls_server_config:\n  key_file: y\n  cert_file: z\n";
        assert_eq!(key_line(text, "tls_server_config.cert_file"), Some(5));
        assert_eq!(key_line(text, "tls_server_config"), Some(3));
        assert_eq!(key_line(text, "nope"), None);
    }
}
