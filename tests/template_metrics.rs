//! template.yaml's dashboard and alarms on the functions' metrics, checked
//! against the EMF lines `shared::metrics` writes: the dashboard's body is
//! JSON once CloudFormation has substituted it, every metric it or an
//! alarm names in the functions' namespace is one the functions write
//! (name and dimensions), and each alarm the README lists exists with its
//! metric, threshold and window.

mod support;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use shared::lambda::DayReconciled;
use shared::metrics::{self, Namespace, Record};
use shared::report::Report;

use support::template::Template;

/// The parameters that deploy every function (WeCom, WhatsApp Cloud API).
const EVERYTHING: [(&str, &str); 6] = [
    (
        "WhatsAppWebhookSecretArn",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:whatsapp-webhook-AbCdEf",
    ),
    (
        "WhatsAppAccessSecretArn",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:whatsapp-access-AbCdEf",
    ),
    (
        "WeComSecretArn",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:wecom-AbCdEf",
    ),
    (
        "WeComSdkLayerArn",
        "arn:aws:lambda:eu-west-1:111122223333:layer:wecom-sdk:3",
    ),
    ("WeComVpcId", "vpc-0123abcd"),
    ("WeComSubnetIds", "subnet-0aaa,subnet-0bbb"),
];

/// The namespace the template gives the functions, as resolved here.
const NAMESPACE: &str = "MobileArchiver/${AWS::StackName}";

/// Every (metric name, dimensions) the functions write, from reports
/// with every kind of count and every source.
fn written() -> BTreeSet<(String, Vec<(String, String)>)> {
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
    let mut report = Report::default();
    for source in ["wecom", "whatsapp-cloud", "whatsapp-export"] {
        report.collected(source, 3);
        report.converted(source, Report::default(), false);
    }
    report.delivered_to("alice@corp.example");
    report.delivered_item_times.push(now);
    let day = DayReconciled {
        day: now.date_naive(),
        batches: 1,
        items: 1,
        copies: 1,
        batches_resent: 0,
        copies_resent: 0,
        open: Vec::new(),
        manifest: None,
        head: None,
        closed: true,
    };
    let records: Vec<Record> = [
        metrics::collect::<()>(Ok(&report)),
        metrics::convert(&report),
        metrics::deliver(&report, 0, now),
        metrics::reconcile(shared::lambda::reconciled(&Ok(vec![day]))),
    ]
    .concat();
    let namespace = Namespace::new("MobileArchiver/test").unwrap();
    let mut written = BTreeSet::new();
    for record in &records {
        let line: Value = serde_json::from_str(&record.render(&namespace, now)).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        let dimensions: Vec<(String, String)> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let d = d.as_str().unwrap();
                (d.to_owned(), line[d].as_str().unwrap().to_owned())
            })
            .collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap().to_owned();
            written.insert((name, dimensions.clone()));
        }
    }
    written
}

/// A dashboard metric row (`[namespace, name, dim, value, ..., {opts}]`)
/// as (namespace, name, dimensions).
fn row(metric: &Value) -> (String, String, Vec<(String, String)>) {
    let parts: Vec<&str> = metric
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let dimensions = parts[2..]
        .chunks(2)
        .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
        .collect();
    (parts[0].to_owned(), parts[1].to_owned(), dimensions)
}

/// The dashboard's widgets, its body parsed as JSON.
fn widgets(template: &Template) -> Vec<Value> {
    let body = template.properties("Dashboard")["DashboardBody"]
        .as_str()
        .expect("the body is one substituted string")
        .to_owned();
    let body: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}):\n{body}"));
    body["widgets"].as_array().unwrap().clone()
}

#[test]
fn the_dashboard_is_json_and_shows_only_metrics_the_functions_write() {
    let written = written();
    for params in [&EVERYTHING[..], &[]] {
        let template = Template::with(params);
        let mut shown = BTreeSet::new();
        let mut queues = BTreeSet::new();
        for widget in widgets(&template) {
            let properties = &widget["properties"];
            assert_eq!(properties["region"], "${AWS::Region}", "{widget}");
            for metric in properties["metrics"].as_array().unwrap() {
                let (namespace, name, dimensions) = row(metric);
                if namespace == "AWS/SQS" {
                    queues.insert((name, dimensions[0].1.clone()));
                    continue;
                }
                assert_eq!(namespace, NAMESPACE, "{metric}");
                assert!(
                    written.contains(&(name.clone(), dimensions.clone())),
                    "the dashboard shows {name} {dimensions:?}, which no function writes"
                );
                shown.insert(name);
            }
        }
        for name in [
            "Items",
            "Unmapped",
            "Stubbed",
            "Failures",
            "CopiesDelivered",
            "DeliveryLatency",
            "DaysOpen",
            "DaysClosed",
        ] {
            assert!(shown.contains(name), "the dashboard does not show {name}");
        }
        // Every dead-letter queue's depth, the media one when it exists.
        let mut dead_letters = vec![
            "ConvertDeadLetterQueue.QueueName",
            "DeliverDeadLetterQueue.QueueName",
        ];
        if !params.is_empty() {
            dead_letters.push("MediaDeadLetterQueue.QueueName");
        }
        let depths: Vec<&str> = queues
            .iter()
            .filter(|(name, _)| name == "ApproximateNumberOfMessagesVisible")
            .map(|(_, queue)| queue.as_str())
            .collect();
        dead_letters.sort_unstable();
        assert_eq!(depths, dead_letters);
        assert!(queues.contains(&(
            "ApproximateAgeOfOldestMessage".to_owned(),
            "DeliverQueue.QueueName".to_owned()
        )));
    }
}

#[test]
fn the_functions_write_their_metrics_where_the_dashboard_and_alarms_read_them() {
    let template = Template::with(&EVERYTHING);
    for function in [
        "CollectFunction",
        "ConvertFunction",
        "DeliverFunction",
        "ReconcileFunction",
    ] {
        let variables = &template.properties(function)["Environment"]["Variables"];
        assert_eq!(variables["METRICS_NAMESPACE"], NAMESPACE, "{function}");
    }
}

/// An alarm's properties, by its logical id.
fn alarm(template: &Template, id: &str) -> Value {
    let properties = template.properties(id);
    assert_eq!(properties["AlarmActions"], json!(["AlarmTopic"]), "{id}");
    properties
}

/// An alarm's dimensions as (name, value) pairs.
fn dimensions(alarm: &Value) -> Vec<(String, String)> {
    alarm["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["Name"].as_str().unwrap().to_owned(),
                d["Value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_source_silent_for_26_hours_raises_an_alarm() {
    let written = written();
    let template = Template::with(&EVERYTHING);
    for (id, source) in [
        ("WeComNoDataAlarm", "wecom"),
        ("WhatsAppCloudNoDataAlarm", "whatsapp-cloud"),
    ] {
        let alarm = alarm(&template, id);
        assert_eq!(alarm["Namespace"], NAMESPACE, "{id}");
        assert_eq!(alarm["MetricName"], "Items", "{id}");
        let dimensions = dimensions(&alarm);
        assert_eq!(
            dimensions,
            [
                ("Stage".to_owned(), "collect".to_owned()),
                ("Source".to_owned(), source.to_owned())
            ]
        );
        assert!(written.contains(&("Items".to_owned(), dimensions)));
        // Every hour of 26 below one item, or without data at all.
        assert_eq!(alarm["Statistic"], "Sum");
        assert_eq!(alarm["Period"], json!(3600));
        assert_eq!(alarm["EvaluationPeriods"], json!(26));
        assert_eq!(alarm["DatapointsToAlarm"], json!(26));
        assert_eq!(alarm["ComparisonOperator"], "LessThanThreshold");
        assert_eq!(alarm["Threshold"], json!(1));
        assert_eq!(alarm["TreatMissingData"], "breaching");
        // CloudWatch evaluates at most 7 days.
        let window =
            alarm["Period"].as_u64().unwrap() * alarm["EvaluationPeriods"].as_u64().unwrap();
        assert!(window <= 7 * 86400, "{id}: {window} s");
    }
    // A source not configured has no alarm of its own.
    let plain = Template::load();
    assert!(!plain.has_resource("WeComNoDataAlarm"));
    assert!(!plain.has_resource("WhatsAppCloudNoDataAlarm"));
}

#[test]
fn dead_letters_a_day_old_backlog_and_a_failed_reconcile_raise_alarms() {
    let template = Template::with(&EVERYTHING);
    for (id, queue) in [
        (
            "ConvertDeadLettersAlarm",
            "ConvertDeadLetterQueue.QueueName",
        ),
        (
            "DeliverDeadLettersAlarm",
            "DeliverDeadLetterQueue.QueueName",
        ),
        ("MediaDeadLettersAlarm", "MediaDeadLetterQueue.QueueName"),
    ] {
        let alarm = alarm(&template, id);
        assert_eq!(
            (&alarm["Namespace"], &alarm["MetricName"]),
            (
                &json!("AWS/SQS"),
                &json!("ApproximateNumberOfMessagesVisible")
            ),
            "{id}"
        );
        assert_eq!(
            dimensions(&alarm),
            [("QueueName".to_owned(), queue.to_owned())]
        );
        assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
        assert_eq!(alarm["Threshold"], json!(0));
    }
    let backlog = alarm(&template, "DeliveryBacklogAlarm");
    assert_eq!(backlog["Namespace"], "AWS/SQS");
    assert_eq!(backlog["MetricName"], "ApproximateAgeOfOldestMessage");
    assert_eq!(
        dimensions(&backlog),
        [("QueueName".to_owned(), "DeliverQueue.QueueName".to_owned())]
    );
    assert_eq!(backlog["Statistic"], "Maximum");
    assert_eq!(backlog["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(backlog["Threshold"], json!(86400));
    // A reconcile run fails (the function's error) when any day could not
    // be reconciled; a day left open has an alarm of its own.
    let reconcile = alarm(&template, "ReconcileErrorsAlarm");
    assert_eq!(
        (&reconcile["Namespace"], &reconcile["MetricName"]),
        (&json!("AWS/Lambda"), &json!("Errors"))
    );
    assert_eq!(
        dimensions(&reconcile),
        [("FunctionName".to_owned(), "ReconcileFunction".to_owned())]
    );
    assert_eq!(reconcile["Threshold"], json!(0));
    alarm(&template, "DayOpenAlarm");
}
