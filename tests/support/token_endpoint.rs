//! A loopback OAuth 2.0 token endpoint (client-credentials grant), as the
//! XOAUTH2 tests need one: it reads each POSTed form and answers what the
//! test's `answer` makes of it.

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The form fields of a token request.
pub type Form = BTreeMap<String, String>;

/// Serves `http://127.0.0.1:<port><path>` until the test ends; `answer`
/// gets each request's form and the endpoint's URL and returns the status
/// line (`"200 OK"`) and the JSON body. Returns the URL.
pub async fn serve<F>(path: &str, answer: F) -> String
where
    F: Fn(&Form, &str) -> (&'static str, Value) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    let endpoint = url.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let form = read_form(&mut socket).await;
            let (status, json) = answer(&form, &endpoint);
            let body = json.to_string();
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    url
}

/// Reads a request's head and its (small) form body.
async fn read_form(socket: &mut TcpStream) -> Form {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body = loop {
        let n = socket.read(&mut buf).await.unwrap();
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
                break body.to_owned();
            }
        }
        if n == 0 {
            break String::new();
        }
    };
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}
