//! motcua-dashboard: static report charts (PNG/SVG) and the official
//! periodic report (Biểu 06/VPCP/KSTT) for inspectors, drawn from the same
//! KPI definitions as the exporter (`motcua-queries`); the dashboard never
//! counts or classifies a dossier itself.

pub mod app;
pub mod charts;
pub mod config;
pub mod csv;
pub mod data;
pub mod demo;
pub mod http;
pub mod i18n;
pub mod index_http;
pub mod render;
pub mod report_html;
pub mod service_index;
pub mod worklist_http;
pub mod xlsx;

use anyhow::Context;

pub use app::AppState;
pub use config::{Cli, Command, Settings};
pub use http::router;

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx::query=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::resolve(&cli, &|k| std::env::var(k).ok())?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let state = AppState::from_settings(&settings, progress).await?;
    match cli.command {
        Command::Serve { .. } => {
            // TLS and basic auth (motcua-web): checked before binding.
            let web = settings
                .web
                .web_config_file
                .as_deref()
                .map(motcua_web::WebConfig::load)
                .transpose()?
                .map(motcua_web::SharedWebConfig::new);
            let scheme = web.as_ref().map_or("http", |w| w.current().scheme());
            let addr = settings.web.listen;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let bound = listener.local_addr().unwrap_or(addr);
            tracing::info!("serving charts and reports on {scheme}://{bound}/");
            // Load in the background: the service answers (/healthz at once,
            // pages 503 after a bounded wait) while it loads or the source is down.
            state.store.refresh_in_background();
            // SIGHUP re-reads the web config (a renewed certificate, changed users).
            tokio::spawn(motcua_web::reload_on_sighup(web.clone()));
            motcua_web::serve_reloadable(listener, router(state), web.as_ref(), shutdown())
                .await
                .context("serving HTTP")?;
            Ok(())
        }
        Command::Render {
            period,
            out,
            agency,
            lang,
        } => {
            let started = std::time::Instant::now();
            let loaded = state.store.load().await?;
            let agency = match agency.as_deref() {
                Some(code) => Some(
                    loaded
                        .dataset
                        .agency_index(code)
                        .with_context(|| format!("--agency: unknown agency {code:?}"))?,
                ),
                None => None,
            };
            eprintln!(
                "read {} dossiers in {:.2} s; writing the {period} bundle into {}",
                loaded.dossiers(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
            let bundle = render::write_bundle(&state, &loaded, period, agency, lang, &out, true)?;
            eprintln!(
                "wrote {} files into {} in {:.2} s",
                bundle.files.len(),
                bundle.dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

async fn shutdown() {
    motcua_web::shutdown_signal().await;
    tracing::info!("shutting down");
}
