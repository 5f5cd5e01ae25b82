//! A 200 MB WeCom media file streams through `archiver run` (collect,
//! convert, deliver) without memory growing with it: the real binary's
//! peak resident set, as a child process (`getrusage(RUSAGE_CHILDREN)`),
//! with a 200 MB file is at most 64 MB above the same run with a 1 KB
//! file; the file's MD5 is checked against the message's and its SHA-256
//! names it in the archive. The SDK is the tests' stand-in
//! (`tests/wecom-sdk-standin`), loaded dynamically. This file holds one
//! test, so that its children are the only ones the figure can come from.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use md5::Digest as _;
use nix::sys::resource::{UsageWho, getrusage};
use sha2::Sha256;
use wecom_sdk_standin::Scenario;

/// The bound the issue sets above idle.
const GROWTH_LIMIT_KIB: i64 = 64 << 10;

/// The stand-in Cargo built beside this test binary.
fn standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [
        deps.join("libwecom_sdk_standin.so"),
        deps.join("../libwecom_sdk_standin.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .expect("the stand-in is built with the tests")
}

/// Writes `len` bytes of a pattern; returns their MD5 and SHA-256 (hex).
fn write_media(path: &Path, len: usize) -> (String, String) {
    let mut file = BufWriter::new(fs::File::create(path).unwrap());
    let (mut md5, mut sha) = (md5::Md5::new(), Sha256::new());
    let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        file.write_all(&block[..n]).unwrap();
        md5.update(&block[..n]);
        sha.update(&block[..n]);
        left -= n;
    }
    file.flush().unwrap();
    (hex::encode(md5.finalize()), hex::encode(sha.finalize()))
}

/// A run of `archiver run` over one WeCom file message of `len` bytes;
/// returns the SHA-256 of the file and the run's output.
fn run(root: &Path, len: usize) -> (String, String) {
    fs::create_dir_all(root.join("drops")).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    let (md5, sha256) = write_media(&root.join("media.bin"), len);
    let key = {
        use rsa::Generate;
        rsa::PrivateKey::generate()
    };
    let message = format!(
        r#"{{"msgid":"big{len}","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":{},"msgtype":"file","file":{{"md5sum":"{md5}","filename":"big.bin","fileext":"bin","filesize":{len},"sdkfileid":"big"}}}}"#,
        chrono::Utc::now().timestamp_millis()
    );
    let message_key = b"0123456789abcdef0123456789abcdef";
    let sealed_key = key.to_public_key().pkcs1v15_encrypt(message_key).unwrap();
    let scenario = Scenario {
        secret: "archive-secret".to_owned(),
        chatdata: vec![wecom_sdk_standin::ChatData {
            seq: 1,
            msgid: format!("big{len}"),
            publickey_ver: 1,
            encrypt_random_key: base64::engine::general_purpose::STANDARD.encode(sealed_key),
            encrypt_chat_msg: wecom_sdk_standin::seal(message_key, message.as_bytes()),
        }],
        media: [("big".to_owned(), root.join("media.bin"))].into(),
        ..Default::default()
    };
    let scenario_path = root.join("scenario.json");
    fs::write(&scenario_path, serde_json::to_vec(&scenario).unwrap()).unwrap();
    let pem = {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    };
    let secrets = root.join("secrets");
    fs::create_dir_all(&secrets).unwrap();
    for (name, value) in [
        ("wecom_corp_id", scenario_path.to_str().unwrap().to_owned()),
        ("wecom_archive_secret", "archive-secret".to_owned()),
        (
            "wecom_private_keys",
            serde_json::json!({ "1": pem }).to_string(),
        ),
    ] {
        let path = secrets.join(name);
        fs::write(&path, value).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = root.join("archiver.toml");
    fs::write(
        &config,
        format!(
            "time_zone = \"Asia/Shanghai\"\ndefault_region = \"CN\"\n\
             [store]\npath = \"store\"\n[drops]\npath = \"drops\"\n\
             [maildir]\npath = \"maildir\"\n[mapping]\nid_domain = \"corp.example\"\n\
             [wecom]\nsecrets = \"secrets\"\nlibrary = \"{}\"\napi_base_url = \"\"\n",
            standin().display()
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(["run", "--config"])
        .arg(&config)
        .env("TMPDIR", root.join("tmp"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    (sha256, said)
}

/// SHA-256 of a file, streamed.
fn sha256_of(path: &Path) -> String {
    let mut file = fs::File::open(path).unwrap();
    let mut sha = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    hex::encode(sha.finalize())
}

#[test]
fn a_200_mb_wecom_file_streams_through_with_memory_at_most_64_mb_above_idle() {
    let small = tempfile::tempdir().unwrap();
    let (small_sha, said) = run(small.path(), 1024);
    assert!(
        small
            .path()
            .join(format!("store/media/{small_sha}"))
            .is_file(),
        "{said}"
    );
    let idle_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();

    let big = tempfile::tempdir().unwrap();
    let len = 200 << 20;
    let (sha256, said) = run(big.path(), len);
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    // The MD5 matched (no warning), and the stored file is the one sent.
    assert!(!said.contains("does not match"), "{said}");
    let stored = big.path().join(format!("store/media/{sha256}"));
    assert_eq!(fs::metadata(&stored).unwrap().len(), len as u64, "{said}");
    assert_eq!(sha256_of(&stored), sha256);
    assert!(
        peak_kib <= idle_kib + GROWTH_LIMIT_KIB,
        "a 200 MB file peaked at {peak_kib} KiB, {idle_kib} KiB with 1 KB"
    );
    // Delivered, as a stub naming the archived file (over the attachment limit).
    let mail = big
        .path()
        .join("maildir/zhangsan@corp.example/.WeChat Archiver/cur");
    assert_eq!(fs::read_dir(&mail).unwrap().count(), 1, "{said}");
    // Every temporary file is gone.
    assert_eq!(fs::read_dir(big.path().join("tmp")).unwrap().count(), 0);
    eprintln!("200 MB WeCom file: peak {peak_kib} KiB, {idle_kib} KiB with 1 KB");
}
