//! WeCom through the whole local pipeline, as `archiver run` does it: the
//! settings' `[wecom]` table and secret files, the SDK stand-in loaded
//! dynamically, WeCom's web API on loopback, then collect, convert and
//! deliver into a Maildir: the group's Chinese title in the subject, the
//! call's recording attached, in `WeChat Archiver`; a second run delivers
//! nothing twice.

mod support;

use std::os::unix::fs::PermissionsExt;

use chrono::{NaiveDate, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;
use shared::embedded;
use shared::mailbox::Maildir;
use shared::report::Report;
use shared::secrets::SecretFiles;
use shared::settings::LocalSettings;
use shared::sources::Source;
use shared::store::LocalDir;
use wecom_sdk_standin::Scenario;

use support::wecom::{Keys, serve_api, standin_library, write_scenario};

#[tokio::test]
async fn wecom_messages_reach_the_wechat_folder_once_with_titles_and_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let keys = Keys::generate(&[1]);
    let recording = [b"#!AMR\n".as_slice(), &[7u8; 700_000]].concat();
    std::fs::write(root.join("recording.bin"), &recording).unwrap();
    let text = r#"{"msgid":"m1","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"wrGroup1","msgtime":1603875610000,"msgtype":"text","text":{"content":"明天开会"}}"#;
    let call = r#"{"msgid":"m2","action":"send","from":"zhangsan","tolist":["lisi"],"msgtime":1603875323000,"msgtype":"meeting_voice_call","voiceid":"grb8a4","meeting_voice_call":{"endtime":1603875635,"sdkfileid":"rec-1"}}"#;
    let scenario = Scenario {
        secret: "archive-secret".to_owned(),
        chatdata: vec![
            keys.entry(1, 1, text.as_bytes()),
            keys.entry(2, 1, call.as_bytes()),
        ],
        media: [("rec-1".to_owned(), root.join("recording.bin"))].into(),
        ..Default::default()
    };
    let corp = write_scenario(root, &scenario);
    let api = serve_api(|call| match call.path.as_str() {
        "/cgi-bin/gettoken" => json!({"errcode": 0, "access_token": "tok"}),
        "/cgi-bin/msgaudit/groupchat/get" => json!({"errcode": 0, "roomname": "项目组"}),
        _ => json!({"errcode": 40001}),
    })
    .await;
    let secrets = root.join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    for (name, value) in [
        ("wecom_corp_id", corp),
        ("wecom_archive_secret", "archive-secret".to_owned()),
        ("wecom_private_keys", keys.secret(&[1])),
    ] {
        let path = secrets.join(name);
        std::fs::write(&path, value).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::create_dir(root.join("drops")).unwrap();
    std::fs::write(
        root.join("mapping.csv"),
        "identity,mailbox\nwecom:zhangsan,zhang.san@corp.example\nwecom:lisi,li.si@corp.example\n",
    )
    .unwrap();
    let config = root.join("archiver.toml");
    std::fs::write(
        &config,
        format!(
            r#"time_zone = "Asia/Shanghai"
default_region = "CN"
[store]
path = "archive"
[drops]
path = "drops"
[maildir]
path = "mail"
[mapping]
csv = "mapping.csv"
[wecom]
secrets = "secrets"
library = "{}"
api_base_url = "{api}"
"#,
            standin_library().display()
        ),
    )
    .unwrap();

    let run = || async {
        let settings = LocalSettings::load(&config).unwrap();
        let mut report = Report::default();
        let mapper = settings.mapper(&mut report).unwrap();
        let mut sources = settings.sources.configured(|dir| LocalDir::new(dir));
        let wecom = settings.sources.wecom.as_ref().unwrap();
        let source = wecom
            .source(
                LocalDir::new(&settings.store),
                &SecretFiles::new(&wecom.secrets),
                Utc::now(),
            )
            .await
            .unwrap();
        sources.push(Box::new(source) as Box<dyn Source>);
        let day = NaiveDate::from_ymd_opt(2020, 10, 28).unwrap();
        let opts = settings.run_options(day, day.and_hms_opt(9, 0, 0).unwrap().and_utc());
        let mut mail = [Maildir::new(root.join("mail"))];
        embedded::run(
            &mut sources,
            &LocalDir::new(&settings.store),
            &mut mail,
            &mapper,
            &opts,
            &mut report,
        )
        .await
        .unwrap();
        report
    };
    let first = run().await;
    // The messages are years old: the retention alarm says so, nothing else.
    assert_eq!(first.errors.len(), 1, "{:?}", first.errors);
    assert!(first.errors[0].contains("retention"), "{:?}", first.errors);
    assert_eq!(first.items_collected, 2);
    let folder = root.join("mail/zhang.san@corp.example/.WeChat Archiver/cur");
    let mut messages: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(messages.len(), 2);
    messages.sort_by_key(|m| {
        MessageParser::default()
            .parse(m)
            .unwrap()
            .subject()
            .unwrap()
            .to_owned()
    });
    let call = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(
        call.subject(),
        Some("WeChat call with zhangsan, lisi, 5 min 12 s")
    );
    let part = call.attachments().next().unwrap();
    assert_eq!(part.attachment_name(), Some("recording.amr"));
    assert_eq!(part.contents(), recording.as_slice());
    let group = MessageParser::default().parse(&messages[1]).unwrap();
    assert_eq!(
        group.subject(),
        Some("WeChat group \"项目组\": message from zhangsan")
    );
    assert!(
        root.join("mail/li.si@corp.example/.WeChat Archiver/cur")
            .is_dir()
    );

    let second = run().await;
    assert_eq!(second.items_collected, 0);
    assert_eq!(second.copies_delivered(), 0);
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 2);
}
