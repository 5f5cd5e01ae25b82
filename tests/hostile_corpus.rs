//! A hostile corpus through the whole embedded pipeline, as a user runs
//! it: `archiver run` on a config like the example's (local store,
//! Maildir), over drops that mix clean exports with zip bombs (ratio,
//! overlapping entries, nested zips, 20,000 tiny entries), zip-slip entry
//! names, a symbolic link, CR, LF, NUL, U+2028 and direction overrides in
//! every field that reaches a header or a file name (drop file names,
//! custodian folders, zip entry names, author names, text), invalid
//! UTF-8 (in a text, in a zip, in a file name), a 10 MB single-line
//! message, two exports of 1,200 files (more than the 1,024 open files
//! AWS Lambda allows, which the run is held to as well), and a mapping CSV
//! with a byte order mark, quoted line breaks, conflicting rows and 30
//! phone formats.
//!
//! The parser, the zip reader and the renderer have unit tests, property
//! tests and fuzz targets of their own; this test shows what they add up
//! to: every hostile input ends in a report line that names it with a
//! specific reason, nothing panics, every item of the clean exports is
//! delivered exactly once or recorded in `unmapped/` with its reason,
//! nothing is written outside the store and the Maildir tree, no header
//! of any delivered message carries a line break, NUL or direction
//! control, and the process stays under [`PEAK_LIMIT_KIB`] of resident
//! memory for the whole corpus; a second run over the same drops reports
//! no refusal twice and delivers nothing twice. Its figures (inputs,
//! items, copies, peak memory) are printed for the CI log.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{Cursor, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use sha2::{Digest, Sha256};
use shared::escape::escape;
use shared::item::Item;
use shared::jobs::DeliveryJob;
use shared::layout::{self, Collected, ItemDay, RefusedDrop};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use support::process::{archiver_binary, run_measured};
use support::tree::files_under;

/// The bound the issue sets on the whole corpus's peak resident memory.
const PEAK_LIMIT_KIB: u64 = 256 << 10;

/// The limit on open files the run gets: AWS Lambda's (and the usual soft
/// limit of a login session).
const OPEN_FILES: u64 = 1_024;

/// The custodian most hostile drops are dropped for (a custodian domain's
/// address, so what is collected of them is delivered to that mailbox).
const MALLORY: &str = "mallory@corp.example";

/// The source every drop is collected by.
const DROPS: &str = "drop/whatsapp-export";

/// Marks every name a zip-slip entry would write to: no file anywhere the
/// test can see may carry it.
const SLIP_MARK: &str = "hostile-slip";

/// A chat text for the zips (iOS layout).
const ZIP_CHAT: &str = "[12/11/26, 11:00:00] Mallory: Zip with a chat, see the file\n\
                        [12/11/26, 11:00:05] Mallory: You deleted this message.\n";

/// Distinctive text of the file outside the drops a symbolic link points
/// at, and of the chat inside a nested zip: neither may be read.
const NEVER_READ: &str = "never-read-7d1f0c: this text must not reach the archive";

/// What a hostile drop must end in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Refused with a reason holding this text; its original kept.
    Refused(String),
    /// Never read (not an object of the drop folder): an error naming it,
    /// with this text.
    NotCollected(&'static str),
    /// Collected: its items go through convert and deliver.
    Collected,
}

/// One hostile drop.
struct Hostile {
    /// The drop folder (the custodian).
    custodian: String,
    /// The file name.
    file: Vec<u8>,
    /// Its bytes (for a symbolic link: the link's target).
    bytes: Vec<u8>,
    /// Whether it is a symbolic link to `bytes` (a path).
    symlink: bool,
    outcome: Outcome,
    /// What it is, for the test's messages.
    what: &'static str,
}

impl Hostile {
    fn file(
        custodian: &str,
        file: &str,
        bytes: Vec<u8>,
        outcome: Outcome,
        what: &'static str,
    ) -> Self {
        Hostile {
            custodian: custodian.to_owned(),
            file: file.as_bytes().to_vec(),
            bytes,
            symlink: false,
            outcome,
            what,
        }
    }

    /// The drop's key, as the report names it (control characters and
    /// direction marks escaped, as every report line has them).
    fn shown_key(&self) -> String {
        let file = String::from_utf8_lossy(&self.file);
        escape(&format!("{DROPS}/{}/{file}", self.custodian)).into_owned()
    }
}

/// One phone number of the 30 formats: as the mapping CSV writes it, and
/// as the export names its author.
struct Phone {
    csv: &'static str,
    author: &'static str,
}

/// The same 30 people, written in 30 ways in the mapping CSV: E.164,
/// spaced, national (GB is the default region), `00` and `001`
/// international prefixes, dashes, dots, brackets, `tel:` URIs, an
/// extension, WhatsApp's direction marks, no-break spaces, full-width
/// digits, Unicode dashes, quoted with spaces, the `(0)` national prefix,
/// and the layouts of other countries. Each maps to `phoneNN@corp.example`.
const PHONES: [Phone; 30] = [
    Phone {
        csv: "+447400123101",
        author: "+44 7400 123101",
    },
    Phone {
        csv: "+44 7400 123102",
        author: "+44 7400 123102",
    },
    Phone {
        csv: "07400 123103",
        author: "+44 7400 123103",
    },
    Phone {
        csv: "07400123104",
        author: "+44 7400 123104",
    },
    Phone {
        csv: "0044 7400 123105",
        author: "+44 7400 123105",
    },
    Phone {
        csv: "+44-7400-123106",
        author: "+44 7400 123106",
    },
    Phone {
        csv: "+44.7400.123107",
        author: "+44 7400 123107",
    },
    Phone {
        csv: "(07400) 123108",
        author: "+44 7400 123108",
    },
    Phone {
        csv: "tel:+44-7400-123109",
        author: "+44 7400 123109",
    },
    Phone {
        csv: "+44 7400 123110 ext. 12",
        author: "+44 7400 123110",
    },
    Phone {
        csv: "\u{202a}+44 7400 123111\u{202c}",
        author: "+44 7400 123111",
    },
    Phone {
        csv: "+44\u{a0}7400\u{a0}123112",
        author: "+44 7400 123112",
    },
    Phone {
        csv: "＋４４ ７４００ １２３１１３",
        author: "+44 7400 123113",
    },
    Phone {
        csv: "+44 \u{2013} 7400 \u{2013} 123114",
        author: "+44 7400 123114",
    },
    Phone {
        csv: "\" +44 7400 123115 \"",
        author: "+44 7400 123115",
    },
    Phone {
        csv: "+44 (0) 7400 123116",
        author: "+44 7400 123116",
    },
    Phone {
        csv: "+1 415-555-0117",
        author: "+1 (415) 555-0117",
    },
    Phone {
        csv: "+1 (415) 555-0118",
        author: "+1 (415) 555-0118",
    },
    Phone {
        csv: "001 415 555 0119",
        author: "+1 (415) 555-0119",
    },
    Phone {
        csv: "+1.415.555.0120",
        author: "+1 (415) 555-0120",
    },
    Phone {
        csv: "+34 600 111 221",
        author: "+34 600 11 12 21",
    },
    Phone {
        csv: "+34600111322",
        author: "+34 600 11 13 22",
    },
    Phone {
        csv: "+33 6 12 34 56 23",
        author: "+33 6 12 34 56 23",
    },
    Phone {
        csv: "+49 151 23456724",
        author: "+49 1512 3456724",
    },
    Phone {
        csv: "+91 98765 43225",
        author: "+91 98765 43225",
    },
    Phone {
        csv: "+86 138 0013 8026",
        author: "+86 138 0013 8026",
    },
    Phone {
        csv: "+61 412 345 627",
        author: "+61 412 345 627",
    },
    Phone {
        csv: "+852 9123 4528",
        author: "+852 9123 4528",
    },
    Phone {
        csv: "+971 50 123 4529",
        author: "+971 50 123 4529",
    },
    Phone {
        csv: "+81 90-1234-5630",
        author: "+81 90-1234-5630",
    },
];

/// The mailbox of the `n`th phone (from 1).
fn phone_mailbox(n: usize) -> String {
    format!("phone{n:02}@corp.example")
}

/// The mapping CSV: a byte order mark, the example's rows, rows whose
/// mailbox holds a quoted line break, a quoted NUL or a path (each
/// refused with its line), a row that conflicts with an
/// earlier one (the first is kept), a name with an override and a line
/// separator (an exact duplicate once they are removed), then the 30
/// phone formats, which must all still map after the quoted line breaks.
fn mapping_csv() -> String {
    let mut csv = String::from(
        "\u{feff}External User ID,Microsoft 365 User Mailbox\n\
         +447400123001,Alice.Example@corp.example\n\
         07400 123456 , bob@corp.example\n\
         +1 415-555-0123,dan@corp.example\n\
         \n\
         Evan Stone,evan@corp.example\n\
         +44 7400 123199,\"mallory\r\nBcc: victim@corp.example\"\n\
         +44 7400 123198,\"mallory\0@corp.example\"\n\
         +44 7400 123197,../../escaped@corp.example\n\
         +447400123001,mallory@corp.example\n\
         \"\u{202e}Evan Stone\u{2028}\",evan@corp.example\n",
    );
    for (n, phone) in PHONES.iter().enumerate() {
        csv.push_str(&format!("{},{}\n", phone.csv, phone_mailbox(n + 1)));
    }
    csv
}

/// The group chat of the 30 phone numbers, exported by `ops@corp.example`
/// (Android, month first): the custodian's roll call, one message from
/// each number (every third with WhatsApp's direction marks around it),
/// and the custodian's deleted message that tells which author they are.
fn phones_chat() -> String {
    let mut text =
        String::from("11/12/26, 9:00 AM - Ops Desk: Roll call for the new desk phones, please\n");
    for (n, phone) in PHONES.iter().enumerate() {
        let author = if n % 3 == 0 {
            format!("\u{202a}{}\u{202c}", phone.author)
        } else {
            phone.author.to_owned()
        };
        text.push_str(&format!(
            "11/12/26, 9:{:02} AM - {author}: Present, desk {}\n",
            n + 1,
            n + 1
        ));
    }
    text.push_str("11/12/26, 9:45 AM - Ops Desk: You deleted this message\n");
    text
}

/// Items of [`phones_chat`]: the roll call, 30 answers, the deletion.
const PHONES_ITEMS: usize = 32;

/// How a zip entry is written.
#[derive(Clone, Copy)]
enum Method {
    Stored,
    Deflated,
}

/// A zip of these entries, in order.
fn zip_of(entries: &[(&str, &[u8], Method)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, method) in entries {
        let options = match method {
            Method::Stored => {
                SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
            }
            Method::Deflated => SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(9)),
        };
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// 16 MiB of zeros (deflated to about 16 KB: a 1000:1 entry).
fn zeros() -> Vec<u8> {
    vec![0; 16 << 20]
}

/// A chat and one entry that expands 1000:1.
fn ratio_bomb() -> Vec<u8> {
    zip_of(&[
        ("_chat.txt", ZIP_CHAT.as_bytes(), Method::Deflated),
        ("zeros.bin", &zeros(), Method::Deflated),
    ])
}

/// A chat and 2,000 entries that all point at one deflated MiB of zeros
/// (the overlapping-entries bomb: 2 GiB from a few KB).
fn overlap_bomb() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    writer.start_file("_chat.txt", deflated).unwrap();
    writer.write_all(ZIP_CHAT.as_bytes()).unwrap();
    writer.start_file("kernel.bin", deflated).unwrap();
    writer.write_all(&vec![0; 1 << 20]).unwrap();
    for n in 0..2_000 {
        writer
            .shallow_copy_file("kernel.bin", &format!("copy{n:04}.bin"))
            .unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A zip bomb that is itself a complete export: a chat text and 16 MiB of
/// zeros. Inside another zip it is a file, never opened.
fn inner_bomb() -> Vec<u8> {
    let chat = format!("[12/11/26, 11:30:00] Mallory: {NEVER_READ}\n");
    zip_of(&[
        ("_chat.txt", chat.as_bytes(), Method::Deflated),
        ("zeros.bin", &zeros(), Method::Deflated),
    ])
}

/// An export whose chat attaches [`inner_bomb`] (stored).
fn nested_bomb(inner: &[u8]) -> Vec<u8> {
    let chat = "[12/11/26, 11:10:00] Mallory: <attached: inner.zip>\n\
                [12/11/26, 11:10:05] Mallory: You deleted this message.\n";
    zip_of(&[
        ("_chat.txt", chat.as_bytes(), Method::Deflated),
        ("inner.zip", inner, Method::Stored),
    ])
}

/// Zips inside a zip, no chat text.
fn nested_only(inner: &[u8]) -> Vec<u8> {
    zip_of(&[
        ("inner.zip", inner, Method::Stored),
        ("again/inner.zip", inner, Method::Stored),
    ])
}

/// A chat and 20,000 empty entries.
fn many_entries() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    writer.start_file("_chat.txt", stored).unwrap();
    writer.write_all(ZIP_CHAT.as_bytes()).unwrap();
    for n in 0..20_000 {
        writer.start_file(format!("f{n:05}.bin"), stored).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A chat and one entry named `name`.
fn with_entry(name: &str) -> Vec<u8> {
    zip_of(&[
        ("_chat.txt", ZIP_CHAT.as_bytes(), Method::Deflated),
        (name, b"written outside?", Method::Deflated),
    ])
}

/// The hostile name of a drop file, a custodian folder and zip entries:
/// a header injection with CR LF, a line separator and a right-to-left
/// override.
const INJECTED: &str = "Eve\r\nBcc: victim@corp.example\u{2028}\u{202e}fdp.exe";

/// An author name with a NUL, a line separator, direction controls and
/// an address (a line break would end the message's line).
const INJECTED_AUTHOR: &str = "Eve\0\u{2028}\u{202e}Bcc victim@corp.example\u{2066}";

/// A custodian folder named with [`INJECTED`] in a custodian domain's
/// address: no address, so no mailbox.
fn controls_custodian() -> String {
    format!("ops{INJECTED}@corp.example")
}

/// A direct chat whose authors and text carry NUL, CR, U+2028 and
/// direction overrides (Android, month first).
fn controls_chat() -> String {
    let eve = INJECTED_AUTHOR;
    format!(
        "11/12/26, 10:00 AM - {eve}: Hello\0 there\u{2028}\u{202e} from Eve\r\n\
         11/12/26, 10:01 AM - Mallory\u{200f}: You deleted this message\r\n\
         11/12/26, 10:02 AM - {eve}: line one\r\nline two with a CR\r in it\r\n"
    )
}

/// A zip whose chat text and files are named with [`INJECTED`] and
/// direction overrides; one file is referred to, the others are attached
/// as the export's files.
fn hostile_names_zip() -> Vec<u8> {
    let chat_name = format!("WhatsApp Chat with {INJECTED}.txt");
    let referred = "IMG\u{202e}gpj.exe";
    let chat = format!(
        "[12/11/26, 12:00:00] {INJECTED_AUTHOR}: <attached: {referred}>\n\
         [12/11/26, 12:00:05] Mallory: You deleted this message.\n"
    );
    let unreferenced = format!("doc {INJECTED}.pdf");
    zip_of(&[
        (chat_name.as_str(), chat.as_bytes(), Method::Deflated),
        (referred, b"not really a jpeg", Method::Stored),
        (
            unreferenced.as_str(),
            b"%PDF-1.4 not really",
            Method::Stored,
        ),
        ("photo\u{2066}\u{202d}.jpg", b"a photo", Method::Stored),
    ])
}

/// Files in each of the two exports with more files than AWS Lambda's
/// limit on open files ([`OPEN_FILES`]).
const MANY_FILES: usize = 1_200;

/// An export of [`MANY_FILES`] photos (Android), each sent in a message of
/// its own when `referred`, else sent in none (so that all of them are
/// attached to the one more item that carries an export's unreferred
/// files).
fn many_files(referred: bool) -> Vec<u8> {
    let names: Vec<String> = (0..MANY_FILES)
        .map(|n| format!("IMG-20261110-WA{n:04}.jpg"))
        .collect();
    let mut chat = String::from("11/10/26, 8:59 AM - Mallory: Photos of the site visit\n");
    if referred {
        for (n, name) in names.iter().enumerate() {
            chat.push_str(&format!(
                "11/10/26, {}:{:02} AM - Mallory: {name} (file attached)\n",
                9 + n / 600,
                n % 600 / 10
            ));
        }
    }
    chat.push_str("11/10/26, 11:59 AM - Mallory: You deleted this message\n");
    let photos: Vec<Vec<u8>> = (0..MANY_FILES)
        .map(|n| format!("not really a jpeg, number {n}").into_bytes())
        .collect();
    let mut entries: Vec<(&str, &[u8], Method)> = vec![(
        "WhatsApp Chat with Site.txt",
        chat.as_bytes(),
        Method::Deflated,
    )];
    entries.extend(
        names
            .iter()
            .zip(&photos)
            .map(|(name, photo)| (name.as_str(), photo.as_slice(), Method::Stored)),
    );
    zip_of(&entries)
}

/// A message of 10 MB on one line, with no line break at all.
fn long_line_chat() -> Vec<u8> {
    let mut text = b"11/12/26, 8:00 AM - Longline: ".to_vec();
    let words = b"lorem ipsum dolor sit amet consectetur adipiscing elit ";
    while text.len() < 10_000_000 {
        text.extend_from_slice(words);
    }
    text
}

/// Every hostile drop; `outside` is the file the symbolic link points at,
/// `inner` the zip inside the nested ones ([`inner_bomb`]).
fn hostile_drops(outside: &Path, inner: &[u8]) -> Vec<Hostile> {
    let slip_absolute = format!("/tmp/{SLIP_MARK}-{}.txt", std::process::id());
    // The entry name as the reason gives it: in Rust's debug form.
    let unsafe_entry = |name: &str| Outcome::Refused(format!("unsafe entry name {name:?}"));
    let refused = |reason: &str| Outcome::Refused(reason.to_owned());
    let mut drops = vec![
        Hostile::file(
            MALLORY,
            "bomb-ratio.zip",
            ratio_bomb(),
            refused("entry \"zeros.bin\" expands more than 200:1"),
            "a zip bomb by ratio",
        ),
        Hostile::file(
            MALLORY,
            "bomb-overlap.zip",
            overlap_bomb(),
            refused("entries share compressed data (overlapping entries)"),
            "overlapping entries",
        ),
        Hostile::file(
            MALLORY,
            "bomb-nested.zip",
            nested_bomb(inner),
            Outcome::Collected,
            "a zip bomb inside an export",
        ),
        Hostile::file(
            MALLORY,
            "bomb-nested-only.zip",
            nested_only(inner),
            refused("no chat text file"),
            "zips inside a zip, no chat",
        ),
        Hostile::file(
            MALLORY,
            "bomb-entries.zip",
            many_entries(),
            refused("20001 entries, more than the limit of 10000"),
            "20,000 tiny entries",
        ),
        Hostile::file(
            MALLORY,
            "slip-dotdot.zip",
            with_entry(&format!("../../../../{SLIP_MARK}-dotdot.txt")),
            unsafe_entry(&format!("../../../../{SLIP_MARK}-dotdot.txt")),
            "zip slip with ..",
        ),
        Hostile::file(
            MALLORY,
            "slip-absolute.zip",
            with_entry(&slip_absolute),
            unsafe_entry(&slip_absolute),
            "zip slip with an absolute path",
        ),
        Hostile::file(
            MALLORY,
            "slip-backslash.zip",
            with_entry(&format!("..\\..\\{SLIP_MARK}-backslash.txt")),
            unsafe_entry(&format!("..\\..\\{SLIP_MARK}-backslash.txt")),
            "zip slip with backslashes",
        ),
        Hostile::file(
            MALLORY,
            "slip-drive.zip",
            with_entry(&format!("C:/{SLIP_MARK}-drive.txt")),
            unsafe_entry(&format!("C:/{SLIP_MARK}-drive.txt")),
            "zip slip with a drive letter",
        ),
        Hostile::file(
            MALLORY,
            "nul-entry.zip",
            with_entry("IMG\0.jpg"),
            unsafe_entry("IMG\0.jpg"),
            "a NUL in an entry name",
        ),
        Hostile::file(
            MALLORY,
            &format!("WhatsApp Chat with {INJECTED}.txt"),
            controls_chat().into_bytes(),
            Outcome::Collected,
            "control characters and overrides in a file name, authors and text",
        ),
        Hostile::file(
            &controls_custodian(),
            "WhatsApp Chat - Night Shift.txt",
            b"11/12/26, 11:00 PM - Evan Stone: Night shift handover done\n\
              11/12/26, 11:05 PM - Zed: Thanks, noted\n"
                .to_vec(),
            Outcome::Collected,
            "control characters and overrides in a custodian folder",
        ),
        Hostile::file(
            MALLORY,
            "names.zip",
            hostile_names_zip(),
            Outcome::Collected,
            "control characters and overrides in zip entry names",
        ),
        Hostile::file(
            MALLORY,
            "WhatsApp Chat with Latin1.txt",
            b"11/12/26, 9:00 AM - Eve: caf\xe9 cr\xe8me\n".to_vec(),
            refused("not UTF-8 text"),
            "a text export that is not UTF-8",
        ),
        Hostile::file(
            MALLORY,
            "latin1.zip",
            zip_of(&[(
                "_chat.txt",
                b"[12/11/26, 11:00:00] Eve: caf\xe9\n",
                Method::Deflated,
            )]),
            refused("chat text \"_chat.txt\" is not UTF-8"),
            "a zip whose chat text is not UTF-8",
        ),
        Hostile::file(
            MALLORY,
            "many-photos.zip",
            many_files(true),
            Outcome::Collected,
            "1,200 photos, each in a message",
        ),
        Hostile::file(
            MALLORY,
            "many-unreferred.zip",
            many_files(false),
            Outcome::Collected,
            "1,200 files no message refers to",
        ),
        Hostile::file(
            MALLORY,
            "WhatsApp Chat with Longline.txt",
            long_line_chat(),
            Outcome::Collected,
            "a 10 MB single-line message",
        ),
    ];
    drops.push(Hostile {
        custodian: MALLORY.to_owned(),
        file: b"WhatsApp Chat with Latin1 \xe9\xff name.txt".to_vec(),
        bytes: b"11/12/26, 9:00 AM - Eve: hello\n".to_vec(),
        symlink: false,
        outcome: Outcome::NotCollected("the name is not UTF-8"),
        what: "a file name that is not UTF-8",
    });
    drops.push(Hostile {
        custodian: MALLORY.to_owned(),
        file: b"WhatsApp Chat with Link.txt".to_vec(),
        bytes: outside.as_os_str().as_bytes().to_vec(),
        symlink: true,
        outcome: Outcome::NotCollected("a symbolic link, not followed"),
        what: "a symbolic link to a file outside the drops",
    });
    drops
}

/// Writes the drops (`drops/drop/whatsapp-export/<custodian>/<file>`: the
/// example drops, the phones chat and the hostile drops), the mapping CSV
/// and the config (the example's, over this directory).
fn write_input(root: &Path, hostile: &[Hostile]) {
    let drops = root.join("drops").join(DROPS);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(DROPS);
    for path in files_under(&examples) {
        let target = drops.join(path.strip_prefix(&examples).unwrap());
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(&path, &target).unwrap();
    }
    let ops = drops.join("ops@corp.example");
    fs::create_dir_all(&ops).unwrap();
    fs::write(ops.join("WhatsApp Chat - Desk Phones.txt"), phones_chat()).unwrap();
    for drop in hostile {
        let folder = drops.join(&drop.custodian);
        fs::create_dir_all(&folder).unwrap();
        let path = folder.join(OsStr::from_bytes(&drop.file));
        if drop.symlink {
            std::os::unix::fs::symlink(OsStr::from_bytes(&drop.bytes), &path).unwrap();
        } else {
            fs::write(&path, &drop.bytes).unwrap();
        }
    }
    fs::write(root.join("mapping.csv"), mapping_csv()).unwrap();
    let mut config =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/archiver.toml"))
            .unwrap();
    for (from, to) in [
        ("path = \"../example-output/archive\"", "path = \"archive\""),
        ("path = \".\"", "path = \"drops\""),
        ("path = \"../example-output/maildir\"", "path = \"maildir\""),
    ] {
        assert!(config.contains(from), "examples/archiver.toml has {from}");
        config = config.replace(from, to);
    }
    fs::write(root.join("archiver.toml"), config).unwrap();
}

#[test]
fn hostile_drops_end_in_named_reasons_and_clean_items_are_delivered_once_within_256_mb() {
    let archiver = archiver_binary();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let outside = root.join("outside.txt");
    fs::write(&outside, format!("11/12/26, 9:00 AM - Eve: {NEVER_READ}\n")).unwrap();
    let inner = inner_bomb();
    let hostile = hostile_drops(&outside, &inner);
    write_input(root, &hostile);
    fs::create_dir_all(root.join("tmp")).unwrap();
    let drops_before = tree_bytes(&root.join("drops"));
    let inputs = files_under(&root.join("drops")).len();
    // The run inherits this process's limit on open files.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, soft.min(OPEN_FILES), hard).unwrap();

    let run = run_measured(
        Command::new(&archiver)
            .args(["run", "--config"])
            .arg(root.join("archiver.toml"))
            .args(["--day", "2026-11-21"])
            // Zip entries are inflated into temporary files here.
            .env("TMPDIR", root.join("tmp")),
    );
    let said = format!("{}{}", run.stdout, run.stderr);
    eprintln!(
        "hostile_corpus: {inputs} inputs ({} hostile), peak resident memory {} MiB (limit {} MiB)",
        hostile.len(),
        run.peak_kib / 1024,
        PEAK_LIMIT_KIB / 1024
    );
    assert!(!run.stderr.contains("panicked"), "a panic:\n{said}");
    assert_eq!(run.status.code(), Some(2), "errors are listed:\n{said}");

    // Every hostile drop is named with its reason.
    for drop in &hostile {
        let key = drop.shown_key();
        let named = |reason: &str| said.lines().any(|l| l.contains(&key) && l.contains(reason));
        match &drop.outcome {
            Outcome::Refused(reason) => assert!(
                named(&format!("refused ({}", escape(reason))),
                "{}: no line names {key} with {reason:?}:\n{said}",
                drop.what
            ),
            Outcome::NotCollected(reason) => {
                let key = escape(&String::from_utf8_lossy(&drop.file)).into_owned();
                assert!(
                    said.lines().any(|l| l.contains("drop folder")
                        && l.contains(&key)
                        && l.contains(reason)),
                    "{}: no line names {key} with {reason:?}:\n{said}",
                    drop.what
                );
            }
            Outcome::Collected => assert!(
                !said
                    .lines()
                    .any(|l| l.contains(&key) && l.contains("refused")),
                "{}: refused:\n{said}",
                drop.what
            ),
        }
    }
    assert_mapping_problems_reported(&said);
    // The custodian folder that is no address maps to no mailbox: said
    // once, folded as identities are (lowercase, override removed), its
    // items delivered to their other participant (Evan).
    let refusal = escape(
        "custodian opseve\r\nbcc: victim@corp.example\u{2028}fdp.exe@corp.example \
         is not in the mapping CSV",
    );
    assert!(
        said.lines()
            .any(|l| l.contains(refusal.as_ref()) && l.contains("other participants only")),
        "no line names the custodian {:?}:\n{said}",
        controls_custodian()
    );

    let store = root.join("archive");
    let maildir = root.join("maildir");
    let refused = refusals(&store);
    let expected_refused = hostile
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Refused(_)))
        .count();
    assert_eq!(refused.len(), expected_refused, "{refused:#?}");
    for record in &refused {
        assert!(!record.reason.is_empty(), "{record:?}");
        assert!(
            store.join(&record.original_key).is_file(),
            "the original of {} is kept",
            record.drop_key
        );
    }

    let accounted = assert_every_item_accounted_for(&store);
    let mut collected: BTreeSet<String> = files_under(&root.join("drops").join(DROPS))
        .iter()
        .filter_map(|path| {
            path.strip_prefix(root.join("drops"))
                .ok()?
                .to_str()
                .map(str::to_owned)
        })
        .collect();
    for drop in &hostile {
        if drop.outcome != Outcome::Collected {
            let file = String::from_utf8_lossy(&drop.file);
            collected.remove(&format!("{DROPS}/{}/{file}", drop.custodian));
        }
    }
    assert_eq!(
        accounted.keys().cloned().collect::<BTreeSet<_>>(),
        collected,
        "the drops collected"
    );
    assert!(accounted.values().all(|&items| items > 0), "{accounted:?}");
    let jobs = read_jobs(&store);
    let copies = assert_each_job_delivered_once(&maildir, &jobs);
    assert_mailbox_counts(&copies);
    assert_headers_clean(&maildir);
    assert_long_line_delivered(&maildir);
    assert_nested_zip_kept_whole(&store, &inner);
    assert_nothing_written_outside(root, &drops_before);

    // Run again: every drop read before is skipped by its checkpoint (a
    // refusal is not reported twice), nothing is delivered twice, and what
    // is no object of the drop folder is reported again.
    let again = run_measured(
        Command::new(&archiver)
            .args(["run", "--config"])
            .arg(root.join("archiver.toml"))
            .args(["--day", "2026-11-22"])
            .env("TMPDIR", root.join("tmp")),
    );
    let said_again = format!("{}{}", again.stdout, again.stderr);
    assert_eq!(again.status.code(), Some(2), "{said_again}");
    let skipped = format!(
        "drops collected:      0 ({} already collected before)",
        accounted.len() + refused.len()
    );
    for expected in [
        skipped.as_str(),
        "copies delivered:     0 ",
        "drop folder: ",
    ] {
        assert!(said_again.contains(expected), "{expected:?}:\n{said_again}");
    }
    assert!(!said_again.contains("refused ("), "{said_again}");
    assert_eq!(assert_each_job_delivered_once(&maildir, &jobs), copies);

    let items: u64 = accounted.values().sum();
    eprintln!(
        "hostile_corpus: {} drops collected, {} refused, {} not collected; {items} items, \
         {} copies delivered, {} items unmapped",
        accounted.len(),
        refused.len(),
        hostile
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::NotCollected(_)))
            .count(),
        copies.values().sum::<usize>(),
        files_under(&store.join(layout::UNMAPPED_PREFIX)).len(),
    );
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "the run peaked at {} KiB",
        run.peak_kib
    );
}

/// The mapping CSV's problems, each on its line: the mailboxes with a
/// line break, a NUL and a path refused, the conflicting row
/// refused (the first mapping kept), the overridden duplicate and the
/// extension noted.
fn assert_mapping_problems_reported(said: &str) {
    let mapping: Vec<&str> = said.lines().filter(|l| l.contains("mapping CSV")).collect();
    for expected in [
        r#"line 7: error: "mallory\r\nBcc: victim@corp.example" is not a valid mailbox address"#,
        r#"line 9: error: "mallory\0@corp.example" is not a valid mailbox address"#,
        r#"line 10: error: "../../escaped@corp.example" is not a valid mailbox address"#,
        "line 11: error: +447400123001 is mapped to alice.example@corp.example on line 2 \
         and to mallory@corp.example here; the mapping on line 2 is kept",
        "line 12: warning: evan stone repeats the mapping on line 6",
        r#"line 22: warning: "+44 7400 123110 ext. 12" has an extension"#,
    ] {
        assert!(
            mapping.iter().any(|l| l.contains(expected)),
            "no mapping line with {expected:?}:\n{}",
            mapping.join("\n")
        );
    }
}

/// Every refusal record under `failed/drops/`.
fn refusals(store: &Path) -> Vec<RefusedDrop> {
    files_under(&store.join(layout::REFUSED_DROPS_PREFIX))
        .iter()
        .map(|path| serde_json::from_slice(&fs::read(path).unwrap()).unwrap())
        .collect()
}

/// Checks that every item of every collected batch has its EML and either
/// delivery jobs or an `unmapped/` or `failed/` record with a reason;
/// returns the items per drop.
fn assert_every_item_accounted_for(store: &Path) -> BTreeMap<String, u64> {
    let jobs: BTreeSet<String> = read_jobs(store)
        .into_iter()
        .map(|job| job.eml_key)
        .collect();
    let mut per_drop = BTreeMap::new();
    let checkpoints = store.join(layout::checkpoints_prefix("whatsapp-export"));
    for path in files_under(&checkpoints) {
        let record: Collected = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let Some(raw_key) = record.raw_key else {
            continue;
        };
        let raw = fs::read(store.join(&raw_key)).unwrap();
        let mut count = 0;
        for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let item: Item<'_> = serde_json::from_slice(line).unwrap();
            let day = ItemDay::of(&item);
            let eml = layout::eml_key(day, &item.id);
            assert!(store.join(&eml).is_file(), "{eml} of {raw_key}");
            if !jobs.contains(&eml) {
                let records = [
                    layout::unmapped_key(day, &item.id),
                    layout::failed_item_key(day, &item.id),
                ];
                let record = records
                    .iter()
                    .find_map(|key| fs::read(store.join(key)).ok())
                    .unwrap_or_else(|| panic!("{eml}: no job and none of {records:?}"));
                let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
                let reason = record["reason"].as_str().unwrap_or_default();
                assert!(!reason.is_empty(), "{eml}: {record}");
            }
            count += 1;
        }
        assert_eq!(count, record.items, "{raw_key}");
        per_drop.insert(record.origin, count);
    }
    per_drop
}

/// Every delivery job of the store.
fn read_jobs(store: &Path) -> Vec<DeliveryJob> {
    let mut jobs = Vec::new();
    for path in files_under(&store.join(layout::JOBS_PREFIX)) {
        for line in fs::read_to_string(path).unwrap().lines() {
            jobs.push(serde_json::from_str(line).unwrap());
        }
    }
    jobs
}

/// Every message delivered into the Maildir tree: (mailbox, folder, path)
/// of each file in a folder's `cur/`. A message left in `new/` or `tmp/`
/// fails the test.
fn delivered(maildir: &Path) -> Vec<(String, String, PathBuf)> {
    let mut messages = Vec::new();
    for path in files_under(maildir) {
        let rel = path.strip_prefix(maildir).unwrap();
        let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
        match parts.as_slice() {
            [mailbox, folder, "cur", _] => {
                let folder = folder.strip_prefix('.').unwrap().to_owned();
                messages.push(((*mailbox).to_owned(), folder, path));
            }
            [_, _, "new" | "tmp", _] => panic!("{} was not delivered", rel.display()),
            _ => {}
        }
    }
    messages
}

/// Checks that every job's Message-ID is in its mailbox's folder exactly
/// once, that the folders hold nothing else and that no message was left
/// in a `tmp/`; returns the copies per mailbox.
fn assert_each_job_delivered_once(maildir: &Path, jobs: &[DeliveryJob]) -> BTreeMap<String, usize> {
    // An item in two batches (the same message in two exports of one
    // chat) has a job in each: one copy all the same.
    let expected: BTreeSet<(String, String, String)> = jobs
        .iter()
        .map(|job| {
            (
                job.mailbox.clone(),
                job.folder.clone(),
                job.message_id.clone(),
            )
        })
        .collect();
    let mut found = BTreeSet::new();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for (mailbox, folder, path) in delivered(maildir) {
        let bytes = fs::read(&path).unwrap();
        let message = MessageParser::default().parse(&bytes).expect("parses");
        let id = message.message_id().expect("a Message-ID").to_owned();
        let copy = (mailbox.clone(), folder, id);
        assert!(found.insert(copy.clone()), "twice: {copy:?}");
        *copies.entry(mailbox).or_default() += 1;
    }
    let missing: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "copies missing {missing:?}, extra {extra:?}"
    );
    copies
}

/// The copies each mailbox holds, known from the drops: the example's
/// (unchanged by the conflicting row), Evan's two more from the night
/// shift chat, every one of the 30 phone numbers' (each a participant of
/// every item of the phones chat, so all 30 formats mapped), and nothing
/// for an address the CSV refused.
fn assert_mailbox_counts(copies: &BTreeMap<String, usize>) {
    let mut expected: BTreeMap<String, usize> = [
        ("alice.example@corp.example", 9),
        ("bob@corp.example", 9),
        ("carol@corp.example", 9),
        ("dan@corp.example", 5),
        ("evan@corp.example", 9 + 2),
        ("ops@corp.example", PHONES_ITEMS),
    ]
    .into_iter()
    .map(|(mailbox, count)| (mailbox.to_owned(), count))
    .collect();
    for n in 1..=PHONES.len() {
        expected.insert(phone_mailbox(n), PHONES_ITEMS);
    }
    let mallory = copies.get(MALLORY).copied().unwrap_or(0);
    assert!(
        mallory > 0,
        "what was collected of mallory's drops: {copies:?}"
    );
    let others: BTreeMap<String, usize> = copies
        .iter()
        .filter(|(mailbox, _)| *mailbox != MALLORY)
        .map(|(mailbox, count)| (mailbox.clone(), *count))
        .collect();
    assert_eq!(others, expected);
}

/// Characters no header may carry, decoded or not: line breaks, NUL and
/// other controls, the Unicode line and paragraph separators, direction
/// marks, embeddings, overrides and isolates.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Checks every header of every delivered message and of its MIME parts:
/// each raw field is one line but for CRLF folding and holds no NUL, and
/// no decoded value (encoded words, addresses, parameters such as the
/// file name) holds a [`is_forbidden`] character.
fn assert_headers_clean(maildir: &Path) {
    // Every header decoded: the structured ones by their parsers, all the
    // others (`X-Archiver-*`, `Thread-Topic`) as unstructured text, their
    // encoded words decoded and their folding undone.
    let parser = MessageParser::new()
        .with_address_headers()
        .with_date_headers()
        .with_message_ids()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .default_header_text();
    let mut checked = 0;
    for (_, _, path) in delivered(maildir) {
        let bytes = fs::read(&path).unwrap();
        let message = parser.parse(&bytes).expect("parses");
        for part in &message.parts {
            for header in &part.headers {
                let raw = &bytes[header.offset_field as usize..header.offset_end as usize];
                assert!(
                    is_one_folded_line(raw),
                    "{}: header {:?} is not one folded line: {:?}",
                    path.display(),
                    header.name,
                    String::from_utf8_lossy(raw)
                );
                for text in header_texts(&header.value) {
                    assert!(
                        !text.chars().any(is_forbidden),
                        "{}: header {:?} decodes to {text:?}",
                        path.display(),
                        header.name
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

/// Whether a raw header field is one line: no NUL, every CR followed by
/// LF and every LF preceded by CR, and every line after the first a
/// continuation (starting with a space or a tab).
fn is_one_folded_line(raw: &[u8]) -> bool {
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    let breaks_paired = raw.iter().enumerate().all(|(at, &b)| match b {
        b'\r' => raw.get(at + 1) == Some(&b'\n'),
        b'\n' => at > 0 && raw[at - 1] == b'\r',
        0 => false,
        _ => true,
    });
    breaks_paired
        && raw
            .split(|&b| b == b'\n')
            .skip(1)
            .all(|line| line.first().is_some_and(|&b| b == b' ' || b == b'\t'))
}

/// Every text a parsed header value holds.
fn header_texts<'a>(value: &'a HeaderValue<'a>) -> Vec<&'a str> {
    match value {
        HeaderValue::Text(text) => vec![text.as_ref()],
        HeaderValue::TextList(texts) => texts.iter().map(AsRef::as_ref).collect(),
        HeaderValue::Address(Address::List(list)) => list
            .iter()
            .flat_map(|addr| [addr.name.as_deref(), addr.address.as_deref()])
            .flatten()
            .collect(),
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .flat_map(|group| {
                let members = group
                    .addresses
                    .iter()
                    .flat_map(|addr| [addr.name.as_deref(), addr.address.as_deref()]);
                std::iter::once(group.name.as_deref()).chain(members)
            })
            .flatten()
            .collect(),
        HeaderValue::ContentType(content_type) => {
            let mut texts = vec![content_type.c_type.as_ref()];
            texts.extend(content_type.c_subtype.as_deref());
            for attribute in content_type.attributes.iter().flatten() {
                texts.push(attribute.name.as_ref());
                texts.push(attribute.value.as_ref());
            }
            texts
        }
        HeaderValue::DateTime(_) | HeaderValue::Received(_) | HeaderValue::Empty => Vec::new(),
    }
}

/// The 10 MB message reached its mailbox whole, once.
fn assert_long_line_delivered(maildir: &Path) {
    let folder = maildir.join(MALLORY).join(".WhatsApp Archiver/cur");
    let long: Vec<PathBuf> = files_under(&folder)
        .into_iter()
        .filter(|path| fs::metadata(path).unwrap().len() > 10_000_000)
        .collect();
    assert_eq!(long.len(), 1, "{long:?}");
    let bytes = fs::read(&long[0]).unwrap();
    let message = MessageParser::default().parse(&bytes).unwrap();
    let text = message.body_text(0).expect("a text part");
    assert!(
        text.matches("lorem ipsum dolor sit amet").count() >= 10_000_000 / 56,
        "the text part holds {} bytes",
        text.len()
    );
}

/// The zip inside an export is archived as the file it is, never opened:
/// no medium is as large as what it would expand to, and its chat text is
/// in no batch; nor is the text of the file the symbolic link points at,
/// which has no original in the store either.
fn assert_nested_zip_kept_whole(store: &Path, inner: &[u8]) {
    let media = store.join(layout::media_key(&hex::encode(Sha256::digest(inner))));
    assert_eq!(fs::read(&media).unwrap(), inner, "{}", media.display());
    for path in files_under(&store.join("media")) {
        let len = fs::metadata(&path).unwrap().len();
        assert!(len < 16 << 20, "{} is {len} bytes", path.display());
    }
    for path in files_under(store) {
        assert!(
            !path.ends_with("WhatsApp Chat with Link.txt"),
            "the symbolic link was followed: {}",
            path.display()
        );
    }
    for path in files_under(&store.join(layout::RAW_PREFIX)) {
        if path.extension() == Some(OsStr::new("jsonl")) {
            let text = fs::read(&path).unwrap();
            assert!(
                !text
                    .windows(NEVER_READ.len())
                    .any(|w| w == NEVER_READ.as_bytes()),
                "{} holds the inner chat or the linked file",
                path.display()
            );
        }
    }
}

/// Nothing was written but the store and the Maildir tree: the run's
/// directory holds what it held and those two, the drops are as they were,
/// the temporary directory is empty, no file anywhere in reach carries a
/// zip-slip name, no name in the store or the Maildir tree holds a control
/// character, a line separator or a direction mark, and every mailbox
/// directory is a plain address.
fn assert_nothing_written_outside(root: &Path, drops_before: &BTreeMap<PathBuf, Vec<u8>>) {
    let mut top: Vec<String> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "archive",
            "archiver.toml",
            "drops",
            "maildir",
            "mapping.csv",
            "outside.txt",
            "tmp"
        ]
    );
    assert_eq!(
        &tree_bytes(&root.join("drops")),
        drops_before,
        "the drops changed"
    );
    assert_eq!(files_under(&root.join("tmp")), Vec::<PathBuf>::new());
    let mut places = vec![root.to_owned(), std::env::temp_dir()];
    places.extend(root.ancestors().skip(1).take(3).map(Path::to_owned));
    places.push(std::env::current_dir().unwrap());
    for place in places {
        let Ok(entries) = fs::read_dir(&place) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            assert!(
                !name.to_string_lossy().contains(SLIP_MARK),
                "{} was written",
                entry.path().display()
            );
        }
    }
    for path in files_under(root) {
        assert!(
            !path.to_string_lossy().contains(SLIP_MARK),
            "{} was written",
            path.display()
        );
    }
    // Nor does any name the run gave a file break or disguise a listing
    // (control characters, line separators and direction marks in the
    // originals' names are percent-encoded).
    for path in files_under(&root.join("archive"))
        .into_iter()
        .chain(files_under(&root.join("maildir")))
    {
        let name = path.strip_prefix(root).unwrap().to_str().unwrap();
        assert_eq!(escape(name), name, "a file name in the store or Maildir");
    }
    for entry in fs::read_dir(root.join("maildir")).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_str().unwrap();
        assert!(
            shared::address::is_address(name),
            "mailbox directory {name:?}"
        );
    }
}

/// Every file of a tree with its bytes (for a symbolic link, its target).
fn tree_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|path| {
            let bytes = match fs::read_link(&path) {
                Ok(target) => target.as_os_str().as_bytes().to_vec(),
                Err(_) => fs::read(&path).unwrap(),
            };
            (path, bytes)
        })
        .collect()
}
