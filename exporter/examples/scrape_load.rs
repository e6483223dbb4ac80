//! Scrape load for the scale benchmark (`bench/scale/`): N concurrent
//! keep-alive HTTP/1.1 clients GET a path of a running exporter for a
//! bounded time; the latencies are printed as one JSON line.
//!
//! ```sh
//! cargo run --release -p motcua-exporter --example scrape_load -- \
//!     --addr 127.0.0.1:9745 [--clients 50] [--seconds 20] [--path /metrics] [--interval-ms 1000] \
//!     [--accept-encoding gzip]
//! ```
//!
//! Like Prometheus, the clients send `Accept-Encoding: gzip` unless told
//! otherwise (`--accept-encoding ''` for none); they read the body as sent.
//!
//! Two modes:
//! - paced (`--interval-ms N`, N > 0): each client scrapes once every N ms,
//!   the clients' phases spread evenly over the interval, like Prometheus
//!   servers on a scrape interval. A scrape's latency is counted from the
//!   moment it was due, so a client that falls behind (the machine too busy
//!   to send on time) shows it in the tail instead of hiding it.
//! - back to back (`--interval-ms 0`, the default): each client sends its next
//!   request as soon as the previous answer is read. This measures
//!   throughput; its latency is mostly queueing (≈ clients ÷ throughput).
//!
//! Two latencies are reported for each scrape: from when it was due
//! (`p50_ms`, `p99_ms`, …), and from when the request was sent (`sent_*`).
//! The first includes the client's own delays — on a machine it shares
//! with the server and the database it waits for a core like any process —
//! as well as any wait for a previous slow answer; the second is what the
//! server and the network took. Each client is a thread of its own with
//! blocking I/O, so that the client adds as little of its own as it can.
//!
//! A non-200 answer or a broken connection counts as an error (and the
//! client reconnects).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use motcua_web::test_support::{content_length_of, get_request, no_content_length, status_of};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Outcome {
    /// From when each scrape was due.
    latencies: Vec<Duration>,
    /// From when each request was sent (see [`client`]).
    sent_latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    bytes: u64,
}

/// One scraper on a thread of its own with blocking I/O. Why not tasks on an
/// async runtime: a tokio timer fires on a 1 ms tick and a task waits for a
/// free worker, both of which land in the "from due" figure and say nothing
/// about the server; `thread::sleep` wakes within tens of microseconds.
fn client(
    addr: SocketAddr,
    path: String,
    start: Instant,
    deadline: Instant,
    interval: Option<Duration>,
    accept_encoding: String,
) -> Outcome {
    let mut out = Outcome {
        latencies: Vec::new(),
        sent_latencies: Vec::new(),
        errors: 0,
        first_error: None,
        bytes: 0,
    };
    let headers = [("Accept-Encoding", accept_encoding.as_str())];
    let request = get_request(
        &path,
        if accept_encoding.is_empty() {
            &[]
        } else {
            &headers
        },
    );
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut body = Vec::new();
    let mut due = start;
    loop {
        if interval.is_some() {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        } else {
            due = Instant::now();
        }
        if due >= deadline {
            break;
        }
        let sent = Instant::now();
        let result = (|| {
            if conn.is_none() {
                let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(TIMEOUT))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                conn = Some(BufReader::new(stream));
            }
            get(
                conn.as_mut().expect("connected"),
                request.as_bytes(),
                &mut body,
            )
        })();
        match result {
            Ok(200) => {
                out.latencies.push(due.elapsed());
                out.sent_latencies.push(sent.elapsed());
                out.bytes += body.len() as u64;
            }
            other => {
                conn = None;
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("GET {path}: {other:?}"));
            }
        }
        if let Some(interval) = interval {
            due += interval;
        }
    }
    out
}

/// Sends one request on a keep-alive connection and reads the whole answer
/// into `body`; returns the status. The exporter always sends Content-Length.
fn get(conn: &mut BufReader<TcpStream>, request: &[u8], body: &mut Vec<u8>) -> io::Result<u16> {
    conn.get_mut().write_all(request)?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status = status_of(&line)?;
    let mut length = None;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        length = content_length_of(header).or(length);
    }
    let length = length.ok_or_else(no_content_length)?;
    body.resize(length, 0);
    conn.read_exact(body)?;
    Ok(status)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() -> anyhow::Result<()> {
    let mut addr: Option<SocketAddr> = None;
    let (mut clients, mut seconds, mut path, mut interval_ms) =
        (50u32, 20u64, "/metrics".to_owned(), 0u64);
    // What Prometheus sends; `--accept-encoding ''` asks for the plain body.
    let mut accept_encoding = "gzip".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--addr" => addr = Some(value()?.parse()?),
            "--clients" => clients = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            "--path" => path = value()?,
            "--interval-ms" => interval_ms = value()?.parse()?,
            "--accept-encoding" => accept_encoding = value()?,
            other => anyhow::bail!(
                "unknown argument {other:?}; usage: scrape_load --addr HOST:PORT \
                 [--clients N] [--seconds S] [--path /metrics] [--interval-ms N] \
                 [--accept-encoding gzip]"
            ),
        }
    }
    let addr = addr.ok_or_else(|| anyhow::anyhow!("--addr is required"))?;
    anyhow::ensure!(clients > 0, "--clients must be at least 1");
    let interval = (interval_ms > 0).then(|| Duration::from_millis(interval_ms));
    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + Duration::from_secs(seconds);
    let tasks: Vec<std::thread::JoinHandle<Outcome>> = (0..clients)
        .map(|i| {
            // Paced clients start spread over one interval.
            let phase = interval.map_or(Duration::ZERO, |iv| iv * i / clients);
            let (path, accept_encoding) = (path.clone(), accept_encoding.clone());
            std::thread::Builder::new()
                .name(format!("scraper-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    client(
                        addr,
                        path,
                        start + phase,
                        deadline,
                        interval,
                        accept_encoding,
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let (mut latencies, mut errors, mut first_error, mut bytes) = (Vec::new(), 0, None, 0);
    let mut sent_latencies = Vec::new();
    for task in tasks {
        let out = task
            .join()
            .map_err(|_| anyhow::anyhow!("a scraper thread panicked"))?;
        latencies.extend(out.latencies);
        sent_latencies.extend(out.sent_latencies);
        errors += out.errors;
        bytes += out.bytes;
        first_error = first_error.or(out.first_error);
    }
    latencies.sort();
    sent_latencies.sort();
    let quantile = |sorted: &[Duration], p: f64| {
        let n = sorted.len();
        if n == 0 {
            return 0.0;
        }
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        ms(sorted[i])
    };
    let at = |p: f64| quantile(&latencies, p);
    println!(
        "{{\"mode\": {}, \"clients\": {clients}, \"seconds\": {seconds}, \"interval_ms\": {interval_ms}, \
         \"requests\": {}, \"errors\": {errors}, \"rps\": {:.1}, \"mb_per_s\": {:.1}, \
         \"p50_ms\": {:.3}, \"p90_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}, \
         \"sent_p50_ms\": {:.3}, \"sent_p99_ms\": {:.3}, \"sent_max_ms\": {:.3}, \
         \"first_error\": {}}}",
        json_string(if interval.is_some() {
            "paced"
        } else {
            "back_to_back"
        }),
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        bytes as f64 / seconds as f64 / 1e6,
        at(0.5),
        at(0.9),
        at(0.99),
        latencies.last().map_or(0.0, |d| ms(*d)),
        quantile(&sent_latencies, 0.5),
        quantile(&sent_latencies, 0.99),
        sent_latencies.last().map_or(0.0, |d| ms(*d)),
        first_error.as_deref().map_or("null".into(), json_string),
    );
    Ok(())
}
