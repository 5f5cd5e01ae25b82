//! template.yaml's security properties, read from the template itself:
//! least privilege for each function (checked against the keys
//! `shared::layout` builds), the archive bucket's denies, the keys and what
//! they encrypt, the optional data-event trail, the alarms on refused
//! drops and an invalid mapping CSV (checked against the log lines
//! lambda_runtime's JSON format writes), and the drop bucket's lifecycle.
//!
//! LocalStack enforces none of this (tests/serverless.rs proves only that
//! the template deploys and the pipeline runs); these tests are what keeps
//! the policies as designed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use chrono::NaiveDate;
use serde_json::{Value, json};
use shared::item::ItemId;
use shared::layout::{self, CollectionDay, DigestKey, ItemDay, RawBatch};
use shared::sources::whatsapp_export::DROP_PREFIX;

use support::template::{Request, Statement, Template, denied, glob};

const FUNCTIONS: [&str; 6] = [
    "CollectFunction",
    "ConvertFunction",
    "DeliverFunction",
    "CaptureFunction",
    "MediaFunction",
    "ReconcileFunction",
];

/// The parameters that deploy the WhatsApp Cloud API functions (capture,
/// media) besides the others: the template these tests read.
const WHATSAPP_CLOUD: [(&str, &str); 2] = [
    (
        "WhatsAppWebhookSecretArn",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:whatsapp-webhook-AbCdEf",
    ),
    (
        "WhatsAppAccessSecretArn",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:whatsapp-access-AbCdEf",
    ),
];

/// template.yaml with every function deployed.
fn template() -> Template {
    Template::with(&WHATSAPP_CLOUD)
}

/// template.yaml with every function deployed, delivering by SMTP.
fn smtp_template() -> Template {
    let mut params = WHATSAPP_CLOUD.to_vec();
    params.extend([
        ("DeliveryTarget", "smtp"),
        ("SmtpUrl", "smtps://smtp.corp.example"),
        ("SmtpSender", "archiver@corp.example"),
        (
            "SmtpSecretArn",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:smtp-AbCdEf",
        ),
    ]);
    Template::with(&params)
}

/// The template with each delivery target: the S3 rights are checked for
/// both.
fn templates() -> [Template; 2] {
    [template(), smtp_template()]
}

/// A webhook body's key in the inbox (capture's only kind of write).
fn inbox_body() -> String {
    layout::inbox_key(
        "whatsapp-cloud",
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        &"ab".repeat(32),
    )
}

/// The tag collect puts on a drop once it is in the archive.
const COLLECTED_TAG: (&str, &str) = ("archiver-collected", "true");

fn batch() -> RawBatch {
    RawBatch {
        source: "whatsapp-export".to_owned(),
        day: CollectionDay(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()),
        id: "ab12".to_owned(),
    }
}

fn item_day() -> ItemDay {
    ItemDay(NaiveDate::from_ymd_opt(2025, 3, 4).unwrap())
}

fn item_id() -> ItemId {
    ItemId::parse("0123456789abcdef0123456789abcdef").unwrap()
}

/// A conversation's day in digest mode.
fn digest() -> DigestKey {
    DigestKey {
        day: item_day(),
        conversation: "0123456789abcdef0123456789abcdef".to_owned(),
    }
}

/// The mark SMTP delivery writes just before a copy goes out.
fn report_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
}

/// A collect run's own record (collect writes it, the daily report reads it).
fn collect_run() -> String {
    layout::collect_run_key(report_day(), "2026-11-22T00:31:07.123Z")
}

/// The record that a day's report was queued for the admin mailbox.
fn report_sent() -> String {
    layout::report_sent_key(report_day(), true)
}

/// A daily report's objects: its JSON, HTML and e-mail (last).
fn report_objects() -> Vec<String> {
    let stem = layout::report_stem(report_day(), "2026-11-22T04:30:01.456Z");
    vec![
        format!("{stem}.json"),
        format!("{stem}.html"),
        format!("{stem}.eml"),
    ]
}

fn sending_mark() -> String {
    layout::sending_key("alice@corp.example", "0123@mobile-archiver")
}

/// Keys each function reads, writes and lists, by S3 action and bucket, as
/// its code builds them (shared/src/layout.rs, the drops source, the
/// mapping source). The template must grant each action on exactly these
/// key prefixes: every key covered, no grant that covers none of them.
fn keys_used(
    function: &str,
    template: &Template,
) -> BTreeMap<(&'static str, &'static str), Vec<String>> {
    let drop = format!("{DROP_PREFIX}+447700900001/WhatsApp Chat with Bob.zip");
    let claim = layout::run_claim_key("2026-11-21T00:30:00Z");
    let eml = layout::eml_key(item_day(), &item_id());
    let ledger = layout::ledger_key("alice@corp.example", "0123@mobile-archiver");
    let mapping = template.parameter_value("MappingKey").unwrap();
    let mut keys = BTreeMap::new();
    match function {
        "CollectFunction" => {
            keys.insert(("s3:GetObject", "DropBucket"), vec![drop.clone()]);
            keys.insert(
                ("s3:ListBucket", "DropBucket"),
                vec![DROP_PREFIX.to_owned(), drop.clone()],
            );
            keys.insert(("s3:GetObjectTagging", "DropBucket"), vec![drop.clone()]);
            keys.insert(("s3:PutObjectTagging", "DropBucket"), vec![drop]);
            keys.insert(
                ("s3:PutObject", "ArchiveBucket"),
                vec![
                    layout::media_key("5d41402abc4b2a76b9719d911017c592"),
                    batch().original_key("WhatsApp Chat with Bob.zip"),
                    batch().key(),
                    layout::checkpoint_key("whatsapp-export", "ab12"),
                    claim.clone(),
                    // A refused drop's copy (collect's failed/drops/<...>).
                    "failed/drops/ab12.json".to_owned(),
                    collect_run(),
                    batch().collected_fingerprints_key(),
                ],
            );
            // Multipart uploads of originals and media, aborted on failure.
            keys.insert(
                ("s3:AbortMultipartUpload", "ArchiveBucket"),
                vec![
                    layout::media_key("5d41402abc4b2a76b9719d911017c592"),
                    batch().original_key("WhatsApp Chat with Bob.zip"),
                ],
            );
            // The claim is read back when another run holds it; checkpoints
            // are listed, never read.
            keys.insert(("s3:GetObject", "ArchiveBucket"), vec![claim.clone()]);
            keys.insert(
                ("s3:ListBucket", "ArchiveBucket"),
                vec![
                    layout::checkpoints_prefix("whatsapp-export"),
                    layout::checkpoint_key("whatsapp-export", "ab12"),
                    // Each source kind lists its own checkpoints.
                    layout::checkpoints_prefix("whatsapp-cloud"),
                    layout::checkpoints_prefix("wecom"),
                    claim,
                    layout::inbox_prefix("whatsapp-cloud"),
                    inbox_body(),
                    layout::media_fetched_key("whatsapp-cloud", "1003383421387256"),
                    layout::media_failed_key("whatsapp-cloud", "1003383421387256"),
                ],
            );
            keys.get_mut(&("s3:GetObject", "ArchiveBucket"))
                .unwrap()
                .extend([
                    inbox_body(),
                    layout::media_fetched_key("whatsapp-cloud", "1003383421387256"),
                    layout::media_failed_key("whatsapp-cloud", "1003383421387256"),
                ]);
        }
        "CaptureFunction" => {
            keys.insert(("s3:PutObject", "ArchiveBucket"), vec![inbox_body()]);
        }
        "MediaFunction" => {
            let media = layout::media_key("5d41402abc4b2a76b9719d911017c592");
            let fetched = layout::media_fetched_key("whatsapp-cloud", "1003383421387256");
            let failed = layout::media_failed_key("whatsapp-cloud", "1003383421387256");
            keys.insert(("s3:GetObject", "ArchiveBucket"), vec![fetched.clone()]);
            keys.insert(("s3:ListBucket", "ArchiveBucket"), vec![fetched.clone()]);
            keys.insert(
                ("s3:PutObject", "ArchiveBucket"),
                vec![media.clone(), fetched, failed],
            );
            keys.insert(("s3:AbortMultipartUpload", "ArchiveBucket"), vec![media]);
        }
        "ConvertFunction" => {
            let media = layout::media_key("5d41402abc4b2a76b9719d911017c592");
            // A new mapping remaps the unmapped items first (shared::remap).
            let unmapped = layout::unmapped_key(item_day(), &item_id());
            let remapped = layout::remapped_key(item_day(), &item_id());
            let applied = layout::mapping_applied_key(&"ab".repeat(32));
            let batch_remapped = layout::remapped_batch_key(&"ab".repeat(32), &batch().key());
            let remap_jobs = RawBatch::remap(batch().day, "ab-cd".to_owned()).jobs_key();
            // Remap takes an e-mail's fingerprint from convert's record.
            let converted = batch().converted_fingerprints_key();
            keys.insert(
                ("s3:GetObject", "ArchiveBucket"),
                vec![
                    batch().key(),
                    media.clone(),
                    unmapped.clone(),
                    eml.clone(),
                    converted.clone(),
                ],
            );
            keys.insert(
                ("s3:ListBucket", "ArchiveBucket"),
                vec![
                    converted,
                    batch().key(),
                    media,
                    layout::UNMAPPED_PREFIX.to_owned(),
                    unmapped.clone(),
                    layout::REMAPPED_PREFIX.to_owned(),
                    remapped.clone(),
                    eml.clone(),
                    applied.clone(),
                    batch_remapped.clone(),
                ],
            );
            keys.insert(
                ("s3:PutObject", "ArchiveBucket"),
                vec![
                    eml.clone(),
                    unmapped,
                    remapped,
                    applied,
                    batch_remapped,
                    layout::failed_item_key(item_day(), &item_id()),
                    layout::failed_line_key(&batch().key(), 3),
                    batch().jobs_key(),
                    remap_jobs,
                    // An item of a source in digest mode, for its digest.
                    digest().item_key(item_id()),
                    batch().converted_fingerprints_key(),
                ],
            );
            keys.insert(("s3:AbortMultipartUpload", "ArchiveBucket"), vec![eml]);
            keys.insert(("s3:GetObject", "ConfigBucket"), vec![mapping.clone()]);
            keys.insert(("s3:ListBucket", "ConfigBucket"), vec![mapping]);
        }
        "ReconcileFunction" => {
            // What shared::reconcile checks and hashes for a day (its raw
            // batches and originals, job files, the e-mails and records of
            // its items, their media, ledger entries) and the manifests.
            let manifest = layout::manifest_key(1);
            let read = vec![
                batch().key(),
                batch().original_key("WhatsApp Chat with Bob.zip"),
                batch().collected_fingerprints_key(),
                batch().converted_fingerprints_key(),
                batch().jobs_key(),
                eml.clone(),
                layout::unmapped_key(item_day(), &item_id()),
                layout::remapped_key(item_day(), &item_id()),
                RawBatch::remap(batch().day, "ab-cd".to_owned()).jobs_key(),
                layout::failed_item_key(item_day(), &item_id()),
                layout::failed_line_key(&batch().key(), 3),
                layout::media_key("5d41402abc4b2a76b9719d911017c592"),
                ledger.clone(),
                manifest.clone(),
                // The daily report (shared::day_report): checkpoints,
                // collect's run records, refused drops' records.
                layout::checkpoint_key("whatsapp-export", "ab12"),
                layout::checkpoint_key("whatsapp-cloud", "ab12"),
                layout::checkpoint_key("wecom", "s00000000000000000002"),
                collect_run(),
                "failed/drops/ab12.json".to_owned(),
                // The digest step (shared::digest) and the check of the
                // items it holds.
                digest().item_key(item_id()),
                digest().part_key(0),
            ];
            let mut listed = read.clone();
            listed.extend([
                digest().closed_key(110),
                layout::RAW_PREFIX.to_owned(),
                layout::fingerprints_day_prefix(batch().day.0),
                layout::raw_day_prefix(&batch().source, batch().day.0),
                layout::JOBS_PREFIX.to_owned(),
                layout::MANIFEST_PREFIX.to_owned(),
                // A day without a batch: did collect's run claim it?
                layout::run_claims_prefix(),
                claim.clone(),
                // The daily report lists all checkpoints, all failure
                // records, a day's collect runs, and whether it was sent.
                // (collected/ holds each source's folder of checkpoints.)
                layout::COLLECTED_PREFIX.to_owned(),
                layout::checkpoints_prefix("whatsapp-export"),
                layout::FAILED_PREFIX.to_owned(),
                layout::collect_runs_prefix(report_day()),
                report_sent(),
                layout::DIGEST_PREFIX.to_owned(),
                format!("{}{}/", layout::JOBS_PREFIX, layout::DIGEST_JOBS),
            ]);
            keys.insert(("s3:GetObject", "ArchiveBucket"), read);
            keys.insert(("s3:ListBucket", "ArchiveBucket"), listed);
            // A digest's e-mail and job file are under eml/ and jobs/,
            // whose grants to convert cover them too (IAM has no "except"):
            // they are not told apart in `every_key`.
            let digest_eml = digest().eml_key(0, "89abcdef");
            let mut written = vec![
                manifest,
                report_sent(),
                digest().part_key(0),
                digest().closed_key(110),
                digest_eml.clone(),
                digest().batch(0).jobs_key(),
            ];
            written.extend(report_objects());
            keys.insert(("s3:PutObject", "ArchiveBucket"), written);
            keys.insert(
                ("s3:AbortMultipartUpload", "ArchiveBucket"),
                vec![digest_eml],
            );
        }
        "DeliverFunction" => {
            // The daily report's e-mail, a job reconcile queues.
            let report = report_objects().pop().unwrap();
            let mut reads = vec![eml.clone(), report.clone(), ledger.clone()];
            let mut listed = vec![eml, report, ledger.clone()];
            let mut writes = vec![ledger];
            // SMTP cannot be searched: each copy is marked as being sent
            // (shared::ledger), create-only, a mark found there read back.
            if template.parameter_value("DeliveryTarget").as_deref() == Some("smtp") {
                writes.push(sending_mark());
                reads.push(sending_mark());
                listed.push(sending_mark());
            }
            keys.insert(("s3:GetObject", "ArchiveBucket"), reads);
            keys.insert(("s3:ListBucket", "ArchiveBucket"), listed);
            keys.insert(("s3:PutObject", "ArchiveBucket"), writes);
        }
        other => panic!("{other}"),
    }
    keys
}

/// Every kind of key in a bucket (one of each; with `listing`, the
/// prefixes listed too): a grant must cover exactly the ones a function
/// uses, none of the others.
fn every_key(bucket: &str, template: &Template, listing: bool) -> Vec<String> {
    let mut keys = match bucket {
        "ArchiveBucket" => vec![
            layout::media_key("5d41402abc4b2a76b9719d911017c592"),
            batch().original_key("WhatsApp Chat with Bob.zip"),
            batch().key(),
            layout::checkpoint_key("whatsapp-export", "ab12"),
            layout::run_claim_key("2026-11-21T00:30:00Z"),
            "failed/drops/ab12.json".to_owned(),
            layout::eml_key(item_day(), &item_id()),
            layout::unmapped_key(item_day(), &item_id()),
            layout::remapped_key(item_day(), &item_id()),
            layout::mapping_applied_key(&"ab".repeat(32)),
            layout::remapped_batch_key(&"ab".repeat(32), &batch().key()),
            layout::failed_item_key(item_day(), &item_id()),
            layout::failed_line_key(&batch().key(), 3),
            batch().jobs_key(),
            RawBatch::remap(batch().day, "ab-cd".to_owned()).jobs_key(),
            batch().started_key(),
            batch().done_key(),
            layout::ledger_key("alice@corp.example", "0123@mobile-archiver"),
            sending_mark(),
            inbox_body(),
            layout::manifest_key(1),
            collect_run(),
            report_sent(),
            digest().item_key(item_id()),
            digest().part_key(0),
            digest().closed_key(110),
            batch().collected_fingerprints_key(),
            batch().converted_fingerprints_key(),
            // The media step's records are under media/ too ("media writes
            // media/ only"), so a grant of media/* covers them: they are
            // not told apart here from the files beside them.
        ]
        .into_iter()
        .chain(report_objects())
        .collect(),
        "DropBucket" => vec![
            format!("{DROP_PREFIX}+447700900001/WhatsApp Chat with Bob.zip"),
            "notes/readme.txt".to_owned(),
        ],
        "ConfigBucket" => vec![
            template.parameter_value("MappingKey").unwrap(),
            "other.csv".to_owned(),
        ],
        other => panic!("{other}"),
    };
    if listing {
        keys.extend([
            layout::checkpoints_prefix("whatsapp-export"),
            DROP_PREFIX.to_owned(),
            "jobs/".to_owned(),
            layout::inbox_prefix("whatsapp-cloud"),
            layout::RAW_PREFIX.to_owned(),
            layout::MANIFEST_PREFIX.to_owned(),
            layout::COLLECTED_PREFIX.to_owned(),
            layout::FAILED_PREFIX.to_owned(),
            layout::collect_runs_prefix(report_day()),
            layout::DIGEST_PREFIX.to_owned(),
            layout::fingerprints_day_prefix(batch().day.0),
            layout::raw_day_prefix(&batch().source, batch().day.0),
        ]);
    }
    keys
}

/// The key patterns a role grants an S3 action on, per bucket: object ARNs'
/// paths, and for `s3:ListBucket` the `s3:prefix` values it is limited to.
fn granted(
    template: &Template,
    statements: &[Statement],
) -> BTreeMap<(String, String), Vec<String>> {
    let mut grants: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for s in statements.iter().filter(|s| s.effect == "Allow") {
        for action in s.actions.iter().filter(|a| a.starts_with("s3:")) {
            for resource in &s.resources {
                let (bucket, pattern) = match resource.split_once('/') {
                    Some((bucket, path)) => (bucket.to_owned(), vec![path.to_owned()]),
                    None => {
                        let mut prefixes = s.condition_values("StringLike", "s3:prefix");
                        prefixes.extend(s.condition_values("StringEquals", "s3:prefix"));
                        (resource.clone(), prefixes)
                    }
                };
                let pattern = pattern
                    .into_iter()
                    .map(|p| with_parameters(template, &p))
                    .collect::<Vec<_>>();
                grants
                    .entry((action.clone(), bucket))
                    .or_default()
                    .extend(pattern);
            }
        }
    }
    grants
}

/// `${Param}` replaced by the parameter's (default) value.
fn with_parameters(template: &Template, text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(start) = out.find("${") {
        let end = out[start..].find('}').unwrap() + start;
        let name = out[start + 2..end].to_owned();
        let value = template
            .parameter_value(&name)
            .unwrap_or_else(|| panic!("{text}: ${{{name}}} is no parameter"));
        out.replace_range(start..=end, &value);
    }
    out
}

#[test]
fn each_function_runs_as_a_role_of_its_own_without_managed_policies() {
    let template = template();
    let mut roles = BTreeSet::new();
    for function in FUNCTIONS {
        let properties = template.properties(function);
        // `Policies` would make SAM build a role of its own, with
        // AWSLambdaBasicExecutionRole and AWSLambdaSQSQueueExecutionRole
        // (logs and queues on "*").
        assert!(
            properties.get("Policies").is_none(),
            "{function} has SAM Policies"
        );
        let role = template.function_role(function);
        assert!(roles.insert(role.clone()), "{role} is shared");
        let role_properties = template.properties(&role);
        assert!(
            role_properties.get("ManagedPolicyArns").is_none(),
            "{role} attaches managed policies"
        );
        assert!(role_properties.get("PermissionsBoundary").is_none());
        let trust = support::template::statements(&role_properties["AssumeRolePolicyDocument"]);
        assert_eq!(trust.len(), 1);
        assert_eq!(
            trust[0].principal,
            json!({"Service": "lambda.amazonaws.com"})
        );
        assert_eq!(trust[0].actions, ["sts:AssumeRole"]);
        for s in template.function_statements(function) {
            assert_eq!(s.effect, "Allow", "{role} {}", s.sid);
            assert!(!s.sid.is_empty(), "{role}: a statement without Sid");
            for action in &s.actions {
                assert!(!action.contains('*'), "{role} {}: {action}", s.sid);
            }
            for resource in &s.resources {
                assert_ne!(resource, "*", "{role} {}", s.sid);
                assert!(
                    !resource.ends_with("Bucket/*"),
                    "{role} {}: {resource}",
                    s.sid
                );
            }
        }
    }
}

#[test]
fn object_rights_are_the_key_prefixes_the_code_uses() {
    for template in templates() {
        object_rights_match(&template);
    }
}

/// Each function's S3 rights in `template` are the key prefixes its code
/// uses with that template's delivery target.
fn object_rights_match(template: &Template) {
    let target = template.parameter_value("DeliveryTarget").unwrap();
    for function in FUNCTIONS {
        let grants = granted(template, &template.function_statements(function));
        let used = keys_used(function, template);
        let granted_pairs: BTreeSet<(String, String)> = grants.keys().cloned().collect();
        let used_pairs: BTreeSet<(String, String)> = used
            .keys()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(
            granted_pairs, used_pairs,
            "{target}: {function}: S3 actions per bucket"
        );
        for ((action, bucket), keys) in &used {
            let patterns = &grants[&((*action).to_owned(), (*bucket).to_owned())];
            assert!(
                !patterns.is_empty(),
                "{target}: {function} {action} {bucket}: no prefix limit"
            );
            for key in every_key(bucket, template, *action == "s3:ListBucket") {
                let covered = patterns.iter().any(|p| glob(p, &key));
                match keys.contains(&key) {
                    true => assert!(
                        covered,
                        "{target}: {function} {action} {bucket}: {key} not granted by {patterns:?}"
                    ),
                    false => assert!(
                        !covered,
                        "{target}: {function} {action} {bucket}: {key} granted by {patterns:?}, not used"
                    ),
                }
            }
            for pattern in patterns {
                assert!(
                    keys.iter().any(|k| glob(pattern, k)),
                    "{target}: {function} {action} {bucket}: {pattern} grants no key the code uses"
                );
            }
        }
    }
}

/// S3 answers 403 instead of 404 for a missing key unless the reader may
/// list it (and evaluates `s3:prefix` as the key): every key a function
/// reads must be inside its `s3:ListBucket` prefixes.
#[test]
fn every_key_read_may_be_missing_and_read_as_404() {
    for template in templates() {
        every_read_listable(&template);
    }
}

/// Each key a function reads in `template` is inside its listing rights.
fn every_read_listable(template: &Template) {
    for function in FUNCTIONS {
        let grants = granted(template, &template.function_statements(function));
        for ((action, bucket), patterns) in &grants {
            if action != "s3:GetObject" {
                continue;
            }
            let listed = grants
                .get(&("s3:ListBucket".to_owned(), bucket.clone()))
                .unwrap_or_else(|| panic!("{function}: reads {bucket} but may not list it"));
            for pattern in patterns {
                assert!(
                    listed.iter().any(|l| glob(l, pattern)),
                    "{function}: {bucket}/{pattern} read, not listable"
                );
            }
        }
    }
}

#[test]
fn queue_key_log_and_secret_rights_name_each_functions_own_resources() {
    let template = template();
    let via = |service: &str| {
        format!("StringEquals kms:ViaService {service}.${{AWS::Region}}.amazonaws.com")
    };
    let logs = |group: &str| {
        (
            "logs:CreateLogStream, logs:PutLogEvents".to_owned(),
            group.to_owned(),
            String::new(),
        )
    };
    let archive_key = (
        "kms:Decrypt, kms:GenerateDataKey".to_owned(),
        "ArchiveKey".to_owned(),
        via("s3"),
    );
    let expected: BTreeMap<&str, BTreeSet<(String, String, String)>> = BTreeMap::from([
        (
            "CollectFunction",
            BTreeSet::from([archive_key.clone(), logs("CollectLogGroup")]),
        ),
        (
            "ConvertFunction",
            BTreeSet::from([
                archive_key.clone(),
                logs("ConvertLogGroup"),
                (
                    "sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage".to_owned(),
                    "ConvertQueue".to_owned(),
                    String::new(),
                ),
                (
                    "sqs:SendMessage".to_owned(),
                    "DeliverQueue".to_owned(),
                    String::new(),
                ),
                (
                    "kms:Decrypt, kms:GenerateDataKey".to_owned(),
                    "QueueKey".to_owned(),
                    via("sqs"),
                ),
            ]),
        ),
        (
            "ReconcileFunction",
            BTreeSet::from([
                archive_key.clone(),
                logs("ReconcileLogGroup"),
                (
                    "sqs:SendMessage".to_owned(),
                    "ConvertQueue".to_owned(),
                    String::new(),
                ),
                (
                    "sqs:SendMessage".to_owned(),
                    "DeliverQueue".to_owned(),
                    String::new(),
                ),
                (
                    "kms:Decrypt, kms:GenerateDataKey".to_owned(),
                    "QueueKey".to_owned(),
                    via("sqs"),
                ),
            ]),
        ),
        (
            "DeliverFunction",
            BTreeSet::from([
                archive_key,
                logs("DeliverLogGroup"),
                (
                    "sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage".to_owned(),
                    "DeliverQueue".to_owned(),
                    String::new(),
                ),
                ("kms:Decrypt".to_owned(), "QueueKey".to_owned(), via("sqs")),
                (
                    "secretsmanager:GetSecretValue".to_owned(),
                    "${ImapSecretArn}".to_owned(),
                    String::new(),
                ),
            ]),
        ),
        (
            "CaptureFunction",
            BTreeSet::from([
                (
                    "kms:GenerateDataKey".to_owned(),
                    "ArchiveKey".to_owned(),
                    via("s3"),
                ),
                logs("CaptureLogGroup"),
                (
                    "sqs:SendMessage".to_owned(),
                    "MediaQueue".to_owned(),
                    String::new(),
                ),
                (
                    "kms:Decrypt, kms:GenerateDataKey".to_owned(),
                    "QueueKey".to_owned(),
                    via("sqs"),
                ),
                (
                    "secretsmanager:GetSecretValue".to_owned(),
                    WHATSAPP_CLOUD[0].1.to_owned(),
                    String::new(),
                ),
            ]),
        ),
        (
            "MediaFunction",
            BTreeSet::from([
                (
                    "kms:Decrypt, kms:GenerateDataKey".to_owned(),
                    "ArchiveKey".to_owned(),
                    via("s3"),
                ),
                logs("MediaLogGroup"),
                (
                    "sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage".to_owned(),
                    "MediaQueue".to_owned(),
                    String::new(),
                ),
                ("kms:Decrypt".to_owned(), "QueueKey".to_owned(), via("sqs")),
                (
                    "secretsmanager:GetSecretValue".to_owned(),
                    WHATSAPP_CLOUD[1].1.to_owned(),
                    String::new(),
                ),
            ]),
        ),
    ]);
    for function in FUNCTIONS {
        let mut found = BTreeSet::new();
        for s in template.function_statements(function) {
            if s.actions.iter().all(|a| a.starts_with("s3:")) {
                continue;
            }
            assert!(
                s.actions.iter().all(|a| !a.starts_with("s3:")),
                "{function} {}: S3 mixed with other services",
                s.sid
            );
            let mut actions = s.actions.clone();
            actions.sort();
            for resource in &s.resources {
                found.insert((actions.join(", "), resource.clone(), s.condition_text()));
            }
        }
        assert_eq!(found, expected[function], "{function}");
    }
}

/// A request to the archive bucket over TLS, with these extra keys.
fn tls<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut context = vec![("aws:SecureTransport", "true")];
    context.extend_from_slice(extra);
    context
}

fn bucket_policy(template: &Template, bucket: &str) -> Vec<Statement> {
    let policies: Vec<Value> = template
        .resources_of_type("AWS::S3::BucketPolicy")
        .into_iter()
        .map(|(_, r)| r["Properties"].clone())
        .filter(|p| p["Bucket"] == bucket)
        .collect();
    assert_eq!(policies.len(), 1, "{bucket}: bucket policies");
    support::template::statements(&policies[0]["PolicyDocument"])
}

const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";

#[test]
fn the_archive_bucket_denies_overwrites_other_encryption_plain_http_and_deletion() {
    let template = template();
    let policy = bucket_policy(&template, "ArchiveBucket");
    let put = |context: &[(&str, &str)]| {
        denied(
            &policy,
            &Request {
                principal: ADMIN,
                action: "s3:PutObject",
                resource: "ArchiveBucket/raw/whatsapp-export/2026-11-21/ab12.jsonl",
                context,
            },
        )
    };
    // The pipeline's writes: create-only, no encryption header (the
    // bucket's default, the archive key, applies).
    let create = [
        ("s3:if-none-match", "*"),
        ("s3:ObjectCreationOperation", "true"),
    ];
    assert!(!put(&tls(&create)), "a create-only write is refused");
    // Without If-None-Match: could replace a current version.
    assert!(put(&tls(&[("s3:ObjectCreationOperation", "true")])));
    // Multipart steps carry no conditional header (CompleteMultipartUpload does).
    assert!(!put(&tls(&[("s3:ObjectCreationOperation", "false")])));
    // Plain HTTP.
    assert!(put(&[
        ("aws:SecureTransport", "false"),
        create[0],
        create[1]
    ]));
    // Encryption: the archive key named is fine; anything else is refused.
    let with = |headers: &[(&'static str, &'static str)]| {
        let mut context = tls(&create);
        context.extend_from_slice(headers);
        put(&context)
    };
    let sse = "s3:x-amz-server-side-encryption";
    let key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id";
    assert!(!with(&[(sse, "aws:kms"), (key_id, "ArchiveKey")]));
    assert!(with(&[(sse, "AES256")]));
    assert!(
        with(&[(sse, "aws:kms")]),
        "aws:kms without a key id is aws/s3"
    );
    assert!(with(&[
        (sse, "aws:kms"),
        (key_id, "arn:aws:kms:us-east-1:111122223333:key/other")
    ]));
    assert!(with(&[
        (sse, "aws:kms:dsse"),
        (key_id, "arn:aws:kms:us-east-1:111122223333:key/other")
    ]));
    assert!(with(&[(
        key_id,
        "arn:aws:kms:us-east-1:111122223333:key/other"
    )]));
    assert!(with(&[(
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "AES256"
    )]));
    // Reads over TLS are not denied (the roles grant them).
    let read = |action: &str| {
        denied(
            &policy,
            &Request {
                principal: ADMIN,
                action,
                resource: "ArchiveBucket/raw/whatsapp-export/2026-11-21/ab12.jsonl",
                context: &tls(&[]),
            },
        )
    };
    assert!(!read("s3:GetObject"));
    // Nobody removes or hides an archived version, nor bypasses GOVERNANCE.
    for action in [
        "s3:DeleteObjectVersion",
        "s3:BypassGovernanceRetention",
        "s3:DeleteObject",
    ] {
        assert!(read(action), "{action} is not denied to everyone");
    }
    for s in policy.iter().filter(|s| s.effect == "Deny") {
        assert_eq!(s.principal, json!("*"), "{}", s.sid);
    }
    assert!(
        policy.iter().all(|s| s.effect == "Deny"),
        "the bucket policy grants nothing"
    );
}

#[test]
fn the_drop_and_config_buckets_deny_plain_http_and_other_encryption() {
    let template = template();
    for bucket in ["DropBucket", "ConfigBucket"] {
        let policy = bucket_policy(&template, bucket);
        let object = format!("{bucket}/drop/whatsapp-export/+447700900001/chat.txt");
        let put = |context: &[(&str, &str)]| {
            denied(
                &policy,
                &Request {
                    principal: ADMIN,
                    action: "s3:PutObject",
                    resource: &object,
                    context,
                },
            )
        };
        // An upload by a person (no If-None-Match, no encryption header).
        assert!(!put(&tls(&[])), "{bucket}: a plain upload is refused");
        assert!(put(&[("aws:SecureTransport", "false")]), "{bucket}");
        assert!(
            put(&tls(&[("s3:x-amz-server-side-encryption", "AES256")])),
            "{bucket}"
        );
        assert!(
            put(&tls(&[(
                "s3:x-amz-server-side-encryption-customer-algorithm",
                "AES256"
            )])),
            "{bucket}"
        );
        let get = Request {
            principal: ADMIN,
            action: "s3:GetObject",
            resource: &object,
            context: &[("aws:SecureTransport", "false")],
        };
        assert!(denied(&policy, &get), "{bucket}: read over plain HTTP");
    }
}

#[test]
fn only_the_break_glass_role_may_delete_disable_or_repolicy_the_archive_key() {
    let guarded = [
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:PutKeyPolicy",
    ];
    let key_policy = |template: &Template| {
        let key = template.resource("ArchiveKey");
        assert_eq!(key["DeletionPolicy"], "Retain");
        assert_eq!(
            key["Properties"]["BypassPolicyLockoutSafetyCheck"],
            json!(true),
            "CreateKey refuses a policy that denies the creator PutKeyPolicy"
        );
        support::template::statements(&key["Properties"]["KeyPolicy"])
    };
    let asks = |policy: &[Statement], principal: &str, action: &str| {
        denied(
            policy,
            &Request {
                principal,
                action,
                resource: "*",
                context: &[],
            },
        )
    };
    let root = "arn:aws:iam::111122223333:root";
    let deployer = "arn:aws:iam::111122223333:role/cfn-deployer";
    let break_glass = "arn:aws:iam::111122223333:role/break-glass";

    let none = template();
    assert_eq!(
        none.parameter_value("BreakGlassRoleArn").as_deref(),
        Some("")
    );
    let policy = key_policy(&none);
    for action in guarded {
        for principal in [root, deployer, break_glass] {
            assert!(asks(&policy, principal, action), "{principal} may {action}");
        }
    }
    assert!(!asks(&policy, deployer, "kms:Decrypt"));
    assert!(!asks(&policy, deployer, "kms:EnableKeyRotation"));

    let with = Template::with(&[("BreakGlassRoleArn", break_glass)]);
    let policy = key_policy(&with);
    for action in guarded {
        assert!(
            !asks(&policy, break_glass, action),
            "break glass may not {action}"
        );
        assert!(asks(&policy, deployer, action), "the deployer may {action}");
        assert!(asks(&policy, root, action), "root may {action}");
    }
    let parameter = none.parameter("BreakGlassRoleArn");
    let pattern = parameter["AllowedPattern"].as_str().unwrap();
    assert!(pattern.contains(":role/"), "{pattern}");
}

fn allows_service(policy: &[Statement], service: &str, actions: &[&str]) -> Vec<Statement> {
    let found: Vec<Statement> = policy
        .iter()
        .filter(|s| s.effect == "Allow" && s.principal == json!({"Service": service}))
        .cloned()
        .collect();
    for action in actions {
        assert!(
            found
                .iter()
                .any(|s| s.actions.iter().any(|a| glob(a, action))),
            "{service} may not {action}"
        );
    }
    found
}

#[test]
fn queues_alarm_topic_and_logs_are_encrypted_with_customer_keys() {
    let template = template();
    let key_statements =
        |key: &str| support::template::statements(&template.properties(key)["KeyPolicy"]);
    for (id, queue) in template.resources_of_type("AWS::SQS::Queue") {
        let properties = &queue["Properties"];
        assert_eq!(properties["KmsMasterKeyId"], "QueueKey", "{id}");
        assert!(properties.get("SqsManagedSseEnabled").is_none(), "{id}");
    }
    // S3 encrypts the notifications it sends to the convert queue.
    allows_service(
        &key_statements("QueueKey"),
        "s3.amazonaws.com",
        &["kms:GenerateDataKey", "kms:Decrypt"],
    );
    let topic = template.properties("AlarmTopic");
    assert_eq!(topic["KmsMasterKeyId"], "AlarmKey");
    allows_service(
        &key_statements("AlarmKey"),
        "cloudwatch.amazonaws.com",
        &["kms:GenerateDataKey", "kms:Decrypt"],
    );
    // No service but CloudWatch Logs may use the logs key, and only for
    // this stack's log groups.
    let logs = allows_service(
        &key_statements("LogsKey"),
        "logs.${AWS::Region}.amazonaws.com",
        &["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
    );
    let context = logs[0].condition_values("ArnLike", "kms:EncryptionContext:aws:logs:arn");
    assert_eq!(
        context,
        [
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/mobile-archiver/${AWS::StackName}/*"
        ]
    );
    for function in FUNCTIONS {
        let group = template.properties(function)["LoggingConfig"]["LogGroup"]
            .as_str()
            .unwrap()
            .to_owned();
        let properties = template.properties(&group);
        assert_eq!(properties["KmsKeyId"], "LogsKey", "{group}");
        assert_eq!(
            properties["RetentionInDays"], "${LogRetentionDays}",
            "{group}"
        );
        let name = properties["LogGroupName"].as_str().unwrap();
        assert!(glob("/mobile-archiver/${AWS::StackName}/*", name), "{name}");
    }
    // The archive key trusts no service principal at all.
    for s in key_statements("ArchiveKey") {
        assert!(s.principal.get("Service").is_none(), "{}", s.sid);
    }
}

#[test]
fn the_archive_data_events_trail_is_optional() {
    let off = template();
    assert_eq!(
        off.parameter_value("EnableDataEvents").as_deref(),
        Some("false")
    );
    for id in ["ArchiveDataEventsTrail", "TrailBucket", "TrailBucketPolicy"] {
        assert!(!off.has_resource(id), "{id} without EnableDataEvents");
    }
    let on = Template::with(&[("EnableDataEvents", "true")]);
    let trail = on.resource("ArchiveDataEventsTrail");
    assert_eq!(trail["DependsOn"], "TrailBucketPolicy");
    let properties = &trail["Properties"];
    assert_eq!(properties["S3BucketName"], "TrailBucket");
    assert_eq!(properties["IsLogging"], json!(true));
    assert_eq!(properties["EnableLogFileValidation"], json!(true));
    let selectors = properties["EventSelectors"].as_array().unwrap();
    assert_eq!(selectors.len(), 1);
    assert_eq!(selectors[0]["ReadWriteType"], "All");
    assert_eq!(selectors[0]["IncludeManagementEvents"], json!(false));
    assert_eq!(
        selectors[0]["DataResources"],
        json!([{"Type": "AWS::S3::Object", "Values": ["ArchiveBucket/"]}])
    );
    let trail_arn = format!(
        "arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{}",
        properties["TrailName"].as_str().unwrap()
    );
    let policy = bucket_policy(&on, "TrailBucket");
    let writes = allows_service(
        &policy,
        "cloudtrail.amazonaws.com",
        &["s3:GetBucketAcl", "s3:PutObject"],
    );
    for s in writes {
        assert_eq!(
            s.condition_values("StringEquals", "aws:SourceArn"),
            std::slice::from_ref(&trail_arn),
            "{}",
            s.sid
        );
        if s.actions == ["s3:PutObject"] {
            assert_eq!(s.resources, ["TrailBucket/AWSLogs/${AWS::AccountId}/*"]);
            assert_eq!(
                s.condition_values("StringEquals", "s3:x-amz-acl"),
                ["bucket-owner-full-control"]
            );
        }
    }
    let http = Request {
        principal: ADMIN,
        action: "s3:GetObject",
        resource: "TrailBucket/AWSLogs/x",
        context: &[("aws:SecureTransport", "false")],
    };
    assert!(denied(&policy, &http));
    assert_eq!(on.resource("TrailBucket")["DeletionPolicy"], "Retain");
}

/// The media queue, its dead-letter queue and alarm exist only when the
/// WhatsApp Business Platform is configured (with the functions on or
/// off); the capture function's concurrency is bounded.
#[test]
fn whatsapp_cloud_queues_exist_only_when_configured_and_capture_is_bounded() {
    let media = [
        "MediaQueue",
        "MediaDeadLetterQueue",
        "MediaDeadLettersAlarm",
    ];
    let none = Template::with(&[]);
    for id in media.iter().chain(&["CaptureFunction", "MediaFunction"]) {
        assert!(!none.has_resource(id), "{id} without WhatsApp Cloud");
    }
    let mut functions_off = WHATSAPP_CLOUD.to_vec();
    functions_off.push(("DeployFunctions", "false"));
    let queues_only = Template::with(&functions_off);
    for id in media {
        assert!(queues_only.has_resource(id), "{id} with the functions off");
    }
    assert!(!queues_only.has_resource("CaptureFunction"));
    let on = template();
    for id in media.iter().chain(&["CaptureFunction", "MediaFunction"]) {
        assert!(on.has_resource(id), "{id} with WhatsApp Cloud");
    }
    assert_eq!(
        on.properties("CaptureFunction")["ReservedConcurrentExecutions"],
        "${CaptureReservedConcurrency}"
    );
    assert_eq!(
        on.parameter_value("CaptureReservedConcurrency").as_deref(),
        Some("20")
    );
}

#[test]
fn the_drop_bucket_expires_only_drops_marked_collected() {
    let template = template();
    let rules = template.properties("DropBucket")["LifecycleConfiguration"]["Rules"].clone();
    let rules = rules.as_array().unwrap();
    assert!(!rules.is_empty());
    for rule in rules {
        if rule.get("ExpirationInDays").is_none() && rule.get("ExpirationDate").is_none() {
            continue;
        }
        assert_eq!(
            rule["TagFilters"],
            json!([{"Key": COLLECTED_TAG.0, "Value": COLLECTED_TAG.1}]),
            "{rule}"
        );
        assert_eq!(rule["ExpirationInDays"], "${DropExpiryDays}");
    }
}

/// A CloudWatch Logs JSON filter pattern of the form `{ $.a.b OP value }`.
fn filter_matches(pattern: &str, line: &Value) -> bool {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON filter: {pattern}"));
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [selector, operator, expected] = parts[..] else {
        panic!("filter not of the form {{ $.path OP value }}: {pattern}");
    };
    let Some(actual) = select(selector, line) else {
        return false;
    };
    let (Some(actual), Ok(expected)) = (actual.as_f64(), expected.parse::<f64>()) else {
        panic!("{pattern}: only numeric comparisons are checked here");
    };
    match operator {
        "=" => actual == expected,
        "!=" => actual != expected,
        ">" => actual > expected,
        ">=" => actual >= expected,
        "<" => actual < expected,
        "<=" => actual <= expected,
        other => panic!("operator {other}"),
    }
}

/// `$.a.b` in a JSON value.
fn select<'a>(selector: &str, value: &'a Value) -> Option<&'a Value> {
    let path = selector.strip_prefix("$.").unwrap();
    path.split('.').try_fold(value, |v, field| v.get(field))
}

/// Set in the child process that writes log lines through lambda_runtime's
/// own subscriber (the JSON format is chosen by the environment it reads,
/// which a test can only set for a process it starts).
const LOG_FILE: &str = "ARCHIVER_TEST_LOG_FILE";

/// The child's part of `refused_drops_an_invalid_mapping_and_an_open_day_raise_alarms`.
#[test]
#[ignore = "run by refused_drops_an_invalid_mapping_and_an_open_day_raise_alarms in a child process"]
fn write_log_lines_as_the_functions_do() {
    let path = std::env::var(LOG_FILE).expect("run by the parent test");
    let file = std::fs::File::create(path).unwrap();
    // The subscriber the functions install, as the template configures it.
    shared::logging::LambdaLogging {
        filter: tracing_subscriber::EnvFilter::new("info"),
        json: true,
    }
    .init(std::sync::Mutex::new(file));
    // Reports as the functions log them: the counters are fields of one
    // event, drops_refused among them (the collect report) ...
    for drops_refused in [0, 2] {
        let report = shared::report::Report {
            unmapped: 2,
            drops_collected: 1,
            drops_refused,
            ..Default::default()
        };
        report.log();
    }
    // ... and the field the convert function logs when the mapping CSV
    // cannot be used.
    lambda_runtime::tracing::error!(
        mapping = "mapping.csv",
        mapping_csv_invalid = 1u64,
        "mapping CSV cannot be used"
    );
    // A collect report with an error besides refusals (then the error's
    // own line).
    let mut report = shared::report::Report::default();
    report.error("drop drop/whatsapp-export/x/a.txt: listed, but gone before it could be read");
    report.log();
    // The reconcile function's outcome for a day left open (its summary,
    // then one line per open line), and for a day closed.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let open = shared::lambda::DayReconciled {
        day,
        batches: 4,
        items: 26,
        copies: 40,
        batches_resent: 1,
        copies_resent: 1,
        open: vec![
            "raw/whatsapp-export/2026-11-21/ab12.jsonl: not converted (no job file)".to_owned(),
            "eml/2026-11-21/a.eml to alice@corp.example: not delivered (no ledger entry)"
                .to_owned(),
        ],
        manifest: None,
        head: None,
        closed: false,
    };
    open.log();
    shared::lambda::DayReconciled {
        open: Vec::new(),
        batches_resent: 0,
        copies_resent: 0,
        manifest: Some(layout::manifest_key(1)),
        head: Some("ab".repeat(32)),
        closed: true,
        ..open
    }
    .log();
}

/// The lines lambda_runtime writes with `AWS_LAMBDA_LOG_FORMAT=JSON` (the
/// template's `LoggingConfig.LogFormat`).
fn json_log_lines() -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "write_log_lines_as_the_functions_do",
            "--quiet",
        ])
        .env(LOG_FILE, &file)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn refused_drops_an_invalid_mapping_and_an_open_day_raise_alarms() {
    let template = template();
    let globals = template.section("Globals");
    assert_eq!(globals["Function"]["LoggingConfig"]["LogFormat"], "JSON");

    let lines = json_log_lines();
    // The report's counters are under "fields", beside its message.
    let report = &lines[0];
    assert_eq!(report["fields"]["message"], "report", "{report}");
    assert_eq!(report["fields"]["unmapped"], json!(2), "{report}");
    let [
        none_refused,
        two_refused,
        mapping_invalid,
        collect_errors,
        _error,
        day_open,
        open_line,
        _open_line,
        day_closed,
    ] = &lines[..]
    else {
        panic!("{lines:?}");
    };

    // The open day's summary names the day; each open line follows it.
    assert_eq!(day_open["fields"]["day"], "2026-11-21", "{day_open}");
    assert_eq!(day_open["fields"]["open_lines"], json!(2), "{day_open}");
    let said = open_line["fields"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("not converted"), "{open_line}");

    let filters: BTreeMap<String, Value> = template
        .resources_of_type("AWS::Logs::MetricFilter")
        .into_iter()
        .map(|(id, r)| (id, r["Properties"].clone()))
        .collect();
    let alarms: Vec<Value> = template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(_, r)| r["Properties"].clone())
        .collect();
    for (filter, group, firing, quiet) in [
        (
            "DropsRefusedMetricFilter",
            "CollectLogGroup",
            two_refused,
            vec![none_refused, report, mapping_invalid],
        ),
        (
            "MappingCsvInvalidMetricFilter",
            "ConvertLogGroup",
            mapping_invalid,
            vec![report, none_refused, two_refused],
        ),
        (
            "CollectReportErrorsMetricFilter",
            "CollectLogGroup",
            collect_errors,
            vec![none_refused, two_refused, mapping_invalid],
        ),
        (
            "DayOpenMetricFilter",
            "ReconcileLogGroup",
            day_open,
            vec![
                day_closed,
                open_line,
                report,
                mapping_invalid,
                collect_errors,
            ],
        ),
    ] {
        let properties = &filters[filter];
        assert_eq!(properties["LogGroupName"], group, "{filter}");
        let pattern = properties["FilterPattern"].as_str().unwrap();
        assert!(
            filter_matches(pattern, firing),
            "{filter}: {pattern} misses {firing}"
        );
        for line in quiet {
            assert!(
                !filter_matches(pattern, line),
                "{filter}: {pattern} matches {line}"
            );
        }
        let transformations = properties["MetricTransformations"].as_array().unwrap();
        assert_eq!(transformations.len(), 1);
        let metric = &transformations[0];
        let value = metric["MetricValue"].as_str().unwrap();
        if let Some(selector) = value.strip_prefix('$') {
            let counted = select(&format!("${selector}"), firing).and_then(Value::as_f64);
            assert!(
                counted.is_some_and(|n| n > 0.0),
                "{filter}: {value} in {firing}"
            );
        }
        // An alarm on the metric tells the alarm topic.
        let alarm = alarms
            .iter()
            .find(|a| {
                a["MetricName"] == metric["MetricName"]
                    && a["Namespace"] == metric["MetricNamespace"]
            })
            .unwrap_or_else(|| panic!("{filter}: no alarm on {}", metric["MetricName"]));
        assert_eq!(alarm["AlarmActions"], json!(["AlarmTopic"]), "{filter}");
        assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
        assert_eq!(alarm["Threshold"], json!(0));
        assert_eq!(alarm["Statistic"], "Sum");
        assert_eq!(alarm["TreatMissingData"], "notBreaching");
    }
}

/// The parameters of a deployment with the WeCom source.
const WECOM: [(&str, &str); 4] = [
    (
        "WeComSecretArn",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wecom-AbCdEf",
    ),
    (
        "WeComSdkLayerArn",
        "arn:aws:lambda:eu-west-1:123456789012:layer:wecom-sdk:3",
    ),
    ("WeComVpcId", "vpc-0123abcd"),
    ("WeComSubnetIds", "subnet-0aaa,subnet-0bbb"),
];

#[test]
fn wecom_gives_collect_its_secret_layer_subnets_and_15_minute_schedule_only_when_configured() {
    let plain = Template::load();
    let wecom = Template::with(&WECOM);
    let sids = |template: &Template| -> BTreeSet<String> {
        template
            .function_statements("CollectFunction")
            .into_iter()
            .map(|s| s.sid)
            .collect()
    };
    let added: Vec<String> = sids(&wecom).difference(&sids(&plain)).cloned().collect();
    assert_eq!(
        added,
        [
            "DescribeNetworkInterfaces",
            "ReadTheWeComMessagesKeptEncrypted",
            "ReadTheWeComSecret",
            "RunInTheWeComSubnets"
        ]
    );
    for s in wecom.function_statements("CollectFunction") {
        match s.sid.as_str() {
            "ReadTheWeComSecret" => {
                assert_eq!(s.actions, ["secretsmanager:GetSecretValue"]);
                assert_eq!(s.resources, [WECOM[0].1]);
            }
            // Describe* has no resource-level permissions: the one "*".
            "DescribeNetworkInterfaces" => {
                assert!(s.actions.iter().all(|a| a.starts_with("ec2:Describe")));
                assert_eq!(s.resources, ["*"]);
            }
            // The keys the source reads back, as the layout builds them.
            "ReadTheWeComMessagesKeptEncrypted" => {
                let id = "a-00000000000000000196-v2";
                let raw = RawBatch {
                    source: "wecom".to_owned(),
                    day: CollectionDay(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
                    id: id.to_owned(),
                };
                for key in [
                    layout::refused_drop_key(id),
                    raw.original_key("chatdata.json"),
                ] {
                    let key = format!("ArchiveBucket/{key}");
                    assert!(s.resources.iter().any(|r| glob(r, &key)), "{key}");
                }
                assert_eq!(s.actions, ["s3:GetObject"]);
            }
            "RunInTheWeComSubnets" => {
                assert!(s.resources.iter().all(|r| r != "*" && r.contains(":ec2:")));
            }
            _ => {}
        }
    }
    let on = wecom.properties("CollectFunction");
    assert_eq!(on["Layers"], json!([WECOM[1].1]));
    assert_eq!(
        on["VpcConfig"]["SubnetIds"],
        json!(["subnet-0aaa", "subnet-0bbb"])
    );
    assert_eq!(
        on["VpcConfig"]["SecurityGroupIds"],
        json!(["WeComSecurityGroup.GroupId"])
    );
    assert_eq!(
        on["Environment"]["Variables"]["WECOM_SECRET_ARN"],
        WECOM[0].1
    );
    let schedule = &on["Events"]["WeCom"]["Properties"];
    assert_eq!(schedule["ScheduleExpression"], "${WeComSchedule}");
    assert_eq!(
        wecom.parameter_value("WeComSchedule").as_deref(),
        Some("rate(15 minutes)")
    );
    assert_eq!(schedule["State"], "ENABLED");
    let egress = &wecom.properties("WeComSecurityGroup")["SecurityGroupEgress"];
    assert_eq!(
        egress,
        &json!([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "CidrIp": "0.0.0.0/0", "Description": "HTTPS to WeCom, S3 and Secrets Manager"}])
    );

    let off = plain.properties("CollectFunction");
    assert!(off.get("Layers").is_none() && off.get("VpcConfig").is_none());
    assert!(
        off["Environment"]["Variables"]
            .get("WECOM_SECRET_ARN")
            .is_none()
    );
    assert_eq!(off["Events"]["WeCom"]["Properties"]["State"], "DISABLED");
}

/// Reconcile runs on its own schedule, in the zone collection days are
/// reckoned in (collect's), with the day reckoned as collect reckons it.
#[test]
fn reconcile_runs_daily_after_collect_in_the_archive_zone() {
    let template = template();
    let reconcile = template.properties("ReconcileFunction");
    let collect = template.properties("CollectFunction");
    let schedule = &reconcile["Events"]["Daily"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    let properties = &schedule["Properties"];
    assert_eq!(properties["ScheduleExpression"], "${ReconcileSchedule}");
    assert_eq!(
        properties["ScheduleExpressionTimezone"],
        collect["Events"]["Daily"]["Properties"]["ScheduleExpressionTimezone"]
    );
    assert_eq!(
        properties["Input"],
        collect["Events"]["Daily"]["Properties"]["Input"]
    );
    let variables = &reconcile["Environment"]["Variables"];
    assert_eq!(
        variables["ARCHIVE_TIME_ZONE"],
        collect["Environment"]["Variables"]["ARCHIVE_TIME_ZONE"]
    );
    assert_eq!(variables["CONVERT_QUEUE_URL"], "ConvertQueue");
    assert_eq!(variables["DELIVER_QUEUE_URL"], "DeliverQueue");
    // The default: 04:30, four hours after collect's 00:30.
    let hour = |expression: String| -> u32 {
        expression
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let collect_at = hour(template.parameter_value("ScheduleExpression").unwrap());
    let reconcile_at = hour(template.parameter_value("ReconcileSchedule").unwrap());
    // Hours after collect, past midnight too (collect at 22:00, reconcile
    // at 01:00: three hours).
    let after = (reconcile_at + 24 - collect_at) % 24;
    assert!(after >= 3, "{collect_at} {reconcile_at}");
    // One run at a time (two would race for the next manifest).
    assert_eq!(reconcile["ReservedConcurrentExecutions"], 1);
}
