//! The demo province: a deterministic, realistic one-stop database for
//! `--demo`, tests and screenshots.
//!
//! Modelled on Điện Biên (DESIGN §7): a province root, its departments,
//! the ten district-level units and a few communes each; about 30 sectors
//! and 300 procedures with real names; years of dossiers with the Tết,
//! weekend and holiday dips, month-end peaks, a channel mix moving online,
//! supplements, lateness concentrated in three agencies, apologies, citizen
//! evaluations, and a handful of deliberately broken rows so the demo shows
//! `motcua_source_rows_rejected`.
//!
//! Everything comes from seeded [`SmallRng`]s consumed in a fixed order, so a
//! config always yields byte-identical SQL (for a given `rand` version).
//! Dossiers are generated one day at a time and rendered straight into
//! ~1000-row INSERT statements: memory stays flat whatever the volume.

use std::collections::VecDeque;
use std::sync::OnceLock;

use chrono::{Datelike, Months, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::{AssertSqlSafe, Executor};

use crate::calendar::{Day, WorkCalendar, date_of, day_number};
use crate::lunar;
use crate::model::{SECONDS_PER_DAY, Ts, day_of, start_of};
use crate::source::Source;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Seed of the random generators: the same config gives the same bytes.
    pub seed: u64,
    /// Number of dossier rows, the few deliberately invalid ones included.
    pub dossiers: usize,
    /// Last day of generated activity; "now" of the demo is 17:30 that day.
    pub end: NaiveDate,
    /// Years of history ending at `end`.
    pub years: u32,
}

impl DemoConfig {
    /// Seed 2021, 300 000 dossiers over the 3 years ending at `end`.
    pub fn new(end: NaiveDate) -> Self {
        DemoConfig {
            seed: 2021,
            dossiers: 300_000,
            end,
            years: 3,
        }
    }

    /// The first day of generated activity.
    pub fn start(&self) -> NaiveDate {
        let start = self
            .end
            .checked_sub_months(Months::new(12 * self.years))
            .unwrap_or(NaiveDate::MIN);
        start.succ_opt().unwrap_or(start).min(self.end)
    }

    /// "Now" of the demo: `end` at 17:30, after which nothing happens.
    pub fn now(&self) -> Ts {
        start_of(day_number(self.end)) + NOW_SECS
    }
}

/// Rows written per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub agencies: usize,
    pub sectors: usize,
    pub procedures: usize,
    pub dossiers: usize,
    pub supplements: usize,
    pub apologies: usize,
    pub evaluations: usize,
}

/// The demo database's file name inside a data directory (`--demo`).
pub const DEMO_FILE: &str = "demo.sqlite";

/// The URL that reads a SQLite file read-only.
pub fn sqlite_read_only_url(path: &std::path::Path) -> String {
    format!("sqlite:{}?mode=ro", path.display())
}

/// Why the demo database file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoFileError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generating the demo database {path}: {source}")]
    Sql {
        path: std::path::PathBuf,
        #[source]
        source: sqlx::Error,
    },
}

/// Makes sure `data_dir/demo.sqlite` exists, generating it with `dossiers`
/// dossiers when it does not. The demo's activity ends yesterday (in
/// `zone`), so no generated event lies in the future of the real clock.
/// Returns the file and whether it was generated now.
pub async fn ensure_sqlite_demo(
    data_dir: &std::path::Path,
    dossiers: usize,
    zone: chrono::FixedOffset,
    progress: bool,
) -> Result<(std::path::PathBuf, bool), DemoFileError> {
    let path = data_dir.join(DEMO_FILE);
    if path.is_file() {
        return Ok((path, false));
    }
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let mut config = DemoConfig::new(today.pred_opt().unwrap_or(today));
    config.dossiers = dossiers;
    generate_sqlite_demo(&path, &config, progress).await?;
    Ok((path, true))
}

/// Writes the demo into a new SQLite file at `path`. It is generated beside
/// it and renamed into place, so an interrupted run never leaves half a
/// database where a service would read it.
pub async fn generate_sqlite_demo(
    path: &std::path::Path,
    config: &DemoConfig,
    progress: bool,
) -> Result<(), DemoFileError> {
    let io = |path: &std::path::Path| {
        let path = path.to_owned();
        move |source| DemoFileError::Io { path, source }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let partial = std::path::PathBuf::from(format!("{}.partial", path.display()));
    remove_sqlite_files(&partial).map_err(io(&partial))?;
    let options = crate::source::ConnectOptions {
        read_only: false,
        ..Default::default()
    };
    let sql = |source| DemoFileError::Sql {
        path: partial.clone(),
        source,
    };
    let url = format!("sqlite:{}", partial.display());
    let source = Source::open(&url, &options).map_err(|e| DemoFileError::Io {
        path: partial.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let written = write_demo(&source, config, progress).await;
    source.close().await;
    written.map_err(sql)?;
    std::fs::rename(&partial, path).map_err(io(path))?;
    remove_sqlite_files(&partial).map_err(io(&partial))
}

fn remove_sqlite_files(path: &std::path::Path) -> std::io::Result<()> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{}{suffix}", path.display())) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates the reference schema in `source` and fills it, in one
/// transaction (the schema itself is created first; the tables must not
/// exist yet). `progress`: show a progress bar on stderr (hidden when false).
pub async fn write_demo(
    source: &Source,
    config: &DemoConfig,
    progress: bool,
) -> Result<DemoSummary, sqlx::Error> {
    source.create_schema().await?;
    let bar = progress_bar(config, progress);
    let mut batches = insert_batches(config);
    // One arm per engine: the transaction types differ, the loop is shared.
    macro_rules! fill {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await?;
            while let Some(statement) = batches.next() {
                (&mut *tx).execute(AssertSqlSafe(statement)).await?;
                bar.set_position(batches.dossiers_generated() as u64);
            }
            tx.commit().await?;
        }};
    }
    match source {
        Source::Sqlite(pool) => fill!(pool),
        Source::Postgres(pool, _) => fill!(pool),
        Source::MySql(pool) => fill!(pool),
    }
    bar.finish_and_clear();
    Ok(batches.summary().clone())
}

/// A progress bar over the dossiers on stderr, or a hidden one.
fn progress_bar(config: &DemoConfig, progress: bool) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{msg} [{bar:40}] {human_pos}/{human_len} dossiers ({elapsed}, ETA {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    ProgressBar::new(config.dossiers as u64)
        .with_style(style)
        .with_message("demo database")
}

// ---------------------------------------------------------------------------
// PostgreSQL COPY: the same rows, fast enough for tens of millions.

/// Bytes of COPY text per message: large enough that round trips do not
/// count, small enough that memory stays flat.
const COPY_CHUNK: usize = 2 << 20;
/// Chunks queued per table between the generator and its COPY.
const COPY_QUEUE: usize = 4;
/// The tables filled by COPY, in the order of [`CopyBuffers`].
const COPY_STATEMENTS: [&str; 4] = [
    "COPY dossiers (code, procedure_code, agency_code, channel, status, received_at, due_at, finished_at, returned_at, digitized, e_result, paid_online, updated_at) FROM STDIN",
    "COPY supplements (dossier_code, requested_at, resumed_at) FROM STDIN",
    "COPY apologies (dossier_code, issued_at, new_due_at) FROM STDIN",
    "COPY evaluations (dossier_code, agency_code, evaluated_at, rating) FROM STDIN",
];

/// What the generator thread hands to a table's COPY: a chunk of rows in
/// COPY text format, or the end of the table (a channel closed without it
/// means the generator stopped early, and the COPY is aborted).
enum CopyChunk {
    Rows(Vec<u8>),
    End,
}

/// Creates the reference schema in an empty PostgreSQL database and fills it
/// with exactly the rows [`write_demo`] writes (same config, same rows), but
/// streamed with `COPY … FROM STDIN` in text format: tens of millions of
/// dossiers in minutes, with memory bounded by a few chunks per table
/// whatever the volume.
///
/// The catalogue is inserted in one transaction; dossiers, supplements,
/// apologies and evaluations are then copied at the same time over four
/// connections (so `pool` must allow at least four) while a blocking thread
/// generates them; the secondary indexes of the schema are built after the
/// data. Unlike [`write_demo`] the whole is not one transaction: an
/// interrupted load leaves a partly filled database, to be dropped.
/// `progress`: show a progress bar on stderr.
pub async fn copy_demo_into_postgres(
    pool: &sqlx::PgPool,
    config: &DemoConfig,
    progress: bool,
) -> Result<DemoSummary, sqlx::Error> {
    let max = pool.options().get_max_connections();
    if max < 4 {
        return Err(sqlx::Error::Configuration(
            format!(
                "copying the demo needs a pool of at least 4 connections (one COPY per table); \
                 this one allows {max}"
            )
            .into(),
        ));
    }
    // Tables now, secondary indexes once the data is in: one index build is
    // much cheaper than maintaining it row by row.
    let (indexes, tables): (Vec<String>, Vec<String>) =
        schema_statements(crate::source::Dialect::Postgres.schema_sql())
            .partition(|s| s.starts_with("CREATE INDEX"));
    let mut conns = Vec::with_capacity(4);
    for _ in 0..4 {
        conns.push(pool.acquire().await?);
    }
    for statement in tables {
        conns[0].execute(AssertSqlSafe(statement)).await?;
    }
    let mut summary = DemoSummary::default();
    {
        let mut tx = sqlx::Connection::begin(&mut *conns[0]).await?;
        for statement in catalogue_inserts(catalogue(), &mut summary) {
            (&mut *tx).execute(AssertSqlSafe(statement)).await?;
        }
        tx.commit().await?;
    }

    let bar = progress_bar(config, progress);
    let mut senders = Vec::with_capacity(4);
    let mut receivers = Vec::with_capacity(4);
    for _ in 0..4 {
        let (tx, rx) = tokio::sync::mpsc::channel(COPY_QUEUE);
        senders.push(tx);
        receivers.push(rx);
    }
    let producer = {
        let config = config.clone();
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || generate_copy_chunks(&config, &senders, &bar))
    };
    let copied = {
        let [c0, c1, c2, c3] = &mut conns[..] else {
            unreachable!("four connections")
        };
        let [r0, r1, r2, r3] = <[_; 4]>::try_from(receivers).unwrap_or_else(|_| unreachable!());
        tokio::try_join!(
            copy_table(c0, COPY_STATEMENTS[0], r0),
            copy_table(c1, COPY_STATEMENTS[1], r1),
            copy_table(c2, COPY_STATEMENTS[2], r2),
            copy_table(c3, COPY_STATEMENTS[3], r3),
        )
    };
    // On a COPY error the receivers are gone, so the generator stops too.
    let generated = producer.await;
    let copied = copied?;
    let generated = generated
        .map_err(|e| sqlx::Error::Protocol(format!("the demo generator stopped: {e}")))?
        .ok_or_else(|| sqlx::Error::Protocol("the demo generator stopped early".into()))?;
    bar.finish_and_clear();
    summary.dossiers = generated.dossiers;
    summary.supplements = generated.supplements;
    summary.apologies = generated.apologies;
    summary.evaluations = generated.evaluations;
    let expected = [
        summary.dossiers,
        summary.supplements,
        summary.apologies,
        summary.evaluations,
    ];
    let copied = [copied.0, copied.1, copied.2, copied.3].map(|n| n as usize);
    if copied != expected {
        return Err(sqlx::Error::Protocol(format!(
            "COPY wrote {copied:?} rows where {expected:?} were generated"
        )));
    }

    // The secondary indexes, spread over the four connections, built at the
    // same time.
    let mut shares: Vec<Vec<String>> = vec![Vec::new(); conns.len()];
    for (i, statement) in indexes.into_iter().enumerate() {
        shares[i % conns.len()].push(statement);
    }
    let builds = shares
        .into_iter()
        .zip(conns.iter_mut())
        .map(|(statements, conn)| async move {
            conn.execute("SET maintenance_work_mem = '256MB'").await?;
            for statement in statements {
                conn.execute(AssertSqlSafe(statement)).await?;
            }
            conn.execute("RESET maintenance_work_mem").await?;
            Ok::<_, sqlx::Error>(())
        });
    futures_util::future::try_join_all(builds).await?;
    Ok(summary)
}

/// One table's COPY: sends every chunk the generator queues, then finishes.
async fn copy_table(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    mut chunks: tokio::sync::mpsc::Receiver<CopyChunk>,
) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    loop {
        match chunks.recv().await {
            Some(CopyChunk::Rows(rows)) => {
                copy.send(rows).await?;
            }
            Some(CopyChunk::End) => return copy.finish().await,
            None => {
                copy.abort("the demo generator stopped early").await?;
                return Err(sqlx::Error::Protocol(
                    "the demo generator stopped early".into(),
                ));
            }
        }
    }
}

/// The generator's side (a blocking thread): renders each day's rows as COPY
/// text into one buffer per table and queues a buffer once it holds a chunk.
/// None when a COPY went away (it failed; its error is reported there).
fn generate_copy_chunks(
    config: &DemoConfig,
    senders: &[tokio::sync::mpsc::Sender<CopyChunk>],
    bar: &ProgressBar,
) -> Option<DemoSummary> {
    let mut generator = Generator::new(config);
    let width = code_width(&generator);
    let cat = generator.cat;
    let mut day = DayRows::default();
    let mut buffers = CopyBuffers::default();
    let mut summary = DemoSummary::default();
    while generator.next_day(&mut day) {
        buffers.render_day(cat, width, &day);
        summary.dossiers += day.dossiers.len();
        summary.supplements += day.supplements.len();
        summary.apologies += day.apologies.len();
        summary.evaluations += day.evaluations.len();
        for (buffer, tx) in buffers.tables.iter_mut().zip(senders) {
            if buffer.len() >= COPY_CHUNK {
                let rows = std::mem::replace(buffer, String::with_capacity(COPY_CHUNK * 9 / 8));
                tx.blocking_send(CopyChunk::Rows(rows.into_bytes())).ok()?;
            }
        }
        bar.set_position(generator.generated as u64);
    }
    for (buffer, tx) in buffers.tables.into_iter().zip(senders) {
        if !buffer.is_empty() {
            tx.blocking_send(CopyChunk::Rows(buffer.into_bytes()))
                .ok()?;
        }
        tx.blocking_send(CopyChunk::End).ok()?;
    }
    Some(summary)
}

/// Width of the per-day number in dossier codes: the same for every row of
/// a config (enough digits for its busiest day, at least 6).
fn code_width(generator: &Generator) -> usize {
    let busiest = generator.counts.iter().copied().max().unwrap_or(0);
    busiest.to_string().len().max(6)
}

/// The script's statements, split on `;` at line ends, comment lines dropped.
fn schema_statements(sql: &str) -> impl Iterator<Item = String> {
    sql.split(";\n").filter_map(|piece| {
        let statement = piece
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let statement = statement.trim().trim_end_matches(';').trim();
        (!statement.is_empty()).then(|| statement.to_owned())
    })
}

/// One COPY text buffer per table: dossiers, supplements, apologies,
/// evaluations (as [`COPY_STATEMENTS`]).
#[derive(Default)]
struct CopyBuffers {
    tables: [String; 4],
}

impl CopyBuffers {
    /// Appends one day's rows; every value as the INSERT path writes it
    /// (`\N` for NULL, `t`/`f` for booleans, unquoted timestamps).
    fn render_day(&mut self, cat: &Catalogue, width: usize, day: &DayRows) {
        let [dossiers, supplements, apologies, evaluations] = &mut self.tables;
        for d in &day.dossiers {
            let out = &mut *dossiers;
            push_code(out, d.id, width);
            out.push('\t');
            push_copy_text(out, &cat.procedures[usize::from(d.procedure)].code);
            out.push('\t');
            push_copy_text(out, cat.agencies[usize::from(d.agency)].code);
            out.push('\t');
            push_digits(out, i64::from(d.channel), 1);
            out.push('\t');
            push_digits(out, i64::from(d.status), 1);
            for ts in [d.received, d.due, d.finished, d.returned] {
                out.push('\t');
                push_copy_opt_ts(out, ts);
            }
            for b in [d.digitized, d.e_result, d.paid_online] {
                out.push('\t');
                out.push(if b { 't' } else { 'f' });
            }
            out.push('\t');
            push_ts_bare(out, d.updated);
            out.push('\n');
        }
        for s in &day.supplements {
            push_code(supplements, s.dossier, width);
            supplements.push('\t');
            push_ts_bare(supplements, s.requested);
            supplements.push('\t');
            push_copy_opt_ts(supplements, s.resumed);
            supplements.push('\n');
        }
        for a in &day.apologies {
            push_code(apologies, a.dossier, width);
            apologies.push('\t');
            push_ts_bare(apologies, a.issued);
            apologies.push('\t');
            push_copy_opt_ts(apologies, a.new_due);
            apologies.push('\n');
        }
        for e in &day.evaluations {
            match e.dossier {
                Some(id) => push_code(evaluations, id, width),
                None => evaluations.push_str("\\N"),
            }
            evaluations.push('\t');
            push_copy_text(evaluations, cat.agencies[usize::from(e.agency)].code);
            evaluations.push('\t');
            push_ts_bare(evaluations, e.at);
            evaluations.push('\t');
            push_copy_text(evaluations, e.rating);
            evaluations.push('\n');
        }
    }
}

/// A text value in COPY text format (backslash escapes).
fn push_copy_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn push_copy_opt_ts(out: &mut String, ts: Option<Ts>) {
    match ts {
        Some(ts) => push_ts_bare(out, ts),
        None => out.push_str("\\N"),
    }
}

/// The same data as SQL INSERT statements of about [`BATCH_ROWS`] rows each,
/// each statement ending with ";\n" (so the concatenation is a script for
/// [`Source::execute_script`]). Dialect-neutral: timestamps as
/// 'YYYY-MM-DD HH:MM:SS' literals, booleans TRUE/FALSE, NULL. The catalogue
/// comes first, then dossiers in increasing code order with their
/// supplements, apologies and evaluations.
pub fn insert_batches(config: &DemoConfig) -> DemoBatches {
    DemoBatches::new(config)
}

/// Rows per INSERT statement.
pub const BATCH_ROWS: usize = 1000;

// ---------------------------------------------------------------------------
// Times of day.

const HOUR: i64 = 3600;
const MINUTE: i64 = 60;
/// Office hours: the one-stop desks work 07:30–11:30 and 13:30–17:00.
const OFFICE: [(i64, i64); 2] = [
    (7 * HOUR + 30 * MINUTE, 11 * HOUR + 30 * MINUTE),
    (13 * HOUR + 30 * MINUTE, 17 * HOUR),
];
/// "Now" of the demo, on its last day.
const NOW_SECS: i64 = 17 * HOUR + 30 * MINUTE;

// ---------------------------------------------------------------------------
// Shares (per dossier unless said otherwise).

/// Deliberately invalid rows, one rejection reason each.
const BAD_SHARE: f64 = 0.0005;
const REGISTERED_SHARE: f64 = 0.005; // status 1
const NOT_ACCEPTED_SHARE: f64 = 0.01; // status 3
const WITHDRAWN_SHARE: f64 = 0.02; // status 7
const STOPPED_SHARE: f64 = 0.005; // status 8
const SUPPLEMENT_SHARE: f64 = 0.13; // same-day dossiers have no room for one: ~8% in the end
const POSTAL_SHARE: f64 = 0.03;
const APOLOGY_SHARE: f64 = 0.5; // of late dossiers
const EVALUATION_SHARE: f64 = 0.3; // of resolved dossiers
const ANONYMOUS_EVALUATION_SHARE: f64 = 0.08; // kiosk ratings without a dossier code
const BAD_RATING_SHARE: f64 = 0.0005; // of evaluations

/// How steeply a sector's dossiers concentrate on its first procedures.
const ZIPF_EXPONENT: f64 = 1.2;

/// The agencies whose lateness the demo is about, with their late share.
/// Mường Nhé and Tuần Giáo stay late after the reorganisation, as their
/// successor communes.
const LATE_AGENCIES: [(&str, f64); 5] = [
    ("DBI.STNMT", 0.24),
    ("DBI.HMN", 0.27),
    ("DBI.HTG", 0.17),
    ("DBI.XMN", 0.27),
    ("DBI.XTG", 0.17),
];

// ---------------------------------------------------------------------------
// The catalogue.

/// (code, name, level, weight when a district- or commune-level procedure
/// picks its agency). The parent is the code without its last segment.
#[rustfmt::skip]
const AGENCIES: &[(&str, &str, Level, f64)] = &[
    ("DBI", "UBND tỉnh Điện Biên", Level::Province, 0.0),
    ("DBI.STP", "Sở Tư pháp", Level::Department, 0.0),
    ("DBI.STNMT", "Sở Tài nguyên và Môi trường", Level::Department, 0.0),
    ("DBI.SKHDT", "Sở Kế hoạch và Đầu tư", Level::Department, 0.0),
    ("DBI.SGTVT", "Sở Giao thông vận tải", Level::Department, 0.0),
    ("DBI.SYT", "Sở Y tế", Level::Department, 0.0),
    ("DBI.SGDDT", "Sở Giáo dục và Đào tạo", Level::Department, 0.0),
    ("DBI.SLDTBXH", "Sở Lao động – Thương binh và Xã hội", Level::Department, 0.0),
    ("DBI.SCT", "Sở Công Thương", Level::Department, 0.0),
    ("DBI.SXD", "Sở Xây dựng", Level::Department, 0.0),
    ("DBI.SNNPTNT", "Sở Nông nghiệp và Phát triển nông thôn", Level::Department, 0.0),
    ("DBI.SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch", Level::Department, 0.0),
    ("DBI.STTTT", "Sở Thông tin và Truyền thông", Level::Department, 0.0),
    ("DBI.SNV", "Sở Nội vụ", Level::Department, 0.0),
    ("DBI.STC", "Sở Tài chính", Level::Department, 0.0),
    ("DBI.SKHCN", "Sở Khoa học và Công nghệ", Level::Department, 0.0),
    ("DBI.CAT", "Công an tỉnh Điện Biên", Level::Department, 0.0),
    ("DBI.BDT", "Ban Dân tộc tỉnh Điện Biên", Level::Department, 0.0),
    ("DBI.TDB", "UBND thành phố Điện Biên Phủ", Level::District, 70.0),
    ("DBI.TML", "UBND thị xã Mường Lay", Level::District, 12.0),
    ("DBI.HDB", "UBND huyện Điện Biên", Level::District, 110.0),
    ("DBI.HDD", "UBND huyện Điện Biên Đông", Level::District, 65.0),
    ("DBI.HMA", "UBND huyện Mường Ảng", Level::District, 45.0),
    ("DBI.HTG", "UBND huyện Tuần Giáo", Level::District, 85.0),
    ("DBI.HTC", "UBND huyện Tủa Chùa", Level::District, 55.0),
    ("DBI.HMC", "UBND huyện Mường Chà", Level::District, 48.0),
    ("DBI.HMN", "UBND huyện Mường Nhé", Level::District, 45.0),
    ("DBI.HNP", "UBND huyện Nậm Pồ", Level::District, 55.0),
    ("DBI.TDB.PMT", "UBND phường Mường Thanh", Level::Commune, 1.6),
    ("DBI.TDB.PHL", "UBND phường Him Lam", Level::Commune, 1.4),
    ("DBI.TDB.PTT", "UBND phường Tân Thanh", Level::Commune, 1.3),
    ("DBI.TML.PNL", "UBND phường Na Lay", Level::Commune, 0.8),
    ("DBI.HDB.XTX", "UBND xã Thanh Xương", Level::Commune, 1.2),
    ("DBI.HDB.XTA", "UBND xã Thanh An", Level::Commune, 1.1),
    ("DBI.HDD.TDD", "UBND thị trấn Điện Biên Đông", Level::Commune, 0.9),
    ("DBI.HMA.TMA", "UBND thị trấn Mường Ảng", Level::Commune, 0.9),
    ("DBI.HTG.TTG", "UBND thị trấn Tuần Giáo", Level::Commune, 1.0),
    ("DBI.HTG.XQT", "UBND xã Quài Tở", Level::Commune, 0.8),
    ("DBI.HTC.TTC", "UBND thị trấn Tủa Chùa", Level::Commune, 0.8),
    ("DBI.HMC.TMC", "UBND thị trấn Mường Chà", Level::Commune, 0.7),
    ("DBI.HMN.XCC", "UBND xã Chung Chải", Level::Commune, 0.6),
    ("DBI.HNP.XNH", "UBND xã Nà Hỳ", Level::Commune, 0.7),
    // The communes of the two-tier local government, from 1 July 2025:
    // directly under the province, each the successor of the old units in
    // REORGANISED. They are never drawn (weight 0): dossiers reach them
    // through their predecessors.
    ("DBI.PDBP", "UBND phường Điện Biên Phủ", Level::Commune, 0.0),
    ("DBI.PHLA", "UBND phường Him Lam", Level::Commune, 0.0),
    ("DBI.PML", "UBND phường Mường Lay", Level::Commune, 0.0),
    ("DBI.XTX", "UBND xã Thanh Xương", Level::Commune, 0.0),
    ("DBI.XTA", "UBND xã Thanh An", Level::Commune, 0.0),
    ("DBI.XDBD", "UBND xã Điện Biên Đông", Level::Commune, 0.0),
    ("DBI.XMA", "UBND xã Mường Ảng", Level::Commune, 0.0),
    ("DBI.XTG", "UBND xã Tuần Giáo", Level::Commune, 0.0),
    ("DBI.XQT", "UBND xã Quài Tở", Level::Commune, 0.0),
    ("DBI.XTC", "UBND xã Tủa Chùa", Level::Commune, 0.0),
    ("DBI.XMC", "UBND xã Mường Chà", Level::Commune, 0.0),
    ("DBI.XMN", "UBND xã Mường Nhé", Level::Commune, 0.0),
    ("DBI.XCC", "UBND xã Chung Chải", Level::Commune, 0.0),
    ("DBI.XNH", "UBND xã Nà Hỳ", Level::Commune, 0.0),
];

/// The first day of the two-tier local government (1 July 2025): the
/// district people's committees ended and communes were merged. Dossiers
/// received from then on go to the successor of the unit drawn for them,
/// so the old units receive nothing after 30 June 2025 and a year's
/// report holds both.
const REORGANISED_FROM: (i32, u32, u32) = (2025, 7, 1);

/// (old unit, its successor commune from [`REORGANISED_FROM`]).
#[rustfmt::skip]
const REORGANISED: &[(&str, &str)] = &[
    ("DBI.TDB", "DBI.PDBP"), ("DBI.TDB.PMT", "DBI.PDBP"), ("DBI.TDB.PTT", "DBI.PDBP"),
    ("DBI.TDB.PHL", "DBI.PHLA"),
    ("DBI.TML", "DBI.PML"), ("DBI.TML.PNL", "DBI.PML"),
    ("DBI.HDB", "DBI.XTX"), ("DBI.HDB.XTX", "DBI.XTX"), ("DBI.HDB.XTA", "DBI.XTA"),
    ("DBI.HDD", "DBI.XDBD"), ("DBI.HDD.TDD", "DBI.XDBD"),
    ("DBI.HMA", "DBI.XMA"), ("DBI.HMA.TMA", "DBI.XMA"),
    ("DBI.HTG", "DBI.XTG"), ("DBI.HTG.TTG", "DBI.XTG"), ("DBI.HTG.XQT", "DBI.XQT"),
    ("DBI.HTC", "DBI.XTC"), ("DBI.HTC.TTC", "DBI.XTC"),
    ("DBI.HMC", "DBI.XMC"), ("DBI.HMC.TMC", "DBI.XMC"),
    ("DBI.HMN", "DBI.XMN"), ("DBI.HMN.XCC", "DBI.XCC"),
    ("DBI.HNP", "DBI.XNH"), ("DBI.HNP.XNH", "DBI.XNH"),
];

/// Sectors and procedures, one per line.
///
/// `= CODE | DEPARTMENT | WEIGHT | Name` starts a sector: its MaLinhVuc-like
/// code, the department (under `DBI.`) handling its province-level
/// procedures, and its relative share of the dossiers.
///
/// `LEVEL DEADLINE ONLINE Name` adds a procedure: LEVEL `P` (province: the
/// sector's department, or `P@CODE` for another agency), `H` (district) or
/// `X` (commune); DEADLINE in working days, `-` for none; ONLINE `f` (full,
/// toàn trình), `p` (partial, một phần) or `n` (none). A `{a|b|c}` group
/// expands to one procedure per alternative. Earlier procedures of a sector
/// draw more dossiers.
const PROCEDURES: &str = "
= BTP-HT | STP | 16 | Hộ tịch
X 0.5 f Đăng ký khai sinh
X 0.5 p Đăng ký khai tử
X 0.5 p Đăng ký kết hôn
X 3 p Đăng ký nhận cha, mẹ, con
X 3 p Đăng ký khai sinh kết hợp nhận cha, mẹ, con
X 5 p Đăng ký lại {khai sinh|khai tử|kết hôn}
X 3 p Đăng ký giám hộ
X 3 p Đăng ký chấm dứt giám hộ
X 3 p Thay đổi, cải chính, bổ sung thông tin hộ tịch
X 3 f Cấp Giấy xác nhận tình trạng hôn nhân
X 0.5 f Cấp bản sao trích lục hộ tịch
X 5 n Đăng ký khai sinh lưu động
H 15 p Đăng ký {khai sinh|kết hôn} có yếu tố nước ngoài
H 3 p Đăng ký khai tử có yếu tố nước ngoài
H 5 p Đăng ký nhận cha, mẹ, con có yếu tố nước ngoài
H 5 p Ghi vào Sổ hộ tịch việc kết hôn của công dân Việt Nam đã được giải quyết tại cơ quan có thẩm quyền của nước ngoài
H 5 p Ghi vào Sổ hộ tịch việc ly hôn, hủy việc kết hôn đã được giải quyết tại cơ quan có thẩm quyền của nước ngoài
H 3 p Thay đổi, cải chính, bổ sung hộ tịch, xác định lại dân tộc

= BTP-CT | STP | 20 | Chứng thực
X 0.5 f Chứng thực bản sao từ bản chính giấy tờ, văn bản
X 0.5 p Chứng thực chữ ký trong các giấy tờ, văn bản
X 3 n Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản
X 3 n Chứng thực hợp đồng, giao dịch liên quan đến thực hiện quyền của người sử dụng đất
X 3 n Chứng thực di chúc
X 3 n Chứng thực văn bản {thỏa thuận phân chia|khai nhận} di sản
X 3 n Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch
X 1 p Cấp bản sao có chứng thực từ bản chính hợp đồng, giao dịch đã được chứng thực
H 0.5 p Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của nước ngoài cấp
H 0.5 p Chứng thực chữ ký người dịch
H 0.5 n Chứng thực chữ ký người dịch mà người dịch không phải là cộng tác viên dịch thuật

= BTP-LLTP | STP | 3 | Lý lịch tư pháp
P 10 f Cấp phiếu lý lịch tư pháp số {1|2}
P 15 p Cấp phiếu lý lịch tư pháp số 1 cho người nước ngoài đã cư trú tại Việt Nam
P 10 p Cấp phiếu lý lịch tư pháp cho cơ quan tiến hành tố tụng
P 10 p Cấp phiếu lý lịch tư pháp cho cơ quan nhà nước, tổ chức chính trị, tổ chức chính trị – xã hội

= BTP-QT | STP | 0.15 | Quốc tịch
P - n Nhập quốc tịch Việt Nam
P - n {Thôi|Trở lại} quốc tịch Việt Nam ở trong nước
P 5 p Xác nhận có quốc tịch Việt Nam ở trong nước
P 5 p Xác nhận là người gốc Việt Nam ở trong nước

= BTP-TP | STP | 0.5 | Tư pháp
P 10 p Đăng ký hoạt động của tổ chức hành nghề luật sư
P 7 p Thay đổi nội dung đăng ký hoạt động của tổ chức hành nghề luật sư
P 20 n Thành lập Văn phòng công chứng
P 10 p Đăng ký hoạt động Văn phòng công chứng
P 10 p Đăng ký hành nghề và cấp Thẻ công chứng viên
P 5 p Cấp lại Thẻ công chứng viên
P 10 p Đăng ký hoạt động của Trung tâm tư vấn pháp luật
P 5 p Cấp Thẻ tư vấn viên pháp luật
P 7 p Đăng ký hoạt động của doanh nghiệp đấu giá tài sản
X 3 n {Công nhận|Thôi làm} hòa giải viên
X 3 n Công nhận tuyên truyền viên pháp luật

= BTNMT-DD | STNMT | 20 | Đất đai
H 30 p Cấp giấy chứng nhận quyền sử dụng đất lần đầu
H 10 p Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất
H 10 p {Chuyển nhượng|Tặng cho|Thừa kế} quyền sử dụng đất
H 15 p Chuyển mục đích sử dụng đất phải được phép của cơ quan nhà nước có thẩm quyền
H 1 f {Đăng ký|Xóa đăng ký} thế chấp quyền sử dụng đất, tài sản gắn liền với đất
H 7 p Cấp đổi giấy chứng nhận quyền sử dụng đất
H 10 p Cấp lại giấy chứng nhận quyền sử dụng đất do bị mất
H 15 p Tách thửa hoặc hợp thửa đất
H 10 p Đính chính giấy chứng nhận đã cấp
H 7 p Gia hạn sử dụng đất ngoài khu công nghệ cao, khu kinh tế
H 3 f Cung cấp dữ liệu đất đai
H 20 n Giao đất, cho thuê đất cho hộ gia đình, cá nhân
P 30 p Cấp giấy chứng nhận quyền sử dụng đất lần đầu cho tổ chức
P 10 p Đăng ký biến động về sử dụng đất đối với tổ chức
P 15 p Chuyển mục đích sử dụng đất đối với tổ chức
P@DBI 20 n Giao đất, cho thuê đất cho tổ chức
P@DBI 30 n Thu hồi đất do chấm dứt việc sử dụng đất theo pháp luật, tự nguyện trả lại đất
X 10 n Hòa giải tranh chấp đất đai

= BTNMT-MT | STNMT | 1 | Môi trường
P 20 p {Cấp|Cấp đổi|Điều chỉnh} giấy phép môi trường
P 30 n Thẩm định báo cáo đánh giá tác động môi trường
X 5 n Đăng ký môi trường
P 20 p {Cấp|Gia hạn} giấy phép khai thác nước dưới đất
P 20 p Cấp giấy phép khai thác, sử dụng nước mặt
P 20 p Cấp giấy phép xả nước thải vào nguồn nước
P 30 n {Cấp|Gia hạn} giấy phép khai thác khoáng sản
P 30 n Cấp giấy phép thăm dò khoáng sản
P 20 n Phê duyệt phương án cải tạo, phục hồi môi trường

= BKHDT-DKKD | SKHDT | 5 | Đăng ký kinh doanh
H 3 f Đăng ký thành lập hộ kinh doanh
H 3 f Đăng ký thay đổi nội dung đăng ký hộ kinh doanh
P 3 f Đăng ký thành lập {doanh nghiệp tư nhân|công ty trách nhiệm hữu hạn một thành viên|công ty trách nhiệm hữu hạn hai thành viên trở lên|công ty cổ phần|công ty hợp danh}
P 3 f Đăng ký thay đổi {người đại diện theo pháp luật|địa chỉ trụ sở chính|vốn điều lệ|tên} của doanh nghiệp
P 3 f Thông báo tạm ngừng kinh doanh, tiếp tục kinh doanh trước thời hạn đã thông báo
P 5 p Giải thể doanh nghiệp
P 3 f Đăng ký hoạt động chi nhánh, văn phòng đại diện, địa điểm kinh doanh
P 3 f Cấp lại Giấy chứng nhận đăng ký doanh nghiệp
H 3 f Tạm ngừng kinh doanh, tiếp tục kinh doanh trước thời hạn đã thông báo của hộ kinh doanh
H 3 p Chấm dứt hoạt động hộ kinh doanh
H 5 p Đăng ký thành lập hợp tác xã
H 5 p Đăng ký thay đổi tên, địa chỉ trụ sở chính, ngành, nghề sản xuất, kinh doanh, vốn điều lệ, người đại diện theo pháp luật của hợp tác xã

= BKHDT-DT | SKHDT | 0.5 | Đầu tư
P@DBI 30 n Chấp thuận chủ trương đầu tư của Ủy ban nhân dân cấp tỉnh
P 15 p {Cấp|Điều chỉnh|Cấp lại} Giấy chứng nhận đăng ký đầu tư
P 15 n Chấm dứt hoạt động dự án đầu tư
P 15 n Giãn tiến độ đầu tư
P 15 n Chuyển nhượng dự án đầu tư
P 30 n Thẩm định dự án đầu tư theo phương thức đối tác công tư

= BXD-XD | SXD | 2.5 | Xây dựng
H 15 p Cấp giấy phép xây dựng nhà ở riêng lẻ
H 15 p Cấp giấy phép sửa chữa, cải tạo nhà ở riêng lẻ
H 5 p {Gia hạn|Cấp lại} giấy phép xây dựng nhà ở riêng lẻ
H 10 p Điều chỉnh giấy phép xây dựng nhà ở riêng lẻ
H 15 n Cấp giấy phép di dời công trình
P 20 p Cấp giấy phép xây dựng {công trình không theo tuyến|công trình theo tuyến trong đô thị|công trình tín ngưỡng, tôn giáo|có thời hạn}
P 5 p {Gia hạn|Cấp lại} giấy phép xây dựng công trình
P 20 p {Cấp|Cấp lại|Điều chỉnh, bổ sung} chứng chỉ hành nghề hoạt động xây dựng hạng II, hạng III
P 20 p Cấp chứng chỉ năng lực hoạt động xây dựng hạng II, hạng III
P 30 n Thẩm định báo cáo nghiên cứu khả thi đầu tư xây dựng
P 30 n Thẩm định thiết kế xây dựng triển khai sau thiết kế cơ sở
P 20 n Kiểm tra công tác nghiệm thu hoàn thành công trình

= BGTVT-GT | SGTVT | 5 | Giao thông vận tải
P 5 f Cấp đổi giấy phép lái xe do ngành Giao thông vận tải cấp
P 10 p Cấp lại giấy phép lái xe
P 5 f Cấp giấy phép lái xe quốc tế
P 5 p Cấp giấy phép kinh doanh vận tải bằng xe ô tô
P 3 f {Cấp|Cấp lại} phù hiệu xe ô tô kinh doanh vận tải
P 3 p Cấp giấy phép liên vận Việt Nam – Lào cho phương tiện
P 5 p Đăng ký khai thác tuyến vận tải hành khách cố định bằng xe ô tô
P 7 p Cấp giấy phép thi công công trình trên đường bộ đang khai thác
P 7 n Chấp thuận xây dựng công trình thiết yếu trong phạm vi bảo vệ kết cấu hạ tầng giao thông đường bộ
P 3 f Cấp giấy phép lưu hành xe quá tải trọng, xe quá khổ giới hạn trên đường bộ
P 3 p Cấp giấy phép xe tập lái
P 10 n Cấp giấy phép đào tạo lái xe ô tô
H 3 p {Đăng ký lần đầu|Đăng ký lại|Xóa đăng ký} phương tiện thủy nội địa

= BYT-YT | SYT | 1.5 | Y tế
P 20 p {Cấp|Cấp lại|Điều chỉnh} chứng chỉ hành nghề khám bệnh, chữa bệnh
P 30 n Cấp giấy phép hoạt động đối với phòng khám {đa khoa|chuyên khoa|nha khoa}
P 20 p {Cấp|Cấp lại|Điều chỉnh nội dung} chứng chỉ hành nghề dược
P 20 p Cấp giấy chứng nhận đủ điều kiện kinh doanh dược cho cơ sở {bán lẻ|bán buôn} thuốc
P 15 p Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm
P 10 p Cấp giấy xác nhận nội dung quảng cáo mỹ phẩm
P - n Công bố cơ sở đủ điều kiện thực hiện khám sức khỏe

= BGDDT-GD | SGDDT | 2 | Giáo dục
P 20 n Cho phép trường trung học phổ thông hoạt động giáo dục
P 15 p Cho phép trung tâm ngoại ngữ, tin học hoạt động giáo dục
P 10 p Cấp phép tổ chức dạy thêm, học thêm
P 3 f Chuyển trường đối với học sinh trung học phổ thông
P 5 f Cấp bản sao văn bằng, chứng chỉ từ sổ gốc
P 5 p Chỉnh sửa nội dung văn bằng, chứng chỉ
P 20 n Công nhận trường trung học đạt chuẩn quốc gia
P 10 p Phúc khảo bài thi tốt nghiệp trung học phổ thông
H 3 f Chuyển trường đối với học sinh trung học cơ sở
H 20 n Thành lập trường mầm non công lập
H 10 p Xét, duyệt chính sách hỗ trợ đối với học sinh bán trú
H 10 p Hỗ trợ ăn trưa đối với trẻ em mẫu giáo
X 15 n Cho phép nhóm trẻ, lớp mẫu giáo độc lập hoạt động

= BLDTBXH-LD | SLDTBXH | 3 | Lao động
P 20 p Giải quyết hưởng trợ cấp thất nghiệp
P 5 p {Cấp|Cấp lại|Gia hạn} giấy phép lao động cho người nước ngoài làm việc tại Việt Nam
P 3 p Xác nhận người lao động nước ngoài không thuộc diện cấp giấy phép lao động
P 3 p Tạm dừng hưởng trợ cấp thất nghiệp
P 5 p Hỗ trợ học nghề cho người đang hưởng trợ cấp thất nghiệp
P 10 p Đăng ký nội quy lao động
P 20 n Cấp giấy phép hoạt động cho thuê lại lao động
P 10 n Cấp giấy chứng nhận đăng ký hoạt động giáo dục nghề nghiệp

= BLDTBXH-NCC | SLDTBXH | 1.5 | Người có công
H 10 p Hưởng mai táng phí, trợ cấp một lần khi người có công với cách mạng đang hưởng trợ cấp ưu đãi từ trần
H 15 p Giải quyết chế độ trợ cấp thờ cúng liệt sĩ
P 20 p Giải quyết chế độ ưu đãi đối với Bà mẹ Việt Nam anh hùng
P 10 p Cấp giấy giới thiệu đi thăm viếng mộ liệt sĩ và hỗ trợ thăm viếng mộ liệt sĩ
P 15 p Di chuyển hồ sơ khi người hưởng trợ cấp ưu đãi thay đổi nơi thường trú
P 20 n Giải quyết chế độ đối với người hoạt động kháng chiến bị nhiễm chất độc hóa học
P 10 p Sửa đổi thông tin cá nhân trong hồ sơ người có công
P 5 p Cấp trích lục hoặc sao hồ sơ người có công với cách mạng

= BLDTBXH-BTXH | SLDTBXH | 4 | Bảo trợ xã hội
H 20 p Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng, hỗ trợ kinh phí chăm sóc, nuôi dưỡng hàng tháng
X 20 p Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật
H 5 p Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội
X 5 p Đổi, cấp lại Giấy xác nhận khuyết tật
X 10 n Công nhận hộ nghèo, hộ cận nghèo phát sinh trong năm
X 10 n Công nhận hộ thoát nghèo, hộ thoát cận nghèo trong năm
H 10 n Trợ giúp xã hội khẩn cấp về hỗ trợ làm nhà ở, sửa chữa nhà ở
H 7 n Tiếp nhận đối tượng bảo trợ xã hội có hoàn cảnh đặc biệt khó khăn vào cơ sở trợ giúp xã hội
X 3 p Đăng ký hoạt động đối với cơ sở trợ giúp xã hội dưới 10 đối tượng có hoàn cảnh khó khăn
P 15 n Đăng ký thành lập cơ sở trợ giúp xã hội ngoài công lập
P 20 n Cấp giấy phép hoạt động đối với cơ sở trợ giúp xã hội

= BCT-CT | SCT | 1.2 | Công thương
H 10 p {Cấp|Cấp lại|Cấp sửa đổi, bổ sung} giấy phép bán lẻ rượu
H 10 p {Cấp|Cấp lại} giấy phép bán lẻ sản phẩm thuốc lá
H 10 p Cấp giấy phép sản xuất rượu thủ công nhằm mục đích kinh doanh
P 15 p Cấp giấy phép bán buôn sản phẩm thuốc lá
P 15 p Cấp giấy chứng nhận cửa hàng đủ điều kiện bán lẻ xăng dầu
P 5 f Đăng ký thực hiện khuyến mại
P 10 p Cấp giấy phép hoạt động điện lực
P 5 p Cấp giấy chứng nhận huấn luyện kỹ thuật an toàn vật liệu nổ công nghiệp
P 20 p Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm thuộc phạm vi quản lý của Bộ Công Thương
P - n Xác nhận đăng ký tổ chức hội chợ, triển lãm thương mại

= BNNPTNT-NN | SNNPTNT | 1.5 | Nông nghiệp
P 1 f Cấp giấy chứng nhận kiểm dịch động vật, sản phẩm động vật vận chuyển ra khỏi địa bàn cấp tỉnh
P 10 p Cấp giấy chứng nhận đủ điều kiện buôn bán {thuốc bảo vệ thực vật|phân bón}
P 15 p Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm nông, lâm, thủy sản
P 10 p Cấp giấy chứng nhận đủ điều kiện vệ sinh thú y
P 5 p {Cấp|Cấp lại} chứng chỉ hành nghề thú y
P 30 n Công nhận nghề truyền thống, làng nghề, làng nghề truyền thống
H 15 n Hỗ trợ khôi phục sản xuất vùng bị thiệt hại do thiên tai, dịch bệnh

= BNNPTNT-LN | SNNPTNT | 0.8 | Lâm nghiệp
H 3 p Xác nhận bảng kê lâm sản
P 20 n Phê duyệt phương án quản lý rừng bền vững
P 20 n Phê duyệt phương án trồng rừng thay thế
P 5 p Cấp mã số cơ sở nuôi, trồng các loài động vật rừng, thực vật rừng nguy cấp, quý, hiếm
P 10 n Phê duyệt kế hoạch chi trả dịch vụ môi trường rừng
H 20 n Giao rừng, cho thuê rừng cho hộ gia đình, cá nhân
X 10 n Phê duyệt hồ sơ hỗ trợ khoán bảo vệ rừng

= BNNPTNT-TL | SNNPTNT | 0.2 | Thủy lợi
P 20 n {Cấp|Gia hạn|Điều chỉnh} giấy phép cho các hoạt động trong phạm vi bảo vệ công trình thủy lợi
P 20 n Phê duyệt phương án bảo vệ đập, hồ chứa nước thủy lợi
P 30 n Phê duyệt phương án ứng phó thiên tai cho công trình, vùng hạ du đập
P 20 n Phê duyệt quy trình vận hành hồ chứa nước

= BVHTTDL-VH | SVHTTDL | 0.8 | Văn hóa
H 5 p {Cấp|Điều chỉnh} giấy phép đủ điều kiện kinh doanh dịch vụ karaoke
P 5 p Chấp thuận tổ chức biểu diễn nghệ thuật
P 5 p Cấp giấy phép đủ điều kiện kinh doanh dịch vụ vũ trường
H 15 n Đăng ký tổ chức lễ hội cấp huyện
P 7 p Cấp giấy phép triển lãm tác phẩm nhiếp ảnh tại Việt Nam
P 7 p Cấp giấy chứng nhận đủ điều kiện kinh doanh hoạt động thể thao
X - n Xét tặng danh hiệu Gia đình văn hóa
X - n Xét tặng Giấy khen Khu dân cư văn hóa

= BVHTTDL-DL | SVHTTDL | 0.4 | Du lịch
P 10 p {Cấp|Cấp đổi|Cấp lại} thẻ hướng dẫn viên du lịch nội địa
P 5 p Cấp thẻ hướng dẫn viên du lịch tại điểm
P 10 p Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa
P 30 n Công nhận hạng cơ sở lưu trú du lịch 1 sao, 2 sao
P 30 n Công nhận điểm du lịch
P 15 n Công nhận cơ sở kinh doanh dịch vụ ăn uống đạt tiêu chuẩn phục vụ khách du lịch

= BTTTT-TT | STTTT | 0.4 | Thông tin – truyền thông
H 10 f {Cấp|Gia hạn|Sửa đổi, bổ sung} giấy chứng nhận đủ điều kiện hoạt động điểm cung cấp dịch vụ trò chơi điện tử công cộng
P 10 p {Cấp|Sửa đổi, bổ sung} giấy phép thiết lập trang thông tin điện tử tổng hợp
P 10 p Cấp giấy phép xuất bản bản tin

= BTTTT-XB | STTTT | 0.2 | Xuất bản
P 10 p Cấp giấy phép xuất bản tài liệu không kinh doanh
P 10 p Cấp giấy phép hoạt động in xuất bản phẩm
P 7 p Đăng ký hoạt động phát hành xuất bản phẩm
P 15 n Cấp giấy phép nhập khẩu xuất bản phẩm không kinh doanh
P 15 n Cấp giấy phép tổ chức triển lãm, hội chợ xuất bản phẩm
P 3 p Đăng ký hoạt động cơ sở dịch vụ photocopy

= BNV-NV | SNV | 0.4 | Nội vụ
P 30 n Công nhận ban vận động thành lập hội
P@DBI 30 n Cho phép thành lập hội
P 15 n Phê duyệt điều lệ hội
P 20 n Cấp giấy phép thành lập và công nhận điều lệ quỹ
P 20 n Thẩm định thành lập đơn vị sự nghiệp công lập
P - n Thi tuyển công chức
P - n Xét tuyển viên chức
P 15 n Xét chuyển cán bộ, công chức cấp xã thành công chức từ cấp huyện trở lên

= BNV-TDKT | SNV | 0.8 | Thi đua – khen thưởng
X 10 n Tặng Giấy khen của Chủ tịch Ủy ban nhân dân cấp xã
H 20 n Tặng Giấy khen của Chủ tịch Ủy ban nhân dân cấp huyện
H 20 n Tặng danh hiệu Lao động tiên tiến
P@DBI 20 n Tặng Bằng khen của Chủ tịch Ủy ban nhân dân tỉnh
P@DBI 20 n Tặng Cờ thi đua của Ủy ban nhân dân tỉnh
P 20 n Tặng danh hiệu Chiến sĩ thi đua cấp tỉnh
P 20 n Tặng danh hiệu Tập thể lao động xuất sắc
P - n Khen thưởng theo đợt, chuyên đề
X - n Khen thưởng đột xuất của Chủ tịch Ủy ban nhân dân cấp xã

= BNV-TG | SNV | 0.2 | Tôn giáo
X 15 n Đăng ký sinh hoạt tôn giáo tập trung
X 5 n Thông báo danh mục hoạt động tôn giáo đối với tổ chức có địa bàn hoạt động tôn giáo ở một xã
H 15 n Đề nghị tổ chức cuộc lễ ngoài cơ sở tôn giáo, địa điểm hợp pháp đã đăng ký có quy mô tổ chức ở một huyện
P 20 n Đề nghị giảng đạo ngoài địa bàn phụ trách, cơ sở tôn giáo, địa điểm hợp pháp đã đăng ký có quy mô tổ chức ở nhiều huyện
P 20 n Đăng ký người được bổ nhiệm, bầu cử, suy cử làm chức việc

= UBDT-DT | BDT | 0.3 | Dân tộc
H 20 n Hỗ trợ đất ở, nhà ở cho hộ đồng bào dân tộc thiểu số nghèo
H 20 n Hỗ trợ nước sinh hoạt phân tán
P 20 n Công nhận người có uy tín trong đồng bào dân tộc thiểu số
P 10 n Đưa ra khỏi danh sách người có uy tín trong đồng bào dân tộc thiểu số

= BTC-TC | STC | 0.5 | Tài chính
P 3 f Đăng ký mã số đơn vị có quan hệ với ngân sách
P 30 n Thẩm tra quyết toán dự án hoàn thành
P 20 n Quyết định {thanh lý|điều chuyển} tài sản công
P - n Tiếp nhận văn bản kê khai giá
H 20 n Thẩm tra quyết toán dự án hoàn thành sử dụng vốn ngân sách cấp huyện

= BKHCN-KH | SKHCN | 0.3 | Khoa học
P 1 f Kiểm tra nhà nước về chất lượng hàng hóa nhập khẩu
P 15 p Cấp giấy chứng nhận đăng ký hoạt động khoa học và công nghệ
P 15 p Cấp giấy phép tiến hành công việc bức xạ sử dụng thiết bị X-quang chẩn đoán trong y tế
P 10 p Cấp chứng chỉ nhân viên bức xạ
P 15 n Đăng ký kết quả thực hiện nhiệm vụ khoa học và công nghệ
P 15 n Cấp giấy chứng nhận doanh nghiệp khoa học và công nghệ
P 15 n Thẩm định công nghệ dự án đầu tư
P 15 n Đăng ký chuyển giao công nghệ

= BCA-XNC | CAT | 2 | Xuất nhập cảnh
P 7 f Cấp hộ chiếu phổ thông lần đầu
P 7 f Cấp lại hộ chiếu phổ thông
P 1 p Cấp giấy thông hành biên giới Việt Nam – Lào
P 5 p {Cấp|Gia hạn} thị thực cho người nước ngoài tại Việt Nam
P 5 p Cấp thẻ tạm trú cho người nước ngoài

= BCA-PCCC | CAT | 0.5 | Phòng cháy, chữa cháy
P 15 p Thẩm định thiết kế về phòng cháy và chữa cháy
P 10 p Nghiệm thu về phòng cháy và chữa cháy
P 7 p Cấp giấy chứng nhận huấn luyện nghiệp vụ phòng cháy, chữa cháy
P 5 n Phục hồi hoạt động của cơ sở, phương tiện giao thông, hộ gia đình và cá nhân
";

/// Deadlines a procedure may have (working days).
const DEADLINES: [f64; 9] = [0.5, 1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Province,
    Department,
    District,
    Commune,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::Department => "department",
            Level::District => "district",
            Level::Commune => "commune",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnlineLevel {
    Full,
    Partial,
    None,
}

impl OnlineLevel {
    fn label(self) -> &'static str {
        match self {
            OnlineLevel::Full => "full",
            OnlineLevel::Partial => "partial",
            OnlineLevel::None => "none",
        }
    }

    /// Relative propensity to be filed online.
    fn factor(self) -> f64 {
        match self {
            OnlineLevel::Full => 1.2,
            OnlineLevel::Partial => 0.8,
            OnlineLevel::None => 0.0,
        }
    }
}

/// Where a procedure's dossiers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Agency(u16),
    District,
    Commune,
}

#[derive(Debug)]
struct AgencyDef {
    code: &'static str,
    name: &'static str,
    parent: Option<&'static str>,
    level: Level,
    late_rate: f64,
    /// Chance that a recent dossier is never finished (pending overdue now).
    stuck_rate: f64,
    /// How far the agency has gone digital, 0.6–1.2: scales its shares of
    /// digitised dossiers and electronic results, so that the service
    /// index ranks agencies apart.
    digital: f64,
}

#[derive(Debug)]
struct SectorDef {
    code: &'static str,
    name: &'static str,
}

#[derive(Debug)]
struct ProcedureDef {
    code: String,
    name: String,
    sector: usize,
    deadline: Option<f64>,
    online: OnlineLevel,
    place: Place,
    /// Carries a fee or charge (about 40 % of procedures).
    has_fee: bool,
}

#[derive(Debug)]
struct Catalogue {
    agencies: Vec<AgencyDef>,
    sectors: Vec<SectorDef>,
    procedures: Vec<ProcedureDef>,
    /// Cumulative dossier weights of the procedures.
    procedure_cum: Vec<f64>,
    districts: Vec<u16>,
    district_cum: Vec<f64>,
    communes: Vec<u16>,
    commune_cum: Vec<f64>,
    /// Per agency: the commune that takes its dossiers from
    /// [`REORGANISED_FROM`] on, if it was reorganised.
    successor: Vec<Option<u16>>,
    /// The day number of [`REORGANISED_FROM`].
    reorganised_from: Day,
    /// Weighted mean of [`OnlineLevel::factor`] over dossiers.
    mean_online_factor: f64,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(build_catalogue)
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    weights
        .scan(0.0, |total, w| {
            *total += w;
            Some(*total)
        })
        .collect()
}

/// Index drawn from cumulative weights with `u` uniform in [0, 1).
fn pick(cum: &[f64], u: f64) -> usize {
    let total = cum.last().copied().unwrap_or(0.0);
    cum.partition_point(|&c| c <= u * total)
        .min(cum.len().saturating_sub(1))
}

/// A stable per-code number in [0, 1), so agencies' traits do not depend on the seed.
fn code_fraction(code: &str) -> f64 {
    let h = code.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % 10_000) as f64 / 10_000.0
}

fn build_catalogue() -> Catalogue {
    let agencies: Vec<AgencyDef> = AGENCIES
        .iter()
        .map(|&(code, name, level, _)| {
            let late = LATE_AGENCIES.iter().find(|(c, _)| *c == code);
            AgencyDef {
                code,
                name,
                parent: code.rsplit_once('.').map(|(parent, _)| parent),
                level,
                // Most agencies: 1–3% late.
                late_rate: late.map_or(0.01 + 0.02 * code_fraction(code), |(_, r)| *r),
                stuck_rate: if late.is_some() { 0.01 } else { 0.0004 },
                digital: 0.6 + 0.6 * code_fraction(&format!("{code}/digital")),
            }
        })
        .collect();
    let agency_index = |code: &str| -> u16 {
        let i = agencies
            .iter()
            .position(|a| a.code == code)
            .unwrap_or_else(|| panic!("demo catalogue: unknown agency {code}"));
        i as u16
    };
    let by_level = |level: Level| -> (Vec<u16>, Vec<f64>) {
        let members: Vec<u16> = (0..AGENCIES.len())
            .filter(|&i| AGENCIES[i].2 == level && AGENCIES[i].3 > 0.0)
            .map(|i| i as u16)
            .collect();
        let cum = cumulative(members.iter().map(|&i| AGENCIES[usize::from(i)].3));
        (members, cum)
    };
    let (districts, district_cum) = by_level(Level::District);
    let (communes, commune_cum) = by_level(Level::Commune);
    let mut successor = vec![None; agencies.len()];
    for (old, new) in REORGANISED {
        successor[usize::from(agency_index(old))] = Some(agency_index(new));
    }
    let (y, m, d) = REORGANISED_FROM;
    let reorganised_from = day_number(NaiveDate::from_ymd_opt(y, m, d).expect("a date"));

    let mut sectors = Vec::new();
    let mut procedures = Vec::new();
    let mut weights = Vec::new();
    // (department, sector weight, first procedure of the sector)
    let mut current: Option<(u16, f64, usize)> = None;
    let finish_sector = |current: Option<(u16, f64, usize)>, weights: &mut Vec<f64>| {
        if let Some((_, sector_weight, first)) = current {
            // Zipf within the sector, scaled to the sector's share.
            let n = weights.len() - first;
            let zipf = |rank: usize| (rank as f64).powf(-ZIPF_EXPONENT);
            let norm: f64 = (1..=n).map(zipf).sum();
            for (rank, w) in weights[first..].iter_mut().enumerate() {
                *w = sector_weight * zipf(rank + 1) / norm;
            }
        }
    };
    for line in PROCEDURES.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix('=') {
            let parts: Vec<&str> = rest.split('|').map(str::trim).collect();
            let [code, department, weight, name] = parts[..] else {
                panic!("demo catalogue: bad sector line {line:?}");
            };
            finish_sector(current, &mut weights);
            let weight: f64 = weight
                .parse()
                .unwrap_or_else(|_| panic!("demo catalogue: bad weight in {line:?}"));
            sectors.push(SectorDef { code, name });
            current = Some((
                agency_index(&format!("DBI.{department}")),
                weight,
                procedures.len(),
            ));
            continue;
        }
        let Some((department, _, _)) = current else {
            panic!("demo catalogue: procedure before any sector: {line:?}");
        };
        let mut fields = line.splitn(4, ' ');
        let (Some(level), Some(deadline), Some(online), Some(name)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            panic!("demo catalogue: bad procedure line {line:?}");
        };
        let place = match level {
            "P" => Place::Agency(department),
            "H" => Place::District,
            "X" => Place::Commune,
            other => match other.strip_prefix("P@") {
                Some(code) => Place::Agency(agency_index(code)),
                None => panic!("demo catalogue: bad level in {line:?}"),
            },
        };
        let deadline = match deadline {
            "-" => None,
            d => Some(
                d.parse::<f64>()
                    .ok()
                    .filter(|d| DEADLINES.contains(d))
                    .unwrap_or_else(|| panic!("demo catalogue: bad deadline in {line:?}")),
            ),
        };
        let online = match online {
            "f" => OnlineLevel::Full,
            "p" => OnlineLevel::Partial,
            "n" => OnlineLevel::None,
            _ => panic!("demo catalogue: bad online level in {line:?}"),
        };
        for name in expand(name) {
            let i = procedures.len();
            let prefix = match place {
                Place::Agency(_) => 1,
                Place::District => 2,
                Place::Commune => 3,
            };
            procedures.push(ProcedureDef {
                // MaTTHC-like: 1.001000, 2.001007, …
                code: format!("{prefix}.{:06}", 1_000 + 7 * i),
                name,
                sector: sectors.len() - 1,
                deadline,
                online,
                place,
                // Every fifth procedure in two: 40 %, spread over every sector.
                has_fee: i % 5 < 2,
            });
            weights.push(0.0);
        }
    }
    finish_sector(current, &mut weights);
    let total: f64 = weights.iter().sum();
    let mean_online_factor = procedures
        .iter()
        .zip(&weights)
        .map(|(p, w)| p.online.factor() * w)
        .sum::<f64>()
        / total;
    Catalogue {
        agencies,
        sectors,
        procedures,
        procedure_cum: cumulative(weights.into_iter()),
        districts,
        district_cum,
        communes,
        commune_cum,
        successor,
        reorganised_from,
        mean_online_factor,
    }
}

/// "Cấp {a|b} giấy phép" → ["Cấp a giấy phép", "Cấp b giấy phép"].
fn expand(name: &str) -> Vec<String> {
    match (name.find('{'), name.find('}')) {
        (Some(open), Some(close)) if open < close => name[open + 1..close]
            .split('|')
            .map(|alt| format!("{}{}{}", &name[..open], alt, &name[close + 1..]))
            .collect(),
        _ => vec![name.to_owned()],
    }
}

// ---------------------------------------------------------------------------
// Generated rows, before rendering.

/// A dossier's identity: the day its code is dated and its number that day.
type DossierId = (Day, u32);

#[derive(Debug, Clone)]
struct DossierRec {
    id: DossierId,
    procedure: u16,
    agency: u16,
    channel: u8,
    status: u8,
    received: Option<Ts>,
    due: Option<Ts>,
    finished: Option<Ts>,
    returned: Option<Ts>,
    digitized: bool,
    e_result: bool,
    paid_online: bool,
    updated: Ts,
}

#[derive(Debug, Clone)]
struct SupplementRec {
    dossier: DossierId,
    requested: Ts,
    resumed: Option<Ts>,
}

#[derive(Debug, Clone)]
struct ApologyRec {
    dossier: DossierId,
    issued: Ts,
    new_due: Option<Ts>,
}

#[derive(Debug, Clone)]
struct EvaluationRec {
    dossier: Option<DossierId>,
    agency: u16,
    at: Ts,
    rating: &'static str,
}

/// One day's rows.
#[derive(Debug, Default)]
struct DayRows {
    dossiers: Vec<DossierRec>,
    supplements: Vec<SupplementRec>,
    apologies: Vec<ApologyRec>,
    evaluations: Vec<EvaluationRec>,
}

impl DayRows {
    fn clear(&mut self) {
        self.dossiers.clear();
        self.supplements.clear();
        self.apologies.clear();
        self.evaluations.clear();
    }
}

/// A dossier before its timestamps: what the day's draw decided.
#[derive(Debug, Clone, Copy)]
struct Draft {
    secs: i64,
    procedure: u16,
    agency: u16,
    channel: u8,
}

// ---------------------------------------------------------------------------
// The generator.

struct Generator {
    cat: &'static Catalogue,
    cal: WorkCalendar,
    rng: SmallRng,
    start: Day,
    end: Day,
    now: Ts,
    counts: Vec<u64>,
    next: Day,
    drafts: Vec<Draft>,
    generated: usize,
}

impl Generator {
    fn new(config: &DemoConfig) -> Self {
        let cal = WorkCalendar::builtin();
        let start = day_number(config.start());
        let end = day_number(config.end);
        let counts = daily_counts(config, &cal, start, end);
        Generator {
            cat: catalogue(),
            cal,
            rng: SmallRng::seed_from_u64(config.seed),
            start,
            end,
            now: config.now(),
            counts,
            next: start,
            drafts: Vec::new(),
            generated: 0,
        }
    }

    fn progress(&self, day: Day) -> f64 {
        f64::from(day - self.start) / f64::from((self.end - self.start).max(1))
    }

    fn workday(&self, day: Day) -> bool {
        self.cal.is_workday_num(day)
    }

    fn nth(&self, after: Day, n: i64) -> Day {
        self.cal.nth_workday_after(after, n)
    }

    /// A random instant in office hours on `day`, with lo < t ≤ hi.
    fn office_between(&mut self, day: Day, lo: Ts, hi: Ts) -> Option<Ts> {
        let base = start_of(day);
        let spans = OFFICE.map(|(a, b)| ((base + a).max(lo + 1), (base + b).min(hi)));
        let total: i64 = spans.iter().map(|(a, b)| (b - a + 1).max(0)).sum();
        if total <= 0 {
            return None;
        }
        let mut r = self.rng.random_range(0..total);
        for (a, b) in spans {
            let len = (b - a + 1).max(0);
            if r < len {
                return Some(a + r);
            }
            r -= len;
        }
        None
    }

    fn office(&mut self, day: Day) -> Ts {
        let base = start_of(day);
        self.office_between(day, Ts::MIN, Ts::MAX)
            .unwrap_or(base + 8 * HOUR)
    }

    /// The next office-hours instant after `t` on a working day.
    fn office_after(&mut self, t: Ts) -> Ts {
        let day = day_of(t);
        if self.workday(day)
            && let Some(x) = self.office_between(day, t, Ts::MAX)
        {
            return x;
        }
        let next = self.nth(day, 1);
        self.office(next)
    }

    /// Generates the next day's rows; false when every day is done.
    fn next_day(&mut self, out: &mut DayRows) -> bool {
        out.clear();
        if self.next > self.end {
            return false;
        }
        let day = self.next;
        self.next += 1;
        let n = self.counts[(day - self.start) as usize];
        let working = self.workday(day);
        let progress = self.progress(day);
        let cat = self.cat;
        let mut drafts = std::mem::take(&mut self.drafts);
        drafts.clear();
        for _ in 0..n {
            let mut p = pick(&cat.procedure_cum, self.rng.random());
            // On days off only the online portal takes dossiers.
            while !working && cat.procedures[p].online == OnlineLevel::None {
                p = pick(&cat.procedure_cum, self.rng.random());
            }
            let procedure = &cat.procedures[p];
            let target = 0.05 + 0.6 * progress;
            let p_online =
                (target * procedure.online.factor() / cat.mean_online_factor).clamp(0.0, 0.97);
            let online = !working || self.rng.random_bool(p_online);
            let channel = if online {
                2
            } else if self.rng.random_bool(POSTAL_SHARE) {
                3
            } else {
                1
            };
            let agency = match procedure.place {
                Place::Agency(a) => a,
                Place::District => cat.districts[pick(&cat.district_cum, self.rng.random())],
                Place::Commune => cat.communes[pick(&cat.commune_cum, self.rng.random())],
            };
            let agency = match cat.successor[usize::from(agency)] {
                Some(new) if day >= cat.reorganised_from => new,
                _ => agency,
            };
            let mut secs = if !working {
                self.rng.random_range(7 * HOUR..22 * HOUR + 30 * MINUTE)
            } else if online && self.rng.random_bool(0.3) {
                self.rng.random_range(6 * HOUR..23 * HOUR + 30 * MINUTE)
            } else {
                self.office(day) - start_of(day)
            };
            if day == self.end && secs > NOW_SECS {
                secs = self.rng.random_range(OFFICE[0].0..OFFICE[1].1);
            }
            drafts.push(Draft {
                secs,
                procedure: p as u16,
                agency,
                channel,
            });
        }
        // Codes are numbered in order of arrival (a stable sort: deterministic).
        drafts.sort_by_key(|d| d.secs);
        for (i, draft) in drafts.iter().enumerate() {
            self.dossier((day, i as u32 + 1), *draft, progress, out);
        }
        self.generated += drafts.len();
        self.drafts = drafts;
        true
    }

    fn due_at(&self, t0: Ts, deadline: Option<f64>) -> Option<Ts> {
        let deadline = deadline?;
        let day = day_of(t0);
        if deadline < 1.0 {
            // Half a day: this afternoon when received in the morning, else next morning.
            return Some(if self.workday(day) && t0 - start_of(day) < 12 * HOUR {
                start_of(day) + 17 * HOUR
            } else {
                start_of(self.nth(day, 1)) + 11 * HOUR
            });
        }
        let due_day = self.nth(day, deadline as i64);
        Some(start_of(due_day) + (t0 - start_of(day)))
    }

    /// When the work would be done (the adjusted end) and whether that is
    /// late; None when the dossier is stuck and never finishes.
    fn plan(&mut self, t0: Ts, due: Option<Ts>, agency: &AgencyDef) -> (Option<Ts>, bool) {
        let day = day_of(t0);
        let Some(due) = due else {
            let k = self.rng.random_range(1..=40);
            let d = self.nth(day, k);
            return (Some(self.office(d)), false);
        };
        if day + 240 >= self.end && self.rng.random_bool(agency.stuck_rate) {
            return (None, true);
        }
        let due_day = day_of(due);
        if self.rng.random_bool(agency.late_rate) {
            let u: f64 = self.rng.random();
            let heavy = agency.late_rate > 0.1;
            let m = 1 + if heavy {
                (u.powf(1.5) * 25.0) as i64
            } else {
                (u * u * 8.0) as i64
            };
            let d = self.nth(due_day, m);
            return (Some(self.office(d)), true);
        }
        if self.rng.random_bool(0.7) {
            // Early: a working day before the due date.
            let room = self.cal.workdays_between(day, due_day);
            if room >= 1 {
                let k = self.rng.random_range(0..room);
                let d = if k == 0 { day } else { self.nth(day, k) };
                if (k > 0 || self.workday(day))
                    && let Some(t) = self.office_between(d, t0 + 15 * MINUTE, Ts::MAX)
                {
                    return (Some(t), false);
                }
            }
        }
        // On time: on the due date, not after the due time.
        let t = self
            .office_between(due_day, t0 + 15 * MINUTE, due)
            .unwrap_or(due);
        (Some(t), false)
    }

    fn dossier(&mut self, id: DossierId, draft: Draft, progress: f64, out: &mut DayRows) {
        let cat = self.cat;
        let now = self.now;
        let procedure = &cat.procedures[usize::from(draft.procedure)];
        let agency = &cat.agencies[usize::from(draft.agency)];
        let day = id.0;
        let t0 = start_of(day) + draft.secs;
        let online = draft.channel == 2;
        let mut rec = DossierRec {
            id,
            procedure: draft.procedure,
            agency: draft.agency,
            channel: draft.channel,
            status: 0,
            received: Some(t0),
            due: None,
            finished: None,
            returned: None,
            digitized: if online {
                self.rng.random_bool(0.96)
            } else {
                self.rng
                    .random_bool(((0.4 + 0.4 * progress) * agency.digital).min(0.98))
            },
            e_result: false,
            paid_online: online && self.rng.random_bool(0.15 + 0.45 * progress),
            updated: t0,
        };
        let roll: f64 = self.rng.random();
        if roll < BAD_SHARE {
            self.bad_row(rec, out);
            return;
        }
        let mut roll = roll - BAD_SHARE;
        if roll < REGISTERED_SHARE {
            // Filed on the portal, not yet received.
            rec.status = 1;
            rec.received = None;
            rec.channel = 2;
            out.dossiers.push(rec);
            return;
        }
        roll -= REGISTERED_SHARE;
        if roll < NOT_ACCEPTED_SHARE {
            rec.status = 3;
            rec.received = None;
            rec.updated = self.office_after(t0).min(now).max(t0);
            out.dossiers.push(rec);
            return;
        }
        roll -= NOT_ACCEPTED_SHARE;
        let cancel = if roll < WITHDRAWN_SHARE {
            Some(7)
        } else if roll < WITHDRAWN_SHARE + STOPPED_SHARE {
            Some(8)
        } else {
            None
        };

        rec.due = self.due_at(t0, procedure.deadline);
        let (planned, late) = self.plan(t0, rec.due, agency);

        if let Some(status) = cancel {
            let horizon = planned.unwrap_or(t0 + 10 * SECONDS_PER_DAY);
            let at = t0 + ((horizon - t0) as f64 * self.rng.random_range(0.1..0.9)) as i64;
            let at = at.max(t0 + 10 * MINUTE);
            if at <= now {
                rec.status = status;
                // Withdrawals often leave finished_at empty: they end at updated_at.
                rec.finished = (status == 8 || self.rng.random_bool(0.5)).then_some(at);
                rec.updated = at;
                out.dossiers.push(rec);
                return;
            }
        }

        // A request for more papers stops the clock; the citizen comes back
        // some working days later and the result moves as far.
        let mut pause = None;
        if let Some(planned) = planned
            && cancel.is_none()
            && self.rng.random_bool(SUPPLEMENT_SHARE)
        {
            let room = self.cal.workdays_between(day, day_of(planned));
            if room >= 1 {
                let j = self.rng.random_range(0..room);
                let req_day = if j == 0 { day } else { self.nth(day, j) };
                if self.workday(req_day)
                    && let Some(req) = self.office_between(req_day, t0, planned - 1)
                {
                    let u: f64 = self.rng.random();
                    let r = 1 + (u * u * 10.0) as i64;
                    let res = self.office(self.nth(req_day, r));
                    pause = Some((req, res));
                }
            }
        }
        let finish = planned.map(|p| p + pause.map_or(0, |(req, res)| res - req));

        if let Some(finished) = finish.filter(|f| *f <= now) {
            // Resolved.
            rec.finished = Some(finished);
            rec.e_result = self
                .rng
                .random_bool(((0.3 + 0.4 * progress) * agency.digital).min(0.98));
            rec.status = 9;
            rec.updated = finished;
            if self.rng.random_bool(0.85) {
                let returned = if online && rec.e_result {
                    finished
                } else {
                    let k = self.rng.random_range(0..=4);
                    if k == 0 {
                        self.office_after(finished)
                    } else {
                        let d = self.nth(day_of(finished), k);
                        self.office(d)
                    }
                };
                if returned <= now {
                    rec.status = 10;
                    rec.returned = Some(returned);
                    rec.updated = returned;
                }
            }
            if let Some((req, res)) = pause {
                out.supplements.push(SupplementRec {
                    dossier: id,
                    requested: req,
                    resumed: Some(res),
                });
            }
        } else {
            // Still pending now.
            rec.status = if (now - t0 < 2 * SECONDS_PER_DAY && self.rng.random_bool(0.6))
                || self.rng.random_bool(0.03)
            {
                2
            } else {
                4
            };
            if let Some((req, res)) = pause.filter(|(req, _)| *req <= now) {
                let resumed = (res <= now).then_some(res);
                if resumed.is_none() {
                    rec.status = if self.rng.random_bool(0.15) { 6 } else { 5 };
                }
                rec.updated = resumed.unwrap_or(req);
                out.supplements.push(SupplementRec {
                    dossier: id,
                    requested: req,
                    resumed,
                });
            }
        }

        if late
            && let Some(due) = rec.due
            && self.rng.random_bool(APOLOGY_SHARE)
        {
            self.apology(&rec, due, planned, out);
        }
        if rec.finished.is_some()
            && self
                .rng
                .random_bool((EVALUATION_SHARE * (0.7 + 0.6 * progress)).min(1.0))
        {
            self.evaluation(&rec, late, out);
        }
        out.dossiers.push(rec);
    }

    /// Phiếu xin lỗi và hẹn lại: issued the working day before the due date.
    fn apology(&mut self, rec: &DossierRec, due: Ts, planned: Option<Ts>, out: &mut DayRows) {
        let Some(t0) = rec.received else { return };
        let (day, due_day) = (day_of(t0), day_of(due));
        let room = self.cal.workdays_between(day, due_day);
        let issue_day = if room >= 2 {
            self.nth(day, room - 1)
        } else {
            due_day
        };
        let issued = match self.office_between(issue_day, t0, Ts::MAX) {
            Some(t) => t,
            None => self.office_after(t0),
        };
        if issued > self.now {
            return;
        }
        let new_due = if self.rng.random_bool(0.9) {
            let base = match planned {
                Some(p) => day_of(p).max(due_day),
                None => self.nth(due_day, 10),
            };
            let k = self.rng.random_range(0..=2);
            Some(start_of(self.nth(base, k)) + 17 * HOUR)
        } else {
            None
        };
        out.apologies.push(ApologyRec {
            dossier: rec.id,
            issued,
            new_due,
        });
    }

    fn evaluation(&mut self, rec: &DossierRec, late: bool, out: &mut DayRows) {
        let Some(base) = rec.returned.or(rec.finished) else {
            return;
        };
        let at = base + self.rng.random_range(10 * MINUTE..3 * SECONDS_PER_DAY);
        if at > self.now {
            return;
        }
        let u: f64 = self.rng.random();
        let (very, satisfied) = if late { (0.25, 0.45) } else { (0.55, 0.41) };
        let rating = if self.rng.random_bool(BAD_RATING_SHARE) {
            "binh_thuong"
        } else if u < very {
            "very_satisfied"
        } else if u < very + satisfied {
            "satisfied"
        } else {
            "dissatisfied"
        };
        let dossier = (!self.rng.random_bool(ANONYMOUS_EVALUATION_SHARE)).then_some(rec.id);
        out.evaluations.push(EvaluationRec {
            dossier,
            agency: rec.agency,
            at,
            rating,
        });
    }

    /// A row that the judge must reject, one reason each (DESIGN §2).
    fn bad_row(&mut self, mut rec: DossierRec, out: &mut DayRows) {
        let t0 = rec.received.unwrap_or(rec.updated);
        let later = self.office_after(t0).min(self.now).max(t0);
        match self.rng.random_range(0..4) {
            0 => {
                // unknown_status
                rec.status = if self.rng.random_bool(0.5) { 0 } else { 11 };
            }
            1 => {
                // missing_received_at
                rec.status = 4;
                rec.received = None;
                rec.updated = later;
            }
            2 => {
                // missing_finished_at
                rec.status = 9;
                rec.updated = later;
            }
            _ => {
                // ended_before_received
                let finished = t0 - self.rng.random_range(HOUR..3 * SECONDS_PER_DAY);
                rec.status = 10;
                rec.finished = Some(finished);
                rec.returned = Some(finished);
                rec.updated = t0;
            }
        }
        out.dossiers.push(rec);
    }
}

/// Dossiers per day: working days busy (month-end peaks), days off quiet
/// (online only), the weeks around Tết quiet, slow growth over the years;
/// the exact total is `config.dossiers`.
fn daily_counts(config: &DemoConfig, cal: &WorkCalendar, start: Day, end: Day) -> Vec<u64> {
    let mut rng = SmallRng::seed_from_u64(config.seed ^ 0x5445_545f_4441_5953);
    let (first_year, last_year) = (date_of(start).year(), date_of(end).year());
    let tet: Vec<Day> = (first_year - 1..=last_year + 1)
        .filter_map(|y| lunar::lunar_to_solar(y, 1, 1, false))
        .map(day_number)
        .collect();
    let weights: Vec<f64> = (start..=end)
        .map(|d| {
            let date = date_of(d);
            let working = cal.is_workday_num(d);
            let mut w = if working {
                rng.random_range(0.85..1.15)
            } else {
                rng.random_range(0.03..0.09)
            };
            if working && date.day() >= 25 {
                w *= 1.35;
            }
            if date.month() == 12 {
                w *= 1.1;
            }
            let offset = tet
                .iter()
                .map(|t| d - t)
                .min_by_key(|o| o.abs())
                .unwrap_or(i32::MAX);
            w *= match offset {
                -21..=-8 => 1.15, // the rush to finish papers before Tết
                -7..=-4 => 0.7,
                -3..=6 => 0.25, // Tết week: even the working days are quiet
                7..=13 => 0.65,
                _ => 1.0,
            };
            w * (1.0 + 0.15 * f64::from(d - start) / 365.25)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let n = config.dossiers as f64;
    let mut acc = 0.0;
    let mut done = 0u64;
    weights
        .iter()
        .map(|w| {
            acc += w;
            let upto = ((acc / total * n).round() as u64).min(config.dossiers as u64);
            let count = upto - done;
            done = upto;
            count
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Rendering.

/// One table's INSERT statement being filled.
struct Batch {
    head: &'static str,
    sql: String,
    rows: usize,
}

impl Batch {
    fn new(head: &'static str) -> Self {
        Batch {
            head,
            sql: String::new(),
            rows: 0,
        }
    }

    /// Starts a row: the caller appends its `(…)`.
    fn row(&mut self) -> &mut String {
        if self.rows == 0 {
            self.sql.push_str(self.head);
        } else {
            self.sql.push_str(",\n");
        }
        self.rows += 1;
        &mut self.sql
    }

    fn full(&self) -> bool {
        self.rows >= BATCH_ROWS
    }

    fn take(&mut self) -> Option<String> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        self.sql.push_str(";\n");
        Some(std::mem::take(&mut self.sql))
    }
}

fn push_str_literal(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
}

fn push_digits(out: &mut String, value: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len().saturating_sub(width));
    if value < 0 {
        out.push('-');
    }
    for &b in &buf[start..] {
        out.push(char::from(b));
    }
}

/// (year, month, day) of a day number (days since 1970-01-01), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// 'YYYY-MM-DD HH:MM:SS'
fn push_ts(out: &mut String, ts: Ts) {
    out.push('\'');
    push_ts_bare(out, ts);
    out.push('\'');
}

/// YYYY-MM-DD HH:MM:SS, unquoted (COPY text format).
fn push_ts_bare(out: &mut String, ts: Ts) {
    let (y, m, d) = civil_from_days(ts.div_euclid(SECONDS_PER_DAY));
    let s = ts.rem_euclid(SECONDS_PER_DAY);
    push_digits(out, y, 4);
    out.push('-');
    push_digits(out, m, 2);
    out.push('-');
    push_digits(out, d, 2);
    out.push(' ');
    push_digits(out, s / HOUR, 2);
    out.push(':');
    push_digits(out, s % HOUR / MINUTE, 2);
    out.push(':');
    push_digits(out, s % MINUTE, 2);
}

fn push_opt_ts(out: &mut String, ts: Option<Ts>) {
    match ts {
        Some(ts) => push_ts(out, ts),
        None => out.push_str("NULL"),
    }
}

fn push_bool(out: &mut String, b: bool) {
    out.push_str(if b { "TRUE" } else { "FALSE" });
}

/// MaHoSo: DBI-YYYYMMDD-NNNNNN, numbered by arrival within the day, so codes
/// sort in order of arrival.
fn push_code(out: &mut String, id: DossierId, width: usize) {
    let (y, m, d) = civil_from_days(i64::from(id.0));
    out.push_str("DBI-");
    push_digits(out, y, 4);
    push_digits(out, m, 2);
    push_digits(out, d, 2);
    out.push('-');
    push_digits(out, i64::from(id.1), width);
}

#[cfg(test)]
fn dossier_code(id: DossierId, width: usize) -> String {
    let mut s = String::with_capacity(20);
    push_code(&mut s, id, width);
    s
}

const AGENCIES_HEAD: &str = "INSERT INTO agencies (code, name, parent_code, level) VALUES\n";
const SECTORS_HEAD: &str = "INSERT INTO sectors (code, name) VALUES\n";
const PROCEDURES_HEAD: &str = "INSERT INTO procedures (code, name, sector_code, deadline_days, online_level, has_fee) VALUES\n";
const DOSSIERS_HEAD: &str = "INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at, due_at, finished_at, returned_at, digitized, e_result, paid_online, updated_at) VALUES\n";
const SUPPLEMENTS_HEAD: &str =
    "INSERT INTO supplements (dossier_code, requested_at, resumed_at) VALUES\n";
const APOLOGIES_HEAD: &str = "INSERT INTO apologies (dossier_code, issued_at, new_due_at) VALUES\n";
const EVALUATIONS_HEAD: &str =
    "INSERT INTO evaluations (dossier_code, agency_code, evaluated_at, rating) VALUES\n";

/// The catalogue (agencies, sectors, procedures) as INSERT statements,
/// counted into `summary`.
fn catalogue_inserts(cat: &Catalogue, summary: &mut DemoSummary) -> Vec<String> {
    let mut ready = Vec::new();
    let mut agencies = Batch::new(AGENCIES_HEAD);
    for a in &cat.agencies {
        let out = agencies.row();
        out.push('(');
        push_str_literal(out, a.code);
        out.push_str(", ");
        push_str_literal(out, a.name);
        out.push_str(", ");
        match a.parent {
            Some(p) => push_str_literal(out, p),
            None => out.push_str("NULL"),
        }
        out.push_str(", ");
        push_str_literal(out, a.level.label());
        out.push(')');
        summary.agencies += 1;
    }
    let mut sectors = Batch::new(SECTORS_HEAD);
    for s in &cat.sectors {
        let out = sectors.row();
        out.push('(');
        push_str_literal(out, s.code);
        out.push_str(", ");
        push_str_literal(out, s.name);
        out.push(')');
        summary.sectors += 1;
    }
    let mut procedures = Batch::new(PROCEDURES_HEAD);
    for p in &cat.procedures {
        if procedures.full() {
            ready.extend(procedures.take());
        }
        let out = procedures.row();
        out.push('(');
        push_str_literal(out, &p.code);
        out.push_str(", ");
        push_str_literal(out, &p.name);
        out.push_str(", ");
        push_str_literal(out, cat.sectors[p.sector].code);
        out.push_str(", ");
        match p.deadline {
            Some(d) if d.fract() == 0.0 => push_digits(out, d as i64, 1),
            Some(d) => out.push_str(&d.to_string()),
            None => out.push_str("NULL"),
        }
        out.push_str(", ");
        push_str_literal(out, p.online.label());
        out.push_str(", ");
        push_bool(out, p.has_fee);
        out.push(')');
        summary.procedures += 1;
    }
    ready.extend(agencies.take());
    ready.extend(sectors.take());
    ready.extend(procedures.take());
    ready
}

/// The demo data as a stream of INSERT statements (see [`insert_batches`]).
pub struct DemoBatches {
    generator: Generator,
    day: DayRows,
    ready: VecDeque<String>,
    dossiers: Batch,
    supplements: Batch,
    apologies: Batch,
    evaluations: Batch,
    summary: DemoSummary,
    code_width: usize,
    done: bool,
}

impl DemoBatches {
    fn new(config: &DemoConfig) -> Self {
        let generator = Generator::new(config);
        let mut batches = DemoBatches {
            code_width: code_width(&generator),
            generator,
            day: DayRows::default(),
            ready: VecDeque::new(),
            dossiers: Batch::new(DOSSIERS_HEAD),
            supplements: Batch::new(SUPPLEMENTS_HEAD),
            apologies: Batch::new(APOLOGIES_HEAD),
            evaluations: Batch::new(EVALUATIONS_HEAD),
            summary: DemoSummary::default(),
            done: false,
        };
        batches.catalogue_statements();
        batches
    }

    /// Dossiers generated so far (for a progress bar).
    pub fn dossiers_generated(&self) -> usize {
        self.generator.generated
    }

    /// Rows generated so far, per table; the totals once the iterator is exhausted.
    pub fn summary(&self) -> &DemoSummary {
        &self.summary
    }

    fn catalogue_statements(&mut self) {
        let statements = catalogue_inserts(self.generator.cat, &mut self.summary);
        self.ready.extend(statements);
    }

    fn render_day(&mut self) {
        let cat = self.generator.cat;
        let width = self.code_width;
        for d in &self.day.dossiers {
            if self.dossiers.full() {
                self.ready.extend(self.dossiers.take());
            }
            let procedure = &cat.procedures[usize::from(d.procedure)];
            let out = self.dossiers.row();
            out.push_str("('");
            push_code(out, d.id, width);
            out.push_str("', ");
            push_str_literal(out, &procedure.code);
            out.push_str(", ");
            push_str_literal(out, cat.agencies[usize::from(d.agency)].code);
            out.push_str(", ");
            push_digits(out, i64::from(d.channel), 1);
            out.push_str(", ");
            push_digits(out, i64::from(d.status), 1);
            for ts in [d.received, d.due, d.finished, d.returned] {
                out.push_str(", ");
                push_opt_ts(out, ts);
            }
            for b in [d.digitized, d.e_result, d.paid_online] {
                out.push_str(", ");
                push_bool(out, b);
            }
            out.push_str(", ");
            push_ts(out, d.updated);
            out.push(')');
        }
        self.summary.dossiers += self.day.dossiers.len();
        for s in &self.day.supplements {
            if self.supplements.full() {
                self.ready.extend(self.supplements.take());
            }
            let out = self.supplements.row();
            out.push_str("('");
            push_code(out, s.dossier, width);
            out.push_str("', ");
            push_ts(out, s.requested);
            out.push_str(", ");
            push_opt_ts(out, s.resumed);
            out.push(')');
        }
        self.summary.supplements += self.day.supplements.len();
        for a in &self.day.apologies {
            if self.apologies.full() {
                self.ready.extend(self.apologies.take());
            }
            let out = self.apologies.row();
            out.push_str("('");
            push_code(out, a.dossier, width);
            out.push_str("', ");
            push_ts(out, a.issued);
            out.push_str(", ");
            push_opt_ts(out, a.new_due);
            out.push(')');
        }
        self.summary.apologies += self.day.apologies.len();
        for e in &self.day.evaluations {
            if self.evaluations.full() {
                self.ready.extend(self.evaluations.take());
            }
            let out = self.evaluations.row();
            out.push('(');
            match e.dossier {
                Some(id) => {
                    out.push('\'');
                    push_code(out, id, width);
                    out.push('\'');
                }
                None => out.push_str("NULL"),
            }
            out.push_str(", ");
            push_str_literal(out, cat.agencies[usize::from(e.agency)].code);
            out.push_str(", ");
            push_ts(out, e.at);
            out.push_str(", ");
            push_str_literal(out, e.rating);
            out.push(')');
        }
        self.summary.evaluations += self.day.evaluations.len();
    }
}

impl Iterator for DemoBatches {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            if let Some(statement) = self.ready.pop_front() {
                return Some(statement);
            }
            if self.done {
                return None;
            }
            if self.generator.next_day(&mut self.day) {
                self.render_day();
            } else {
                self.done = true;
                self.ready.extend(self.dossiers.take());
                self.ready.extend(self.supplements.take());
                self.ready.extend(self.apologies.take());
                self.ready.extend(self.evaluations.take());
            }
        }
    }
}

impl std::fmt::Debug for DemoBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoBatches")
            .field("summary", &self.summary)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::hash::{DefaultHasher, Hash, Hasher};
    use std::sync::OnceLock;

    use super::*;
    use crate::classify::{Judge, StateAt};
    use crate::judge::{Verdict, build_dataset, judge_dossier};
    use crate::model::{
        Agency, ApologyRow, Dataset, Dossier, DossierRow, EvaluationRow, PendingState, Procedure,
        RejectReason, Sector, SourceRows, SupplementRow, Timeliness,
    };
    use crate::source::{ConnectOptions, Dialect, SqlFiles};

    fn end() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 9, 30).unwrap()
    }

    fn small(seed: u64, dossiers: usize) -> DemoConfig {
        DemoConfig {
            seed,
            dossiers,
            ..DemoConfig::new(end())
        }
    }

    /// Every generated row, typed.
    #[derive(Default)]
    struct All {
        dossiers: Vec<DossierRec>,
        supplements: Vec<SupplementRec>,
        apologies: Vec<ApologyRec>,
        evaluations: Vec<EvaluationRec>,
    }

    fn generate(config: &DemoConfig) -> All {
        let mut generator = Generator::new(config);
        let mut day = DayRows::default();
        let mut all = All::default();
        while generator.next_day(&mut day) {
            all.dossiers.append(&mut day.dossiers);
            all.supplements.append(&mut day.supplements);
            all.apologies.append(&mut day.apologies);
            all.evaluations.append(&mut day.evaluations);
        }
        all
    }

    /// The canonical rows the SQL files would read back.
    fn source_rows(all: &All) -> SourceRows {
        let cat = catalogue();
        let code = |id| dossier_code(id, 6);
        SourceRows {
            agencies: cat
                .agencies
                .iter()
                .map(|a| Agency {
                    code: a.code.into(),
                    name: a.name.into(),
                    parent_code: a.parent.map(Into::into),
                    level: a.level.label().into(),
                })
                .collect(),
            sectors: cat
                .sectors
                .iter()
                .map(|s| Sector {
                    code: s.code.into(),
                    name: s.name.into(),
                })
                .collect(),
            procedures: cat
                .procedures
                .iter()
                .map(|p| Procedure {
                    code: p.code.clone(),
                    name: p.name.clone(),
                    sector_code: cat.sectors[p.sector].code.into(),
                    deadline_days: p.deadline,
                    online_level: p.online.label().into(),
                    has_fee: Some(p.has_fee),
                })
                .collect(),
            dossiers: all.dossiers.iter().map(dossier_row).collect(),
            supplements: all
                .supplements
                .iter()
                .map(|s| SupplementRow {
                    dossier_code: code(s.dossier),
                    requested_at: s.requested,
                    resumed_at: s.resumed,
                })
                .collect(),
            apologies: all
                .apologies
                .iter()
                .map(|a| ApologyRow {
                    dossier_code: code(a.dossier),
                    issued_at: Some(a.issued),
                    new_due_at: a.new_due,
                })
                .collect(),
            evaluations: all
                .evaluations
                .iter()
                .map(|e| EvaluationRow {
                    dossier_code: e.dossier.map(code),
                    agency_code: cat.agencies[usize::from(e.agency)].code.into(),
                    evaluated_at: Some(e.at),
                    rating: e.rating.into(),
                })
                .collect(),
        }
    }

    fn dossier_row(d: &DossierRec) -> DossierRow {
        let cat = catalogue();
        DossierRow {
            code: dossier_code(d.id, 6),
            procedure_code: cat.procedures[usize::from(d.procedure)].code.clone(),
            agency_code: cat.agencies[usize::from(d.agency)].code.into(),
            channel: Some(i64::from(d.channel)),
            status: i64::from(d.status),
            received_at: d.received,
            due_at: d.due,
            finished_at: d.finished,
            returned_at: d.returned,
            digitized: d.digitized,
            e_result: d.e_result,
            paid_online: d.paid_online,
            updated_at: Some(d.updated),
        }
    }

    /// The default 300 000-dossier demo, generated once for every test that needs it.
    fn full() -> &'static All {
        static FULL: OnceLock<All> = OnceLock::new();
        FULL.get_or_init(|| generate(&DemoConfig::new(end())))
    }

    fn hash_batches(config: &DemoConfig) -> u64 {
        let mut h = DefaultHasher::new();
        for statement in insert_batches(config) {
            statement.hash(&mut h);
        }
        h.finish()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = small(7, 5_000);
        assert_eq!(hash_batches(&a), hash_batches(&a));
        assert_ne!(hash_batches(&a), hash_batches(&small(8, 5_000)));
        let mut later = a.clone();
        later.end = end().succ_opt().unwrap();
        assert_ne!(hash_batches(&a), hash_batches(&later));
    }

    #[tokio::test]
    async fn write_demo_can_run_on_a_spawned_task() {
        fn assert_send<T: Send>(_: &T) {}
        let source = Source::open("sqlite::memory:", &ConnectOptions::default()).unwrap();
        let config = small(1, 10);
        assert_send(&write_demo(&source, &config, false));
        assert_send(&insert_batches(&config));
    }

    #[test]
    fn the_reorganisation_of_1_july_2025_moves_intake_to_the_new_communes() {
        let dataset = build_dataset(source_rows(full()));
        let cut = start_of(day_number(NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()));
        let old: Vec<&str> = REORGANISED.iter().map(|(o, _)| *o).collect();
        let new: Vec<&str> = REORGANISED.iter().map(|(_, n)| *n).collect();
        // (before, after) the cut, for the old units and the new communes.
        let (mut olds, mut news) = ((0, 0), (0, 0));
        for d in &dataset.dossiers {
            let code = dataset.agency_codes[d.agency as usize].as_str();
            let side = |n: &mut (usize, usize)| {
                if d.received < cut { n.0 += 1 } else { n.1 += 1 }
            };
            if old.contains(&code) {
                side(&mut olds);
            } else if new.contains(&code) {
                side(&mut news);
            }
        }
        assert_eq!(olds.1, 0, "the district units received after 30 June 2025");
        assert_eq!(news.0, 0, "the new communes received before 1 July 2025");
        assert!(olds.0 > 1000 && news.1 > 1000, "{olds:?} {news:?}");
        // The new communes sit directly under the province.
        for (_, n) in REORGANISED {
            let i = dataset.agency_index(n).expect("a new commune has intake") as usize;
            let parent = dataset.agencies[i]
                .as_ref()
                .and_then(|a| a.parent_code.clone());
            assert_eq!(parent.as_deref(), Some("DBI"), "{n}");
        }
    }

    #[test]
    fn catalogue_has_the_size_of_a_province() {
        let cat = catalogue();
        // 42 units of the three-tier government, 14 communes of the two-tier one.
        assert!(
            (50..=60).contains(&cat.agencies.len()),
            "{}",
            cat.agencies.len()
        );
        assert!(
            (28..=35).contains(&cat.sectors.len()),
            "{}",
            cat.sectors.len()
        );
        assert!(
            (280..=330).contains(&cat.procedures.len()),
            "{}",
            cat.procedures.len()
        );

        let roots: Vec<_> = cat.agencies.iter().filter(|a| a.parent.is_none()).collect();
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].name, "UBND tỉnh Điện Biên");
        for a in &cat.agencies {
            if let Some(parent) = a.parent {
                let p = cat.agencies.iter().find(|p| p.code == parent);
                let p = p.unwrap_or_else(|| panic!("{}: no parent {parent}", a.code));
                // Communes sit under a district until 30 June 2025, and
                // directly under the province after.
                let expected: &[Level] = match a.level {
                    Level::Department | Level::District => &[Level::Province],
                    Level::Commune => &[Level::District, Level::Province],
                    Level::Province => unreachable!(),
                };
                assert!(expected.contains(&p.level), "{}", a.code);
            }
        }
        for level in [Level::Department, Level::District, Level::Commune] {
            let n = cat.agencies.iter().filter(|a| a.level == level).count();
            assert!(n >= 10, "{level:?}: {n}");
        }

        let unique = |codes: Vec<&str>| {
            let n = codes.len();
            let set: std::collections::HashSet<_> = codes.into_iter().collect();
            set.len() == n
        };
        assert!(unique(cat.agencies.iter().map(|a| a.code).collect()));
        assert!(unique(cat.sectors.iter().map(|s| s.code).collect()));
        assert!(unique(
            cat.procedures.iter().map(|p| p.code.as_str()).collect()
        ));
        assert!(unique(
            cat.procedures.iter().map(|p| p.name.as_str()).collect()
        ));

        for (i, _) in cat.sectors.iter().enumerate() {
            assert!(cat.procedures.iter().any(|p| p.sector == i));
        }
        for p in &cat.procedures {
            if let Some(d) = p.deadline {
                assert!(DEADLINES.contains(&d), "{}: {d}", p.name);
            }
        }
        let nulls = cat
            .procedures
            .iter()
            .filter(|p| p.deadline.is_none())
            .count();
        assert!((3..=30).contains(&nulls), "{nulls} without deadline");
        for d in DEADLINES {
            assert!(cat.procedures.iter().any(|p| p.deadline == Some(d)), "{d}");
        }
        for level in [OnlineLevel::Full, OnlineLevel::Partial, OnlineLevel::None] {
            assert!(cat.procedures.iter().filter(|p| p.online == level).count() >= 20);
        }
        for name in [
            "Đăng ký khai sinh",
            "Cấp giấy chứng nhận quyền sử dụng đất lần đầu",
            "Cấp phiếu lý lịch tư pháp số 1",
            "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "Đăng ký thành lập doanh nghiệp tư nhân",
        ] {
            assert!(cat.procedures.iter().any(|p| p.name == name), "{name}");
        }
    }

    #[test]
    fn names_are_nfc_vietnamese_and_safe_in_sql() {
        let cat = catalogue();
        let names: Vec<&str> = cat
            .agencies
            .iter()
            .map(|a| a.name)
            .chain(cat.sectors.iter().map(|s| s.name))
            .chain(cat.procedures.iter().map(|p| p.name.as_str()))
            .collect();
        for name in &names {
            // Vietnamese in NFD spells tones and hooks with combining marks
            // (U+0300–U+036F); NFC has a precomposed letter for every one.
            assert!(
                !name.chars().any(|c| ('\u{300}'..='\u{36f}').contains(&c)),
                "not NFC: {name:?}"
            );
            assert!(
                !name.contains(['\\', ';', '\n', '\'', '{', '}', '|']),
                "{name:?}"
            );
            assert_eq!(name.trim(), *name);
        }
        let accented = names.iter().filter(|n| !n.is_ascii()).count();
        assert!(
            accented * 10 >= names.len() * 9,
            "{accented} of {}",
            names.len()
        );
        // Letters only Vietnamese uses, precomposed.
        let all: String = names.concat();
        for c in ['đ', 'Đ', 'ư', 'ơ', 'ă', 'ạ', 'ệ', 'ủ', 'ợ', 'ỹ'] {
            assert!(all.contains(c), "no {c}");
        }
    }

    #[test]
    fn statements_are_batches_of_rows_in_code_order() {
        let config = small(3, 12_000);
        let mut previous = String::new();
        let mut statements = 0;
        for statement in insert_batches(&config) {
            statements += 1;
            assert!(statement.starts_with("INSERT INTO "), "{statement:.80}");
            assert!(statement.ends_with(");\n"));
            // The only line-ending ';' is the statement's own.
            assert_eq!(statement.matches(";\n").count(), 1);
            let rows: Vec<&str> = statement.lines().skip(1).collect();
            assert!(!rows.is_empty() && rows.len() <= BATCH_ROWS);
            assert!(rows.iter().all(|r| r.starts_with('(')));
            if statement.starts_with("INSERT INTO dossiers ") {
                for row in rows {
                    let code = &row[2..row[2..].find('\'').unwrap() + 2];
                    assert!(code > previous.as_str(), "{code} after {previous}");
                    previous = code.to_owned();
                }
            }
        }
        assert!(statements >= 15, "{statements}");
        assert_eq!(previous.len(), "DBI-20250930-000001".len());
    }

    #[test]
    fn timestamps_render_like_chrono() {
        for ts in [
            0,
            1,
            86_399,
            951_782_400 + 3_723,
            1_759_246_200,
            -86_400,
            4_102_444_799,
        ] {
            let mut s = String::new();
            push_ts(&mut s, ts);
            let expected = crate::model::datetime_of(ts).format("'%Y-%m-%d %H:%M:%S'");
            assert_eq!(s, expected.to_string());
        }
        let mut s = String::new();
        push_code(&mut s, (day_number(end()), 42), 6);
        assert_eq!(s, "DBI-20250930-000042");
    }

    #[tokio::test]
    async fn sqlite_database_holds_what_the_summary_says() {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "motcua-demo-test-{}-{}-{}.sqlite",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let config = small(11, 3_000);
        let options = ConnectOptions {
            read_only: false,
            ..ConnectOptions::default()
        };
        let source = Source::open(&format!("sqlite:{}", path.display()), &options).unwrap();
        let result = async {
            let summary = write_demo(&source, &config, false).await.unwrap();
            let Source::Sqlite(pool) = &source else {
                unreachable!()
            };
            let mut counts = Vec::new();
            for table in [
                "agencies",
                "sectors",
                "procedures",
                "dossiers",
                "supplements",
                "apologies",
                "evaluations",
            ] {
                let sql = AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
                let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
                counts.push(n as usize);
            }
            let zone = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
            let files = SqlFiles::embedded(Dialect::Sqlite);
            let rows = source.load(&files, zone).await.unwrap();
            let reader = crate::Reader {
                source: source.clone(),
                files,
            };
            let streamed = reader.read(zone).await.unwrap();
            (summary, counts, rows, streamed)
        }
        .await;
        source.close().await;
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let (summary, counts, rows, streamed) = result;
        // The dashboard's read judges rows as they stream past; it must
        // come to the same dataset as judging them all at once.
        // The orders differ (a hash of the code against the code itself), so
        // each dossier is compared with its pauses, in a sorted list.
        // Each open dossier also with its identity: the side table must
        // point at the same dossier whichever the order.
        let whole = |ds: &Dataset| {
            let identity: std::collections::HashMap<u32, _> = ds
                .open
                .iter()
                .map(|o| (o.dossier, (&o.code, &o.procedure, o.status)))
                .collect();
            let mut all: Vec<String> = ds
                .dossiers
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    format!(
                        "{:?} {:?} {:?}",
                        Dossier {
                            pauses: (0, 0),
                            ..d.clone()
                        },
                        ds.pauses_of(d),
                        identity.get(&(i as u32))
                    )
                })
                .collect();
            all.sort_unstable();
            all
        };
        let at_once = build_dataset(rows.clone());
        assert_eq!(whole(&streamed), whole(&at_once));
        let open = |ds: &Dataset| {
            ds.dossiers
                .iter()
                .filter(|d| matches!(d.stage, crate::model::Stage::Open { .. }))
                .count()
        };
        assert!(!streamed.open.is_empty());
        assert_eq!(streamed.open.len(), open(&streamed));
        assert_eq!(
            Dataset {
                dossiers: Vec::new(),
                pauses: Vec::new(),
                // Indices into dossiers ordered by hash, not by code.
                open: Vec::new(),
                ..streamed.clone()
            },
            Dataset {
                dossiers: Vec::new(),
                pauses: Vec::new(),
                open: Vec::new(),
                ..at_once
            }
        );
        assert!(streamed.pauses.len() > 100 && streamed.dossiers.iter().any(|d| d.has_apology));
        assert_eq!(
            counts,
            [
                summary.agencies,
                summary.sectors,
                summary.procedures,
                summary.dossiers,
                summary.supplements,
                summary.apologies,
                summary.evaluations
            ]
        );
        assert_eq!(summary.dossiers, 3_000);
        assert!(summary.supplements > 0 && summary.apologies > 0 && summary.evaluations > 0);
        assert_eq!(summary.agencies, catalogue().agencies.len());

        // Read back through the shipped SQL files, the database says exactly
        // what the generator meant: same rows, same judgement.
        let expected = source_rows(&generate(&config));
        assert_eq!(rows.dossiers, expected.dossiers);
        assert_eq!(rows.supplements, expected.supplements);
        assert_eq!(rows.apologies, expected.apologies);
        assert_eq!(rows.evaluations, expected.evaluations);
        assert_eq!(rows.procedures, expected.procedures);
        assert_eq!(rows.agencies, expected.agencies);
    }

    #[test]
    fn every_rejection_reason_occurs_at_full_scale() {
        let all = full();
        assert_eq!(all.dossiers.len(), 300_000);
        let mut rejected: HashMap<RejectReason, usize> = HashMap::new();
        for d in &all.dossiers {
            if let Verdict::Rejected(reason) = judge_dossier(&dossier_row(d)) {
                *rejected.entry(reason).or_default() += 1;
            }
        }
        *rejected.entry(RejectReason::UnknownRating).or_default() += all
            .evaluations
            .iter()
            .filter(|e| crate::model::Rating::parse(e.rating).is_none())
            .count();
        for reason in RejectReason::ALL {
            let n = rejected.get(reason).copied().unwrap_or(0);
            assert!(n >= 1, "no {reason} rows");
        }
        let dossier_rejects: usize = rejected
            .iter()
            .filter(|(r, _)| **r != RejectReason::UnknownRating)
            .map(|(_, n)| n)
            .sum();
        assert!((60..=300).contains(&dossier_rejects), "{dossier_rejects}");
    }

    #[test]
    fn tet_week_is_quiet() {
        let all = full();
        let mut per_day: HashMap<Day, usize> = HashMap::new();
        for d in &all.dossiers {
            *per_day.entry(d.id.0).or_default() += 1;
        }
        let avg = |days: &mut dyn Iterator<Item = Day>| {
            let days: Vec<Day> = days.collect();
            days.iter()
                .map(|d| per_day.get(d).copied().unwrap_or(0))
                .sum::<usize>() as f64
                / days.len() as f64
        };
        for year in [2023, 2024, 2025] {
            let tet = day_number(lunar::lunar_to_solar(year, 1, 1, false).unwrap());
            let week = avg(&mut (tet - 3..=tet + 3));
            let around = avg(&mut (tet - 17..=tet - 4).chain(tet + 4..=tet + 17));
            assert!(
                week < 0.4 * around,
                "{year}: {week:.1}/day in Tết week, {around:.1} around"
            );
        }
        // Weekends: online only, and few.
        let sundays = avg(&mut (day_number(end()) - 700..=day_number(end()))
            .filter(|d| date_of(*d).weekday() == chrono::Weekday::Sun));
        let tuesdays = avg(&mut (day_number(end()) - 700..=day_number(end()))
            .filter(|d| date_of(*d).weekday() == chrono::Weekday::Tue));
        assert!(sundays < 0.15 * tuesdays, "{sundays} vs {tuesdays}");
    }

    #[test]
    fn channels_move_online() {
        let all = full();
        let end_day = day_number(end());
        let share = |from: Day, to: Day, channel: u8| {
            let year: Vec<_> = all
                .dossiers
                .iter()
                .filter(|d| (from..to).contains(&d.id.0))
                .collect();
            year.iter().filter(|d| d.channel == channel).count() as f64 / year.len() as f64
        };
        let first = share(end_day - 3 * 365, end_day - 2 * 365, 2);
        let last = share(end_day - 365, end_day + 1, 2);
        assert!(
            (0.10..=0.25).contains(&first),
            "online {first:.3} in year 1"
        );
        assert!((0.45..=0.65).contains(&last), "online {last:.3} in year 3");
        let postal = share(end_day - 3 * 365, end_day + 1, 3);
        assert!((0.015..=0.045).contains(&postal), "postal {postal:.3}");
    }

    #[test]
    fn rows_are_consistent_and_nothing_happens_after_now() {
        let all = full();
        let now = DemoConfig::new(end()).now();
        let mut status: HashMap<u8, usize> = HashMap::new();
        for d in &all.dossiers {
            *status.entry(d.status).or_default() += 1;
            assert!(d.updated <= now);
            for t in [d.received, d.finished, d.returned].into_iter().flatten() {
                assert!(t <= now && t <= d.updated, "{d:?}");
            }
            if matches!(d.status, 1..=10) && !matches!(d.status, 1 | 3) {
                let (Some(received), Some(due)) = (d.received, d.due) else {
                    continue;
                };
                assert!(due > received, "{d:?}");
                if let Some(f) = d.finished
                    && d.status != 10
                    && d.status != 9
                {
                    assert!(f >= received);
                }
            }
        }
        let n = all.dossiers.len() as f64;
        let share = |s: u8| status.get(&s).copied().unwrap_or(0) as f64 / n;
        assert!(share(9) + share(10) > 0.85, "{status:?}");
        assert!((0.015..=0.025).contains(&share(7)), "{status:?}");
        assert!((0.003..=0.007).contains(&share(8)), "{status:?}");
        assert!((0.007..=0.013).contains(&share(3)), "{status:?}");
        assert!((0.003..=0.007).contains(&share(1)), "{status:?}");
        assert!(share(5) + share(6) > 0.0 && share(2) + share(4) > share(5) + share(6));

        for s in &all.supplements {
            assert!(s.requested <= now);
            assert!(s.resumed.is_none_or(|r| r > s.requested && r <= now));
        }
        let supplement_share = all.supplements.len() as f64 / n;
        assert!(
            (0.06..=0.10).contains(&supplement_share),
            "{supplement_share}"
        );
        let open = all
            .supplements
            .iter()
            .filter(|s| s.resumed.is_none())
            .count();
        assert!(open > 0 && open * 10 < all.supplements.len(), "{open} open");
        assert!(all.apologies.iter().all(|a| a.issued <= now));
        assert!(all.evaluations.iter().all(|e| e.at <= now));
        let anonymous = all
            .evaluations
            .iter()
            .filter(|e| e.dossier.is_none())
            .count();
        assert!(anonymous > 0);

        let resolved = share(9) + share(10);
        let evaluated = all.evaluations.len() as f64 / (resolved * n);
        assert!((0.25..=0.35).contains(&evaluated), "{evaluated}");
        let satisfied = all
            .evaluations
            .iter()
            .filter(|e| matches!(e.rating, "very_satisfied" | "satisfied"))
            .count() as f64
            / all.evaluations.len() as f64;
        assert!((0.85..=0.97).contains(&satisfied), "{satisfied}");
    }

    #[test]
    fn lateness_is_concentrated_in_a_few_agencies() {
        let all = full();
        let rows = source_rows(all);
        let dataset = build_dataset(rows);
        let calendar = WorkCalendar::builtin();
        let judge = Judge::new(&dataset, &calendar);
        let now = DemoConfig::new(end()).now();
        let mut per_agency: HashMap<&str, (usize, usize, usize)> = HashMap::new();
        let apologised = dataset.dossiers.iter().filter(|d| d.has_apology).count();
        let mut late_or_overdue = 0;
        for d in &dataset.dossiers {
            let code = dataset.agency_codes[d.agency as usize].as_str();
            let entry = per_agency.entry(code).or_default();
            if let Some(t) = judge.timeliness(d) {
                entry.0 += 1;
                if t == Timeliness::Late {
                    entry.1 += 1;
                    late_or_overdue += 1;
                }
            }
            if judge.state_at(d, now, true) == StateAt::Pending(PendingState::Overdue) {
                entry.2 += 1;
                late_or_overdue += 1;
            }
        }
        let late_codes: Vec<&str> = LATE_AGENCIES.iter().map(|(c, _)| *c).collect();
        let mut overdue_late = 0;
        let mut overdue_all = 0;
        for (code, (resolved, late, overdue)) in &per_agency {
            let share = *late as f64 / *resolved as f64;
            overdue_all += overdue;
            if late_codes.contains(code) {
                overdue_late += overdue;
                assert!((0.12..=0.32).contains(&share), "{code}: {share:.3} late");
            } else if *resolved >= 300 {
                assert!(share <= 0.05, "{code}: {share:.3} late of {resolved}");
            }
        }
        assert!(
            overdue_all > 0 && overdue_late * 2 > overdue_all,
            "{overdue_late}/{overdue_all}"
        );
        let apology_share = apologised as f64 / late_or_overdue as f64;
        assert!((0.35..=0.6).contains(&apology_share), "{apology_share}");
    }

    /// PostgreSQL at 127.0.0.1:5432 (user postgres) as an admin pool; None
    /// (skip, saying why) when it is missing, except with `CI=true`, where
    /// a missing server fails the test.
    async fn postgres_admin() -> Option<sqlx::PgPool> {
        let url = "postgres://postgres@127.0.0.1:5432/postgres";
        match sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
        {
            Ok(pool) => Some(pool),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
                panic!("PostgreSQL at 127.0.0.1:5432 is required with CI=true: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is not available: {e}");
                None
            }
        }
    }

    /// Every row of every reference table, as PostgreSQL's row text, sorted.
    async fn pg_tables(pool: &sqlx::PgPool) -> Vec<(&'static str, Vec<String>)> {
        let mut out = Vec::new();
        for table in [
            "agencies",
            "sectors",
            "procedures",
            "dossiers",
            "supplements",
            "apologies",
            "evaluations",
        ] {
            let sql = AssertSqlSafe(format!("SELECT t::text FROM {table} t ORDER BY t::text"));
            let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await.unwrap();
            out.push((table, rows));
        }
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        out.push(("pg_indexes", indexes));
        out
    }

    #[tokio::test]
    async fn copy_into_postgres_writes_exactly_what_the_inserts_write() {
        let Some(admin) = postgres_admin().await else {
            return;
        };
        let config = small(5, 20_000);
        let names = [
            format!("motcua_demo_insert_{}", std::process::id()),
            format!("motcua_demo_copy_{}", std::process::id()),
        ];
        for name in &names {
            let sql = AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            admin.execute(sql).await.unwrap();
            let sql = AssertSqlSafe(format!("CREATE DATABASE {name}"));
            admin.execute(sql).await.unwrap();
        }
        let url = |name: &str| format!("postgres://postgres@127.0.0.1:5432/{name}");
        let result = async {
            let writable = ConnectOptions {
                read_only: false,
                ..ConnectOptions::default()
            };
            let source = Source::open(&url(&names[0]), &writable).unwrap();
            let inserted = write_demo(&source, &config, false).await.unwrap();
            let Source::Postgres(insert_pool, _) = &source else {
                unreachable!()
            };
            let by_insert = pg_tables(insert_pool).await;
            source.close().await;

            let copy_pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .connect(&url(&names[1]))
                .await
                .unwrap();
            let copied = copy_demo_into_postgres(&copy_pool, &config, false)
                .await
                .unwrap();
            let by_copy = pg_tables(&copy_pool).await;
            copy_pool.close().await;
            (inserted, copied, by_insert, by_copy)
        }
        .await;
        for name in &names {
            let sql = AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            admin.execute(sql).await.unwrap();
        }
        admin.close().await;

        let (inserted, copied, by_insert, by_copy) = result;
        assert_eq!(copied, inserted);
        assert_eq!(inserted.dossiers, 20_000);
        assert!(inserted.supplements > 0 && inserted.apologies > 0 && inserted.evaluations > 0);
        for ((table, a), (_, b)) in by_insert.iter().zip(&by_copy) {
            assert_eq!(a.len(), b.len(), "{table}: row counts differ");
            if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
                panic!("{table}: first difference at row {i}: {} vs {}", a[i], b[i]);
            }
        }
        // Some NULLs really went through `\N`.
        let supplements = &by_copy[4].1;
        assert!(supplements.iter().any(|r| r.ends_with(",)")));
        let evaluations = &by_copy[6].1;
        assert!(evaluations.iter().any(|r| r.starts_with("(,")));
    }

    #[tokio::test]
    async fn copy_refuses_a_pool_too_small_for_four_copies() {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy("postgres://postgres@127.0.0.1:1/none")
            .unwrap();
        let err = copy_demo_into_postgres(&pool, &small(1, 10), false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("at least 4 connections"), "{err}");
    }

    /// Timings: `cargo test --release -p motcua-queries demo::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn timing_sql_generation() {
        let config = DemoConfig::new(end());
        let started = std::time::Instant::now();
        let (mut statements, mut bytes) = (0, 0);
        for s in insert_batches(&config) {
            statements += 1;
            bytes += s.len();
        }
        eprintln!(
            "300k dossiers as SQL: {statements} statements, {} MB in {:.2?}",
            bytes / 1_000_000,
            started.elapsed()
        );
    }

    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn timing_sqlite_write() {
        let path =
            std::env::temp_dir().join(format!("motcua-demo-timing-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let options = ConnectOptions {
            read_only: false,
            ..ConnectOptions::default()
        };
        let source = Source::open(&format!("sqlite:{}", path.display()), &options).unwrap();
        let started = std::time::Instant::now();
        let summary = write_demo(&source, &DemoConfig::new(end()), true)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        source.close().await;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&path);
        eprintln!(
            "300k dossiers into SQLite in {elapsed:.2?} ({} MB): {summary:?}",
            size / 1_000_000
        );
    }
}
