//! motcua-exporter: serves the one-stop KPIs of `motcua-queries` on
//! `/metrics` for Prometheus.
//!
//! A refresh loop ([`refresh`]) reads the source database every
//! `refresh_interval`, computes a [`motcua_queries::Snapshot`], encodes every
//! metric family once ([`metrics`]) and swaps the bytes the HTTP side
//! ([`http`]) serves, so a scrape never touches the database. The binary
//! only parses its flags and calls [`run`].

pub mod app;
pub mod config;
pub mod demo;
pub mod events;
pub mod http;
pub mod metrics;
pub mod offsets;
pub mod refresh;
pub mod state;

pub use app::{StartError, init_logging, process_env, run};
pub use config::{Cli, Config, ConfigError, DatabaseUrl, Settings};
pub use http::router;
pub use metrics::{CONTENT_TYPE, RefreshStatus, encode};
pub use refresh::{Pipeline, Refresher};
pub use state::Shared;
