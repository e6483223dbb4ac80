#!/usr/bin/env python3
"""Measures one size of the scale benchmark (driven by bench/scale/run.sh).

Runs against a PostgreSQL database already loaded by
`queries/examples/load_postgres.rs` and the release binaries, in order:
the floor (floor.sql through psql), the motcua exporter (first full
refresh, incremental refresh after 1,000 changes, peak RSS), a second
exporter doing full refreshes back to back under 50 concurrent scrapers,
the exporter's COPY statements sent to a client that discards them, the
peer (query-exporter), and the dashboard (render bundle, one chart
over HTTP). Writes a markdown table and a JSON file of every figure.

Needs psycopg (installed in the benchmark's venv with query-exporter).
"""

import argparse
import datetime
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RELEASE = ROOT / "target" / "release"
EXPORTER = RELEASE / "motcua-exporter"
DASHBOARD = RELEASE / "motcua-dashboard"
SCRAPE_LOAD = RELEASE / "examples" / "scrape_load"
TICK = os.sysconf("SC_CLK_TCK")
ZONE = datetime.timezone(datetime.timedelta(hours=7))


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------
# Processes, /proc, /metrics


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a live process, in seconds (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


class Service:
    """A process we started; stopped by its own pid only."""

    def __init__(self, name, argv, env, logdir):
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self.log_file = open(self.log_path, "w")
        full_env = dict(os.environ)
        full_env.update(env)
        self.proc = subprocess.Popen(
            argv, env=full_env, stdout=self.log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def tail(self, n=15):
        try:
            return "".join(self.log_path.read_text().splitlines(True)[-n:])
        except OSError:
            return ""


def http_get(url, timeout=600):
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = r.read()
        status = r.status
    return status, body, time.perf_counter() - started


SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text, names):
    """{name: [(labels, value)]} for the metric names asked for."""
    out = {n: [] for n in names}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = SAMPLE_RE.match(line)
        if not m or m.group(1) not in out:
            continue
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        try:
            out[m.group(1)].append((labels, float(m.group(3))))
        except ValueError:
            pass
    return out


WATCHED = [
    "motcua_up",
    "motcua_refresh_duration_seconds",
    "motcua_refreshes_total",
    "motcua_last_refresh_success_timestamp_seconds",
    "motcua_refresh_failures_total",
    "motcua_dossiers_received_total",
    "motcua_dossiers_resolved_total",
    "motcua_dossiers_pending",
]


class Scrape:
    def __init__(self, addr):
        _, body, self.seconds = http_get(f"http://{addr}/metrics", timeout=60)
        self.m = parse_metrics(body.decode("utf-8", "replace"), WATCHED)

    def value(self, name, **labels):
        for ls, v in self.m.get(name, []):
            if all(ls.get(k) == w for k, w in labels.items()):
                return v
        return None

    def total(self, name, **labels):
        return sum(v for ls, v in self.m.get(name, [])
                   if all(ls.get(k) == w for k, w in labels.items()))

    def has_kinds(self):
        return bool(self.m.get("motcua_refreshes_total"))

    def refreshes(self, kind):
        """Refresh count of a kind, or the success timestamp as a stand-in."""
        return self.value("motcua_refreshes_total", kind=kind)


ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def refresh_log(svc):
    """[(kind or None, seconds)] of every refresh the service logged, and the
    number of failed refreshes (the log is the exporter's own record: no
    refresh is missed between two polls of /metrics)."""
    try:
        text = ANSI_RE.sub("", svc.log_path.read_text(errors="replace"))
    except OSError:
        return [], 0
    done = []
    for line in text.splitlines():
        if "refresh succeeded" in line:
            kind = re.search(r'kind="?(\w+)"?', line)
            secs = re.search(r"duration_s=([0-9.]+)", line)
            if secs:
                done.append((kind.group(1) if kind else None, float(secs.group(1))))
    return done, text.count("refresh failed")


def wait_refreshes(svc, kind, count, after, deadline_s):
    """Waits until `count` refreshes of `kind` (any kind when the exporter
    logs none) were logged after the first `after` log entries; returns
    their durations."""
    deadline = time.monotonic() + deadline_s
    failures0 = refresh_log(svc)[1]
    while True:
        done, failures = refresh_log(svc)
        new = [d for k, d in done[after:] if k in (kind, None)]
        if len(new) >= count:
            return new[:count]
        if failures > failures0 + 2:
            raise RuntimeError(f"{svc.name}: refreshes are failing:\n{svc.tail()}")
        if not svc.alive():
            raise RuntimeError(f"{svc.name} exited:\n{svc.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{svc.name}: {count} {kind} refreshes not logged within "
                               f"{deadline_s} s:\n{svc.tail()}")
        time.sleep(0.1)


def wait_up(svc, addr, deadline_s):
    """Polls /metrics until motcua_up 1; returns that scrape."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not svc.alive():
            raise RuntimeError(f"{svc.name} exited:\n{svc.tail()}")
        try:
            s = Scrape(addr)
            if s.value("motcua_up") == 1.0:
                return s
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{svc.name}: no motcua_up 1 within {deadline_s} s:\n{svc.tail()}")


class PgCpu:
    """CPU seconds of the PostgreSQL backends of one application_name,
    sampled from /proc while a measurement runs (backends live in the
    client's pool; one that exits between samples loses its last share)."""

    def __init__(self, conninfo, app):
        self.conninfo, self.app = conninfo, app
        self.first, self.last = {}, {}
        # The COPY statements seen running, in the order first seen.
        self.copies = []
        self.stop_event = threading.Event()
        self.thread = None

    def sample(self, conn):
        rows = conn.execute(
            "SELECT pid, query FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (self.app,),
        ).fetchall()
        for pid, query in rows:
            if query.startswith("COPY") and query not in self.copies:
                self.copies.append(query)
            c = cpu_seconds(pid)
            if c is None:
                continue
            # A backend first seen now may have started during the window.
            self.first.setdefault(pid, c if not self.thread_started else 0.0)
            self.last[pid] = c

    def start(self):
        self.thread_started = False
        self.conn = psycopg.connect(self.conninfo, autocommit=True)
        self.sample(self.conn)
        self.thread_started = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_event.wait(0.25):
            try:
                self.sample(self.conn)
            except Exception:  # noqa: BLE001 - a sampler must not die
                pass

    def seconds(self):
        return sum(self.last[p] - self.first.get(p, 0.0) for p in self.last)

    def stop(self):
        self.stop_event.set()
        if self.thread:
            self.thread.join()
        try:
            self.sample(self.conn)
        except Exception:  # noqa: BLE001
            pass
        self.conn.close()
        return self.seconds()


# ---------------------------------------------------------------------------
# The measurements


def discarding_client(url, statements, runs):
    """Median over `runs` of the time PostgreSQL takes to send what a full
    refresh reads (the exporter's own COPY statements, caught in
    pg_stat_activity) to psql, which writes it to /dev/null: the read's
    cost outside motcua, over the same kind of connection (psql's own work
    per row included, so a reader can beat it)."""
    if not statements:
        raise RuntimeError("no COPY statement of the exporter was seen in pg_stat_activity")
    for sql in statements:
        # pg_stat_activity keeps track_activity_query_size bytes of a query.
        if not sql.rstrip().endswith("(FORMAT binary)"):
            raise RuntimeError(f"a COPY statement was cut short in pg_stat_activity: {sql!r}")
    totals, client_cpu = [], []
    for i in range(runs + 1):
        t0 = time.monotonic()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        for sql in statements:
            with open(os.devnull, "wb") as null:
                subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
                                "-c", sql], check=True, stdout=null)
        seconds = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        psql_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        if i == 0:
            log(f"discarding client: warm-up {seconds:.2f} s")
            continue
        totals.append(seconds)
        client_cpu.append(psql_cpu)
        log(f"discarding client: run {i} {seconds:.2f} s, psql CPU {psql_cpu:.2f} s")
    return {"statements": statements, "runs_s": totals, "psql_cpu_s": client_cpu,
            "median_s": statistics.median(totals)}


def floor(url, runs):
    """Median over `runs` of the summed statement times of floor.sql (psql \\timing)."""
    totals = []
    for i in range(runs + 1):
        out = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", "\\timing on",
             "-f", str(HERE / "floor.sql"), "-o", "/dev/null"],
            check=True, capture_output=True, text=True,
        ).stdout
        ms = sum(float(x) for x in re.findall(r"^Time: ([0-9.]+) ms", out, re.M))
        if i == 0:
            log(f"floor: warm-up {ms / 1e3:.2f} s")
            continue
        totals.append(ms / 1e3)
        log(f"floor: run {i} {ms / 1e3:.2f} s")
    return {"runs_s": totals, "median_s": statistics.median(totals)}


CHANGES_SQL = """
CREATE TEMP TABLE bench_now ON COMMIT DROP AS
    SELECT timezone('Asia/Ho_Chi_Minh', now())::timestamp(0) AS t;
-- 500 pending dossiers (not paused) finish and are returned today.
CREATE TEMP TABLE bench_finish ON COMMIT DROP AS
    SELECT d.code FROM dossiers d
    WHERE d.status IN (2, 4) AND d.received_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM supplements s
                      WHERE s.dossier_code = d.code AND s.resumed_at IS NULL)
    ORDER BY d.code DESC LIMIT 500;
-- 100 other processing dossiers get a supplement request.
CREATE TEMP TABLE bench_open ON COMMIT DROP AS
    SELECT d.code FROM dossiers d
    WHERE d.status = 4 AND d.received_at IS NOT NULL
      AND d.code NOT IN (SELECT code FROM bench_finish)
      AND NOT EXISTS (SELECT 1 FROM supplements s
                      WHERE s.dossier_code = d.code AND s.resumed_at IS NULL)
    ORDER BY d.code DESC LIMIT 100;
-- 100 paused dossiers get their supplement back.
CREATE TEMP TABLE bench_close ON COMMIT DROP AS
    SELECT d.code FROM dossiers d
    WHERE d.status = 5
      AND EXISTS (SELECT 1 FROM supplements s
                  WHERE s.dossier_code = d.code AND s.resumed_at IS NULL)
    ORDER BY d.code DESC LIMIT 100;

UPDATE dossiers d SET status = 10, finished_at = n.t, returned_at = n.t, updated_at = n.t
    FROM bench_now n WHERE d.code IN (SELECT code FROM bench_finish);
INSERT INTO supplements (dossier_code, requested_at, resumed_at)
    SELECT o.code, n.t, NULL FROM bench_open o CROSS JOIN bench_now n;
UPDATE dossiers d SET status = 5, updated_at = n.t
    FROM bench_now n WHERE d.code IN (SELECT code FROM bench_open);
UPDATE supplements s SET resumed_at = n.t
    FROM bench_now n
    WHERE s.resumed_at IS NULL AND s.dossier_code IN (SELECT code FROM bench_close);
UPDATE dossiers d SET status = 4, updated_at = n.t
    FROM bench_now n WHERE d.code IN (SELECT code FROM bench_close);
-- 300 new dossiers received now (like recent ones: same procedure, agency, channel).
INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at,
                      due_at, finished_at, returned_at, digitized, e_result, paid_online,
                      updated_at)
    SELECT 'DBI-BENCH' || to_char(n.t, 'YYYYMMDDHH24MISS') || '-'
               || lpad(row_number() OVER ()::text, 6, '0'),
           src.procedure_code, src.agency_code, src.channel, 2, n.t,
           n.t + interval '7 days', NULL, NULL, src.channel = 2, FALSE, FALSE, n.t
    FROM (SELECT procedure_code, agency_code, channel FROM dossiers
          WHERE status = 10 AND code LIKE 'DBI-2%' ORDER BY code DESC LIMIT 300) src
    CROSS JOIN bench_now n;
"""


def apply_changes(url):
    """The 1,000 changes, in one transaction; returns what each part touched."""
    with psycopg.connect(url) as conn:
        counts = {}
        with conn.transaction():
            for statement in [s for s in CHANGES_SQL.split(";\n") if s.strip()]:
                cur = conn.execute(statement)
                head = statement.strip().splitlines()
                head = [ln for ln in head if not ln.startswith("--")][0]
                counts[head[:60]] = cur.rowcount
        return counts


def exporter_args(addr, interval, extra, cfg):
    return [str(EXPORTER), "--listen", addr, "--refresh-interval", interval,
            "--config", str(cfg)] + extra


def measure_exporter(url, logdir, tmp, resync_flag):
    cfg = tmp / "exporter.toml"
    # A full read of 10 million rows must not hit the default 60 s statement limit.
    cfg.write_text('query_timeout = "30m"\n')
    env = {"MOTCUA_DATABASE_URL": url, "RUST_LOG": "info"}
    res = {}

    # A: the production setup, 5 s refreshes (first full, then incremental).
    addr = f"127.0.0.1:{free_port()}"
    pg = PgCpu(url, "motcua").start()
    svc = Service("exporter-a", exporter_args(addr, "5s", [], cfg), env, logdir)
    try:
        t0 = time.monotonic()
        [first] = wait_refreshes(svc, "full", 1, 0, 3600)
        res["first_refresh_wall_s"] = time.monotonic() - t0
        res["full_cpu_exporter_s"] = cpu_seconds(svc.pid)
        res["full_cpu_pg_s"] = pg.stop()
        up = wait_up(svc, addr, 600)
        res["full_refresh_s"] = first
        res["kinds_exposed"] = up.has_kinds()
        log(f"exporter A: first (full) refresh {first:.2f} s, CPU exporter "
            f"{res['full_cpu_exporter_s']:.1f} s + PostgreSQL {res['full_cpu_pg_s']:.1f} s "
            f"(from the start); refreshes_total{{kind}} exposed: {res['kinds_exposed']}")
        # One refresh more, then change the source.
        res["incremental_before_changes_s"] = wait_refreshes(
            svc, "incremental", 1, len(refresh_log(svc)[0]), 3600)
        before = Scrape(addr)
        received0 = before.total("motcua_dossiers_received_total")
        resolved0 = before.total("motcua_dossiers_resolved_total")
        res["rss_before_changes_kb"] = status_kb(svc.pid, "VmRSS")
        cpu0 = cpu_seconds(svc.pid)
        pg = PgCpu(url, "motcua").start()
        t_commit = time.monotonic()
        res["changes"] = apply_changes(url)
        # Counted from the commit: a refresh already running then may miss
        # the change, so two are waited for.
        logged = len(refresh_log(svc)[0])
        log(f"changes committed in {time.monotonic() - t_commit:.2f} s: "
            f"{sum(v for k, v in res['changes'].items() if not k.startswith('CREATE'))} rows")
        durations = wait_refreshes(svc, "incremental", 2, logged, 3600)
        res["incremental_wall_to_seen_s"] = time.monotonic() - t_commit
        res["incremental_s"] = durations
        res["incremental_cpu_exporter_s"] = (cpu_seconds(svc.pid) - cpu0) / 2
        res["incremental_cpu_pg_s"] = pg.stop() / 2
        time.sleep(0.5)
        after = Scrape(addr)
        res["received_delta"] = after.total("motcua_dossiers_received_total") - received0
        res["resolved_delta"] = after.total("motcua_dossiers_resolved_total") - resolved0
        log(f"exporter A: refreshes after the change {durations} s; received "
            f"{res['received_delta']:+.0f}, resolved {res['resolved_delta']:+.0f}")
        res["vmhwm_kb"] = status_kb(svc.pid, "VmHWM")
        res["vmrss_kb"] = status_kb(svc.pid, "VmRSS")
        res["cpu_total_exporter_s"] = cpu_seconds(svc.pid)
        log(f"exporter A: VmHWM {res['vmhwm_kb'] / 1024:.0f} MB, VmRSS "
            f"{res['vmrss_kb'] / 1024:.0f} MB")
        res["refreshes_a"] = refresh_log(svc)[0]
    finally:
        svc.stop()

    # B: full refreshes back to back, 50 concurrent keep-alive scrapers.
    addr = f"127.0.0.1:{free_port()}"
    extra = ["--full-resync-interval", "0s"] if resync_flag else []
    svc = Service("exporter-b", exporter_args(addr, "1s", extra, cfg), env, logdir)
    try:
        wait_refreshes(svc, "full", 1, 0, 3600)
        wait_up(svc, addr, 600)
        cpu0 = cpu_seconds(svc.pid)
        pg = PgCpu(url, "motcua").start()
        logged = len(refresh_log(svc)[0])
        t0 = time.monotonic()
        full = wait_refreshes(svc, "full", 3, logged, 3600)
        elapsed = time.monotonic() - t0
        res["full_backtoback_s"] = full
        res["full_backtoback_cpu_exporter_s"] = (cpu_seconds(svc.pid) - cpu0) / len(full)
        res["full_backtoback_cpu_pg_s"] = pg.stop() / len(full)
        res["copy_statements"] = pg.copies
        res["full_backtoback_wall_s"] = elapsed
        log(f"exporter B: full refreshes back to back {full} s")
        # Paced: 50 scrapers each once a second (the target's setting), for
        # at least 20 s and long enough that a full refresh ends inside the
        # window (publishing a snapshot is part of what a scrape may meet);
        # back to back: 50 clients as fast as answers come (throughput).
        paced_s = max(20, int(1.5 * statistics.median(full)) + 1)
        for key, seconds, interval in (("load", paced_s, 1000), ("load_b2b", 10, 0)):
            n0 = len(refresh_log(svc)[0])
            out = subprocess.run(
                [str(SCRAPE_LOAD), "--addr", addr, "--clients", "50", "--seconds",
                 str(seconds), "--interval-ms", str(interval)],
                check=True, capture_output=True, text=True,
            ).stdout
            res[key] = json.loads(out.strip().splitlines()[-1])
            res[key]["refreshes_finished_during"] = refresh_log(svc)[0][n0:]
            log(f"exporter B, 50 scrapers ({res[key]['mode']}): {res[key]}")
        res["vmhwm_b_kb"] = status_kb(svc.pid, "VmHWM")
        res["refreshes_b"] = refresh_log(svc)[0]
    finally:
        svc.stop()
    return res


def measure_peer(url, logdir, scrapes):
    qe = ROOT / "target" / "bench-venv" / "bin" / "query-exporter"
    port = free_port()
    sep = "&" if "?" in url else "?"
    dsn = url.replace("postgres://", "postgresql://", 1) + f"{sep}application_name=query-exporter"
    svc = Service("query-exporter",
                  [str(qe), "--config", str(HERE / "query-exporter.yaml"),
                   "-H", "127.0.0.1", "-p", str(port)],
                  {"MOTCUA_BENCH_DSN": dsn}, logdir)
    res = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or not svc.alive():
                    raise RuntimeError(f"query-exporter did not start:\n{svc.tail()}")
                time.sleep(0.2)
        status, body, warm = http_get(f"http://127.0.0.1:{port}/metrics", timeout=3600)
        log(f"peer: warm-up scrape {warm:.2f} s ({len(body)} bytes, HTTP {status})")
        errors = re.findall(rb'queries_total\{[^}]*status="(?:error|timeout|invalid-value)"[^}]*\}',
                            body)
        if errors:
            raise RuntimeError(f"query-exporter queries failed: {errors[:3]}\n{svc.tail()}")
        lat, cpu_qe, cpu_pg = [], [], []
        for _ in range(scrapes):
            pg = PgCpu(url, "query-exporter").start()
            c0 = cpu_seconds(svc.pid)
            _, body, seconds = http_get(f"http://127.0.0.1:{port}/metrics", timeout=3600)
            cpu_qe.append(cpu_seconds(svc.pid) - c0)
            cpu_pg.append(pg.stop())
            lat.append(seconds)
            log(f"peer: scrape {seconds:.2f} s, CPU query-exporter {cpu_qe[-1]:.2f} s + "
                f"PostgreSQL {cpu_pg[-1]:.2f} s")
        res.update(scrape_s=lat, cpu_qe_s=cpu_qe, cpu_pg_s=cpu_pg,
                   vmhwm_kb=status_kb(svc.pid, "VmHWM"), body_bytes=len(body),
                   series=sum(1 for ln in body.splitlines() if ln and not ln.startswith(b"#")))
    finally:
        svc.stop()
    return res


def measure_dashboard(url, logdir, tmp, year):
    cfg = tmp / "dashboard.toml"
    cfg.write_text('query_timeout = "30m"\n')
    env = dict(os.environ, MOTCUA_DATABASE_URL=url)
    res = {"period": str(year)}
    out_dir = tmp / f"bundle-{year}"
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    p = subprocess.run(
        timer + [str(DASHBOARD), "--config", str(cfg), "render", "--period", str(year),
                 "--out", str(out_dir)],
        env=env, capture_output=True, text=True,
    )
    res["render_wall_s"] = time.perf_counter() - started
    (logdir / "render.log").write_text(p.stdout + p.stderr)
    if p.returncode != 0:
        raise RuntimeError(f"render failed ({p.returncode}):\n{p.stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    res["render_maxrss_kb"] = int(m.group(1)) if m else None
    res["render_files"] = len(list(out_dir.iterdir()))
    log(f"dashboard render --period {year}: {res['render_wall_s']:.2f} s, max RSS "
        f"{(res['render_maxrss_kb'] or 0) / 1024:.0f} MB, {res['render_files']} files")

    port = free_port()
    started = time.monotonic()
    svc = Service("dashboard", [str(DASHBOARD), "--config", str(cfg), "serve", "--listen",
                                f"127.0.0.1:{port}"], {"MOTCUA_DATABASE_URL": url}, logdir)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 3600
        while True:
            try:
                # /readyz: 200 once the source is loaded (/healthz answers at once).
                if http_get(base + "/readyz", timeout=3600)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or not svc.alive():
                raise RuntimeError(f"dashboard did not start:\n{svc.tail()}")
            time.sleep(0.1)
        chart = (f"{base}/charts/on_time_trend.png?from={year}-01-01&to={year}-12-31"
                 "&width=1200&height=700")
        _, body, _ = http_get(chart, timeout=3600)
        # From the process start: the service loads the source before its
        # first chart can be drawn, so this is what a user waits after a restart.
        cold = time.monotonic() - started
        warm = [http_get(chart)[2] for _ in range(10)]
        report = [http_get(f"{base}/reports/{year}")[2] for _ in range(5)]
        res.update(chart_cold_s=cold, chart_warm_s=warm, chart_bytes=len(body),
                   report_html_s=report, serve_vmhwm_kb=status_kb(svc.pid, "VmHWM"))
        log(f"dashboard chart: first, from the process start {cold:.2f} s, warm median "
            f"{statistics.median(warm) * 1e3:.1f} ms; report HTML median "
            f"{statistics.median(report) * 1e3:.1f} ms")
    finally:
        svc.stop()
    return res


# ---------------------------------------------------------------------------
# The table


def fmt_s(x):
    if x is None:
        return "n/a"
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1e3:.0f} ms"


def fmt_mb(kb):
    return "n/a" if kb is None else f"{kb / 1024:.0f} MB"


def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}×"


def table(r):
    e, f, p, d = r["exporter"], r["floor"], r["peer"], r.get("dashboard")
    w = r.get("wire")
    med = statistics.median
    full = e["full_refresh_s"]
    b2b = med(e["full_backtoback_s"]) if e.get("full_backtoback_s") else None
    peer_scrape = med(p["scrape_s"])
    peer_cpu = med(p["cpu_qe_s"]) + med(p["cpu_pg_s"])
    inc = max(e["incremental_s"][:2]) if e.get("incremental_s") else None
    inc_label = ("incremental refresh after 1,000 changes (max of the 2 refreshes after "
                 "the commit)" if e["kinds_exposed"] else
                 "refresh after 1,000 changes (no `motcua_refreshes_total{kind}`: every "
                 "refresh is full, so no incremental figure: n/a)")
    load, b2b_load = e["load"], e["load_b2b"]
    rows = [
        ("| measure | motcua | floor (PostgreSQL GROUP BY) | peer (query-exporter) | "
         "ratio | target |"),
        "|---|---|---|---|---|---|",
        f"| full refresh: first, after start | {fmt_s(full)} | {fmt_s(f['median_s'])} | "
        f"{fmt_s(peer_scrape)} | {ratio(full, f['median_s'])} of floor, "
        f"{ratio(full, peer_scrape)} of peer | ≤ 1.5× floor |",
        f"| full refresh: median of 3 back to back | {fmt_s(b2b)} | {fmt_s(f['median_s'])} | "
        f"{fmt_s(peer_scrape)} | {ratio(b2b, f['median_s'])} of floor | ≤ 1.5× floor |",
        *([f"| not motcua: PostgreSQL sending the exporter's COPY reads to a client that "
            f"discards them (psql > /dev/null, {len(w['statements'])} statements), median of "
            f"{len(w['runs_s'])} (psql's CPU {statistics.median(w['psql_cpu_s']):.2f} s) | "
            f"{fmt_s(w['median_s'])} | {fmt_s(f['median_s'])} | — | "
            f"{ratio(w['median_s'], f['median_s'])} of floor; motcua back to back is "
            f"{ratio(b2b, w['median_s'])} of it | |"] if w else []),
        f"| {inc_label} | {fmt_s(inc) if e['kinds_exposed'] else 'n/a'} | — | "
        f"{fmt_s(peer_scrape)} (recomputes all) | "
        f"{ratio(inc, peer_scrape) if e['kinds_exposed'] else 'n/a'} of peer | < 1 s |",
        f"| changes visible after those refreshes (received / resolved) | "
        f"{e['received_delta']:+.0f} / {e['resolved_delta']:+.0f} (expected +300 / +500) | — | — | — | |",
        f"| `/metrics` p50 / p99 (max), 50 keep-alive scrapers each once a second for "
        f"{load['seconds']} s, full refreshes back to back "
        f"({len(load.get('refreshes_finished_during') or [])} ended in the window) | "
        f"from due {load['p50_ms']:.2f} / {load['p99_ms']:.2f} ms ({load['max_ms']:.0f} ms); "
        + (f"from sent {load['sent_p50_ms']:.2f} / {load['sent_p99_ms']:.2f} ms "
           f"({load['sent_max_ms']:.0f} ms); " if 'sent_p99_ms' in load else "")
        + f"{load['requests']} requests, {load['errors']} errors | — | "
        f"{fmt_s(peer_scrape)} / {fmt_s(max(p['scrape_s']))} per scrape, median / max of "
        f"{len(p['scrape_s'])} (each runs the queries) | — | p99 < 5 ms |",
        f"| `/metrics`, 50 keep-alive clients back to back (throughput), full refreshes back "
        f"to back | {b2b_load['rps']:.0f} scrapes/s ({b2b_load['mb_per_s']:.0f} MB/s); "
        f"p50 / p99 {b2b_load['p50_ms']:.1f} / {b2b_load['p99_ms']:.1f} ms "
        f"(max {b2b_load['max_ms']:.0f} ms) | — | — | — | |",
        f"| CPU per full refresh / collection (process + PostgreSQL) | "
        f"{e['full_backtoback_cpu_exporter_s']:.2f} + {e['full_backtoback_cpu_pg_s']:.2f} s | "
        f"— | {med(p['cpu_qe_s']):.2f} + {med(p['cpu_pg_s']):.2f} s | "
        f"{ratio(e['full_backtoback_cpu_exporter_s'] + e['full_backtoback_cpu_pg_s'], peer_cpu)}"
        f" of peer | |",
        f"| CPU per refresh after the change (process + PostgreSQL) | "
        f"{e['incremental_cpu_exporter_s']:.2f} + {e['incremental_cpu_pg_s']:.2f} s | — | "
        f"{med(p['cpu_qe_s']):.2f} + {med(p['cpu_pg_s']):.2f} s | — | |",
        f"| peak RSS (VmHWM) | {fmt_mb(e['vmhwm_kb'])} | — | {fmt_mb(p['vmhwm_kb'])} | "
        f"{ratio(e['vmhwm_kb'], p['vmhwm_kb'])} of peer | < 150 MB |",
    ]
    if d:
        rows += [
            f"| `motcua-dashboard render --period {d['period']}` (wall / max RSS) | "
            f"{fmt_s(d['render_wall_s'])} / {fmt_mb(d['render_maxrss_kb'])} | — | — | — | |",
            f"| chart `on_time_trend.png` 1200×700 over HTTP: first, from the service's start "
            f"(it loads the source) / then, median of 10 | {fmt_s(d['chart_cold_s'])} / "
            f"{statistics.median(d['chart_warm_s']) * 1e3:.1f} ms | — | — | — | |",
            f"| Biểu 06 HTML `/reports/{d['period']}`, warm median | "
            f"{statistics.median(d['report_html_s']) * 1e3:.1f} ms | — | — | — | |",
        ]
    return "\n".join(rows)


def machine():
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else "?",
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--floor-runs", type=int, default=5)
    ap.add_argument("--peer-scrapes", type=int, default=5)
    ap.add_argument("--skip", default="", help="comma-separated: floor,exporter,wire,peer,dashboard")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    out = Path(args.out)
    logdir = out.parent / f"logs-{args.size}"
    logdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"motcua-scale-{args.size}-"))

    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True,  # noqa: E731
                                    text=True).stdout.strip()
    with psycopg.connect(args.url) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("dossiers", "supplements", "apologies", "evaluations")}
        settings = dict(conn.execute(
            "SELECT name, setting || COALESCE(unit, '') FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit')"
        ).fetchall())
    resync = "--full-resync-interval" in subprocess.run(
        [str(EXPORTER), "--help"], capture_output=True, text=True).stdout
    r = {
        "size": args.size,
        "url": args.url,
        "date": datetime.datetime.now(ZONE).isoformat(timespec="seconds"),
        "commit": git("log", "-1", "--format=%h"),
        "dirty_tree": bool(git("status", "--porcelain", "--untracked-files=no")),
        "built": None,
        "machine": machine(),
        "postgres": {"version": pg_version, "settings": settings},
        "rows": counts,
        "full_resync_flag": resync,
    }
    # The binaries' commit, as run.sh recorded it when it built them.
    build_info = out.parent / "build-info.json"
    if build_info.exists():
        r.update(json.loads(build_info.read_text()))
    log(f"size {args.size}: rows {counts}; commit {r['commit']}"
        f"{' (+ uncommitted changes in the tree)' if r['dirty_tree'] else ''}")
    year = datetime.datetime.now(ZONE).year - 1

    r["floor"] = floor(args.url, args.floor_runs) if "floor" not in skip else None
    r["exporter"] = (measure_exporter(args.url, logdir, tmp, resync)
                     if "exporter" not in skip else None)
    r["wire"] = (discarding_client(args.url, r["exporter"]["copy_statements"], 3)
                 if r["exporter"] and "wire" not in skip else None)
    r["peer"] = measure_peer(args.url, logdir, args.peer_scrapes) if "peer" not in skip else None
    r["dashboard"] = (measure_dashboard(args.url, logdir, tmp, year)
                      if "dashboard" not in skip else None)

    out.with_suffix(".json").write_text(json.dumps(r, indent=2, default=str))
    if r["floor"] and r["exporter"] and r["peer"]:
        md = [
            f"## {args.size:,} dossiers",
            "",
            f"{r['date']}, binaries built at commit `{r['commit']}`"
            f"{' plus uncommitted changes in the working tree' if r['dirty_tree'] else ''}"
            f"{' (' + r['built'] + ')' if r.get('built') else ''}; "
            f"{r['machine']['nproc']} cores ({r['machine']['cpu']}), "
            f"{r['machine']['mem_gib']} GiB, load average before the run "
            f"{' '.join(r['machine']['loadavg'])}; PostgreSQL {pg_version} "
            f"({', '.join(f'{k} {v}' for k, v in settings.items())}). Rows: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + ".",
            "",
            table(r),
            "",
        ]
        out.write_text("\n".join(md))
        print("\n".join(md))
    log(f"results: {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        log(f"FAILED: {e}")
        sys.exit(1)
