//! Mapping items to mailboxes: reading the custom mapping CSV, automatic
//! mapping, and resolving items. Fixtures are inline and written for this
//! project; numbers are fictional (Ofcom drama ranges, US 555-01xx) or the
//! numbering plan's own example numbers.

use chrono::{TimeZone, Utc};
use phonenumber::country::Id;
use shared::item::{
    Conversation, ConversationKind, Item, ItemId, ItemKind, Participant, Raw, SourceKind, Timestamp,
};
use shared::mapping::{
    IssueKind, Mapper, MappingError, MappingIssue, MappingOptions, MappingTable, Severity,
    parse_region,
};

fn options(region: Id) -> MappingOptions {
    MappingOptions {
        default_region: region,
        id_domain: None,
        custodian_domains: Vec::new(),
    }
}

fn load_bytes(csv: &[u8], region: Id) -> (MappingTable, Vec<MappingIssue>) {
    MappingTable::from_csv(csv, &options(region)).expect("the mapping file loads")
}

fn load(csv: &str, region: Id) -> (MappingTable, Vec<MappingIssue>) {
    load_bytes(csv.as_bytes(), region)
}

fn fatal(csv: &[u8]) -> MappingError {
    MappingTable::from_csv(csv, &options(Id::GB)).expect_err("the mapping file is refused")
}

fn mapper_with(table: MappingTable, region: Id, id_domain: Option<&str>) -> Mapper {
    let opts = MappingOptions {
        default_region: region,
        id_domain: id_domain.map(str::to_owned),
        custodian_domains: Vec::new(),
    };
    Mapper::new(table, opts).expect("valid options")
}

/// A mapper over a CSV that must load without any issue.
fn clean_mapper(csv: &str, region: Id) -> Mapper {
    let (table, issues) = load(csv, region);
    assert!(issues.is_empty(), "unexpected issues: {issues:?}");
    mapper_with(table, region, None)
}

/// The issues as `(line, severity)` pairs, in file order.
fn lines(issues: &[MappingIssue]) -> Vec<(u64, Severity)> {
    issues.iter().map(|i| (i.line, i.severity())).collect()
}

fn phone(number: &str) -> Participant<'static> {
    Participant {
        phone: Some(number.to_owned().into()),
        ..Default::default()
    }
}

fn named(name: &str) -> Participant<'static> {
    Participant {
        name: Some(name.to_owned().into()),
        ..Default::default()
    }
}

fn with_id(id: &str) -> Participant<'static> {
    Participant {
        id: Some(id.to_owned().into()),
        ..Default::default()
    }
}

fn with_email(email: &str) -> Participant<'static> {
    Participant {
        email: Some(email.to_owned().into()),
        ..Default::default()
    }
}

fn item(
    source: SourceKind,
    custodian: Option<&str>,
    sender: Option<Participant<'static>>,
    recipients: Vec<Participant<'static>>,
) -> Item<'static> {
    Item {
        id: ItemId::derive(&[b"mapping-test"]),
        source,
        kind: ItemKind::Message,
        source_type: None,
        unrecognised: false,
        timestamp: Timestamp(Utc.with_ymd_and_hms(2025, 3, 4, 9, 15, 0).unwrap()),
        custodian: custodian.map(|c| c.to_owned().into()),
        conversation: Conversation {
            id: "chat-1".into(),
            kind: ConversationKind::Direct,
            title: None,
        },
        sender,
        recipients,
        text: Some("hello".into()),
        attachments: vec![],
        edited: false,
        call: None,
        refers_to: None,
        raw: Raw::Text("hello".into()),
    }
}

/// An item from a WhatsApp Cloud webhook with these participants.
fn cloud_item(
    sender: Participant<'static>,
    recipients: Vec<Participant<'static>>,
) -> Item<'static> {
    item(SourceKind::WhatsappCloud, None, Some(sender), recipients)
}

fn addresses(mapper: &Mapper, item: &Item<'_>) -> Vec<Option<String>> {
    mapper.resolve(item).addresses
}

fn some(address: &str) -> Option<String> {
    Some(address.to_owned())
}

// --- Headers ---------------------------------------------------------------

#[test]
fn telemessage_header_is_accepted() {
    let csv = "External User ID,Microsoft 365 User Mailbox\n\
               +447400123456,alice@contoso.example\n\
               +12015550123,bob@contoso.example\n";
    let mapper = clean_mapper(csv, Id::GB);
    assert_eq!(
        mapper.lookup("+447400123456"),
        Some("alice@contoso.example")
    );
    assert_eq!(mapper.lookup("+12015550123"), Some("bob@contoso.example"));
    assert_eq!(mapper.lookup("+447400123457"), None);
}

#[test]
fn simple_headers_are_accepted_in_any_case_and_spacing() {
    for header in [
        "identity,mailbox",
        "phone,email",
        "userid,mailbox",
        " Identity , MAILBOX ",
        "PHONE,E-Mail",
        "user_id,mailbox",
    ] {
        let csv = format!("{header}\n07400 123456,alice@contoso.example\n");
        let (table, issues) = load(&csv, Id::GB);
        assert!(issues.is_empty(), "{header}: {issues:?}");
        assert_eq!(table.len(), 1, "{header}");
    }
}

#[test]
fn columns_are_found_by_name_and_extra_columns_ignored() {
    let csv = "name,mailbox,department,identity\n\
               Alice Smith,alice@contoso.example,Sales,zhangsan\n";
    let mapper = clean_mapper(csv, Id::GB);
    assert_eq!(mapper.lookup("zhangsan"), Some("alice@contoso.example"));
    assert_eq!(
        mapper.lookup("alice smith"),
        None,
        "the name column is not an identity"
    );
}

#[test]
fn a_missing_header_is_fatal() {
    let error = fatal(b"+447400123456,alice@contoso.example\n");
    assert!(
        matches!(&error, MappingError::MissingHeader { line: 1, found } if found == "+447400123456,alice@contoso.example"),
        "{error:?}"
    );
    assert!(error.to_string().contains("External User ID"), "{error}");
}

#[test]
fn a_header_without_a_mailbox_column_is_fatal() {
    let error = fatal(b"\n\nidentity,name\n+447400123456,Alice\n");
    assert!(
        matches!(error, MappingError::MissingHeader { line: 3, .. }),
        "{error:?}"
    );
}

#[test]
fn an_empty_file_is_fatal() {
    assert!(matches!(fatal(b""), MappingError::Empty));
    assert!(matches!(
        fatal(b"\xEF\xBB\xBF\r\n\n ,\n"),
        MappingError::Empty
    ));
}

#[test]
fn a_file_that_maps_no_identity_loads_with_an_error_on_its_header() {
    let (table, issues) = load("\nidentity,mailbox\n", Id::GB);
    assert!(table.is_empty());
    assert_eq!(lines(&issues), [(2, Severity::Error)]);
    assert!(
        matches!(issues[0].kind, IssueKind::NoMappings),
        "{issues:?}"
    );
    assert!(
        issues[0].to_string().starts_with("line 2: error: "),
        "{}",
        issues[0]
    );

    let csv = "identity,mailbox\n+447400123456,not an address\n,bob@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert!(table.is_empty());
    assert_eq!(
        lines(&issues),
        [
            (1, Severity::Error),
            (2, Severity::Error),
            (3, Severity::Error)
        ]
    );
    assert!(
        matches!(issues[0].kind, IssueKind::NoMappings),
        "{issues:?}"
    );

    let (_, issues) = load(
        "identity,mailbox\n+447400123456,a@contoso.example\n",
        Id::GB,
    );
    assert!(issues.is_empty(), "one usable row is enough: {issues:?}");
}

#[test]
fn an_unterminated_quote_is_fatal_and_names_the_line_it_opened_on() {
    let csv = "identity,mailbox,name\n\
               +447400123456,alice@contoso.example,\"Smith,\nAlice\"\n\
               +447400123457,bob@contoso.example,O\"Brien\n\
               +447400123458,carol@contoso.example,\"Carol \"\"CJ\"\" Jones\"\n\
               \"+447400123459,dan@contoso.example\n\
               +447400123460,erin@contoso.example\n\
               +447400123461,frank@contoso.example\n";
    let error = fatal(csv.as_bytes());
    assert!(
        matches!(error, MappingError::UnterminatedQuote { line: 6 }),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("line 6 "), "{error}");

    let closed = csv.replace("\"+447400123459,", "\"+447400123459\",");
    let (table, issues) = load(&closed, Id::GB);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(table.len(), 6);
}

// --- Encoding and layout ---------------------------------------------------

#[test]
fn a_utf8_bom_is_tolerated() {
    let csv = b"\xEF\xBB\xBFExternal User ID,Microsoft 365 User Mailbox\n+447400123456,alice@contoso.example\n";
    let (table, issues) = load_bytes(csv, Id::GB);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(table.len(), 1);
}

#[test]
fn non_utf8_is_fatal_and_names_the_line() {
    let csv =
        b"identity,mailbox\n+447400123456,alice@contoso.example\nJos\xE9,jose@contoso.example\n";
    let error = fatal(csv);
    assert!(
        matches!(error, MappingError::NotUtf8 { line: 3 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("CSV UTF-8"), "{error}");
}

#[test]
fn utf16_is_fatal() {
    let csv: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "identity,mailbox\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    assert!(matches!(fatal(&csv), MappingError::Utf16));
}

#[test]
fn blank_lines_are_skipped_and_physical_lines_counted() {
    let csv = "\n\
               identity,mailbox\n\
               \n\
               +447400123456,alice@contoso.example\n\
               \x20  \n\
               ,,\n\
               \"Smith,\nBob\",bob@contoso.example\n\
               \n\
               +447400123457,not-an-address\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(table.len(), 2);
    assert_eq!(lines(&issues), [(10, Severity::Error)]);
    let mapper = mapper_with(table, Id::GB, None);
    assert_eq!(mapper.lookup("smith,\nbob"), Some("bob@contoso.example"));
}

#[test]
fn whitespace_and_case_are_tolerated() {
    let csv = "identity,mailbox\n\
               \x20 07400 123456 \t,  Alice@Contoso.EXAMPLE  \n\
               \x20ZhangSan ,ZHANG.SAN@contoso.example\n\
               Old.Alias@Contoso.example,alice@contoso.example\n";
    let mapper = clean_mapper(csv, Id::GB);
    assert_eq!(
        mapper.lookup("+447400123456"),
        Some("alice@contoso.example")
    );
    assert_eq!(mapper.lookup("zhangsan"), Some("zhang.san@contoso.example"));
    assert_eq!(
        mapper.lookup("  ZHANGSAN"),
        Some("zhang.san@contoso.example")
    );
    assert_eq!(
        mapper.lookup("old.alias@contoso.example"),
        Some("alice@contoso.example")
    );
}

#[test]
fn crlf_line_ends_are_tolerated() {
    let csv = "identity,mailbox\r\n\
               +447400123456,alice@contoso.example\r\n\
               \r\n\
               +447400123457,bob@contoso.example\r\n\
               +447400123458,bob@\r\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(table.len(), 2);
    assert_eq!(lines(&issues), [(5, Severity::Error)]);
    let mapper = mapper_with(table, Id::GB, None);
    assert_eq!(mapper.lookup("+447400123457"), Some("bob@contoso.example"));
}

#[test]
fn quoted_fields_are_tolerated() {
    let csv = "\"External User ID\",\"Microsoft 365 User Mailbox\",\"Name\"\n\
               \"+44 7400 123456\",\"alice@contoso.example\",\"Smith, Alice\"\n\
               +447400123457, \"bob@contoso.example\" ,Bob\n";
    let mapper = clean_mapper(csv, Id::GB);
    assert_eq!(
        mapper.lookup("+447400123456"),
        Some("alice@contoso.example")
    );
    assert_eq!(mapper.lookup("+447400123457"), Some("bob@contoso.example"));
}

// --- Phone numbers ---------------------------------------------------------

#[test]
fn gb_national_and_international_forms_normalise_to_e164() {
    for number in [
        "07400 123456",
        "+44 (0)7400-123456",
        "0044 7400 123456",
        "+44 7400 123456",
        "447400123456",
    ] {
        let csv = format!("phone,email\n{number},alice@contoso.example\n");
        let mapper = clean_mapper(&csv, Id::GB);
        assert_eq!(
            mapper.lookup("+447400123456"),
            Some("alice@contoso.example"),
            "{number}"
        );
    }
}

#[test]
fn us_national_numbers_use_the_us_region() {
    let csv = "phone,email\n(201) 555-0123,bob@contoso.example\n011 44 7400 123456,alice@contoso.example\n";
    let mapper = clean_mapper(csv, Id::US);
    assert_eq!(mapper.lookup("+12015550123"), Some("bob@contoso.example"));
    assert_eq!(
        mapper.lookup("+447400123456"),
        Some("alice@contoso.example")
    );
    let (gb, _) = load(csv, Id::GB);
    let gb = mapper_with(gb, Id::GB, None);
    assert_eq!(
        gb.lookup("+12015550123"),
        None,
        "read in GB, (201) is a UK area code"
    );
}

#[test]
fn an_unparsable_phone_number_is_an_error_with_its_line() {
    let csv = "identity,mailbox\n\
               +999 123456,alice@contoso.example\n\
               +44 1,bob@contoso.example\n\
               07400 123456,carol@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(lines(&issues), [(2, Severity::Error), (3, Severity::Error)]);
    assert!(
        matches!(&issues[0].kind, IssueKind::InvalidPhone { identity, .. } if identity == "+999 123456"),
        "{issues:?}"
    );
    assert!(
        issues[0]
            .to_string()
            .starts_with("line 2: error: \"+999 123456\""),
        "{}",
        issues[0]
    );
    assert_eq!(table.len(), 1, "the good row still loads");
}

#[test]
fn a_number_that_is_not_valid_is_kept_with_a_warning() {
    let csv = "identity,mailbox\n07700 900123,alice@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(lines(&issues), [(2, Severity::Warning)]);
    assert!(
        matches!(&issues[0].kind, IssueKind::UnlikelyPhone { e164, .. } if e164 == "+447700900123"),
        "{issues:?}"
    );
    let mapper = mapper_with(table, Id::GB, None);
    assert_eq!(
        mapper.lookup("+447700900123"),
        Some("alice@contoso.example")
    );
}

#[test]
fn normalise_phone_leaves_e164_alone_and_parses_the_rest() {
    let mapper = mapper_with(MappingTable::default(), Id::GB, None);
    assert!(matches!(
        mapper.normalise_phone("+447400123456"),
        Some(std::borrow::Cow::Borrowed("+447400123456"))
    ));
    assert_eq!(
        mapper.normalise_phone("07400 123456").as_deref(),
        Some("+447400123456")
    );
    assert_eq!(mapper.normalise_phone("not a number"), None);
}

#[test]
fn phone_numbers_as_copied_from_phones_and_directories_normalise() {
    let csv = "identity,mailbox\n\
               \u{202a}+44 7400 100032\u{202c},a@contoso.example\n\
               +44\u{a0}7400\u{202f}100033,b@contoso.example\n\
               \u{ff0b}\u{ff14}\u{ff14} \u{ff17}\u{ff14}\u{ff10}\u{ff10} \u{ff11}\u{ff10}\u{ff10}\u{ff10}\u{ff13}\u{ff14},c@contoso.example\n\
               tel:+44-7400-100035,d@contoso.example\n\
               +44 7400 100036;ext=12,e@contoso.example\n\
               +44 7400 100037 x12,f@contoso.example\n\
               +44 7400 100038 ext. 12,g@contoso.example\n\
               07400\u{2013}100039,h@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(
        lines(&issues),
        [
            (6, Severity::Warning),
            (7, Severity::Warning),
            (8, Severity::Warning)
        ],
        "only the extensions are worth a look: {issues:?}"
    );
    for issue in &issues {
        assert!(
            matches!(&issue.kind, IssueKind::ExtensionIgnored { e164, .. } if e164.starts_with("+4474001000")),
            "{issue}"
        );
    }
    let mapper = mapper_with(table, Id::GB, None);
    for (number, mailbox) in [
        ("+447400100032", "a"),
        ("+447400100033", "b"),
        ("+447400100034", "c"),
        ("+447400100035", "d"),
        ("+447400100036", "e"),
        ("+447400100037", "f"),
        ("+447400100038", "g"),
        ("+447400100039", "h"),
    ] {
        let expected = format!("{mailbox}@contoso.example");
        assert_eq!(mapper.lookup(number), Some(expected.as_str()), "{number}");
    }
    assert_eq!(
        mapper.lookup("\u{202a}+44 7400 100032\u{202c}"),
        Some("a@contoso.example"),
        "looked up the same way"
    );
}

#[test]
fn identities_holding_digits_that_are_no_phone_number_are_warned() {
    let csv = "identity,mailbox\n\
               Room 101,room@contoso.example\n\
               +44 7400 abc,x@contoso.example\n\
               bob2@contoso.example,bob@contoso.example\n\
               Evan Stone,evan@contoso.example\n\
               zhangsan01,zhang.san@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(
        lines(&issues),
        [
            (2, Severity::Warning),
            (3, Severity::Warning),
            (6, Severity::Warning)
        ],
        "{issues:?}"
    );
    assert!(
        matches!(&issues[0].kind, IssueKind::NotAPhone { identity } if identity == "Room 101"),
        "{issues:?}"
    );
    assert!(
        issues[1]
            .to_string()
            .starts_with("line 3: warning: \"+44 7400 abc\""),
        "{}",
        issues[1]
    );
    assert_eq!(table.len(), 5, "the rows are kept, as names or userids");
    let mapper = mapper_with(table, Id::GB, None);
    assert_eq!(mapper.lookup("room 101"), Some("room@contoso.example"));
}

#[test]
fn a_custodian_copied_with_direction_marks_is_normalised() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let export = item(
        SourceKind::WhatsappExport,
        Some("\u{202a}+44 7400 123456\u{202c}"),
        None,
        vec![],
    );
    assert_eq!(mapper.resolve(&export).mailboxes, ["alice@contoso.example"]);
}

// --- Row problems ----------------------------------------------------------

#[test]
fn a_conflicting_duplicate_names_both_lines_and_keeps_the_first() {
    let csv = "identity,mailbox\n\
               07400 123456,alice@contoso.example\n\
               +447400123457,bob@contoso.example\n\
               +44 7400 123456,mallory@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(lines(&issues), [(4, Severity::Error)]);
    match &issues[0].kind {
        IssueKind::Conflict {
            identity,
            first_line,
            first_mailbox,
            mailbox,
        } => {
            assert_eq!(identity, "+447400123456");
            assert_eq!(*first_line, 2);
            assert_eq!(first_mailbox, "alice@contoso.example");
            assert_eq!(mailbox, "mallory@contoso.example");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let message = issues[0].to_string();
    assert!(message.starts_with("line 4: error:"), "{message}");
    assert!(message.contains("on line 2"), "{message}");
    let mapper = mapper_with(table, Id::GB, None);
    assert_eq!(
        mapper.lookup("+447400123456"),
        Some("alice@contoso.example")
    );
}

#[test]
fn an_exact_duplicate_is_a_warning() {
    let csv = "identity,mailbox\n\
               ZhangSan,zhang.san@contoso.example\n\
               zhangsan,Zhang.San@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(lines(&issues), [(3, Severity::Warning)]);
    assert!(
        matches!(&issues[0].kind, IssueKind::Duplicate { identity, first_line: 2 } if identity == "zhangsan"),
        "{issues:?}"
    );
    assert_eq!(table.len(), 1);
}

#[test]
fn invalid_addresses_are_errors_with_their_lines() {
    let csv = "identity,mailbox\n\
               +447400123451,alice\n\
               +447400123452,alice@contoso\n\
               +447400123453,al ice@contoso.example\n\
               +447400123454,alice@@contoso.example\n\
               +447400123455,\n\
               +447400123456\n\
               +447400123457,alice@-contoso.example\n\
               +447400123458,.alice@contoso.example\n\
               +447400123459,alice@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(
        issues.iter().map(|i| i.line).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6, 7, 8, 9]
    );
    assert!(
        issues
            .iter()
            .all(|i| matches!(i.kind, IssueKind::InvalidMailbox { .. })),
        "{issues:?}"
    );
    assert_eq!(
        issues[0].to_string(),
        "line 2: error: \"alice\" is not a valid mailbox address"
    );
    assert_eq!(
        issues[4].to_string(),
        "line 6: error: the mailbox address is empty"
    );
    assert_eq!(table.len(), 1);
}

#[test]
fn an_empty_identity_is_an_error() {
    let csv = "identity,mailbox\n,alice@contoso.example\n\"  \",bob@contoso.example\n\
               +447400123456,carol@contoso.example\n";
    let (table, issues) = load(csv, Id::GB);
    assert_eq!(lines(&issues), [(2, Severity::Error), (3, Severity::Error)]);
    assert!(
        issues
            .iter()
            .all(|i| matches!(i.kind, IssueKind::EmptyIdentity)),
        "{issues:?}"
    );
    assert_eq!(table.len(), 1);
}

#[test]
fn a_row_with_two_problems_reports_both() {
    let csv = "identity,mailbox\n+999 1234567,nobody\n+447400123456,carol@contoso.example\n";
    let (_, issues) = load(csv, Id::GB);
    assert!(
        matches!(
            issues[..],
            [
                MappingIssue {
                    line: 2,
                    kind: IssueKind::InvalidPhone { .. }
                },
                MappingIssue {
                    line: 2,
                    kind: IssueKind::InvalidMailbox { .. }
                },
            ]
        ),
        "{issues:?}"
    );
}

// --- Configuration ---------------------------------------------------------

#[test]
fn regions_parse_case_insensitively() {
    assert_eq!(parse_region("GB").unwrap(), Id::GB);
    assert_eq!(parse_region(" us ").unwrap(), Id::US);
    assert!(matches!(parse_region("UK"), Err(MappingError::UnknownRegion(code)) if code == "UK"));
    assert!(parse_region("").is_err());
}

#[test]
fn an_invalid_id_domain_is_refused() {
    for domain in [
        "",
        "@corp.example",
        "corp",
        "corp..example",
        "{id}@corp.example",
    ] {
        let opts = MappingOptions {
            default_region: Id::GB,
            id_domain: Some(domain.to_owned()),
            custodian_domains: Vec::new(),
        };
        let result = Mapper::new(MappingTable::default(), opts);
        assert!(
            matches!(result, Err(MappingError::InvalidIdDomain(_))),
            "{domain:?}"
        );
    }
}

// --- Resolving items -------------------------------------------------------

const DIRECTORY: &str = "identity,mailbox\n\
                         07400 123456,alice@contoso.example\n\
                         07400 123457,bob@contoso.example\n\
                         zhangsan,zhang.san@contoso.example\n\
                         Carol Jones,carol@contoso.example\n";

#[test]
fn the_custodian_is_mapped_through_the_csv() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let export = item(
        SourceKind::WhatsappExport,
        Some("+447400123457"),
        Some(named("Dave Customer")),
        vec![],
    );
    let resolution = mapper.resolve(&export);
    assert_eq!(resolution.addresses, [None]);
    assert_eq!(resolution.mailboxes, ["bob@contoso.example"]);
    assert_eq!(resolution.unmapped_reason, None);
}

#[test]
fn a_custodian_in_national_form_is_normalised() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let export = item(
        SourceKind::WhatsappExport,
        Some("07400 123456"),
        None,
        vec![],
    );
    assert_eq!(mapper.resolve(&export).mailboxes, ["alice@contoso.example"]);
}

/// A mapper over `csv` that accepts e-mail custodians of `domains`.
fn custodian_mapper(csv: &str, domains: &[&str]) -> Mapper {
    let (table, issues) = load(csv, Id::GB);
    assert!(issues.is_empty(), "unexpected issues: {issues:?}");
    let opts = MappingOptions {
        custodian_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        ..options(Id::GB)
    };
    Mapper::new(table, opts).expect("valid options")
}

fn custodian_item(custodian: &str) -> Item<'static> {
    item(SourceKind::WhatsappExport, Some(custodian), None, vec![])
}

#[test]
fn an_email_custodian_maps_only_in_a_custodian_domain_or_through_the_csv() {
    let csv = "identity,mailbox\nold.alias@partner.example,alice@contoso.example\n";
    let mapper = custodian_mapper(csv, &["Contoso.example", "corp.example"]);
    let direct = mapper.resolve(&custodian_item(" Dave@Contoso.example "));
    assert_eq!(direct.mailboxes, ["dave@contoso.example"]);
    assert_eq!(direct.custodian_unmapped, None);
    assert_eq!(
        mapper
            .resolve(&custodian_item("Old.Alias@partner.example"))
            .mailboxes,
        ["alice@contoso.example"],
        "the CSV maps any custodian"
    );
    for outsider in ["eve@evil.example", "eve@sub.contoso.example"] {
        let refused = mapper.resolve(&custodian_item(outsider));
        assert!(refused.mailboxes.is_empty(), "{outsider}");
        let domain = outsider.split_once('@').unwrap().1;
        assert_eq!(
            refused.custodian_unmapped.as_deref(),
            Some(
                format!(
                    "custodian {outsider} is not in the mapping CSV and {domain} is not a \
                     custodian domain"
                )
                .as_str()
            )
        );
        assert_eq!(
            refused.unmapped_reason.as_deref(),
            Some(
                format!("no mapping for custodian {outsider} ({domain} is not a custodian domain)")
                    .as_str()
            )
        );
    }
    let none_configured = custodian_mapper(csv, &[]);
    assert!(
        none_configured
            .resolve(&custodian_item("dave@contoso.example"))
            .mailboxes
            .is_empty(),
        "no e-mail custodian is accepted by default"
    );
}

#[test]
fn a_custodian_without_a_mailbox_is_named_even_when_others_get_the_item() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let export = item(
        SourceKind::WhatsappExport,
        Some("+447911123457"),
        Some(phone("+447400123456")),
        vec![],
    );
    let resolution = mapper.resolve(&export);
    assert_eq!(resolution.mailboxes, ["alice@contoso.example"]);
    assert_eq!(resolution.unmapped_reason, None);
    assert_eq!(
        resolution.custodian_unmapped.as_deref(),
        Some("custodian +447911123457 is not in the mapping CSV")
    );
    let mapped = item(
        SourceKind::WhatsappExport,
        Some("07400 123457"),
        Some(phone("+447400123456")),
        vec![],
    );
    assert_eq!(mapper.resolve(&mapped).custodian_unmapped, None);
}

#[test]
fn an_invalid_custodian_domain_is_refused() {
    for domain in ["", "@corp.example", "corp", "corp..example"] {
        let opts = MappingOptions {
            custodian_domains: vec!["corp.example".to_owned(), domain.to_owned()],
            ..options(Id::GB)
        };
        let result = Mapper::new(MappingTable::default(), opts);
        assert!(
            matches!(&result, Err(MappingError::InvalidCustodianDomain(d)) if d == domain),
            "{domain:?}"
        );
    }
}

#[tokio::test]
async fn a_batch_whose_custodian_has_no_mailbox_reports_it_once() {
    use shared::convert::{ConvertOptions, convert_batch};
    use shared::jobs::StoreQueue;
    use shared::layout::RawBatch;
    use shared::report::Report;
    use shared::store::{LocalDir, ObjectStore};

    let mapper = custodian_mapper(DIRECTORY, &["contoso.example"]);
    let mut lines = Vec::new();
    for n in 0..2u8 {
        let mut item = item(
            SourceKind::WhatsappExport,
            Some("eve@evil.example"),
            Some(phone("+447400123456")),
            vec![],
        );
        item.id = ItemId::derive(&[&[n]]);
        lines.extend(serde_json::to_vec(&item).unwrap());
        lines.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let batch = RawBatch::parse("raw/whatsapp-export/2026-11-21/batch-1.jsonl").unwrap();
    store.put_new(&batch.key(), &lines).await.unwrap();
    let mut report = Report::default();
    convert_batch(
        &store,
        &StoreQueue,
        &batch,
        &mapper,
        &ConvertOptions::default(),
        &mut report,
    )
    .await
    .unwrap();
    assert_eq!(report.unmapped, 0);
    assert_eq!(
        report.errors,
        [
            "raw batch raw/whatsapp-export/2026-11-21/batch-1.jsonl: custodian \
             eve@evil.example is not in the mapping CSV and evil.example is not a custodian \
             domain; its items are delivered to their other participants only"
        ]
    );
}

#[test]
fn a_participant_email_maps_automatically() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let message = cloud_item(
        with_email("Erin@Contoso.example"),
        vec![with_email("not an address"), phone("+447400123456")],
    );
    let resolution = mapper.resolve(&message);
    assert_eq!(
        resolution.addresses,
        [
            some("erin@contoso.example"),
            None,
            some("alice@contoso.example")
        ]
    );
    assert_eq!(
        resolution.mailboxes,
        ["alice@contoso.example", "erin@contoso.example"]
    );
}

#[test]
fn the_csv_wins_over_automatic_mapping() {
    let csv = "identity,mailbox\nerin@contoso.example,erin.archive@contoso.example\n";
    let mapper = clean_mapper(csv, Id::GB);
    let message = cloud_item(with_email("erin@contoso.example"), vec![]);
    assert_eq!(
        addresses(&mapper, &message),
        [some("erin.archive@contoso.example")]
    );
}

#[test]
fn participant_identifiers_are_tried_phone_then_id_then_email() {
    let csv = "identity,mailbox\n\
               +447400123456,by-phone@contoso.example\n\
               zhangsan,by-id@contoso.example\n\
               zs@contoso.example,by-email@contoso.example\n";
    let mapper = clean_mapper(csv, Id::GB);
    let all = Participant {
        phone: Some("+447400123456".into()),
        id: Some("zhangsan".into()),
        email: Some("zs@contoso.example".into()),
        name: None,
    };
    let no_phone = Participant {
        phone: None,
        ..all.clone()
    };
    let email_only = Participant {
        id: None,
        ..no_phone.clone()
    };
    let message = cloud_item(all, vec![no_phone, email_only]);
    assert_eq!(
        addresses(&mapper, &message),
        [
            some("by-phone@contoso.example"),
            some("by-id@contoso.example"),
            some("by-email@contoso.example")
        ]
    );
}

#[test]
fn a_display_name_maps_only_when_it_is_all_a_participant_has() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let with_number = Participant {
        name: Some("Carol Jones".into()),
        phone: Some("+447911123456".into()),
        ..Default::default()
    };
    let export = item(
        SourceKind::WhatsappExport,
        None,
        Some(named("  carol JONES ")),
        vec![with_number, named("Carol")],
    );
    assert_eq!(
        addresses(&mapper, &export),
        [some("carol@contoso.example"), None, None]
    );
}

#[test]
fn the_id_domain_rule_maps_wecom_userids() {
    let (table, _) = load(DIRECTORY, Id::GB);
    let mapper = mapper_with(table, Id::GB, Some("Corp.Example"));
    let wecom = item(
        SourceKind::Wecom,
        None,
        Some(with_id("LiSi")),
        vec![
            with_id("zhangsan"),
            with_id("wmJ2GCAAAAbCdEfGhIjKlMnOpQrStUvW"),
            with_id("li si"),
        ],
    );
    assert_eq!(
        addresses(&mapper, &wecom),
        [
            some("lisi@corp.example"),
            some("zhang.san@contoso.example"),
            None,
            None
        ]
    );
    let whatsapp = item(
        SourceKind::WhatsappExport,
        None,
        Some(with_id("dave")),
        vec![],
    );
    assert_eq!(
        addresses(&mapper, &whatsapp),
        [None],
        "the rule is for WeCom userids only"
    );
}

#[test]
fn an_item_maps_to_every_participant_once() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let group = item(
        SourceKind::WhatsappExport,
        Some("+447400123457"),
        Some(phone("+447400123456")),
        vec![
            phone("07400 123457"),
            named("Dave Customer"),
            phone("+447400123456"),
            with_id("ZhangSan"),
        ],
    );
    let resolution = mapper.resolve(&group);
    assert_eq!(
        resolution.addresses,
        [
            some("alice@contoso.example"),
            some("bob@contoso.example"),
            None,
            some("alice@contoso.example"),
            some("zhang.san@contoso.example"),
        ]
    );
    assert_eq!(
        resolution.mailboxes,
        [
            "alice@contoso.example",
            "bob@contoso.example",
            "zhang.san@contoso.example"
        ]
    );
    assert_eq!(resolution.unmapped_reason, None);
}

#[test]
fn an_unmapped_item_names_the_identities_tried() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let bob = Participant {
        name: Some("Bob".into()),
        phone: Some("+447911123456".into()),
        ..Default::default()
    };
    let export = item(
        SourceKind::WhatsappExport,
        Some("+447911123457"),
        Some(bob),
        vec![named("Alice")],
    );
    let resolution = mapper.resolve(&export);
    assert_eq!(resolution.addresses, [None, None]);
    assert!(resolution.mailboxes.is_empty());
    assert_eq!(
        resolution.unmapped_reason.as_deref(),
        Some("no mapping for custodian +447911123457 or participants Bob (+447911123456), Alice")
    );
}

#[test]
fn unmapped_reasons_without_custodian_or_participants() {
    let mapper = clean_mapper(DIRECTORY, Id::GB);
    let lone = cloud_item(with_id("wxid_stranger"), vec![]);
    assert_eq!(
        mapper.resolve(&lone).unmapped_reason.as_deref(),
        Some("no mapping for participant wxid_stranger")
    );
    let system = item(SourceKind::WhatsappCloud, None, None, vec![]);
    assert_eq!(
        mapper.resolve(&system).unmapped_reason.as_deref(),
        Some("no custodian or participants to map")
    );
}

/// The custodian folder's address must not come back in through the
/// participant it names in the export's own items (a direct chat gives the
/// custodian's participant that address): outside a custodian domain and
/// the CSV, nobody gets the chat.
#[test]
fn a_custodian_outside_the_domains_gets_nothing_through_its_own_participant() {
    use shared::sources::whatsapp_export::{ReadOptions, ZipLimits, open};
    let text = "21/11/2026, 09:15 - Bob: Hello\n21/11/2026, 09:16 - Eve: Hi Bob\n";
    let export = open(
        text.as_bytes(),
        "WhatsApp Chat with Bob.txt",
        &ZipLimits::default(),
    )
    .unwrap();
    let opts = ReadOptions {
        custodian: "ceo@corp.example",
        tz: chrono_tz::UTC,
        date_order: None,
        custodian_names: &[],
    };
    let lines = export.write_items(&opts, Vec::new()).unwrap().out;
    let items: Vec<Item<'_>> = lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(items.len(), 2);
    let outside = custodian_mapper(
        "identity,mailbox\nzed@partner.example,x@corp.example\n",
        &[],
    );
    for item in &items {
        let resolution = outside.resolve(item);
        assert!(
            resolution.mailboxes.is_empty(),
            "{:?}",
            resolution.mailboxes
        );
        assert!(resolution.unmapped_reason.is_some());
    }
    let inside = custodian_mapper(
        "identity,mailbox\nzed@partner.example,x@corp.example\n",
        &["corp.example"],
    );
    for item in &items {
        assert_eq!(inside.resolve(item).mailboxes, ["ceo@corp.example"]);
    }
}

/// The mapping's hash is what it maps: the same rows written otherwise
/// (order, quoting, spacing, a national number, case, blank lines) hash
/// alike; a row added or changed, or another option, does not.
#[test]
fn the_mapping_hash_changes_with_what_is_mapped_and_only_with_that() {
    let base = clean_mapper(
        "identity,mailbox\n+447400123456,alice@corp.example\nbob smith,bob@corp.example\n",
        Id::GB,
    );
    let same = clean_mapper(
        "Mailbox , Identity\n\n BOB@corp.example,\"Bob Smith\"\nalice@corp.example,07400 123456\n",
        Id::GB,
    );
    assert_eq!(base.hash(), same.hash());
    assert_eq!(base.hash().len(), 64);
    let added = clean_mapper(
        "identity,mailbox\n+447400123456,alice@corp.example\nbob smith,bob@corp.example\n\
         +447400123457,dan@corp.example\n",
        Id::GB,
    );
    let changed = clean_mapper(
        "identity,mailbox\n+447400123456,alice@corp.example\nbob smith,robert@corp.example\n",
        Id::GB,
    );
    assert_ne!(base.hash(), added.hash());
    assert_ne!(base.hash(), changed.hash());
    // Options resolution depends on are part of it.
    let (table, _) = load(
        "identity,mailbox\n+447400123456,alice@corp.example\nbob smith,bob@corp.example\n",
        Id::GB,
    );
    let with_domain = mapper_with(table.clone(), Id::GB, Some("corp.example"));
    assert_ne!(base.hash(), with_domain.hash());
    let other_region = mapper_with(table.clone(), Id::US, None);
    assert_ne!(base.hash(), other_region.hash());
    let custodians = Mapper::new(
        table,
        MappingOptions {
            custodian_domains: vec!["corp.example".to_owned()],
            ..options(Id::GB)
        },
    )
    .unwrap();
    assert_ne!(base.hash(), custodians.hash());
}
