//! The one harness the tests of both services share: real child processes
//! ([`Process`]), scratch folders, loopback HTTP, and the rule for a missing
//! service (`CI=true`: the test fails; elsewhere it is skipped, saying why).
//!
//! Std only, so that it builds before anything it tests.

mod http;
mod process;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub use http::{http_get, http_response};
pub use process::Process;

/// True when running under CI, where every service must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `None` (skip, saying why) outside CI when a service is missing; panics in
/// CI, where a skipped test would hide that the service was never tested.
pub fn require<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if in_ci() => panic!("{what} is required with CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {what} is not available: {e}");
            None
        }
    }
}

/// `PREFIX_PID_N`: unique across the tests of this process and across test
/// processes running at once (database, user and folder names).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A fresh folder for one test, removed on drop (also when the test panics).
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A folder under the system's temporary one.
    pub fn new(name: &str) -> Scratch {
        Scratch::under(std::env::temp_dir(), name)
    }

    /// A folder under `base`: integration tests pass `CARGO_TARGET_TMPDIR`
    /// (only their own build sees it), so `cargo clean` removes whatever a
    /// killed run left. The path is canonical: the services compare paths.
    pub fn under(base: impl AsRef<Path>, name: &str) -> Scratch {
        let dir = base.as_ref().join(unique(name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("scratch folder {}: {e}", dir.display()));
        Scratch(dir.canonicalize().expect("canonical scratch path"))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }

    /// Writes `text` to `name` (making its folders); the file's path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// RSS of a process in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_made_fresh_and_removed_on_drop() {
        let s = Scratch::new("motcua-testkit");
        let file = s.write("a/b.txt", "x");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
        let path = s.path().to_owned();
        drop(s);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[test]
    fn require_skips_or_fails_by_ci() {
        let r = std::panic::catch_unwind(|| require::<(), _>("a service", Err("down")));
        if in_ci() {
            assert!(r.is_err(), "with CI=true a missing service fails");
        } else {
            assert_eq!(r.unwrap(), None);
        }
        assert_eq!(require::<_, String>("a service", Ok(3)), Some(3));
    }
}
