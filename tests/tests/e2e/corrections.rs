//! Source corrections and restarts never reset a counter (DESIGN §10).
//!
//! Two exporters read one reference-schema database that receives a steady
//! stream of resolutions, and a real Prometheus scrapes both with the
//! project's rules. One exporter runs as shipped; the other without counter
//! offsets (the test-only switch), its `agency` label prefixed `raw-` so the
//! rules judge it apart. Then come the corrections one-stop staff make — a
//! dossier moved to the right agency, a test dossier deleted, a status set
//! back, a finished_at fixed — and a restart of both exporters. As shipped:
//! no counter resets, no on-time SLO alert. Without offsets: resets, and
//! the burn-rate alerts go pending on the same data.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use motcua_queries::Source;
use motcua_testkit::{Process, Scratch, free_port};

use crate::live::{
    exporter_binary, http_get, instant_query, prometheus_installed, repo_root, start_prometheus,
    wait_exporter_up, wait_until,
};
use crate::support::{Engine, demo_db};

/// The instant stamped on stream rows, in the calendar's zone (UTC+7),
/// a minute in the past so no refresh sees it as the future.
fn local_now() -> NaiveDateTime {
    (Utc::now() + chrono::Duration::hours(7) - chrono::Duration::minutes(1)).naive_utc()
}

fn literal(t: NaiveDateTime) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"))
}

struct Scenario {
    rt: tokio::runtime::Runtime,
    writer: Source,
    /// The agency the stream and the corrections are about.
    agency: String,
    procedure: String,
    streamed: usize,
}

impl Scenario {
    fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.writer.execute_script(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.writer {
            Source::Sqlite(p) => self
                .rt
                .block_on(sqlx::query_scalar(sql).fetch_all(p))
                .unwrap_or_else(|e| panic!("{e}")),
            other => panic!("this test writes SQLite, not {other:?}"),
        }
    }

    /// Half a second of the steady stream: one dossier of the agency
    /// resolved early (received an hour ago, due in a week).
    fn tick(&mut self) {
        let now = local_now();
        self.streamed += 1;
        self.exec(&format!(
            "INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at, \
             due_at, finished_at, returned_at, updated_at) VALUES ('STREAM-{n}', '{p}', '{a}', 1, 10, \
             {received}, {due}, {now}, {now}, {now})",
            n = self.streamed,
            p = self.procedure,
            a = self.agency,
            received = literal(now - chrono::Duration::hours(1)),
            due = literal(now + chrono::Duration::days(7)),
            now = literal(now),
        ));
        std::thread::sleep(Duration::from_millis(500));
    }

    fn stream_for(&mut self, ticks: usize) {
        for _ in 0..ticks {
            self.tick();
        }
    }
}

/// The exporter on `port`, to start with [`Process::spawn`] (which keeps
/// the test's own MOTCUA_* variables from it); `raw`: without counter offsets.
fn exporter(bin: &Path, db: &str, port: u16, data_dir: &Path, raw: bool) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("MOTCUA_DATABASE_URL", format!("{db}?mode=ro"))
        .env("MOTCUA_DATA_DIR", data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // Every refresh reads everything, so a deletion shows at once.
        .args(["--refresh-interval", "1s", "--full-resync-interval", "0s"]);
    if raw {
        cmd.env(motcua_exporter::app::NO_COUNTER_OFFSETS_ENV, "1");
    }
    cmd
}

/// What a running process logged so far.
fn log_of(process: &mut Process) -> String {
    process.drain(Duration::from_millis(200));
    process.log_text()
}

/// Counter and histogram series names of a /metrics body.
fn cumulative_names(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in body.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#") || words.next() != Some("TYPE") {
            continue;
        }
        match (words.next(), words.next()) {
            (Some(name), Some("counter")) => names.push(name.to_owned()),
            (Some(name), Some("histogram")) => {
                names.extend(["_bucket", "_count", "_sum"].map(|s| format!("{name}{s}")))
            }
            _ => {}
        }
    }
    names
}

/// The value of a query that yields one sample (0 when it yields none).
fn scalar(port: u16, expr: &str) -> f64 {
    let result = instant_query(port, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    result
        .first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn gauge_lines(body: &str, metric: &str) -> Vec<String> {
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .map(str::to_owned)
        .collect()
}

fn rule_files() -> Vec<String> {
    let dir = repo_root().join("grafana/prometheus/rules");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::to_string(&p.to_string_lossy()).unwrap())
        .collect()
}

#[test]
fn corrections_and_a_restart_never_reset_a_counter_nor_page() {
    if !prometheus_installed() {
        return;
    }
    let bin = exporter_binary();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(demo_db(Engine::Sqlite)) else {
        return;
    };
    let scratch = Scratch::new("motcua-corrections");
    let dir = scratch.path();

    // The writer's pool belongs to this runtime.
    let writer = {
        let _runtime = rt.enter();
        db.writer()
    };
    let mut s = Scenario {
        rt,
        writer,
        agency: String::new(),
        procedure: String::new(),
        streamed: 0,
    };
    // The agencies with the most late results: corrections there would
    // swing the late ratio most.
    let agencies = s.strings(
        "SELECT agency_code FROM dossiers WHERE status = 10 AND finished_at > due_at \
         GROUP BY agency_code ORDER BY COUNT(*) DESC, agency_code",
    );
    assert!(agencies.len() >= 2, "{agencies:?}");
    let (agency, other) = (agencies[0].clone(), agencies[1].clone());
    let late = s.strings(&format!(
        "SELECT code FROM dossiers WHERE agency_code = '{agency}' AND status = 10 \
         AND finished_at > due_at ORDER BY code LIMIT 4"
    ));
    assert_eq!(late.len(), 4, "{late:?}");
    s.procedure = s.strings(&format!(
        "SELECT procedure_code FROM dossiers WHERE agency_code = '{agency}' ORDER BY code LIMIT 1"
    ))[0]
        .clone();
    s.agency = agency.clone();

    let (port, raw_port, prom_port) = (free_port(), free_port(), free_port());
    let start = |port: u16, raw: bool| {
        let name = if raw { "raw" } else { "offsets" };
        Process::spawn(
            if raw {
                "motcua-exporter (raw)"
            } else {
                "motcua-exporter"
            },
            exporter(&bin, &db.url, port, &dir.join(format!("{name}-data")), raw),
        )
    };
    let mut shipped = start(port, false);
    let mut raw = start(raw_port, true);
    wait_exporter_up(&mut shipped, port, 60);
    wait_exporter_up(&mut raw, raw_port, 60);

    let mut prometheus = start_prometheus(
        dir,
        prom_port,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{rules}]\n\
             scrape_configs:\n\
             \x20 - job_name: motcua\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n\
             \x20 - job_name: raw\n    static_configs: [{{targets: [\"127.0.0.1:{raw_port}\"]}}]\n\
             \x20   metric_relabel_configs:\n\
             \x20     - {{source_labels: [agency], regex: '(.+)', target_label: agency, replacement: 'raw-$1'}}\n",
            rules = rule_files().join(", ")
        ),
    );
    wait_until("both exporters scraped", 60, || {
        prometheus.assert_alive();
        let up = instant_query(prom_port, "sum(up)")?
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if up == 2.0 {
            Ok(())
        } else {
            Err(format!("{up} targets up"))
        }
    });

    // A steady stream first, enough for the SLO rules' minimum volume.
    s.stream_for(14);
    // Moved to the right agency.
    let t = literal(local_now());
    s.exec(&format!(
        "UPDATE dossiers SET agency_code = '{other}', updated_at = {t} WHERE code = '{}'",
        late[0]
    ));
    s.stream_for(4);
    // A test dossier deleted.
    s.exec(&format!("DELETE FROM dossiers WHERE code = '{}'", late[1]));
    s.stream_for(4);
    // A status set back: not resolved after all.
    s.exec(&format!(
        "UPDATE dossiers SET status = 4, finished_at = NULL, returned_at = NULL, updated_at = {t} \
         WHERE code = '{}'",
        late[2]
    ));
    s.stream_for(4);
    // A finished_at fixed: it was on time.
    s.exec(&format!(
        "UPDATE dossiers SET finished_at = datetime(due_at, '-1 hour'), updated_at = {t} \
         WHERE code = '{}'",
        late[3]
    ));
    s.stream_for(4);
    // Both exporters killed and started again on the same data_dir.
    let mut shipped_logs = vec![log_of(&mut shipped)];
    drop(shipped);
    drop(raw);
    let mut shipped = start(port, false);
    let mut raw = start(raw_port, true);
    wait_exporter_up(&mut shipped, port, 60);
    wait_exporter_up(&mut raw, raw_port, 60);
    s.stream_for(6);

    // Without offsets the same sequence pages: wait for the burn-rate
    // alerts of the raw agency (pending is enough: `for:` is minutes).
    let raw_alerts = format!(r#"ALERTS{{alertname=~"MotcuaOnTimeSLO.*",agency="raw-{agency}"}}"#);
    wait_until("the raw exporter's SLO alerts", 60, || {
        prometheus.assert_alive();
        match instant_query(prom_port, &raw_alerts)?.len() {
            0 => Err("no alert yet".into()),
            _ => Ok(()),
        }
    });
    // One more evaluation for the shipped exporter's rules on the same data,
    // then the stream stops so both exporters show the same source.
    s.stream_for(4);
    std::thread::sleep(Duration::from_millis(2500));

    let (_, body) = http_get(port, "/metrics").unwrap();
    let (_, raw_body) = http_get(raw_port, "/metrics").unwrap();
    let mut resets = Vec::new();
    let mut raw_resets = 0.0;
    // The exporter's counts of its own work start again with the process,
    // as every exporter's do; the counters recomputed from the source must not.
    let own_work = motcua_exporter::metrics::PROCESS_COUNTERS;
    for name in cumulative_names(&body)
        .into_iter()
        .filter(|n| !own_work.contains(&n.as_str()))
    {
        let n = scalar(
            prom_port,
            &format!(r#"sum(resets({name}{{job="motcua"}}[15m]))"#),
        );
        if n > 0.0 {
            resets.push(format!("{name}: {n}"));
        }
        raw_resets += scalar(
            prom_port,
            &format!(r#"sum(resets({name}{{job="raw"}}[15m]))"#),
        );
    }
    let alerts = instant_query(
        prom_port,
        r#"ALERTS{alertname=~"MotcuaOnTimeSLO.*",agency!~"raw-.*"}"#,
    )
    .unwrap();
    let raw_fired: Vec<String> = instant_query(prom_port, &raw_alerts)
        .unwrap()
        .iter()
        .map(|a| format!("{}={}", a["metric"]["alertname"], a["metric"]["alertstate"]))
        .collect();
    let increase = |job: &str, prefix: &str| {
        scalar(
            prom_port,
            &format!(
                r#"sum(increase(motcua_dossiers_resolved_total{{job="{job}",agency="{prefix}{agency}"}}[15m]))"#
            ),
        )
    };
    let (shipped_increase, raw_increase) = (increase("motcua", ""), increase("raw", "raw-"));
    let corrections = scalar(
        prom_port,
        r#"sum(motcua_counter_corrections_total{job="motcua"})"#,
    );
    eprintln!(
        "streamed {} resolutions; with offsets: resets 0 ({resets:?}), SLO alerts {}, \
         increase(resolved[15m]) {shipped_increase:.1}, corrections absorbed {corrections}; \
         without: resets {raw_resets}, alerts {raw_fired:?}, increase {raw_increase:.1}",
        s.streamed,
        alerts.len(),
    );

    // What each correction did, as the shipped exporter logged it.
    shipped_logs.push(log_of(&mut shipped));
    for (n, log) in (1..).zip(&shipped_logs) {
        for line in log.lines().filter(|l| l.contains("counters fell")) {
            eprintln!("exporter run {n}: {line}");
        }
    }
    assert!(resets.is_empty(), "counters reset with offsets: {resets:?}");
    assert!(alerts.is_empty(), "SLO alerts with offsets: {alerts:?}");
    assert!(
        raw_resets > 0.0,
        "without offsets nothing reset: the test proves nothing"
    );
    assert!(corrections >= 4.0, "corrections counted: {corrections}");
    // The stream is all that was resolved in the window, give or take
    // Prometheus's extrapolation at the window's edges.
    assert!(
        shipped_increase <= s.streamed as f64 * 1.25,
        "{shipped_increase} > {} streamed",
        s.streamed
    );
    // Without offsets each reset adds the whole value of its series.
    assert!(
        raw_increase > shipped_increase + 10.0,
        "without offsets: {raw_increase}, with: {shipped_increase}"
    );
    // Gauges show the source as it is: the same with and without offsets.
    for gauge in ["motcua_dossiers_pending", "motcua_report_dossiers"] {
        assert_eq!(
            gauge_lines(&body, gauge),
            gauge_lines(&raw_body, gauge),
            "{gauge}"
        );
    }
    prometheus.assert_alive();
    drop((shipped, raw, prometheus));
    s.rt.block_on(s.writer.close());
    s.rt.block_on(db.drop_db());
}
