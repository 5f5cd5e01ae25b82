//! Crash test of the whole pipeline: the real `archiver run` over ten
//! export drops (the example drops, one of them a zip with media;
//! generated group chats, zips with media and a text, one zip a later
//! export overlapping an earlier one; a drop that is refused) into Maildir
//! is killed with SIGKILL at random points, at least [`QUOTA`] times in
//! each of collect, convert and deliver, then run to completion. Then every
//! job's Message-ID must be in its mailbox's folder exactly once, no
//! temporary file may be left in the store (nor in `TMPDIR`), the Maildir
//! tree outside `tmp/` must equal a clean run's, and the store must equal
//! the store of a clean run over the same drops into a fresh directory
//! (see [`assert_same_store`] for the one field that may differ).
//!
//! Where a kill landed is told by what the store holds once the process is
//! dead: the stages run in order, so a run whose drops are not all
//! checkpointed (`collected/`) was collecting, one whose batches do not all
//! have their job file (`jobs/`) was converting, and one whose batches are
//! not all marked `done/` was delivering. Half the kills aimed at a stage
//! are timed from its start (watched in the store), half from the run's
//! first write in it (an original or medium, a group of EMLs, a message
//! staged in the Maildir's `tmp/` or linked into its `cur/`); the clean
//! run's stage durations scale
//! the delays, and a kill that made no progress widens the next delay of
//! its kind, so that a long unit of work (one drop, one batch) is finished
//! in the end.
//!
//! The kill times come from a seeded generator; the seed is printed, and
//! `CRASH_PIPELINE_SEED=<seed>` runs the same schedule again (the process's
//! own timing still varies). The `archiver` binary is built by cargo from
//! the test (see [`support::process::archiver_binary`]).

#[path = "../cli/src/bench/data.rs"]
mod bench_data;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use shared::jobs::DeliveryJob;
use shared::layout::{Written, ledger_key};

use support::process::archiver_binary;
use support::tree::files_under;

/// Kills at least this many times in each stage.
const QUOTA: usize = 11;

/// Gives up when the kills do not reach the quotas within this many.
const MAX_KILLS: usize = 150;

/// The source every drop is collected by.
const SOURCE: &str = "whatsapp-export";

/// A generated chat export.
struct Generated {
    /// The drop folder (the custodian).
    custodian: &'static str,
    /// The drop's file name: a zip with media, or the chat text.
    file: &'static str,
    /// The chat text's size in bytes.
    bytes: usize,
    /// The generator's seed.
    seed: u64,
}

/// The generated chats; their authors include the two phone numbers of
/// [`MAPPING`]'s last rows. The second Logistics export is a later export
/// of the first (the same seed, so the same first messages): the messages
/// both hold are in two batches and archived once.
const GENERATED: &[Generated] = &[
    Generated {
        custodian: "sales@corp.example",
        file: "WhatsApp Chat - Sales EMEA.zip",
        bytes: 70_000,
        seed: 1,
    },
    Generated {
        custodian: "+447700900001",
        file: "WhatsApp Chat - Key Accounts.zip",
        bytes: 50_000,
        seed: 2,
    },
    Generated {
        custodian: "bob@corp.example",
        file: "WhatsApp Chat - Logistics.zip",
        bytes: 40_000,
        seed: 3,
    },
    Generated {
        custodian: "bob@corp.example",
        file: "WhatsApp Chat - Logistics (1).zip",
        bytes: 50_000,
        seed: 3,
    },
    Generated {
        custodian: "dan@corp.example",
        file: "WhatsApp Chat - Pricing.txt",
        bytes: 40_000,
        seed: 4,
    },
];

/// A drop that cannot be read (not UTF-8): (custodian, file name, bytes).
/// It is refused once, its reason recorded under `failed/drops/`.
const REFUSED: (&str, &str, &[u8]) = (
    "evan@corp.example",
    "WhatsApp Chat with Frank.txt",
    b"12/1/25, 9:00\xe2\x80\xafAM - Frank: caf\xe9\n",
);

/// The example mapping plus the two members of the generated chats known
/// by phone number.
const MAPPING: &str = "External User ID,Microsoft 365 User Mailbox\n\
                       +447400123001,Alice.Example@corp.example\n\
                       07400 123456 , bob@corp.example\n\
                       +1 415-555-0123,dan@corp.example\n\
                       Evan Stone,evan@corp.example\n\
                       +44 7700 900123,uk.member@corp.example\n\
                       +1 415-555-0132,us.member@corp.example\n";

/// A pipeline stage, as the store shows it (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Collect,
    Convert,
    Deliver,
    Finished,
}

const STAGES: [Stage; 3] = [Stage::Collect, Stage::Convert, Stage::Deliver];

/// How far a run directory is: checkpoints, job files, `done/` markers,
/// ledger entries and objects in all in the store (temporary files aside),
/// messages in the Maildir's `cur/` folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Progress {
    checkpoints: usize,
    jobs: usize,
    done: usize,
    delivered: usize,
    objects: usize,
    in_cur: usize,
}

impl Progress {
    /// Counts what a run directory holds.
    fn of(setup: &Setup) -> Progress {
        Progress {
            delivered: count_objects(&setup.store.join("delivered")),
            objects: count_objects(&setup.store),
            in_cur: count_matching(&setup.maildir, &|path| {
                path.parent().and_then(Path::file_name) == Some("cur".as_ref())
            }),
            ..Progress::of_stages(&setup.store)
        }
    }

    /// Counts only what tells the stage (cheap enough to poll).
    fn of_stages(store: &Path) -> Progress {
        Progress {
            checkpoints: count_objects(&store.join("collected").join(SOURCE)),
            jobs: count_objects(&store.join("jobs")),
            done: count_objects(&store.join("done")),
            ..Progress::default()
        }
    }

    /// The stage a run over this store is in, against a complete store's
    /// counts.
    fn stage(&self, complete: &Progress) -> Stage {
        if self.checkpoints < complete.checkpoints {
            Stage::Collect
        } else if self.jobs < complete.jobs {
            Stage::Convert
        } else if self.done < complete.done {
            Stage::Deliver
        } else {
            Stage::Finished
        }
    }

    /// The count that grows in `stage` (in deliver, messages in `cur/`
    /// and ledger entries: the `done/` markers are written together at
    /// its end).
    fn of_stage(&self, stage: Stage) -> usize {
        match stage {
            Stage::Collect => self.checkpoints,
            Stage::Convert => self.jobs,
            Stage::Deliver | Stage::Finished => self.in_cur + self.delivered,
        }
    }
}

/// What the kills that landed in one stage found.
#[derive(Debug, Default)]
struct Tally {
    /// Kills.
    kills: usize,
    /// Kills after which the store held objects it did not hold before.
    wrote: usize,
    /// Kills that left a write's temporary file in the store or a message
    /// in a Maildir `tmp/`.
    half_written: usize,
    /// Kills that left more messages in the Maildir than in the ledger
    /// (between a group's commit and its ledger entries).
    unrecorded: usize,
}

/// One run directory: a config, a store, a Maildir tree and a `TMPDIR`,
/// over the shared drops and mapping.
struct Setup {
    config: PathBuf,
    store: PathBuf,
    maildir: PathBuf,
    tmp: PathBuf,
}

impl Setup {
    fn new(dir: &Path, input: &Path) -> Setup {
        let setup = Setup {
            config: dir.join("archiver.toml"),
            store: dir.join("archive"),
            maildir: dir.join("maildir"),
            tmp: dir.join("tmp"),
        };
        fs::create_dir_all(&setup.tmp).unwrap();
        let config = format!(
            "time_zone = \"Europe/London\"\ndefault_region = \"GB\"\n\
             [store]\npath = {:?}\n[drops]\npath = {:?}\n[maildir]\npath = {:?}\n\
             [mapping]\ncsv = {:?}\ncustodian_domains = [\"corp.example\"]\n",
            setup.store,
            input.join("drops"),
            setup.maildir,
            input.join("mapping.csv"),
        );
        fs::write(&setup.config, config).unwrap();
        setup
    }

    /// Starts `archiver run` (output discarded; a run to completion is
    /// started with [`Setup::run`]).
    fn spawn(&self, archiver: &Path) -> Child {
        self.command(archiver)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn command(&self, archiver: &Path) -> Command {
        let mut command = Command::new(archiver);
        command
            .args(["run", "--config"])
            .arg(&self.config)
            .args(["--day", "2026-11-21"])
            // Zip entries are inflated into temporary files here.
            .env("TMPDIR", &self.tmp);
        command
    }

    /// Runs `archiver run` to completion; returns its exit status and
    /// summary.
    fn run(&self, archiver: &Path) -> (ExitStatus, String) {
        let output = self.command(archiver).output().unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status, said)
    }
}

/// The clean run's stage durations, watched from outside.
#[derive(Debug)]
struct Timing {
    collect: Duration,
    convert: Duration,
    deliver: Duration,
}

impl Timing {
    fn of(&self, stage: Stage) -> Duration {
        match stage {
            Stage::Collect => self.collect,
            Stage::Convert => self.convert,
            Stage::Deliver | Stage::Finished => self.deliver,
        }
    }
}

#[test]
fn the_pipeline_survives_sigkill_in_collect_convert_and_deliver() {
    let started = Instant::now();
    let archiver = archiver_binary();
    let seed = std::env::var("CRASH_PIPELINE_SEED")
        .ok()
        .map(|s| s.parse().expect("CRASH_PIPELINE_SEED is a number"))
        .unwrap_or_else(|| {
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
            now.unwrap().as_nanos() as u64
        });
    eprintln!("crash_pipeline: seed {seed} (CRASH_PIPELINE_SEED={seed} to replay)");
    let mut rng = SplitMix64(seed);

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    write_input(&input);

    // The reference: a clean run, its stages timed by watching its store.
    let clean = Setup::new(&dir.path().join("clean"), &input);
    let drops = drops_in(&input);
    let (timing, clean_status, clean_said) = run_watched(&clean, &archiver, drops, drops - 1);
    let complete = Progress::of(&clean);
    eprintln!("crash_pipeline: clean run {timing:?}, store {complete:?}");
    assert!(
        clean_status
            .code()
            .is_some_and(|code| code == 0 || code == 2),
        "the clean run failed ({clean_status}):\n{clean_said}"
    );
    assert_eq!(complete.checkpoints, drops, "{clean_said}");
    // Every drop but the refused one is a batch with its jobs.
    assert_eq!(complete.jobs, drops - 1, "{clean_said}");
    assert_eq!(complete.done, complete.jobs, "{clean_said}");
    assert!(
        clean_said.contains("drops refused:        1"),
        "{clean_said}"
    );
    let jobs = read_jobs(&clean.store);

    // The crashed run.
    let mut crashed = Setup::new(&dir.path().join("crashed"), &input);
    // A run that finishes between kills before every stage has its quota
    // starts the crashed run over, in a fresh directory.
    let mut attempt = 0;
    let mut tally: BTreeMap<Stage, Tally> = BTreeMap::new();
    // The longest delay of each stage's kills timed from its start and of
    // those timed from a first write, widened after a kill that made no
    // progress there.
    let mut window: BTreeMap<(Stage, bool), Duration> = BTreeMap::new();
    let mut total = 0;
    loop {
        let before = Progress::of(&crashed);
        let now = before.stage(&complete);
        let Some(&aim) = STAGES
            .iter()
            .find(|&&stage| stage >= now && tally.get(&stage).map_or(0, |t| t.kills) < QUOTA)
        else {
            if STAGES
                .iter()
                .all(|stage| tally.get(stage).is_some_and(|t| t.kills >= QUOTA))
            {
                break;
            }
            attempt += 1;
            eprintln!("crash_pipeline: the run finished before every stage's quota; starting over");
            crashed = Setup::new(&dir.path().join(format!("crashed-{attempt}")), &input);
            continue;
        };
        assert!(
            total < MAX_KILLS,
            "{total} kills did not reach {QUOTA} in each stage: {tally:?} (seed {seed})"
        );
        // Every other kill of a stage is timed from the run's first write
        // in it (a store write, a message staged in the Maildir), so that
        // many land while objects are being written and committed.
        let on_write = tally.get(&aim).map_or(0, |t| t.kills) % 2 == 1;
        let base = base_window(&timing, aim, on_write);
        let longest = *window.entry((aim, on_write)).or_insert(base);
        let spawned = SystemTime::now();
        let mut marks = Marks::of(&crashed, aim, spawned);
        let mut child = crashed.spawn(&archiver);
        if aim > now {
            wait_for_stage(&crashed.store, &complete, aim, &mut child);
            marks = Marks::of(&crashed, aim, spawned);
        }
        if on_write {
            wait_for_write(&crashed, &complete, aim, spawned, &marks, &mut child);
        }
        let delay = longest.mul_f64(rng.fraction());
        std::thread::sleep(delay);
        if let Some(status) = child.try_wait().unwrap() {
            // Ended before the kill: the next round sees how far it got.
            eprintln!("crash_pipeline: aimed at {aim:?}, the run ended first ({status})");
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let after = Progress::of(&crashed);
        let landed = after.stage(&complete);
        if landed == Stage::Finished {
            // The kill came after the last write (the run was printing its
            // report): like a run that ended first.
            eprintln!("crash_pipeline: aimed at {aim:?}, the run had finished its work");
            continue;
        }
        total += 1;
        if landed == aim {
            let stalled = now == aim && after.of_stage(aim) == before.of_stage(aim);
            let next = if stalled { longest.mul_f64(1.5) } else { base };
            window.insert((aim, on_write), next);
        }
        let half_written = count_matching(&crashed.store, &is_store_temporary) > 0
            || count_matching(&crashed.maildir, &in_maildir_tmp) > 0;
        let t = tally.entry(landed).or_default();
        t.kills += 1;
        t.wrote += usize::from(after.objects > before.objects);
        t.half_written += usize::from(half_written);
        t.unrecorded += usize::from(after.in_cur > after.delivered);
        eprintln!(
            "crash_pipeline: kill {total} aimed at {aim:?} {delay:?} after {}, landed in \
             {landed:?}: \
             {before:?} -> {after:?}",
            if on_write {
                "its first write"
            } else {
                "its start"
            }
        );
    }
    // The clean run's errors (the refused drop, the custodian missing from
    // the mapping) are reported by whichever run met them: the run to
    // completion may repeat some of them, and must report nothing else.
    let (status, said) = crashed.run(&archiver);
    assert!(
        status.code().is_some_and(|code| code == 0 || code == 2),
        "the run to completion failed ({status}):\n{said}"
    );
    for error in errors_in(&said) {
        assert!(
            errors_in(&clean_said).contains(&error),
            "the run to completion reported an error the clean run did not: {error}\n{said}"
        );
    }
    eprintln!("crash_pipeline: the run to completion said:\n{said}");
    eprintln!(
        "crash_pipeline: {total} kills, {tally:?}; {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
    for stage in STAGES {
        assert!(
            tally.get(&stage).is_some_and(|t| t.kills >= QUOTA),
            "{tally:?}"
        );
    }

    assert_each_exactly_once(&crashed.maildir, &jobs);
    assert_eq!(
        count_matching(&crashed.store, &is_store_temporary),
        0,
        "temporary files left in the store"
    );
    assert_eq!(
        maildir_outside_tmp(&crashed.maildir),
        maildir_outside_tmp(&clean.maildir),
        "the Maildir trees (tmp/ aside) differ"
    );
    assert_same_store(&crashed.store, &clean.store);
    assert_eq!(
        fs::read_dir(&crashed.tmp).unwrap().count(),
        0,
        "files left in TMPDIR"
    );
}

/// The lines of a summary's `errors:` list.
fn errors_in(summary: &str) -> Vec<String> {
    summary
        .lines()
        .skip_while(|line| !line.starts_with("errors:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// Writes the drops (`input/drops/drop/whatsapp-export/<custodian>/<file>`:
/// the example drops, [`GENERATED`] and [`REFUSED`]) and
/// `input/mapping.csv`.
fn write_input(input: &Path) {
    let drops = input.join("drops/drop").join(SOURCE);
    support::examples::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/drop")
            .join(SOURCE),
        &drops,
    );
    for chat in GENERATED {
        let text = bench_data::generate_android_export(chat.bytes, chat.seed);
        let folder = drops.join(chat.custodian);
        fs::create_dir_all(&folder).unwrap();
        let path = folder.join(chat.file);
        match chat.file.strip_suffix(".zip") {
            Some(name) => write_zip(&path, &format!("{name}.txt"), &text),
            None => fs::write(path, text).unwrap(),
        }
    }
    let (custodian, file, bytes) = REFUSED;
    fs::create_dir_all(drops.join(custodian)).unwrap();
    fs::write(drops.join(custodian).join(file), bytes).unwrap();
    fs::write(input.join("mapping.csv"), MAPPING).unwrap();
}

/// How many drops `input` holds.
fn drops_in(input: &Path) -> usize {
    count_matching(&input.join("drops"), &|_| true)
}

/// Writes an export zip: the chat text and 2 to 40 KB of bytes for every
/// attachment it names (as `archiver bench` does), the same for the same
/// name.
fn write_zip(path: &Path, chat: &str, text: &str) {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    zip.start_file(chat, zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(text.as_bytes()).unwrap();
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let names: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_suffix(" (file attached)"))
        .filter_map(|head| head.rsplit_once(": ").map(|(_, name)| name))
        .collect();
    for name in names {
        zip.start_file(name, stored).unwrap();
        // FNV-1a of the name.
        let salt = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        let size = 2_000 + (salt % 38_000) as usize;
        let content: Vec<u8> = (0..size).map(|i| (i as u64 ^ salt) as u8).collect();
        zip.write_all(&content).unwrap();
    }
    zip.finish().unwrap();
}

/// Runs `archiver run` to completion while watching its store for the
/// ends of collect and convert (a checkpoint per drop, a job file per
/// batch); returns the stage durations, the exit
/// status and what the run said.
fn run_watched(
    setup: &Setup,
    archiver: &Path,
    drops: usize,
    batches: usize,
) -> (Timing, ExitStatus, String) {
    let mut child = setup
        .command(archiver)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let (mut collected, mut converted) = (None, None);
    while child.try_wait().unwrap().is_none() {
        if collected.is_none()
            && count_objects(&setup.store.join("collected").join(SOURCE)) == drops
        {
            collected = Some(start.elapsed());
        }
        if collected.is_some()
            && converted.is_none()
            && count_objects(&setup.store.join("jobs")) == batches
        {
            converted = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let end = start.elapsed();
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let collected = collected.unwrap_or(end);
    let converted = converted.unwrap_or(end);
    let timing = Timing {
        collect: collected,
        convert: converted - collected,
        deliver: end - converted,
    };
    (timing, output.status, said)
}

/// The longest delay of a kill at first, after a stage's start or first
/// write: a tenth of the clean run's stage, so that a stage takes several
/// kills to get through; after collect's first write, 10 ms (its drops,
/// once the first is read, are stored in a few tens of milliseconds).
fn base_window(timing: &Timing, stage: Stage, on_write: bool) -> Duration {
    match (stage, on_write) {
        (Stage::Collect, true) => Duration::from_millis(10),
        // At most a twentieth of the stage: the kills that make progress
        // must not use its whole length up before the quota is met.
        _ => (timing.of(stage) / 20).max(Duration::from_millis(20)),
    }
}

/// Waits until the store shows `stage` begun, or the process ended.
fn wait_for_stage(store: &Path, complete: &Progress, stage: Stage, child: &mut Child) {
    while Progress::of_stages(store).stage(complete) < stage && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What a run has written in a stage so far: the objects of the store's
/// folders the stage writes (`raw/` and `media/` in collect, `eml/` in
/// convert) and the names of their temporary files; in deliver, the
/// messages staged in the Maildir's `tmp/` folders, or linked into its
/// `cur/` folders (a copy that is the stored EML), since the run began.
#[derive(Debug, PartialEq, Eq)]
struct Marks {
    objects: usize,
    temporary: BTreeSet<PathBuf>,
}

impl Marks {
    fn of(setup: &Setup, stage: Stage, since: SystemTime) -> Marks {
        let dirs: &[&str] = match stage {
            Stage::Collect => &["raw", "media"],
            Stage::Convert => &["eml"],
            Stage::Deliver | Stage::Finished => &[],
        };
        let mut marks = Marks {
            objects: 0,
            temporary: BTreeSet::new(),
        };
        for dir in dirs {
            for path in files_under(&setup.store.join(dir)) {
                if is_store_temporary(&path) {
                    marks.temporary.insert(path);
                } else {
                    marks.objects += 1;
                }
            }
        }
        if matches!(stage, Stage::Deliver) {
            // Message files keep their names from run to run: a leftover
            // of a killed run is told by its age.
            let staged = files_under(&setup.maildir)
                .into_iter()
                .filter(|path| in_maildir_tmp(path) || in_maildir_cur(path))
                .filter(|path| fs::metadata(path).is_ok_and(|m| changed(&m) >= since));
            marks.temporary.extend(staged);
        }
        marks
    }

    /// Whether these marks show a write that `before` does not.
    fn wrote_since(&self, before: &Marks) -> bool {
        self.objects > before.objects || !self.temporary.is_subset(&before.temporary)
    }
}

/// When a file's status last changed (a Maildir writer sets the
/// modification time to the message's own).
fn changed(metadata: &fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let nanos = u32::try_from(metadata.ctime_nsec()).unwrap_or(0);
    let secs = u64::try_from(metadata.ctime()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

/// Waits until the running process writes in `stage` (more than `before`
/// shows), or leaves the stage, or ends.
fn wait_for_write(
    setup: &Setup,
    complete: &Progress,
    stage: Stage,
    since: SystemTime,
    before: &Marks,
    child: &mut Child,
) {
    while !Marks::of(setup, stage, since).wrote_since(before)
        && Progress::of_stages(&setup.store).stage(complete) == stage
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every job of the clean run's job files.
fn read_jobs(store: &Path) -> Vec<DeliveryJob> {
    let mut jobs = Vec::new();
    for path in files_under(&store.join("jobs")) {
        for line in fs::read_to_string(path).unwrap().lines() {
            jobs.push(serde_json::from_str(line).unwrap());
        }
    }
    assert!(!jobs.is_empty());
    jobs
}

/// Checks that every job's Message-ID is in its mailbox's folder (`cur/`)
/// exactly once, and that the folders hold nothing else.
fn assert_each_exactly_once(maildir: &Path, jobs: &[DeliveryJob]) {
    let mut expected: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for job in jobs {
        let folder = (job.mailbox.clone(), job.folder.clone());
        expected
            .entry(folder)
            .or_default()
            .insert(job.message_id.clone());
    }
    let mailboxes: BTreeSet<&str> = jobs.iter().map(|job| job.mailbox.as_str()).collect();
    assert!(mailboxes.len() >= 4, "mapped mailboxes: {mailboxes:?}");
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for path in files_under(maildir) {
        let rel = path.strip_prefix(maildir).unwrap();
        let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
        if let [mailbox, folder, "cur", _] = parts.as_slice() {
            let folder = folder.strip_prefix('.').unwrap().to_owned();
            let message_id = message_id_of(&fs::read(&path).unwrap())
                .unwrap_or_else(|| panic!("{} has no Message-ID", path.display()));
            found
                .entry(((*mailbox).to_owned(), folder))
                .or_default()
                .push(message_id);
        }
    }
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the folders delivered to"
    );
    for (folder, mut ids) in found {
        ids.sort();
        let copies = ids.len();
        ids.dedup();
        assert_eq!(copies, ids.len(), "a Message-ID twice in {folder:?}");
        let ids: BTreeSet<String> = ids.into_iter().collect();
        assert_eq!(ids, expected[&folder], "the messages of {folder:?}");
    }
}

/// The Message-ID header of a message, without angle brackets.
fn message_id_of(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let headers = text.split("\r\n\r\n").next()?;
    headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("message-id")
            .then(|| value.trim().trim_matches(['<', '>']).to_owned())
    })
}

/// Every file of a Maildir tree outside the folders' `tmp/`, with its
/// bytes, by path in the tree.
fn maildir_outside_tmp(maildir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(maildir)
        .into_iter()
        .filter(|path| !in_maildir_tmp(path))
        .map(|path| {
            let bytes = fs::read(&path).unwrap();
            (path.strip_prefix(maildir).unwrap().to_owned(), bytes)
        })
        .collect()
}

/// Checks that two stores hold the same keys with the same bytes, except
/// the ledger (`delivered/…`): there the key's own entry is compared, but
/// for the time it was recorded (its `recorded_at`, compared only for
/// being there), and not which other copies were committed with it; and
/// the collect runs' own reports (`collected/reports/`), one per run that
/// got through collect, named by the time it finished, are left out; and
/// collect's fingerprint records (`fingerprints/<day>/collected/`) are
/// compared by what they say ([`same_fingerprints`]). Every other object is
/// compared byte for byte: the checkpoints (`collected/<source>/`), `started/` and
/// `done/` markers carry no time, and nothing else is time-dependent once
/// the collection day is fixed (`--day`).
fn assert_same_store(store: &Path, reference: &Path) {
    let keys = |root: &Path| -> BTreeSet<PathBuf> {
        files_under(root)
            .into_iter()
            .map(|path| path.strip_prefix(root).unwrap().to_owned())
            .filter(|key| key != Path::new(".lock") && !key.starts_with("collected/reports"))
            .collect()
    };
    let (ours, theirs) = (keys(store), keys(reference));
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the store's keys differ from a clean run's: missing {missing:?}, extra {extra:?}"
    );
    let mut differ = Vec::new();
    for key in &ours {
        let (a, b) = (
            fs::read(store.join(key)).unwrap(),
            fs::read(reference.join(key)).unwrap(),
        );
        let same = if key.starts_with("delivered") {
            without_recorded_at(key, &a) == without_recorded_at(key, &b)
        } else if key.starts_with("fingerprints") && key.iter().nth(2) == Some("collected".as_ref())
        {
            same_fingerprints(&a, &b)
        } else {
            a == b
        };
        if !same {
            differ.push(key);
        }
    }
    assert!(
        differ.is_empty(),
        "objects differ from a clean run's: {differ:?}"
    );
}

/// Whether collect's fingerprint record of a batch (`ours`, written by a
/// run that may have been killed before) says what the clean run's
/// (`clean`) says: the same objects, each either fingerprinted alike or,
/// when a killed run had stored it already, named in `stored_before`
/// (collect never reads the archive back; reconcile reads those).
fn same_fingerprints(ours: &[u8], clean: &[u8]) -> bool {
    let (ours, clean): (Written, Written) = (
        serde_json::from_slice(ours).unwrap(),
        serde_json::from_slice(clean).unwrap(),
    );
    let named: BTreeSet<&String> = ours.objects.keys().chain(&ours.stored_before).collect();
    clean.stored_before.is_empty()
        && ours.raw_key == clean.raw_key
        && named == clean.objects.keys().collect()
        && ours
            .objects
            .iter()
            .all(|(key, fingerprint)| clean.objects.get(key) == Some(fingerprint))
}

/// The ledger entry of the key's copy (`delivered/<mailbox>/<hash of its
/// Message-ID>`), as stored, without its `recorded_at` (which must be
/// there). The object may hold the entries of other copies committed with
/// it: which ones depends on where the kills fell, so only the key's own
/// is compared; the others must be entries in (Message-ID, mailbox) order.
fn without_recorded_at(key: &Path, object: &[u8]) -> serde_json::Value {
    let mailbox = key.iter().nth(1).unwrap().to_str().unwrap();
    let lines: Vec<serde_json::Value> = object
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let order: Vec<(&str, &str)> = lines
        .iter()
        .map(|entry| {
            (
                entry["message_id"].as_str().unwrap(),
                entry["mailbox"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "{}: {order:?}",
        key.display()
    );
    let mut entry = lines
        .into_iter()
        .find(|entry| {
            let id = entry["message_id"].as_str().unwrap();
            entry["mailbox"] == mailbox && Path::new(&ledger_key(mailbox, id)) == key
        })
        .unwrap_or_else(|| panic!("{} holds no entry of its own", key.display()));
    let recorded_at = entry.as_object_mut().unwrap().remove("recorded_at");
    assert!(recorded_at.is_some_and(|at| at.is_string()), "{entry}");
    entry
}

/// Objects under `dir` (temporary files aside); none when it is missing.
fn count_objects(dir: &Path) -> usize {
    count_matching(dir, &|path| !is_store_temporary(path))
}

/// A store write's temporary file (`.tmp-*`).
fn is_store_temporary(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(".tmp-"))
}

/// A file in a Maildir folder's `tmp/`.
fn in_maildir_tmp(path: &Path) -> bool {
    path.parent().and_then(Path::file_name) == Some("tmp".as_ref())
}

/// A file in a Maildir folder's `cur/`.
fn in_maildir_cur(path: &Path) -> bool {
    path.parent().and_then(Path::file_name) == Some("cur".as_ref())
}

/// How many files under `dir` match; none when it is missing (or vanishes
/// while it is walked: the process may be renaming).
fn count_matching(dir: &Path, matches: &dyn Fn(&Path) -> bool) -> usize {
    files_under(dir).iter().filter(|path| matches(path)).count()
}

/// A small deterministic random number generator (no extra crate).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..1`.
    fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
