//! One `Config`: defaults, then a TOML file, then `ORGD_*` environment variables, then flags.
//! Flags and environment variables are read together by clap (a flag beats its variable), and
//! both beat the file.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

/// The settings of the operator commands (`migrate`, `admin …`): which database to open.
#[derive(Debug, Default, Clone, Args)]
pub struct DatabaseArgs {
    /// Directory of the embedded database [default: the working directory]
    #[arg(long, env = "ORGD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://…` [default: sqlite://DATA_DIR/orgd.db]
    #[arg(long, env = "ORGD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Size of the database connection pool [default: 16]
    #[arg(long, env = "ORGD_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
}

impl From<DatabaseArgs> for Settings {
    fn from(d: DatabaseArgs) -> Settings {
        Settings {
            data_dir: d.data_dir,
            database_url: d.database_url,
            database_max_connections: d.database_max_connections,
            ..Settings::default()
        }
    }
}

/// Settings that can come from the file, the environment or flags.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "ORGD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded database [default: the working directory]
    #[arg(long, env = "ORGD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://…` [default: sqlite://DATA_DIR/orgd.db]
    #[arg(long, env = "ORGD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Size of the database connection pool [default: 16]
    #[arg(long, env = "ORGD_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// Whether anyone may sign up [default: true]
    #[arg(long, env = "ORGD_SIGNUP_ENABLED")]
    pub signup_enabled: Option<bool>,
    /// Cap on organizations a user may be the primary owner of, checked at creation [default: unlimited]
    #[arg(long, env = "ORGD_MAX_ORGANIZATIONS_PER_USER")]
    pub max_organizations_per_user: Option<u32>,
    /// Lifetime of a session token in seconds [default: 1209600, 14 days]
    #[arg(long, env = "ORGD_SESSION_LIFETIME_SECS")]
    pub session_lifetime_secs: Option<u64>,
    /// Largest accepted request body in bytes [default: 1048576]
    #[arg(long, env = "ORGD_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Password hashes computed at once; further logins wait briefly, then get 503 [default: CPU count]
    #[arg(long, env = "ORGD_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,
    /// How long a password operation waits for a hashing slot before 503 [default: 5000]
    #[arg(long, env = "ORGD_PASSWORD_HASH_QUEUE_MS")]
    pub password_hash_queue_ms: Option<u64>,
    /// How long this node may serve a read from its cache, in ms; its own writes invalidate at
    /// once, other nodes' within this time; 0 switches caching off [default: 1000]
    #[arg(long, env = "ORGD_CACHE_TTL_MS")]
    pub cache_ttl_ms: Option<u64>,
    /// `text` or `json` [default: text]
    #[arg(long, env = "ORGD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Lifetime of an invitation in seconds [default: 604800, 7 days]
    #[arg(long, env = "ORGD_INVITATION_LIFETIME_SECS")]
    pub invitation_lifetime_secs: Option<u64>,
    /// The accept link sent to invitees; `{token}` is replaced by the invitation token
    /// [default: PUBLIC_URL/console/invitations/accept?token={token}]
    #[arg(long, env = "ORGD_INVITATION_URL")]
    pub invitation_url: Option<String>,
    /// The password-reset link sent by email; `{token}` is replaced by the reset token
    /// [default: PUBLIC_URL/console/password-reset/confirm?token={token}]
    #[arg(long, env = "ORGD_PASSWORD_RESET_URL")]
    pub password_reset_url: Option<String>,
    /// Adding an existing account to an organization sends it an invitation instead of adding
    /// it directly, and member-adding answers do not reveal the account's email [default: false]
    #[arg(long, env = "ORGD_MEMBER_ADD_REQUIRES_CONSENT")]
    pub member_add_requires_consent: Option<bool>,
    /// Mail server: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465` (TLS). Unset: accept links are logged and
    /// returned to the inviter once.
    #[arg(long, env = "ORGD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of invitation emails [default: orgd <no-reply@localhost>]
    #[arg(long, env = "ORGD_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// First retry delay after a failed delivery, doubled per attempt up to an hour [default: 30]
    #[arg(long, env = "ORGD_SMTP_RETRY_SECS")]
    pub smtp_retry_secs: Option<u64>,
    /// Whether the rate limits below apply [default: true]
    #[arg(long, env = "ORGD_RATE_LIMITS_ENABLED")]
    pub rate_limits_enabled: Option<bool>,
    /// Login attempts per client address per minute [default: 60]
    #[arg(long, env = "ORGD_LOGIN_ATTEMPTS_PER_MINUTE")]
    pub login_attempts_per_minute: Option<u32>,
    /// Failed logins per account and client address per 15 minutes before further attempts from
    /// that address get 429 [default: 10]
    #[arg(long, env = "ORGD_LOGIN_FAILURES_PER_ACCOUNT")]
    pub login_failures_per_account: Option<u32>,
    /// Sign-ups per client address per hour [default: 30]
    #[arg(long, env = "ORGD_SIGNUPS_PER_HOUR")]
    pub signups_per_hour: Option<u32>,
    /// Password-reset requests per client address per hour [default: 20]
    #[arg(long, env = "ORGD_PASSWORD_RESETS_PER_HOUR")]
    pub password_resets_per_hour: Option<u32>,
    /// Invitations an account may send per hour [default: 500]
    #[arg(long, env = "ORGD_INVITATIONS_PER_HOUR")]
    pub invitations_per_hour: Option<u32>,
    /// Take the client address from the first `X-Forwarded-For` hop (behind a trusted proxy
    /// only) [default: false]
    #[arg(long, env = "ORGD_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: Option<bool>,
    /// Only accounts whose email address is verified may sign in; sign-up then answers `202`
    /// and sends a verification link instead of a session [default: false]
    #[arg(long, env = "ORGD_REQUIRE_VERIFIED_EMAIL")]
    pub require_verified_email: Option<bool>,
    /// The verification link sent by email; `{token}` is replaced by the token
    /// [default: PUBLIC_URL/console/verify-email?token={token}]
    #[arg(long, env = "ORGD_EMAIL_VERIFICATION_URL")]
    pub email_verification_url: Option<String>,
    /// Serve `GET /metrics` on this address only, instead of on `listen` [default: on `listen`]
    #[arg(long, env = "ORGD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Browser origins allowed to call the API (CORS), comma-separated, e.g.
    /// `https://app.example.com`; `*` allows any origin (without credentials) [default: none, CORS off]
    #[arg(long, env = "ORGD_CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Seconds a client has to send a request's headers, counted from when the connection is
    /// ready for a request [default: 10]
    #[arg(long, env = "ORGD_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a request may take from its headers to the response, body included; then
    /// `408 request_timeout` [default: 30]
    #[arg(long, env = "ORGD_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Seconds a connection may stay open without any bytes moving; then it is closed
    /// [default: 75]
    #[arg(long, env = "ORGD_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C; then the remaining
    /// connections are closed [default: 20]
    #[arg(long, env = "ORGD_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Plan settings `PLAN.KEY=VALUE`, separated by `;` in the variable, e.g.
    /// `free.members=10;team.projects=unlimited;business.features=sso audit_log`; applied over
    /// the file's `[plans.PLAN]` tables [default: see the README's plan table]
    #[arg(long = "plan", env = "ORGD_PLANS", value_delimiter = ';')]
    pub plan_settings: Option<Vec<String>>,
    /// The file's plan tables: `[plans.free]` with `members = 5`, `projects = "unlimited"`, …
    #[arg(skip)]
    pub plans:
        Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, toml::Value>>>,
    /// A deployment with no heartbeat for this many seconds is listed as `stale` [default: 86400]
    #[arg(long, env = "ORGD_DEPLOYMENT_STALE_SECS")]
    pub deployment_stale_secs: Option<u64>,
    /// Deployment registrations and heartbeats per license key (and per deployment) per hour
    /// [default: 120]
    #[arg(long, env = "ORGD_DEPLOYMENT_REQUESTS_PER_HOUR")]
    pub deployment_requests_per_hour: Option<u32>,
    /// Days the audit log keeps an entry; 0 keeps them forever [default: 365]
    #[arg(long, env = "ORGD_AUDIT_RETENTION_DAYS")]
    pub audit_retention_days: Option<u32>,
    /// Webhook targets may be loopback, private, link-local or metadata addresses (for tests
    /// and closed networks only) [default: false]
    #[arg(long, env = "ORGD_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: Option<bool>,
    /// Webhook targets may use `http://` as well as `https://` [default: false]
    #[arg(long, env = "ORGD_WEBHOOKS_ALLOW_HTTP")]
    pub webhooks_allow_http: Option<bool>,
    /// Milliseconds a webhook delivery attempt may take, connection included [default: 10000]
    #[arg(long, env = "ORGD_WEBHOOK_TIMEOUT_MS")]
    pub webhook_timeout_ms: Option<u64>,
    /// The waits between a delivery's attempts, comma-separated (`ms`, `s`, `m`, `h`); after the
    /// last one the delivery has failed [default: 5s,5m,30m,2h,5h,10h,10h]
    #[arg(long, env = "ORGD_WEBHOOK_RETRY_SCHEDULE")]
    pub webhook_retry_schedule: Option<String>,
    /// Webhook delivery attempts one node makes at once [default: 16]
    #[arg(long, env = "ORGD_WEBHOOK_CONCURRENCY")]
    pub webhook_concurrency: Option<usize>,
    /// Milliseconds between a node's looks for due deliveries made elsewhere (its own are sent
    /// at once) [default: 1000]
    #[arg(long, env = "ORGD_WEBHOOK_POLL_MS")]
    pub webhook_poll_ms: Option<u64>,
    /// Days a finished webhook delivery (succeeded or failed) is kept; 0 keeps them forever
    /// [default: 30]
    #[arg(long, env = "ORGD_WEBHOOK_DELIVERY_RETENTION_DAYS")]
    pub webhook_delivery_retention_days: Option<u32>,
    /// The URL clients reach this installation at: SSO redirect URIs are made from it
    /// [default: http://LISTEN]
    #[arg(long, env = "ORGD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// 32 random bytes in base64 (`openssl rand -base64 32`): seals SSO client secrets at rest.
    /// Needed to add an SSO provider; keep it with your backups
    #[arg(long, env = "ORGD_SSO_ENCRYPTION_KEY", hide_env_values = true)]
    pub sso_encryption_key: Option<String>,
    /// Where a finished SSO sign-in may send the browser (`return_to`): URLs, comma-separated; a
    /// `return_to` must start with one of them; the console's own `PUBLIC_URL/console/sso` always
    /// may [default: none other: without `return_to` the callback answers JSON]
    #[arg(long, env = "ORGD_SSO_REDIRECT_URLS", value_delimiter = ',')]
    pub sso_redirect_urls: Option<Vec<String>>,
    /// Identity providers and domain checks may use http and private addresses (tests and
    /// closed networks only) [default: false]
    #[arg(long, env = "ORGD_SSO_ALLOW_INSECURE")]
    pub sso_allow_insecure: Option<bool>,
    /// Where a domain's proof is fetched; `{domain}` is replaced
    /// [default: https://{domain}/.well-known/orgd-domain-verification.txt]
    #[arg(long, env = "ORGD_DOMAIN_VERIFICATION_URL")]
    pub domain_verification_url: Option<String>,
    /// Bring your own identity provider: an issuer whose JWT access tokens orgd accepts as bearer
    /// tokens (with `external_jwt_audience`) [default: none]
    #[arg(long, env = "ORGD_EXTERNAL_JWT_ISSUER")]
    pub external_jwt_issuer: Option<String>,
    /// The audience those tokens must name
    #[arg(long, env = "ORGD_EXTERNAL_JWT_AUDIENCE")]
    pub external_jwt_audience: Option<String>,
}

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub database_max_connections: u32,
    pub signup_enabled: bool,
    pub max_organizations_per_user: Option<u32>,
    pub session_lifetime_secs: u64,
    pub body_limit_bytes: usize,
    pub password_hash_concurrency: usize,
    pub password_hash_queue_ms: u64,
    pub cache_ttl_ms: u64,
    pub log_format: String,
    pub invitation_lifetime_secs: u64,
    pub invitation_url: String,
    pub password_reset_url: String,
    pub member_add_requires_consent: bool,
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    pub smtp_retry_secs: u64,
    pub rate_limits_enabled: bool,
    pub login_attempts_per_minute: u32,
    pub login_failures_per_account: u32,
    pub signups_per_hour: u32,
    pub password_resets_per_hour: u32,
    pub invitations_per_hour: u32,
    pub trust_forwarded_for: bool,
    pub require_verified_email: bool,
    pub email_verification_url: String,
    pub metrics_listen: Option<SocketAddr>,
    pub cors_allowed_origins: Vec<String>,
    pub header_read_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub plans: crate::domain::plans::Plans,
    pub deployment_stale_secs: u64,
    pub deployment_requests_per_hour: u32,
    pub audit_retention_days: u32,
    pub webhooks_allow_private: bool,
    pub webhooks_allow_http: bool,
    pub webhook_timeout_ms: u64,
    pub webhook_retry_schedule: crate::webhooks::Schedule,
    pub webhook_concurrency: usize,
    pub webhook_poll_ms: u64,
    pub webhook_delivery_retention_days: u32,
    pub public_url: String,
    pub sso_encryption_key: Option<String>,
    pub sso_redirect_urls: Vec<String>,
    pub sso_allow_insecure: bool,
    pub domain_verification_url: String,
    /// The trusted issuer and audience of external JWTs, when both are set.
    pub external_jwt: Option<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config::resolve(Settings::default(), Settings::default()).expect("defaults are valid")
    }
}

impl Config {
    /// Reads the optional TOML file and layers `cli` (flags and environment) over it.
    pub fn load(file: Option<&std::path::Path>, cli: Settings) -> Result<Config, String> {
        let from_file = match file {
            None => Settings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        Config::resolve(from_file, cli)
    }

    fn resolve(file: Settings, cli: Settings) -> Result<Config, String> {
        macro_rules! pick {
            ($f:ident, $default:expr) => {
                cli.$f
                    .clone()
                    .or(file.$f.clone())
                    .unwrap_or_else(|| $default)
            };
        }
        let data_dir = pick!(data_dir, PathBuf::from("."));
        let default_url = format!("sqlite://{}", data_dir.join("orgd.db").display());
        let log_format = pick!(log_format, "text".into());
        if log_format != "text" && log_format != "json" {
            return Err(format!(
                "log_format must be text or json, not {log_format:?}"
            ));
        }
        let listen = pick!(listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = pick!(public_url, format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        // The links in emails open the console's pages, which post the token to the API.
        let invitation_url = pick!(
            invitation_url,
            format!("{public_url}/console/invitations/accept?token={{token}}")
        );
        if !invitation_url.contains("{token}") {
            return Err("invitation_url must contain {token}".into());
        }
        let password_reset_url = pick!(
            password_reset_url,
            format!("{public_url}/console/password-reset/confirm?token={{token}}")
        );
        if !password_reset_url.contains("{token}") {
            return Err("password_reset_url must contain {token}".into());
        }
        let email_verification_url = pick!(
            email_verification_url,
            format!("{public_url}/console/verify-email?token={{token}}")
        );
        if !email_verification_url.contains("{token}") {
            return Err("email_verification_url must contain {token}".into());
        }
        let cfg = Config {
            listen,
            database_url: pick!(database_url, default_url),
            data_dir,
            database_max_connections: pick!(database_max_connections, 16).max(1),
            signup_enabled: pick!(signup_enabled, true),
            max_organizations_per_user: cli
                .max_organizations_per_user
                .or(file.max_organizations_per_user),
            session_lifetime_secs: pick!(session_lifetime_secs, 14 * 24 * 3600).max(60),
            body_limit_bytes: pick!(body_limit_bytes, 1024 * 1024).max(1024),
            password_hash_concurrency: pick!(password_hash_concurrency, {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            })
            .max(1),
            password_hash_queue_ms: pick!(password_hash_queue_ms, 5000),
            cache_ttl_ms: pick!(cache_ttl_ms, 1000),
            log_format,
            invitation_lifetime_secs: pick!(invitation_lifetime_secs, 7 * 24 * 3600).max(60),
            invitation_url,
            password_reset_url,
            member_add_requires_consent: pick!(member_add_requires_consent, false),
            smtp_url: cli.smtp_url.clone().or(file.smtp_url.clone()),
            smtp_from: pick!(smtp_from, "orgd <no-reply@localhost>".into()),
            smtp_retry_secs: pick!(smtp_retry_secs, 30).max(1),
            rate_limits_enabled: pick!(rate_limits_enabled, true),
            login_attempts_per_minute: pick!(login_attempts_per_minute, 60),
            login_failures_per_account: pick!(login_failures_per_account, 10),
            signups_per_hour: pick!(signups_per_hour, 30),
            password_resets_per_hour: pick!(password_resets_per_hour, 20),
            invitations_per_hour: pick!(invitations_per_hour, 500),
            trust_forwarded_for: pick!(trust_forwarded_for, false),
            require_verified_email: pick!(require_verified_email, false),
            email_verification_url,
            metrics_listen: cli.metrics_listen.or(file.metrics_listen),
            cors_allowed_origins: cors_origins(pick!(cors_allowed_origins, Vec::new()))?,
            header_read_timeout_secs: pick!(header_read_timeout_secs, 10).max(1),
            request_timeout_secs: pick!(request_timeout_secs, 30).max(1),
            idle_timeout_secs: pick!(idle_timeout_secs, 75).max(1),
            shutdown_grace_secs: pick!(shutdown_grace_secs, 20),
            plans: plans(file.plans.clone(), pick!(plan_settings, Vec::new()))?,
            deployment_stale_secs: pick!(deployment_stale_secs, 24 * 3600).max(1),
            deployment_requests_per_hour: pick!(deployment_requests_per_hour, 120),
            audit_retention_days: pick!(audit_retention_days, 365),
            webhooks_allow_private: pick!(webhooks_allow_private, false),
            webhooks_allow_http: pick!(webhooks_allow_http, false),
            webhook_timeout_ms: pick!(webhook_timeout_ms, 10_000).clamp(100, 120_000),
            webhook_retry_schedule: crate::webhooks::Schedule::parse(&pick!(
                webhook_retry_schedule,
                crate::webhooks::DEFAULT_SCHEDULE.into()
            ))
            .map_err(|e| format!("webhook_retry_schedule: {e}"))?,
            webhook_concurrency: pick!(webhook_concurrency, 16).clamp(1, 256),
            webhook_poll_ms: pick!(webhook_poll_ms, 1000).clamp(10, 60_000),
            webhook_delivery_retention_days: pick!(webhook_delivery_retention_days, 30),
            public_url: public_url.clone(),
            sso_encryption_key: cli
                .sso_encryption_key
                .clone()
                .or(file.sso_encryption_key.clone()),
            // The console's own SSO hand-over is always a place to come back to.
            sso_redirect_urls: {
                let mut urls = pick!(sso_redirect_urls, Vec::new());
                urls.push(format!("{public_url}/console/sso"));
                urls
            },
            sso_allow_insecure: pick!(sso_allow_insecure, false),
            domain_verification_url: pick!(
                domain_verification_url,
                "https://{domain}/.well-known/orgd-domain-verification.txt".into()
            ),
            external_jwt: match (
                cli.external_jwt_issuer
                    .clone()
                    .or(file.external_jwt_issuer.clone()),
                cli.external_jwt_audience
                    .clone()
                    .or(file.external_jwt_audience.clone()),
            ) {
                (Some(i), Some(a)) => Some((i.trim_end_matches('/').to_owned(), a)),
                (None, None) => None,
                _ => {
                    return Err("external_jwt_issuer and external_jwt_audience go together".into());
                }
            },
        };
        if let Some(key) = &cfg.sso_encryption_key {
            crate::sso::SecretBox::from_base64(key)?;
        }
        if !cfg.domain_verification_url.contains("{domain}") {
            return Err("domain_verification_url must contain {domain}".into());
        }
        Ok(cfg)
    }
}

/// The default plans, changed by the file's `[plans.PLAN]` tables, then by `PLAN.KEY=VALUE`
/// settings (environment or flags).
fn plans(
    tables: Option<
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, toml::Value>>,
    >,
    settings: Vec<String>,
) -> Result<crate::domain::plans::Plans, String> {
    let mut plans = crate::domain::plans::Plans::default();
    for (plan, keys) in tables.unwrap_or_default() {
        for (key, value) in keys {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned).ok_or("features are strings"))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(" "),
                other => {
                    return Err(format!("plans.{plan}.{key}: unexpected value {other:?}"));
                }
            };
            plans.apply(&format!("{plan}.{key}={value}"))?;
        }
    }
    for s in settings.iter().filter(|s| !s.trim().is_empty()) {
        plans.apply(s)?;
    }
    Ok(plans)
}

/// Allowed CORS origins: `*`, or origins as browsers send them (`scheme://host[:port]`, no path).
fn cors_origins(list: Vec<String>) -> Result<Vec<String>, String> {
    let list: Vec<String> = list
        .into_iter()
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for o in &list {
        if o == "*" {
            if list.len() > 1 {
                return Err("cors_allowed_origins: `*` cannot be combined with origins".into());
            }
            continue;
        }
        let ok = url::Url::parse(o).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && u.username().is_empty()
        });
        if !ok {
            return Err(format!(
                "cors_allowed_origins: {o:?} is not an origin like https://app.example.com"
            ));
        }
    }
    Ok(list)
}

/// The URL with any password replaced, for logs and `Debug`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable url>".into(),
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("signup_enabled", &self.signup_enabled)
            .field(
                "max_organizations_per_user",
                &self.max_organizations_per_user,
            )
            .field("session_lifetime_secs", &self.session_lifetime_secs)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("password_hash_concurrency", &self.password_hash_concurrency)
            .field("password_hash_queue_ms", &self.password_hash_queue_ms)
            .field("cache_ttl_ms", &self.cache_ttl_ms)
            .field("log_format", &self.log_format)
            .field("invitation_lifetime_secs", &self.invitation_lifetime_secs)
            .field("invitation_url", &self.invitation_url)
            .field("password_reset_url", &self.password_reset_url)
            .field(
                "member_add_requires_consent",
                &self.member_add_requires_consent,
            )
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("smtp_from", &self.smtp_from)
            .field("smtp_retry_secs", &self.smtp_retry_secs)
            .field("rate_limits_enabled", &self.rate_limits_enabled)
            .field("login_attempts_per_minute", &self.login_attempts_per_minute)
            .field(
                "login_failures_per_account",
                &self.login_failures_per_account,
            )
            .field("signups_per_hour", &self.signups_per_hour)
            .field("password_resets_per_hour", &self.password_resets_per_hour)
            .field("invitations_per_hour", &self.invitations_per_hour)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("require_verified_email", &self.require_verified_email)
            .field("email_verification_url", &self.email_verification_url)
            .field("metrics_listen", &self.metrics_listen)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("plans", &self.plans)
            .field("deployment_stale_secs", &self.deployment_stale_secs)
            .field(
                "deployment_requests_per_hour",
                &self.deployment_requests_per_hour,
            )
            .field("audit_retention_days", &self.audit_retention_days)
            .field("webhooks_allow_private", &self.webhooks_allow_private)
            .field("webhooks_allow_http", &self.webhooks_allow_http)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("webhook_retry_schedule", &self.webhook_retry_schedule)
            .field("webhook_concurrency", &self.webhook_concurrency)
            .field("webhook_poll_ms", &self.webhook_poll_ms)
            .field(
                "webhook_delivery_retention_days",
                &self.webhook_delivery_retention_days,
            )
            .field("public_url", &self.public_url)
            .field(
                "sso_encryption_key",
                &self.sso_encryption_key.as_ref().map(|_| "(set)"),
            )
            .field("sso_redirect_urls", &self.sso_redirect_urls)
            .field("sso_allow_insecure", &self.sso_allow_insecure)
            .field("domain_verification_url", &self.domain_verification_url)
            .field("external_jwt", &self.external_jwt)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://./orgd.db");
        assert!(c.signup_enabled);
        assert_eq!(c.max_organizations_per_user, None);
    }

    #[test]
    fn flags_and_env_beat_the_file_which_beats_defaults() {
        let file: Settings = toml::from_str(
            "listen = \"0.0.0.0:9000\"\nsignup_enabled = false\nmax_organizations_per_user = 3",
        )
        .unwrap();
        let cli = Settings {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::resolve(file, cli).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert!(!c.signup_enabled);
        assert_eq!(c.max_organizations_per_user, Some(3));
    }

    #[test]
    fn plans_come_from_the_file_then_from_settings() {
        use crate::domain::plans::PlanName;
        let file: Settings = toml::from_str(
            "[plans.free]\nmembers = 8\nprojects = \"unlimited\"\nfeatures = [\"sso\"]\n\
             [plans.team]\nservice_accounts_take_seats = true\n",
        )
        .unwrap();
        let cli = Settings {
            plan_settings: Some(vec!["free.members=9".into(), "".into()]),
            ..Default::default()
        };
        let c = Config::resolve(file, cli).unwrap();
        let free = c.plans.get(PlanName::Free);
        assert_eq!(free.limits.members, Some(9));
        assert_eq!(free.limits.projects, None);
        assert_eq!(free.features, ["sso"]);
        assert!(c.plans.get(PlanName::Team).service_accounts_take_seats);
        assert_eq!(
            Config::default().plans.get(PlanName::Free).limits.members,
            Some(5)
        );
        let bad: Settings = toml::from_str("[plans.gold]\nmembers = 1\n").unwrap();
        assert!(Config::resolve(bad, Settings::default()).is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<Settings>("listn = \"x\"").is_err());
    }

    #[test]
    fn debug_never_shows_the_database_password() {
        let cli = Settings {
            database_url: Some("postgres://orgd:s3cret@db:5432/orgd".into()),
            smtp_url: Some("smtps://mailer:s3cret@mail.example.com:465".into()),
            ..Default::default()
        };
        let c = Config::resolve(Settings::default(), cli).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("***"));
    }
}
