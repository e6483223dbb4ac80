//! Reading the one-stop database: one connection pool per engine behind a
//! single [`Source`], and SQL files whose result columns are the canonical
//! rows of [`crate::model`].
//!
//! Why concrete pools and not sqlx's `Any` driver: `Any` decodes no
//! timestamps, booleans or floats, and vendors' schemas use all three in
//! every flavour. Each engine's rows go through [`Cells`], which accepts the
//! common column types (TIMESTAMP, TIMESTAMPTZ, DATETIME, ISO text; BOOLEAN,
//! TINYINT, integer; REAL, DOUBLE, text) so an operator's SQL rarely needs a
//! CAST. PostgreSQL results are read with binary COPY where the columns'
//! types allow ([`pg_copy`]): several times cheaper per row than sqlx's rows.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Executor, Row, SqlSafeStr, Statement, ValueRef};

use crate::model::{
    Agency, ApologyRow, DossierRow, EvaluationRow, Procedure, Sector, SourceRows, SupplementRow,
    Ts, ts_of,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

impl Dialect {
    /// The engine a database URL names (`sqlite:`, `postgres://`, `mysql://`/`mariadb://`).
    pub fn of_url(url: &str) -> Result<Dialect, SourceError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            _ => Err(SourceError::UnsupportedUrl {
                url: redact_url(url),
            }),
        }
    }

    /// The folder name under `queries/sql/` and `queries_dir`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }

    /// The reference schema (DESIGN §2) for this engine.
    pub fn schema_sql(self) -> &'static str {
        match self {
            Dialect::Sqlite => include_str!("../schema/sqlite.sql"),
            Dialect::Postgres => include_str!("../schema/postgres.sql"),
            Dialect::MySql => include_str!("../schema/mysql.sql"),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

/// Hides the password of a database URL, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

/// Reads a `database_url_file`: one line, the URL (so a password can live
/// in a file only the service may read). The error says what is wrong with
/// the file, never its content.
pub fn read_url_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let url = text.trim();
    if url.is_empty() {
        return Err("is empty".into());
    }
    if url.lines().count() > 1 {
        return Err("holds more than one line; it must hold only the URL".into());
    }
    Ok(url.to_owned())
}

/// The row kinds, one SQL file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Agencies,
    Sectors,
    Procedures,
    Dossiers,
    Supplements,
    Apologies,
    Evaluations,
}

impl RowKind {
    pub const ALL: [RowKind; 7] = [
        RowKind::Agencies,
        RowKind::Sectors,
        RowKind::Procedures,
        RowKind::Dossiers,
        RowKind::Supplements,
        RowKind::Apologies,
        RowKind::Evaluations,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            RowKind::Agencies => "agencies.sql",
            RowKind::Sectors => "sectors.sql",
            RowKind::Procedures => "procedures.sql",
            RowKind::Dossiers => "dossiers.sql",
            RowKind::Supplements => "supplements.sql",
            RowKind::Apologies => "apologies.sql",
            RowKind::Evaluations => "evaluations.sql",
        }
    }

    /// The columns the file's result must have (extra columns are ignored).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            RowKind::Agencies => &["code", "name", "parent_code", "level"],
            RowKind::Sectors => &["code", "name"],
            RowKind::Procedures => &[
                "code",
                "name",
                "sector_code",
                "deadline_days",
                "online_level",
            ],
            RowKind::Dossiers => &[
                "code",
                "procedure_code",
                "agency_code",
                "channel",
                "status",
                "received_at",
                "due_at",
                "finished_at",
                "returned_at",
                "digitized",
                "e_result",
                "paid_online",
                "updated_at",
            ],
            RowKind::Supplements => &["dossier_code", "requested_at", "resumed_at"],
            RowKind::Apologies => &["dossier_code", "issued_at", "new_due_at"],
            RowKind::Evaluations => &["dossier_code", "agency_code", "evaluated_at", "rating"],
        }
    }

    /// The columns read when the result has them: the required ones, then
    /// the optional ones (`has_fee`, DESIGN §2).
    pub fn read_columns(self) -> &'static [&'static str] {
        match self {
            RowKind::Procedures => &[
                "code",
                "name",
                "sector_code",
                "deadline_days",
                "online_level",
                "has_fee",
            ],
            other => other.columns(),
        }
    }

    fn embedded(self, dialect: Dialect) -> &'static str {
        macro_rules! files {
            ($dir:literal) => {
                match self {
                    RowKind::Agencies => include_str!(concat!("../sql/", $dir, "/agencies.sql")),
                    RowKind::Sectors => include_str!(concat!("../sql/", $dir, "/sectors.sql")),
                    RowKind::Procedures => {
                        include_str!(concat!("../sql/", $dir, "/procedures.sql"))
                    }
                    RowKind::Dossiers => include_str!(concat!("../sql/", $dir, "/dossiers.sql")),
                    RowKind::Supplements => {
                        include_str!(concat!("../sql/", $dir, "/supplements.sql"))
                    }
                    RowKind::Apologies => include_str!(concat!("../sql/", $dir, "/apologies.sql")),
                    RowKind::Evaluations => {
                        include_str!(concat!("../sql/", $dir, "/evaluations.sql"))
                    }
                }
            };
        }
        match dialect {
            Dialect::Sqlite => files!("sqlite"),
            Dialect::Postgres => files!("postgres"),
            Dialect::MySql => files!("mysql"),
        }
    }
}

/// One SQL file: its text and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    pub origin: String,
    pub text: String,
}

/// The seven SQL files a refresh runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFiles {
    files: Vec<SqlFile>,
}

impl SqlFiles {
    /// The files shipped in the binary, which read the reference schema.
    pub fn embedded(dialect: Dialect) -> SqlFiles {
        SqlFiles {
            files: RowKind::ALL
                .iter()
                .map(|k| SqlFile {
                    origin: format!("(built-in) queries/sql/{}/{}", dialect, k.file_name()),
                    text: k.embedded(dialect).to_owned(),
                })
                .collect(),
        }
    }

    /// The operator's files in `dir` (or `dir/<dialect>/` when that folder
    /// exists); a file missing there falls back to the built-in one, so an
    /// operator edits only the files their system needs.
    pub fn with_overrides(dialect: Dialect, dir: &Path) -> Result<SqlFiles, SourceError> {
        if !dir.is_dir() {
            return Err(SourceError::QueriesDir {
                path: dir.to_owned(),
                reason: "is not a readable folder".into(),
            });
        }
        let nested = dir.join(dialect.dir_name());
        let dir = if nested.is_dir() {
            nested
        } else {
            dir.to_owned()
        };
        let mut files = SqlFiles::embedded(dialect);
        for (kind, slot) in RowKind::ALL.iter().zip(files.files.iter_mut()) {
            let path = dir.join(kind.file_name());
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    *slot = SqlFile {
                        origin: path.display().to_string(),
                        text,
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SourceError::QueriesDir {
                        path,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(files)
    }

    pub fn get(&self, kind: RowKind) -> &SqlFile {
        let i = RowKind::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind has a file");
        &self.files[i]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("unsupported database URL {url}: use sqlite:PATH, postgres://… or mysql://…")]
    UnsupportedUrl { url: String },
    #[error("database URL {url}: {message}")]
    BadUrl { url: String, message: String },
    #[error("cannot reach the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{file}: {source}")]
    Query {
        file: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{file}: the result has no column `{column}` (needed: {needed})")]
    MissingColumn {
        file: String,
        column: &'static str,
        needed: String,
    },
    #[error("{file}: column `{column}`: {message}")]
    BadValue {
        file: String,
        column: &'static str,
        message: String,
    },
    #[error("{file}: {message}")]
    Sqlite {
        file: String,
        message: String,
        cannot_open: bool,
    },
    #[error("queries_dir {path}: {reason}")]
    QueriesDir { path: PathBuf, reason: String },
    /// The operating system refused a thread for the read (a resource limit).
    #[error("cannot start a thread for the read: {0}")]
    Thread(String),
}

impl SourceError {
    /// True when the database could not be reached (retry later), false when
    /// the SQL or its result is wrong (an operator has to fix a file).
    pub fn is_unavailable(&self) -> bool {
        let io_like = |e: &sqlx::Error| {
            matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        };
        // SQLITE_CANTOPEN (14): the file is missing or unreadable right now,
        // which is an outage like a refused TCP connection, not a bad query.
        let cannot_open = |e: &sqlx::Error| matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("14"));
        match self {
            SourceError::Connect { .. } | SourceError::Thread(_) => true,
            SourceError::Sqlite { cannot_open, .. } => *cannot_open,
            SourceError::Query { source, .. } => io_like(source) || cannot_open(source),
            _ => false,
        }
    }
}

/// How to open the source.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Refuse writes at the session level (the exporter and the dashboard
    /// only ever read; the demo generator and tests write).
    pub read_only: bool,
    /// How long to wait for a connection before a refresh fails.
    pub connect_timeout: Duration,
    /// The longest one statement may run; the server cancels it after that
    /// (PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, MySQL
    /// `max_execution_time`). SQLite has no server: the caller bounds its
    /// reads itself. None: no limit (the demo generator and tests).
    pub query_timeout: Option<Duration>,
    /// Read PostgreSQL results with binary COPY where every column's type
    /// allows (the default, and several times cheaper per row); false reads
    /// them row by row through sqlx, which tests compare it against.
    pub postgres_copy: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            read_only: true,
            connect_timeout: Duration::from_secs(10),
            query_timeout: None,
            postgres_copy: true,
        }
    }
}

/// The source database.
#[derive(Debug, Clone)]
pub enum Source {
    Sqlite(SqlitePool),
    /// With whether to read through COPY ([`ConnectOptions::postgres_copy`]).
    Postgres(PgPool, bool),
    MySql(MySqlPool),
}

impl Source {
    /// Opens a pool without connecting yet, so a service can start while its
    /// database is down; the first query connects.
    pub fn open(url: &str, options: &ConnectOptions) -> Result<Source, SourceError> {
        let bad_url = |e: sqlx::Error| SourceError::BadUrl {
            url: redact_url(url),
            message: e.to_string(),
        };
        Ok(match Dialect::of_url(url)? {
            Dialect::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .read_only(options.read_only)
                    .create_if_missing(!options.read_only)
                    // sqlx hands SQLite rows from its worker thread one by one;
                    // a deep buffer cuts the thread hand-offs of a refresh.
                    .row_buffer_size(1024);
                Source::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(2)
                        .acquire_timeout(options.connect_timeout)
                        .connect_lazy_with(opts),
                )
            }
            Dialect::Postgres => {
                let mut opts = PgConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .application_name("motcua");
                if options.read_only {
                    opts = opts.options([("default_transaction_read_only", "on")]);
                }
                if let Some(limit) = options.query_timeout {
                    // In milliseconds; 0 would mean "no limit".
                    let ms = limit.as_millis().max(1).to_string();
                    opts = opts.options([("statement_timeout", ms.as_str())]);
                }
                Source::Postgres(
                    PgPoolOptions::new()
                        .max_connections(2)
                        .acquire_timeout(options.connect_timeout)
                        .connect_lazy_with(opts),
                    options.postgres_copy,
                )
            }
            Dialect::MySql => {
                let opts = MySqlConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .charset("utf8mb4");
                let read_only = options.read_only;
                let limit = options.query_timeout.map(|d| d.as_millis().max(1));
                Source::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(2)
                        .acquire_timeout(options.connect_timeout)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                if read_only {
                                    conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                                }
                                if let Some(ms) = limit {
                                    set_statement_limit(conn, ms).await?;
                                }
                                Ok(())
                            })
                        })
                        .connect_lazy_with(opts),
                )
            }
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Source::Sqlite(_) => Dialect::Sqlite,
            Source::Postgres(..) => Dialect::Postgres,
            Source::MySql(_) => Dialect::MySql,
        }
    }

    /// Runs statements separated by `;` (schema scripts, generated inserts).
    pub async fn execute_script(&self, sql: &str) -> Result<(), sqlx::Error> {
        for statement in split_statements(sql) {
            let statement = AssertSqlSafe(statement.to_owned());
            match self {
                Source::Sqlite(p) => p.execute(statement).await.map(drop)?,
                Source::Postgres(p, _) => p.execute(statement).await.map(drop)?,
                Source::MySql(p) => p.execute(statement).await.map(drop)?,
            }
        }
        Ok(())
    }

    /// Creates the reference schema's tables.
    pub async fn create_schema(&self) -> Result<(), sqlx::Error> {
        self.execute_script(self.dialect().schema_sql()).await
    }

    pub async fn close(&self) {
        match self {
            Source::Sqlite(p) => p.close().await,
            Source::Postgres(p, _) => p.close().await,
            Source::MySql(p) => p.close().await,
        }
    }

    /// Checks that every file prepares and yields its canonical columns,
    /// without reading rows.
    pub async fn check(&self, files: &SqlFiles) -> Result<(), SourceError> {
        for kind in RowKind::ALL {
            let file = files.get(kind);
            let names = self.describe(file).await?;
            check_columns(kind, file, &names)?;
        }
        Ok(())
    }

    async fn describe(&self, file: &SqlFile) -> Result<Vec<String>, SourceError> {
        let sql = || AssertSqlSafe(file.text.clone()).into_sql_str();
        let wrap = |source| classify(file, source);
        fn names<S: Statement>(s: &S) -> Vec<String> {
            s.columns().iter().map(|c| c.name().to_owned()).collect()
        }
        Ok(match self {
            Source::Sqlite(p) => names(&p.prepare(sql()).await.map_err(wrap)?),
            Source::Postgres(p, _) => names(&p.prepare(sql()).await.map_err(wrap)?),
            Source::MySql(p) => names(&p.prepare(sql()).await.map_err(wrap)?),
        })
    }

    /// Runs every SQL file and returns the canonical rows.
    pub async fn load(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
    ) -> Result<SourceRows, SourceError> {
        let mut rows = SourceRows::default();
        self.catalogue(files, zone, &mut rows).await?;
        self.stream_dossiers(files, zone, None, &mut |d| rows.dossiers.push(d))
            .await?;
        self.stream_supplements(files, zone, None, &mut |s| rows.supplements.push(s))
            .await?;
        self.stream_apologies(files, zone, None, &mut |a| rows.apologies.push(a))
            .await?;
        self.stream_evaluations(files, zone, None, &mut |e| rows.evaluations.push(e))
            .await?;
        Ok(rows)
    }

    /// Reads agencies, sectors and procedures into `rows`.
    pub async fn catalogue(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
        rows: &mut SourceRows,
    ) -> Result<(), SourceError> {
        let (agencies, sectors, procedures) =
            (&mut rows.agencies, &mut rows.sectors, &mut rows.procedures);
        self.stream(
            files,
            RowKind::Agencies,
            None,
            zone,
            (agency, None),
            &mut |a| {
                agencies.push(a);
                None
            },
        )
        .await?;
        self.stream(
            files,
            RowKind::Sectors,
            None,
            zone,
            (sector, None),
            &mut |s| {
                sectors.push(s);
                None
            },
        )
        .await?;
        self.stream(
            files,
            RowKind::Procedures,
            None,
            zone,
            (procedure, None),
            &mut |p| {
                procedures.push(p);
                None
            },
        )
        .await?;
        if !procedures.is_empty() && procedures.iter().all(|p| p.has_fee.is_none()) {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::info!(
                    "{}: no has_fee column (or all NULL): the service index's payment indicators \
                     (payment_procedures, online_payment) are not applicable",
                    files.get(RowKind::Procedures).origin
                )
            });
        }
        Ok(())
    }

    /// Streams `dossiers.sql`, optionally narrowed by `condition` (a SQL
    /// boolean over its canonical columns); returns the number of rows.
    pub async fn stream_dossiers(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
        condition: Option<&str>,
        sink: &mut (dyn FnMut(DossierRow) + Send),
    ) -> Result<u64, SourceError> {
        self.stream_dossiers_reusing(files, zone, condition, &mut |row| {
            sink(row);
            None
        })
        .await
    }

    /// Whether [`Source::stream_dossiers_reusing`] refills the rows its
    /// sink hands back (a PostgreSQL source read with COPY).
    pub fn refills_rows(&self) -> bool {
        matches!(self, Source::Postgres(_, true))
    }

    /// [`Source::stream_dossiers`] with a sink that may hand back a spent
    /// row. Reading through PostgreSQL's COPY, the reader fills it with the
    /// next row, reusing its strings instead of allocating three a row (a
    /// tenth of a full read, with their frees on a sorting thread); the
    /// other paths drop it (see [`Source::refills_rows`]).
    pub async fn stream_dossiers_reusing(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
        condition: Option<&str>,
        sink: &mut (dyn FnMut(DossierRow) -> Option<DossierRow> + Send),
    ) -> Result<u64, SourceError> {
        let fill: Fill<DossierRow> = dossier_into;
        self.stream(
            files,
            RowKind::Dossiers,
            condition,
            zone,
            (dossier, Some(fill)),
            sink,
        )
        .await
    }

    /// Streams `supplements.sql` (rows without a request time are skipped).
    pub async fn stream_supplements(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
        condition: Option<&str>,
        sink: &mut (dyn FnMut(SupplementRow) + Send),
    ) -> Result<u64, SourceError> {
        let mut sink = |s: Option<SupplementRow>| {
            if let Some(s) = s {
                sink(s)
            }
            None
        };
        self.stream(
            files,
            RowKind::Supplements,
            condition,
            zone,
            (supplement, None),
            &mut sink,
        )
        .await
    }

    pub async fn stream_apologies(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
        condition: Option<&str>,
        sink: &mut (dyn FnMut(ApologyRow) + Send),
    ) -> Result<u64, SourceError> {
        self.stream(
            files,
            RowKind::Apologies,
            condition,
            zone,
            (apology, None),
            &mut |a| {
                sink(a);
                None
            },
        )
        .await
    }

    pub async fn stream_evaluations(
        &self,
        files: &SqlFiles,
        zone: FixedOffset,
        condition: Option<&str>,
        sink: &mut (dyn FnMut(EvaluationRow) + Send),
    ) -> Result<u64, SourceError> {
        self.stream(
            files,
            RowKind::Evaluations,
            condition,
            zone,
            (evaluation, None),
            &mut |e| {
                sink(e);
                None
            },
        )
        .await
    }

    async fn stream<T: Send + 'static>(
        &self,
        files: &SqlFiles,
        kind: RowKind,
        condition: Option<&str>,
        zone: FixedOffset,
        (convert, fill): (Convert<T>, Option<Fill<T>>),
        sink: &mut (dyn FnMut(T) -> Option<T> + Send),
    ) -> Result<u64, SourceError> {
        let file = files.get(kind);
        let sql = match condition {
            None => file.text.clone(),
            Some(condition) => narrowed(&file.text, condition),
        };
        let mut count = 0u64;
        let mut columns = None;
        // One arm per engine: the row types differ, the conversion is shared.
        macro_rules! drain {
            ($pool:expr) => {{
                let mut stream = sqlx::query(AssertSqlSafe(sql)).fetch($pool);
                while let Some(row) = stream.try_next().await.map_err(|e| classify(file, e))? {
                    let columns = match &columns {
                        Some(columns) => columns,
                        None => {
                            let names: Vec<String> =
                                row.columns().iter().map(|c| c.name().to_owned()).collect();
                            check_columns(kind, file, &names)?;
                            columns.insert(locate(kind, &names))
                        }
                    };
                    let cells = Located::new(&row, columns);
                    sink(convert(&cells, zone).map_err(|e| e.in_file(file))?);
                    count += 1;
                    if count.is_multiple_of(YIELD_EVERY) {
                        // Rows already buffered never make the stream wait:
                        // let the scrapes queued on this worker run.
                        tokio::task::yield_now().await;
                    }
                }
            }};
        }
        match self {
            Source::Sqlite(p) => {
                let path = p.connect_options().get_filename().to_owned();
                if path.is_file() {
                    return stream_native(file, kind, &path, sql, zone, convert, sink).await;
                }
                // In-memory databases and missing files: sqlx says what is wrong.
                drain!(p)
            }
            Source::Postgres(p, copy) => {
                if *copy && let Some(plan) = pg_copy::plan(p, file, kind, &sql).await? {
                    match pg_copy::read(p, &plan, file, zone, (convert, fill), sink).await? {
                        pg_copy::Outcome::Read(count) => return Ok(count),
                        pg_copy::Outcome::Refused => {}
                    }
                }
                drain!(p)
            }
            Source::MySql(p) => drain!(p),
        }
        Ok(count)
    }
}

/// Rows decoded between two yields to the other tasks of a worker thread.
const YIELD_EVERY: u64 = 256;

/// `sql` narrowed to the rows where `condition` holds. The file's query
/// becomes a derived table, so the condition names canonical columns
/// whatever the vendor's tables are; the engines push it down to indexes.
pub fn narrowed(sql: &str, condition: &str) -> String {
    let inner = query_body(sql);
    format!("SELECT * FROM (\n{inner}\n) motcua_rows WHERE {condition}")
}

/// A file's query without what may end it but cannot stand inside
/// parentheses: the final `;` and comment lines after it. Every place that
/// wraps the query (a derived table, COPY) goes through this. A comment on
/// the `;`'s own line is left: telling it from `--` in a string literal
/// would need a SQL lexer; such a file is read row by row and cannot be
/// narrowed.
pub fn query_body(sql: &str) -> &str {
    let mut body = sql.trim_end();
    loop {
        let last_line = body.rfind('\n').map_or(0, |i| i + 1);
        if let Some(rest) = body.strip_suffix(';') {
            body = rest.trim_end();
        } else if last_line > 0 && body[last_line..].trim_start().starts_with("--") {
            body = body[..last_line].trim_end();
        } else {
            return body;
        }
    }
}

async fn stream_native<T: Send + 'static>(
    file: &SqlFile,
    kind: RowKind,
    path: &Path,
    sql: String,
    zone: FixedOffset,
    convert: Convert<T>,
    sink: &mut (dyn FnMut(T) -> Option<T> + Send),
) -> Result<u64, SourceError> {
    let native_error = |e: NativeError| match e {
        NativeError::Cell(e) => e.in_file(file),
        other => SourceError::Sqlite {
            file: file.origin.clone(),
            cannot_open: other.cannot_open(),
            message: match other {
                NativeError::Sqlite(e) => e.to_string(),
                NativeError::Cell(_) => unreachable!("handled above"),
            },
        },
    };
    let mut read = sqlite_native::start(path, sql, kind.read_columns(), zone, convert)
        .map_err(native_error)?;
    let mut count = 0u64;
    while let Some(message) = read.rx.recv().await {
        match message.map_err(native_error)? {
            Message::Columns(names) => check_columns(kind, file, &names)?,
            Message::Rows(rows) => {
                count += rows.len() as u64;
                for (i, row) in rows.into_iter().enumerate() {
                    sink(row);
                    if ((i + 1) as u64).is_multiple_of(YIELD_EVERY) {
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
    }
    Ok(count)
}

/// Caps every statement of a MySQL-protocol session at `ms` milliseconds:
/// MariaDB's `max_statement_time` (seconds, any statement), else MySQL's
/// `max_execution_time` (milliseconds, `SELECT` only, which is all motcua runs).
async fn set_statement_limit(
    conn: &mut sqlx::MySqlConnection,
    ms: u128,
) -> Result<(), sqlx::Error> {
    let mariadb = format!(
        "SET SESSION max_statement_time = {}.{:03}",
        ms / 1000,
        ms % 1000
    );
    if conn.execute(AssertSqlSafe(mariadb)).await.is_ok() {
        return Ok(());
    }
    let mysql = format!("SET SESSION max_execution_time = {ms}");
    conn.execute(AssertSqlSafe(mysql)).await.map(drop)
}

fn classify(file: &SqlFile, source: sqlx::Error) -> SourceError {
    SourceError::Query {
        file: file.origin.clone(),
        source,
    }
}

fn check_columns(kind: RowKind, file: &SqlFile, names: &[String]) -> Result<(), SourceError> {
    for column in kind.columns() {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(column)) {
            return Err(SourceError::MissingColumn {
                file: file.origin.clone(),
                column,
                needed: kind.columns().join(", "),
            });
        }
    }
    Ok(())
}

/// Splits a script on `;` at line ends, skipping comment-only pieces. The
/// scripts are ours (schema, generated inserts), so no quoting rules are needed
/// beyond "a `;` ends a statement only at the end of a line".
fn split_statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(";\n")
        .chain(std::iter::once(""))
        .map(|s| s.trim().trim_end_matches(';'))
        .filter(|s| {
            s.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        })
}

mod pg_copy;
mod sqlite_native;
use sqlite_native::{Convert, Message, NativeError};

/// A value that could not be decoded.
#[derive(Debug)]
struct CellError {
    column: &'static str,
    message: String,
}

impl CellError {
    fn in_file(self, file: &SqlFile) -> SourceError {
        SourceError::BadValue {
            file: file.origin.clone(),
            column: self.column,
            message: self.message,
        }
    }
}

/// Engine-neutral access to one result row.
trait Cells {
    fn text(&self, col: &'static str) -> Result<Option<String>, CellError>;
    /// [`Cells::text`] written over `out` (left empty for NULL and on
    /// error); false for NULL.
    fn text_into(&self, col: &'static str, out: &mut String) -> Result<bool, CellError> {
        out.clear();
        let text = self.text(col)?;
        let found = text.is_some();
        *out = text.unwrap_or_default();
        Ok(found)
    }
    fn int(&self, col: &'static str) -> Result<Option<i64>, CellError>;
    fn float(&self, col: &'static str) -> Result<Option<f64>, CellError>;
    fn boolean(&self, col: &'static str) -> Result<Option<bool>, CellError>;
    fn instant(&self, col: &'static str, zone: FixedOffset) -> Result<Option<Ts>, CellError>;
}

/// What a cell lookup says of a column the result does not have.
const NOT_IN_RESULT: &str = "is not in the result";

/// An optional column's cell: None when the result does not have it.
fn optional<T>(cell: Result<Option<T>, CellError>) -> Result<Option<T>, CellError> {
    match cell {
        Err(e) if e.message == NOT_IN_RESULT => Ok(None),
        other => other,
    }
}

fn cell_error(col: &'static str, message: impl Into<String>) -> CellError {
    CellError {
        column: col,
        message: message.into(),
    }
}

/// Parses the text forms of a timestamp that vendors store.
pub fn parse_instant(s: &str, zone: FixedOffset) -> Option<Ts> {
    let s = s.trim();
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, format) {
            return Some(ts_of(dt));
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(ts_of(dt.with_timezone(&zone).naive_local()));
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(ts_of(dt.with_timezone(&zone).naive_local()));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| ts_of(d.and_hms_opt(0, 0, 0).expect("midnight")))
}

/// Parses `YYYY-MM-DD HH:MM:SS` (the reference schema's text form) without
/// chrono's general-purpose parser: on SQLite, where every timestamp is text,
/// this is a large share of a refresh.
fn parse_instant_fast(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let date = NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)?;
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(ts_of(date.and_hms_opt(0, 0, 0)?) + hh * 3600 + mm * 60 + ss)
}

// What a cell holding text says, when the column should hold something
// else: vendors store numbers, booleans and timestamps as text. One set of
// rules for every engine (`sqlite_native.rs` reads SQLite with them too).

fn int_of_text(col: &'static str, s: &str) -> Result<i64, CellError> {
    s.trim()
        .parse()
        .map_err(|_| cell_error(col, format!("{s:?} is not a whole number")))
}

fn float_of_text(col: &'static str, s: &str) -> Result<f64, CellError> {
    s.trim()
        .parse()
        .map_err(|_| cell_error(col, format!("{s:?} is not a number")))
}

/// A whole number is true unless 0, as an integer column's would be.
fn bool_of_text(col: &'static str, s: &str) -> Result<bool, CellError> {
    if let Ok(i) = s.trim().parse::<i64>() {
        return Ok(i != 0);
    }
    match s.trim() {
        "t" | "true" | "TRUE" | "1" | "y" | "yes" => Ok(true),
        "f" | "false" | "FALSE" | "0" | "n" | "no" | "" => Ok(false),
        s => Err(cell_error(col, format!("{s:?} is not a boolean"))),
    }
}

/// `None` for blank text, which some systems store for "not yet".
fn instant_of_text(col: &'static str, s: &str, zone: FixedOffset) -> Result<Option<Ts>, CellError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    parse_instant_fast(s)
        .or_else(|| parse_instant(s, zone))
        .map(Some)
        .ok_or_else(|| {
            cell_error(
                col,
                format!("{s:?} is not a timestamp (YYYY-MM-DD HH:MM:SS)"),
            )
        })
}

macro_rules! impl_cells {
    ($row:ty, text_timestamps: $text_first:literal) => {
        impl Cells for Located<'_, $row> {
            fn text(&self, col: &'static str) -> Result<Option<String>, CellError> {
                let i = self.at(col)?;
                if let Ok(v) = self.row.try_get::<Option<String>, _>(i) {
                    return Ok(v);
                }
                if let Ok(v) = self.row.try_get::<Option<i64>, _>(i) {
                    return Ok(v.map(|v| v.to_string()));
                }
                if let Ok(v) = self.row.try_get::<Option<i32>, _>(i) {
                    return Ok(v.map(|v| v.to_string()));
                }
                if let Ok(v) = self.row.try_get::<Option<i16>, _>(i) {
                    return Ok(v.map(|v| v.to_string()));
                }
                Err(cell_error(col, "expected text"))
            }

            fn int(&self, col: &'static str) -> Result<Option<i64>, CellError> {
                let i = self.at(col)?;
                // Ask for the declared width first: a failed attempt builds an
                // error, and status and channel are SMALLINT on most systems.
                type Db = <$row as Row>::Database;
                if let Ok(column) = self.row.try_column(i) {
                    let ty = column.type_info();
                    if <i16 as sqlx::Type<Db>>::compatible(ty) {
                        if let Ok(v) = self.row.try_get::<Option<i16>, _>(i) {
                            return Ok(v.map(i64::from));
                        }
                    } else if <i32 as sqlx::Type<Db>>::compatible(ty) {
                        if let Ok(v) = self.row.try_get::<Option<i32>, _>(i) {
                            return Ok(v.map(i64::from));
                        }
                    }
                }
                if let Ok(v) = self.row.try_get::<Option<i64>, _>(i) {
                    return Ok(v);
                }
                if let Ok(v) = self.row.try_get::<Option<i32>, _>(i) {
                    return Ok(v.map(i64::from));
                }
                if let Ok(v) = self.row.try_get::<Option<i16>, _>(i) {
                    return Ok(v.map(i64::from));
                }
                if let Ok(v) = self.row.try_get::<Option<i8>, _>(i) {
                    return Ok(v.map(i64::from));
                }
                if let Ok(v) = self.row.try_get::<Option<String>, _>(i) {
                    return v.map(|s| int_of_text(col, &s)).transpose();
                }
                Err(cell_error(
                    col,
                    "expected a whole number (cast it to an integer type)",
                ))
            }

            fn float(&self, col: &'static str) -> Result<Option<f64>, CellError> {
                let i = self.at(col)?;
                if let Ok(v) = self.row.try_get::<Option<f64>, _>(i) {
                    return Ok(v);
                }
                if let Ok(v) = self.row.try_get::<Option<f32>, _>(i) {
                    return Ok(v.map(f64::from));
                }
                if let Ok(v) = self.int(col) {
                    return Ok(v.map(|v| v as f64));
                }
                if let Ok(v) = self.row.try_get::<Option<String>, _>(i) {
                    return v.map(|s| float_of_text(col, &s)).transpose();
                }
                Err(cell_error(
                    col,
                    "expected a number (cast NUMERIC/DECIMAL to a double)",
                ))
            }

            fn boolean(&self, col: &'static str) -> Result<Option<bool>, CellError> {
                let i = self.at(col)?;
                if let Ok(v) = self.row.try_get::<Option<bool>, _>(i) {
                    return Ok(v);
                }
                if let Ok(v) = self.int(col) {
                    return Ok(v.map(|v| v != 0));
                }
                if let Ok(v) = self.row.try_get::<Option<String>, _>(i) {
                    return v.map(|s| bool_of_text(col, &s)).transpose();
                }
                Err(cell_error(col, "expected a boolean"))
            }

            fn instant(
                &self,
                col: &'static str,
                zone: FixedOffset,
            ) -> Result<Option<Ts>, CellError> {
                let i = self.at(col)?;
                if let Some(ts) = self.row.raw_instant(i, col, zone) {
                    return ts;
                }
                if $text_first {
                    if let Ok(v) = self.row.try_get::<Option<&str>, _>(i) {
                        return Ok(v
                            .map(|s| instant_of_text(col, s, zone))
                            .transpose()?
                            .flatten());
                    }
                }
                if let Ok(v) = self.row.try_get::<Option<NaiveDateTime>, _>(i) {
                    return Ok(v.map(ts_of));
                }
                if let Ok(v) = self.row.try_get::<Option<DateTime<Utc>>, _>(i) {
                    return Ok(v.map(|v| ts_of(v.with_timezone(&zone).naive_local())));
                }
                if let Ok(v) = self.row.try_get::<Option<NaiveDate>, _>(i) {
                    return Ok(v.map(|d| ts_of(d.and_hms_opt(0, 0, 0).expect("midnight"))));
                }
                if let Ok(v) = self.row.try_get::<Option<String>, _>(i) {
                    return Ok(v
                        .map(|s| instant_of_text(col, &s, zone))
                        .transpose()?
                        .flatten());
                }
                Err(cell_error(col, "expected a timestamp"))
            }
        }
    };
}

/// A result row with the positions of the canonical columns in it: a cell
/// is found by index, not by hashing its name (13 lookups a dossier, a
/// twentieth of a full read).
struct Located<'r, R> {
    row: &'r R,
    /// Canonical name and position in the row, in [`RowKind::columns`] order.
    columns: &'r [(&'static str, usize)],
    /// The conversions read the columns in that order: try the next first.
    next: std::cell::Cell<usize>,
}

impl<'r, R> Located<'r, R> {
    fn new(row: &'r R, columns: &'r [(&'static str, usize)]) -> Self {
        Located {
            row,
            columns,
            next: std::cell::Cell::new(0),
        }
    }

    fn at(&self, col: &'static str) -> Result<usize, CellError> {
        // The names are the same literals, usually at one address: comparing
        // addresses first spares a `memcmp` per cell (4 % of a full read).
        let same = |name: &str| std::ptr::eq(name, col) || name == col;
        let guess = self.next.get();
        let found = match self.columns.get(guess) {
            Some((name, at)) if same(name) => Some((guess, *at)),
            _ => self
                .columns
                .iter()
                .enumerate()
                .find(|(_, (name, _))| same(name))
                .map(|(k, (_, at))| (k, *at)),
        };
        let (k, at) = found.ok_or_else(|| cell_error(col, NOT_IN_RESULT))?;
        self.next.set(k + 1);
        Ok(at)
    }
}

/// Where each of `kind`'s columns is in a result with these column names
/// (matched as [`check_columns`] does, ignoring ASCII case).
fn locate(kind: RowKind, names: &[String]) -> Vec<(&'static str, usize)> {
    kind.read_columns()
        .iter()
        .filter_map(|c| {
            let at = names.iter().position(|n| n.eq_ignore_ascii_case(c))?;
            Some((*c, at))
        })
        .collect()
}

/// Timestamps a row type decodes from the cell's bytes before trying sqlx's
/// typed decoders: sqlx's chrono decoders panic on PostgreSQL's `infinity`
/// (adding its microseconds to the epoch overflows), and a vendor's column
/// may hold it. The bytes are decoded as the COPY path decodes them, so both
/// paths say the same about such a cell.
trait RawInstant {
    fn raw_instant(
        &self,
        _at: usize,
        _col: &'static str,
        _zone: FixedOffset,
    ) -> Option<Result<Option<Ts>, CellError>> {
        None
    }
}

impl RawInstant for SqliteRow {}
impl RawInstant for MySqlRow {}

impl RawInstant for PgRow {
    fn raw_instant(
        &self,
        at: usize,
        col: &'static str,
        zone: FixedOffset,
    ) -> Option<Result<Option<Ts>, CellError>> {
        let value = self.try_get_raw(at).ok()?;
        if value.format() != sqlx::postgres::PgValueFormat::Binary {
            return None;
        }
        let oid = pg_copy::oid(&value.type_info());
        match value.as_bytes() {
            Ok(bytes) => pg_copy::instant(col, oid, bytes, zone).map(|ts| ts.map(Some)),
            // NULL, when the type is one of the timestamp types.
            Err(_) => pg_copy::is_instant(oid).then_some(Ok(None)),
        }
    }
}

impl_cells!(SqliteRow, text_timestamps: true);
impl_cells!(PgRow, text_timestamps: false);
impl_cells!(MySqlRow, text_timestamps: false);

fn required<T>(col: &'static str, v: Option<T>) -> Result<T, CellError> {
    v.ok_or_else(|| cell_error(col, "is NULL"))
}

fn agency(r: &dyn Cells, _: FixedOffset) -> Result<Agency, CellError> {
    Ok(Agency {
        code: required("code", r.text("code")?)?,
        name: r.text("name")?.unwrap_or_default(),
        parent_code: r.text("parent_code")?.filter(|p| !p.is_empty()),
        level: r.text("level")?.unwrap_or_default(),
    })
}

fn sector(r: &dyn Cells, _: FixedOffset) -> Result<Sector, CellError> {
    Ok(Sector {
        code: required("code", r.text("code")?)?,
        name: r.text("name")?.unwrap_or_default(),
    })
}

fn procedure(r: &dyn Cells, _: FixedOffset) -> Result<Procedure, CellError> {
    Ok(Procedure {
        code: required("code", r.text("code")?)?,
        name: r.text("name")?.unwrap_or_default(),
        sector_code: r.text("sector_code")?.unwrap_or_default(),
        deadline_days: r.float("deadline_days")?,
        online_level: r.text("online_level")?.unwrap_or_default(),
        // Optional: an operator's file without it keeps working.
        has_fee: optional(r.boolean("has_fee"))?,
    })
}

fn dossier(r: &dyn Cells, zone: FixedOffset) -> Result<DossierRow, CellError> {
    let mut row = DossierRow::default();
    dossier_into(r, zone, &mut row)?;
    Ok(row)
}

/// [`dossier`] into a spent row, reusing its strings.
fn dossier_into(r: &dyn Cells, zone: FixedOffset, row: &mut DossierRow) -> Result<(), CellError> {
    // Every field, so that nothing of the spent row survives (a new field
    // is a compile error here until it is read).
    let DossierRow {
        code,
        procedure_code,
        agency_code,
        channel,
        status,
        received_at,
        due_at,
        finished_at,
        returned_at,
        digitized,
        e_result,
        paid_online,
        updated_at,
    } = row;
    if !r.text_into("code", code)? {
        return Err(cell_error("code", "is NULL"));
    }
    r.text_into("procedure_code", procedure_code)?;
    r.text_into("agency_code", agency_code)?;
    *channel = r.int("channel")?;
    // A NULL status is judged like any status outside 1–10.
    *status = r.int("status")?.unwrap_or(0);
    *received_at = r.instant("received_at", zone)?;
    *due_at = r.instant("due_at", zone)?;
    *finished_at = r.instant("finished_at", zone)?;
    *returned_at = r.instant("returned_at", zone)?;
    *digitized = r.boolean("digitized")?.unwrap_or(false);
    *e_result = r.boolean("e_result")?.unwrap_or(false);
    *paid_online = r.boolean("paid_online")?.unwrap_or(false);
    *updated_at = r.instant("updated_at", zone)?;
    Ok(())
}

/// Converts a row into a spent value of its type, reusing its allocations.
type Fill<T> = fn(&dyn Cells, FixedOffset, &mut T) -> Result<(), CellError>;

/// A supplement row without a request time cannot stop any clock: skipped.
fn supplement(r: &dyn Cells, zone: FixedOffset) -> Result<Option<SupplementRow>, CellError> {
    let Some(requested_at) = r.instant("requested_at", zone)? else {
        return Ok(None);
    };
    Ok(Some(SupplementRow {
        dossier_code: required("dossier_code", r.text("dossier_code")?)?,
        requested_at,
        resumed_at: r.instant("resumed_at", zone)?,
    }))
}

fn apology(r: &dyn Cells, zone: FixedOffset) -> Result<ApologyRow, CellError> {
    Ok(ApologyRow {
        dossier_code: required("dossier_code", r.text("dossier_code")?)?,
        issued_at: r.instant("issued_at", zone)?,
        new_due_at: r.instant("new_due_at", zone)?,
    })
}

fn evaluation(r: &dyn Cells, zone: FixedOffset) -> Result<EvaluationRow, CellError> {
    Ok(EvaluationRow {
        dossier_code: r.text("dossier_code")?,
        agency_code: r.text("agency_code")?.unwrap_or_default(),
        evaluated_at: r.instant("evaluated_at", zone)?,
        rating: r.text("rating")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://motcua:s3cret@db:5432/onestop"),
            "postgres://motcua:***@db:5432/onestop"
        );
        assert_eq!(
            redact_url("mysql://root@127.0.0.1/x?ssl=1"),
            "mysql://root@127.0.0.1/x?ssl=1"
        );
        assert_eq!(redact_url("sqlite:demo.sqlite"), "sqlite:demo.sqlite");
    }

    #[test]
    fn dialect_from_url() {
        assert_eq!(Dialect::of_url("sqlite::memory:").unwrap(), Dialect::Sqlite);
        assert_eq!(
            Dialect::of_url("postgresql://x/y").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(Dialect::of_url("mariadb://x/y").unwrap(), Dialect::MySql);
        let err = Dialect::of_url("oracle://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("oracle://u:***@h/db"), "{err}");
    }

    #[test]
    fn parses_vendor_timestamps() {
        let zone = FixedOffset::east_opt(7 * 3600).unwrap();
        let base = parse_instant("2025-03-01 08:30:00", zone).unwrap();
        assert_eq!(parse_instant("2025-03-01T08:30:00", zone), Some(base));
        assert_eq!(parse_instant("2025-03-01T01:30:00Z", zone), Some(base));
        assert_eq!(parse_instant("2025-03-01 08:30:00.000", zone), Some(base));
        assert_eq!(
            parse_instant("2025-03-01", zone),
            Some(base - 8 * 3600 - 1800)
        );
        assert_eq!(parse_instant("01/03/2025", zone), None);
        for text in [
            "2025-03-01 08:30:00",
            "2024-02-29 23:59:59",
            "1999-12-31 00:00:00",
        ] {
            assert_eq!(
                parse_instant_fast(text),
                parse_instant(text, zone),
                "{text}"
            );
        }
        for bad in [
            "2025-02-29 08:30:00",
            "2025-03-01 24:00:00",
            "2025-03-01 08:30",
            "2025-3-01 08:30:00",
        ] {
            assert_eq!(parse_instant_fast(bad), None, "{bad}");
        }
    }

    #[test]
    fn text_booleans_follow_one_rule() {
        for (text, want) in [
            ("t", true),
            ("yes", true),
            ("2", true),
            ("-1", true),
            (" 1 ", true),
        ] {
            assert_eq!(bool_of_text("b", text).ok(), Some(want), "{text}");
        }
        for (text, want) in [("f", false), ("no", false), ("00", false), ("", false)] {
            assert_eq!(bool_of_text("b", text).ok(), Some(want), "{text}");
        }
        let err = bool_of_text("digitized", "maybe").unwrap_err();
        assert_eq!(
            (err.column, err.message.as_str()),
            ("digitized", "\"maybe\" is not a boolean")
        );
    }

    #[test]
    fn a_query_body_drops_its_final_semicolon_and_the_comments_after() {
        let sql =
            "-- dossiers\nSELECT code\nFROM dossiers -- the table\n;\n-- end\n  -- really\n\n";
        assert_eq!(
            query_body(sql),
            "-- dossiers\nSELECT code\nFROM dossiers -- the table"
        );
        assert_eq!(query_body("SELECT 1;;  "), "SELECT 1");
        // Text that only looks like a comment stays.
        assert_eq!(query_body("SELECT '--'"), "SELECT '--'");
        // A one-line comment-only file is not emptied.
        assert_eq!(query_body("-- nothing"), "-- nothing");
        // A comment on the `;`'s line is kept (see the doc comment).
        assert_eq!(query_body("SELECT 1; -- x"), "SELECT 1; -- x");
        assert!(narrowed("SELECT 1;\n-- end", "x = 1").contains("(\nSELECT 1\n)"));
    }

    #[test]
    fn splits_scripts() {
        let parts: Vec<_> =
            split_statements("-- c\nCREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n").collect();
        assert_eq!(
            parts,
            ["-- c\nCREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"]
        );
    }
}
