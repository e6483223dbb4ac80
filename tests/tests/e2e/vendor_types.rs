//! PostgreSQL cells of the types the reference schema uses are read from
//! their binary form directly (`FastCells`); every other type a vendor may
//! use goes through sqlx. Both paths must give the same canonical row.

use chrono::FixedOffset;
use motcua_queries::model::{DossierRow, Ts, ts_of};
use motcua_queries::{ConnectOptions, Reader};

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

async fn read_back(ddl: &str) -> Option<Vec<DossierRow>> {
    let db = ThrowawayDb::create(Engine::Postgres).await?;
    let writer = db.writer();
    // TIMESTAMPTZ text is read in the session's zone: make it +07:00.
    writer
        .execute_script(&format!("SET TIME ZONE '+07'; {ddl} {ROWS}"))
        .await
        .expect("load");
    writer.close().await;
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("open");
    let zone = FixedOffset::east_opt(7 * 3600).expect("zone");
    let mut rows = Vec::new();
    reader
        .source
        .stream_dossiers(&reader.files, zone, None, &mut |r| rows.push(r))
        .await
        .expect("read");
    reader.source.close().await;
    db.drop_db().await;
    rows.sort_by(|a, b| a.code.cmp(&b.code));
    Some(rows)
}

#[tokio::test]
async fn binary_cells_read_directly_equal_the_general_path() {
    let Some(fast) = read_back(FAST).await else {
        return;
    };
    let other = read_back(OTHER).await.expect("PostgreSQL answered once");
    let expected = vec![
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
    ];
    assert_eq!(fast, expected);
    assert_eq!(other, expected);
}
