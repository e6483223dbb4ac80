//! `--demo`: the database is generated once, atomically, and served read-only.

mod common;

use chrono::FixedOffset;
use common::scratch;
use motcua_exporter::demo::{DEMO_FILE, prepare, sqlite_url};
use motcua_queries::{ConnectOptions, Source};

#[tokio::test]
async fn demo_database_is_generated_once_and_served_read_only() {
    let dir = scratch("demo");
    let data_dir = dir.join("nested/data");
    let zone = FixedOffset::east_opt(7 * 3600).unwrap();
    // A leftover from an interrupted generation is discarded.
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(
        data_dir.join(format!("{DEMO_FILE}.partial")),
        "half a database",
    )
    .unwrap();

    let (path, generated) = prepare(&data_dir, 1_500, zone, false).await.unwrap();
    assert!(generated);
    assert_eq!(path, data_dir.join(DEMO_FILE));
    assert!(path.is_file());
    let leftovers: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != DEMO_FILE)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();

    let (again, generated) = prepare(&data_dir, 1_500, zone, false).await.unwrap();
    assert!(!generated, "an existing demo database is reused");
    assert_eq!(again, path);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );

    // Served read-only: reads work, writes are refused.
    let url = sqlite_url(&path);
    assert!(url.expose().ends_with("?mode=ro"));
    let pipeline = common::pipeline_for_file(&path);
    let snapshot = pipeline.snapshot().await.unwrap();
    assert!(!snapshot.by_agency_sector.is_empty());
    let source = Source::open(url.expose(), &ConnectOptions::default()).unwrap();
    assert!(
        source
            .execute_script("CREATE TABLE intruder (x INTEGER)")
            .await
            .is_err()
    );
    source.close().await;
}
