//! A stand-in for the Graph media API and its CDN, on loopback: the real
//! wire format (`GET /<version>/<media-id>` with a bearer token answers
//! `{"url", "mime_type", "sha256", "file_size", "id"}`; `GET <url>` with the
//! token answers the bytes). Every media id is served: its content is
//! `media <id>`, its hash the lookup's, in hex (the fixtures' webhook
//! hashes are the same SHA-256, in base64: the webhook's decides).

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The content the stand-in serves for a media id.
pub fn content(id: &str) -> Vec<u8> {
    format!("media {id}").into_bytes()
}

/// Starts the stand-in on a thread of its own; returns its base URL.
pub fn start(token: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cdn = base.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let cdn = cdn.clone();
                tokio::spawn(async move { serve(stream, &cdn, token).await });
            }
        });
    });
    base
}

async fn serve(mut stream: TcpStream, base: &str, token: &str) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let authorised = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {token}")));
    let id = path
        .split('?')
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let bytes = content(&id);
    if path.starts_with("/cdn/") {
        if !authorised {
            return respond(&mut stream, 401, b"").await;
        }
        return respond(&mut stream, 200, &bytes).await;
    }
    if !authorised {
        // As the Graph API answers a missing, invalid or expired token.
        let body = br#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"Ax"}}"#;
        return respond(&mut stream, 400, body).await;
    }
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "url": format!("{base}/cdn/{id}?ext=1767225600&hash=ATt"),
        "mime_type": "application/octet-stream",
        "sha256": hex::encode(Sha256::digest(&bytes)),
        "file_size": bytes.len(),
        "id": id,
    });
    respond(&mut stream, 200, body.to_string().as_bytes()).await;
}

async fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
}
