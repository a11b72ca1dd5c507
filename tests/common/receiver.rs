//! The webhook receiver of the tests (`tests/webhooks/receiver.py`): a real HTTP server on
//! loopback whose signature check is the `standardwebhooks` package from PyPI, not orgd's code.
//! Its Python environment is made once under the target directory (`ORGD_TEST_WEBHOOK_PYTHON`
//! names a Python with the package instead). Without it the tests fail: they never skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

static SETUP: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A Python with `standardwebhooks` installed.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("ORGD_TEST_WEBHOOK_PYTHON") {
        return p.into();
    }
    let mut done = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = done.as_ref() {
        return p.clone();
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks");
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("webhook-receiver-venv");
    let python = venv.join("bin/python");
    let pinned = std::fs::read_to_string(here.join("requirements.txt")).unwrap();
    let stamp = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(pinned.as_str()) {
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for the webhook receiver");
        assert!(made.success(), "python3 -m venv failed");
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(here.join("requirements.txt"))
            .status()
            .expect("pip");
        assert!(
            installed.success(),
            "pip could not install the receiver's standardwebhooks package"
        );
        std::fs::write(&stamp, pinned).unwrap();
    }
    *done = Some(python.clone());
    python
}

pub struct Receiver {
    child: Child,
    pub port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/receiver.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the receiver prints its port");
        Receiver { child, port }
    }

    /// The URL of endpoint `name` at this receiver.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/hooks/{name}", self.port)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        super::wire::request(self.port, method, path, &[], body)
            .await
            .expect("the receiver is up")
            .json()
    }

    /// The secrets `name`'s deliveries are verified with (the first that verifies is recorded
    /// as `verified_with`), and how many of its next deliveries to answer with a 500.
    pub async fn configure(&self, name: &str, secrets: &[&str], fail: u32) {
        self.call(
            "POST",
            &format!("/_config/{name}"),
            Some(json!({"secrets": secrets, "fail": fail})),
        )
        .await;
    }

    pub async fn fail(&self, name: &str, fail: u32) {
        self.call(
            "POST",
            &format!("/_config/{name}"),
            Some(json!({"fail": fail})),
        )
        .await;
    }

    /// Every delivery received so far, for every name.
    pub async fn received(&self) -> Vec<Value> {
        self.call("GET", "/_received", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The deliveries of `name`, once `enough` of them hold, within `limit`.
    pub async fn wait_for(
        &self,
        name: &str,
        limit: Duration,
        enough: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got: Vec<Value> = self
                .received()
                .await
                .into_iter()
                .filter(|r| r["name"] == name)
                .collect();
            if enough(&got) {
                return got;
            }
            if started.elapsed() > limit {
                panic!(
                    "the receiver did not get what was expected for {name} within {limit:?}; \
                     it got {}",
                    serde_json::to_string_pretty(&got).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
