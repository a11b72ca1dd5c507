//! In-memory rate limits (per node): fixed windows keyed by client address or account. A
//! refused request gets `429 rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{ApiError, ApiResult};

/// `limit` events per `window` for each key.
pub struct Limiter {
    /// The limit's name in metrics (`orgd_rate_limited_total{name=…}`).
    name: &'static str,
    limit: u32,
    window: Duration,
    counters: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Above this many keys, expired windows are swept on insert so memory stays bounded.
const SWEEP_AT: usize = 10_000;

impl Limiter {
    pub fn new(name: &'static str, limit: u32, window: Duration) -> Self {
        Limiter {
            name,
            limit: limit.max(1),
            window,
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn retry_after(&self, started: Instant, now: Instant) -> u64 {
        self.window
            .saturating_sub(now.duration_since(started))
            .as_secs()
            .max(1)
    }

    /// Counts one event for `key`; refuses it when the window's limit is used up.
    pub fn hit(&self, key: &str) -> ApiResult<()> {
        let now = Instant::now();
        let mut map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        let reset = self.retry_after(entry.0, now);
        if entry.1 >= self.limit {
            crate::metrics::rate_limited(self.name);
            self.report(0, reset);
            return Err(ApiError::rate_limited(reset));
        }
        entry.1 += 1;
        self.report(self.limit - entry.1, reset);
        Ok(())
    }

    /// Tells the request's response what is left of this limit (the tightest limit a request
    /// met is the one its `RateLimit` headers show).
    fn report(&self, remaining: u32, reset_secs: u64) {
        let quota = Quota {
            limit: self.limit,
            remaining,
            reset_secs,
            window_secs: self.window.as_secs().max(1),
        };
        let _ = QUOTA.try_with(|q| {
            if q.get().is_none_or(|old| quota.remaining < old.remaining) {
                q.set(Some(quota));
            }
        });
    }

    /// Refuses when `key` has used up its window, without counting an event.
    pub fn check(&self, key: &str) -> ApiResult<()> {
        let now = Instant::now();
        let map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((start, n)) if now.duration_since(*start) < self.window && *n >= self.limit => {
                crate::metrics::rate_limited(self.name);
                let reset = self.retry_after(*start, now);
                self.report(0, reset);
                Err(ApiError::rate_limited(reset))
            }
            _ => Ok(()),
        }
    }

    /// Forgets `key` (a successful login clears its failures).
    pub fn reset(&self, key: &str) {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// What is left of the tightest limit a request met, for its `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    pub window_secs: u64,
}

tokio::task_local! {
    static QUOTA: std::cell::Cell<Option<Quota>>;
}

/// Runs a request, collecting the limits it met.
pub async fn scope<F: std::future::Future>(f: F) -> (F::Output, Option<Quota>) {
    QUOTA
        .scope(std::cell::Cell::new(None), async {
            let out = f.await;
            (out, QUOTA.with(|q| q.get()))
        })
        .await
}

/// The IETF `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers, the `RateLimit-Limit`,
/// `-Remaining`, `-Reset` and `-Policy` fields) for a quota.
pub fn headers(q: Quota, h: &mut axum::http::HeaderMap) {
    use axum::http::HeaderValue;
    for (name, value) in [
        ("ratelimit-limit", q.limit.to_string()),
        ("ratelimit-remaining", q.remaining.to_string()),
        ("ratelimit-reset", q.reset_secs.to_string()),
        (
            "ratelimit-policy",
            format!("{};w={}", q.limit, q.window_secs),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

/// The limits of one node; `None` when rate limiting is switched off.
pub struct Limits {
    /// Login attempts per client address per minute.
    pub login_per_ip: Limiter,
    /// Failed logins per account and client address per 15 minutes (keyed by both, so that
    /// nobody can lock an account out from another address).
    pub login_failures: Limiter,
    /// Sign-ups per client address per hour.
    pub signup_per_ip: Limiter,
    /// Invitations sent per inviting account per hour.
    pub invitations_per_account: Limiter,
    /// Password-reset requests per client address per hour, and per address per hour.
    pub password_resets: Limiter,
    /// Deployment registrations per license key and heartbeats per deployment, per hour.
    pub deployments: Limiter,
}

impl Limits {
    pub fn from_config(c: &crate::config::Config) -> Option<Limits> {
        c.rate_limits_enabled.then(|| Limits {
            login_per_ip: Limiter::new(
                "login_per_ip",
                c.login_attempts_per_minute,
                Duration::from_secs(60),
            ),
            login_failures: Limiter::new(
                "login_failures",
                c.login_failures_per_account,
                Duration::from_secs(15 * 60),
            ),
            signup_per_ip: Limiter::new("signups", c.signups_per_hour, Duration::from_secs(3600)),
            password_resets: Limiter::new(
                "password_resets",
                c.password_resets_per_hour,
                Duration::from_secs(3600),
            ),
            invitations_per_account: Limiter::new(
                "invitations",
                c.invitations_per_hour,
                Duration::from_secs(3600),
            ),
            deployments: Limiter::new(
                "deployments",
                c.deployment_requests_per_hour,
                Duration::from_secs(3600),
            ),
        })
    }
}

/// The client's address: the connection's peer, or the first `X-Forwarded-For` hop when the
/// installation trusts its proxy.
pub struct ClientIp(pub String);

impl axum::extract::FromRequestParts<crate::AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(
            &parts.headers,
            &parts.extensions,
            state.config.trust_forwarded_for,
        )))
    }
}

/// The client's address (see `ClientIp`), from a request's headers and extensions.
pub fn client_ip(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trust_forwarded_for: bool,
) -> String {
    if trust_forwarded_for
        && let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return first.to_owned();
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_refuses_with_retry_after() {
        let l = Limiter::new("test", 3, Duration::from_secs(60));
        for _ in 0..3 {
            l.hit("a").unwrap();
        }
        let e = l.hit("a").unwrap_err();
        assert_eq!(e.code, "rate_limited");
        assert!(e.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        assert!(l.check("a").is_err());
        // Keys are independent, and a reset clears one.
        l.hit("b").unwrap();
        l.reset("a");
        l.hit("a").unwrap();
    }

    #[test]
    fn windows_expire() {
        let l = Limiter::new("test", 1, Duration::from_millis(30));
        l.hit("a").unwrap();
        assert!(l.hit("a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        l.hit("a").unwrap();
    }
}
