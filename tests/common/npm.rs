//! The Node.js parts of the tests (`tests/sso`, `tests/console`): a directory's files are copied
//! under the target directory and its packages installed there with `npm ci` from the committed
//! lockfile, once per lockfile (a stamp in `node_modules`). A mutex keeps the tests of one binary
//! from installing at once, a file lock the test processes of a parallel runner. Without Node.js
//! and npm the tests fail: they never skip.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static DONE: Mutex<Option<HashMap<&'static str, PathBuf>>> = Mutex::new(None);

/// `CARGO_TARGET_TMPDIR/name` holding `files` of the repository's `source` directory (among
/// them `package.json` and `package-lock.json`), its packages installed; `what` names the part
/// in failure messages.
pub fn installed(source: &str, name: &'static str, files: &[&str], what: &str) -> PathBuf {
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = done.as_ref().and_then(|d| d.get(name)) {
        return dir.clone();
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(source);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let guard = std::fs::File::create(dir.join(".orgd-install.lock")).unwrap();
    guard.lock().unwrap();
    for f in files {
        // Written only when changed: another process may be starting node on the copy.
        let text = std::fs::read(here.join(f)).unwrap();
        if std::fs::read(dir.join(f)).ok() != Some(text.clone()) {
            std::fs::write(dir.join(f), text).unwrap();
        }
    }
    let lock = std::fs::read_to_string(here.join("package-lock.json")).unwrap();
    let stamp = dir.join("node_modules/.orgd-lock");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
        let ok = Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            // No package of the tests may fetch a browser of its own (puppeteer would).
            .env("PUPPETEER_SKIP_DOWNLOAD", "1")
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|e| panic!("npm is needed for {what}: {e}"));
        assert!(ok.success(), "npm ci failed for {source}");
        std::fs::write(&stamp, lock).unwrap();
    }
    drop(guard);
    done.get_or_insert_with(HashMap::new)
        .insert(name, dir.clone());
    dir
}
