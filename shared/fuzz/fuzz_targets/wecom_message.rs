//! A decrypted WeCom archive message: parsed or refused with an error,
//! never a panic, and its item (files not fetched) rendered and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mobile_archiver_fuzz::check_render;
use shared::sources::wecom::message::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::parse(data) else {
        return;
    };
    let files = vec![None; message.media().len()];
    if let Ok(item) = message.item(&files) {
        check_render(&item);
    }
});
