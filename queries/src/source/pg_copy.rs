//! Bulk reads from PostgreSQL with binary `COPY (query) TO STDOUT`.
//!
//! Why not sqlx's row API for these reads: at 10 million dossiers a full
//! read spent most of its time per row, not per byte — a step of an async
//! stream, a `PgRow` with its own allocation, tracing's instrumented polls
//! and a typed `try_get` per cell. COPY sends the same binary cells as bare
//! length-prefixed fields; sqlx hands over each `CopyData` message as
//! `Bytes` and the fields are decoded in place. The statement still runs
//! in a read-only session under `statement_timeout`: COPY TO writes nothing.
//!
//! When: the query is prepared first (no rows read) for its column types,
//! and COPY is used only if every canonical column has a type decoded here
//! (the text, integer, float, boolean, timestamp and date types). Anything
//! else, and a query COPY refuses before sending data, goes through sqlx's
//! row API, whose rules these decoders follow cell for cell.
//!
//! What: only the canonical columns, and the `BOOLEAN` and `SMALLINT` ones
//! packed into one `BIGINT` (see [`Packing`]). PostgreSQL's binary COPY
//! calls a send function per field, which takes a fresh 1 KB buffer: at 10
//! million dossiers each field cost the server about 0.9 s, a fifteenth of
//! its COPY, and the five small columns of the reference schema 20 % of it
//! (measured with `COPY … TO '/dev/null'`: 12.75 s, and 10.2 s packed).

use chrono::FixedOffset;
use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgTypeInfo};
use sqlx::{AssertSqlSafe, Column, Executor, Postgres, SqlSafeStr, Statement};

use super::{
    CellError, Cells, Convert, Fill, Located, RowKind, SourceError, SqlFile, YIELD_EVERY,
    bool_of_text, cell_error, check_columns, classify, float_of_text, instant_of_text, int_of_text,
    locate, query_body,
};
use crate::model::{SECONDS_PER_DAY, Ts};

/// A query COPY can read: the statement, the type of every field a row
/// brings (then of every packed column), and where the canonical columns
/// are among them.
pub(super) struct CopyPlan {
    statement: String,
    oids: Vec<u32>,
    columns: Vec<(&'static str, usize)>,
    /// Fields per row: `oids` past them are the packed columns.
    sent: usize,
    /// How the last field unpacks, when columns were packed.
    packing: Option<Packing>,
}

/// Prepares `sql` and returns how to COPY it, or `None` when a canonical
/// column has a type only sqlx decodes.
pub(super) async fn plan(
    pool: &PgPool,
    file: &SqlFile,
    kind: RowKind,
    sql: &str,
) -> Result<Option<CopyPlan>, SourceError> {
    let prepared = pool
        .prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
        .await
        .map_err(|e| classify(file, e))?;
    let names: Vec<String> = prepared
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    check_columns(kind, file, &names)?;
    let oids: Vec<u32> = prepared
        .columns()
        .iter()
        .map(|c| oid(c.type_info()))
        .collect();
    let columns = locate(kind, &names);
    if !columns.iter().all(|&(_, at)| decoded(oids[at])) {
        return Ok(None);
    }
    let inner = query_body(sql);
    let ambiguous = columns
        .iter()
        .any(|(col, _)| names.iter().filter(|n| n.eq_ignore_ascii_case(col)).count() > 1);
    if ambiguous {
        // `q."code"` would not say which: send the query's own columns.
        let sent = oids.len();
        return Ok(Some(CopyPlan {
            statement: format!("COPY (\n{inner}\n) TO STDOUT (FORMAT binary)"),
            oids,
            columns,
            sent,
            packing: None,
        }));
    }
    Ok(Some(narrowed(inner, &names, &oids, &columns)))
}

/// The plan that selects only the canonical columns from the query, with
/// its small ones packed when that spares at least one field.
fn narrowed(
    inner: &str,
    names: &[String],
    oids: &[u32],
    columns: &[(&'static str, usize)],
) -> CopyPlan {
    let packing = Packing::of(columns.iter().map(|&(_, at)| oids[at]));
    let packs = |i: usize| packing.as_ref().is_some_and(|p| p.packs(i));
    let mut select = Vec::new();
    let mut sent_oids = Vec::new();
    // Where each canonical column is, in `columns` order.
    let mut placed = vec![0; columns.len()];
    for (i, &(_, at)) in columns.iter().enumerate() {
        if !packs(i) {
            placed[i] = sent_oids.len();
            sent_oids.push(oids[at]);
            select.push(format!("q.{}", quote_ident(&names[at])));
        }
    }
    if let Some(packing) = &packing {
        select.push(packing.expression(|i| format!("q.{}", quote_ident(&names[columns[i].1]))));
        sent_oids.push(oid::INT8);
    }
    let sent = sent_oids.len();
    for &(i, oid, _) in packing.iter().flat_map(|p| &p.columns) {
        placed[i] = sent_oids.len();
        sent_oids.push(oid);
    }
    CopyPlan {
        statement: format!(
            "COPY (SELECT {} FROM (\n{inner}\n) AS q) TO STDOUT (FORMAT binary)",
            select.join(", ")
        ),
        oids: sent_oids,
        columns: columns
            .iter()
            .zip(placed)
            .map(|(&(col, _), at)| (col, at))
            .collect(),
        sent,
        packing,
    }
}

/// A column name as a quoted identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The `BOOLEAN` and `SMALLINT` columns of a query, sent as one `BIGINT`:
/// each in its own bits, offset so that every value and NULL has a code (a
/// boolean in 2 bits: 0 false, 1 true, 2 NULL; a `SMALLINT` in 17: the
/// value plus 32,768, or 65,536 for NULL). Unpacked, each is the cell the
/// server would have sent, so the decoders see no difference.
#[derive(Debug)]
struct Packing {
    /// Per packed column, in order: its index among the canonical columns,
    /// its type and the bit it starts at.
    columns: Vec<(usize, u32, u32)>,
}

/// Packed columns' cells, rebuilt for one row: the bytes the server would
/// have sent for each (a boolean uses the first), and a bit per NULL.
#[derive(Clone, Copy, Default)]
struct Unpacked {
    cells: [[u8; 2]; MAX_PACKED],
    nulls: u8,
}

/// Packed columns at most (a bit each in [`Unpacked::nulls`]); the five of
/// the reference schema fit.
const MAX_PACKED: usize = 8;

impl Packing {
    fn bits(oid: u32) -> Option<u32> {
        match oid {
            oid::BOOL => Some(2),
            oid::INT2 => Some(17),
            _ => None,
        }
    }

    /// The packing of the small columns among the canonical columns' types,
    /// or `None` when fewer than two are small (packing one field spares
    /// none). Columns that would not fit in 63 bits are sent as they are.
    fn of(oids: impl Iterator<Item = u32>) -> Option<Packing> {
        let mut columns = Vec::new();
        let mut next = 0;
        for (i, oid) in oids.enumerate() {
            if let Some(bits) = Packing::bits(oid)
                && next + bits <= 63
                && columns.len() < MAX_PACKED
            {
                columns.push((i, oid, next));
                next += bits;
            }
        }
        (columns.len() >= 2).then_some(Packing { columns })
    }

    /// Whether the canonical column at index `i` is packed.
    fn packs(&self, i: usize) -> bool {
        self.columns.iter().any(|&(c, _, _)| c == i)
    }

    /// The SQL that packs the columns, given the SQL of the one at an index.
    fn expression(&self, field: impl Fn(usize) -> String) -> String {
        let terms: Vec<String> = self
            .columns
            .iter()
            .map(|&(i, oid, shift)| {
                let field = field(i);
                let code = match oid {
                    oid::BOOL => format!("COALESCE({field}::int4, 2)::int8"),
                    _ => format!("COALESCE({field}::int8 + 32768, 65536)"),
                };
                format!("{code} * {}", 1i64 << shift)
            })
            .collect();
        format!("({})", terms.join(" + "))
    }

    /// The cells packed in `bytes` (the packed field of one row).
    fn unpack(&self, bytes: Option<&[u8]>) -> Result<Unpacked, String> {
        let mut cells = Unpacked::default();
        let packed = bytes
            .and_then(|b| b.try_into().ok())
            .map(i64::from_be_bytes)
            .filter(|v| *v >= 0)
            .ok_or("a packed COPY field that is not a positive BIGINT")?;
        for (j, &(_, oid, shift)) in self.columns.iter().enumerate() {
            let code = packed >> shift;
            let cell = match oid {
                oid::BOOL => match code & 3 {
                    0 => Some([0, 0]),
                    1 => Some([1, 0]),
                    2 => None,
                    _ => return Err("a packed COPY boolean of code 3".into()),
                },
                _ => match code & 0x1_ffff {
                    65_536 => None,
                    c if c < 65_536 => Some(((c - 32_768) as i16).to_be_bytes()),
                    c => return Err(format!("a packed COPY SMALLINT of code {c}")),
                },
            };
            match cell {
                Some(bytes) => cells.cells[j] = bytes,
                None => cells.nulls |= 1 << j,
            }
        }
        Ok(cells)
    }
}

pub(super) fn oid(ty: &PgTypeInfo) -> u32 {
    ty.oid().map_or(0, |o| o.0)
}

/// What a read that was planned for COPY came to.
pub(super) enum Outcome {
    Read(u64),
    /// PostgreSQL refused the COPY statement before sending anything (a
    /// file's SQL that a plain query accepts but COPY's parenthesised form
    /// does not): read it row by row instead.
    Refused,
}

/// Runs `plan`, converting each row and handing it to `sink`.
pub(super) async fn read<T>(
    pool: &PgPool,
    plan: &CopyPlan,
    file: &SqlFile,
    zone: FixedOffset,
    (convert, fill): (Convert<T>, Option<Fill<T>>),
    sink: &mut (dyn FnMut(T) -> Option<T> + Send),
) -> Result<Outcome, SourceError> {
    let mut checkout = Checkout {
        conn: pool.acquire().await.map_err(|e| classify(file, e))?,
        done: false,
    };
    let mut stream = match checkout.conn.copy_out_raw(&plan.statement).await {
        Ok(stream) => stream,
        Err(sqlx::Error::Database(e)) if refused(e.code().as_deref()) => {
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(classify(file, e)),
    };
    let mut parser = Parser::new(plan.sent);
    let mut count = 0u64;
    let mut since_yield = 0u64;
    // A spent row the sink handed back, filled next.
    let mut spare: Option<T> = None;
    while let Some(chunk) = stream.try_next().await.map_err(|e| classify(file, e))? {
        let fed = parser.feed(&chunk, |fields, data| {
            let unpacked = match &plan.packing {
                None => Unpacked::default(),
                Some(packing) => {
                    let (start, len) = fields[plan.sent - 1];
                    let bytes = (len >= 0).then(|| &data[start..start + len as usize]);
                    packing.unpack(bytes).map_err(|m| protocol(file, &m))?
                }
            };
            let row = CopyRow {
                data,
                fields,
                oids: &plan.oids,
                unpacked: &unpacked,
            };
            let cells = Located::new(&row, &plan.columns);
            let converted = match (fill, spare.take()) {
                (Some(fill), Some(mut spent)) => fill(&cells, zone, &mut spent).map(|()| spent),
                _ => convert(&cells, zone),
            };
            spare = sink(converted.map_err(|e| e.in_file(file))?);
            count += 1;
            since_yield += 1;
            Ok(())
        });
        match fed {
            Ok(()) => {}
            Err(Stop::Row(e)) => return Err(e),
            Err(Stop::Malformed(m)) => return Err(protocol(file, &m)),
        }
        if since_yield >= YIELD_EVERY {
            since_yield = 0;
            // Messages already received never make the stream wait: let
            // the scrapes queued on this worker run.
            tokio::task::yield_now().await;
        }
    }
    drop(stream);
    if !parser.ended() {
        return Err(protocol(file, "the COPY data ended without its trailer"));
    }
    checkout.done = true;
    Ok(Outcome::Read(count))
}

/// Whether an error before any data means COPY's form of the query is not
/// accepted (a syntax error, an unsupported feature), so the plain query may
/// be: anything else (permissions, a timeout, a cancel) is the query's own
/// failure and is reported, not run a second time.
fn refused(sqlstate: Option<&str>) -> bool {
    matches!(sqlstate, Some("42601" | "0A000"))
}

/// A pooled connection that is closed, not returned to the pool, unless the
/// COPY ran to its end: a COPY left half-read (an error in a row, a refresh
/// abandoned on timeout) leaves the session in the middle of a transfer.
struct Checkout {
    conn: PoolConnection<Postgres>,
    done: bool,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if !self.done {
            self.conn.close_on_drop();
        }
    }
}

fn protocol(file: &SqlFile, message: &str) -> SourceError {
    classify(file, sqlx::Error::Protocol(message.to_owned()))
}

/// Splits the binary COPY format into rows: an 11-byte signature, flags and
/// a header extension, then rows of a 16-bit field count and fields of a
/// 32-bit length (-1 for NULL) and that many bytes, then a count of -1.
/// PostgreSQL sends one row per message, but the format does not promise
/// it: a row split across messages waits in `pending`.
struct Parser {
    width: usize,
    header_read: bool,
    ended: bool,
    /// The start of a row (or the header) whose end has not arrived.
    pending: Vec<u8>,
    /// Per field of the current row: its start in the data and its length,
    /// or -1 for NULL. Reused from row to row.
    fields: Vec<(usize, i32)>,
}

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Why [`Parser::feed`] stopped: the data does not follow the format, or
/// the row's handler failed.
enum Stop<E> {
    Malformed(String),
    Row(E),
}

fn malformed<E>(message: impl Into<String>) -> Stop<E> {
    Stop::Malformed(message.into())
}

impl Parser {
    fn new(width: usize) -> Parser {
        Parser {
            width,
            header_read: false,
            ended: false,
            pending: Vec::new(),
            fields: Vec::with_capacity(width),
        }
    }

    fn ended(&self) -> bool {
        self.ended && self.pending.is_empty()
    }

    /// Hands every whole row in `chunk` (after what was pending) to `row`.
    fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(&[(usize, i32)], &[u8]) -> Result<(), E>,
    ) -> Result<(), Stop<E>> {
        if self.pending.is_empty() {
            let used = self.rows(chunk, &mut row)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(chunk);
            let used = self.rows(&data, &mut row)?;
            data.drain(..used);
            self.pending = data;
        }
        Ok(())
    }

    /// Reads whole rows from the start of `data`; returns the bytes used.
    fn rows<E>(
        &mut self,
        data: &[u8],
        row: &mut impl FnMut(&[(usize, i32)], &[u8]) -> Result<(), E>,
    ) -> Result<usize, Stop<E>> {
        let mut at = 0;
        if !self.header_read {
            let Some(end) = header_end(data)? else {
                return Ok(0);
            };
            self.header_read = true;
            at = end;
        }
        while at < data.len() {
            if self.ended {
                return Err(malformed("data after the COPY trailer"));
            }
            let Some(count) = read_i16(data, at) else {
                break;
            };
            if count == -1 {
                self.ended = true;
                at += 2;
                continue;
            }
            if count as usize != self.width {
                let message = format!(
                    "a COPY row of {count} fields where the query has {} columns",
                    self.width
                );
                return Err(malformed(message));
            }
            self.fields.clear();
            let mut next = at + 2;
            let mut whole = true;
            for _ in 0..self.width {
                let Some(len) = read_i32(data, next) else {
                    whole = false;
                    break;
                };
                next += 4;
                if len < -1 {
                    return Err(malformed(format!("a COPY field of length {len}")));
                }
                self.fields.push((next, len));
                next += len.max(0) as usize;
                if next > data.len() {
                    whole = false;
                    break;
                }
            }
            if !whole {
                break;
            }
            row(&self.fields, data).map_err(Stop::Row)?;
            at = next;
        }
        Ok(at)
    }
}

/// Where the header ends, once all of it has arrived.
fn header_end<E>(data: &[u8]) -> Result<Option<usize>, Stop<E>> {
    let fixed = SIGNATURE.len() + 8;
    if data.len() < fixed {
        return Ok(None);
    }
    if !data.starts_with(SIGNATURE) {
        return Err(malformed("COPY data without the binary signature"));
    }
    // Bits 16-31 of the flags are critical: a reader must stop on any it
    // does not know (bit 16, OIDs in each row, is gone since PostgreSQL 12).
    let flags = read_i32(data, SIGNATURE.len()).unwrap_or(0);
    if flags as u32 >> 16 != 0 {
        return Err(malformed(format!(
            "COPY data with critical flags {flags:#x}"
        )));
    }
    let extension = read_i32(data, SIGNATURE.len() + 4).unwrap_or(0);
    if extension < 0 {
        return Err(malformed("a negative COPY header extension"));
    }
    let end = fixed + extension as usize;
    Ok((data.len() >= end).then_some(end))
}

fn read_i16(data: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn read_i32(data: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// One COPY row: the fields of [`Parser`] over the bytes they point into,
/// and the cells unpacked from its packed field.
pub(super) struct CopyRow<'a> {
    data: &'a [u8],
    fields: &'a [(usize, i32)],
    oids: &'a [u32],
    unpacked: &'a Unpacked,
}

/// A cell's declared type and bytes (`None` for NULL).
type Cell<'a> = (u32, Option<&'a [u8]>);

impl<'a> Located<'a, CopyRow<'a>> {
    fn cell(&self, col: &'static str) -> Result<Cell<'a>, CellError> {
        let at = self.at(col)?;
        let row = self.row;
        let oid = row.oids[at];
        let Some(&(start, len)) = row.fields.get(at) else {
            let j = at - row.fields.len();
            let width = if oid == oid::BOOL { 1 } else { 2 };
            let null = row.unpacked.nulls & (1 << j) != 0;
            return Ok((oid, (!null).then(|| &row.unpacked.cells[j][..width])));
        };
        let bytes = (len >= 0).then(|| &row.data[start..start + len as usize]);
        Ok((oid, bytes))
    }
}

/// The `pg_type` numbers decoded here.
mod oid {
    pub const BOOL: u32 = 16;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
}

fn decoded(oid: u32) -> bool {
    use oid::*;
    [
        BOOL,
        NAME,
        INT8,
        INT2,
        INT4,
        TEXT,
        FLOAT4,
        FLOAT8,
        BPCHAR,
        VARCHAR,
        DATE,
        TIMESTAMP,
        TIMESTAMPTZ,
    ]
    .contains(&oid)
}

/// `TEXT`, `VARCHAR`, `CHAR(n)` (with its padding, as sqlx gives it) and
/// `NAME` are UTF-8 bytes.
fn text<'b>(col: &'static str, oid: u32, bytes: &'b [u8]) -> Option<Result<&'b str, CellError>> {
    matches!(oid, oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME)
        .then(|| std::str::from_utf8(bytes).map_err(|_| cell_error(col, "is not valid UTF-8 text")))
}

/// `SMALLINT`, `INTEGER` and `BIGINT` are big-endian, 2, 4 or 8 bytes.
fn int(col: &'static str, oid: u32, bytes: &[u8]) -> Option<Result<i64, CellError>> {
    let value = match oid {
        oid::INT2 => bytes.try_into().map(|b| i64::from(i16::from_be_bytes(b))),
        oid::INT4 => bytes.try_into().map(|b| i64::from(i32::from_be_bytes(b))),
        oid::INT8 => bytes.try_into().map(i64::from_be_bytes),
        _ => return None,
    };
    Some(value.map_err(|_| cell_error(col, "has a malformed integer")))
}

fn float(col: &'static str, oid: u32, bytes: &[u8]) -> Option<Result<f64, CellError>> {
    let value = match oid {
        oid::FLOAT4 => bytes.try_into().map(|b| f64::from(f32::from_be_bytes(b))),
        oid::FLOAT8 => bytes.try_into().map(f64::from_be_bytes),
        _ => return None,
    };
    Some(value.map_err(|_| cell_error(col, "has a malformed number")))
}

/// Seconds since 2000-01-01, PostgreSQL's epoch, to motcua's.
const SINCE_1970: Ts = 946_684_800;

/// A `TIMESTAMP` is microseconds since 2000-01-01 in wall-clock time; a
/// `TIMESTAMPTZ` the same in UTC, shown in `zone`; a `DATE` is days since
/// 2000-01-01. Floored to the second, like chrono.
pub(super) fn instant(
    col: &'static str,
    oid: u32,
    bytes: &[u8],
    zone: FixedOffset,
) -> Option<Result<Ts, CellError>> {
    let value = match oid {
        oid::TIMESTAMP => bytes
            .try_into()
            .ok()
            .and_then(|b| pg_timestamp(i64::from_be_bytes(b))),
        oid::TIMESTAMPTZ => bytes
            .try_into()
            .ok()
            .and_then(|b| pg_timestamp(i64::from_be_bytes(b)))
            .map(|utc| utc + Ts::from(zone.local_minus_utc())),
        oid::DATE => bytes
            .try_into()
            .ok()
            .map(i32::from_be_bytes)
            // ±infinity are i32::MAX and MIN, past chrono's range as well.
            .filter(|days| days.unsigned_abs() < 200_000 * 366)
            .map(|days| Ts::from(days) * SECONDS_PER_DAY + SINCE_1970),
        _ => return None,
    };
    Some(value.ok_or_else(|| cell_error(col, "expected a timestamp")))
}

/// Whether [`instant`] decodes this type.
pub(super) fn is_instant(oid: u32) -> bool {
    matches!(oid, oid::TIMESTAMP | oid::TIMESTAMPTZ | oid::DATE)
}

/// Seconds of a binary `TIMESTAMP`, or `None` past ±200,000 years, which
/// covers ±infinity (chrono's limit is ±262,143 years).
fn pg_timestamp(micros: i64) -> Option<Ts> {
    const LIMIT: Ts = 200_000 * 366 * SECONDS_PER_DAY;
    let secs = micros.div_euclid(1_000_000);
    (secs.abs() < LIMIT).then_some(secs + SINCE_1970)
}

// The same leniency as the sqlx path: numbers, booleans and timestamps
// stored as text are read with the shared text rules.
impl Cells for Located<'_, CopyRow<'_>> {
    fn text(&self, col: &'static str) -> Result<Option<String>, CellError> {
        let (oid, Some(bytes)) = self.cell(col)? else {
            return Ok(None);
        };
        if let Some(s) = text(col, oid, bytes) {
            return s.map(|s| Some(s.to_owned()));
        }
        if let Some(i) = int(col, oid, bytes) {
            return i.map(|i| Some(i.to_string()));
        }
        Err(cell_error(col, "expected text"))
    }

    fn text_into(&self, col: &'static str, out: &mut String) -> Result<bool, CellError> {
        out.clear();
        let (oid, Some(bytes)) = self.cell(col)? else {
            return Ok(false);
        };
        if let Some(s) = text(col, oid, bytes) {
            out.push_str(s?);
            return Ok(true);
        }
        if let Some(i) = int(col, oid, bytes) {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(out, "{}", i?);
            return Ok(true);
        }
        Err(cell_error(col, "expected text"))
    }

    fn int(&self, col: &'static str) -> Result<Option<i64>, CellError> {
        let (oid, Some(bytes)) = self.cell(col)? else {
            return Ok(None);
        };
        if let Some(i) = int(col, oid, bytes) {
            return i.map(Some);
        }
        if let Some(s) = text(col, oid, bytes) {
            return int_of_text(col, s?).map(Some);
        }
        Err(cell_error(
            col,
            "expected a whole number (cast it to an integer type)",
        ))
    }

    fn float(&self, col: &'static str) -> Result<Option<f64>, CellError> {
        let (oid, Some(bytes)) = self.cell(col)? else {
            return Ok(None);
        };
        if let Some(f) = float(col, oid, bytes) {
            return f.map(Some);
        }
        if let Some(i) = int(col, oid, bytes) {
            return i.map(|i| Some(i as f64));
        }
        if let Some(s) = text(col, oid, bytes) {
            return float_of_text(col, s?).map(Some);
        }
        Err(cell_error(
            col,
            "expected a number (cast NUMERIC/DECIMAL to a double)",
        ))
    }

    fn boolean(&self, col: &'static str) -> Result<Option<bool>, CellError> {
        let (oid, Some(bytes)) = self.cell(col)? else {
            return Ok(None);
        };
        if oid == oid::BOOL {
            return match bytes {
                [b] => Ok(Some(*b != 0)),
                _ => Err(cell_error(col, "has a malformed boolean")),
            };
        }
        if let Some(i) = int(col, oid, bytes) {
            return i.map(|i| Some(i != 0));
        }
        if let Some(s) = text(col, oid, bytes) {
            return bool_of_text(col, s?).map(Some);
        }
        Err(cell_error(col, "expected a boolean"))
    }

    fn instant(&self, col: &'static str, zone: FixedOffset) -> Result<Option<Ts>, CellError> {
        let (oid, Some(bytes)) = self.cell(col)? else {
            return Ok(None);
        };
        if let Some(ts) = instant(col, oid, bytes, zone) {
            return ts.map(Some);
        }
        if let Some(s) = text(col, oid, bytes) {
            return instant_of_text(col, s?, zone);
        }
        Err(cell_error(col, "expected a timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header, the given rows (fields as `None` for NULL), the trailer.
    fn copy_data(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&4i32.to_be_bytes());
        out.extend_from_slice(b"ext!");
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for field in *row {
                match field {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn parse_in_pieces(data: &[u8], piece: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>, String> {
        let mut parser = Parser::new(2);
        let mut rows = Vec::new();
        for chunk in data.chunks(piece) {
            parser
                .feed(chunk, |fields, data| -> Result<(), ()> {
                    rows.push(
                        fields
                            .iter()
                            .map(|&(s, l)| (l >= 0).then(|| data[s..s + l as usize].to_vec()))
                            .collect(),
                    );
                    Ok(())
                })
                .map_err(|stop| match stop {
                    Stop::Malformed(m) => m,
                    Stop::Row(()) => unreachable!("the handler never fails"),
                })?;
        }
        if !parser.ended() {
            return Err("no trailer".into());
        }
        Ok(rows)
    }

    #[test]
    fn rows_split_anywhere_across_messages_are_read_whole() {
        let data = copy_data(&[
            &[Some(b"HS-1"), None],
            &[Some(b""), Some(&7i32.to_be_bytes())],
        ]);
        let expected = vec![
            vec![Some(b"HS-1".to_vec()), None],
            vec![Some(Vec::new()), Some(7i32.to_be_bytes().to_vec())],
        ];
        for piece in 1..=data.len() {
            assert_eq!(
                parse_in_pieces(&data, piece),
                Ok(expected.clone()),
                "{piece}"
            );
        }
    }

    #[test]
    fn malformed_copy_data_is_an_error_not_a_short_read() {
        let good = copy_data(&[&[Some(b"a"), Some(b"b")]]);
        // No trailer: the read did not end.
        assert!(parse_in_pieces(&good[..good.len() - 2], 64).is_err());
        // A row of three fields where two were described.
        let wide = copy_data(&[&[Some(b"a"), Some(b"b"), None]]);
        let err = parse_in_pieces(&wide, 64).unwrap_err();
        assert!(
            err.contains("3 fields") && err.contains("2 columns"),
            "{err}"
        );
        // Not COPY's binary format at all.
        let err = parse_in_pieces(b"code\tstatus\nHS-1\t4\n.........", 64).unwrap_err();
        assert!(err.contains("signature"), "{err}");
        // A critical flag this reader does not know (OIDs in each row).
        let mut oids = good.clone();
        oids[SIGNATURE.len() + 1] = 1;
        let err = parse_in_pieces(&oids, 64).unwrap_err();
        assert!(err.contains("critical flags"), "{err}");
        // Data after the trailer.
        let mut extra = good.clone();
        extra.extend_from_slice(&1i16.to_be_bytes());
        assert!(parse_in_pieces(&extra, 64).is_err());
    }

    #[test]
    fn binary_timestamps_dates_and_zones_read_like_chrono() {
        let zone = FixedOffset::east_opt(7 * 3600).unwrap();
        let at = |s: &str| {
            crate::model::ts_of(
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap(),
            )
        };
        // 2025-03-03 08:00:00.5 as microseconds since 2000-01-01.
        let micros = (at("2025-03-03 08:00:00") - SINCE_1970) * 1_000_000 + 500_000;
        let ts = |oid, b: &[u8]| instant("c", oid, b, zone).unwrap().ok();
        assert_eq!(
            ts(oid::TIMESTAMP, &micros.to_be_bytes()),
            Some(at("2025-03-03 08:00:00"))
        );
        assert_eq!(
            ts(oid::TIMESTAMPTZ, &micros.to_be_bytes()),
            Some(at("2025-03-03 15:00:00"))
        );
        // Before 2000, microseconds floor towards the past, as chrono's do.
        assert_eq!(
            ts(oid::TIMESTAMP, &(-1i64).to_be_bytes()),
            Some(at("1999-12-31 23:59:59"))
        );
        let days = ((at("2025-03-10 00:00:00") - SINCE_1970) / SECONDS_PER_DAY) as i32;
        assert_eq!(
            ts(oid::DATE, &days.to_be_bytes()),
            Some(at("2025-03-10 00:00:00"))
        );
        // ±infinity cannot be a dossier's time.
        assert_eq!(ts(oid::TIMESTAMP, &i64::MAX.to_be_bytes()), None);
        assert_eq!(ts(oid::DATE, &i32::MIN.to_be_bytes()), None);
        // A width that is not the type's is an error, not a guess.
        assert_eq!(ts(oid::TIMESTAMP, &[0; 4]), None);
        assert!(int("c", oid::INT4, &[0; 8]).unwrap().is_err());
    }

    #[test]
    fn reads_postgres_binary_timestamps_like_chrono() {
        let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        for micros in [
            0,
            -1,
            1,
            999_999,
            -1_000_000,
            -1_000_001,
            851_234_567_890_123,
            -946_684_800_000_000,
        ] {
            let chrono = epoch + chrono::Duration::microseconds(micros);
            assert_eq!(
                pg_timestamp(micros),
                Some(crate::model::ts_of(chrono)),
                "{micros}"
            );
        }
        assert_eq!(pg_timestamp(i64::MAX), None, "infinity");
        assert_eq!(pg_timestamp(i64::MIN), None, "-infinity");
    }

    /// The reference schema's five small columns travel as one field, after
    /// the others, and are found where the conversions look for them.
    #[test]
    fn the_reference_schema_sends_nine_fields() {
        use oid::*;
        let names: Vec<String> = RowKind::Dossiers
            .columns()
            .iter()
            .map(|c| c.to_string())
            .chain(["vendor_extra".to_owned()])
            .collect();
        let oids = [
            TEXT, TEXT, TEXT, INT2, INT2, TIMESTAMP, TIMESTAMP, TIMESTAMP, TIMESTAMP, BOOL, BOOL,
            BOOL, TIMESTAMP, 1700,
        ];
        let columns = locate(RowKind::Dossiers, &names);
        let plan = narrowed("SELECT * FROM dossiers", &names, &oids, &columns);
        assert_eq!(plan.sent, 9);
        assert!(
            !plan.statement.contains("vendor_extra"),
            "{}",
            plan.statement
        );
        assert!(
            plan.statement
                .contains(r#"COALESCE(q."channel"::int8 + 32768, 65536) * 1 +"#),
            "{}",
            plan.statement
        );
        let oid_of = |col: &str| {
            let at = plan.columns.iter().find(|(c, _)| *c == col).unwrap().1;
            plan.oids[at]
        };
        for col in RowKind::Dossiers.columns() {
            let at = names.iter().position(|n| n == col).unwrap();
            assert_eq!(oid_of(col), oids[at], "{col}");
        }
        assert_eq!(plan.oids[8], INT8);
    }

    #[test]
    fn packing_fits_63_bits_and_refuses_codes_it_never_makes() {
        use oid::*;
        // Three SMALLINTs take 51 bits: a fourth does not fit, a boolean does.
        let p = Packing::of([INT2, INT2, INT2, INT2, BOOL].into_iter()).unwrap();
        let packed: Vec<usize> = p.columns.iter().map(|c| c.0).collect();
        assert_eq!(packed, [0, 1, 2, 4]);
        assert_eq!(Packing::of([BOOL; 9].into_iter()).unwrap().columns.len(), 8);
        // One small column is sent as it is.
        assert!(Packing::of([TEXT, BOOL, INT4].into_iter()).is_none());
        let p = Packing::of([INT2, BOOL].into_iter()).unwrap();
        let code = |int2: i64, boolean: i64| (int2 + (boolean << 17)).to_be_bytes();
        let cells = p.unpack(Some(&code(32_767 + 32_768, 1))).unwrap();
        assert_eq!(cells.cells[0], 32_767i16.to_be_bytes());
        assert_eq!((cells.cells[1][0], cells.nulls), (1, 0));
        let cells = p.unpack(Some(&code(65_536, 2))).unwrap();
        assert_eq!(cells.nulls, 0b11);
        assert!(p.unpack(Some(&code(0, 3))).is_err());
        assert!(p.unpack(Some(&code(65_537, 0))).is_err());
        assert!(p.unpack(Some(&(-1i64).to_be_bytes())).is_err());
        assert!(p.unpack(Some(&[0; 4])).is_err());
        assert!(p.unpack(None).is_err());
    }

    /// A dossier row refilled from a row of NULLs keeps nothing of the row
    /// before: it equals the same cells read into a new row.
    #[test]
    fn a_refilled_dossier_row_keeps_nothing_of_the_row_before() {
        use crate::model::DossierRow;
        use oid::*;
        let names: Vec<String> = RowKind::Dossiers
            .columns()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let columns = locate(RowKind::Dossiers, &names);
        let oids = [
            TEXT, TEXT, TEXT, INT2, INT2, TIMESTAMP, TIMESTAMP, TIMESTAMP, TIMESTAMP, BOOL, BOOL,
            BOOL, TIMESTAMP,
        ];
        let day = 9_000i64 * 86_400 * 1_000_000;
        let zone = FixedOffset::east_opt(7 * 3600).unwrap();
        let read = |cells: &[Option<Vec<u8>>], into: Option<DossierRow>| -> DossierRow {
            let mut data = Vec::new();
            let mut fields = Vec::new();
            for cell in cells {
                match cell {
                    Some(bytes) => {
                        fields.push((data.len(), bytes.len() as i32));
                        data.extend_from_slice(bytes);
                    }
                    None => fields.push((data.len(), -1)),
                }
            }
            let row = CopyRow {
                data: &data,
                fields: &fields,
                oids: &oids,
                unpacked: &Unpacked::default(),
            };
            let cells = Located::new(&row, &columns);
            match into {
                Some(mut spent) => {
                    super::super::dossier_into(&cells, zone, &mut spent).unwrap();
                    spent
                }
                None => super::super::dossier(&cells, zone).unwrap(),
            }
        };
        let ts = Some(day.to_be_bytes().to_vec());
        let yes = Some(vec![1u8]);
        let full = [
            Some(b"HS-1".to_vec()),
            Some(b"P1".to_vec()),
            Some(b"UBND01".to_vec()),
            Some(2i16.to_be_bytes().to_vec()),
            Some(10i16.to_be_bytes().to_vec()),
            ts.clone(),
            ts.clone(),
            ts.clone(),
            ts.clone(),
            yes.clone(),
            yes.clone(),
            yes,
            ts,
        ];
        let mut nulls: Vec<Option<Vec<u8>>> = vec![None; 13];
        nulls[0] = Some(b"HS-2".to_vec());
        let first = read(&full, None);
        assert_eq!(first.procedure_code, "P1");
        assert_eq!(first.channel, Some(2));
        assert!(first.digitized && first.received_at.is_some());
        let refilled = read(&nulls, Some(first));
        assert_eq!(refilled, read(&nulls, None));
        assert_eq!(refilled.procedure_code, "");
        assert_eq!(refilled.channel, None);
        assert_eq!(refilled.status, 0);
        assert!(!refilled.digitized && refilled.received_at.is_none());
    }
}
