//! A blocking HTTP/1.1 GET over a fresh connection: enough for the tests,
//! and no client library whose behaviour would sit between a test and the
//! bytes a service sends.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Long enough for a busy 2-core machine; a hung server still fails the test.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn fetch(addr: &str, path: &str) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    // `Connection: close`: the end of the stream is the end of the response.
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// The whole response to `GET path` from `addr` (`host:port`) as text:
/// status line, headers and body as sent, for tests about any of them.
pub fn http_response(addr: &str, path: &str) -> io::Result<String> {
    Ok(String::from_utf8_lossy(&fetch(addr, path)?).into_owned())
}

/// `GET path` from `addr` (`host:port`): the status code (0 if there is
/// none) and the body, de-chunked (Go's and hyper's servers send bodies of
/// unknown length in chunks).
pub fn http_get(addr: &str, path: &str) -> io::Result<(u16, String)> {
    let raw = fetch(addr, path)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (&raw[..], &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = match chunked.then(|| dechunk(body)).flatten() {
        Some(decoded) => String::from_utf8_lossy(&decoded).into_owned(),
        None => String::from_utf8_lossy(body).into_owned(),
    };
    Ok((status, body))
}

/// The data of a chunked body; `None` if it is not well formed.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..eol]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// Serves `response` to one request; the request line it got.
    fn serve_once(response: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // The whole request is read: closing a socket with unread data
            // resets the connection, and the client could lose the response.
            let mut reader = io::BufReader::new(&s);
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut header = String::new();
            while reader.read_line(&mut header).unwrap() > 2 {
                header.clear();
            }
            s.write_all(response).unwrap();
            request
        });
        (addr, server)
    }

    #[test]
    fn get_decodes_a_chunked_body() {
        let (addr, server) = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              6\r\nhello \r\n5;x=1\r\nworld\r\n0\r\n\r\n",
        );
        assert_eq!(
            http_get(&addr, "/a?b=1").unwrap(),
            (200, "hello world".to_owned())
        );
        assert_eq!(server.join().unwrap(), "GET /a?b=1 HTTP/1.1\r\n");
    }

    #[test]
    fn response_is_the_whole_text() {
        let (addr, server) = serve_once(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\nnope");
        let text = http_response(&addr, "/").unwrap();
        server.join().unwrap();
        assert_eq!(text, "HTTP/1.1 404 Not Found\r\nA: b\r\n\r\nnope");
    }
}
