//! The README's IAM table is template.yaml's function roles, row for row:
//! one row per function and policy statement, with the statement's
//! actions, resources and condition as the template resolves them
//! (`tests/support/template.rs`: logical ids for resources, `${Param}` for
//! parameters), with each delivery target (a statement only one target
//! has, or has otherwise, is a row of `deliver (imap)` or
//! `deliver (smtp)`). A change to either that the other does not make
//! fails here, and the failure prints the rows the README should have.

mod support;

use std::collections::BTreeSet;

use support::localstack::root;
use support::template::Template;

/// The table's header row; the table is the rows that follow it.
const HEADER: &str = "| function | statement | actions | resources | condition |";

const FUNCTIONS: [(&str, &str); 6] = [
    ("collect", "CollectFunction"),
    ("convert", "ConvertFunction"),
    ("deliver", "DeliverFunction"),
    ("capture", "CaptureFunction"),
    ("media", "MediaFunction"),
    ("reconcile", "ReconcileFunction"),
];

/// One row: function, statement id, actions, resources, condition (each
/// list sorted and joined with ", ").
type Row = (String, String, String, String, String);

fn joined(items: &[String]) -> String {
    let mut items = items.to_vec();
    items.sort();
    items.join(", ")
}

fn template_rows() -> Vec<Row> {
    // The WhatsApp Cloud API functions are deployed when their secrets are
    // given; given as their own names, they read as `${Param}` like the
    // other parameters.
    let whatsapp = [
        ("WhatsAppWebhookSecretArn", "${WhatsAppWebhookSecretArn}"),
        ("WhatsAppAccessSecretArn", "${WhatsAppAccessSecretArn}"),
    ];
    let imap = rows_of(&Template::with(&whatsapp));
    let mut smtp_params = whatsapp.to_vec();
    smtp_params.extend([
        ("DeliveryTarget", "smtp"),
        ("SmtpSecretArn", "${SmtpSecretArn}"),
    ]);
    let smtp = rows_of(&Template::with(&smtp_params));
    // A statement the two delivery targets have alike is one row; one
    // that only one of them has, or has otherwise, is a row per target,
    // its function named `deliver (imap)` or `deliver (smtp)`.
    let only = |row: &Row, target: &str, other: &[Row]| -> Row {
        let mut row = row.clone();
        if !other.contains(&row) {
            row.0 = format!("{} ({target})", row.0);
        }
        row
    };
    let mut rows: Vec<Row> = imap.iter().map(|row| only(row, "imap", &smtp)).collect();
    rows.extend(
        smtp.iter()
            .filter(|row| !imap.contains(row))
            .map(|row| only(row, "smtp", &imap)),
    );
    rows
}

/// Every function's statements in `template`, as rows.
fn rows_of(template: &Template) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, function) in FUNCTIONS {
        for s in template.function_statements(function) {
            rows.push((
                name.to_owned(),
                s.sid.clone(),
                joined(&s.actions),
                joined(&s.resources),
                s.condition_text(),
            ));
        }
    }
    rows
}

/// The rows of the README's table, cells without their backticks.
fn readme_rows() -> Vec<Row> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut lines = readme.lines().skip_while(|l| l.trim() != HEADER);
    assert!(
        lines.next().is_some(),
        "README.md has no IAM table ({HEADER})"
    );
    let separator = lines.next().unwrap_or_default();
    assert!(separator.starts_with("|---"), "{separator}");
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<String> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('`', ""))
                .collect();
            let [function, sid, actions, resources, condition] = &cells[..] else {
                panic!("not 5 cells: {line}");
            };
            let list = |cell: &str| -> Vec<String> {
                cell.split(',').map(|s| s.trim().to_owned()).collect()
            };
            (
                function.clone(),
                sid.clone(),
                joined(&list(actions)),
                joined(&list(resources)),
                condition.clone(),
            )
        })
        .collect()
}

/// A row as the README writes it.
fn markdown((function, sid, actions, resources, condition): &Row) -> String {
    let code = |cell: &str| -> String {
        match cell {
            "" => String::new(),
            _ => cell
                .split(", ")
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    };
    let condition = match condition.as_str() {
        "" => String::new(),
        c => format!("`{c}`"),
    };
    format!(
        "| {function} | {sid} | {} | {} | {condition} |",
        code(actions),
        code(resources)
    )
}

#[test]
fn the_readme_iam_table_is_the_templates_function_policies() {
    let expected = template_rows();
    let found = readme_rows();
    let mut seen = BTreeSet::new();
    for row in &found {
        assert!(
            seen.insert((row.0.clone(), row.1.clone())),
            "README.md: {} {} twice",
            row.0,
            row.1
        );
    }
    let expected_set: BTreeSet<&Row> = expected.iter().collect();
    let found_set: BTreeSet<&Row> = found.iter().collect();
    if expected_set != found_set {
        let only_readme: Vec<String> = found_set
            .difference(&expected_set)
            .map(|r| markdown(r))
            .collect();
        let only_template: Vec<String> = expected_set
            .difference(&found_set)
            .map(|r| markdown(r))
            .collect();
        let table: Vec<String> = expected.iter().map(markdown).collect();
        panic!(
            "README.md's IAM table differs from template.yaml.\n\
             Only in README.md:\n{}\nOnly in template.yaml:\n{}\n\
             The table as template.yaml has it:\n{HEADER}\n|---|---|---|---|---|\n{}",
            only_readme.join("\n"),
            only_template.join("\n"),
            table.join("\n")
        );
    }
}
