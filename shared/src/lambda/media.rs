//! The media function's view: an SQS batch of media ids (queued by
//! capture) -> the media step, one message at a time; a message fails
//! (SQS delivers it again, then to the dead-letter queue) only when the
//! store failed: a media id that cannot be fetched is recorded as such.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};

use crate::report::Report;
use crate::sources::whatsapp_cloud::{Fetch, GraphMedia, MediaRef};
use crate::store::ObjectStore;

/// Fetches the media ids of an SQS batch into `archive`.
pub async fn media<S: ObjectStore>(
    step: &GraphMedia,
    archive: &S,
    messages: &[SqsMessage],
) -> (SqsBatchResponse, Report) {
    let mut response = SqsBatchResponse::default();
    let mut report = Report::default();
    for message in messages {
        let id = message.message_id.as_deref().unwrap_or_default();
        let media = match serde_json::from_str::<MediaRef>(message.body.as_deref().unwrap_or("")) {
            Ok(media) => media,
            Err(e) => {
                // Not one of capture's messages: nothing to fetch, ever.
                report.error(format!(
                    "message {id}: not a media id ({})",
                    crate::json_error::describe(&e)
                ));
                continue;
            }
        };
        match step.fetch(archive, &media).await {
            Ok(Fetch::Stored(_) | Fetch::AlreadyFetched) => {}
            Ok(Fetch::Failed(failed)) => report.error(format!(
                "media {}: could not be fetched ({}); recorded",
                failed.media_id, failed.reason
            )),
            Err(e) => {
                report.error(format!("message {id}: {e}"));
                response.add_failure(id);
            }
        }
    }
    (response, report)
}
