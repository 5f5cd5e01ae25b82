//! A WhatsApp export's chat text: parsed (never a panic, whatever the
//! bytes), and every item it yields rendered and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mobile_archiver_fuzz::check_render;
use shared::sources::whatsapp_export::{ExportContext, parse_chat};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ctx = ExportContext {
        custodian: "+44 7700 900123",
        file_name: "WhatsApp Chat with Bob.txt",
        tz: chrono_tz::Europe::London,
        date_order: None,
        custodian_names: &[],
    };
    let _ = parse_chat(&text, &ctx, &|_| None, &mut |item| check_render(&item));
});
