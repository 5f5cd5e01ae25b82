//! A WhatsApp Business Platform webhook body: read as collect reads it
//! (bad bodies become notes, never a panic), and every item rendered and
//! checked.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mobile_archiver_fuzz::check_render;
use shared::sources::whatsapp_cloud::inspect;

fuzz_target!(|data: &[u8]| {
    let received = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let inspection = inspect(&[("body".to_owned(), data.to_vec())], received);
    for item in &inspection.items {
        check_render(item);
    }
});
