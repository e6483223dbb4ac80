//! The real binary: startup errors exit non-zero with a clear message;
//! a running exporter serves, reloads on SIGHUP and stops on SIGTERM.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Running, exporter, scratch, shared_demo};

/// Runs the exporter to its end, which must be a failure; all its output.
fn run(command: Command) -> String {
    let (status, log) = Running::run(command);
    assert!(
        status.is_some_and(|s| !s.success()),
        "expected a failure: {status:?}\n{log}"
    );
    log
}

#[test]
fn unknown_key_exits_non_zero_naming_file_line_key() {
    let dir = scratch("bin-unknown");
    let config = dir.join("exporter.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_intrval = \"5s\"\n",
    )
    .unwrap();
    let mut command = exporter();
    command
        .arg("--config")
        .arg(&config)
        .arg("--database-url")
        .arg("sqlite:x");
    let err = run(command);
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(
        err.contains("line 2") && err.contains("`refresh_intrval`"),
        "{err}"
    );
}

#[test]
fn database_url_in_config_file_is_refused() {
    let dir = scratch("bin-url");
    let config = dir.join("exporter.toml");
    std::fs::write(&config, "database_url = \"postgres://u:pw123@h/db\"\n").unwrap();
    let mut command = exporter();
    command.arg("--config").arg(&config);
    let err = run(command);
    assert!(err.contains("database_url_file"), "{err}");
    assert!(!err.contains("pw123"), "{err}");
}

#[test]
fn missing_url_is_a_clear_error() {
    let err = run(exporter());
    assert!(
        err.contains("no database URL") && err.contains("MOTCUA_DATABASE_URL"),
        "{err}"
    );
}

#[test]
fn bad_flag_value_is_refused() {
    let mut command = exporter();
    command.args([
        "--refresh-interval",
        "whenever",
        "--database-url",
        "sqlite:x",
    ]);
    let err = run(command);
    assert!(
        err.contains("--refresh-interval") && err.contains("invalid duration"),
        "{err}"
    );
}

#[test]
fn sql_without_a_canonical_column_stops_startup() {
    let dir = scratch("bin-sql");
    let queries = dir.join("sql");
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::write(
        queries.join("dossiers.sql"),
        "SELECT code, procedure_code, agency_code, channel, status, received_at, due_at,\n\
         finished_at, returned_at, digitized, e_result, paid_online FROM dossiers\n",
    )
    .unwrap();
    let mut command = exporter();
    command
        .env(
            "MOTCUA_DATABASE_URL",
            format!("sqlite:{}?mode=ro", shared_demo().display()),
        )
        .arg("--queries-dir")
        .arg(&queries)
        .args(["--listen", "127.0.0.1:0"]);
    let err = run(command);
    assert!(err.contains("dossiers.sql"), "{err}");
    assert!(err.contains("updated_at"), "{err}");
}

/// The exporter with `config`, reading `db`.
fn start(config: &Path, db: &Path) -> Running {
    let mut command = exporter();
    command.arg("--config").arg(config).env(
        "MOTCUA_DATABASE_URL",
        format!("sqlite:{}?mode=ro", db.display()),
    );
    Running::spawn(command)
}

/// Each thread of a process: its name and the contents of `file` in
/// `/proc/<pid>/task/<tid>/`.
fn per_thread(pid: u32, file: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let (Ok(name), Ok(contents)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join(file)),
        ) else {
            continue; // the thread ended meanwhile (an idle blocking thread)
        };
        out.push((name.trim().to_owned(), contents));
    }
    out
}

/// The threads of a process: name, (scheduling policy, nice value), from
/// `stat` fields 41 and 19.
fn thread_priorities(pid: u32) -> Vec<(String, (i32, i32))> {
    per_thread(pid, "stat")
        .into_iter()
        .map(|(name, stat)| {
            // The name in field 2 may hold spaces: count fields after its ')'.
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            let field = |n: usize| fields[n - 3].parse().unwrap();
            (name, (field(41), field(19)))
        })
        .collect()
}

/// The CPUs each thread of a process may run on, from the
/// `Cpus_allowed_list` line (`0-3,6`) of `status`.
fn thread_cpus(pid: u32) -> Vec<(String, Vec<usize>)> {
    per_thread(pid, "status")
        .into_iter()
        .map(|(name, status)| {
            let list = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .expect("Cpus_allowed_list in status")
                .trim();
            let mut cpus = Vec::new();
            for part in list.split(',') {
                let (first, last) = part.split_once('-').unwrap_or((part, part));
                cpus.extend(first.parse::<usize>().unwrap()..=last.parse().unwrap());
            }
            (name, cpus)
        })
        .collect()
}

fn http_get(addr: &str, path: &str) -> String {
    motcua_testkit::http_response(addr, path).unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"))
}

#[cfg(unix)]
#[test]
fn serves_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = scratch("bin-run");
    let config = dir.join("exporter.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_interval = \"1h\"\n",
    )
    .unwrap();
    let mut exporter = start(&config, shared_demo());

    let addr = exporter.addr();
    exporter.wait_line("refresh succeeded");

    // Refreshes run on their own thread at nice 10 (policy SCHED_OTHER, 0);
    // the HTTP workers at the normal priority.
    let threads = thread_priorities(exporter.pid());
    let refresh: Vec<_> = threads
        .iter()
        .filter(|(name, _)| name == "motcua-refresh")
        .collect();
    assert!(!refresh.is_empty(), "{threads:?}");
    assert!(refresh.iter().all(|(_, p)| *p == (0, 10)), "{threads:?}");
    assert!(
        threads
            .iter()
            .filter(|(name, _)| name != "motcua-refresh")
            .all(|(_, p)| *p == (0, 0)),
        "{threads:?}"
    );
    // They also stay off the first CPU the process may use, when it may
    // use two or more; every other thread may use them all.
    let cpus = thread_cpus(exporter.pid());
    let all = &cpus
        .iter()
        .find(|(name, _)| name == "motcua-exporter")
        .unwrap()
        .1;
    let expected_refresh = if all.len() >= 2 { &all[1..] } else { &all[..] };
    for (name, allowed) in &cpus {
        let expected = if name == "motcua-refresh" {
            expected_refresh
        } else {
            all
        };
        assert_eq!(allowed, expected, "{name}: {cpus:?}");
    }

    let response = http_get(&addr, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/plain; version=0.0.4; charset=utf-8"));
    assert!(response.contains("\nmotcua_up 1\n"), "{response}");
    assert!(response.contains("\nmotcua_config_last_reload_successful 1\n"));
    let health = http_get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200") && health.contains("last_refresh: succeeded"));

    // A broken config is refused; the old one keeps running.
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_interval = \"1h\"\nbogus = 1\n",
    )
    .unwrap();
    exporter.signal("HUP");
    let refused = exporter.wait_line("reload refused");
    assert!(
        refused.contains("bogus") && refused.contains("line 3"),
        "{refused}"
    );
    let response = http_get(&addr, "/metrics");
    assert!(
        response.contains("\nmotcua_config_last_reload_successful 0\n"),
        "{response}"
    );
    assert!(response.contains("\nmotcua_up 1\n"));

    // A good one is applied and refreshed at once.
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_interval = \"2h\"\n",
    )
    .unwrap();
    exporter.signal("HUP");
    exporter.wait_line("configuration reloaded");
    exporter.wait_line("refresh succeeded");
    let response = http_get(&addr, "/metrics");
    assert!(
        response.contains("\nmotcua_config_last_reload_successful 1\n"),
        "{response}"
    );

    exporter.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = exporter.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// The one-command demo, scraped over real HTTP: the body passes
/// `promtool check metrics` and carries every family of the design.
#[cfg(unix)]
#[test]
fn demo_scrape_passes_promtool_check_metrics() {
    let dir = scratch("bin-demo");
    let config = dir.join("exporter.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_interval = \"1h\"\ndata_dir = \"data\"\n",
    )
    .unwrap();
    let mut command = exporter();
    // The config file's data_dir, which the variable would override.
    command.env_remove("MOTCUA_DATA_DIR");
    command.arg("--demo").arg("--config").arg(&config);
    let mut exporter = Running::spawn(command);
    let addr = exporter.addr();
    exporter.wait_line("refresh succeeded");
    assert!(dir.join("data").join("demo.sqlite").is_file());

    let response = http_get(&addr, "/metrics");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for (family, kind) in motcua_exporter::metrics::FAMILIES {
        assert!(
            body.contains(&format!("# TYPE {family} {kind}\n")),
            "the demo body lacks {family}"
        );
    }
    assert!(body.contains("state=\"overdue\""));

    let index = http_get(&addr, "/");
    assert!(
        index.starts_with("HTTP/1.1 200") && index.contains("href=\"metrics\""),
        "{index}"
    );

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut promtool = match promtool {
        Ok(p) => p,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("promtool is required with CI=true: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: promtool is not available: {e}");
            return;
        }
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics: {report}");
    assert!(
        report.trim().is_empty(),
        "promtool found problems: {report}"
    );
}

/// Sum of the samples of `family` whose labels include `label`.
fn sum_of(body: &str, family: &str, label: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(label))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn body_of(addr: &str) -> String {
    let response = http_get(addr, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// DESIGN §10 with the real binary: a dossier moved to another agency makes
/// the first agency's recomputed counters fall; the exporter absorbs it,
/// counts it, saves the offsets and still applies them after a restart. A
/// corrupt state file is set aside and a data_dir that cannot be written
/// is logged: the exporter runs in both cases.
#[cfg(unix)]
#[test]
fn counter_offsets_absorb_a_correction_and_survive_restarts() {
    let dir = scratch("offsets");
    let db = dir.join("source.sqlite");
    std::fs::copy(shared_demo(), &db).unwrap();
    let data = dir.join("data");
    let config = dir.join("exporter.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_interval = \"1s\"\nfull_resync_interval = \"0s\"\n",
    )
    .unwrap();
    let start = |data_dir: &Path| {
        let mut command = exporter();
        command
            .arg("--config")
            .arg(&config)
            .env(
                "MOTCUA_DATABASE_URL",
                format!("sqlite:{}?mode=ro", db.display()),
            )
            .env("MOTCUA_DATA_DIR", data_dir);
        Running::spawn(command)
    };

    let mut exporter = start(&data);
    exporter.wait_line("no counter offsets file yet");
    let addr = exporter.addr();
    exporter.wait_line("refresh succeeded");
    let source = rusqlite::Connection::open(&db).unwrap();
    let (code, from): (String, String) = source
        .query_row(
            "SELECT code, agency_code FROM dossiers WHERE status IN (9, 10) ORDER BY code LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let to: String = source
        .query_row(
            "SELECT code FROM agencies WHERE code <> ?1 ORDER BY code LIMIT 1",
            [&from],
            |r| r.get(0),
        )
        .unwrap();
    let of_from = format!("agency=\"{from}\"");
    let received = "motcua_dossiers_received_total";
    let resolved = "motcua_dossiers_resolved_total";
    let before = body_of(&addr);
    let (received_before, resolved_before) = (
        sum_of(&before, received, &of_from),
        sum_of(&before, resolved, &of_from),
    );
    assert!(received_before >= 1.0 && resolved_before >= 1.0);

    source
        .execute(
            "UPDATE dossiers SET agency_code = ?1 WHERE code = ?2",
            [&to, &code],
        )
        .unwrap();
    let absorbed = exporter.wait_line("counters fell after a source correction");
    assert!(absorbed.contains(&format!("{received}=1")), "{absorbed}");
    let after = body_of(&addr);
    assert_eq!(sum_of(&after, received, &of_from), received_before);
    assert_eq!(sum_of(&after, resolved, &of_from), resolved_before);
    assert!(
        after.contains(&format!(
            "motcua_counter_corrections_total{{metric=\"{received}\"}} 1\n"
        )),
        "{after}"
    );
    // The gauges show the source as it is: the moved dossier is the new agency's.
    let state = data.join("counter-offsets.toml");
    exporter.wait_line("refresh succeeded");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("version = 1") && saved.contains(received),
        "{saved}"
    );
    exporter.signal("TERM");
    let _ = exporter.wait_exit(Duration::from_secs(60));

    // A restart: the offsets come back from the file.
    let mut exporter = start(&data);
    let read = exporter.wait_line("counter offsets read");
    assert!(read.contains("series="), "{read}");
    let addr = exporter.addr();
    exporter.wait_line("refresh succeeded");
    let restarted = body_of(&addr);
    assert_eq!(sum_of(&restarted, received, &of_from), received_before);
    assert!(restarted.contains(&format!(
        "motcua_counter_corrections_total{{metric=\"{received}\"}} 1\n"
    )));
    exporter.signal("TERM");
    let _ = exporter.wait_exit(Duration::from_secs(60));

    // A corrupt file is set aside; the exporter starts from zero.
    std::fs::write(&state, "version = 1\nseries = [[[\n").unwrap();
    let mut exporter = start(&data);
    let set_aside = exporter.wait_line("counter offsets file not usable");
    assert!(set_aside.contains(".bad-"), "{set_aside}");
    let addr = exporter.addr();
    exporter.wait_line("refresh succeeded");
    assert!(body_of(&addr).contains("\nmotcua_up 1\n"));
    let aside = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".bad-"))
        .count();
    assert_eq!(aside, 1);
    drop(exporter);

    // A data_dir that cannot be written (its parent is a file: tests run as
    // root, whom permissions do not stop): logged once, metrics still served.
    let blocked = dir.join("not-a-folder");
    std::fs::write(&blocked, "").unwrap();
    let mut exporter = start(&blocked.join("data"));
    let addr = exporter.addr();
    exporter.wait_line("refresh succeeded");
    exporter.wait_line("cannot write the counter offsets");
    assert!(body_of(&addr).contains("\nmotcua_up 1\n"));
}
