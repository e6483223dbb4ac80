//! A real child process under test: its output collected line by line as
//! it comes, every wait bounded, and the process killed and reaped however
//! the test ends.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// How long the output still open after an exit may take to arrive (a
/// grandchild may hold the pipes open: then the rest is not waited for).
const LAST_OUTPUT: Duration = Duration::from_secs(2);

/// How many lines [`Process::assert_alive`] shows.
const TAIL: usize = 30;

/// A running program. Its stdout and stderr lines are read on threads of
/// their own as they come (so it never blocks on a full pipe) and kept with
/// the moment they arrived, which timing tests compare.
pub struct Process {
    name: String,
    child: Child,
    lines: Receiver<(Instant, String)>,
    log: Vec<(Instant, String)>,
}

impl Process {
    /// Starts `program ARGS` with `env`; see [`Process::spawn`].
    pub fn start(program: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> Process {
        let program = program.as_ref();
        let name = program.file_name().map_or_else(
            || program.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut cmd = Command::new(program);
        cmd.args(args).envs(env.iter().copied());
        Process::spawn(&name, cmd)
    }

    /// Starts `cmd` (its arguments, variables and folder as the caller set
    /// them), named `name` in messages. The MOTCUA_* and RUST_LOG variables
    /// of the test's own environment are removed unless `cmd` sets or removes
    /// them itself: a developer's shell must not change what a test sees.
    /// stdin is empty; stdout and stderr are collected.
    pub fn spawn(name: &str, mut cmd: Command) -> Process {
        let given: Vec<OsString> = cmd.get_envs().map(|(k, _)| k.to_owned()).collect();
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if (k.starts_with("MOTCUA_") || k == "RUST_LOG") && !given.contains(&key) {
                cmd.env_remove(&key);
            }
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped stdout"));
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped stderr"));
        for (stream, what) in [(out, "stdout"), (err, "stderr")] {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("{name} {what}"))
                .spawn(move || forward(stream, &tx))
                .expect("a reader thread");
        }
        // Only the readers hold senders: the channel closes when both pipes do.
        drop(tx);
        Process {
            name: name.to_owned(),
            child,
            lines,
            log: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the next line containing `needle`; panics with the output
    /// so far if none comes within `within` (or the process ends first).
    pub fn wait_line(&mut self, needle: &str, within: Duration) -> (Instant, String) {
        self.try_wait_line(needle, within).unwrap_or_else(|| {
            panic!(
                "no line with {needle:?} from {} within {within:?}; its output so far:\n{}",
                self.name,
                self.log_text()
            )
        })
    }

    /// The next line containing `needle` with its arrival, or `None` if none
    /// comes within `within` or the output ends first.
    pub fn try_wait_line(&mut self, needle: &str, within: Duration) -> Option<(Instant, String)> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let entry = self.lines.recv_timeout(left).ok()?;
            self.log.push(entry.clone());
            if entry.1.contains(needle) {
                return Some(entry);
            }
        }
    }

    /// Collects the lines that arrived so far, waiting up to `quiet` for
    /// each next one.
    pub fn drain(&mut self, quiet: Duration) {
        while let Ok(entry) = self.lines.recv_timeout(quiet) {
            self.log.push(entry);
        }
    }

    /// The lines collected so far with their arrival (see [`Process::drain`]).
    pub fn log(&self) -> &[(Instant, String)] {
        &self.log
    }

    /// The lines collected so far, one per line.
    pub fn log_text(&self) -> String {
        self.log
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name))
    }

    /// Waits up to `within` for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `within` for the exit (killing the process after that:
    /// status `None`); the status and all its output.
    pub fn finish(mut self, within: Duration) -> (Option<ExitStatus>, String) {
        let status = self.wait_exit(within);
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.drain(LAST_OUTPUT);
        (status, self.log_text())
    }

    /// Sends signal `name` (`TERM`, `HUP`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"))
            .success();
        assert!(ok, "kill -{name} {} ({})", self.pid(), self.name);
    }

    /// Panics, with the end of its output, if the process has exited: a
    /// test polling a service sees at once that it died, and why.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.try_wait() {
            self.drain(LAST_OUTPUT);
            let from = self.log.len().saturating_sub(TAIL);
            let tail: Vec<&str> = self.log[from..].iter().map(|(_, l)| l.as_str()).collect();
            panic!(
                "{} exited ({status}); its output ends with:\n{}",
                self.name,
                tail.join("\n")
            );
        }
    }

    /// Its command line, as any user of the machine can read it.
    pub fn cmdline(&self) -> String {
        std::fs::read(format!("/proc/{}/cmdline", self.pid()))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `stream` (lossy UTF-8: one bad byte must not stop the
/// reading, which would leave the process blocked on a full pipe).
fn forward(stream: Box<dyn Read + Send>, tx: &Sender<(Instant, String)>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let line = String::from_utf8_lossy(line).into_owned();
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_line_finds_the_line_and_drop_kills_and_reaps() {
        // `exec`: the shell's pid is the sleeper's, so nothing outlives the kill.
        let mut p = Process::start(
            "sh",
            &["-c", "echo starting; echo ready; exec sleep 30"],
            &[],
        );
        let pid = p.pid();
        let (_, line) = p.wait_line("ready", Duration::from_secs(10));
        assert_eq!(line, "ready");
        assert_eq!(p.log_text(), "starting\nready");
        assert!(
            p.try_wait_line("never", Duration::from_millis(100))
                .is_none()
        );
        p.assert_alive();
        let dropped = Instant::now();
        drop(p);
        assert!(
            dropped.elapsed() < Duration::from_secs(5),
            "drop waited for the sleep"
        );
        // Reaped, not a zombie: its /proc entry is gone.
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} still there"
        );
    }

    #[test]
    fn finish_returns_the_status_and_both_streams() {
        let p = Process::start(
            "sh",
            &["-c", "echo out; echo \"err $MOTCUA_GIVEN\" >&2; exit 3"],
            &[("MOTCUA_GIVEN", "kept")],
        );
        let (status, log) = p.finish(Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(3), "{log}");
        let mut lines: Vec<&str> = log.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["err kept", "out"]);
    }

    #[test]
    fn finish_kills_what_runs_too_long_and_signals_reach_it() {
        let p = Process::start("sleep", &["30"], &[]);
        let (status, _) = p.finish(Duration::from_millis(200));
        assert_eq!(status, None);

        let mut p = Process::start("sleep", &["30"], &[]);
        p.signal("TERM");
        let status = p.wait_exit(Duration::from_secs(10)).expect("stops on TERM");
        assert!(!status.success(), "{status:?}");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.assert_alive()));
        assert!(r.is_err(), "assert_alive after an exit");
    }
}
