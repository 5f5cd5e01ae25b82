//! The functions' CloudWatch metrics, as Embedded Metric Format (EMF) log
//! lines: one JSON object per line whose `_aws` member tells CloudWatch
//! Logs which of its members are metrics, so that a line a function writes
//! to standard output becomes data points with no API call and no IAM
//! permission.
//!
//! Each function writes its lines once per invocation, from the counts its
//! [`Report`] (or reconcile's outcome) already holds: [`collect`],
//! [`convert`], [`deliver`], [`reconcile`]. The dimensions are few and
//! bounded — the [`Stage`], and for collect and convert the source, whose
//! name is one of the known source kinds or `other` — and the values are
//! numbers only: never a mailbox, a phone number or any message content.
//!
//! Each stage writes one line of totals (dimension `Stage`), and collect
//! and convert one more per source (dimensions `Stage`, `Source`).

use std::fmt;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::item::SourceKind;
use crate::report::Report;

/// The namespace when none is set.
pub const DEFAULT_NAMESPACE: &str = "MobileArchiver";

/// At most this many values of one metric in one line (EMF's limit).
const MAX_VALUES: usize = 100;

/// At most this many characters in a namespace (CloudWatch's limit).
const MAX_NAMESPACE_CHARS: usize = 255;

/// The CloudWatch namespace the metrics go to (`METRICS_NAMESPACE`;
/// template.yaml sets `MobileArchiver/<stack name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

/// Why a namespace is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceError {
    /// Nothing but blanks.
    #[error("the namespace is empty")]
    Empty,
    /// Longer than CloudWatch allows.
    #[error("the namespace has {0} characters; CloudWatch allows at most 255")]
    TooLong(usize),
    /// A character CloudWatch does not allow in a namespace.
    #[error("{0:?} is not allowed in a namespace (letters, digits, spaces and . - _ / # : are)")]
    Character(char),
    /// `AWS/…`, which only AWS services may use.
    #[error("namespaces starting with AWS/ are reserved for AWS services")]
    Reserved,
}

impl Namespace {
    /// `name`, if CloudWatch accepts it as a namespace.
    ///
    /// # Errors
    ///
    /// [`NamespaceError`] naming what is wrong with it.
    pub fn new(name: &str) -> Result<Self, NamespaceError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(NamespaceError::Empty);
        }
        let chars = name.chars().count();
        if chars > MAX_NAMESPACE_CHARS {
            return Err(NamespaceError::TooLong(chars));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " ._-/#:".contains(*c)))
        {
            return Err(NamespaceError::Character(c));
        }
        if name.starts_with("AWS/") {
            return Err(NamespaceError::Reserved);
        }
        Ok(Namespace(name.to_owned()))
    }

    /// The namespace's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Writes `records` to standard output, one EMF line each, stamped
    /// `now` (Lambda sends standard output to the function's log group,
    /// where CloudWatch Logs extracts the metrics).
    pub fn emit(&self, records: &[Record], now: DateTime<Utc>) {
        let mut out = std::io::stdout().lock();
        for record in records {
            if let Err(e) = writeln!(out, "{}", record.render(self, now)) {
                tracing::warn!(error = %e, "metrics could not be written");
                return;
            }
        }
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace(DEFAULT_NAMESPACE.to_owned())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pipeline stage a line is about: the `Stage` dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The collect function.
    Collect,
    /// The convert function.
    Convert,
    /// The deliver function.
    Deliver,
    /// The reconcile function.
    Reconcile,
}

impl Stage {
    /// The dimension value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Collect => "collect",
            Stage::Convert => "convert",
            Stage::Deliver => "deliver",
            Stage::Reconcile => "reconcile",
        }
    }
}

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
}

impl Unit {
    /// CloudWatch's name of the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Every metric the functions write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Items collected (collect), or e-mails written (convert).
    Items,
    /// Raw batches collected (collect) or converted (convert).
    Batches,
    /// Items that mapped to no mailbox (convert).
    Unmapped,
    /// Items whose attachments were replaced by stubs for size (convert).
    Stubbed,
    /// What a stage could not do: collect and convert, each problem
    /// reported (an item, a drop, a batch); deliver, each copy not
    /// delivered; reconcile, each day not reconciled.
    Failures,
    /// Copies delivered now (deliver).
    CopiesDelivered,
    /// Copies found delivered before and skipped (deliver).
    AlreadyDelivered,
    /// For each copy delivered now, from the item's source time to the
    /// end of the invocation that delivered it (deliver).
    DeliveryLatency,
    /// Days reconciled and left open (reconcile).
    DaysOpen,
    /// Days reconciled and closed (reconcile).
    DaysClosed,
    /// Raw batches sent to convert again (reconcile).
    BatchesResent,
    /// Copies sent to deliver again (reconcile).
    CopiesResent,
}

impl Metric {
    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Items => "Items",
            Metric::Batches => "Batches",
            Metric::Unmapped => "Unmapped",
            Metric::Stubbed => "Stubbed",
            Metric::Failures => "Failures",
            Metric::CopiesDelivered => "CopiesDelivered",
            Metric::AlreadyDelivered => "AlreadyDelivered",
            Metric::DeliveryLatency => "DeliveryLatency",
            Metric::DaysOpen => "DaysOpen",
            Metric::DaysClosed => "DaysClosed",
            Metric::BatchesResent => "BatchesResent",
            Metric::CopiesResent => "CopiesResent",
        }
    }

    /// The metric's unit.
    pub fn unit(self) -> Unit {
        match self {
            Metric::DeliveryLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}

/// The `Source` dimension of a source's name: the name when it is one of
/// the known source kinds, else `other`, so that the dimension stays
/// bounded whatever a key under `raw/` says.
fn source_dimension(name: &str) -> &'static str {
    [
        SourceKind::Wecom,
        SourceKind::WhatsappCloud,
        SourceKind::WhatsappExport,
    ]
    .into_iter()
    .map(SourceKind::as_str)
    .find(|known| *known == name)
    .unwrap_or("other")
}

/// One EMF line's content: its dimensions and metric values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The `Stage` dimension.
    pub stage: Stage,
    /// The `Source` dimension, on a line about one source.
    pub source: Option<&'static str>,
    /// Each metric with its values (one, or several for a distribution);
    /// a metric without values is left out.
    pub values: Vec<(Metric, Vec<u64>)>,
}

/// The line as serialized: the `_aws` metadata, then the dimensions and
/// metrics as members.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(flatten)]
    members: Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    /// Milliseconds since the epoch.
    timestamp: i64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [Vec<&'static str>; 1],
    metrics: Vec<Definition>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: &'static str,
}

impl Record {
    fn new(stage: Stage, source: Option<&str>) -> Self {
        Record {
            stage,
            source: source.map(source_dimension),
            values: Vec::new(),
        }
    }

    fn with(mut self, metric: Metric, value: u64) -> Self {
        self.values.push((metric, vec![value]));
        self
    }

    /// The EMF line (without its newline), stamped `now`.
    pub fn render(&self, namespace: &Namespace, now: DateTime<Utc>) -> String {
        let mut dimensions = vec!["Stage"];
        let mut members = Map::new();
        members.insert("Stage".to_owned(), self.stage.as_str().into());
        if let Some(source) = self.source {
            dimensions.push("Source");
            members.insert("Source".to_owned(), source.into());
        }
        let mut metrics = Vec::new();
        for (metric, values) in &self.values {
            let value = match values.as_slice() {
                [] => continue,
                [one] => Value::from(*one),
                many => Value::from(many.to_vec()),
            };
            metrics.push(Definition {
                name: metric.name(),
                unit: metric.unit().as_str(),
            });
            members.insert(metric.name().to_owned(), value);
        }
        let line = Line {
            aws: Metadata {
                timestamp: now.timestamp_millis(),
                cloud_watch_metrics: [Directive {
                    namespace: namespace.as_str(),
                    dimensions: [dimensions],
                    metrics,
                }],
            },
            members,
        };
        serde_json::to_string(&line).expect("an EMF line serializes")
    }
}

/// The collect function's lines: items and batches per source and in
/// all, and the problems reported; `Err` (the run failed before it had a
/// report) is one failure.
pub fn collect<E>(outcome: Result<&Report, E>) -> Vec<Record> {
    let Ok(report) = outcome else {
        return vec![Record::new(Stage::Collect, None).with(Metric::Failures, 1)];
    };
    let mut records = vec![
        Record::new(Stage::Collect, None)
            .with(Metric::Items, report.items_collected)
            .with(Metric::Batches, report.drops_collected)
            .with(Metric::Failures, report.errors.len() as u64),
    ];
    records.extend(report.by_source.iter().map(|(source, counts)| {
        Record::new(Stage::Collect, Some(source))
            .with(Metric::Items, counts.items)
            .with(Metric::Batches, counts.batches)
    }));
    records
}

/// The convert function's lines: e-mails written, unmapped and stubbed
/// items and problems, per source and in all (the total's failures also
/// count messages that named no raw batch).
pub fn convert(report: &Report) -> Vec<Record> {
    let mut records = vec![
        Record::new(Stage::Convert, None)
            .with(Metric::Items, report.emails_written)
            .with(Metric::Batches, report.batches_converted)
            .with(Metric::Unmapped, report.unmapped)
            .with(Metric::Stubbed, report.stubbed_for_size)
            .with(Metric::Failures, report.errors.len() as u64),
    ];
    records.extend(report.converted_by_source.iter().map(|(source, counts)| {
        Record::new(Stage::Convert, Some(source))
            .with(Metric::Items, counts.emails_written)
            .with(Metric::Batches, counts.batches)
            .with(Metric::Unmapped, counts.unmapped)
            .with(Metric::Stubbed, counts.stubbed_for_size)
            .with(Metric::Failures, counts.failures)
    }));
    records
}

/// The deliver function's lines: copies delivered, skipped and failed
/// (`failed`: the messages reported failed, one copy each), and the
/// latency of each copy delivered, from its item's source time to `now`
/// (a line holds at most 100 latencies: more go on further lines).
pub fn deliver(report: &Report, failed: usize, now: DateTime<Utc>) -> Vec<Record> {
    let latencies: Vec<u64> = report
        .delivered_item_times
        .iter()
        .map(|time| (now - *time).num_milliseconds().max(0) as u64)
        .collect();
    let mut chunks = latencies.chunks(MAX_VALUES);
    let mut first = Record::new(Stage::Deliver, None)
        .with(Metric::CopiesDelivered, report.copies_delivered())
        .with(Metric::AlreadyDelivered, report.already_delivered)
        .with(Metric::Failures, failed as u64);
    if let Some(chunk) = chunks.next() {
        first.values.push((Metric::DeliveryLatency, chunk.to_vec()));
    }
    let mut records = vec![first];
    records.extend(chunks.map(|chunk| Record {
        stage: Stage::Deliver,
        source: None,
        values: vec![(Metric::DeliveryLatency, chunk.to_vec())],
    }));
    records
}

/// What a reconcile run did, for its line ([`reconcile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// The run checked its days.
    Days {
        /// Days left open.
        open: u64,
        /// Days closed.
        closed: u64,
        /// Raw batches sent back to convert.
        batches_resent: u64,
        /// Delivery jobs sent back to deliver.
        copies_resent: u64,
    },
    /// The run failed: this many days not reconciled (a run that failed
    /// otherwise is one failure; its other days are then not counted).
    Failed {
        /// The failures.
        failures: u64,
    },
}

/// The reconcile function's line: days left open and closed, what was
/// sent again, and the failures.
pub fn reconcile(run: Reconciled) -> Vec<Record> {
    let record = Record::new(Stage::Reconcile, None);
    let record = match run {
        Reconciled::Days {
            open,
            closed,
            batches_resent,
            copies_resent,
        } => record
            .with(Metric::DaysOpen, open)
            .with(Metric::DaysClosed, closed)
            .with(Metric::BatchesResent, batches_resent)
            .with(Metric::CopiesResent, copies_resent)
            .with(Metric::Failures, 0),
        Reconciled::Failed { failures } => record.with(Metric::Failures, failures),
    };
    vec![record]
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
    }

    fn parsed(record: &Record) -> Value {
        let line = record.render(&Namespace::new("MobileArchiver/test").unwrap(), now());
        assert!(!line.contains('\n'), "{line}");
        serde_json::from_str(&line).unwrap()
    }

    /// The `_aws` directive's dimension set and metric definitions.
    fn directive(line: &Value) -> (Vec<String>, Vec<(String, String)>) {
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], json_ms(now()));
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], "MobileArchiver/test");
        let sets = directive["Dimensions"].as_array().unwrap();
        assert_eq!(sets.len(), 1);
        let dimensions = sets[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect();
        let metrics = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().to_owned(),
                    m["Unit"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (dimensions, metrics)
    }

    fn json_ms(time: DateTime<Utc>) -> Value {
        Value::from(time.timestamp_millis())
    }

    /// A report as a convert invocation leaves it: two sources' batches,
    /// and a message that named no batch.
    fn converted() -> Report {
        let mut report = Report::default();
        let mut wecom = Report {
            batches_converted: 1,
            emails_written: 7,
            unmapped: 2,
            stubbed_for_size: 1,
            ..Report::default()
        };
        wecom.error("raw/wecom/2026-11-21/b1.jsonl: line 3: not an item");
        report.converted("wecom", wecom, false);
        let export = Report {
            batches_converted: 1,
            emails_written: 3,
            ..Report::default()
        };
        report.converted("whatsapp-export", export, true);
        report.error("message m2: raw/whatsapp-export/2026-11-21/b2.jsonl: store down");
        report.error("message m3: not an S3 notification");
        report
    }

    #[test]
    fn a_line_is_one_json_object_naming_its_metrics_units_and_dimensions() {
        let records = convert(&converted());
        let total = parsed(&records[0]);
        let (dimensions, metrics) = directive(&total);
        assert_eq!(dimensions, ["Stage"]);
        assert_eq!(
            metrics,
            [
                ("Items", "Count"),
                ("Batches", "Count"),
                ("Unmapped", "Count"),
                ("Stubbed", "Count"),
                ("Failures", "Count"),
            ]
            .map(|(n, u)| (n.to_owned(), u.to_owned()))
        );
        assert_eq!(total["Stage"], "convert");
        assert_eq!(
            (
                &total["Items"],
                &total["Batches"],
                &total["Unmapped"],
                &total["Stubbed"],
                &total["Failures"]
            ),
            (
                &Value::from(10),
                &Value::from(2),
                &Value::from(2),
                &Value::from(1),
                &Value::from(3)
            )
        );
    }

    #[test]
    fn convert_counts_each_source_on_a_line_of_its_own() {
        let records = convert(&converted());
        assert_eq!(records.len(), 3);
        let wecom = parsed(&records[1]);
        assert_eq!(directive(&wecom).0, ["Stage", "Source"]);
        assert_eq!(
            (&wecom["Stage"], &wecom["Source"]),
            (&"convert".into(), &"wecom".into())
        );
        assert_eq!(wecom["Items"], 7);
        assert_eq!(wecom["Unmapped"], 2);
        assert_eq!(wecom["Stubbed"], 1);
        assert_eq!(wecom["Failures"], 1);
        // The batch that failed as a whole is its source's failure.
        let export = parsed(&records[2]);
        assert_eq!(export["Source"], "whatsapp-export");
        assert_eq!(
            (&export["Items"], &export["Failures"]),
            (&3.into(), &1.into())
        );
    }

    #[test]
    fn collect_counts_items_and_batches_per_source_and_in_all() {
        let mut report = Report::default();
        for items in [9, 5] {
            report.collected("whatsapp-export", items);
        }
        report.collected("wecom", 4);
        report.already_collected("wecom");
        report.error("drop drop/whatsapp-export/x/a.txt: not an export");
        let records = collect::<()>(Ok(&report));
        let lines: Vec<Value> = records.iter().map(parsed).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (
                &lines[0]["Items"],
                &lines[0]["Batches"],
                &lines[0]["Failures"]
            ),
            (&18.into(), &3.into(), &1.into())
        );
        assert_eq!(
            (&lines[1]["Source"], &lines[1]["Items"]),
            (&"wecom".into(), &4.into())
        );
        assert_eq!(
            (
                &lines[2]["Source"],
                &lines[2]["Items"],
                &lines[2]["Batches"]
            ),
            (&"whatsapp-export".into(), &14.into(), &2.into())
        );
        // A run that failed before its report: one failure, nothing else.
        let failed = parsed(&collect(Err::<&Report, _>("store down"))[0]);
        assert_eq!(failed["Failures"], 1);
        assert_eq!(directive(&failed).1.len(), 1);
    }

    #[test]
    fn deliver_gives_the_latency_of_each_copy_from_its_item_time() {
        let mut report = Report::default();
        for (mailbox, minutes) in [("alice@corp.example", 5), ("bob@corp.example", 90)] {
            report.delivered_to(mailbox);
            report
                .delivered_item_times
                .push(now() - chrono::Duration::minutes(minutes));
        }
        report.already_delivered = 3;
        let records = deliver(&report, 1, now());
        assert_eq!(records.len(), 1);
        let line = parsed(&records[0]);
        let (dimensions, metrics) = directive(&line);
        assert_eq!(dimensions, ["Stage"]);
        assert!(metrics.contains(&("DeliveryLatency".to_owned(), "Milliseconds".to_owned())));
        assert_eq!(line["Stage"], "deliver");
        assert_eq!(
            line["DeliveryLatency"],
            serde_json::json!([300_000, 5_400_000])
        );
        assert_eq!(
            (
                &line["CopiesDelivered"],
                &line["AlreadyDelivered"],
                &line["Failures"]
            ),
            (&2.into(), &3.into(), &1.into())
        );
        // The line names no mailbox.
        let text = records[0].render(&Namespace::default(), now());
        assert!(!text.contains("corp.example"), "{text}");
        // Nothing delivered: no latency at all, the counts still.
        let none = parsed(&deliver(&Report::default(), 0, now())[0]);
        assert!(none.get("DeliveryLatency").is_none(), "{none}");
        assert_eq!(none["CopiesDelivered"], 0);
    }

    #[test]
    fn more_than_a_hundred_latencies_go_on_further_lines() {
        let mut report = Report::default();
        for n in 0..250 {
            report.delivered_to("alice@corp.example");
            report
                .delivered_item_times
                .push(now() - chrono::Duration::seconds(n));
        }
        let lines: Vec<Value> = deliver(&report, 0, now()).iter().map(parsed).collect();
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| l["DeliveryLatency"].as_array().unwrap().len())
            .collect();
        assert_eq!(counts, [100, 100, 50]);
        assert_eq!(lines[0]["CopiesDelivered"], 250);
        // The further lines hold the latencies only: the counts are not
        // counted twice.
        assert_eq!(
            directive(&lines[1]).1,
            [("DeliveryLatency".to_owned(), "Milliseconds".to_owned())]
        );
    }

    #[test]
    fn reconcile_counts_days_open_closed_and_failures() {
        let line = parsed(
            &reconcile(Reconciled::Days {
                open: 2,
                closed: 1,
                batches_resent: 2,
                copies_resent: 4,
            })[0],
        );
        assert_eq!(line["Stage"], "reconcile");
        assert_eq!(
            (
                &line["DaysOpen"],
                &line["DaysClosed"],
                &line["BatchesResent"],
                &line["CopiesResent"],
                &line["Failures"]
            ),
            (&2.into(), &1.into(), &2.into(), &4.into(), &0.into())
        );
        let failed = parsed(&reconcile(Reconciled::Failed { failures: 2 })[0]);
        assert_eq!(failed["Failures"], 2);
        assert!(failed.get("DaysOpen").is_none(), "{failed}");
    }

    #[test]
    fn the_source_dimension_is_a_known_source_or_other() {
        let mut report = Report::default();
        report.collected("+447700900001", 1);
        report.collected("whatsapp-cloud", 1);
        let sources: Vec<Value> = collect::<()>(Ok(&report))[1..]
            .iter()
            .map(|r| parsed(r)["Source"].clone())
            .collect();
        assert_eq!(sources, ["other", "whatsapp-cloud"]);
    }

    #[test]
    fn a_namespace_is_one_cloudwatch_accepts() {
        assert_eq!(
            Namespace::new(" MobileArchiver/prod-eu ").unwrap().as_str(),
            "MobileArchiver/prod-eu"
        );
        assert_eq!(Namespace::default().as_str(), DEFAULT_NAMESPACE);
        assert_eq!(Namespace::new("  "), Err(NamespaceError::Empty));
        assert_eq!(Namespace::new("AWS/Lambda"), Err(NamespaceError::Reserved));
        assert_eq!(
            Namespace::new("Mobile\"Archiver"),
            Err(NamespaceError::Character('"'))
        );
        assert_eq!(
            Namespace::new(&"a".repeat(256)),
            Err(NamespaceError::TooLong(256))
        );
    }
}
