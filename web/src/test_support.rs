//! Helpers for tests of services behind [`crate::serve`] (feature
//! `test-support`): a throwaway CA and server certificate made at run
//! time, a bcrypt hash, and a minimal HTTPS client on rustls that trusts
//! only that CA.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A CA and a server certificate for `localhost` and `127.0.0.1`, in PEM.
pub struct TestPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestPki {
    pub fn generate() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "motcua test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("server certificate");
        TestPki {
            ca_pem: ca.as_ref().pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `server.crt`, `server.key` and `ca.crt` into `dir`.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("server.crt"), &self.cert_pem)?;
        std::fs::write(dir.join("server.key"), &self.key_pem)?;
        std::fs::write(dir.join("ca.crt"), &self.ca_pem)
    }
}

/// A bcrypt hash of `password` at the lowest cost (fast tests).
pub fn quick_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt hash")
}

/// An HTTP response, as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    pub body: String,
}

impl Response {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn request(path: &str, auth: Option<(&str, &str)>) -> String {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((user, password)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        r.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    r.push_str("\r\n");
    r
}

fn parse(raw: &[u8]) -> io::Result<Response> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("not HTTP: {text:?}")))?;
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("not HTTP: {head:?}")))?;
    Ok(Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

const TIMEOUT: Duration = Duration::from_secs(20);

async fn read_all<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(TIMEOUT, s.read_to_end(&mut out)).await {
        Ok(Ok(_)) => Ok(out),
        // A server may close without TLS close_notify once the response is complete.
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof && !out.is_empty() => Ok(out),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer")),
    }
}

/// GET `path` over HTTPS, trusting only `ca_pem`, as server name `localhost`.
pub async fn https_get(
    addr: SocketAddr,
    ca_pem: &str,
    path: &str,
    auth: Option<(&str, &str)>,
) -> io::Result<Response> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?)
            .map_err(io::Error::other)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake"))??;
    tls.write_all(request(path, auth).as_bytes()).await?;
    tls.flush().await?;
    parse(&read_all(&mut tls).await?)
}

/// GET `path` over plain HTTP.
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    auth: Option<(&str, &str)>,
) -> io::Result<Response> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(request(path, auth).as_bytes()).await?;
    parse(&read_all(&mut tcp).await?)
}

/// What a load run saw.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// `clients` keep-alive HTTP/1.1 clients GET `paths` in turn against `addr`
/// until `duration` has passed (a bounded run: each client stops by itself).
/// A response other than 200, or a broken connection, counts as an error.
pub async fn load(
    addr: SocketAddr,
    paths: &[String],
    clients: usize,
    duration: Duration,
) -> LoadReport {
    let deadline = tokio::time::Instant::now() + duration;
    let paths = Arc::new(paths.to_vec());
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let paths = Arc::clone(&paths);
            tokio::spawn(async move { load_client(addr, &paths, client, deadline).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for task in tasks {
        let (lat, errs, first) = task.await.expect("load client");
        latencies.extend(lat);
        errors += errs;
        first_error = first_error.or(first);
    }
    latencies.sort();
    let at = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    LoadReport {
        requests: latencies.len() as u64,
        errors,
        first_error,
        p50: at(0.5),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

async fn load_client(
    addr: SocketAddr,
    paths: &[String],
    client: usize,
    deadline: tokio::time::Instant,
) -> (Vec<Duration>, u64, Option<String>) {
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    let mut conn: Option<tokio::io::BufStream<TcpStream>> = None;
    let mut i = client;
    while tokio::time::Instant::now() < deadline {
        let path = &paths[i % paths.len()];
        i += 1;
        let started = std::time::Instant::now();
        let result = async {
            if conn.is_none() {
                conn = Some(tokio::io::BufStream::new(TcpStream::connect(addr).await?));
            }
            let stream = conn.as_mut().expect("connected");
            keep_alive_get(stream, path).await
        };
        match tokio::time::timeout(TIMEOUT, result).await {
            Ok(Ok((200, _))) => latencies.push(started.elapsed()),
            outcome => {
                conn = None;
                errors += 1;
                first_error.get_or_insert_with(|| format!("GET {path}: {outcome:?}"));
            }
        }
    }
    (latencies, errors, first_error)
}

/// One keep-alive request; reads exactly the body its Content-Length names
/// and returns the status and the body's length.
pub async fn keep_alive_get(
    stream: &mut tokio::io::BufStream<TcpStream>,
    path: &str,
) -> io::Result<(u16, usize)> {
    keep_alive_get_with(stream, path, &[]).await
}

/// [`keep_alive_get`] with extra request headers (`("Accept-Encoding", "gzip")`).
pub async fn keep_alive_get_with(
    stream: &mut tokio::io::BufStream<TcpStream>,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<(u16, usize)> {
    use tokio::io::AsyncBufReadExt;
    stream
        .write_all(get_request(path, headers).as_bytes())
        .await?;
    stream.flush().await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status = status_of(&line)?;
    let mut length = None;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        length = content_length_of(header).or(length);
    }
    let length = length.ok_or_else(no_content_length)?;
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((status, length))
}

/// A keep-alive `GET` with extra headers, as the load clients send it.
pub fn get_request(path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: load\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// The status code of an `HTTP/1.1` status line.
pub fn status_of(line: &str) -> io::Result<u16> {
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("status line {line:?}")))
}

/// The length a `Content-Length` header line names; `None` for other headers.
pub fn content_length_of(header: &str) -> Option<usize> {
    let (name, value) = header.split_once(':')?;
    name.eq_ignore_ascii_case("content-length")
        .then(|| value.trim().parse().ok())
        .flatten()
}

/// The error for an answer without `Content-Length` (the exporter always sends it).
pub fn no_content_length() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "no Content-Length")
}
