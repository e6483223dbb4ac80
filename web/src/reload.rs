//! A web config that can be replaced while the server runs (SIGHUP), so a
//! renewed certificate or a changed password needs no restart.
//!
//! The server reads the config in force for every new connection (TLS) and
//! every request (basic auth); connections already open keep the
//! certificate they were made with, as in every TLS server.

use std::sync::{Arc, RwLock};

use crate::config::{WebConfig, WebConfigError};

/// The web config in force, shared by the listener, the auth middleware and
/// whoever reloads it.
#[derive(Clone, Debug)]
pub struct SharedWebConfig {
    current: Arc<RwLock<Arc<WebConfig>>>,
}

impl SharedWebConfig {
    pub fn new(config: WebConfig) -> SharedWebConfig {
        SharedWebConfig {
            current: Arc::new(RwLock::new(Arc::new(config))),
        }
    }

    /// The config in force now.
    pub fn current(&self) -> Arc<WebConfig> {
        // A poisoned lock still holds a complete config: the writer only
        // swaps an Arc.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Re-reads the file the config came from and puts it in force. On any
    /// error the running config stays. Turning TLS on or off is refused: the
    /// port would change protocol under its clients, which needs a restart.
    pub fn reload(&self) -> Result<Arc<WebConfig>, WebConfigError> {
        let old = self.current();
        let new = WebConfig::load(old.path())?;
        if new.tls_enabled() != old.tls_enabled() {
            return Err(WebConfigError::Invalid {
                path: old.path().to_owned(),
                line: None,
                key: Some("tls_server_config".to_owned()),
                message: format!(
                    "turning TLS {} needs a restart; the running config is kept",
                    if new.tls_enabled() { "on" } else { "off" }
                ),
            });
        }
        let new = Arc::new(new);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&new);
        Ok(new)
    }

    /// Reloads and logs the outcome: the new settings, or why the old ones stay.
    pub fn reload_and_log(&self) -> Result<Arc<WebConfig>, WebConfigError> {
        let result = self.reload();
        match &result {
            Ok(w) => tracing::info!(
                file = %w.path().display(),
                tls = w.tls_enabled(),
                basic_auth = w.auth_enabled(),
                "web config reloaded"
            ),
            Err(e) => tracing::error!("web config reload refused, keeping the running one: {e}"),
        }
        result
    }
}

/// Reloads `web` on every SIGHUP until the process ends (for a service whose
/// only reloadable setting is its web config). Without a web config SIGHUP
/// is logged and ignored, rather than ending the process as it would by default.
pub async fn reload_on_sighup(web: Option<SharedWebConfig>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP, web config reloads are off: {e}");
                return;
            }
        };
        while hup.recv().await.is_some() {
            match &web {
                Some(w) => {
                    let _ = w.reload_and_log();
                }
                None => tracing::info!("SIGHUP received: no web config to reload"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = web;
        std::future::pending::<()>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &std::path::Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reload_replaces_the_users_and_keeps_the_old_on_error() {
        let dir = std::env::temp_dir().join(format!("motcua-web-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("web.yml");
        let hash = bcrypt::hash("a", 4).unwrap();
        write(&file, &format!("basic_auth_users:\n  alice: {hash}\n"));
        let shared = SharedWebConfig::new(WebConfig::load(&file).unwrap());
        assert!(shared.current().users().contains_key("alice"));

        write(&file, &format!("basic_auth_users:\n  bob: {hash}\n"));
        shared.reload().unwrap();
        assert!(shared.current().users().contains_key("bob"));
        assert!(!shared.current().users().contains_key("alice"));

        write(&file, "basic_auth_users:\n  carol: not-a-hash\n");
        let err = shared.reload().unwrap_err();
        assert_eq!(err.key(), Some("basic_auth_users.carol"), "{err}");
        assert!(shared.current().users().contains_key("bob"));

        std::fs::remove_dir_all(&dir).unwrap();
    }
}
