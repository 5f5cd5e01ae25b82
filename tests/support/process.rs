//! Child processes as the tests run them: the `archiver` binary built by
//! cargo for this workspace and profile, run as a user runs it, and the
//! memory figures of a process read from `/proc/<pid>/status`.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// The `archiver` binary of this workspace and profile, built by cargo
/// (a no-op when it is fresh): it is another package's binary, so cargo
/// does not build it for this one's tests.
pub fn archiver_binary() -> PathBuf {
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--message-format=json",
            "-p",
            "archiver",
            "--bin",
            "archiver",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let mut child = build.spawn().unwrap();
    let mut executable = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let message: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if message["reason"] == "compiler-artifact" && message["target"]["name"] == "archiver" {
            executable = message["executable"].as_str().map(PathBuf::from);
        }
    }
    assert!(child.wait().unwrap().success(), "cargo build -p archiver");
    executable.expect("cargo names the archiver executable")
}

/// A memory figure of a process from `/proc/<pid>/status` (`VmRSS`,
/// `VmHWM`), in KiB; `None` once the process has ended (a zombie has no
/// memory lines) or when it is gone.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A memory figure of a running process (see [`status_kib`]), in KiB.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    status_kib(pid, field).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Resets a process's peak resident set (`VmHWM`) to what it holds now
/// (`/proc/<pid>/clear_refs`, Linux 4.0 and later), so that the next peak
/// read is that of what it does from here.
pub fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

/// What a child process said and how it ended, with its peak memory.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// The highest `VmHWM` (peak resident set, KiB) read while it ran.
    pub peak_kib: u64,
}

/// How often [`run_measured`] reads the child's peak resident set.
const POLL: Duration = Duration::from_millis(5);

/// Runs `command` to its end with its output captured, reading its peak
/// resident set (`VmHWM`, which only grows) every few milliseconds. The
/// last reading is taken at most [`POLL`] before the process exits, so a
/// peak reached in its very last moments (after its work, while it tears
/// down) could be missed; `getrusage` would not miss it, but counts every
/// child the test process ever waited for (cargo's build among them).
pub fn run_measured(command: &mut Command) -> Finished {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id();
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = status_kib(pid, "VmHWM") {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(POLL);
    };
    Finished {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_kib,
    }
}

/// A small deterministic generator (xorshift) for the moments of kills:
/// the same `seed`, the same sequence, no extra crate.
pub fn kill_moments(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
