//! The WeCom SDK stand-in (`tests/wecom-sdk-standin`, a cdylib built with
//! the tests) and archives for it to serve.

use std::path::{Path, PathBuf};

use wecom_sdk_standin::Scenario;

/// The stand-in's file name.
const STANDIN: &str = "libwecom_sdk_standin.so";

/// The stand-in library Cargo built beside this test binary (the test
/// crate depends on it, so its cdylib is in `target/<profile>/deps`).
pub fn standin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary is in a directory");
    [deps.join(STANDIN), deps.join("..").join(STANDIN)]
        .into_iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{STANDIN} is not built beside {}", exe.display()))
}

/// A copy of the stand-in in `dir` whose export `symbol` is renamed (its
/// last letter replaced), so that the library loads but lacks it.
pub fn standin_without(symbol: &str, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(standin_library()).unwrap();
    let name = format!("{symbol}\0");
    let mut renamed = name.clone().into_bytes();
    let last = renamed.len() - 2;
    renamed[last] = b'X';
    let mut found = 0;
    let mut at = 0;
    while let Some(i) = bytes[at..]
        .windows(name.len())
        .position(|w| w == name.as_bytes())
    {
        bytes[at + i..at + i + name.len()].copy_from_slice(&renamed);
        at += i + name.len();
        found += 1;
    }
    assert!(found > 0, "{symbol} is not in the stand-in");
    let path = dir.join(format!("without-{symbol}.so"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Writes a scenario into `dir`; its path is the corp id that makes the
/// stand-in serve it.
pub fn write_scenario(dir: &Path, scenario: &Scenario) -> String {
    let path = dir.join("scenario.json");
    std::fs::write(&path, serde_json::to_vec(scenario).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}
