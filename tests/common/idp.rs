//! The OpenID Provider of the tests (`tests/sso/provider.mjs`): the `oidc-provider` package from
//! npm, on loopback. Its packages are installed once under the target directory with `npm ci`
//! from the committed lockfile. Without Node.js and npm the tests fail: they never skip.
//! Also a small browser: it follows the provider's redirects with its cookies.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

/// Where orgd sends the provider's users back in the tests (`public_url`).
pub const PUBLIC_URL: &str = "http://orgd.test";
pub const CLIENT_ID: &str = "orgd";
pub const CLIENT_SECRET: &str = "orgd-test-secret";

/// The provider's directory, its packages installed.
fn installed() -> PathBuf {
    super::npm::installed(
        "tests/sso",
        "sso-provider",
        &["package.json", "package-lock.json", "provider.mjs"],
        "the OpenID Provider of the SSO tests",
    )
}

pub struct Provider {
    child: Child,
    pub port: u16,
    /// Its standard output, kept open: the provider may write more to it.
    _out: BufReader<std::process::ChildStdout>,
    /// Its standard input: the provider exits when this closes (with the test process).
    _in: std::process::ChildStdin,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    pub fn start() -> Provider {
        Provider::start_with(&format!("{PUBLIC_URL}/auth/sso/callback"))
    }

    /// A provider whose one client comes back to `callback` (an orgd process's own).
    pub fn start_with(callback: &str) -> Provider {
        let dir = installed();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg(callback)
            .arg(CLIENT_ID)
            .arg(CLIENT_SECRET)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OpenID Provider (node)");
        let input = child.stdin.take().unwrap();
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let port = line.trim().parse().expect("the provider prints its port");
        Provider {
            child,
            port,
            _out: out,
            _in: input,
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where a domain's proof is served, as `domain_verification_url`.
    pub fn proof_url(&self) -> String {
        format!("http://127.0.0.1:{}/_domain/{{domain}}", self.port)
    }

    async fn control(&self, what: &str, body: Value) {
        let (status, _, _) = get(
            self.port,
            "POST",
            &format!("/_control/{what}"),
            &[],
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "control {what}");
    }

    /// Who signs in next.
    pub async fn account(&self, sub: &str, email: &str, verified: bool) {
        self.control(
            "account",
            json!({"sub": sub, "email": email, "email_verified": verified}),
        )
        .await;
    }

    /// How the next ID tokens are spoiled (`None`: not).
    pub async fn tamper(&self, mode: Option<&str>) {
        self.control("tamper", json!({"mode": mode})).await;
    }

    /// A new signing key.
    pub async fn rotate(&self) {
        self.control("rotate", json!({})).await;
    }

    /// A JWT access token signed by the provider's current key.
    pub async fn mint(&self, claims: Value) -> String {
        let (status, _, body) = get(self.port, "POST", "/_control/mint", &[], Some(claims)).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// Serves `text` as the proof of `domain`.
    pub async fn prove(&self, domain: &str, text: &str) {
        self.control("domain", json!({"domain": domain, "text": text}))
            .await;
    }

    /// Follows the provider's redirects from `location` (the URL orgd sent the browser to)
    /// until one leads back to orgd; answers that URL's path and query.
    pub async fn sign_in(&self, location: &str) -> String {
        let mut jar: Vec<(String, String)> = Vec::new();
        let mut url = location.to_string();
        for _ in 0..10 {
            if let Some(back) = url.strip_prefix(PUBLIC_URL) {
                return back.to_string();
            }
            let rest = url
                .strip_prefix(&self.issuer())
                .unwrap_or_else(|| panic!("a redirect outside the provider and orgd: {url}"));
            let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let header = vec![("cookie".to_string(), cookies.join("; "))];
            let (status, headers, body) = get(self.port, "GET", rest, &header, None).await;
            for (k, v) in &headers {
                if k == "set-cookie" {
                    let pair = v.split(';').next().unwrap_or_default();
                    if let Some((name, value)) = pair.split_once('=') {
                        jar.retain(|(n, _)| n != name);
                        jar.push((name.to_string(), value.to_string()));
                    }
                }
            }
            let next = headers
                .iter()
                .find(|(k, _)| k == "location")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| {
                    panic!("the provider answered {status} without a redirect: {body}")
                });
            url = if next.starts_with('/') {
                format!("{}{next}", self.issuer())
            } else {
                next
            };
        }
        panic!("too many redirects");
    }
}

async fn get(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, String) {
    let a = super::wire::request(port, method, path, headers, body)
        .await
        .expect("the provider is up");
    (a.status, a.headers, a.body)
}

/// A provider shared by the tests of one binary (the policy and isolation tables).
pub fn shared() -> &'static Mutex<Provider> {
    static SHARED: OnceLock<Mutex<Provider>> = OnceLock::new();
    SHARED.get_or_init(|| Mutex::new(Provider::start()))
}
