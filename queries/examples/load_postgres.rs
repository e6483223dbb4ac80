//! Loads the demo province into a PostgreSQL database with COPY, fast
//! enough for tens of millions of dossiers (the scale benchmark,
//! `bench/scale/`).
//!
//! ```sh
//! cargo run --release -p motcua-queries --example load_postgres -- \
//!     --url postgres://postgres@127.0.0.1:5432/motcua_scale_10m --dossiers 10000000 [--fresh]
//! ```
//!
//! The database is created when missing. A database this loader filled
//! completely is marked with a comment naming the config and a hash of the
//! reference schema (`COMMENT ON DATABASE`); when it already holds the
//! requested config the load is skipped, and `--fresh` drops and recreates it whatever it holds. A
//! database holding anything else is refused unless `--fresh`. The demo's
//! activity ends yesterday (Asia/Ho_Chi_Minh, +07:00), as for `--demo`, so
//! nothing lies in the future. After the load: `VACUUM (ANALYZE)`, so the
//! planner has statistics and the first reader does not pay for hint bits.
//!
//! Options: `--seed N` (default 2021), `--years N` (default 3), `--end
//! YYYY-MM-DD` (default yesterday), `--no-progress`.

use std::str::FromStr;
use std::time::Instant;

use chrono::NaiveDate;
use motcua_queries::Dialect;
use motcua_queries::demo::{DemoConfig, copy_demo_into_postgres};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor};

type Error = Box<dyn std::error::Error>;

struct Args {
    url: String,
    dossiers: usize,
    fresh: bool,
    seed: u64,
    years: u32,
    end: Option<NaiveDate>,
    progress: bool,
}

const USAGE: &str = "usage: load_postgres --url postgres://USER@HOST:PORT/DB --dossiers N \
                     [--fresh] [--seed N] [--years N] [--end YYYY-MM-DD] [--no-progress]";

fn parse_args() -> Result<Args, Error> {
    let mut args = Args {
        url: String::new(),
        dossiers: 300_000,
        fresh: false,
        seed: 2021,
        years: 3,
        end: None,
        progress: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value("--url")?,
            "--dossiers" => args.dossiers = value("--dossiers")?.replace('_', "").parse()?,
            "--fresh" => args.fresh = true,
            "--seed" => args.seed = value("--seed")?.parse()?,
            "--years" => args.years = value("--years")?.parse()?,
            "--end" => args.end = Some(value("--end")?.parse()?),
            "--no-progress" => args.progress = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    if args.url.is_empty() {
        return Err(format!("--url is required\n{USAGE}").into());
    }
    Ok(args)
}

/// FNV-1a, 64 bits: a stable fingerprint of the schema text.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("load_postgres: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let args = parse_args()?;
    let options = PgConnectOptions::from_str(&args.url)?.application_name("motcua-load");
    let db = options
        .get_database()
        .ok_or("the URL names no database")?
        .to_owned();
    if db.is_empty()
        || !db
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!("database name {db:?}: use lowercase letters, digits and _").into());
    }
    let zone = chrono::FixedOffset::east_opt(7 * 3600).expect("+07:00");
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let mut config = DemoConfig::new(
        args.end
            .unwrap_or_else(|| today.pred_opt().unwrap_or(today)),
    );
    config.seed = args.seed;
    config.dossiers = args.dossiers;
    config.years = args.years;
    // What the database comment records; the end date is left out, so a
    // database loaded yesterday still counts as holding this size. The
    // schema's hash is in: a changed reference schema (a new index) reloads.
    let marker = format!(
        "motcua demo: seed={} dossiers={} years={} schema={:016x}",
        config.seed,
        config.dossiers,
        config.years,
        fnv1a(Dialect::Postgres.schema_sql())
    );

    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone().database("postgres"))
        .await
        .map_err(|e| format!("connecting to the server of {db}: {e}"))?;
    let comment: Option<Option<String>> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(&db)
    .fetch_optional(&admin)
    .await?;
    let quoted = format!("\"{db}\"");
    match (&comment, args.fresh) {
        (Some(Some(c)), false) if c.starts_with(&marker) => {
            println!("{db} already holds {c}; nothing to do (--fresh reloads it)");
            return Ok(());
        }
        (Some(c), false) if !c.as_deref().unwrap_or("").starts_with("motcua demo") => {
            // Refuse to drop a database this loader did not make, unless it is empty.
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let tables: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_one(&pool)
                    .await?;
            pool.close().await;
            if tables > 0 {
                return Err(format!(
                    "{db} exists, holds {tables} tables and was not filled by this loader: \
                     pass --fresh to drop and reload it"
                )
                .into());
            }
            admin
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE {quoted} WITH (FORCE)"
                )))
                .await?;
        }
        (Some(c), _) => {
            println!(
                "dropping {db} ({}) to reload it",
                c.as_deref().unwrap_or("no comment")
            );
            admin
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE {quoted} WITH (FORCE)"
                )))
                .await?;
        }
        (None, _) => {}
    }
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .await?;

    let started = Instant::now();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await?;
    println!(
        "loading {} dossiers ({} years to {}, seed {}) into {db} with COPY",
        config.dossiers, config.years, config.end, config.seed
    );
    let summary = copy_demo_into_postgres(&pool, &config, args.progress).await?;
    let loaded = started.elapsed();
    pool.execute("VACUUM (ANALYZE)").await?;
    let analyzed = started.elapsed();
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    let note = format!("{marker} end={} loaded={today}", config.end);
    admin
        .execute(AssertSqlSafe(format!(
            "COMMENT ON DATABASE {quoted} IS '{}'",
            note.replace('\'', "''")
        )))
        .await?;
    admin.close().await;

    println!("rows:");
    for (table, n) in [
        ("agencies", summary.agencies),
        ("sectors", summary.sectors),
        ("procedures", summary.procedures),
        ("dossiers", summary.dossiers),
        ("supplements", summary.supplements),
        ("apologies", summary.apologies),
        ("evaluations", summary.evaluations),
    ] {
        println!("  {table:<12} {n:>12}");
    }
    println!(
        "seconds: load (schema, COPY, indexes) {:.1}, VACUUM (ANALYZE) {:.1}, total {:.1}",
        loaded.as_secs_f64(),
        (analyzed - loaded).as_secs_f64(),
        analyzed.as_secs_f64()
    );
    println!("database size: {} MB", size / 1_000_000);
    Ok(())
}
