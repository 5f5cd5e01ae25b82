//! A mapping CSV: loaded or refused with an error, never a panic; every
//! issue names a line of the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::mapping::{MappingOptions, MappingTable, parse_region};

fuzz_target!(|data: &[u8]| {
    let opts = MappingOptions {
        default_region: parse_region("GB").expect("GB is a region"),
        id_domain: Some("corp.example".into()),
        custodian_domains: vec!["corp.example".into()],
    };
    if let Ok((table, issues)) = MappingTable::from_csv(data, &opts) {
        // CR, LF or CRLF end a line.
        let breaks = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
        for issue in &issues {
            assert!(
                issue.line >= 1 && issue.line <= breaks as u64 + 1,
                "{issue:?}"
            );
        }
        let _ = table.counts();
    }
});
