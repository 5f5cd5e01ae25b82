//! The media step against a stand-in for the Graph media API and its CDN:
//! a small HTTP/1.1 server on loopback, written for these tests, speaking
//! the real wire format (`GET /<version>/<media-id>` with a bearer token
//! answers `{"url", "mime_type", "sha256", "file_size", "id"}`; `GET <url>`
//! with the token answers the bytes). Every case ends stored or recorded
//! with its reason, and collect then attaches the file or says it could
//! not be fetched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use shared::layout::{self, CollectionDay};
use shared::report::Report;
use shared::secrets::Secret;
use shared::sources::whatsapp_cloud::{
    Capture, CloudInbox, Fetch, GraphMedia, MediaOptions, MediaRef, Request, sign,
};
use shared::store::{LocalDir, ObjectStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "test-access-token";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes all the same";
const BIG: u64 = 100 * 1000 * 1000;

/// The pattern the 100 MB document is made of, chunk by chunk: a fixed
/// 64 KiB block whose first bytes number the chunk.
fn big_chunk(n: u64) -> Vec<u8> {
    static BLOCK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let block = BLOCK.get_or_init(|| (0..1u32 << 16).map(|i| (i * 7 % 251) as u8).collect());
    let mut chunk = block.clone();
    chunk[..8].copy_from_slice(&n.to_le_bytes());
    chunk
}

/// The document's SHA-256, computed once.
fn big_sha256() -> String {
    static SHA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHA.get_or_init(compute_big_sha256).clone()
}

fn compute_big_sha256() -> String {
    let mut hasher = Sha256::new();
    let (mut sent, mut n) = (0u64, 0u64);
    while sent < BIG {
        let chunk = big_chunk(n);
        let take = chunk.len().min((BIG - sent) as usize);
        hasher.update(&chunk[..take]);
        sent += take as u64;
        n += 1;
    }
    hex::encode(hasher.finalize())
}

/// The stand-in: answers per media id, counts requests per path.
#[derive(Clone, Default)]
struct Graph {
    hits: Arc<Mutex<HashMap<String, u32>>>,
    /// Another loopback host (127.0.0.2) that must never be reached.
    elsewhere: Arc<Mutex<String>>,
}

impl Graph {
    fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    async fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let graph = self.clone();
        let cdn = base.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let graph = graph.clone();
                let cdn = cdn.clone();
                tokio::spawn(async move { graph.serve(stream, &cdn).await });
            }
        });
        base
    }

    async fn serve(&self, mut stream: TcpStream, base: &str) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let authorised = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}")));
        let hit = {
            let mut hits = self.hits.lock().unwrap();
            let hit = hits.entry(path.clone()).or_default();
            *hit += 1;
            *hit
        };
        let id = path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        if path.starts_with("/v25.0/") {
            // As the Graph API answers an expired or invalid token.
            if !authorised || id == "token-expired" {
                let body = br#"{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"Ax"}}"#;
                return respond(&mut stream, 400, body).await;
            }
            // Throttled the first time (HTTP 400, code 80007).
            if id == "throttled" && hit == 1 {
                let body = br#"{"error":{"message":"Rate limit hit","type":"OAuthException","code":80007,"fbtrace_id":"Ay"}}"#;
                return respond(&mut stream, 400, body).await;
            }
            let elsewhere = self.elsewhere.lock().unwrap().clone();
            let url = match id {
                "to-metadata" => Some("https://169.254.169.254/latest/meta-data/".to_owned()),
                "to-other-host" => Some("https://files.example.com/x.jpg".to_owned()),
                "to-http" => Some(
                    "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1".to_owned(),
                ),
                "to-ip" => Some("https://93.184.216.34/x.jpg".to_owned()),
                "to-elsewhere" => Some(format!("{elsewhere}/x.jpg")),
                _ => None,
            };
            if let Some(url) = url {
                let body = serde_json::json!({"url": url, "sha256": hex::encode(Sha256::digest(JPEG)), "id": id});
                return respond(&mut stream, 200, body.to_string().as_bytes()).await;
            }
            if id == "gone" {
                return respond(&mut stream, 404, br#"{"error":{"code":100}}"#).await;
            }
            if id == "unknown-id" {
                let body = br#"{"error":{"message":"Unsupported get request. Object with ID 'unknown-id' does not exist","type":"GraphMethodException","code":100,"error_subcode":33}}"#;
                return respond(&mut stream, 400, body).await;
            }
            let (sha, size) = match id {
                "big" => (big_sha256(), BIG),
                "bad-hash" => ("00".repeat(32), JPEG.len() as u64),
                _ => (hex::encode(Sha256::digest(JPEG)), JPEG.len() as u64),
            };
            let body = serde_json::json!({
                "messaging_product": "whatsapp",
                "url": format!("{base}/cdn/{id}?ext=1767225600&hash=ATt"),
                "mime_type": "image/jpeg",
                "sha256": sha,
                "file_size": size.to_string(),
                "id": id,
            });
            return respond(&mut stream, 200, body.to_string().as_bytes()).await;
        }
        if !authorised {
            return respond(&mut stream, 401, b"").await;
        }
        match id {
            // A body that drips: a byte every 100 ms, never a pause long
            // enough for the read timeout.
            "drip" => {
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                for _ in 0..1000 {
                    if stream.write_all(b"x").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            // The CDN sends the client on to another host.
            "redirect" => {
                let elsewhere = self.elsewhere.lock().unwrap().clone();
                let head = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {elsewhere}/steal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes()).await;
            }
            // The URL has expired the first time it is used.
            "expiring" if hit == 1 => respond(&mut stream, 404, b"expired").await,
            // The CDN stalls the first time.
            "slow" if hit == 1 => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                respond(&mut stream, 200, JPEG).await
            }
            "big" => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\nContent-Type: application/pdf\r\nConnection: close\r\n\r\n"
                );
                stream.write_all(head.as_bytes()).await.unwrap();
                let (mut sent, mut n) = (0u64, 0u64);
                while sent < BIG {
                    let chunk = big_chunk(n);
                    let take = chunk.len().min((BIG - sent) as usize);
                    if stream.write_all(&chunk[..take]).await.is_err() {
                        return;
                    }
                    sent += take as u64;
                    n += 1;
                }
            }
            _ => respond(&mut stream, 200, JPEG).await,
        }
    }
}

async fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
}

fn media(id: &str, sha256: Option<String>) -> MediaRef {
    MediaRef {
        id: id.to_owned(),
        sha256,
        mime_type: Some("image/jpeg".to_owned()),
    }
}

fn webhook_sha(bytes: &[u8]) -> Option<String> {
    Some(STANDARD.encode(Sha256::digest(bytes)))
}

fn options(base: &str) -> MediaOptions {
    let mut opts = MediaOptions::new(base.parse().unwrap());
    opts.backoff = Duration::from_millis(10);
    opts.timeout = Duration::from_millis(500);
    opts.insecure_loopback_for_tests = true;
    opts
}

/// A body dripping slower than it could ever finish, but never pausing
/// for the read timeout: each try ends at the try timeout, and the id is
/// recorded as failed after the last.
#[tokio::test]
async fn a_dripping_body_ends_at_the_try_timeout() {
    let graph = Graph::default();
    let base = graph.start().await;
    let mut opts = options(&base);
    opts.try_timeout = Duration::from_secs(1);
    let step = GraphMedia::new(Secret::new(TOKEN), opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let started = std::time::Instant::now();
    let fetched = tokio::time::timeout(
        Duration::from_secs(20),
        step.fetch(&store, &media("drip", webhook_sha(JPEG))),
    )
    .await
    .expect("the step gives up on its own")
    .unwrap();
    let Fetch::Failed(failed) = fetched else {
        panic!("{fetched:?}")
    };
    assert_eq!(failed.attempts, 3);
    assert!(
        failed.reason.contains("did not finish within 1 s"),
        "{}",
        failed.reason
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    let key = layout::media_failed_key("whatsapp-cloud", "drip");
    assert!(store.get(&key).await.unwrap().is_some());
}

async fn step(base: &str) -> GraphMedia {
    GraphMedia::new(Secret::new(TOKEN), options(base)).unwrap()
}

/// A server on 127.0.0.2 that records every request head it is sent.
async fn elsewhere() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = vec![0u8; 4096];
            let n = stream.read(&mut head).await.unwrap_or(0);
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head[..n]).into_owned());
            respond(&mut stream, 200, JPEG).await;
        }
    });
    (base, seen)
}

/// A download URL naming the metadata service, another host, plain http,
/// an IP literal or a loopback host of its own, and a CDN redirecting
/// elsewhere: each refused before anything is sent (the token least of
/// all), and recorded with the reason.
#[tokio::test]
async fn downloads_go_only_to_allowed_hosts_and_the_token_nowhere_else() {
    let graph = Graph::default();
    let base = graph.start().await;
    let (other, seen) = elsewhere().await;
    *graph.elsewhere.lock().unwrap() = other;
    let step = step(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    for (id, reason) in [
        ("to-metadata", "IP address"),
        ("to-other-host", "\"files.example.com\" is not allowed"),
        ("to-http", "https only"),
        ("to-ip", "IP address"),
        ("to-elsewhere", "https only"),
        ("redirect", "redirect"),
    ] {
        let fetched = step
            .fetch(&store, &media(id, webhook_sha(JPEG)))
            .await
            .unwrap();
        let Fetch::Failed(failed) = fetched else {
            panic!("{id}: {fetched:?}")
        };
        assert!(failed.reason.contains(reason), "{id}: {}", failed.reason);
        assert!(failed.reason.contains("refused"), "{id}: {}", failed.reason);
        let key = layout::media_failed_key("whatsapp-cloud", id);
        assert!(store.get(&key).await.unwrap().is_some(), "{key}");
    }
    assert_eq!(graph.hits("/cdn/redirect?ext=1767225600&hash=ATt"), 1);
    assert_eq!(*seen.lock().unwrap(), Vec::<String>::new());

    // A plain-http Graph API base is refused unless the test-only switch
    // is on: no lookup is sent at all.
    let mut opts = options(&base);
    opts.insecure_loopback_for_tests = false;
    let strict = GraphMedia::new(Secret::new(TOKEN), opts).unwrap();
    let Fetch::Failed(failed) = strict.fetch(&store, &media("strict", None)).await.unwrap() else {
        panic!()
    };
    assert!(failed.reason.contains("https only"), "{}", failed.reason);
    assert_eq!(graph.hits("/v25.0/strict"), 0);
}

#[tokio::test]
async fn each_case_is_stored_or_recorded_with_its_reason() {
    let graph = Graph::default();
    let base = graph.start().await;
    let step = step(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let jpeg_hex = hex::encode(Sha256::digest(JPEG));

    // Verified against the webhook's base64 SHA-256, stored once.
    let ok = step
        .fetch(&store, &media("ok", webhook_sha(JPEG)))
        .await
        .unwrap();
    let Fetch::Stored(record) = ok else {
        panic!("{ok:?}")
    };
    assert_eq!(record.sha256, jpeg_hex);
    assert_eq!(record.matched, "webhook base64");
    let stored = store.get(&layout::media_key(&jpeg_hex)).await.unwrap();
    assert_eq!(stored.as_deref(), Some(JPEG));
    let again = step
        .fetch(&store, &media("ok", webhook_sha(JPEG)))
        .await
        .unwrap();
    assert_eq!(again, Fetch::AlreadyFetched);
    assert_eq!(graph.hits("/v25.0/ok"), 1);

    // No webhook hash: the lookup's hex one is checked.
    let Fetch::Stored(record) = step.fetch(&store, &media("hex-only", None)).await.unwrap() else {
        panic!()
    };
    assert_eq!(record.matched, "lookup hex");

    // A wrong hash is tried again, then recorded; nothing stored under it.
    let wrong = Some(STANDARD.encode([7u8; 32]));
    let Fetch::Failed(failed) = step.fetch(&store, &media("bad-hash", wrong)).await.unwrap() else {
        panic!()
    };
    assert_eq!(failed.attempts, 3);
    assert!(failed.reason.contains("SHA-256"), "{}", failed.reason);
    assert_eq!(graph.hits("/v25.0/bad-hash"), 3);

    // The webhook's hash decides: a file matching only the lookup's hash
    // is not taken.
    let wrong = Some(STANDARD.encode([9u8; 32]));
    let Fetch::Failed(failed) = step
        .fetch(&store, &media("lookup-only-matches", wrong))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(failed.attempts, 3);
    assert!(failed.reason.contains("webhook's"), "{}", failed.reason);

    // A 404 on the lookup (an unknown or expired id) is final at once.
    let Fetch::Failed(failed) = step.fetch(&store, &media("gone", None)).await.unwrap() else {
        panic!()
    };
    assert_eq!((failed.attempts, graph.hits("/v25.0/gone")), (1, 1));
    assert!(failed.reason.contains("404"));

    // An expired token (HTTP 400, code 190) is tried again, then recorded.
    let Fetch::Failed(failed) = step
        .fetch(&store, &media("token-expired", None))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(failed.attempts, 3);
    assert!(
        failed.reason.contains("HTTP 400 (Graph error code 190)"),
        "{}",
        failed.reason
    );

    // Throttling (HTTP 400, code 80007) is tried again and fetched.
    let Fetch::Stored(_) = step
        .fetch(&store, &media("throttled", webhook_sha(JPEG)))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(graph.hits("/v25.0/throttled"), 2);

    // An unknown id (HTTP 400, code 100) is final at once.
    let Fetch::Failed(failed) = step
        .fetch(&store, &media("unknown-id", None))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((failed.attempts, graph.hits("/v25.0/unknown-id")), (1, 1));

    // A URL that expired: a fresh lookup and it is fetched.
    let Fetch::Stored(_) = step
        .fetch(&store, &media("expiring", webhook_sha(JPEG)))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(graph.hits("/v25.0/expiring"), 2);

    // A CDN that stalls past the timeout: tried again and fetched.
    let Fetch::Stored(_) = step
        .fetch(&store, &media("slow", webhook_sha(JPEG)))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(graph.hits("/v25.0/slow"), 2);

    // Every failure is on record with its reason; every success too.
    for (id, failed) in [
        ("bad-hash", true),
        ("gone", true),
        ("token-expired", true),
        ("ok", false),
    ] {
        let key = if failed {
            layout::media_failed_key("whatsapp-cloud", id)
        } else {
            layout::media_fetched_key("whatsapp-cloud", id)
        };
        assert!(store.get(&key).await.unwrap().is_some(), "{key}");
    }
}

/// The VmHWM (peak resident memory) of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_100_mb_document_is_streamed_with_bounded_memory() {
    let graph = Graph::default();
    let base = graph.start().await;
    let step = step(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let expected = big_sha256();
    let before = peak_rss();
    // The stand-in's own buffers are small: it writes 64 KiB at a time.
    let given = Some(STANDARD.encode(hex::decode(&expected).unwrap()));
    let fetched = step.fetch(&store, &media("big", given)).await.unwrap();
    let Fetch::Stored(record) = fetched else {
        panic!("{fetched:?}")
    };
    assert_eq!(
        (record.size, record.sha256.as_str()),
        (BIG, expected.as_str())
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 48 << 20,
        "peak memory grew by {grown} bytes for a {BIG}-byte file"
    );
    let file = store
        .get_file(&layout::media_key(&expected))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.len(), BIG);
}

/// Capture, the media step and collect together: the fetched file is
/// attached; the one that could not be fetched is said so, and the item
/// and the body are kept.
#[tokio::test]
async fn collect_attaches_fetched_media_and_names_what_could_not_be_fetched() {
    let graph = Graph::default();
    let base = graph.start().await;
    let step = step(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let sha = webhook_sha(JPEG).unwrap();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Pablo"}},"wa_id":"16505551234"}}],"messages":[{{"from":"16505551234","id":"wamid.M1","timestamp":"1796029200","type":"image","image":{{"caption":"Here","mime_type":"image/jpeg","sha256":"{sha}","id":"ok"}}}},{{"from":"16505551234","id":"wamid.M2","timestamp":"1796029260","type":"document","document":{{"filename":"lost.pdf","mime_type":"application/pdf","sha256":"{sha}","id":"gone"}}}}]}},"field":"messages"}}]}}]}}"#
    );
    let secret = Secret::new("s");
    let capture = Capture::new(LocalDir::new(dir.path()), secret.clone(), Secret::new("v"));
    let signature = sign(&secret, body.as_bytes());
    let reply = capture
        .receive(
            Request::Notify {
                signature: Some(&signature),
                body: body.as_bytes(),
            },
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(reply.status, 200);
    for media in reply.stored.unwrap().media {
        step.fetch(&store, &media).await.unwrap();
    }
    let mut source = CloudInbox::new(LocalDir::new(dir.path()));
    let day = CollectionDay(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    let mut report = Report::default();
    shared::collect::collect_source(&mut source, &store, day, &mut report)
        .await
        .unwrap();
    let raw = store.list("raw/").await.unwrap();
    let batch = raw.iter().find(|k| k.ends_with(".jsonl")).unwrap();
    let lines = store.get(batch).await.unwrap().unwrap();
    let items: Vec<serde_json::Value> = lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(items.len(), 2);
    let attachment = &items[0]["attachments"][0];
    let jpeg_hex = hex::encode(Sha256::digest(JPEG));
    assert_eq!(attachment["object_key"], format!("media/{jpeg_hex}"));
    assert_eq!(attachment["size"], JPEG.len());
    let lost = &items[1];
    assert!(lost["attachments"][0]["object_key"].is_null());
    let text = lost["text"].as_str().unwrap();
    assert!(
        text.contains("lost.pdf could not be fetched: media lookup answered HTTP 404"),
        "{text}"
    );
}

/// A body whose media the media step has not recorded yet waits for a
/// later collect (within the wait), so that its item gets the file.
#[tokio::test]
async fn a_body_waits_for_its_media_before_it_is_collected() {
    let graph = Graph::default();
    let base = graph.start().await;
    let step = step(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let sha = webhook_sha(JPEG).unwrap();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"messages":[{{"from":"16505551234","id":"wamid.W1","timestamp":"1796029200","type":"image","image":{{"mime_type":"image/jpeg","sha256":"{sha}","id":"ok"}}}}]}},"field":"messages"}}]}}]}}"#
    );
    let secret = Secret::new("s");
    let now = chrono::Utc::now();
    let capture = Capture::new(LocalDir::new(dir.path()), secret.clone(), Secret::new("v"));
    let signature = sign(&secret, body.as_bytes());
    let reply = capture
        .receive(
            Request::Notify {
                signature: Some(&signature),
                body: body.as_bytes(),
            },
            now,
        )
        .await;
    let media = reply.stored.unwrap().media;
    let day = CollectionDay(now.date_naive());
    let collect = || async {
        let mut source =
            CloudInbox::new(LocalDir::new(dir.path())).media_wait(now, chrono::Duration::days(1));
        let mut report = Report::default();
        shared::collect::collect_source(&mut source, &store, day, &mut report)
            .await
            .unwrap();
        report
    };
    let early = collect().await;
    assert_eq!(early.items_collected, 0, "{early}");
    assert!(early.warnings[0].contains("not fetched yet"), "{early}");
    step.fetch(&store, &media[0]).await.unwrap();
    let later = collect().await;
    assert_eq!(later.items_collected, 1, "{later}");
    let batch = store
        .list("raw/")
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.ends_with(".jsonl"))
        .unwrap();
    let line = store.get(&batch).await.unwrap().unwrap();
    let item: serde_json::Value = serde_json::from_slice(line.trim_ascii_end()).unwrap();
    let jpeg_hex = hex::encode(Sha256::digest(JPEG));
    assert_eq!(
        item["attachments"][0]["object_key"],
        format!("media/{jpeg_hex}")
    );
}
