//! The events that drive the functions: the scheduler's input to collect,
//! S3 notifications (inside SQS messages) to convert.

use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::json_error;

/// The collect function's input, as EventBridge Scheduler sends it:
/// `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`, or
/// `{"day": "2026-11-20"}` for a backfill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectRequest {
    /// When the schedule fired (RFC 3339).
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
    /// An explicit archive day, for backfills.
    #[serde(default)]
    pub day: Option<NaiveDate>,
}

impl CollectRequest {
    /// The archive day the run files its batches under: the explicit day,
    /// else the scheduled (or current) time's date in the archive's zone.
    pub fn day(&self, tz: Tz, now: DateTime<Utc>) -> NaiveDate {
        self.day.unwrap_or_else(|| {
            self.scheduled_time
                .unwrap_or(now)
                .with_timezone(&tz)
                .date_naive()
        })
    }

    /// The run window two invocations share when they are the same
    /// scheduled run (the scheduler or Lambda delivering it twice); `None`
    /// for a backfill or an ad-hoc invocation, which may be repeated.
    pub fn window(&self) -> Option<String> {
        self.scheduled_time
            .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// Why an SQS message is not a usable S3 notification.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The message has no body.
    #[error("the message has no body")]
    NoBody,
    /// The body is not an S3 event notification.
    #[error("not an S3 event notification: {0}")]
    NotS3Event(String),
    /// A record has no object key, or one that is not valid percent-encoded UTF-8.
    #[error("record {record}: object key missing or not valid URL-encoded UTF-8")]
    BadKey {
        /// The record's index in the notification.
        record: usize,
    },
}

/// The object keys an S3 notification (an SQS message body) names, decoded
/// (S3 sends keys URL-encoded, a space as `+`). The `s3:TestEvent` that S3
/// sends when a notification is configured names none.
pub fn notification_keys(body: Option<&str>) -> Result<Vec<String>, NotificationError> {
    let body = body.ok_or(NotificationError::NoBody)?;
    #[derive(Deserialize)]
    struct TestEvent {
        #[serde(rename = "Event")]
        event: String,
    }
    if let Ok(test) = serde_json::from_str::<TestEvent>(body)
        && test.event == "s3:TestEvent"
    {
        return Ok(Vec::new());
    }
    let event: S3Event = serde_json::from_str(body)
        .map_err(|e| NotificationError::NotS3Event(json_error::describe(&e)))?;
    if event.records.is_empty() {
        return Err(NotificationError::NotS3Event("no records".to_owned()));
    }
    event
        .records
        .iter()
        .enumerate()
        .map(|(record, r)| {
            r.s3.object
                .key
                .as_deref()
                .and_then(decode_key)
                .ok_or(NotificationError::BadKey { record })
        })
        .collect()
}

/// Decodes an S3 notification key: `+` is a space, `%XX` a byte.
fn decode_key(key: &str) -> Option<String> {
    let spaced = key.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(key: &str) -> String {
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-21T08:00:00.000Z","eventName":"ObjectCreated:Put","userIdentity":{{"principalId":"AWS:X"}},"requestParameters":{{"sourceIPAddress":"127.0.0.1"}},"responseElements":{{}},"s3":{{"s3SchemaVersion":"1.0","configurationId":"raw","bucket":{{"name":"archive","ownerIdentity":{{"principalId":"X"}},"arn":"arn:aws:s3:::archive"}},"object":{{"key":"{key}","size":10,"eTag":"x","sequencer":"0"}}}}}}]}}"#
        )
    }

    #[test]
    fn keys_are_url_decoded() {
        let keys = notification_keys(Some(&notification(
            "raw/whatsapp-export/2026-11-21/a+b%2Bc%E5%BE%AE%E4%BF%A1.jsonl",
        )))
        .unwrap();
        assert_eq!(keys, ["raw/whatsapp-export/2026-11-21/a b+c微信.jsonl"]);
    }

    #[test]
    fn test_event_names_nothing_and_garbage_is_refused() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T08:00:00.000Z","Bucket":"archive","RequestId":"1","HostId":"2"}"#;
        assert!(notification_keys(Some(test)).unwrap().is_empty());
        assert!(matches!(
            notification_keys(None),
            Err(NotificationError::NoBody)
        ));
        let err = notification_keys(Some("{\"secret\": tru")).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(matches!(
            notification_keys(Some(&notification("bad%FF"))),
            Err(NotificationError::BadKey { record: 0 })
        ));
    }

    #[test]
    fn scheduled_runs_share_a_window() {
        let request: CollectRequest =
            serde_json::from_str(r#"{"scheduled_time":"2026-11-20T23:30:00Z"}"#).unwrap();
        assert_eq!(request.window().as_deref(), Some("2026-11-20T23:30:00Z"));
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        assert_eq!(request.day(tokyo, Utc::now()).to_string(), "2026-11-21");
        let backfill: CollectRequest = serde_json::from_str(r#"{"day":"2026-11-01"}"#).unwrap();
        assert_eq!(backfill.window(), None);
        assert_eq!(CollectRequest::default().window(), None);
        assert!(serde_json::from_str::<CollectRequest>(r#"{"dya":"2026-11-01"}"#).is_err());
    }
}
