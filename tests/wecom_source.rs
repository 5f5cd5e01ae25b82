//! The WeCom source through collect, against the SDK stand-in loaded
//! dynamically: paging from the checkpoint, retries, the JSON errcode,
//! data expiry, gaps, media in chunks with their MD5, key versions (a
//! message whose key is missing kept encrypted, then decrypted by a later
//! run once the key is added), and a crash between a batch and its
//! checkpoint.

mod support;

use std::path::Path;

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use shared::collect::collect_source;
use shared::item::Item;
use shared::layout::CollectionDay;
use shared::report::Report;
use shared::secrets::Secret;
use shared::sources::wecom::keys::PrivateKeys;
use shared::sources::wecom::media::Retry;
use shared::sources::wecom::sdk::Network;
use shared::sources::wecom::{WecomOptions, WecomSecrets, WecomSource};
use shared::store::{LocalDir, ObjectStore};
use wecom_sdk_standin::{CHUNK, Scenario, Scripted};

use serde_json::json;
use support::wecom::{Keys, serve_api, standin_library, write_scenario};

const SECRET: &str = "archive-secret";

/// 2020-10-28 09:00 UTC, the day of the messages.
const T0: u64 = 1_603_875_600_000;

fn text(seq: u64, content: &str) -> Vec<u8> {
    format!(
        r#"{{"msgid":"msg{seq}","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"wrGroup1","msgtime":{},"msgtype":"text","text":{{"content":"{content}"}}}}"#,
        T0 + seq * 1000
    )
    .into_bytes()
}

fn day() -> CollectionDay {
    CollectionDay(NaiveDate::from_ymd_opt(2020, 10, 28).unwrap())
}

struct Setup {
    dir: tempfile::TempDir,
    keys: Keys,
    corp: String,
    /// WeCom's web API on loopback, when the test serves one.
    api: Option<String>,
}

impl Setup {
    fn new(scenario: impl FnOnce(&Keys, &Path) -> Scenario) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::generate(&[1, 2]);
        let mut scenario = scenario(&keys, dir.path());
        scenario.secret = SECRET.to_owned();
        let corp = write_scenario(dir.path(), &scenario);
        Setup {
            dir,
            keys,
            corp,
            api: None,
        }
    }

    fn archive(&self) -> LocalDir {
        LocalDir::new(self.dir.path().join("archive"))
    }

    fn source(&self, versions: &[u32], page_limit: u32) -> WecomSource<LocalDir> {
        let options = WecomOptions {
            page_limit,
            ..source_options(self)
        };
        let secrets = WecomSecrets {
            archive_secret: Secret::new(SECRET),
            keys: PrivateKeys::from_secret(&Secret::new(self.keys.secret(versions))).unwrap(),
        };
        WecomSource::new(self.archive(), options, secrets)
    }

    async fn collect(&self, versions: &[u32], page_limit: u32) -> Report {
        let mut report = Report::default();
        let mut source = self.source(versions, page_limit);
        collect_source(&mut source, &self.archive(), day(), &mut report)
            .await
            .unwrap();
        report
    }

    /// Every item collected, as JSON, in time order.
    async fn items(&self) -> Vec<serde_json::Value> {
        let archive = self.archive();
        let mut items = Vec::new();
        for key in archive.list("raw/wecom/").await.unwrap() {
            if key.ends_with(".jsonl") {
                let bytes = archive.get(&key).await.unwrap().unwrap();
                for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    // Every line is an item.
                    let _: Item = serde_json::from_slice(line).unwrap();
                    items.push(serde_json::from_slice::<serde_json::Value>(line).unwrap());
                }
            }
        }
        items.sort_by_key(|item| item["timestamp"].as_str().unwrap().to_owned());
        items
    }
}

/// The options of a test's source: the stand-in, fast retries, a run an
/// hour after the messages.
fn source_options(setup: &Setup) -> WecomOptions {
    WecomOptions {
        library: standin_library(),
        corp_id: setup.corp.clone(),
        network: Network::default(),
        page_limit: 1000,
        retry: Retry {
            attempts: 3,
            first_delay: std::time::Duration::from_millis(1),
        },
        retention_alarm: TimeDelta::hours(48),
        now: Utc.timestamp_millis_opt(T0 as i64).unwrap() + TimeDelta::hours(1),
        api: setup.api.clone(),
        batch_media_bytes: shared::sources::wecom::BATCH_MEDIA_BYTES,
    }
}

#[tokio::test]
async fn pages_from_the_checkpoint_until_a_short_page_with_retries_and_exact_batch_ids() {
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: (1..=7)
            .map(|seq| keys.entry(seq, 1, &text(seq, "hello")))
            .collect(),
        chat_script: vec![Scripted::Ret(10001)],
        ..Default::default()
    });
    let report = setup.collect(&[1], 3).await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.items_collected, 7);
    let archive = setup.archive();
    let raw = archive.list("raw/wecom/2020-10-28/").await.unwrap();
    let batches: Vec<&str> = raw
        .iter()
        .filter(|k| k.ends_with(".jsonl"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        batches,
        [
            "raw/wecom/2020-10-28/00000000000000000001-00000000000000000003.jsonl",
            "raw/wecom/2020-10-28/00000000000000000004-00000000000000000006.jsonl",
            "raw/wecom/2020-10-28/00000000000000000007-00000000000000000007.jsonl",
        ]
    );
    // Each page is kept as WeCom listed it, encrypted, beside its batch.
    assert!(raw.contains(
        &"raw/wecom/2020-10-28/00000000000000000001-00000000000000000003/chatdata.json".to_owned()
    ));
    let checkpoints = archive.list("collected/wecom/").await.unwrap();
    assert_eq!(
        checkpoints.last().unwrap(),
        "collected/wecom/s00000000000000000007"
    );
    let items = setup.items().await;
    assert_eq!(items.len(), 7);
    assert_eq!(items[0]["text"], "hello");

    // Caught up: the next run asks from seq 7 and finds nothing.
    let again = setup.collect(&[1], 3).await;
    assert_eq!((again.items_collected, again.errors.len()), (0, 0));
}

#[tokio::test]
async fn a_message_whose_key_is_missing_is_kept_encrypted_then_decrypted_once_the_key_is_added() {
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: vec![
            keys.entry(1, 1, &text(1, "one")),
            keys.entry(2, 2, &text(2, "two")),
            keys.entry(3, 1, &text(3, "three")),
        ],
        ..Default::default()
    });
    let first = setup.collect(&[1], 1000).await;
    assert_eq!(first.items_collected, 2);
    assert_eq!(first.errors.len(), 1, "{:?}", first.errors);
    assert!(
        first.errors[0].contains("no private key of version 2"),
        "{}",
        first.errors[0]
    );
    let archive = setup.archive();
    let kept = "raw/wecom/2020-10-28/a-00000000000000000002-v2/chatdata.json";
    let entry: serde_json::Value =
        serde_json::from_slice(&archive.get(kept).await.unwrap().unwrap()).unwrap();
    assert_eq!(entry["publickey_ver"], 2);
    assert!(entry["encrypt_chat_msg"].is_string());

    // Still without the key: nothing new, nothing lost.
    let second = setup.collect(&[1], 1000).await;
    assert_eq!((second.items_collected, second.errors.len()), (0, 0));

    // The key is added: the kept message is read back and collected.
    let third = setup.collect(&[1, 2], 1000).await;
    assert_eq!(third.errors, Vec::<String>::new());
    assert_eq!(third.items_collected, 1);
    let texts: Vec<serde_json::Value> = setup
        .items()
        .await
        .iter()
        .map(|i| i["text"].clone())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let fourth = setup.collect(&[1, 2], 1000).await;
    assert_eq!(fourth.items_collected, 0);
}

#[tokio::test]
async fn expiry_errcodes_and_gaps_are_reported() {
    let expired = Setup::new(|keys, _| Scenario {
        chatdata: vec![keys.entry(1, 1, &text(1, "x"))],
        chat_script: vec![Scripted::Ret(10010)],
        ..Default::default()
    });
    let report = expired.collect(&[1], 1000).await;
    assert_eq!(report.items_collected, 0);
    assert!(
        report.errors[0].contains("10010") && report.errors[0].contains("data expired"),
        "{:?}",
        report.errors
    );
    assert!(
        expired
            .archive()
            .list("collected/wecom/")
            .await
            .unwrap()
            .is_empty()
    );

    let forbidden = Setup::new(|keys, _| Scenario {
        chatdata: vec![keys.entry(1, 1, &text(1, "x"))],
        chat_script: vec![Scripted::Errcode(48002)],
        ..Default::default()
    });
    let report = forbidden.collect(&[1], 1000).await;
    assert_eq!(report.items_collected, 0);
    assert!(
        report.errors[0].contains("errcode 48002"),
        "{:?}",
        report.errors
    );
    assert!(
        forbidden
            .archive()
            .list("collected/wecom/")
            .await
            .unwrap()
            .is_empty()
    );

    let gap = gap_at_3_and_4();
    let report = gap.collect(&[1], 2).await;
    assert_eq!(report.items_collected, 3);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].contains("gap in seq: 3 to 4"),
        "{}",
        report.errors[0]
    );
}

/// WeCom's seqs 1, 2 and 5: 3 and 4 never come.
fn gap_at_3_and_4() -> Setup {
    Setup::new(|keys, _| Scenario {
        chatdata: [1, 2, 5]
            .iter()
            .map(|seq| keys.entry(*seq, 1, &text(*seq, "x")))
            .collect(),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_seq_gap_is_a_gap_of_the_daily_report() {
    let gap = gap_at_3_and_4();
    let mut report = Report::default();
    let mut sources: Vec<Box<dyn shared::sources::Source>> = vec![Box::new(gap.source(&[1], 2))];
    shared::collect::collect(&mut sources, &gap.archive(), day(), &mut report)
        .await
        .unwrap();
    assert_eq!(report.seq_gaps.len(), 1, "{report}");
    let daily = shared::day_report::DayReport::read(&gap.archive(), day().0, Utc::now())
        .await
        .unwrap();
    assert_eq!(daily.collect_runs, 1);
    assert!(
        daily
            .gaps
            .contains(&"source wecom: seq 3 to 4 never came (data may be lost)".to_owned()),
        "{:?}",
        daily.gaps
    );
    assert_eq!(daily.collect_errors.len(), 1, "{:?}", daily.collect_errors);
    assert_eq!(daily.sources["wecom"].items, 3);
}

#[tokio::test]
async fn media_stream_in_chunks_with_a_retried_chunk_and_the_md5_checked() {
    let content: Vec<u8> = (0..CHUNK * 3 + 77).map(|i| (i * 7 % 256) as u8).collect();
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&content))
    };
    let setup = Setup::new(|keys, dir| {
        std::fs::write(dir.join("video.bin"), &content).unwrap();
        let video = format!(
            r#"{{"msgid":"msg1","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":{T0},"msgtype":"video","video":{{"md5sum":"{md5}","filesize":{},"play_length":12,"sdkfileid":"file-video"}}}}"#,
            content.len()
        );
        Scenario {
            chatdata: vec![keys.entry(1, 1, video.as_bytes())],
            media: [("file-video".to_owned(), dir.join("video.bin"))].into(),
            media_script: vec![0, 10002],
            ..Default::default()
        }
    });
    let report = setup.collect(&[1], 1000).await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.warnings, Vec::<String>::new());
    let items = setup.items().await;
    let attachment = &items[0]["attachments"][0];
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content));
    assert_eq!(attachment["sha256"], sha256.as_str());
    assert_eq!(attachment["name"], "video.mp4");
    assert_eq!(attachment["size"], content.len());
    let stored = setup
        .archive()
        .get(&format!("media/{sha256}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, content);
}

#[tokio::test]
async fn a_crash_between_batch_and_checkpoint_archives_nothing_twice_and_loses_nothing() {
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: (1..=4)
            .map(|seq| keys.entry(seq, 1, &text(seq, "x")))
            .collect(),
        ..Default::default()
    });
    assert_eq!(setup.collect(&[1], 2).await.items_collected, 4);
    // As if the run died after storing the second batch, before its checkpoint.
    let dir = setup.dir.path().join("archive/collected/wecom");
    std::fs::remove_file(dir.join("s00000000000000000004")).unwrap();
    let rerun = setup.collect(&[1], 2).await;
    assert_eq!(rerun.errors, Vec::<String>::new());
    assert!(dir.join("s00000000000000000004").exists());
    let batches = setup.archive().list("raw/wecom/").await.unwrap();
    assert_eq!(
        batches.iter().filter(|k| k.ends_with(".jsonl")).count(),
        2,
        "{batches:?}"
    );
    let items = setup.items().await;
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|item| item["kind"] == "message"));
}

#[tokio::test]
async fn groups_external_contacts_and_robots_are_named_from_the_web_api() {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = calls.clone();
    let api = serve_api(move |call| {
        seen.lock().unwrap().push(call.path.clone());
        let token = call.query.get("access_token").map(String::as_str);
        match (call.path.as_str(), token) {
            ("/cgi-bin/gettoken", _) if call.query["corpsecret"] == SECRET => {
                json!({"errcode": 0, "access_token": "tok", "expires_in": 7200})
            }
            (_, Some("tok")) => match call.path.as_str() {
                "/cgi-bin/msgaudit/groupchat/get" if call.body["roomid"] == "wrGroup1" => {
                    json!({"errcode": 0, "roomname": "项目组", "members": [{"memberid": "zhangsan"}]})
                }
                "/cgi-bin/msgaudit/groupchat/get" => json!({"errcode": 301059, "errmsg": "not internal"}),
                "/cgi-bin/externalcontact/groupchat/get" => json!({"errcode": 0, "group_chat": {
                    "name": "客户群", "member_list": [{"userid": "wmCustomer1", "name": "王五"}]}}),
                "/cgi-bin/externalcontact/get" => json!({"errcode": 0, "external_contact": {"name": "赵六"}}),
                "/cgi-bin/msgaudit/get_robot_info" => json!({"errcode": 0, "data": {"name": "日报机器人"}}),
                _ => json!({"errcode": 40001}),
            },
            _ => json!({"errcode": 40001}),
        }
    })
    .await;
    let message = |seq: u64, room: &str, to: &str| {
        format!(
            r#"{{"msgid":"msg{seq}","action":"send","from":"zhangsan","tolist":["{to}"],"roomid":"{room}","msgtime":{},"msgtype":"text","text":{{"content":"hi"}}}}"#,
            T0 + seq
        )
    };
    let mut setup = Setup::new(|keys, _| Scenario {
        chatdata: vec![
            keys.entry(1, 1, message(1, "wrGroup1", "lisi").as_bytes()),
            keys.entry(2, 1, message(2, "wrGroup1", "lisi").as_bytes()),
            keys.entry(3, 1, message(3, "wrCustomers", "wmCustomer1").as_bytes()),
            keys.entry(4, 1, message(4, "", "wmOther").as_bytes()),
            keys.entry(5, 1, message(5, "", "wbRobot1").as_bytes()),
        ],
        ..Default::default()
    });
    setup.api = Some(api);
    let report = setup.collect(&[1], 1000).await;
    assert_eq!(
        (report.errors.len(), report.warnings.len()),
        (0, 0),
        "{report:?}"
    );
    let items = setup.items().await;
    assert_eq!(items[0]["conversation"]["title"], "项目组");
    assert_eq!(items[2]["conversation"]["title"], "客户群");
    assert_eq!(items[2]["recipients"][0]["name"], "王五");
    assert_eq!(items[3]["recipients"][0]["name"], "赵六");
    assert_eq!(items[4]["recipients"][0]["name"], "日报机器人 (robot)");
    // One token, and each group asked for once in the run.
    let calls = calls.lock().unwrap();
    assert_eq!(
        calls.iter().filter(|p| *p == "/cgi-bin/gettoken").count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|p| *p == "/cgi-bin/msgaudit/groupchat/get")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_missing_library_is_reported_by_every_run_and_nothing_is_checkpointed() {
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: vec![keys.entry(1, 1, &text(1, "x"))],
        ..Default::default()
    });
    let options_path = setup.dir.path().join("missing/libWeWorkFinanceSdk_C.so");
    let mut source = WecomSource::new(
        setup.archive(),
        WecomOptions {
            library: options_path.clone(),
            ..source_options(&setup)
        },
        WecomSecrets {
            archive_secret: Secret::new(SECRET),
            keys: PrivateKeys::default(),
        },
    );
    for run in 0..2 {
        source.start_run(Utc::now());
        let mut report = Report::default();
        collect_source(&mut source, &setup.archive(), day(), &mut report)
            .await
            .unwrap();
        assert_eq!(report.errors.len(), 1, "run {run}: {:?}", report.errors);
        assert!(
            report.errors[0].contains(options_path.to_str().unwrap())
                && report.errors[0].contains("cannot be loaded"),
            "{}",
            report.errors[0]
        );
    }
    assert!(setup.archive().list("collected/").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_kept_encrypted_for_good_does_not_send_the_next_run_back_to_seq_0() {
    // Seq 2 cannot be decrypted whatever the keys (its message key is not
    // base64): it is kept encrypted under `x-…`, a position that sorts
    // after the pages' `s…`.
    let entries = |keys: &Keys, seqs: std::ops::RangeInclusive<u64>| {
        seqs.map(|seq| {
            let mut entry = keys.entry(seq, 1, &text(seq, "x"));
            if seq == 2 {
                entry.encrypt_random_key = "not base64!".to_owned();
            }
            entry
        })
        .collect::<Vec<_>>()
    };
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: entries(keys, 1..=3),
        ..Default::default()
    });
    let first = setup.collect(&[1], 1000).await;
    assert_eq!(first.items_collected, 2);
    assert_eq!(first.errors.len(), 1, "{:?}", first.errors);
    let checkpoints = setup.archive().list("collected/wecom/").await.unwrap();
    assert!(
        checkpoints
            .iter()
            .any(|c| c.ends_with("x-00000000000000000002")),
        "{checkpoints:?}"
    );
    // Later: seq 1 and 2 have expired at WeCom, 4 and 5 are new. The next
    // run goes on after seq 3, not from the oldest seq WeCom still keeps
    // (which would collect seq 3 a second time, in a batch of another id).
    write_scenario(
        setup.dir.path(),
        &Scenario {
            chatdata: entries(&setup.keys, 3..=5),
            secret: SECRET.to_owned(),
            ..Default::default()
        },
    );
    let second = setup.collect(&[1], 1000).await;
    assert_eq!(second.errors, Vec::<String>::new());
    assert_eq!(second.items_collected, 2);
    let batches = setup.archive().list("raw/wecom/").await.unwrap();
    let batches: Vec<&String> = batches.iter().filter(|k| k.ends_with(".jsonl")).collect();
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert!(batches[1].ends_with("00000000000000000004-00000000000000000005.jsonl"));
    assert_eq!(setup.items().await.len(), 4);
}

#[tokio::test]
async fn the_web_api_is_not_followed_to_where_it_redirects() {
    use std::io::{Read, Write};
    // Where a redirect would lead: counts the requests it gets.
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere_url = format!("http://{}", elsewhere.local_addr().unwrap());
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = reached.clone();
    std::thread::spawn(move || {
        for socket in elsewhere.incoming() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    // The configured API answers every call with a redirect.
    let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_url = format!("http://{}", api.local_addr().unwrap());
    std::thread::spawn(move || {
        for socket in api.incoming() {
            let mut socket = socket.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf);
            let response = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere_url}/cgi-bin/gettoken\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = socket.write_all(response.as_bytes());
        }
    });
    let room = r#"{"msgid":"msg1","action":"send","from":"zhangsan","tolist":["wmCustomer1"],"roomid":"wrGroup1","msgtime":1603875600000,"msgtype":"text","text":{"content":"hi"}}"#;
    let mut setup = Setup::new(|keys, _| Scenario {
        chatdata: vec![keys.entry(1, 1, room.as_bytes())],
        ..Default::default()
    });
    setup.api = Some(api_url);
    let report = setup.collect(&[1], 1000).await;
    assert_eq!(report.items_collected, 1);
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert!(
        report.warnings[0].contains("HTTP 307"),
        "{}",
        report.warnings[0]
    );
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_file_whose_md5_does_not_match_is_fetched_again_then_raised_as_an_error() {
    let content = b"not what the message says".to_vec();
    let setup = Setup::new(|keys, dir| {
        std::fs::write(dir.join("file.bin"), &content).unwrap();
        let file = format!(
            r#"{{"msgid":"msg1","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":{T0},"msgtype":"file","file":{{"md5sum":"00000000000000000000000000000000","filename":"a.txt","fileext":"txt","filesize":{},"sdkfileid":"file-a"}}}}"#,
            content.len()
        );
        Scenario {
            chatdata: vec![keys.entry(1, 1, file.as_bytes())],
            media: [("file-a".to_owned(), dir.join("file.bin"))].into(),
            ..Default::default()
        }
    });
    let report = setup.collect(&[1], 1000).await;
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0].contains("does not match the message's MD5"),
        "{}",
        report.errors[0]
    );
    // Kept as downloaded, not dropped.
    let items = setup.items().await;
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content));
    assert_eq!(items[0]["attachments"][0]["sha256"], sha256.as_str());
}

#[tokio::test]
async fn a_page_full_of_files_is_collected_a_batch_at_a_time_within_the_media_budget() {
    let setup = Setup::new(|keys, dir| {
        let mut media = std::collections::BTreeMap::new();
        let chatdata = (1..=4)
            .map(|seq| {
                let content = vec![seq as u8; CHUNK as usize + 10];
                let path = dir.join(format!("f{seq}.bin"));
                std::fs::write(&path, &content).unwrap();
                media.insert(format!("file-{seq}"), path);
                let message = format!(
                    r#"{{"msgid":"msg{seq}","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":{},"msgtype":"file","file":{{"filename":"f{seq}.bin","fileext":"bin","sdkfileid":"file-{seq}"}}}}"#,
                    T0 + seq * 1000
                );
                keys.entry(seq, 1, message.as_bytes())
            })
            .collect();
        Scenario {
            chatdata,
            media: media.into_iter().collect(),
            ..Default::default()
        }
    });
    // Two files fill a batch.
    let mut source = setup.source(&[1], 1000);
    source.set_batch_media_bytes(2 * (CHUNK + 10));
    let mut report = Report::default();
    collect_source(&mut source, &setup.archive(), day(), &mut report)
        .await
        .unwrap();
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.items_collected, 4);
    let archive = setup.archive();
    let raw = archive.list("raw/wecom/2020-10-28/").await.unwrap();
    let batches: Vec<&str> = raw
        .iter()
        .filter(|k| k.ends_with(".jsonl"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        batches,
        [
            "raw/wecom/2020-10-28/00000000000000000001-00000000000000000002.jsonl",
            "raw/wecom/2020-10-28/00000000000000000003-00000000000000000004.jsonl",
        ]
    );
    assert!(raw.contains(
        &"raw/wecom/2020-10-28/00000000000000000003-00000000000000000004/chatdata.json".to_owned()
    ));
    assert_eq!(setup.items().await.len(), 4);
    let again = setup.collect(&[1], 1000).await;
    assert_eq!((again.items_collected, again.errors.len()), (0, 0));
}

#[tokio::test]
async fn a_file_refused_for_the_egress_ip_is_fetched_by_the_next_run_not_given_up() {
    let content = b"recording".to_vec();
    let scenario = |keys: &Keys, dir: &Path, media_script: Vec<i32>| {
        let file = format!(
            r#"{{"msgid":"msg1","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":{T0},"msgtype":"file","file":{{"filename":"a.txt","fileext":"txt","sdkfileid":"file-a"}}}}"#
        );
        Scenario {
            chatdata: vec![keys.entry(1, 1, file.as_bytes())],
            media: [("file-a".to_owned(), dir.join("file.bin"))].into(),
            media_script,
            secret: SECRET.to_owned(),
            ..Default::default()
        }
    };
    let setup = Setup::new(|keys, dir| {
        std::fs::write(dir.join("file.bin"), &content).unwrap();
        scenario(keys, dir, vec![10009])
    });
    let first = setup.collect(&[1], 1000).await;
    assert_eq!(first.items_collected, 0);
    assert!(
        first.errors[0].contains("10009") && first.errors[0].contains("collected again"),
        "{:?}",
        first.errors
    );
    assert!(
        setup
            .archive()
            .list("collected/wecom/")
            .await
            .unwrap()
            .is_empty()
    );
    // The IP is trusted again.
    write_scenario(
        setup.dir.path(),
        &scenario(&setup.keys, setup.dir.path(), Vec::new()),
    );
    let second = setup.collect(&[1], 1000).await;
    assert_eq!(second.errors, Vec::<String>::new());
    assert_eq!(second.items_collected, 1);
    let items = setup.items().await;
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content));
    assert_eq!(items[0]["attachments"][0]["sha256"], sha256.as_str());
}

#[tokio::test]
async fn a_key_version_that_does_not_parse_is_reported_and_its_messages_kept_not_the_run_stopped() {
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: vec![
            keys.entry(1, 1, &text(1, "one")),
            keys.entry(2, 2, &text(2, "two")),
        ],
        ..Default::default()
    });
    // Version 2's PEM mistyped beside a good version 1.
    let mut secret: serde_json::Value = serde_json::from_str(&setup.keys.secret(&[1])).unwrap();
    secret["2"] = json!("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    let keys = PrivateKeys::from_secret(&Secret::new(secret.to_string())).unwrap();
    let mut source = WecomSource::new(
        setup.archive(),
        source_options(&setup),
        WecomSecrets {
            archive_secret: Secret::new(SECRET),
            keys,
        },
    );
    let mut report = Report::default();
    collect_source(&mut source, &setup.archive(), day(), &mut report)
        .await
        .unwrap();
    assert_eq!(report.items_collected, 1);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(
        report.errors[0].contains("version 2") && !report.errors[0].contains("not a key"),
        "{}",
        report.errors[0]
    );
    assert!(report.errors[1].contains("no private key of version 2"));
    // Fixed: the message kept encrypted is collected.
    let fixed = setup.collect(&[1, 2], 1000).await;
    assert_eq!(fixed.errors, Vec::<String>::new());
    assert_eq!(fixed.items_collected, 1);
}

#[tokio::test]
async fn a_wecom_source_that_could_not_be_set_up_reports_every_run_and_checkpoints_nothing() {
    let setup = Setup::new(|_, _| Scenario::default());
    let mut source = shared::sources::wecom::Unavailable {
        reason: "WeCom: secret wecom_corp_id not found".to_owned(),
    };
    for _ in 0..2 {
        let mut report = Report::default();
        collect_source(&mut source, &setup.archive(), day(), &mut report)
            .await
            .unwrap();
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert!(report.errors[0].contains("wecom_corp_id not found"));
    }
    assert!(
        setup
            .archive()
            .list("collected/wecom/")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn data_expired_after_the_checkpoint_is_a_gap_then_the_pull_goes_on_from_the_oldest_kept() {
    // Checkpointed up to seq 4; 5 and 6 expired at WeCom, which answers
    // 10010 after seq 4 (and would for ever) and keeps 7 and 8.
    let setup = Setup::new(|keys, _| Scenario {
        chatdata: [7, 8]
            .iter()
            .map(|seq| keys.entry(*seq, 1, &text(*seq, "x")))
            .collect(),
        chat_script: vec![Scripted::Ret(10010)],
        ..Default::default()
    });
    let checkpoint = setup.dir.path().join("archive/collected/wecom");
    std::fs::create_dir_all(&checkpoint).unwrap();
    std::fs::write(checkpoint.join("s00000000000000000004"), b"{}").unwrap();
    let report = setup.collect(&[1], 1000).await;
    assert_eq!(report.items_collected, 2);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(
        report.errors[0].contains("10010") && report.errors[0].contains("after seq 4"),
        "{}",
        report.errors[0]
    );
    assert!(
        report.errors[1].contains("gap in seq: 5 to 6"),
        "{}",
        report.errors[1]
    );
    let checkpoints = setup.archive().list("collected/wecom/").await.unwrap();
    assert_eq!(
        checkpoints.last().unwrap(),
        "collected/wecom/s00000000000000000008"
    );
}
