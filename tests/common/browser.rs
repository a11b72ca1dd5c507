//! A real browser for the console tests: Debian's headless chromium driven by puppeteer-core
//! through `tests/console/driver.mjs`, one JSON command a line on its standard input and one
//! reply a line on its standard output. Pages are named; each is its own browser context (its
//! own cookies), so several users can be signed in at once. Every method panics with the page's
//! URL and the driver's error when the browser cannot do it. Without chromium (`/usr/bin/chromium`,
//! or `ORGD_TEST_CHROMIUM`), Node.js or npm the tests fail: they never skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// How long one command may take before the driver is taken for hung (its own waits are shorter:
/// 5 s for an element, 15 s for a navigation).
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the tests' screenshots go: `target/console-screenshots`, made if missing.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The chromium the driver launches.
fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("ORGD_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    if !path.exists() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "Debian's chromium is required for the console tests under CI, and {} is \
                 missing: .ci/run installs it (apt-get install --no-install-recommends chromium)",
                path.display()
            );
        }
        panic!(
            "the console tests need a headless chromium and {} is missing: install Debian's \
             (apt-get install --no-install-recommends chromium) or set ORGD_TEST_CHROMIUM",
            path.display()
        );
    }
    path
}

/// `document.activeElement`, as `focused` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focused {
    /// Lower case: `input`, `button`, `a`, `body`.
    pub tag: String,
    pub id: Option<String>,
    pub name: Option<String>,
    /// Its innerText, trimmed, at most 200 characters.
    pub text: String,
}

struct Io {
    /// Taken on drop: the end of its input makes the driver close the browser.
    input: Option<ChildStdin>,
    output: Lines<BufReader<ChildStdout>>,
}

pub struct Browser {
    child: Child,
    io: Mutex<Io>,
    /// The browser's name and version, as it reports them (`Chrome/…`).
    pub version: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // At the end of its input the driver closes the browser, which removes its profile
        // directory; killing it is the fallback (chromium, driven over a pipe, exits with it).
        self.io.get_mut().input.take();
        for _ in 0..250 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.start_kill();
    }
}

impl Browser {
    /// The driver, its packages installed, with chromium launched.
    pub async fn start() -> Browser {
        let chromium = chromium();
        let dir = tokio::task::spawn_blocking(|| {
            super::npm::installed(
                "tests/console",
                "console-driver",
                &["package.json", "package-lock.json", "driver.mjs"],
                "the browser of the console tests",
            )
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .current_dir(&dir)
            .env("CHROMIUM", &chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("node is needed for the browser of the console tests: {e}"));
        let io = Io {
            input: child.stdin.take(),
            output: BufReader::new(child.stdout.take().unwrap()).lines(),
        };
        let mut browser = Browser {
            child,
            io: Mutex::new(io),
            version: String::new(),
        };
        // The driver's first line is the launch's outcome.
        let launched = {
            let mut io = browser.io.lock().await;
            Self::read(&mut io).await
        };
        match launched {
            Ok(v) => browser.version = v["browser"].as_str().unwrap_or_default().to_string(),
            Err(e) => panic!("the console tests' browser did not start: {e}"),
        }
        browser
    }

    async fn read(io: &mut Io) -> Result<Value, String> {
        let line = match tokio::time::timeout(REPLY_TIMEOUT, io.output.next_line()).await {
            Err(_) => {
                // Out of step from now on: no later command may take this reply for its own.
                io.input = None;
                return Err(format!("no reply from the driver in {REPLY_TIMEOUT:?}"));
            }
            Ok(Err(e)) => return Err(format!("reading the driver: {e}")),
            Ok(Ok(None)) => return Err("the driver exited".into()),
            Ok(Ok(Some(line))) => line,
        };
        let reply: Value = serde_json::from_str(&line)
            .map_err(|e| format!("the driver answered {line:?}, not JSON: {e}"))?;
        if reply["ok"] == true {
            return Ok(reply["value"].clone());
        }
        let error = reply["error"].as_str().unwrap_or("?");
        match reply["url"].as_str() {
            Some(url) => Err(format!("{error} (the page at {url})")),
            None => Err(error.to_string()),
        }
    }

    /// Sends one command (`{"cmd": …, "page": …, …}`): its value, or the driver's error with
    /// the page's URL.
    pub async fn try_command(&self, command: Value) -> Result<Value, String> {
        let mut line = serde_json::to_vec(&command).unwrap();
        line.push(b'\n');
        let mut io = self.io.lock().await;
        let input = io.input.as_mut().ok_or("the driver's input is closed")?;
        input
            .write_all(&line)
            .await
            .map_err(|e| format!("writing to the driver: {e}"))?;
        Self::read(&mut io).await
    }

    /// `try_command`, panicking with the command and the error.
    pub async fn command(&self, command: Value) -> Value {
        match self.try_command(command.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("browser: {command} failed: {e}"),
        }
    }

    async fn on(&self, cmd: &str, page: &str, mut args: Value) -> Value {
        args["cmd"] = cmd.into();
        args["page"] = page.into();
        self.command(args).await
    }

    /// A new page named `page`, in a context of its own, with a `width`×`height` viewport.
    pub async fn open(&self, page: &str, width: u32, height: u32) {
        self.on("open", page, json!({"width": width, "height": height}))
            .await;
    }

    /// Loads `url`: the status of its response after redirects (0 when it had none of its own,
    /// like a change of the fragment only).
    pub async fn goto(&self, page: &str, url: &str) -> u16 {
        let v = self.on("goto", page, json!({"url": url})).await;
        v["status"].as_u64().unwrap_or(0) as u16
    }

    /// Clears the field and types `value` into it.
    pub async fn fill(&self, page: &str, selector: &str, value: &str) {
        self.on("fill", page, json!({"selector": selector, "value": value}))
            .await;
    }

    /// Chooses the option of a `<select>` whose value is `value`.
    pub async fn select(&self, page: &str, selector: &str, value: &str) {
        self.on(
            "select",
            page,
            json!({"selector": selector, "value": value}),
        )
        .await;
    }

    /// The status of the page a navigation loaded, if the action started one (`Some(0)` when it
    /// stayed in the same document).
    fn navigated(v: Value) -> Option<u16> {
        (v["navigated"] == true).then(|| v["status"].as_u64().unwrap_or(0) as u16)
    }

    /// Clicks the element (once it is visible and enabled); waits for the navigation it
    /// started, if any: see `navigated`.
    pub async fn click(&self, page: &str, selector: &str) -> Option<u16> {
        Self::navigated(self.on("click", page, json!({"selector": selector})).await)
    }

    /// Submits: a `form` with `requestSubmit()` (its validation runs, as for a person), anything
    /// else (a submit button) with a click; waits for the navigation, if any.
    pub async fn submit(&self, page: &str, selector: &str) -> Option<u16> {
        Self::navigated(self.on("submit", page, json!({"selector": selector})).await)
    }

    /// Presses a key (puppeteer's names: `Enter`, `Tab`, `Escape`, `ArrowDown`) in whatever has
    /// the focus; waits for the navigation, if any.
    pub async fn press(&self, page: &str, key: &str) -> Option<u16> {
        Self::navigated(self.on("press", page, json!({"key": key})).await)
    }

    /// The innerText of the first element matching `selector` (`body`: the page's text).
    pub async fn text(&self, page: &str, selector: &str) -> String {
        let v = self.on("text", page, json!({"selector": selector})).await;
        v.as_str().unwrap_or_default().to_string()
    }

    pub async fn exists(&self, page: &str, selector: &str) -> bool {
        self.on("exists", page, json!({"selector": selector}))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    pub async fn count(&self, page: &str, selector: &str) -> usize {
        let v = self.on("count", page, json!({"selector": selector})).await;
        v.as_u64().unwrap_or(0) as usize
    }

    /// An attribute of the first element matching `selector` (which must exist).
    pub async fn attr(&self, page: &str, selector: &str, name: &str) -> Option<String> {
        let v = self
            .on("attr", page, json!({"selector": selector, "name": name}))
            .await;
        v.as_str().map(str::to_string)
    }

    pub async fn url(&self, page: &str) -> String {
        let v = self.on("url", page, json!({})).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The document, serialized.
    pub async fn html(&self, page: &str) -> String {
        let v = self.on("html", page, json!({})).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// A PNG of the whole page (its directory made).
    pub async fn screenshot(&self, page: &str, path: impl AsRef<Path>) {
        self.shoot(page, path.as_ref(), true).await
    }

    /// A PNG of what the viewport shows.
    pub async fn screenshot_viewport(&self, page: &str, path: impl AsRef<Path>) {
        self.shoot(page, path.as_ref(), false).await
    }

    async fn shoot(&self, page: &str, path: &Path, full_page: bool) {
        let path = std::path::absolute(path).unwrap();
        self.on(
            "screenshot",
            page,
            json!({"path": path, "fullPage": full_page}),
        )
        .await;
    }

    /// Resizes the page's viewport.
    pub async fn viewport(&self, page: &str, width: u32, height: u32) {
        self.on("viewport", page, json!({"width": width, "height": height}))
            .await;
    }

    /// The element that has the focus.
    pub async fn focused(&self, page: &str) -> Focused {
        let v = self.on("focused", page, json!({})).await;
        let text = |k: &str| v[k].as_str().map(str::to_string);
        Focused {
            tag: text("tag").unwrap_or_default(),
            id: text("id"),
            name: text("name"),
            text: text("text").unwrap_or_default(),
        }
    }

    /// The JSON value of a JavaScript expression evaluated in the page: for reading only.
    pub async fn eval(&self, page: &str, js: &str) -> Value {
        self.on("eval", page, json!({"js": js})).await
    }

    /// The console errors, uncaught exceptions and CSP violations since the last call.
    pub async fn problems(&self, page: &str) -> Vec<String> {
        let v = self.on("problems", page, json!({})).await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Panics listing the page's problems, if it had any.
    pub async fn assert_no_problems(&self, page: &str) {
        let problems = self.problems(page).await;
        if !problems.is_empty() {
            let url = self.url(page).await;
            panic!(
                "the page {page:?} at {url} had problems:\n  {}",
                problems.join("\n  ")
            );
        }
    }

    /// Closes the page and its context (its cookies go with it).
    pub async fn close(&self, page: &str) {
        self.on("close", page, json!({})).await;
    }

    /// Closes the browser and waits for the driver to exit.
    pub async fn quit(mut self) {
        self.command(json!({"cmd": "quit"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}
