//! The binding to WeCom's SDK (`shared::sources::wecom::sdk`), exercised
//! through real dynamic loading of the stand-in library
//! (`tests/wecom-sdk-standin`): the 17 exports, the return codes, the JSON
//! listing, decryption, media chunks, and the errors of a library that is
//! missing or lacks an export.

mod support;

use shared::secrets::Secret;
use shared::sources::wecom::sdk::{Library, Network, Sdk, SdkError};
use wecom_sdk_standin::{CHUNK, ChatData, Scenario, Scripted, seal};

use support::wecom::{standin_library, standin_without, write_scenario};

fn message(seq: u64, key: &str) -> ChatData {
    ChatData {
        seq,
        msgid: format!("msg{seq}"),
        publickey_ver: 1,
        encrypt_random_key: "not used here".to_owned(),
        encrypt_chat_msg: seal(
            key.as_bytes(),
            format!(r#"{{"msgid":"msg{seq}","msgtype":"text","text":{{"content":"hi"}}}}"#)
                .as_bytes(),
        ),
    }
}

fn sdk(dir: &std::path::Path, scenario: Scenario) -> Sdk {
    let corp = write_scenario(dir, &scenario);
    let library = Library::load(&standin_library()).unwrap();
    Sdk::new(library, &corp, &Secret::new("archive-secret")).unwrap()
}

fn scenario() -> Scenario {
    Scenario {
        secret: "archive-secret".to_owned(),
        chatdata: (1..=5).map(|seq| message(seq, "k")).collect(),
        ..Default::default()
    }
}

#[test]
fn a_missing_library_is_an_error_naming_its_path() {
    let err = Library::load(std::path::Path::new("/opt/lib/libWeWorkFinanceSdk_C.so")).unwrap_err();
    assert!(matches!(err, SdkError::Load { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("/opt/lib/libWeWorkFinanceSdk_C.so") && text.contains("cannot be loaded"),
        "{text}"
    );
}

#[test]
fn a_library_without_one_export_is_an_error_naming_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let path = standin_without("IsMediaDataFinish", dir.path());
    let err = Library::load(&path).unwrap_err();
    let SdkError::Symbol { symbol, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*symbol, "IsMediaDataFinish");
    let text = err.to_string();
    assert!(
        text.contains(path.to_str().unwrap()) && text.contains("has no export IsMediaDataFinish"),
        "{text}"
    );
}

#[test]
fn init_with_a_wrong_secret_fails_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let corp = write_scenario(dir.path(), &scenario());
    let library = Library::load(&standin_library()).unwrap();
    let err = Sdk::new(library, &corp, &Secret::new("app-secret")).unwrap_err();
    assert_eq!(err.code(), Some(10004));
    assert!(err.to_string().contains("Init returned 10004"), "{err}");
}

#[test]
fn chat_data_pages_after_seq_and_decrypts_by_length() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = sdk(dir.path(), scenario());
    let net = Network::default();
    let page: serde_json::Value =
        serde_json::from_slice(&sdk.chat_data(2, 2, &net).unwrap()).unwrap();
    assert_eq!(page["errcode"], 0);
    let seqs: Vec<u64> = page["chatdata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4]);
    let encrypted = page["chatdata"][0]["encrypt_chat_msg"].as_str().unwrap();
    let plain = sdk.library().decrypt(b"k", encrypted).unwrap();
    assert_eq!(
        plain,
        br#"{"msgid":"msg3","msgtype":"text","text":{"content":"hi"}}"#
    );
    // A wrong message key: the SDK's decryption failure, by its code.
    let err = sdk.library().decrypt(b"other", encrypted).unwrap_err();
    assert_eq!(err.code(), Some(10006));
    // Over the SDK's limit of 1000: its parameter error.
    assert_eq!(
        sdk.chat_data(0, 1001, &net).unwrap_err().code(),
        Some(10000)
    );
}

#[test]
fn inputs_holding_nul_are_refused_before_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = sdk(dir.path(), scenario());
    let err = sdk.library().decrypt(b"k\0ey", "x").unwrap_err();
    assert!(matches!(err, SdkError::Nul(_)), "{err:?}");
    let net = Network {
        proxy: "http://proxy\0".to_owned(),
        ..Network::default()
    };
    assert!(matches!(
        sdk.chat_data(0, 10, &net),
        Err(SdkError::Nul("proxy"))
    ));
    assert!(matches!(
        sdk.media_chunk("", "file\0id", &Network::default()),
        Err(SdkError::Nul(_))
    ));
}

#[test]
fn scripted_return_codes_and_json_errcodes_come_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut scenario = scenario();
    scenario.chat_script = vec![
        Scripted::Ret(10001),
        Scripted::Errcode(48002),
        Scripted::Ret(10010),
    ];
    let sdk = sdk(dir.path(), scenario);
    let net = Network::default();
    let err = sdk.chat_data(0, 10, &net).unwrap_err();
    assert!(err.is_transient(), "{err}");
    let page: serde_json::Value =
        serde_json::from_slice(&sdk.chat_data(0, 10, &net).unwrap()).unwrap();
    assert_eq!(page["errcode"], 48002);
    let err = sdk.chat_data(0, 10, &net).unwrap_err();
    assert_eq!(err.code(), Some(10010));
    assert!(!err.is_transient());
    assert_eq!(
        sdk.chat_data(0, 10, &net).map(|json| json.len() > 2).ok(),
        Some(true)
    );
}

#[test]
fn media_comes_in_512_kb_chunks_with_the_index_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..CHUNK * 2 + 1000).map(|i| (i % 251) as u8).collect();
    let file = dir.path().join("media.bin");
    std::fs::write(&file, &content).unwrap();
    let mut scenario = scenario();
    scenario.media.insert("file-1".to_owned(), file);
    scenario.media_script = vec![0, 10001];
    let sdk = sdk(dir.path(), scenario);
    let net = Network::default();
    let mut got = Vec::new();
    let mut index = String::new();
    let mut calls = 0;
    loop {
        calls += 1;
        let chunk = match sdk.media_chunk(&index, "file-1", &net) {
            Ok(chunk) => chunk,
            // The same chunk again, not from the start.
            Err(e) if e.is_transient() => continue,
            Err(e) => panic!("{e}"),
        };
        assert!(chunk.data.len() as u64 <= CHUNK);
        got.extend_from_slice(&chunk.data);
        index = chunk.next_index;
        if chunk.finished {
            break;
        }
    }
    assert_eq!(calls, 4, "three chunks and one retried");
    assert_eq!(got, content);
    let err = sdk.media_chunk("", "no-such-file", &net).unwrap_err();
    assert_eq!(err.code(), Some(10005));
}

#[test]
fn the_layer_script_refuses_a_library_built_for_another_machine_than_the_functions() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // The stand-in, laid out as the vendor's download.
    let archive = dir.path().join("sdk.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
    zip.start_file::<_, ()>(
        "C_sdk/libWeWorkFinanceSdk_C.so",
        zip::write::FileOptions::default(),
    )
    .unwrap();
    zip.write_all(&std::fs::read(standin_library()).unwrap())
        .unwrap();
    zip.finish().unwrap();
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(&archive).unwrap(),
    ));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/wecom-sdk-layer.sh");
    let run = |machine: Option<&str>| {
        let mut command = std::process::Command::new("bash");
        command
            .arg(script)
            .arg(&archive)
            .arg(&sha256)
            .arg(dir.path().join("layer.zip"));
        if let Some(machine) = machine {
            command.env("WECOM_SDK_MACHINE", machine);
        }
        command.output().unwrap()
    };
    let host = match std::env::consts::ARCH {
        "x86_64" => "Advanced Micro Devices X86-64",
        "aarch64" => "AArch64",
        other => panic!("no readelf name for {other}"),
    };
    let other = if host == "AArch64" {
        "Advanced Micro Devices X86-64"
    } else {
        "AArch64"
    };
    let refused = run(Some(other));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refusing it"),
        "{refused:?}"
    );
    let built = run(Some(host));
    assert!(built.status.success(), "{built:?}");
    assert!(dir.path().join("layer.zip").is_file());
}
