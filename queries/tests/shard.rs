//! The SQL condition of an [`AgencyFilter`] selects, on real SQLite,
//! PostgreSQL and MariaDB, exactly the rows whose code `matches` selects:
//! codes with `_`, `%`, `'`, `!`, GLOB wildcards, other cases, accents and
//! trailing spaces, in columns with case- and accent-insensitive collations.
//!
//! PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB (127.0.0.1:3306,
//! user root, no password) get a throwaway database, dropped at the end.
//! A missing server skips its test, saying why; with `CI=true` it fails.

use motcua_queries::shard::AgencyFilter;
use motcua_queries::source::Dialect;
use motcua_testkit::{require, unique};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Connection, Executor};

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/";

/// Agency codes in the table (row id = index + 1). `None` is a NULL code.
const CODES: &[Option<&str>] = &[
    Some("000.00.12.H18"),
    Some("000.00.12.h18"),
    Some("000.00.12.H18 "),
    Some(" 000.00.12.H18"),
    Some("000.00.12.H180"),
    Some("000.00.12.H1"),
    Some("000.00.12."),
    Some("000.00.12"),
    Some("000.00.120.H18"),
    Some("000.00.13.H18"),
    Some("000.00.13.h18"),
    Some("000X00.13.H18"),
    Some("A_B.1"),
    Some("AXB.1"),
    Some("a_b.1"),
    Some("A_B"),
    Some("AxB"),
    Some("C%D1"),
    Some("CxxD1"),
    Some("C%D"),
    Some("CD"),
    Some("c%d1"),
    Some("O'Brien.1"),
    Some("OBrien.1"),
    Some("O''Brien.1"),
    Some("O'Brien"),
    Some("o'brien"),
    Some("E!F1"),
    Some("EF1"),
    Some("E!!F1"),
    Some("E!F"),
    Some("EF"),
    Some("G!_1"),
    Some("G!x1"),
    Some("G_1"),
    Some("G!!_1"),
    Some("H[1]x"),
    Some("H1x"),
    Some("H[1"),
    Some("Q?1"),
    Some("QA1"),
    Some("Q?"),
    Some("R*1"),
    Some("RX1"),
    Some("SỞ.01"),
    Some("SO.01"),
    Some("sở.01"),
    Some("SỞ.011"),
    Some("Z\\1"),
    Some("Z1"),
    Some("%"),
    Some("_"),
    Some(""),
    None,
];

/// Patterns that each pick a few of the codes above, and miss their
/// look-alikes when every character is taken literally.
const PATTERNS: &[&str] = &[
    "000.00.12.H18",
    "000.00.12.*",
    "000.00.13.*",
    "A_B.*",
    "A_B",
    "C%D*",
    "C%D",
    "O'Brien.*",
    "O'Brien",
    "E!F*",
    "E!F",
    "G!_*",
    "H[1]*",
    "Q?*",
    "R*",
    "SỞ.01",
    "SỞ.*",
    "Z*",
    "%",
    "_*",
];

fn filter(patterns: &[&str]) -> AgencyFilter {
    let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    AgencyFilter::parse(&patterns).unwrap()
}

/// Every filter tried: each pattern alone, pairs, and all of them.
fn filters() -> Vec<AgencyFilter> {
    let mut out: Vec<AgencyFilter> = PATTERNS.iter().map(|p| filter(&[p])).collect();
    out.push(filter(&["A_B", "C%D*", "O'Brien"]));
    out.push(filter(&["000.00.12.H18", "000.00.13.*", "E!F"]));
    out.push(filter(PATTERNS));
    out
}

/// The row ids whose code `filter.matches`.
fn expected(filter: &AgencyFilter) -> Vec<i64> {
    CODES
        .iter()
        .zip(1..)
        .filter(|(code, _)| code.is_some_and(|c| filter.matches(c)))
        .map(|(_, id)| id)
        .collect()
}

/// One query per filter and column: (what, SQL, the ids it must return).
fn cases(dialect: Dialect, columns: &[&str]) -> Vec<(String, String, Vec<i64>)> {
    let mut out = Vec::new();
    for f in filters() {
        let want = expected(&f);
        assert!(!want.is_empty(), "{f} selects nothing: a useless case");
        for column in columns {
            let condition = f.sql_condition(column, dialect).expect("not every agency");
            out.push((
                format!("{f} on {column}: {condition}"),
                format!("SELECT id FROM t WHERE {condition} ORDER BY id"),
                want.clone(),
            ));
        }
    }
    out
}

/// The cases whose rows differ from `matches`, described.
fn mismatches(results: Vec<(String, Vec<i64>, Vec<i64>)>) -> Vec<String> {
    let codes = |ids: &[i64]| -> Vec<Option<&str>> {
        ids.iter()
            .map(|&id| CODES[usize::try_from(id - 1).unwrap()])
            .collect()
    };
    results
        .into_iter()
        .filter(|(_, got, want)| got != want)
        .map(|(what, got, want)| {
            format!(
                "{what}\n    SQL selected {:?}\n    matches      {:?}",
                codes(&got),
                codes(&want)
            )
        })
        .collect()
}

fn assert_same(engine: &str, results: Vec<(String, Vec<i64>, Vec<i64>)>) {
    let n = results.len();
    let bad = mismatches(results);
    assert!(
        bad.is_empty(),
        "{engine}: {} of {n} conditions disagree with `matches`:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn every_agency_needs_no_condition() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
        assert_eq!(AgencyFilter::all().sql_condition("c", dialect), None);
        assert_eq!(filter(&[]).sql_condition("c", dialect), None);
    }
}

#[tokio::test]
async fn sqlite_condition_selects_what_matches_selects() {
    let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
    // SQLite's LIKE ignores ASCII case, and a NOCASE column makes `=` do so.
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, code_binary TEXT, code_nocase TEXT COLLATE NOCASE)",
    )
    .await
    .unwrap();
    for (code, id) in CODES.iter().zip(1i64..) {
        sqlx::query("INSERT INTO t (id, code_binary, code_nocase) VALUES (?, ?, ?)")
            .bind(id)
            .bind(code)
            .bind(code)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let mut results = Vec::new();
    for (what, sql, want) in cases(Dialect::Sqlite, &["code_binary", "code_nocase"]) {
        let got: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        results.push((what, got, want));
    }
    conn.close().await.unwrap();
    assert_same("SQLite", results);
}

#[tokio::test]
async fn postgres_condition_selects_what_matches_selects() {
    let Some(mut admin) = require(
        "PostgreSQL at 127.0.0.1:5432",
        PgConnection::connect(POSTGRES_ADMIN_URL).await,
    ) else {
        return;
    };
    let name = unique("motcua_shard");
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"
        )))
        .await
        .unwrap();
    let outcome = async {
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let mut conn = PgConnection::connect(&url).await?;
        conn.execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, code_text TEXT, code_varchar VARCHAR(64))",
        )
        .await?;
        for (code, id) in CODES.iter().zip(1i64..) {
            sqlx::query("INSERT INTO t (id, code_text, code_varchar) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(code)
                .bind(code)
                .execute(&mut conn)
                .await?;
        }
        let mut results = Vec::new();
        for (what, sql, want) in cases(Dialect::Postgres, &["code_text", "code_varchar"]) {
            let got: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| sqlx::Error::Protocol(format!("{what}: {e}")))?;
            results.push((what, got, want));
        }
        conn.close().await?;
        Ok::<_, sqlx::Error>(results)
    }
    .await;
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
    admin.close().await.unwrap();
    assert_same("PostgreSQL", outcome.unwrap());
}

#[tokio::test]
async fn mariadb_condition_selects_what_matches_selects() {
    let Some(mut admin) = require(
        "MariaDB at 127.0.0.1:3306",
        MySqlConnection::connect(MYSQL_ADMIN_URL).await,
    ) else {
        return;
    };
    let name = unique("motcua_shard");
    // The usual collation: case and accent insensitive, trailing spaces ignored.
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )))
        .await
        .unwrap();
    let outcome = async {
        let url = format!("mysql://root@127.0.0.1:3306/{name}");
        let mut conn = MySqlConnection::connect(&url).await?;
        conn.execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, code_ci VARCHAR(64) NULL, \
             code_bin VARCHAR(64) COLLATE utf8mb4_bin NULL, code_text TEXT NULL)",
        )
        .await?;
        for (code, id) in CODES.iter().zip(1i64..) {
            sqlx::query("INSERT INTO t (id, code_ci, code_bin, code_text) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(code)
                .bind(code)
                .bind(code)
                .execute(&mut conn)
                .await?;
        }
        let mut results = Vec::new();
        for (what, sql, want) in cases(Dialect::MySql, &["code_ci", "code_bin", "code_text"]) {
            let got: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| sqlx::Error::Protocol(format!("{what}: {e}")))?;
            results.push((what, got, want));
        }
        conn.close().await?;
        Ok::<_, sqlx::Error>(results)
    }
    .await;
    admin
        .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .await
        .unwrap();
    admin.close().await.unwrap();
    assert_same("MariaDB", outcome.unwrap());
}
