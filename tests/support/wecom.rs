//! The WeCom SDK stand-in (`tests/wecom-sdk-standin`, a cdylib built with
//! the tests) and archives for it to serve.

use std::path::{Path, PathBuf};

use wecom_sdk_standin::Scenario;

/// The stand-in's file name.
const STANDIN: &str = "libwecom_sdk_standin.so";

/// The stand-in library Cargo built beside this test binary (the test
/// crate depends on it, so its cdylib is in `target/<profile>/deps`).
pub fn standin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary is in a directory");
    [deps.join(STANDIN), deps.join("..").join(STANDIN)]
        .into_iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{STANDIN} is not built beside {}", exe.display()))
}

/// A copy of the stand-in in `dir` whose export `symbol` is renamed (its
/// last letter replaced), so that the library loads but lacks it.
pub fn standin_without(symbol: &str, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(standin_library()).unwrap();
    let name = format!("{symbol}\0");
    let mut renamed = name.clone().into_bytes();
    let last = renamed.len() - 2;
    renamed[last] = b'X';
    let mut found = 0;
    let mut at = 0;
    while let Some(i) = bytes[at..]
        .windows(name.len())
        .position(|w| w == name.as_bytes())
    {
        bytes[at + i..at + i + name.len()].copy_from_slice(&renamed);
        at += i + name.len();
        found += 1;
    }
    assert!(found > 0, "{symbol} is not in the stand-in");
    let path = dir.join(format!("without-{symbol}.so"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Writes a scenario into `dir`; its path is the corp id that makes the
/// stand-in serve it.
pub fn write_scenario(dir: &Path, scenario: &Scenario) -> String {
    let path = dir.join("scenario.json");
    std::fs::write(&path, serde_json::to_vec(scenario).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Private keys the tests make, by version, and the archive WeCom would
/// serve with them.
pub struct Keys {
    /// Each version's key.
    pub keys: Vec<(u32, rsa::PrivateKey)>,
}

impl Keys {
    /// Fresh keys of these versions.
    pub fn generate(versions: &[u32]) -> Keys {
        use rsa::Generate;
        Keys {
            keys: versions
                .iter()
                .map(|v| (*v, rsa::PrivateKey::generate()))
                .collect(),
        }
    }

    /// The key secret holding the versions given (PKCS#1 and PKCS#8 in
    /// turn), as the archiver reads it.
    pub fn secret(&self, versions: &[u32]) -> String {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let map: serde_json::Map<String, serde_json::Value> = self
            .keys
            .iter()
            .filter(|(v, _)| versions.contains(v))
            .map(|(v, key)| {
                let pem = if v % 2 == 1 {
                    key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string()
                } else {
                    key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
                };
                (v.to_string(), serde_json::Value::String(pem))
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The entry WeCom lists for a decrypted message encrypted for
    /// `version`: a message key, RSA-encrypted for the version, and the
    /// message sealed with it.
    pub fn entry(&self, seq: u64, version: u32, plain: &[u8]) -> wecom_sdk_standin::ChatData {
        use base64::Engine;
        let key = &self.keys.iter().find(|(v, _)| *v == version).unwrap().1;
        let message_key = format!("k{seq:08}-{version}-0123456789abcdef");
        let sealed_key = key
            .to_public_key()
            .pkcs1v15_encrypt(message_key.as_bytes())
            .unwrap();
        wecom_sdk_standin::ChatData {
            seq,
            msgid: format!("msg{seq}"),
            publickey_ver: version,
            encrypt_random_key: base64::engine::general_purpose::STANDARD.encode(sealed_key),
            encrypt_chat_msg: wecom_sdk_standin::seal(message_key.as_bytes(), plain),
        }
    }
}

/// One call to the loopback WeCom web API: the path, the query and the
/// JSON body.
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// `/cgi-bin/…`.
    pub path: String,
    /// The query's pairs.
    pub query: std::collections::BTreeMap<String, String>,
    /// The body (`null` for a GET).
    pub body: serde_json::Value,
}

/// Serves WeCom's web API on loopback until the test ends: each call is
/// answered with what `answer` makes of it (HTTP 200, JSON). Returns the
/// base URL.
pub async fn serve_api<F>(answer: F) -> String
where
    F: Fn(&ApiCall) -> serde_json::Value + Send + Sync + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                };
                let target = head.split(' ').nth(1).unwrap();
                let url = url::Url::parse(&format!("http://x{target}")).unwrap();
                let call = ApiCall {
                    path: url.path().to_owned(),
                    query: url.query_pairs().into_owned().collect(),
                    body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                };
                let json = answer(&call).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                    json.len()
                );
                socket.write_all(response.as_bytes()).await.unwrap();
            });
        }
    });
    base
}
