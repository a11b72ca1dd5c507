//! Prometheus metrics at `GET /metrics` (OpenMetrics text): requests by route template and
//! status, latency, in-flight requests, rate-limit refusals, login failures, the database pool
//! and its waits, the read caches' hits and misses, mail deliveries, and build information.
//! Labels are route templates and fixed names only: never a user, an organization or a token.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabel {
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    pub rate_limited: Family<NameLabel, Counter>,
    pub login_failures: Counter,
    pub pool_connections: Gauge,
    pub pool_idle: Gauge,
    pub pool_max: Gauge,
    pub write_wait: Histogram,
    pub cache_hits: Family<NameLabel, Counter>,
    pub cache_misses: Family<NameLabel, Counter>,
    pub mail_due: Gauge,
    pub mail_sent: Counter,
    pub mail_failures: Counter,
    pub webhook_attempts: Family<NameLabel, Counter>,
    pub webhook_latency: Histogram,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

impl Metrics {
    fn new() -> Metrics {
        let mut r = Registry::with_prefix("orgd");
        let requests = Family::<RequestLabels, Counter>::default();
        r.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        r.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its response, by method and route template",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        r.register(
            "http_requests_in_flight",
            "Requests being served",
            in_flight.clone(),
        );
        let rate_limited = Family::<NameLabel, Counter>::default();
        r.register(
            "rate_limited",
            "Requests refused with 429 by a rate limit, by limit",
            rate_limited.clone(),
        );
        let login_failures = Counter::default();
        r.register(
            "login_failures",
            "Failed logins (unknown account or wrong password)",
            login_failures.clone(),
        );
        let pool_connections = Gauge::default();
        r.register(
            "db_pool_connections",
            "Open connections of the database pool",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        r.register(
            "db_pool_idle_connections",
            "Idle connections of the database pool",
            pool_idle.clone(),
        );
        let pool_max = Gauge::default();
        r.register(
            "db_pool_max_connections",
            "Most connections the database pool opens",
            pool_max.clone(),
        );
        let write_wait = Histogram::new(exponential_buckets(0.00005, 2.0, 17));
        r.register(
            "db_write_wait_seconds",
            "Time a write transaction waited to begin (a pool connection, and on SQLite the node's writer queue)",
            write_wait.clone(),
        );
        let cache_hits = Family::<NameLabel, Counter>::default();
        r.register(
            "cache_hits",
            "Reads answered from a read cache, by cache",
            cache_hits.clone(),
        );
        let cache_misses = Family::<NameLabel, Counter>::default();
        r.register(
            "cache_misses",
            "Reads a read cache could not answer (absent or stale), by cache",
            cache_misses.clone(),
        );
        let mail_due = Gauge::default();
        r.register(
            "mail_deliveries_due",
            "Invitation emails waiting for a retry at the last pass of the delivery worker",
            mail_due.clone(),
        );
        let mail_sent = Counter::default();
        r.register(
            "mail_sent",
            "Emails handed to the mail server",
            mail_sent.clone(),
        );
        let mail_failures = Counter::default();
        r.register(
            "mail_failures",
            "Email deliveries that failed (invitations are retried)",
            mail_failures.clone(),
        );
        let webhook_attempts = Family::<NameLabel, Counter>::default();
        r.register(
            "webhook_attempts",
            "Webhook delivery attempts made by this node, by outcome (`succeeded`, `failed`)",
            webhook_attempts.clone(),
        );
        let webhook_latency = latency_histogram();
        r.register(
            "webhook_attempt_duration_seconds",
            "Time of a webhook delivery attempt, from resolving the target to its answer",
            webhook_latency.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        r.register("build_info", "The running orgd's version", build);
        Metrics {
            registry: r,
            requests,
            latency,
            in_flight,
            rate_limited,
            login_failures,
            pool_connections,
            pool_idle,
            pool_max,
            write_wait,
            cache_hits,
            cache_misses,
            mail_due,
            mail_sent,
            mail_failures,
            webhook_attempts,
            webhook_latency,
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// A counter of a named thing (a cache's hits), registered once.
pub fn named(family: &Family<NameLabel, Counter>, name: &str) -> Counter {
    family
        .get_or_create(&NameLabel { name: name.into() })
        .clone()
}

pub fn rate_limited(limit: &str) {
    METRICS
        .rate_limited
        .get_or_create(&NameLabel { name: limit.into() })
        .inc();
}

pub fn webhook_attempt(succeeded: bool, took: Duration) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    named(&METRICS.webhook_attempts, outcome).inc();
    METRICS.webhook_latency.observe(took.as_secs_f64());
}

pub fn write_waited(d: Duration) {
    METRICS.write_wait.observe(d.as_secs_f64());
}

/// The route template a request matched, handed from the router to the request layer.
#[derive(Clone)]
pub struct RouteTemplate(pub Arc<str>);

/// Runs inside the router (as a route layer), where the matched route is known, and leaves it
/// on the response for `observe`.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| RouteTemplate(m.as_str().into()));
    if let Some(route) = &route {
        crate::audit::route(&route.0, req.uri().path());
    }
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(route);
    }
    res
}

/// Counts a request in flight until dropped (also when the client goes away mid-request).
pub struct InFlight;

impl InFlight {
    pub fn start() -> InFlight {
        METRICS.in_flight.inc();
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        METRICS.in_flight.dec();
    }
}

/// Records a finished request: `route` is the template, or `other` for paths outside the API
/// (documentation, unknown paths), so that no label carries an id.
pub fn observe(method: &str, res: &Response, elapsed: Duration) {
    let route = res
        .extensions()
        .get::<RouteTemplate>()
        .map_or("other", |r| &r.0);
    METRICS
        .requests
        .get_or_create(&RequestLabels {
            method: method.into(),
            route: route.into(),
            status: res.status().as_str().into(),
        })
        .inc();
    METRICS
        .latency
        .get_or_create(&RouteLabels {
            method: method.into(),
            route: route.into(),
        })
        .observe(elapsed.as_secs_f64());
}
