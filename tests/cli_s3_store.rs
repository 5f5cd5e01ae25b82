//! The commands that read the archive, run against the deployed archive
//! bucket (template.yaml on LocalStack) with `--store s3://…`, give what
//! they give over the same store as a local directory: the example's
//! store (one 64 MiB e-mail added), copied into the archive bucket and,
//! below a prefix, into another bucket, exports the same bundle byte for
//! byte (the big e-mail streamed: the command's peak memory stays under
//! three quarters of its size), and the bundle verifies; `status --json` gives the
//! local counts; `report --json` the local report; `reconcile` closes the
//! day with the manifest the local store gets (the same chain head), but
//! not a day without a raw batch, and `verify --head` checks the chain in
//! the bucket.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use shared::store::S3Store;

use support::examples;
use support::localstack::{LocalStack, keys, upload_dir};

/// The example's collection day.
const DAY: &str = "2026-11-21";

/// The custodian exported: Bob's chat, dropped by Alice.
const CUSTODIAN: &str = "+447400123001";

/// The size of the e-mail that must be streamed.
const BIG_EMAIL_BYTES: usize = 64 << 20;

/// What one `archiver` command did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    /// Its peak resident set (`VmHWM`), sampled until it exited.
    peak_kib: u64,
}

/// The `archiver` binary, with the environment the AWS SDK reads.
struct Archiver {
    binary: PathBuf,
    /// Where the commands run (the example's config is there).
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Archiver {
    /// Runs `archiver <args>` and samples its memory while it runs.
    fn run(&self, args: &[&str]) -> Ran {
        let out = tempfile::tempdir().unwrap();
        let mut child = Command::new(&self.binary)
            .args(args)
            .current_dir(&self.dir)
            .env_remove("AWS_PROFILE")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(fs::File::create(out.path().join("stdout")).unwrap())
            .stderr(fs::File::create(out.path().join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut peak_kib = 0;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            // Gone from /proc (or a zombie, without the field) once it
            // has exited.
            if let Some(hwm) = vm_hwm_kib(child.id()) {
                peak_kib = peak_kib.max(hwm);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ran {
            code: status.code().unwrap(),
            stdout: fs::read_to_string(out.path().join("stdout")).unwrap(),
            stderr: fs::read_to_string(out.path().join("stderr")).unwrap(),
            peak_kib,
        }
    }

    /// Runs `archiver <args>` and expects exit code `code`.
    fn expect(&self, code: i32, args: &[&str]) -> Ran {
        let ran = self.run(args);
        assert_eq!(
            ran.code, code,
            "archiver {args:?}:\n{}{}",
            ran.stdout, ran.stderr
        );
        ran
    }
}

/// A process's peak resident set, when /proc still shows it.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Writes into the store an e-mail of Bob's chat of [`BIG_EMAIL_BYTES`]
/// (one long text part, as an EML with a large attachment is); returns
/// its name in a bundle.
fn write_big_email(store: &Path) -> String {
    let day = "2026-11-04";
    let id = "big-email";
    let path = store.join(format!("eml/{day}/{id}.eml"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    write!(
        file,
        "From: \"Bob Smith\" <bob@corp.example>\r\nTo: \"Alice Example\" \
         <alice.example@corp.example>\r\nSubject: WhatsApp message from Bob Smith\r\n\
         Message-ID: <{id}@mobile-archiver>\r\nX-Archiver-Source: whatsapp-export\r\n\
         X-Archiver-Kind: message\r\nX-Archiver-Custodian: {CUSTODIAN}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    .unwrap();
    let line = [b"0123456789abcdef".repeat(4).as_slice(), b"\r\n"].concat();
    for _ in 0..BIG_EMAIL_BYTES / line.len() {
        file.write_all(&line).unwrap();
    }
    file.into_inner().unwrap().sync_all().unwrap();
    format!("messages/{day}/{id}.eml")
}

/// The `head` SHA-256 of reconcile's last line.
fn head(out: &str) -> String {
    let (_, after) = out
        .split_once("newest SHA-256 is ")
        .unwrap_or_else(|| panic!("no chain head in {out}"));
    after[..64].to_owned()
}

/// A day report's JSON without the moment it was made.
fn report_json(out: &str) -> serde_json::Value {
    let mut report: serde_json::Value = serde_json::from_str(out).unwrap();
    report.as_object_mut().unwrap().remove("generated_at");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_exports_counts_reports_and_closes_as_the_local_copy_does() {
    let binary = support::process::archiver_binary();
    let dir = tempfile::tempdir().unwrap();
    let mut archiver = Archiver {
        binary,
        dir: examples::copy_into(dir.path()),
        env: Vec::new(),
    };
    archiver.expect(0, &["run", "--config", "archiver.toml", "--day", DAY]);
    let store = dir.path().join("example-output/archive");
    let big = write_big_email(&store);

    let stack = LocalStack::start_with_stack(&["RetentionDays=1"]).await;
    let s3 = S3Store::client(&stack.aws);
    let archive = stack.output("ArchiveBucketName").to_owned();
    let other = stack.output("ConfigBucketName").to_owned();
    // The archive bucket holds the store at its root, as deployed; the
    // other bucket below `example-output/archive/`.
    upload_dir(&s3, &archive, &store, &store).await;
    upload_dir(&s3, &other, dir.path(), &store).await;
    archiver.env = [
        ("AWS_ENDPOINT_URL", stack.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let in_bucket = format!("s3://{archive}");
    let below_prefix = format!("s3://{other}/example-output/archive/");

    // Export: the same bytes from the directory, the bucket and the prefix.
    let export = |store: &[&str], custodian: &str, out: &str| {
        let mut args = vec!["export"];
        args.extend_from_slice(store);
        args.extend_from_slice(&[
            "--custodian",
            custodian,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--out",
            out,
        ]);
        let ran = archiver.expect(0, &args);
        (fs::read(archiver.dir.join(out)).unwrap(), ran)
    };
    let (local, from_dir) = export(&["--config", "archiver.toml"], CUSTODIAN, "local.zip");
    let (from_bucket, ran) = export(&["--store", &in_bucket], CUSTODIAN, "bucket.zip");
    eprintln!(
        "export with a {} MiB e-mail: peak {} KiB from the directory, {} KiB from S3",
        BIG_EMAIL_BYTES >> 20,
        from_dir.peak_kib,
        ran.peak_kib
    );
    // Held whole, the e-mail alone would take more.
    assert!(
        ran.peak_kib < (BIG_EMAIL_BYTES as u64 >> 10) * 3 / 4,
        "export from S3 peaked at {} KiB with a {} MiB e-mail: it was not streamed",
        ran.peak_kib,
        BIG_EMAIL_BYTES >> 20
    );
    let (below, _) = export(
        &["--config", "archiver.toml", "--store", &below_prefix],
        "07400 123001",
        "prefix.zip",
    );
    let names: Vec<String> = {
        let zip = zip::ZipArchive::new(std::io::Cursor::new(&local)).unwrap();
        zip.file_names()
            .map(|name| name.unwrap().into_owned())
            .collect()
    };
    assert!(names.contains(&big), "{names:?}");
    assert!(names.len() > 3, "{names:?}");
    assert!(
        from_bucket == local,
        "the bucket's bundle differs from the directory's"
    );
    assert!(
        below == local,
        "the prefix's bundle differs from the directory's"
    );
    let verified = archiver.expect(0, &["export", "--verify", "bucket.zip"]);
    assert!(
        verified.stdout.contains("every file matches the manifest"),
        "{}",
        verified.stdout
    );

    // Status: the same counts.
    let status = |store: &[&str]| -> serde_json::Value {
        let mut args = vec!["status", "--json"];
        args.extend_from_slice(store);
        serde_json::from_str(&archiver.expect(0, &args).stdout).unwrap()
    };
    let counts = status(&["--config", "archiver.toml"]);
    assert_eq!(counts["copies_delivered"], 41, "{counts}");
    assert_eq!(status(&["--store", &in_bucket]), counts);
    assert_eq!(status(&["--store", &below_prefix]), counts);
    // The deployment's dead-letter queues: one empty, one holding a message
    // that failed every retry (exit 3, its depth shown).
    let sqs = aws_sdk_sqs::Client::new(&stack.aws);
    let deliver_dlq = stack.output("DeliverDeadLetterQueueUrl").to_owned();
    let convert_dlq = stack.output("ConvertDeadLetterQueueUrl").to_owned();
    sqs.send_message()
        .queue_url(&convert_dlq)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let ran = archiver.run(&[
        "status",
        "--store",
        &in_bucket,
        "--dead-letter-queue",
        &deliver_dlq,
        "--dead-letter-queue",
        &convert_dlq,
    ]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout
            .contains(&format!("dead letters:         1 in {convert_dlq}")),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains(&format!("dead letters:         0 in {deliver_dlq}")),
        "{}",
        ran.stdout
    );

    // Report: the same report, stored in the bucket.
    let local_report = archiver.run(&[
        "report",
        "--config",
        "archiver.toml",
        "--day",
        DAY,
        "--json",
    ]);
    let bucket_report = archiver.run(&["report", "--store", &in_bucket, "--day", DAY, "--json"]);
    assert!(
        local_report.code == 0 || local_report.code == 2,
        "{}",
        local_report.stderr
    );
    assert_eq!(
        bucket_report.code, local_report.code,
        "{}",
        bucket_report.stderr
    );
    assert_eq!(
        report_json(&bucket_report.stdout),
        report_json(&local_report.stdout)
    );
    let stored = keys(&s3, &archive, &format!("reports/{DAY}/")).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        bucket_report
            .stderr
            .contains(&format!("{in_bucket}/reports/{DAY}/")),
        "{}",
        bucket_report.stderr
    );

    // Reconcile closes the day with the manifest the directory gets;
    // verify checks it in the bucket.
    let local_head = head(
        &archiver
            .expect(0, &["reconcile", "--config", "archiver.toml", "--day", DAY])
            .stdout,
    );
    let bucket_head = head(
        &archiver
            .expect(0, &["reconcile", "--store", &in_bucket, "--day", DAY])
            .stdout,
    );
    assert_eq!(bucket_head, local_head);
    // A day without a raw batch is left to the function, which knows
    // whether collect ran (its claims are in the deployment's zone).
    let empty = archiver.expect(
        2,
        &["reconcile", "--store", &in_bucket, "--day", "2026-11-20"],
    );
    assert!(
        empty.stdout.contains("has no raw batch"),
        "{}",
        empty.stdout
    );
    assert_eq!(keys(&s3, &archive, "manifest/").await.len(), 1);
    let verified = archiver.expect(
        0,
        &["verify", "--store", &in_bucket, "--head", &bucket_head],
    );
    assert!(
        verified
            .stdout
            .contains("1 manifest(s) verified, 0 difference(s)"),
        "{}",
        verified.stdout
    );
}
