//! The log subscribers of the `archiver` command and the Lambda functions.
//!
//! Whatever filter the environment asks for (`ARCHIVER_LOG`, `RUST_LOG`,
//! `AWS_LAMBDA_LOG_LEVEL`), no line carries what crosses the wire: the IMAP
//! client logs every command and answer (`LOGIN` with the password, the
//! base64 XOAUTH2 string with the token), and the AWS SDK logs whole HTTP
//! requests (the EMLs and raw batches stored in S3, that is message text)
//! at TRACE. Those targets are capped by a filter that the environment's
//! directives cannot lift, however specific they are.

use tracing::level_filters::LevelFilter;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A subscriber ready to install.
type Boxed = Box<dyn Subscriber + Send + Sync>;

/// Targets (and the targets under them) that log wire data, with the most
/// they may log whatever the filter says.
const CAPPED: [(&str, LevelFilter); 4] = [
    // Every command and answer, at TRACE through `log`: `LOGIN "user"
    // "password"`, the XOAUTH2 string.
    ("async_imap", LevelFilter::OFF),
    // The IMAP parser under it; it logs nothing today, and must not start.
    ("imap_proto", LevelFilter::OFF),
    // TRACE: every HTTP request with its body (S3 PutObject: EMLs, raw
    // batches), and response bodies when `LOG_SENSITIVE_BODIES` is set
    // (Secrets Manager: the IMAP secret).
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    // TRACE: every request it signs, body included.
    ("aws_sigv4", LevelFilter::DEBUG),
];

/// Whether a span or event may be recorded at all: not above its target's
/// cap.
fn allowed(metadata: &Metadata<'_>) -> bool {
    CAPPED
        .iter()
        .find(|(target, _)| metadata.target().starts_with(target))
        .is_none_or(|(_, most)| *metadata.level() <= *most)
}

/// A subscriber the capped targets cannot log through: `subscriber` under
/// a filter that drops what [`allowed`] refuses before any other filter
/// is asked.
fn capped<S>(subscriber: S) -> Boxed
where
    S: Subscriber + Send + Sync,
{
    Box::new(subscriber.with(filter_fn(allowed)))
}

/// Installs `subscriber` for the whole process, with the bridge from the
/// `log` crate (async-imap, reqwest and rustls log through it).
///
/// # Panics
///
/// When a global subscriber is installed already.
fn install(subscriber: Boxed) {
    subscriber.init();
}

/// How the Lambda functions log, read from Lambda's advanced logging
/// controls as `lambda_runtime::tracing::init_default_subscriber` reads
/// them.
#[derive(Debug)]
pub struct LambdaLogging {
    /// `RUST_LOG`'s directives over a default level: `AWS_LAMBDA_LOG_LEVEL`,
    /// else `RUST_LOG` when it is a level, else INFO.
    pub filter: EnvFilter,
    /// JSON lines (`AWS_LAMBDA_LOG_FORMAT=JSON`), else text.
    pub json: bool,
}

impl LambdaLogging {
    /// The settings from the function's environment.
    pub fn from_env() -> LambdaLogging {
        let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
        let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|_| std::env::var("RUST_LOG"))
            .ok()
            .and_then(|level| level.parse::<LevelFilter>().ok())
            .unwrap_or(LevelFilter::INFO);
        LambdaLogging {
            filter: EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy(),
            json: format.eq_ignore_ascii_case("json"),
        }
    }

    /// The subscriber: the runtime's default lines (no time and no
    /// target: Lambda adds the time) to `writer`, the capped targets held
    /// to their caps.
    fn subscriber<W>(self, writer: W) -> Boxed
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let builder = tracing_subscriber::fmt()
            .with_target(false)
            .without_time()
            .with_env_filter(self.filter)
            .with_writer(writer);
        if self.json {
            capped(builder.json().finish())
        } else {
            capped(builder.finish())
        }
    }

    /// Installs the subscriber for the whole process, writing to `writer`.
    ///
    /// # Panics
    ///
    /// When a global subscriber is installed already.
    pub fn init<W>(self, writer: W)
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        install(self.subscriber(writer));
    }
}

/// Installs the Lambda functions' subscriber: [`LambdaLogging::from_env`],
/// to stdout. Each function calls it first, in place of
/// `lambda_runtime::tracing::init_default_subscriber`.
pub fn init_lambda() {
    LambdaLogging::from_env().init(std::io::stdout);
}

/// The `archiver` command's subscriber: text lines with time and target,
/// coloured when `colours`, filtered by `filter`, to `writer`, the capped
/// targets held to their caps.
fn cli_subscriber<W>(filter: EnvFilter, writer: W, colours: bool) -> Boxed
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    capped(
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(colours)
            .with_writer(writer)
            .finish(),
    )
}

/// Installs the `archiver` command's subscriber: `filter` (from
/// `ARCHIVER_LOG`), text lines to stderr, in colour only when stderr is a
/// terminal (a file or a pipe gets plain text).
pub fn init_cli(filter: EnvFilter) {
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    install(cli_subscriber(filter, std::io::stderr, colours));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `MakeWriter` that keeps everything written to it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What each subscriber writes of events from the capped targets and
    /// of ours, under `directives` (`RUST_LOG`, `ARCHIVER_LOG`).
    fn logged(directives: &str) -> Vec<String> {
        let builders: [fn(EnvFilter, Captured) -> Boxed; 3] = [
            |filter, out| cli_subscriber(filter, out, false),
            |filter, out| {
                LambdaLogging {
                    filter,
                    json: false,
                }
                .subscriber(out)
            },
            |filter, out| LambdaLogging { filter, json: true }.subscriber(out),
        ];
        builders
            .iter()
            .map(|build| {
                let out = Captured::default();
                let subscriber = build(EnvFilter::new(directives), out.clone());
                tracing::subscriber::with_default(subscriber, || {
                    let span = tracing::info_span!("invocation");
                    let _entered = span.enter();
                    tracing::trace!(target: "async_imap::imap_stream", "LOGIN \"u\" \"hunter2\"");
                    tracing::error!(target: "async_imap", "hunter2 at error");
                    tracing::trace!(target: "imap_proto::parser", "hunter2 parsed");
                    tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "body hunter2");
                    tracing::trace!(target: "aws_sigv4::http_request::sign", "signing hunter2");
                    tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "retrying");
                    tracing::trace!(target: "shared::deliver", "ours");
                });
                out.text()
            })
            .collect()
    }

    #[test]
    fn wire_data_is_never_logged_whatever_the_filter_says() {
        for directives in [
            "trace",
            "async_imap=trace,imap_proto=trace,aws_smithy_runtime=trace,aws_sigv4=trace,trace",
            "async_imap::imap_stream=trace,imap_proto::parser=trace,\
             aws_smithy_runtime::client::orchestrator=trace,aws_sigv4::http_request=trace,trace",
            "[invocation]=trace",
        ] {
            for text in logged(directives) {
                assert!(!text.contains("hunter2"), "{directives}: {text}");
                assert!(text.contains("ours"), "{directives}: {text}");
                assert!(text.contains("retrying"), "SDK debug lines stay: {text}");
            }
        }
    }

    #[test]
    fn the_cli_colours_its_lines_only_when_asked() {
        for colours in [false, true] {
            let out = Captured::default();
            let subscriber = cli_subscriber(EnvFilter::new("warn"), out.clone(), colours);
            tracing::subscriber::with_default(subscriber, || tracing::warn!("a warning"));
            assert!(out.text().contains("a warning"));
            assert_eq!(out.text().contains('\u{1b}'), colours, "{:?}", out.text());
        }
    }

    #[test]
    fn other_targets_follow_the_filter() {
        for text in logged("warn") {
            assert!(!text.contains("ours"), "{text}");
            assert!(!text.contains("retrying"), "{text}");
        }
    }
}
