//! Email: invitations and password-reset links, over SMTP when a mail server is configured,
//! otherwise logged (an invitation link is also returned to the inviter once; a password-reset
//! link never leaves the server but by email or its log). A failed delivery keeps the invitation and is retried
//! with backoff by `spawn_delivery_worker`, with a fresh token each time (only hashes are
//! stored, so an undelivered link cannot be re-sent as it was).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::AppState;
use crate::domain::Timestamp;
use crate::store::TokenKind;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("bad smtp_url: {e}"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from = from.parse().map_err(|e| format!("bad smtp_from: {e}"))?;
        Ok(Mailer { transport, from })
    }

    pub async fn send_invitation(
        &self,
        to: &str,
        organization: &str,
        link: &str,
    ) -> Result<(), String> {
        let body = format!(
            "You have been invited to join {organization}.\r\n\r\n\
             Accept the invitation: {link}\r\n\r\n\
             If you did not expect this invitation, ignore this email.\r\n"
        );
        self.send(to, format!("You are invited to join {organization}"), body)
            .await
    }

    pub async fn send_password_reset(&self, to: &str, link: &str) -> Result<(), String> {
        let body = format!(
            "Someone asked to set a new password for the account of this address.\r\n\r\n\
             Set a new password: {link}\r\n\r\n\
             The link works once, for one hour. If you did not ask for it, ignore this email.\r\n"
        );
        self.send(to, "Set your password".into(), body).await
    }

    pub async fn send_email_verification(&self, to: &str, link: &str) -> Result<(), String> {
        let body = format!(
            "Confirm that this address is yours: {link}\r\n\r\n\
             The link works once, for 24 hours. If you did not create an account, ignore this \
             email.\r\n"
        );
        self.send(to, "Confirm your email address".into(), body)
            .await
    }

    async fn send(&self, to: &str, subject: String, body: String) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A new invitation token (`orgd_inv_…`, 256 random bits) and its hash.
pub fn mint_invitation_token() -> (String, [u8; 32]) {
    let (session_like, _) = crate::auth::mint(TokenKind::Pat);
    let token = session_like.replacen("orgd_pat_", "orgd_inv_", 1);
    let hash = crate::auth::hash_token(&token);
    (token, hash)
}

/// A new password-reset token (`orgd_pwr_…`, 256 random bits) and its hash.
pub fn mint_reset_token() -> (String, [u8; 32]) {
    let (pat_like, _) = crate::auth::mint(TokenKind::Pat);
    let token = pat_like.replacen("orgd_pat_", "orgd_pwr_", 1);
    let hash = crate::auth::hash_token(&token);
    (token, hash)
}

/// A new email-verification token (`orgd_vfy_…`, 256 random bits) and its hash.
pub fn mint_verification_token() -> (String, [u8; 32]) {
    let (pat_like, _) = crate::auth::mint(TokenKind::Pat);
    let token = pat_like.replacen("orgd_pat_", "orgd_vfy_", 1);
    let hash = crate::auth::hash_token(&token);
    (token, hash)
}

/// How long an email-verification link works.
pub const VERIFICATION_LIFETIME_SECS: i64 = 24 * 3600;

/// Records a verification link for `user` and sends it to their address in the background (or,
/// without a mail server, writes it to the server log). Nothing happens for an address that is
/// verified already or an account that cannot sign in.
pub async fn send_verification(state: &AppState, user: Uuid) -> crate::error::ApiResult<()> {
    let (token, hash) = mint_verification_token();
    let expires = Timestamp::now().plus_secs(VERIFICATION_LIFETIME_SECS);
    let Some(user) = state
        .store
        .create_email_verification(user, hash, expires)
        .await?
    else {
        return Ok(());
    };
    let state = state.clone();
    tokio::spawn(async move {
        let link = state
            .config
            .email_verification_url
            .replace("{token}", &token);
        match &state.mailer {
            None => tracing::info!(user = %user.id, email = %user.email, %link,
                "no mail server configured: email verification link"),
            Some(mailer) => match mailer.send_email_verification(&user.email, &link).await {
                Ok(()) => {
                    crate::metrics::METRICS.mail_sent.inc();
                }
                Err(e) => {
                    crate::metrics::METRICS.mail_failures.inc();
                    tracing::warn!(user = %user.id, error = %e, "verification email failed");
                }
            },
        }
    });
    Ok(())
}

/// Sends a password-reset link to `email`, or without a mail server writes it to the server log
/// (development). It is never returned to an API caller.
pub async fn deliver_password_reset(state: &AppState, user: Uuid, email: &str, token: &str) {
    let link = state.config.password_reset_url.replace("{token}", token);
    match &state.mailer {
        None => {
            tracing::info!(%user, %email, %link, "no mail server configured: password reset link")
        }
        Some(mailer) => {
            if let Err(e) = mailer.send_password_reset(email, &link).await {
                crate::metrics::METRICS.mail_failures.inc();
                tracing::warn!(%user, error = %e, "password reset email failed");
            } else {
                crate::metrics::METRICS.mail_sent.inc();
            }
        }
    }
}

pub fn accept_link(state: &AppState, token: &str) -> String {
    state.config.invitation_url.replace("{token}", token)
}

/// What happened to the email of an invitation.
pub struct Outcome {
    pub delivery: &'static str,
    pub error: Option<String>,
}

fn backoff(state: &AppState, attempts: i32) -> Timestamp {
    let base = state.config.smtp_retry_secs as i64;
    let delay = base.saturating_mul(1i64 << attempts.clamp(0, 16)).min(3600);
    Timestamp::now().plus_secs(delay)
}

/// Sends (or, without a mail server, logs) the accept link and records the outcome.
pub async fn deliver(
    state: &AppState,
    id: Uuid,
    email: &str,
    organization: &str,
    token: &str,
    attempts: i32,
) -> Outcome {
    let link = accept_link(state, token);
    let Some(mailer) = &state.mailer else {
        tracing::info!(invitation = %id, %email, %link, "no mail server configured: invitation link");
        return Outcome {
            delivery: "none",
            error: None,
        };
    };
    let (delivery, error, next) = match mailer.send_invitation(email, organization, &link).await {
        Ok(()) => {
            crate::metrics::METRICS.mail_sent.inc();
            ("sent", None, None)
        }
        Err(e) => {
            crate::metrics::METRICS.mail_failures.inc();
            tracing::warn!(invitation = %id, error = %e, "invitation email failed; will retry");
            ("failed", Some(e), Some(backoff(state, attempts)))
        }
    };
    if let Err(e) = state
        .store
        .record_delivery(id, delivery, error.clone(), next)
        .await
    {
        tracing::error!(invitation = %id, error = %e, "cannot record the delivery outcome");
    }
    Outcome { delivery, error }
}

/// Retries failed deliveries until they succeed or the invitation ends.
pub fn spawn_delivery_worker(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    state.mailer.as_ref()?;
    let every = Duration::from_secs(state.config.smtp_retry_secs.clamp(1, 30));
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            retry_due(&state).await;
        }
    }))
}

/// One pass over the deliveries that are due.
pub async fn retry_due(state: &AppState) {
    let due = match state.store.due_deliveries(Timestamp::now(), 50).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read due invitation deliveries");
            return;
        }
    };
    crate::metrics::METRICS.mail_due.set(due.len() as i64);
    for d in due {
        let (token, hash) = mint_invitation_token();
        match state.store.rotate_for_delivery(d.id, hash).await {
            Ok(true) => {
                deliver(
                    state,
                    d.id,
                    &d.email,
                    &d.organization_name,
                    &token,
                    d.attempts,
                )
                .await;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(invitation = %d.id, error = %e, "cannot prepare a delivery retry")
            }
        }
    }
}
