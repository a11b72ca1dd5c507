//! Webhooks: the event catalogue, the rules for a target URL (and the addresses it may reach),
//! signing by the Standard Webhooks scheme, the retry schedule, and the worker that delivers.
//!
//! A change's events are written to the outbox (`webhook_deliveries`) by the transaction that
//! commits the change, beside its audit entry (`store::sql::tx::commit`): one delivery per
//! subscribed endpoint, with the body it will be sent with. Every node runs a worker that
//! claims due deliveries (a lease, taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so one
//! attempt is made by one node), sends each, and records the outcome: done, or the next attempt
//! after a backoff with jitter, or failed once the schedule is spent (which disables an
//! endpoint that has not succeeded since that event).

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use rand::{Rng, RngCore};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use url::Url;
use uuid::Uuid;

use crate::AppState;
use crate::audit::Entry;
use crate::domain::Timestamp;

/// The prefix of a signing secret (`whsec_` and the base64 of 32 random bytes).
pub const SECRET_PREFIX: &str = "whsec_";
/// The test event sent by `POST …/webhooks/{id}/ping`.
pub const PING: &str = "webhook.ping";
/// Subscribes to every event type.
pub const EVERY: &str = "*";
/// Most event types one endpoint lists.
pub const MAX_EVENT_TYPES: usize = 100;
/// Longest target URL.
pub const MAX_URL: usize = 2048;
/// How long a rotated-out secret still signs (beside the new one).
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 3600;
/// The default waits between attempts: eight attempts over about 28 hours.
pub const DEFAULT_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";
/// The most of a response body kept with a failed attempt.
const RESPONSE_SNIPPET: usize = 512;

/// The event types an endpoint may subscribe to: every audit action, and the ping.
pub fn catalogue() -> &'static [&'static str] {
    static CATALOGUE: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut all: Vec<&'static str> = crate::audit::ACTIONS.iter().map(|(_, _, a)| *a).collect();
        all.push(PING);
        all.sort_unstable();
        all.dedup();
        all
    });
    &CATALOGUE
}

/// Checks an endpoint's event types: each from the catalogue or `*`, at least one, no repeats.
pub fn check_event_types(types: &[String]) -> Result<Vec<String>, String> {
    if types.is_empty() {
        return Err("must name at least one event type (or \"*\" for all)".into());
    }
    if types.len() > MAX_EVENT_TYPES {
        return Err(format!("must name at most {MAX_EVENT_TYPES} event types"));
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for t in types {
        if t != EVERY && !catalogue().contains(&t.as_str()) {
            let shown: String = t.chars().take(64).collect();
            return Err(format!(
                "'{shown}' is not an event type (see GET /webhooks/event-types)"
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// A new signing secret.
pub fn mint_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// The Standard Webhooks signature (`v1,<base64 HMAC-SHA256>`) of `body` sent as message `id`
/// at `timestamp` (seconds), under `secret` (`whsec_…`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|k| BASE64.decode(k).ok())
        .unwrap_or_default();
    let mut mac = <Hmac<sha2_11::Sha256> as KeyInit>::new_from_slice(&key)
        .expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: the current secret's signature, and the previous secret's
/// while a rotation overlaps (space-separated, as the scheme allows).
pub fn signature_header(
    secret: &str,
    previous: Option<&str>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut header = sign(secret, id, timestamp, body);
    if let Some(old) = previous {
        header.push(' ');
        header.push_str(&sign(old, id, timestamp, body));
    }
    header
}

/// The waits between a delivery's attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<Duration>);

impl Schedule {
    /// `5s,5m,30m,2h` (units `ms`, `s`, `m`, `h`); at most 20 waits of at most a week each.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let mut waits = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let split = part
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("'{part}' has no unit (ms, s, m or h)"))?;
            let (n, unit) = part.split_at(split);
            let n: u64 = n
                .parse()
                .map_err(|_| format!("'{part}' does not start with a number"))?;
            let ms = match unit {
                "ms" => n,
                "s" => n * 1000,
                "m" => n * 60_000,
                "h" => n * 3_600_000,
                _ => return Err(format!("'{part}': the unit is ms, s, m or h")),
            };
            if ms > 7 * 24 * 3_600_000 {
                return Err(format!("'{part}' is longer than a week"));
            }
            waits.push(Duration::from_millis(ms));
        }
        if waits.len() > 20 {
            return Err("at most 20 waits".into());
        }
        Ok(Schedule(waits))
    }

    /// How many attempts a delivery gets: the first, then one after each wait.
    pub fn attempts(&self) -> i32 {
        self.0.len() as i32 + 1
    }

    /// The wait after the `attempts`-th failed attempt, with ±20% jitter; `None` when the
    /// schedule is spent.
    pub fn after(&self, attempts: i32) -> Option<Duration> {
        let base = *self.0.get(usize::try_from(attempts - 1).ok()?)?;
        let ms = base.as_millis() as f64 * rand::rng().random_range(0.8..=1.2);
        Some(Duration::from_millis(ms as u64))
    }
}

/// The body of an event: `{id, type, created_at, organization_id, data}`.
#[derive(Serialize)]
struct Envelope<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: Timestamp,
    organization_id: Option<Uuid>,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    actor: &'a crate::audit::Actor,
    target: &'a Option<crate::audit::Target>,
    changes: &'a serde_json::Value,
    request_id: &'a Option<String>,
}

/// The body sent for the change `entry` records (its id is the event's id).
pub fn payload(entry: &Entry) -> String {
    serde_json::to_string(&Envelope {
        id: entry.id,
        kind: &entry.action,
        created_at: entry.created_at,
        organization_id: entry.organization_id,
        data: Data {
            actor: &entry.actor,
            target: &entry.target,
            changes: &entry.changes,
            request_id: &entry.request_id,
        },
    })
    .expect("an event serializes")
}

/// The body of a test event for endpoint `webhook`.
pub fn ping_payload(id: Uuid, now: Timestamp, organization: Option<Uuid>, webhook: Uuid) -> String {
    serde_json::json!({
        "id": id,
        "type": PING,
        "created_at": now,
        "organization_id": organization,
        "data": {"webhook_id": webhook, "message": "A test event from orgd"},
    })
    .to_string()
}

/// Checks a target URL's form: `https` (or `http` when allowed), a host, no credentials, no
/// fragment.
pub fn check_url(raw: &str, allow_http: bool) -> Result<Url, String> {
    if raw.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("must use https (this installation does not allow http)".into()),
        _ => return Err("must be an https URL".into()),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

/// A due delivery claimed by this node, with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub payload: String,
    /// Attempts made so far, this one included.
    pub attempts: i32,
    pub url: String,
    pub secret: String,
    /// The rotated-out secret, while it still signs.
    pub previous_secret: Option<String>,
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub succeeded: bool,
    pub response_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    /// When to try again; `None` on success and when the schedule is spent.
    pub retry_at: Option<Timestamp>,
}

/// Deletes the finished deliveries older than the retention period, in small batches (as the
/// audit log's retention does); answers how many.
pub async fn apply_retention(store: &dyn crate::store::Store, days: u32, now: Timestamp) -> u64 {
    if days == 0 {
        return 0;
    }
    let cutoff = now.plus_secs(-(days as i64) * 24 * 3600);
    let mut total = 0;
    loop {
        match store
            .purge_webhook_deliveries(cutoff, crate::audit::RETENTION_BATCH)
            .await
        {
            Ok(n) => {
                total += n;
                if (n as i64) < crate::audit::RETENTION_BATCH {
                    return total;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery retention stopped; it runs again later");
                return total;
            }
        }
    }
}

/// Wakes this node's worker: a transaction just wrote deliveries.
pub fn wake() {
    WAKE.notify_one();
}

static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// The delivery worker of this node.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(state.config.webhook_concurrency));
        let poll = Duration::from_millis(state.config.webhook_poll_ms);
        loop {
            // Wait for a free sender, then take as many due deliveries as there are free ones.
            let first = match permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return,
            };
            let free = permits.available_permits() + 1;
            let lease = Duration::from_millis(state.config.webhook_timeout_ms * 2 + 5000);
            let claimed = match state
                .store
                .claim_webhook_deliveries(free as i64, lease)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim webhook deliveries");
                    Vec::new()
                }
            };
            let full = claimed.len() == free;
            let mut first = Some(first);
            for delivery in claimed {
                let permit = match first.take() {
                    Some(p) => p,
                    None => match permits.clone().try_acquire_owned() {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                };
                let state = state.clone();
                tokio::spawn(async move {
                    deliver(&state, delivery).await;
                    drop(permit);
                });
            }
            drop(first);
            if !full {
                // Nothing more is due: wait for this node's next change or the next look.
                let _ = tokio::time::timeout(poll, WAKE.notified()).await;
            }
        }
    })
}

/// Makes one attempt at `d` and records how it went.
pub async fn deliver(state: &AppState, d: Claimed) {
    let started = Instant::now();
    let timeout = Duration::from_millis(state.config.webhook_timeout_ms);
    let sent = tokio::time::timeout(timeout, send(state, &d)).await;
    let latency_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let (succeeded, response_code, error) = match sent {
        Ok(Ok((code, _))) if (200..300).contains(&code) => (true, Some(code as i32), None),
        Ok(Ok((code, body))) => (
            false,
            Some(code as i32),
            Some(if body.is_empty() {
                format!("the endpoint answered {code}")
            } else {
                format!("the endpoint answered {code}: {body}")
            }),
        ),
        Ok(Err(e)) => (false, None, Some(e)),
        Err(_) => (
            false,
            None,
            Some(format!("no answer within {} ms", timeout.as_millis())),
        ),
    };
    let retry_at = match succeeded {
        true => None,
        false => state
            .config
            .webhook_retry_schedule
            .after(d.attempts)
            .map(|wait| Timestamp(Timestamp::now().0 + wait.as_millis() as i64)),
    };
    crate::metrics::webhook_attempt(succeeded, started.elapsed());
    let attempt = Attempt {
        succeeded,
        response_code,
        latency_ms,
        error,
        retry_at,
    };
    if let Err(e) = state.store.finish_webhook_delivery(&d, &attempt).await {
        // The lease runs out and the delivery is attempted again: delivered at least once.
        tracing::warn!(error = %e, delivery = %d.id, "cannot record a webhook attempt");
    }
}

/// Sends `d` once: its status code and the start of its body.
async fn send(state: &AppState, d: &Claimed) -> Result<(u16, String), String> {
    let url = Url::parse(&d.url).map_err(|e| format!("bad URL: {e}"))?;
    let timestamp = Timestamp::now().0 / 1000;
    let id = d.event_id.to_string();
    let signature = signature_header(
        &d.secret,
        d.previous_secret.as_deref(),
        &id,
        timestamp,
        d.payload.as_bytes(),
    );
    let answer = crate::http::send(
        crate::http::Outgoing {
            method: hyper::Method::POST,
            url: &url,
            headers: vec![
                ("content-type", "application/json".into()),
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ],
            body: Bytes::from(d.payload.clone()),
        },
        state.config.webhooks_allow_private,
        RESPONSE_SNIPPET,
    )
    .await?;
    let text = String::from_utf8_lossy(&answer.body)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    Ok((answer.status, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn urls() {
        assert!(check_url("https://example.com/hook", false).is_ok());
        assert!(check_url("http://example.com/hook", false).is_err());
        assert!(check_url("http://example.com/hook", true).is_ok());
        assert!(check_url("ftp://example.com/", true).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("https://example.com/#x", false).is_err());
        assert!(check_url("not a url", false).is_err());
    }

    #[test]
    fn schedule() {
        let s = Schedule::parse(DEFAULT_SCHEDULE).unwrap();
        assert_eq!(s.attempts(), 8);
        let total: Duration = s.0.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600) && total < Duration::from_secs(30 * 3600));
        let first = s.after(1).unwrap();
        assert!(first >= Duration::from_secs(4) && first <= Duration::from_secs(6));
        assert_eq!(s.after(8), None);
        assert_eq!(s.after(0), None);
        assert!(Schedule::parse("5").is_err());
        assert!(Schedule::parse("5d").is_err());
        assert_eq!(
            Schedule::parse("100ms, 2s").unwrap().0,
            vec![Duration::from_millis(100), Duration::from_secs(2)]
        );
    }

    #[test]
    fn event_types() {
        assert_eq!(
            check_event_types(&["member.added".into(), "*".into(), "member.added".into()]),
            Ok(vec!["*".to_string(), "member.added".to_string()])
        );
        assert!(check_event_types(&[]).is_err());
        assert!(check_event_types(&["member.nope".into()]).is_err());
        assert!(catalogue().contains(&PING));
    }
}
