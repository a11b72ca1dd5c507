//! orgd as a process: started on a database with settings, driven over HTTP/1.1.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Node {
    child: Child,
    pub port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    /// `orgd serve` on `database_url` with `ORGD_*` settings, once it is ready.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Node {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_orgd"))
            .arg("serve")
            .env("ORGD_DATABASE_URL", database_url)
            .env("ORGD_LISTEN", format!("127.0.0.1:{port}"))
            .env("ORGD_RATE_LIMITS_ENABLED", "false")
            .env("ORGD_LOG", "warn")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start orgd");
        let node = Node { child, port };
        for _ in 0..200 {
            if let Ok((200, _)) = node.call("GET", "/readyz", None, None).await {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("node on port {port} never became ready");
    }

    /// Stops the process at once (SIGKILL: no graceful shutdown).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One HTTP/1.1 request on its own connection: the status and the body (JSON, or the text
    /// as a JSON string).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> std::io::Result<(u16, Value)> {
        let headers: Vec<(String, String)> = token
            .map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))])
            .unwrap_or_default();
        let a = super::wire::request(self.port, method, path, &headers, body).await?;
        let body = serde_json::from_str(&a.body).unwrap_or(Value::String(a.body));
        Ok((a.status, body))
    }
}
