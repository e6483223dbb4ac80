//! PostgreSQL results are read with binary COPY when every canonical column
//! has a type motcua decodes itself, and row by row through sqlx otherwise
//! (or when COPY refuses the query). Every path must give the same
//! canonical rows, whatever types the vendor's columns have.

use chrono::FixedOffset;
use motcua_queries::model::{DossierRow, Ts, ts_of};
use motcua_queries::{ConnectOptions, Reader, SourceError};

use crate::support::{Engine, ThrowawayDb};

fn at(s: &str) -> Ts {
    ts_of(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("instant"))
}

/// The same two dossiers, stored first in the fast types and then in others.
const FAST: &str = "
    CREATE TABLE dossiers (
        code VARCHAR(20), procedure_code TEXT, agency_code CHAR(6), channel SMALLINT,
        status INTEGER, received_at TIMESTAMP, due_at TIMESTAMP, finished_at TIMESTAMP,
        returned_at TIMESTAMP, digitized BOOLEAN, e_result BOOLEAN, paid_online BOOLEAN,
        updated_at TIMESTAMP);";
const OTHER: &str = "
    CREATE TABLE dossiers (
        code TEXT, procedure_code VARCHAR(20), agency_code TEXT, channel TEXT,
        status BIGINT, received_at TIMESTAMPTZ, due_at DATE, finished_at TEXT,
        returned_at TIMESTAMP(0), digitized SMALLINT, e_result TEXT, paid_online INTEGER,
        updated_at TIMESTAMP);";
const ROWS: &str = "
    INSERT INTO dossiers VALUES
        ('HS-1', 'P1', 'UBND01', 2, 10, '2025-03-03 08:00:00', '2025-03-10 00:00:00',
         '2025-03-07 15:30:00', '2025-03-08 09:00:00', '1', '0', '1', '2025-03-08 09:00:00'),
        ('HS-2', 'P2', 'UBND02', NULL, 4, '2025-03-04 10:15:00', NULL,
         NULL, NULL, NULL, NULL, NULL, NULL);";

/// How a test reads the table back.
#[derive(Clone, Copy, Debug)]
enum Path {
    Copy,
    RowByRow,
}

/// A throwaway database with the test's rows, and a reader over it.
struct Loaded {
    db: ThrowawayDb,
    reader: Reader,
    /// The operator's SQL folder (named after the database, unique to this run).
    dir: std::path::PathBuf,
}

impl Loaded {
    /// Loads `ddl`, the two rows and then `then`, and opens a reader on
    /// `path` with `dossiers_sql` (the embedded file when `None`).
    async fn new(ddl: &str, then: &str, path: Path, dossiers_sql: Option<&str>) -> Option<Loaded> {
        let db = ThrowawayDb::create(Engine::Postgres).await?;
        let writer = db.writer();
        // TIMESTAMPTZ text is read in the session's zone: make it +07:00.
        writer
            .execute_script(&format!("SET TIME ZONE '+07'; {ddl} {ROWS} {then}"))
            .await
            .expect("load");
        writer.close().await;
        let dir = std::env::temp_dir().join(format!("motcua-vendor-sql-{}", db.name));
        if let Some(sql) = dossiers_sql {
            std::fs::create_dir_all(&dir).expect("queries dir");
            std::fs::write(dir.join("dossiers.sql"), sql).expect("write dossiers.sql");
        }
        let options = ConnectOptions {
            postgres_copy: matches!(path, Path::Copy),
            ..ConnectOptions::default()
        };
        let queries_dir = dossiers_sql.map(|_| dir.as_path());
        let reader = Reader::open(&db.url, queries_dir, &options).expect("open");
        Some(Loaded { db, reader, dir })
    }

    /// The dossiers where `condition` holds (all when `None`), by code.
    async fn dossiers(&self, condition: Option<&str>) -> Result<Vec<DossierRow>, SourceError> {
        let zone = FixedOffset::east_opt(7 * 3600).expect("zone");
        let mut rows = Vec::new();
        let source = &self.reader.source;
        source
            .stream_dossiers(&self.reader.files, zone, condition, &mut |r| rows.push(r))
            .await?;
        rows.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(rows)
    }

    /// The message of a read of every dossier that must fail (`why` says why).
    async fn failure(&self, why: &str) -> String {
        self.dossiers(None).await.expect_err(why).to_string()
    }

    async fn drop(self) {
        self.reader.source.close().await;
        self.db.drop_db().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Loads `ddl` and the two rows into a throwaway database and reads the
/// dossiers back with `dossiers_sql` (the embedded file when `None`).
async fn read_back(ddl: &str, path: Path, dossiers_sql: Option<&str>) -> Option<Vec<DossierRow>> {
    read_back_after(ddl, "", path, dossiers_sql).await
}

/// [`read_back`], with `then` run after the rows are inserted.
async fn read_back_after(
    ddl: &str,
    then: &str,
    path: Path,
    dossiers_sql: Option<&str>,
) -> Option<Vec<DossierRow>> {
    let loaded = Loaded::new(ddl, then, path, dossiers_sql).await?;
    let rows = loaded.dossiers(None).await.expect("read");
    loaded.drop().await;
    Some(rows)
}

fn expected() -> Vec<DossierRow> {
    vec![
        DossierRow {
            code: "HS-1".into(),
            procedure_code: "P1".into(),
            agency_code: "UBND01".into(),
            channel: Some(2),
            status: 10,
            received_at: Some(at("2025-03-03 08:00:00")),
            due_at: Some(at("2025-03-10 00:00:00")),
            finished_at: Some(at("2025-03-07 15:30:00")),
            returned_at: Some(at("2025-03-08 09:00:00")),
            digitized: true,
            e_result: false,
            paid_online: true,
            updated_at: Some(at("2025-03-08 09:00:00")),
        },
        DossierRow {
            code: "HS-2".into(),
            procedure_code: "P2".into(),
            agency_code: "UBND02".into(),
            channel: None,
            status: 4,
            received_at: Some(at("2025-03-04 10:15:00")),
            ..DossierRow::default()
        },
    ]
}

#[tokio::test]
async fn copy_and_row_by_row_read_every_column_type_alike() {
    for ddl in [FAST, OTHER] {
        for path in [Path::Copy, Path::RowByRow] {
            let Some(rows) = read_back(ddl, path, None).await else {
                return;
            };
            assert_eq!(rows, expected(), "{path:?} over {ddl}");
        }
    }
}

/// `SMALLINT` and `BOOLEAN` columns travel packed in one `BIGINT` through
/// COPY: every value, the extremes and NULL come back as the row-by-row
/// read gives them.
#[tokio::test]
async fn packed_small_columns_keep_their_extremes_and_nulls() {
    let ddl = FAST.replace("status INTEGER", "status SMALLINT");
    let then =
        "UPDATE dossiers SET channel = -32768, status = 32767, e_result = NULL WHERE code = 'HS-1';
                INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, digitized)
                VALUES ('HS-3', 'P3', 'UBND03', 32767, -32768, false);";
    let mut want = expected();
    want[0].channel = Some(-32768);
    want[0].status = 32767;
    want[0].e_result = false;
    want.push(DossierRow {
        code: "HS-3".into(),
        procedure_code: "P3".into(),
        agency_code: "UBND03".into(),
        channel: Some(32767),
        status: -32768,
        ..DossierRow::default()
    });
    for path in [Path::Copy, Path::RowByRow] {
        let Some(rows) = read_back_after(&ddl, then, path, None).await else {
            return;
        };
        assert_eq!(rows, want, "{path:?}");
    }
}

/// A boolean stored as text holding a number is true unless 0, on both
/// paths, as an integer column's would be.
#[tokio::test]
async fn text_booleans_holding_numbers_read_alike_on_both_paths() {
    let then = "UPDATE dossiers SET e_result = '2', paid_online = 0 WHERE code = 'HS-1';";
    let mut want = expected();
    want[0].e_result = true;
    want[0].paid_online = false;
    for path in [Path::Copy, Path::RowByRow] {
        let Some(rows) = read_back_after(OTHER, then, path, None).await else {
            return;
        };
        assert_eq!(rows, want, "{path:?}");
    }
}

/// A file's SQL that a plain query accepts but COPY's parenthesised form
/// does not (here a comment after the final `;`) is read row by row, and an
/// extra column of a type COPY does not decode is ignored.
#[tokio::test]
async fn a_query_copy_refuses_is_read_row_by_row() {
    let sql = "SELECT *, 1.5::numeric AS vendor_extra FROM dossiers; -- the vendor's note";
    let Some(rows) = read_back(OTHER, Path::Copy, Some(sql)).await else {
        return;
    };
    assert_eq!(rows, expected());
}

/// A cell COPY cannot read fails the read, naming the file and the column,
/// and the connection that was in the middle of the COPY is not reused.
#[tokio::test]
async fn a_bad_cell_in_a_copy_names_its_column_and_the_pool_recovers() {
    let then = "UPDATE dossiers SET channel = 'by post' WHERE code = 'HS-1';";
    let Some(loaded) = Loaded::new(OTHER, then, Path::Copy, None).await else {
        return;
    };
    let message = loaded.failure("\"by post\" is not a channel").await;
    assert!(
        message.contains("channel") && message.contains("by post"),
        "{message}"
    );
    assert!(message.contains("dossiers.sql"), "{message}");
    // The pool answers the next read (the half-read COPY's connection was closed).
    let rows = loaded
        .dossiers(Some("code = 'HS-2'"))
        .await
        .expect("read after the failure");
    let codes: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["HS-2"]);
    loaded.drop().await;
}

/// PostgreSQL's `infinity` cannot be a dossier's time: on either path, and
/// whether the column is a `TIMESTAMP` or a `DATE`, the read fails with an
/// error naming the column. (sqlx's own decoder panicked on it.)
#[tokio::test]
async fn an_infinite_timestamp_is_an_error_naming_its_column_on_both_paths() {
    let then = "UPDATE dossiers SET due_at = 'infinity' WHERE code = 'HS-1';";
    for (ddl, table) in [(FAST, "TIMESTAMP"), (OTHER, "DATE")] {
        for path in [Path::Copy, Path::RowByRow] {
            let Some(loaded) = Loaded::new(ddl, then, path, None).await else {
                return;
            };
            let message = loaded.failure("infinity is not a due date").await;
            assert!(
                message.contains("due_at") && message.contains("dossiers.sql"),
                "{table} read {path:?}: {message}"
            );
            loaded.drop().await;
        }
    }
}

/// A file ending in `;` and comment lines is read through COPY and can be
/// narrowed (as incremental refreshes do): the end is dropped before the
/// query is wrapped.
#[tokio::test]
async fn a_file_ending_in_a_semicolon_and_comments_can_be_wrapped() {
    let sql = "SELECT * FROM dossiers;\n-- the vendor's note\n-- and another\n";
    let Some(loaded) = Loaded::new(OTHER, "", Path::Copy, Some(sql)).await else {
        return;
    };
    let rows = loaded
        .dossiers(Some("code = 'HS-2'"))
        .await
        .expect("narrowed read");
    let codes: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["HS-2"]);
    loaded.drop().await;
}
