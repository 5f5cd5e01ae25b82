//! Names for WeCom ids, from WeCom's web APIs (sources-deep.md §A.12), with
//! the Session Content Archive secret's access token: a group's title and
//! its members' names (the archive's group-chat API for internal groups,
//! the external-contact group API for customer groups), external contacts
//! (`wm…`, `wo…`) and robots (`wb…`) by name. Every answer is cached for
//! the run, a failure too, so that each id is asked for at most once.
//!
//! Names are a courtesy: a lookup that fails leaves the id as it is, and
//! the first failure of a run goes into the report as a warning. The API's
//! base URL is a setting, so that tests run it on loopback.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::item::{ConversationKind, Item, Participant};
use crate::secrets::Secret;

/// WeCom's API.
pub const DEFAULT_API: &str = "https://qyapi.weixin.qq.com";

/// `errcode` of an expired token.
const TOKEN_EXPIRED: i64 = 42001;

/// `errcode` of `msgaudit/groupchat/get` for a group that is not internal.
const NOT_INTERNAL: i64 = 301_059;

/// Why a name could not be looked up.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("{0}")]
    Http(String),
    #[error("errcode {0}")]
    Errcode(i64),
}

/// A group as the APIs describe it.
#[derive(Debug, Clone, Default)]
struct Room {
    title: Option<String>,
    names: HashMap<String, String>,
}

/// Lookups of names, cached for a run.
#[derive(Debug)]
pub struct Directory {
    base: String,
    corp_id: String,
    secret: Secret,
    http: reqwest::Client,
    token: Option<Secret>,
    rooms: HashMap<String, Option<Room>>,
    people: HashMap<String, Option<String>>,
    warned: bool,
}

impl Directory {
    /// Lookups at `base` (see [`DEFAULT_API`]) with the corp id and the
    /// archive secret.
    pub fn new(base: &str, corp_id: &str, secret: Secret) -> Self {
        Directory {
            base: base.trim_end_matches('/').to_owned(),
            corp_id: corp_id.to_owned(),
            secret,
            // No redirects: the token and the secret go to the configured
            // host only.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            token: None,
            rooms: HashMap::new(),
            people: HashMap::new(),
            warned: false,
        }
    }

    /// Forgets what the last run learnt (names change).
    pub fn clear(&mut self) {
        self.rooms.clear();
        self.people.clear();
        self.warned = false;
    }

    /// Names the item's group and parties where WeCom knows them; returns a
    /// problem to report, once a run.
    pub async fn name(&mut self, item: &mut Item<'_>) -> Option<String> {
        let mut problem = None;
        let mut room = None;
        if item.conversation.kind == ConversationKind::Group {
            let id = item.conversation.id.to_string();
            match self.room(&id).await {
                Ok(found) => room = found,
                Err(e) => problem = Some(format!("group {id}: {e}")),
            }
            if let Some(title) = room.as_ref().and_then(|r| r.title.clone()) {
                item.conversation.title = Some(title.into());
            }
        }
        let parties = item.sender.iter_mut().chain(item.recipients.iter_mut());
        for party in parties {
            if let Err(e) = self.name_party(party, room.as_ref()).await {
                problem.get_or_insert(e);
            }
        }
        match problem {
            Some(problem) if !self.warned => {
                self.warned = true;
                Some(format!(
                    "names from WeCom's API unavailable ({problem}); ids are shown instead"
                ))
            }
            _ => None,
        }
    }

    async fn name_party(
        &mut self,
        party: &mut Participant<'_>,
        room: Option<&Room>,
    ) -> Result<(), String> {
        let Some(id) = party.id.as_deref().map(str::to_owned) else {
            return Ok(());
        };
        if let Some(name) = room.and_then(|r| r.names.get(&id)) {
            party.name = Some(name.clone().into());
            return Ok(());
        }
        let robot = id.starts_with("wb");
        if !(robot || id.starts_with("wm") || id.starts_with("wo")) {
            return Ok(());
        }
        let name = match self.people.get(&id) {
            Some(known) => known.clone(),
            None => {
                let looked = if robot {
                    self.call(
                        "GET",
                        "/cgi-bin/msgaudit/get_robot_info",
                        &[("robot_id", &id)],
                        None,
                    )
                    .await
                    .map(|v| v["data"]["name"].as_str().map(str::to_owned))
                } else {
                    self.call(
                        "GET",
                        "/cgi-bin/externalcontact/get",
                        &[("external_userid", &id)],
                        None,
                    )
                    .await
                    .map(|v| v["external_contact"]["name"].as_str().map(str::to_owned))
                };
                let name = looked.as_ref().ok().cloned().flatten();
                self.people.insert(id.clone(), name.clone());
                looked.map_err(|e| format!("{id}: {e}"))?;
                name
            }
        };
        if let Some(name) = name {
            party.name = Some(
                if robot {
                    format!("{name} (robot)")
                } else {
                    name
                }
                .into(),
            );
        }
        Ok(())
    }

    async fn room(&mut self, id: &str) -> Result<Option<Room>, LookupError> {
        if let Some(known) = self.rooms.get(id) {
            return Ok(known.clone());
        }
        let room = match self
            .call(
                "POST",
                "/cgi-bin/msgaudit/groupchat/get",
                &[],
                Some(json!({ "roomid": id })),
            )
            .await
        {
            Ok(v) => Some(Room {
                title: v["roomname"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
                names: HashMap::new(),
            }),
            Err(LookupError::Errcode(NOT_INTERNAL)) => {
                let v = self
                    .call(
                        "POST",
                        "/cgi-bin/externalcontact/groupchat/get",
                        &[],
                        Some(json!({ "chat_id": id, "need_name": 1 })),
                    )
                    .await;
                let v = match v {
                    Ok(v) => v,
                    Err(e) => {
                        self.rooms.insert(id.to_owned(), None);
                        return Err(e);
                    }
                };
                let chat = &v["group_chat"];
                let names = chat["member_list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| {
                        let name = m["group_nickname"]
                            .as_str()
                            .filter(|n| !n.is_empty())
                            .or(m["name"].as_str())?;
                        Some((m["userid"].as_str()?.to_owned(), name.to_owned()))
                    })
                    .collect();
                Some(Room {
                    title: chat["name"]
                        .as_str()
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                    names,
                })
            }
            Err(e) => {
                self.rooms.insert(id.to_owned(), None);
                return Err(e);
            }
        };
        self.rooms.insert(id.to_owned(), room.clone());
        Ok(room)
    }

    /// One API call with the token (fetched, and fetched again once when
    /// it expired); the answer when its `errcode` is 0.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Value, LookupError> {
        for _ in 0..2 {
            let token = self.token().await?;
            let mut url = url::Url::parse(&format!("{}{path}", self.base))
                .map_err(|e| LookupError::Http(e.to_string()))?;
            url.query_pairs_mut()
                .append_pair("access_token", token.expose());
            for (key, value) in query {
                url.query_pairs_mut().append_pair(key, value);
            }
            let request = match (method, &body) {
                ("POST", Some(body)) => self.http.post(url).body(body.to_string()),
                _ => self.http.get(url),
            };
            let answer = fetch(request).await?;
            match answer["errcode"].as_i64().unwrap_or(0) {
                0 => return Ok(answer),
                TOKEN_EXPIRED => self.token = None,
                code => return Err(LookupError::Errcode(code)),
            }
        }
        Err(LookupError::Errcode(TOKEN_EXPIRED))
    }

    async fn token(&mut self) -> Result<Secret, LookupError> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let mut url = url::Url::parse(&format!("{}/cgi-bin/gettoken", self.base))
            .map_err(|e| LookupError::Http(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("corpid", &self.corp_id)
            .append_pair("corpsecret", self.secret.expose());
        let answer = fetch(self.http.get(url)).await?;
        match (
            answer["errcode"].as_i64().unwrap_or(0),
            answer["access_token"].as_str(),
        ) {
            (0, Some(token)) => {
                let token = Secret::new(token);
                self.token = Some(token.clone());
                Ok(token)
            }
            (code, _) => Err(LookupError::Errcode(code)),
        }
    }
}

/// Sends a request and reads its JSON answer; errors never carry the URL
/// (it holds the token or the secret).
async fn fetch(request: reqwest::RequestBuilder) -> Result<Value, LookupError> {
    let response = request
        .send()
        .await
        .map_err(|e| LookupError::Http(e.without_url().to_string()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| LookupError::Http(e.without_url().to_string()))?;
    if !status.is_success() {
        return Err(LookupError::Http(format!("HTTP {status}")));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| LookupError::Http("an answer that is not JSON".to_owned()))
}
