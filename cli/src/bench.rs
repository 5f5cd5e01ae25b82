//! `archiver bench`: the speed figures the README records.
//!
//! Pins itself (and the `inspect` child it starts) to one core, generates a
//! synthetic Android export, and reports:
//! - parsing throughput of the export parser alone (MB/s),
//! - `archiver inspect` of the generated file with JSON lines to /dev/null:
//!   wall time and peak memory of that process,
//! - rendering of text items (items/s),
//! - end to end: a generated 10 MB export zip through `archiver run` into
//!   Maildir (items/s and copies/s), run before the pinning, on every core;
//!
//! and, with `--large-media`, the large-media figure instead (see
//! `large_media`).

mod data;
mod end_to_end;
mod large_media;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::Pid;
use shared::item::Item;
use shared::render::{self, RenderInput, RenderOptions};
use shared::sources::whatsapp_export::{self, Chat, ExportContext};

/// Measure a whole run, export parsing and rendering (or memory: --large-media)
///
/// Generates its own data and prints, best of `--runs`: the end-to-end
/// figure (a generated export zip of `--end-to-end-mb` MB of chat text
/// through `archiver run` into Maildir: wall time, items/s, copies/s), the
/// parser's speed on a `--size-mb` MB export (MB/s, and `archiver inspect`'s
/// wall time and peak memory), and rendering speed (items/s). With
/// `--large-media`: peak memory above idle of collect and of a whole run
/// for a zip with a 200 MB and a 1 GB attachment (about 7 GB of temporary
/// disk under TMPDIR). Reads no configuration; everything is written under
/// TMPDIR and removed. Build with `--release` for figures worth comparing,
/// and compare figures taken in one sitting (see the README).
///
/// Exit codes: 0 measured; 1 a step failed (the message says which).
///
/// Example: `cargo run --release -p archiver -- bench --runs 5`.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Size of the generated export in MB (10^6 bytes).
    #[arg(long, default_value_t = 100)]
    size_mb: usize,
    /// Text items to render.
    #[arg(long, default_value_t = 200_000)]
    render_items: usize,
    /// Repetitions; the best run is reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Size of the chat text of the end-to-end export in MB (0: skip it).
    #[arg(long, default_value_t = 10)]
    end_to_end_mb: usize,
    /// Measure peak memory above idle for a generated export with a 200 MB
    /// and a 1 GB attachment (about 7 GB of temporary disk) instead.
    #[arg(long)]
    large_media: bool,
    /// The large-media figure's child: collect alone over this config.
    #[arg(long, hide = true)]
    collect_only: Option<std::path::PathBuf>,
    /// The large-media figure's measuring process: runs `archiver <ARGS>`
    /// and prints its peak resident set in KiB.
    #[arg(long, hide = true, requires = "command")]
    peak_rss: bool,
    /// The command `--peak-rss` measures.
    #[arg(last = true, hide = true)]
    command: Vec<String>,
}

const TZ: chrono_tz::Tz = chrono_tz::Europe::London;

/// The domain of the delivery benchmark's mailboxes (`bench00@corp.example`),
/// accepted as a custodian domain.
const BENCH_DOMAIN: &str = "corp.example";

/// Runs the benchmarks and prints the figures.
pub fn bench(args: &Args) -> crate::CliResult {
    if args.peak_rss {
        large_media::peak_rss_of(&args.command)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(config) = &args.collect_only {
        large_media::collect_only(config)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.end_to_end_mb > 0 && !args.large_media {
        let dir = tempfile::Builder::new()
            .prefix("archiver-bench-e2e-")
            .tempdir()?;
        let figures = end_to_end::run(dir.path(), args.end_to_end_mb * 1_000_000)?;
        let secs = figures.wall.as_secs_f64();
        println!(
            "end to end:      {:.1} MB export zip ({} attachments), {} items, {} Maildir copies through `archiver run` in {secs:.2} s = {:.0} items/s, {:.0} copies/s",
            figures.text_bytes as f64 / 1e6,
            figures.attachments,
            figures.items,
            figures.copies,
            figures.items as f64 / secs,
            figures.copies as f64 / secs,
        );
    }
    pin_to_one_core()?;
    if args.large_media {
        large_media::run()?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = data::generate_android_export(args.size_mb * 1_000_000, 7);
    let mb = text.len() as f64 / 1e6;
    let ctx = ExportContext {
        custodian: "+447700900001",
        file_name: "WhatsApp Chat with Bench.txt",
        tz: TZ,
        date_order: None,
        custodian_names: &[],
    };
    let no_media = |_: &str| None;

    let mut items = 0u64;
    let parse = best_of(args.runs, || {
        items = 0;
        whatsapp_export::parse_chat(&text, &ctx, &no_media, &mut |_| items += 1)
            .expect("generated export parses");
    });
    println!(
        "export parsing:  {mb:.1} MB, {items} items in {:.3} s = {:.0} MB/s (parser only)",
        parse.as_secs_f64(),
        mb / parse.as_secs_f64()
    );

    let dir = std::env::temp_dir().join(format!("archiver-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("WhatsApp Chat with Bench.txt");
    std::fs::write(&file, &text)?;
    let inspect = inspect_child(&file, args.runs);
    std::fs::remove_dir_all(&dir)?;
    let (wall, peak_kb) = inspect?;
    println!(
        "archiver inspect: {mb:.1} MB export, JSON lines to /dev/null in {:.3} s ({:.0} MB/s), peak memory {:.0} MB",
        wall.as_secs_f64(),
        mb / wall.as_secs_f64(),
        peak_kb as f64 / 1024.0
    );

    let rendered = bench_render(&text, &ctx, args.render_items, args.runs);
    println!(
        "rendering:       {} text items in {:.3} s = {:.0} items/s",
        rendered.0,
        rendered.1.as_secs_f64(),
        rendered.0 as f64 / rendered.1.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn best_of(runs: u32, mut f: impl FnMut()) -> Duration {
    (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

/// Times `archiver inspect` in a child process; returns the best wall time
/// and the children's peak resident memory in KiB.
fn inspect_child(file: &Path, runs: u32) -> Result<(Duration, i64), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let mut best = Duration::MAX;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let status = Command::new(&exe)
            .arg("inspect")
            .arg(file)
            .args(["--tz", TZ.name(), "--custodian", "+447700900001"])
            .stdout(Stdio::null())
            .status()?;
        best = best.min(start.elapsed());
        if !status.success() {
            return Err(format!("archiver inspect failed: {status}").into());
        }
    }
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    Ok((best, usage.max_rss()))
}

/// Renders the plain text messages of the export, cycling until `count`.
fn bench_render(text: &str, ctx: &ExportContext<'_>, count: usize, runs: u32) -> (usize, Duration) {
    let chat = Chat::prepare(text, ctx).expect("generated export parses");
    let mut items: Vec<Item<'_>> = Vec::new();
    chat.items(&|_| None, |item| {
        if items.len() < count && item.attachments.is_empty() && item.sender.is_some() {
            items.push(item);
        }
    });
    let opts = RenderOptions::default();
    let addresses: Vec<Option<String>> = vec![Some("alice@example.com".to_owned()); 8];
    let mut bytes = 0usize;
    let elapsed = best_of(runs, || {
        for item in &items {
            let input = RenderInput {
                item,
                addresses: &addresses[..item.participants().count().min(addresses.len())],
                files: &[],
                raw_object: Some("raw/whatsapp-export/2026-01-01/bench.jsonl"),
            };
            bytes += render::render(&input, &opts).expect("renders").len();
        }
    });
    std::hint::black_box(bytes);
    (items.len(), elapsed)
}

/// Keeps the benchmark (and its children) on one core, as the targets say.
fn pin_to_one_core() -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(0)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}

/// Measure delivery (messages/s) to the configured target
///
/// Generates one WhatsApp export per mailbox (`bench00@corp.example`, ...,
/// each its own custodian), collects and converts them into a fresh
/// temporary store (not timed), then times delivering every copy to the
/// target of the configuration (`[maildir] path`, `[imap]` or `[smtp]` with
/// `[secrets]`), and prints messages per second. The mailboxes' folders
/// receive real messages: use a test server (`infra/bench-delivery.sh`
/// starts and stops a Dovecot for it).
///
/// Exit codes: 0 measured; 1 the configuration or the target could not be
/// used, or a copy failed (the message says which).
///
/// Example:
///   archiver bench-delivery --config bench.toml --messages 10000 --mailboxes 10
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct DeliveryArgs {
    /// A config whose target (`[imap]` or `[maildir]`) receives the messages.
    #[arg(long, short)]
    config: std::path::PathBuf,
    /// Messages to deliver (about; whole generated exports).
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Mailboxes to spread them over (`bench00@corp.example`, …).
    #[arg(long, default_value_t = 10)]
    mailboxes: usize,
}

/// Generates one export per mailbox (the mailbox is its custodian),
/// collects and converts them into a fresh store (not timed), then times
/// delivering every copy to the configured target.
pub fn bench_delivery(args: &DeliveryArgs) -> crate::CliResult {
    use shared::convert::ConvertOptions;
    use shared::embedded;
    use shared::layout::CollectionDay;
    use shared::mapping::{Mapper, MappingOptions, MappingTable};
    use shared::report::Report;
    use shared::settings::LocalSettings;
    use shared::sources::whatsapp_export::{ExportDrops, ExportOptions};
    use shared::store::LocalDir;

    let settings = LocalSettings::load(&args.config)?;
    let dir = std::env::temp_dir().join(format!("archiver-bench-delivery-{}", std::process::id()));
    let drops = dir.join("drops");
    let per_mailbox = args.messages.div_ceil(args.mailboxes.max(1));
    for n in 0..args.mailboxes {
        let custodian = drops.join(format!("drop/whatsapp-export/bench{n:02}@{BENCH_DOMAIN}"));
        std::fs::create_dir_all(&custodian)?;
        // The generator averages about 143 bytes a message.
        let text = data::generate_android_export(per_mailbox * 143, n as u64);
        std::fs::write(custodian.join("WhatsApp Chat with Bench.txt"), text)?;
    }
    let store = LocalDir::new(dir.join("archive"));
    // Every copy goes to its custodian's mailbox (an address of the
    // custodian domain): no CSV, no id domain.
    let mapping = MappingOptions {
        id_domain: None,
        custodian_domains: vec![BENCH_DOMAIN.to_owned()],
        ..settings.mapping.mapping_options()
    };
    let mapper = Mapper::new(MappingTable::default(), mapping)?;
    let mut prepared = Report::default();
    let mut report = Report::default();
    let runtime = crate::runtime()?;
    let elapsed = runtime.block_on(async {
        // The generated exports' date order is inferred, and nothing is
        // stubbed: delivery alone is measured.
        let opts = ExportOptions {
            date_order: None,
            ..settings.sources.whatsapp_export.export_options()
        };
        let day = CollectionDay(chrono::Utc::now().date_naive());
        let mut source = ExportDrops::new(LocalDir::new(&drops), opts);
        shared::collect::collect_source(&mut source, &store, day, &mut prepared).await?;
        let convert = ConvertOptions {
            max_message_bytes: None,
            ..settings.convert_options()
        };
        embedded::convert_pending(&store, &mapper, &convert, &mut prepared).await?;
        let start = Instant::now();
        match crate::open_target(&settings).await? {
            crate::target::Target::Maildir(mut maildir) => {
                embedded::deliver_pending(&store, &mut maildir, &mut report).await?
            }
            crate::target::Target::Imap(mut imap) => {
                embedded::deliver_pending(&store, &mut imap, &mut report).await?;
                crate::close(&mut imap).await;
            }
            crate::target::Target::Smtp(mut smtp) => {
                embedded::deliver_pending(&store, &mut smtp, &mut report).await?;
                crate::quit(&mut smtp).await;
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(start.elapsed())
    })?;
    std::fs::remove_dir_all(&dir)?;
    if !report.errors.is_empty() {
        return Err(format!("delivery errors: {:?}", report.errors).into());
    }
    let copies = report.copies_delivered();
    println!(
        "delivery:        {copies} messages to {} mailboxes in {:.2} s = {:.0} messages/s (ledgered, exactly once)",
        report.delivered.len(),
        elapsed.as_secs_f64(),
        copies as f64 / elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
