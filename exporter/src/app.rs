//! The exporter process: settings → source check → refresh loop + HTTP
//! server, with SIGHUP reloads and graceful shutdown on SIGTERM / Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::warn;

use crate::config::{Cli, DatabaseUrl, Settings};
use crate::events::{self, ConfigReloadFailed, ConfigReloaded};
use crate::http::router;
use crate::offsets::{CounterOffsets, OffsetsFile};
use crate::refresh::{Pipeline, Refresher, SetupError};
use crate::state::Shared;

/// Looks up an environment variable (the process environment, or a fake one in tests).
pub type EnvLookup = fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// The log filter when `RUST_LOG` is not set. sqlx warns about every
/// statement slower than 1 s, which reading a large `dossiers` table always
/// is: those warnings would repeat on every refresh, so they are off unless
/// `RUST_LOG` asks for them.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx::query=error";

/// Sets up logging: one line per event on stderr, filtered by `RUST_LOG`
/// (default [`DEFAULT_LOG_FILTER`]).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Why startup stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("checking the SQL files on the source database failed: {0}")]
    Check(#[source] motcua_queries::SourceError),
    #[error(transparent)]
    Web(#[from] motcua_web::WebConfigError),
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// Resolves the source URL: the configured one, or the demo database
/// (generated first when missing).
async fn source_url(settings: &Settings) -> Result<DatabaseUrl, StartError> {
    let source = &settings.source;
    if source.demo {
        if let Some((_, origin)) = &source.database_url {
            warn!(%origin, "--demo given: the configured database URL is ignored");
        }
        let zone = source
            .load_calendar()
            .map_err(SetupError::Calendar)?
            .timezone();
        let (path, generated) = crate::demo::prepare(
            &source.data_dir,
            source.demo_dossiers,
            zone,
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .await?;
        events::demo_ready(&path, generated);
        return Ok(crate::demo::sqlite_url(&path));
    }
    let (url, _) = source
        .database_url
        .clone()
        .ok_or(crate::config::ConfigError::MissingUrl)?;
    Ok(url)
}

/// Checks the SQL files when the source is reachable. A source that cannot
/// be reached is not an error (the refresh loop retries); SQL that does not
/// fit is.
async fn check_source(pipeline: &Pipeline) -> Result<(), StartError> {
    match pipeline.check().await {
        Ok(()) => {
            events::source_checked(&pipeline.source_label);
            Ok(())
        }
        Err(e) if e.is_unavailable() => {
            events::source_unavailable_at_start(&pipeline.source_label, &e);
            Ok(())
        }
        Err(e) => Err(StartError::Check(e)),
    }
}

/// Runs the exporter until SIGTERM or Ctrl-C.
pub async fn run(cli: Cli, env: EnvLookup) -> Result<(), StartError> {
    let settings = Settings::resolve(&cli, &env)?;
    // TLS and basic auth: checked before anything else starts.
    let web = settings
        .web
        .web_config_file
        .as_deref()
        .map(motcua_web::WebConfig::load)
        .transpose()?
        .map(motcua_web::SharedWebConfig::new);
    let url = source_url(&settings).await?;
    let pipeline = Pipeline::build(&settings, &url)?;
    // Bind before checking the source so that a busy port fails at once.
    let listener = TcpListener::bind(settings.web.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.web.listen))?;
    check_source(&pipeline).await?;

    let offsets_file = OffsetsFile::in_dir(&settings.source.data_dir);
    let shared = Shared::with_offsets(load_offsets(&offsets_file, env));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (pipeline_tx, pipeline_rx) = watch::channel(Arc::new(pipeline));

    let refresher = spawn_refresher(
        Refresher::new(Arc::clone(&shared)).save_offsets_to(offsets_file),
        pipeline_rx,
        shutdown_rx.clone(),
    )?;
    let reloader = tokio::spawn(reload_on_sighup(Reloader {
        cli,
        env,
        demo_url: settings.source.demo.then(|| url.clone()),
        settings,
        shared: Arc::clone(&shared),
        web: web.clone(),
        pipeline: pipeline_tx,
        shutdown: shutdown_rx.clone(),
    }));

    events::listening(listener.local_addr().context("listening socket")?);
    let mut server_shutdown = shutdown_rx.clone();
    let signals = tokio::spawn(wait_for_shutdown(shutdown_tx));
    motcua_web::serve_reloadable(listener, router(shared), web.as_ref(), async move {
        let _ = server_shutdown.wait_for(|stop| *stop).await;
    })
    .await
    .context("HTTP server")?;
    signals.abort();
    // The refresh thread ends with the loop (shutdown was sent).
    let _ = refresher.await;
    let _ = reloader.await;
    Ok(())
}

/// Runs the refresh loop on a thread of its own, with its own single-threaded
/// runtime, at nice 10 and off one CPU.
///
/// Why: a full read of a large source keeps both cores of a small machine
/// busy for tens of seconds (it decodes on this thread, and with two CPUs
/// or more sorts on one it starts, which inherits the priority), and the
/// database server wants CPU too. Scrapes must not queue behind that work
/// (DESIGN: `/metrics` answers in milliseconds during a refresh). Priority
/// alone is not enough where the kernel groups processes by session
/// (autogroup) or by service (cgroups): the refresh threads spend their
/// group's share of the CPU, and a waking scrape competes as that group
/// against the database server's. So the refresh stays off one CPU
/// ([`leave_a_cpu_to_scrapes`]), and at nice 10 gives way on the others. On
/// a machine kept busy by other work, refreshes slow down (and time out,
/// counted in `motcua_refresh_failures_total`) rather than take CPU from
/// it — what a monitor beside a production system should do.
///
/// Why not `SCHED_IDLE`, which it used before: the kernel counts a CPU that
/// runs only `SCHED_IDLE` threads as idle when it places a waking thread.
/// Every wakeup of the database server's backend (over a Unix socket, each
/// time the reader frees room in the socket) then landed on the refresh's
/// CPU and preempted the read, which could not move to the other: at 10M
/// dossiers a full read over the socket took 19–21.5 s under `SCHED_IDLE`
/// and 13–15 s at nice 0 or 10, with the same CPU. Scrapes kept their p99
/// at nice 10 (2.3 and 3.2 ms during full reads, against 1.3–3.8 ms under
/// `SCHED_IDLE`; BENCHMARKS.md).
///
/// Keeping every allocation of a read on these threads also keeps it in one
/// arena of the system allocator: spread over the runtime's workers,
/// glibc's per-thread arenas (and mimalloc's heaps after them) kept a full
/// read's peak resident (peak RSS at 10M: 208 MB then, about 100 MB now).
fn spawn_refresher(
    refresher: Refresher,
    pipeline: watch::Receiver<Arc<Pipeline>>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::sync::oneshot::Receiver<()>> {
    // Threads started from the refresh thread inherit its policy; its
    // runtime's blocking threads carry its name too.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("motcua-refresh")
        .enable_all()
        .build()
        .context("the refresh thread's runtime")?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("motcua-refresh".to_owned())
        .spawn(move || {
            lower_priority();
            leave_a_cpu_to_scrapes();
            runtime.block_on(refresher.run(pipeline, shutdown));
            let _ = done.send(());
        })
        .context("cannot start the refresh thread")?;
    Ok(finished)
}

/// Test-only: with this variable set to 1 the exporter publishes the raw
/// recomputed counters, so a test can show what the offsets prevent.
pub const NO_COUNTER_OFFSETS_ENV: &str = "MOTCUA_TEST_NO_COUNTER_OFFSETS";

/// The counter offsets saved by the last run (DESIGN §10). Never fails: a
/// missing file starts from zero, an unusable one is set aside.
fn load_offsets(file: &OffsetsFile, env: EnvLookup) -> Option<CounterOffsets> {
    if env(NO_COUNTER_OFFSETS_ENV).as_deref() == Some("1") {
        warn!("{NO_COUNTER_OFFSETS_ENV}=1: counters are published without offsets (tests only)");
        return None;
    }
    let (offsets, loaded) = file.load();
    events::offsets_loaded(&file.path, &loaded);
    Some(offsets)
}

/// Puts the calling thread (and the threads it starts) at nice 10.
fn lower_priority() {
    use thread_priority::ThreadPriority;
    // The crate maps 0–99 onto nice 19…-20: 22 is nice 10.
    let nice_10 = ThreadPriority::Crossplatform(22u8.try_into().expect("0–99"));
    if let Err(e) = thread_priority::set_current_thread_priority(nice_10) {
        events::refresh_priority_unchanged(&e.to_string());
    }
}

/// Keeps the calling thread (and the threads it starts) off the first CPU
/// it may run on, when it may run on two or more.
///
/// Why: on a two-core machine a full read's two threads and the database
/// server's backend keep both cores busy, and a scrape waits for one of
/// them to give way. With one CPU out of the refresh's reach, scrapes
/// (and Prometheus on the same host) always find a core shared only with
/// the server. At 10M dossiers on two cores, p99 of paced scrapes during
/// full reads, counted from when each was due, fell from 7.0 ms to
/// 3.2–3.4 ms (BENCHMARKS.md). The cost is the refresh's second core on a
/// two-core machine (a full read took 31 s where it took 23–27 s; a read
/// with one CPU now sorts on its reading thread, which took a fifth off
/// it); on larger machines one core of many.
fn leave_a_cpu_to_scrapes() {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let this_thread = Pid::from_raw(0);
    let result = sched_getaffinity(this_thread).and_then(|allowed| {
        let cpus: Vec<usize> = (0..CpuSet::count())
            .filter(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .collect();
        if cpus.len() < 2 {
            return Ok(());
        }
        let mut refresh = CpuSet::new();
        for &cpu in &cpus[1..] {
            refresh.set(cpu)?;
        }
        sched_setaffinity(this_thread, &refresh)
    });
    if let Err(e) = result {
        events::refresh_affinity_unchanged(&e.to_string());
    }
}

async fn wait_for_shutdown(tx: watch::Sender<bool>) {
    motcua_web::shutdown_signal().await;
    events::shutting_down();
    let _ = tx.send(true);
}

/// What a SIGHUP reload needs.
struct Reloader {
    cli: Cli,
    env: EnvLookup,
    /// In demo mode the source stays the demo database.
    demo_url: Option<DatabaseUrl>,
    settings: Settings,
    shared: Arc<Shared>,
    /// TLS certificate and basic-auth users, re-read from their file.
    web: Option<motcua_web::SharedWebConfig>,
    pipeline: watch::Sender<Arc<Pipeline>>,
    shutdown: watch::Receiver<bool>,
}

impl Reloader {
    /// Re-reads the config file, the calendar and the SQL files; checks the
    /// SQL on the source when it is reachable; then the web config, which
    /// is put in force at once. Any bad file refuses the whole reload.
    async fn reload(&self) -> Result<(Settings, Pipeline), StartError> {
        let settings = Settings::resolve(&self.cli, &self.env)?;
        let url = match &self.demo_url {
            Some(url) => url.clone(),
            None => settings
                .source
                .database_url
                .clone()
                .map(|(u, _)| u)
                .ok_or(crate::config::ConfigError::MissingUrl)?,
        };
        let pipeline = Pipeline::build(&settings, &url)?;
        check_source(&pipeline).await?;
        if let Some(web) = &self.web {
            web.reload()?;
        }
        Ok((settings, pipeline))
    }

    fn warn_unreloadable(&self, new: &Settings) {
        let (old, new) = (&self.settings, new);
        if old.web.listen != new.web.listen {
            warn!(old = %old.web.listen, new = %new.web.listen, "listen changes need a restart; still serving on the old address");
        }
        if old.web.web_config_file != new.web.web_config_file {
            warn!("web_config_file changes need a restart; the file in use was re-read");
        }
        let (old, new) = (&old.source, &new.source);
        if old.demo && (old.data_dir != new.data_dir || old.demo_dossiers != new.demo_dossiers) {
            warn!("data_dir and demo_dossiers changes need a restart");
        }
    }
}

#[cfg(unix)]
async fn reload_on_sighup(mut r: Reloader) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            warn!("cannot listen for SIGHUP, reloads are off: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            got = hup.recv() => if got.is_none() { return },
            _ = r.shutdown.wait_for(|stop| *stop) => return,
        }
        events::reload_requested();
        match r.reload().await {
            Ok((settings, pipeline)) => {
                r.warn_unreloadable(&settings);
                r.shared.emit(ConfigReloaded {
                    config_file: settings.source.config_file.as_deref(),
                    source: &pipeline.source_label,
                });
                r.settings = settings;
                // The refresh loop picks it up and refreshes at once.
                let _ = r.pipeline.send(Arc::new(pipeline));
            }
            Err(e) => r.shared.emit(ConfigReloadFailed { error: &e }),
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(mut r: Reloader) {
    let _ = r.shutdown.wait_for(|stop| *stop).await;
}
