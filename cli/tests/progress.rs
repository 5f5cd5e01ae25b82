//! Progress bars: drawn for each stage of `archiver run` on a terminal (a
//! pseudo-terminal made by util-linux's `script`), never when standard
//! error is a pipe.

mod common;

use common::{archiver, example};

#[test]
fn a_run_on_a_terminal_shows_each_stage_and_a_piped_run_shows_none() {
    let (_dir, examples) = example();
    let command = format!(
        "{} run --config archiver.toml --day 2026-11-21",
        env!("CARGO_BIN_EXE_archiver")
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(&examples)
        .output()
        .expect("util-linux's script makes the pseudo-terminal");
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout);
    for bar in [
        " collect ",
        "4 units",
        " convert [",
        "4/4 batches",
        " deliver [",
        "41/41 copies",
    ] {
        assert!(shown.contains(bar), "{bar:?} not in {shown}");
    }
    assert!(shown.contains("copies delivered:     41"), "{shown}");

    // Again, piped: the summary alone.
    let (_dir, examples) = example();
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", "2026-11-21"],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    for text in [out, err] {
        assert!(!text.contains("copies ("), "{text}");
        assert!(!text.contains("batches ("), "{text}");
        assert!(!text.contains('\u{1b}'), "no escape sequence: {text:?}");
    }
}
