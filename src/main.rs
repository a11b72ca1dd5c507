use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orgd::config::{Config, DatabaseArgs, Settings};
use orgd::store::{NewUser, connect};
use orgd::{AppState, app, domain::validate};

#[derive(Parser)]
#[command(name = "orgd", version, about = "Self-hostable organizations service")]
struct Cli {
    /// TOML configuration file
    #[arg(long, env = "ORGD_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first)
    Serve {
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Apply pending migrations and exit
    Migrate {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Print the OpenAPI document
    Openapi,
    /// Operator tasks
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Create an account, e.g. the first superuser
    CreateUser {
        /// The account's email address
        #[arg(long)]
        email: String,
        /// Its password (better from the environment, out of the shell history)
        #[arg(long, env = "ORGD_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Its username [default: derived from the email]
        #[arg(long)]
        username: Option<String>,
        /// Make it a superuser, who manages every user and organization
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Set an account's password (a forgotten one, or an account provisioned without one) and end
    /// its sessions
    SetPassword {
        /// The account's email or username
        #[arg(long)]
        login: String,
        /// The new password (better from the environment, out of the shell history)
        #[arg(long, env = "ORGD_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Also revoke the account's personal access tokens, not only its sessions
        #[arg(long)]
        revoke_tokens: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Bulk-generate organizations, users and memberships for load tests; prints the callers'
    /// tokens as JSON
    Seed {
        /// Organizations to create
        #[arg(long, default_value_t = 1000)]
        orgs: u64,
        /// Members of each organization
        #[arg(long, default_value_t = 10)]
        members_per_org: u64,
        /// Users to draw members from [default: a tenth of the memberships, at least 1000]
        #[arg(long)]
        users: Option<u64>,
        /// Extra users who each own an organization of their own and get a session token of
        /// their own (listed under `callers`)
        #[arg(long, default_value_t = 0)]
        callers: u64,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Write a consistent copy of the SQLite database to FILE while orgd keeps serving
    /// (PostgreSQL: use pg_dump)
    Backup {
        /// The new backup file; must not exist
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Replace the SQLite database with a backup made by `orgd admin backup` (stop orgd first)
    Restore {
        /// The backup file
        file: PathBuf,
        /// Replace a database that exists already
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

impl Command {
    /// The settings given on the command line or in the environment, for this command.
    fn settings(&self) -> Settings {
        match self {
            Command::Serve { settings } => (**settings).clone(),
            Command::Openapi => Settings::default(),
            Command::Migrate { db }
            | Command::Admin(
                Admin::CreateUser { db, .. }
                | Admin::SetPassword { db, .. }
                | Admin::Seed { db, .. }
                | Admin::Backup { db, .. }
                | Admin::Restore { db, .. },
            ) => db.clone().into(),
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORGD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour only for a person at a terminal, never into a file or a log collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(cli.config.as_deref(), cli.command.settings())?;
    if let Command::Openapi = cli.command {
        return print_out(
            &serde_json::to_string_pretty(&orgd::openapi()).map_err(|e| e.to_string())?,
        );
    }
    match &cli.command {
        Command::Admin(Admin::Backup { file, .. }) => {
            let db = orgd::backup::sqlite_file(&config.database_url)?;
            let s = orgd::backup::backup(&db, file)?;
            return print_out(&format!("backup written: {}", describe(&s)));
        }
        Command::Admin(Admin::Restore { file, force, .. }) => {
            let db = orgd::backup::sqlite_file(&config.database_url)?;
            let s = orgd::backup::restore(file, &db, *force, orgd::backup::known_schema_version())?;
            return print_out(&format!("database restored: {}", describe(&s)));
        }
        _ => {}
    }
    init_logging(&config.log_format);
    orgd::store::cache::set_ttl(config.cache_ttl_ms);
    if let Some(url) = &config.smtp_url {
        orgd::mailer::Mailer::new(url, &config.smtp_from)?;
    }
    tracing::info!(config = ?config, "configuration");
    let store = connect(&config.database_url, config.database_max_connections)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    match cli.command {
        Command::Openapi
        | Command::Admin(Admin::Backup { .. })
        | Command::Admin(Admin::Restore { .. }) => Ok(()),
        Command::Migrate { .. } => {
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Admin(Admin::CreateUser {
            email,
            password,
            username,
            superuser,
            ..
        }) => {
            let email = validate::email(&email).map_err(|m| format!("--email {m}"))?;
            if let Some(u) = &username {
                validate::username(u).map_err(|m| format!("--username {m}"))?;
            }
            let hash = password_hash(&store, &config, &password).await?;
            let user = store
                .create_user(NewUser {
                    email,
                    username,
                    name: None,
                    password_hash: Some(hash),
                    is_superuser: superuser,
                    is_service_account: false,
                    // The operator vouches for the address (and the first superuser must be
                    // able to sign in when verified addresses are required).
                    email_verified: true,
                })
                .await
                .map_err(|e| e.to_string())?;
            print_out(&format!(
                "created user {} ({}){}",
                user.username,
                user.id,
                if superuser { ", superuser" } else { "" }
            ))
        }
        Command::Admin(Admin::SetPassword {
            login,
            password,
            revoke_tokens,
            ..
        }) => {
            let hash = password_hash(&store, &config, &password).await?;
            let (user, _) = store
                .user_for_login(&login)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account has the email or username {login}"))?;
            if user.is_service_account {
                return Err(format!(
                    "{} is a service account, which signs in with tokens only",
                    user.username
                ));
            }
            store
                .set_password(user.id, hash, None, revoke_tokens)
                .await
                .map_err(|e| e.to_string())?;
            print_out(&format!(
                "password set for {} ({}); its sessions{} are ended",
                user.username,
                user.id,
                if revoke_tokens { " and tokens" } else { "" }
            ))
        }
        Command::Admin(Admin::Seed {
            orgs,
            members_per_org,
            users,
            callers,
            ..
        }) => {
            use std::io::Write;
            let state = AppState::new(store.clone(), config.clone())?;
            let hash = state
                .passwords
                .hash(orgd::seed::PASSWORD.into())
                .await
                .map_err(|e| e.message)?;
            let started = std::time::Instant::now();
            let opts = orgd::seed::SeedOptions {
                orgs,
                members_per_org,
                users,
            };
            let report = orgd::seed::seed_with_callers(
                store.as_ref(),
                opts,
                callers,
                hash,
                |done, total| {
                    let pct = (done * 100).checked_div(total).unwrap_or(100);
                    let bar = "#".repeat((pct / 4) as usize);
                    eprint!("\r[{bar:<25}] {pct:>3}% {done}/{total} memberships");
                    let _ = std::io::stderr().flush();
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            eprintln!("\nseeded in {:.1}s", started.elapsed().as_secs_f64());
            print_out(&serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?)
        }
        Command::Serve { .. } => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
            tracing::info!(address = %config.listen, "orgd listening; API reference at /docs");
            let limits = orgd::server::NetworkLimits::from_config(&config);
            let metrics_listen = config.metrics_listen;
            let state = AppState::new(store, config)?;
            state.passwords.prewarm().await.map_err(|e| e.message)?;
            orgd::mailer::spawn_delivery_worker(state.clone());
            orgd::audit::spawn_retention(state.clone());
            orgd::webhooks::spawn_worker(state.clone());
            if let Some(addr) = metrics_listen {
                let metrics = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
                tracing::info!(address = %addr, "metrics at /metrics");
                let router = orgd::metrics_app(state.clone());
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(metrics, router).await {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                });
            }
            orgd::server::serve(listener, app(state), limits, shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// `--password` checked by the sign-up rules and hashed as the server hashes it.
async fn password_hash(
    store: &std::sync::Arc<dyn orgd::store::Store>,
    config: &Config,
    password: &str,
) -> Result<String, String> {
    let password = validate::password(password).map_err(|m| format!("--password {m}"))?;
    let state = AppState::new(store.clone(), config.clone())?;
    state.passwords.hash(password).await.map_err(|e| e.message)
}

/// Writes a line to stdout. A reader that went away (`orgd openapi | head`) is not an error.
fn print_out(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the output: {e}"))
        }
        _ => Ok(()),
    }
}

fn describe(s: &orgd::backup::Summary) -> String {
    format!(
        "{} ({} bytes, schema version {}, {} users, {} organizations, {} memberships)",
        s.file.display(),
        s.bytes,
        s.schema_version,
        s.users,
        s.organizations,
        s.memberships
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orgd: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgd: {e}");
            ExitCode::FAILURE
        }
    }
}
