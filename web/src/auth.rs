//! HTTP basic authentication against bcrypt hashes, for every path.
//!
//! bcrypt is slow on purpose (cost 10 ≈ 50–100 ms): verifications run on
//! the blocking pool, a few at a time, and a successful one is remembered
//! for [`CACHE_TTL`] under a SHA-256 digest of (user, stored hash,
//! password) — never the password itself — so a scrape every 15 s pays
//! bcrypt once every few minutes. Failures are never cached. An unknown
//! user costs a bcrypt verification too, so timing does not tell which
//! users exist. The users are those of the web config in force at each
//! request, so a reload takes effect at once; the cache key holds the stored
//! hash, so a changed password is never served from the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::SharedWebConfig;

/// How long a successful verification is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// At most this many remembered verifications.
const CACHE_MAX: usize = 1024;
/// The realm the 401 answer names.
pub const REALM: &str = "motcua";

type Key = [u8; 32];

/// The basic-auth state shared by every request.
#[derive(Clone)]
pub(crate) struct BasicAuth {
    web: SharedWebConfig,
    cache: Arc<Mutex<HashMap<Key, Instant>>>,
    permits: Arc<Semaphore>,
}

impl BasicAuth {
    pub(crate) fn new(web: SharedWebConfig) -> BasicAuth {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        BasicAuth {
            web,
            cache: Arc::default(),
            permits: Arc::new(Semaphore::new(cpus.max(1))),
        }
    }

    /// Whether requests need credentials (the config in force has users).
    fn enabled(&self) -> bool {
        self.web.current().auth_enabled()
    }

    /// Whether `user:password` is valid.
    async fn check(&self, user: &str, password: &str) -> bool {
        let web = self.web.current();
        let users = web.users();
        // An unknown user is verified against some real hash: same cost.
        let (known, hash) = match users.get(user) {
            Some(h) => (true, h.clone()),
            None => (false, users.values().next().cloned().unwrap_or_default()),
        };
        let key = cache_key(user, &hash, password);
        let now = Instant::now();
        if known {
            let cache = self.cache.lock().expect("auth cache lock");
            if cache.get(&key).is_some_and(|t| now < *t) {
                return true;
            }
        }
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if ok && known {
            let mut cache = self.cache.lock().expect("auth cache lock");
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, t| now < *t);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, now + CACHE_TTL);
        }
        ok && known
    }
}

fn cache_key(user: &str, hash: &str, password: &str) -> Key {
    let mut h = Sha256::new();
    for part in [user, hash, password] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// `Authorization: Basic base64(user:password)` → (user, password).
fn credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"motcua\""),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        "Unauthorized\n",
    )
        .into_response()
}

/// The middleware: 401 unless the request carries valid credentials.
pub(crate) async fn require(State(auth): State<BasicAuth>, req: Request, next: Next) -> Response {
    if !auth.enabled() {
        return next.run(req).await;
    }
    match credentials(&req) {
        Some((user, password)) if auth.check(&user, &password).await => next.run(req).await,
        Some((user, _)) => {
            tracing::debug!(user, path = %req.uri().path(), "basic auth failed");
            unauthorized()
        }
        None => unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_constant_matches_the_header() {
        let r = unauthorized();
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            format!("Basic realm=\"{REALM}\"")
        );
    }

    #[tokio::test]
    async fn verifies_and_caches_only_successes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let text = format!("basic_auth_users:\n  alice: {hash}\n");
        let web = crate::WebConfig::parse(&text, std::path::Path::new("web.yml")).unwrap();
        let auth = BasicAuth::new(SharedWebConfig::new(web));
        assert!(!auth.check("alice", "wrong").await);
        assert!(!auth.check("bob", "s3cret").await);
        assert!(auth.cache.lock().unwrap().is_empty());
        assert!(auth.check("alice", "s3cret").await);
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert!(auth.check("alice", "s3cret").await);
        assert!(!auth.check("alice", "s3cret ").await);
    }

    #[test]
    fn cache_key_separates_fields() {
        assert_ne!(cache_key("ab", "h", "c"), cache_key("a", "h", "bc"));
    }
}
