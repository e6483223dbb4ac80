//! motcua-web: optional TLS and basic authentication for motcua's HTTP
//! services, configured by a web config file in the format of Prometheus's
//! exporter-toolkit (see [`config`]).
//!
//! ```no_run
//! # async fn f(router: axum::Router) -> std::io::Result<()> {
//! let web = motcua_web::WebConfig::load("web-config.yml").expect("valid web config");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9745").await?;
//! motcua_web::serve(listener, router, Some(&web), std::future::pending()).await
//! # }
//! ```

mod auth;
pub mod config;
#[cfg(feature = "test-support")]
pub mod test_support;
mod tls;

use std::future::Future;
use std::io;

use axum::Router;
use tokio::net::TcpListener;

pub use auth::{CACHE_TTL, REALM};
pub use config::{WebConfig, WebConfigError};

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// open requests to finish.
///
/// Without a web config (or with an empty one) this is plain HTTP, as
/// `axum::serve`. With `tls_server_config` it speaks HTTPS only (a plain
/// HTTP request on the port gets no answer); with `basic_auth_users` every
/// path needs valid credentials, else 401 with
/// `WWW-Authenticate: Basic realm="motcua"`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web: Option<&WebConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    if let Some(w) = web {
        tracing::info!(
            file = %w.path().display(),
            tls = w.tls_enabled(),
            basic_auth = w.auth_enabled(),
            "web config applied"
        );
    }
    let router = match web.filter(|w| w.auth_enabled()) {
        Some(w) => router.layer(axum::middleware::from_fn_with_state(
            auth::BasicAuth::new(w.users()),
            auth::require,
        )),
        None => router,
    };
    match web.and_then(WebConfig::tls_config) {
        Some(tls) => {
            let listener = tls::TlsListener::new(listener, tls);
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// Resolves when the process is asked to stop (SIGTERM, or Ctrl-C), for
/// `serve`'s graceful shutdown: in-flight requests finish, new ones are refused.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
