//! LocalStack in host mode (`infra/localstack.sh`) with template.yaml
//! deployed to it (functions off), and `cargo lambda watch` serving the
//! functions with the stack's outputs as their environment.

use std::collections::HashMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tools() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    std::env::var("MA_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&home).join(".cache/mobile-archiver/tools"))
}

/// LocalStack's Python (it has boto3), for the infra scripts.
pub fn python() -> PathBuf {
    tools().join("localstack-4.13.1/bin/python")
}

fn localstack(action: &str, dir: &Path) -> String {
    let output = Command::new("bash")
        .arg(root().join("infra/localstack.sh"))
        .arg(action)
        .arg(dir)
        .output()
        .expect("runs infra/localstack.sh");
    assert!(
        output.status.success(),
        "infra/localstack.sh {action} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A running LocalStack with one deployed stack; stopped when dropped.
pub struct LocalStack {
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The stack's outputs (bucket names, queue URLs).
    pub outputs: HashMap<String, String>,
    /// SDK config pointing at it.
    pub aws: aws_config::SdkConfig,
}

impl LocalStack {
    /// Starts LocalStack and deploys template.yaml with the functions off.
    pub async fn start_with_stack(params: &[&str]) -> LocalStack {
        let dir = tempfile::Builder::new()
            .prefix("ma-ls-")
            .tempdir_in("/tmp")
            .unwrap();
        let endpoint = localstack("start", dir.path());
        let output = Command::new(python())
            .arg(root().join("infra/localstack/deploy.py"))
            .arg(&endpoint)
            .arg("mobile-archiver")
            .arg(root().join("template.yaml"))
            .args(params)
            .output()
            .expect("runs deploy.py");
        assert!(
            output.status.success(),
            "deploy.py failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let outputs = serde_json::from_slice(&output.stdout).unwrap();
        let aws = aws_config::from_env()
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "localstack",
            ))
            .load()
            .await;
        LocalStack {
            dir,
            endpoint,
            outputs,
            aws,
        }
    }

    /// A stack output.
    pub fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .unwrap_or_else(|| panic!("no stack output {name}"))
    }

    /// The directory LocalStack keeps its state and log in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Freezes every process of LocalStack (SIGSTOP to its process
    /// group): the kernel still accepts connections to it, but nothing
    /// answers them, as with a server hung mid-request; its state stays.
    pub fn freeze(&self) {
        killpg(self.process_group(), Signal::SIGSTOP).unwrap();
    }

    /// Lets a frozen LocalStack run again (SIGCONT): it answers the
    /// requests that waited meanwhile.
    pub fn thaw(&self) {
        killpg(self.process_group(), Signal::SIGCONT).unwrap();
    }

    /// LocalStack's process group: `infra/localstack.sh` starts it in a
    /// session of its own, led by the process whose id it writes to `pid`.
    fn process_group(&self) -> Pid {
        let pid = std::fs::read_to_string(self.dir().join("pid")).unwrap();
        Pid::from_raw(pid.trim().parse().unwrap())
    }

    /// Puts the example in place as an operator would: the mapping CSV in
    /// the config bucket (`mapping.csv`), the drops in the drop bucket.
    pub async fn upload_example(&self) {
        self.upload_mapping().await;
        let s3 = shared::store::S3Store::client(&self.aws);
        let examples = super::examples::dir();
        upload_dir(
            &s3,
            self.output("DropBucketName"),
            &examples,
            &examples.join("drop"),
        )
        .await;
    }

    /// Puts the example's mapping CSV into the config bucket, where the
    /// operator puts it.
    pub async fn upload_mapping(&self) {
        shared::store::S3Store::client(&self.aws)
            .put_object()
            .bucket(self.output("ConfigBucketName"))
            .key("mapping.csv")
            .body(aws_sdk_s3::primitives::ByteStream::from(
                std::fs::read(super::examples::dir().join("mapping.csv")).unwrap(),
            ))
            .send()
            .await
            .unwrap();
    }

    /// The functions' environment as template.yaml sets it for the
    /// example (plus the emulator's endpoint and its fixed test
    /// credentials), then `target`: the delivery target's settings
    /// (`IMAP_*` or `SMTP_*`) and any other.
    pub fn example_env(&self, target: &[(&str, &str)]) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("ARCHIVE_BUCKET", self.output("ArchiveBucketName")),
            ("DROP_BUCKET", self.output("DropBucketName")),
            ("CONFIG_BUCKET", self.output("ConfigBucketName")),
            ("MAPPING_KEY", "mapping.csv"),
            ("CONVERT_QUEUE_URL", self.output("ConvertQueueUrl")),
            ("DELIVER_QUEUE_URL", self.output("DeliverQueueUrl")),
            ("TIME_ZONE", "Europe/London"),
            ("ARCHIVE_TIME_ZONE", "Europe/London"),
            ("DISPLAY_TIME_ZONE", "Europe/London"),
            ("DEFAULT_REGION", "GB"),
            ("CUSTODIAN_DOMAINS", "corp.example"),
        ]
        .iter()
        .chain(target)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("infra/localstack.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// `cargo lambda watch` serving the workspace's functions; stopped when dropped.
pub struct Watch {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    http: reqwest::Client,
}

impl Watch {
    /// Starts `cargo lambda watch` with these environment variables for the functions.
    pub fn start(env: &[(String, String)], log: &Path) -> Watch {
        let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(log.with_extension("env"), lines).unwrap();
        let (child, url) = Self::spawn(log, std::fs::File::create(log).unwrap());
        Watch {
            child,
            log: log.to_owned(),
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(900))
                .build()
                .unwrap(),
        }
    }

    /// Stops this `cargo lambda watch` (and the functions it runs) and
    /// starts another with the same environment, on a port of its own,
    /// its log appended to the same file. `cargo lambda watch` (1.9.2)
    /// does not start a function again whose process died: the function
    /// stays registered, and every later invocation of it waits for an
    /// answer that never comes; a new watch starts it afresh, as Lambda
    /// gives the next invocation a new execution environment.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        (self.child, self.url) = Self::spawn(&self.log, log);
    }

    /// Spawns `cargo lambda watch` on a free port with the environment
    /// file next to `log`, its output into `log_file`; returns it, with
    /// its URL, once it listens.
    fn spawn(log: &Path, log_file: std::fs::File) -> (Child, String) {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = format!(
            "{}:{}",
            tools().join("serverless-1/bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new("cargo")
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--features",
                "media/test-stand-ins",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .arg("--env-file")
            .arg(log.with_extension("env"))
            .env("PATH", path)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect(
                "starts cargo lambda watch (infra/localstack.sh install puts it in the tool venv)",
            );
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        (child, format!("http://127.0.0.1:{port}"))
    }

    /// Stops the process group this struct started (watch and its
    /// functions) and waits for watch to end.
    fn stop(&mut self) {
        let pgid = self.child.id() as i32;
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        let _ = self.child.wait();
    }

    /// Invokes a function with a JSON event; returns its JSON answer.
    pub async fn invoke(&self, function: &str, event: &serde_json::Value) -> serde_json::Value {
        self.try_invoke(function, event)
            .await
            .unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// Invokes a function with a JSON event; returns its JSON answer, or
    /// what went wrong when the function failed (a function error: in AWS,
    /// every message of its batch comes back).
    pub async fn try_invoke(
        &self,
        function: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let response = self
            .http
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.url
            ))
            .body(event.to_string())
            .send()
            .await
            .map_err(|e| format!("{function}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{function}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{function}: HTTP {status}: {body}"));
        }
        let value: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("{function} answered {body:?}: {e}"))?;
        if value.get("errorType").is_some() {
            return Err(format!("{function} failed: {value}"));
        }
        Ok(value)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `infra/localstack/sqs_mover.py` until every queue stayed empty for
/// `idle`; records each invocation into `record`. Returns the number of
/// messages the functions reported failed.
pub fn move_messages(
    stack: &LocalStack,
    watch: &Watch,
    routes: &[(&str, &str)],
    idle: Duration,
    record: &Path,
) -> u64 {
    let mut command = Command::new(python());
    command
        .arg(root().join("infra/localstack/sqs_mover.py"))
        .arg("--endpoint")
        .arg(&stack.endpoint)
        .arg("--invoke")
        .arg(&watch.url)
        .arg("--idle")
        .arg(idle.as_secs_f64().to_string())
        .arg("--record")
        .arg(record);
    for (queue, function) in routes {
        command.arg("--route").arg(format!("{queue}={function}"));
    }
    let output = command.output().expect("runs sqs_mover.py");
    assert!(
        output.status.success(),
        "sqs_mover.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let failed = summary["failed_messages"].as_u64().unwrap();
    if failed > 0 {
        // Shown with the failing assertion: what the mover and the functions said.
        let log = std::fs::read_to_string(&watch.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!(
            "sqs_mover.py:\n{}\ncargo lambda watch (last lines):\n{}",
            String::from_utf8_lossy(&output.stderr),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    failed
}

/// Every SQS record the mover handed to `function`, from its record file
/// (see [`move_messages`]).
pub fn recorded(record: &Path, function: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(record)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["function"] == function)
        .flat_map(|entry| entry["event"]["Records"].as_array().unwrap().clone())
        .collect()
}

impl Watch {
    /// The process of a function `cargo lambda watch` runs (started on
    /// its first invocation and kept warm): the one whose executable is
    /// named `function`, started by this watch.
    pub fn function_pid(&self, function: &str) -> Option<u32> {
        let watch = self.child.id();
        std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|&pid| {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                exe.as_deref().and_then(Path::file_name) == Some(function.as_ref())
                    && descends_from(pid, watch)
            })
    }
}

/// Whether `ancestor` is `pid`'s parent, or its parent's, and so on.
fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut at = pid;
    while at > 1 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{at}/stat")) else {
            return false;
        };
        // The fields after the command name (which may hold spaces).
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let Some(parent) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) else {
            return false;
        };
        if parent == ancestor {
            return true;
        }
        at = parent;
    }
    false
}

/// Uploads the files under `dir` to `bucket`, keyed by their path below
/// `base`.
pub async fn upload_dir(s3: &aws_sdk_s3::Client, bucket: &str, base: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            Box::pin(upload_dir(s3, bucket, base, &path)).await;
        } else {
            let key = path
                .strip_prefix(base)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(
                    std::fs::read(&path).unwrap(),
                ))
                .send()
                .await
                .unwrap();
        }
    }
}

/// Every key under `prefix` in `bucket`.
pub async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.unwrap()
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys
}
