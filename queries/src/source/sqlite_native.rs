//! Bulk reads of a SQLite file, stepped and decoded on one blocking thread.
//!
//! Why not sqlx for these reads: sqlx-sqlite steps statements on its own
//! worker thread and hands rows to the async reader one by one through a
//! channel. Over the 300,000-dossier demo that hand-off cost more than the
//! reading itself: a refresh took 1.1–4 s depending on how the scheduler
//! placed the two threads, most of it system time spent waking threads. Here
//! one thread steps the statement, decodes each row into its canonical form
//! and sends whole batches across, so the async side wakes once per
//! [`BATCH`] rows. sqlx still opens, checks and writes SQLite databases;
//! both link the same bundled libsqlite3.

use std::path::Path;

use chrono::FixedOffset;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, InterruptHandle, OpenFlags};
use tokio::sync::mpsc;

use super::{
    CellError, Cells, bool_of_text, cell_error, float_of_text, instant_of_text, int_of_text,
};
use crate::model::Ts;

/// Rows per batch sent to the async side.
const BATCH: usize = 4096;

/// How long a read waits for a writer's lock before failing (sqlx's default).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the reading thread sends: the result's column names first, then rows.
pub(super) enum Message<T> {
    Columns(Vec<String>),
    Rows(Vec<T>),
}

#[derive(Debug)]
pub(super) enum NativeError {
    Sqlite(rusqlite::Error),
    Cell(CellError),
}

impl From<rusqlite::Error> for NativeError {
    fn from(e: rusqlite::Error) -> Self {
        NativeError::Sqlite(e)
    }
}

impl NativeError {
    /// SQLITE_CANTOPEN: the file is missing or unreadable right now.
    pub(super) fn cannot_open(&self) -> bool {
        matches!(
            self,
            NativeError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::CannotOpen
        )
    }
}

/// A read in progress. Dropping it (a refresh abandoned on timeout) interrupts
/// the statement, so the thread never outlives its reader for long.
pub(super) struct NativeRead<T> {
    pub(super) rx: mpsc::Receiver<Result<Message<T>, NativeError>>,
    interrupt: InterruptHandle,
}

impl<T> Drop for NativeRead<T> {
    fn drop(&mut self) {
        self.interrupt.interrupt();
    }
}

pub(super) type Convert<T> = fn(&dyn Cells, FixedOffset) -> Result<T, CellError>;

/// Starts reading `sql` from the file at `path`, read-only.
pub(super) fn start<T: Send + 'static>(
    path: &Path,
    sql: String,
    columns: &'static [&'static str],
    zone: FixedOffset,
    convert: Convert<T>,
) -> Result<NativeRead<T>, NativeError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let interrupt = conn.get_interrupt_handle();
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = read(&conn, &sql, columns, zone, convert, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok(NativeRead { rx, interrupt })
}

fn read<T>(
    conn: &Connection,
    sql: &str,
    columns: &'static [&'static str],
    zone: FixedOffset,
    convert: Convert<T>,
    tx: &mpsc::Sender<Result<Message<T>, NativeError>>,
) -> Result<(), NativeError> {
    let mut statement = conn.prepare(sql)?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    // Resolve each canonical column to its position once, not once per cell.
    let index: Vec<(&'static str, usize)> = columns
        .iter()
        .filter_map(|c| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(c))
                .map(|i| (*c, i))
        })
        .collect();
    if tx.blocking_send(Ok(Message::Columns(names))).is_err() {
        return Ok(());
    }
    let mut rows = statement.raw_query();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next()? {
        let cells = NativeRow { row, index: &index };
        batch.push(convert(&cells, zone).map_err(NativeError::Cell)?);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.blocking_send(Ok(Message::Rows(full))).is_err() {
                return Ok(()); // the reader is gone
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(Message::Rows(batch)));
    }
    Ok(())
}

/// One row, with the canonical columns already resolved to positions.
struct NativeRow<'a> {
    row: &'a rusqlite::Row<'a>,
    index: &'a [(&'static str, usize)],
}

impl NativeRow<'_> {
    fn value(&self, col: &'static str) -> Result<ValueRef<'_>, CellError> {
        let i = self
            .index
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, i)| *i)
            .ok_or_else(|| cell_error(col, super::NOT_IN_RESULT))?;
        self.row
            .get_ref(i)
            .map_err(|e| cell_error(col, e.to_string()))
    }
}

fn utf8<'a>(col: &'static str, bytes: &'a [u8]) -> Result<&'a str, CellError> {
    std::str::from_utf8(bytes).map_err(|_| cell_error(col, "is not valid UTF-8 text"))
}

// The same leniency as the sqlx decoders in `source.rs`: a vendor's column
// may be declared one type and hold another, as SQLite allows.
impl Cells for NativeRow<'_> {
    fn text(&self, col: &'static str) -> Result<Option<String>, CellError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(b) => Ok(Some(utf8(col, b)?.to_owned())),
            ValueRef::Integer(i) => Ok(Some(i.to_string())),
            ValueRef::Real(_) | ValueRef::Blob(_) => Err(cell_error(col, "expected text")),
        }
    }

    fn int(&self, col: &'static str) -> Result<Option<i64>, CellError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            ValueRef::Text(b) => int_of_text(col, utf8(col, b)?).map(Some),
            ValueRef::Real(_) | ValueRef::Blob(_) => Err(cell_error(
                col,
                "expected a whole number (cast it to an integer type)",
            )),
        }
    }

    fn float(&self, col: &'static str) -> Result<Option<f64>, CellError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Real(f) => Ok(Some(f)),
            ValueRef::Integer(i) => Ok(Some(i as f64)),
            ValueRef::Text(b) => float_of_text(col, utf8(col, b)?).map(Some),
            ValueRef::Blob(_) => Err(cell_error(col, "expected a number")),
        }
    }

    fn boolean(&self, col: &'static str) -> Result<Option<bool>, CellError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i != 0)),
            ValueRef::Text(b) => bool_of_text(col, utf8(col, b)?).map(Some),
            ValueRef::Real(_) | ValueRef::Blob(_) => Err(cell_error(col, "expected a boolean")),
        }
    }

    fn instant(&self, col: &'static str, zone: FixedOffset) -> Result<Option<Ts>, CellError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(b) => instant_of_text(col, utf8(col, b)?, zone),
            // SQLite's own conventions, as sqlx decodes them: integers are
            // Unix seconds, reals are Julian days.
            ValueRef::Integer(i) => Ok(Some(i)),
            ValueRef::Real(jd) => Ok(Some(((jd - 2_440_587.5) * 86_400.0).round() as Ts)),
            ValueRef::Blob(_) => Err(cell_error(col, "expected a timestamp")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::NaiveDateTime;

    use crate::model::{DossierRow, ts_of};
    use crate::source::{ConnectOptions, Dialect, Source, SourceError, SqlFiles};

    fn t(s: &str) -> i64 {
        ts_of(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
    }

    /// A vendor table that stores what SQLite lets it: integer and text
    /// timestamps, text booleans, numbers as text.
    fn vendor_file(dir: &std::path::Path, rows: &str) -> std::path::PathBuf {
        let path = dir.join("vendor.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE dossiers (code TEXT, procedure_code TEXT, agency_code TEXT,
               channel, status, received_at, due_at, finished_at, returned_at,
               digitized, e_result, paid_online, updated_at);
             INSERT INTO dossiers VALUES {rows};"
        ))
        .unwrap();
        path
    }

    async fn read(path: &std::path::Path) -> Result<Vec<DossierRow>, SourceError> {
        let url = format!("sqlite:{}?mode=ro", path.display());
        let source = Source::open(&url, &ConnectOptions::default()).unwrap();
        let files = SqlFiles::embedded(Dialect::Sqlite);
        let zone = chrono::FixedOffset::from_str("+07:00").unwrap();
        let mut rows = Vec::new();
        source
            .stream_dossiers(&files, zone, None, &mut |d| rows.push(d))
            .await?;
        Ok(rows)
    }

    #[tokio::test]
    async fn decodes_what_vendors_store() {
        let dir = std::env::temp_dir().join(format!("motcua-native-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = vendor_file(
            &dir,
            "('A', 'P', 'X', '2', 10, '2025-03-03 08:00:00', '2025-03-05T17:00',
              1741147200, NULL, 't', 1, 'no', '2025-03-04 12:00:00+07:00'),
             ('B', 'P', 'X', NULL, '4', '2025-03-03', NULL, NULL, NULL, 0, 'FALSE', 1, NULL)",
        );
        let rows = read(&path).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!((a.code.as_str(), a.channel, a.status), ("A", Some(2), 10));
        assert_eq!(a.received_at, Some(t("2025-03-03 08:00:00")));
        assert_eq!(a.due_at, Some(t("2025-03-05 17:00:00")));
        // Integers are Unix seconds, as sqlx reads them.
        assert_eq!(a.finished_at, Some(1_741_147_200));
        assert_eq!(a.updated_at, Some(t("2025-03-04 12:00:00")));
        assert_eq!(
            (a.digitized, a.e_result, a.paid_online),
            (true, true, false)
        );
        let b = &rows[1];
        assert_eq!((b.channel, b.status), (None, 4));
        assert_eq!(b.received_at, Some(t("2025-03-03 00:00:00")));
        assert_eq!(
            (b.digitized, b.e_result, b.paid_online),
            (false, false, true)
        );
    }

    #[tokio::test]
    async fn a_bad_value_names_the_file_and_column() {
        let dir = std::env::temp_dir().join(format!("motcua-native-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = vendor_file(
            &dir,
            "('A', 'P', 'X', 1, 10, '3 March 2025', NULL, NULL, NULL, 0, 0, 0, NULL)",
        );
        let error = read(&path).await.unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.contains("dossiers.sql"), "{error}");
        assert!(error.contains("received_at"), "{error}");
        assert!(error.contains("3 March 2025"), "{error}");
    }
}
