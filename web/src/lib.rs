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
mod reload;
#[cfg(feature = "test-support")]
pub mod test_support;
mod tls;

use std::future::Future;
use std::io;

use axum::Router;
use tokio::net::TcpListener;

pub use auth::{CACHE_TTL, REALM};
pub use config::{WebConfig, WebConfigError};
pub use reload::{SharedWebConfig, reload_on_sighup};

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
    let web = web.cloned().map(SharedWebConfig::new);
    serve_reloadable(listener, router, web.as_ref(), shutdown).await
}

/// [`serve`] with a web config that can be replaced while serving
/// ([`SharedWebConfig::reload`]): new connections get the certificate in
/// force, every request is checked against the users in force.
pub async fn serve_reloadable(
    listener: TcpListener,
    router: Router,
    web: Option<&SharedWebConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let Some(web) = web else {
        return axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let now = web.current();
    tracing::info!(
        file = %now.path().display(),
        tls = now.tls_enabled(),
        basic_auth = now.auth_enabled(),
        "web config applied"
    );
    // Installed even without users: a reload may add some.
    let router = router.layer(axum::middleware::from_fn_with_state(
        auth::BasicAuth::new(web.clone()),
        auth::require,
    ));
    if now.tls_enabled() {
        // A reload cannot turn TLS off (SharedWebConfig::reload refuses it).
        let listener = tls::TlsListener::new(listener, web.clone());
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    } else {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
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
