//! Signing in and out (with a password or SSO), signing up, accepting an invitation, and every
//! user's own pages: their organizations, invitations, profile, password, sessions and tokens.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::api::{query, seg};
use super::ui::{self, Nav, Retry, form_error, input, s, when};
use super::{
    Console, S, SSO_BINDING_SECS, SSO_COOKIE, Submit, Visitor, VisitorSubmit, cookie, random_token,
    redirect, same_token, signed_out,
};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-in/sso", post(sso_start))
        .route("/sso", get(sso_page).post(sso_finish))
        .route("/sign-up", get(sign_up_page).post(sign_up))
        .route("/sign-out", post(sign_out))
        .route("/password-reset", get(reset_page).post(reset_request))
        .route(
            "/password-reset/confirm",
            get(reset_confirm_page).post(reset_confirm),
        )
        .route("/verify-email", get(verify_page).post(verify_email))
        .route("/organizations", post(create_organization))
        .route(
            "/invitations/accept",
            get(invitation_page).post(invitation_answer),
        )
        .route("/invitations/new-account", post(invitation_new_account))
        .route("/invitations/{id}/accept", post(accept_mine))
        .route("/invitations/{id}/decline", post(decline_mine))
        .route("/account", get(account))
        .route("/account/profile", post(update_profile))
        .route("/account/password", post(change_password))
        .route("/account/tokens", get(tokens).post(create_token))
        .route("/account/tokens/revoke", post(revoke_token))
}

#[derive(Deserialize, Default)]
struct Next {
    #[serde(default)]
    next: String,
}

// --- sign-in -----------------------------------------------------------------------------------

async fn sign_in_page(v: Visitor, Query(q): Query<Next>) -> Response {
    v.finish(sign_in_form(&v, &q.next, None))
}

fn sign_in_form(v: &Visitor, next: &str, retry: Option<&Retry>) -> Response {
    let status = match retry {
        Some(r) => StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST),
        None => StatusCode::OK,
    };
    ui::bare(
        status,
        "Sign in",
        html! {
            (form_error(retry, "sign-in"))
            form method="post" action="/console/sign-in" {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="_form" value="sign-in";
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="login" { "Email or username" }
                    input #login name="login" type="text" autocomplete="username" required autofocus
                        value=(ui::value(retry, "sign-in", "login"));
                }
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                }
                div.actions { button type="submit" { "Sign in" } }
            }
            details.sso open[retry.is_some_and(|r| r.form == "sso")] {
                summary { "Sign in with single sign-on" }
                (form_error(retry, "sso"))
                form method="post" action="/console/sign-in/sso" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="_form" value="sso";
                    div.field {
                        label for="sso-email" { "Work email" }
                        input #sso-email name="email" type="email" autocomplete="email" required
                            value=(ui::value(retry, "sso", "email"));
                    }
                    div.actions { button.secondary type="submit" { "Continue with SSO" } }
                }
            }
            p { a href="/console/password-reset" { "Forgot your password?" } }
            p { "No account yet? " a href="/console/sign-up" { "Create one" } }
        },
    )
}

async fn sign_in(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let body = json!({"login": f.get("login"), "password": f.0.iter().find(|(k, _)| k == "password").map(|(_, p)| p.as_str()).unwrap_or("")});
    match v.api.post("/auth/login", body).await {
        Ok(session) => v.sign_in(s(&session["access_token"]), f.get("next")),
        Err(failure) => {
            let next = f.get("next").to_owned();
            let mut retry = Retry::new(f, failure);
            retry.form = "sign-in".to_owned();
            sign_in_form(&v, &next, Some(&retry))
        }
    }
}

/// Home-realm discovery: orgd's SSO start with the console as the place to come back to.
async fn sso_start(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    // The sign-in is bound to this browser: the way back names a random value that only this
    // browser's cookie holds, so a session handed to another browser (a link with someone
    // else's fragment) is refused.
    let binding = random_token();
    let back = format!(
        "{}/console/sso?binding={binding}",
        v.shared.state.config.public_url.trim_end_matches('/')
    );
    let path = format!(
        "/auth/sso/start{}",
        query(&[("email", f.get("email")), ("return_to", &back)])
    );
    match v.api.call(axum::http::Method::GET, &path, None).await {
        Ok(reply) => match reply.location {
            Some(to) => {
                let mut res = ui::onward("Continuing to your identity provider", &to);
                res.headers_mut().append(
                    header::SET_COOKIE,
                    cookie(&v.shared, SSO_COOKIE, &binding, Some(SSO_BINDING_SECS)),
                );
                res
            }
            None => sign_in_form(&v, "", None),
        },
        Err(failure) => sign_in_form(&v, "", Some(&Retry::new(f, failure))),
    }
}

#[derive(Deserialize, Default)]
struct BindingQuery {
    #[serde(default)]
    binding: String,
}

/// Where SSO sends the browser back to: the session is in the fragment, which only the browser
/// sees; the console's script posts it here, with the binding of the way back.
async fn sso_page(v: Visitor, Query(q): Query<BindingQuery>) -> Response {
    v.finish(ui::bare(
        StatusCode::OK,
        "Signing you in",
        html! {
            form #sso-finish method="post" action="/console/sso" {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="binding" value=(q.binding);
                input type="hidden" name="access_token" value="";
                p { "Finishing single sign-on…" }
                noscript { p { "Single sign-on needs JavaScript to finish. " a href="/console/sign-in" { "Sign in with a password instead." } } }
            }
        },
    ))
}

async fn sso_finish(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let token = f.get("access_token");
    let bound = v
        .sso_binding
        .as_deref()
        .is_some_and(|b| same_token(b, f.get("binding")));
    // Started in this browser, and a live session of some user, before it becomes the console's.
    let mut res = match v.api.with_token(token).get("/users/me").await {
        Ok(_) if bound && !token.is_empty() => v.sign_in(token, "/console"),
        _ => ui::bare_page(
            StatusCode::UNAUTHORIZED,
            "Single sign-on failed",
            "The sign-in did not finish in the browser that started it. Try again from the sign-in page.",
        ),
    };
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie(&v.shared, SSO_COOKIE, "", Some(0)),
    );
    res
}

async fn sign_up_page(v: Visitor) -> Response {
    v.finish(sign_up_form(&v, None))
}

fn sign_up_form(v: &Visitor, retry: Option<&Retry>) -> Response {
    let status = match retry {
        Some(r) => StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST),
        None => StatusCode::OK,
    };
    ui::bare(
        status,
        "Create your account",
        html! {
            (form_error(retry, "sign-up"))
            form method="post" action="/console/sign-up" {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="_form" value="sign-up";
                (input(retry, "sign-up", "name", "Name", "text", "", false, ""))
                (input(retry, "sign-up", "email", "Email", "email", "", true, ""))
                (input(retry, "sign-up", "username", "Username", "text", "", false, "Optional; letters, digits, - and _."))
                div.field {
                    label for="sign-up-password" { "Password" }
                    input #sign-up-password name="password" type="password" autocomplete="new-password" required minlength="8";
                }
                div.actions { button type="submit" { "Create account" } }
            }
            p { "Have an account? " a href="/console/sign-in" { "Sign in" } }
        },
    )
}

async fn sign_up(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let mut body = json!({"email": f.get("email"), "password": raw(&f, "password")});
    if let Some(n) = f.opt("name") {
        body["name"] = json!(n);
    }
    if let Some(u) = f.opt("username") {
        body["username"] = json!(u);
    }
    match v.api.post("/auth/signup", body).await {
        Ok(session) => v.sign_in(s(&session["access_token"]), "/console"),
        Err(failure) => sign_up_form(&v, Some(&Retry::new(f, failure))),
    }
}

// --- password reset and email verification (the links in orgd's emails open these) ----------

async fn reset_page(v: Visitor) -> Response {
    v.finish(reset_form(&v, None))
}

fn reset_form(v: &Visitor, retry: Option<&Retry>) -> Response {
    ui::bare(
        ui::status_of(retry),
        "Reset your password",
        html! {
            (form_error(retry, "reset"))
            p { "Give your account's email address: a link to choose a new password is sent there." }
            form method="post" action="/console/password-reset" {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="_form" value="reset";
                (input(retry, "reset", "email", "Email", "email", "", true, ""))
                div.actions { button type="submit" { "Send the link" } }
            }
            p { a href="/console/sign-in" { "Back to sign-in" } }
        },
    )
}

async fn reset_request(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    match v
        .api
        .post("/auth/password-reset", json!({"email": f.get("email")}))
        .await
    {
        Ok(_) => ui::bare(
            StatusCode::OK,
            "Check your email",
            html! {
                p { "If an account has the address " strong { (f.get("email")) } ", a link to choose a new password is on its way. It works once." }
                p { a href="/console/sign-in" { "Back to sign-in" } }
            },
        ),
        Err(failure) => reset_form(&v, Some(&Retry::new(f, failure))),
    }
}

async fn reset_confirm_page(v: Visitor, Query(q): Query<TokenQuery>) -> Response {
    let res = reset_confirm_form(&v, &q.token, None);
    v.finish(res)
}

fn reset_confirm_form(v: &Visitor, token: &str, retry: Option<&Retry>) -> Response {
    ui::bare(
        ui::status_of(retry),
        "Choose a new password",
        html! {
            (form_error(retry, "reset-confirm"))
            form method="post" action="/console/password-reset/confirm" {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="_form" value="reset-confirm";
                input type="hidden" name="token" value=(token);
                div.field {
                    label for="reset-password" { "New password" }
                    input #reset-password name="password" type="password" autocomplete="new-password" required minlength="8";
                }
                div.field.check {
                    input #reset-revoke name="revoke_tokens" type="checkbox" checked;
                    label for="reset-revoke" { "Sign out everywhere else and revoke my personal tokens" }
                }
                div.actions { button type="submit" { "Set password and sign in" } }
            }
        },
    )
}

async fn reset_confirm(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let token = f.get("token").to_owned();
    let body = json!({
        "token": token,
        "password": raw(&f, "password"),
        "revoke_tokens": f.checked("revoke_tokens"),
    });
    match v.api.post("/auth/password-reset/confirm", body).await {
        Ok(session) => v.sign_in(s(&session["access_token"]), "/console"),
        Err(failure) => reset_confirm_form(&v, &token, Some(&Retry::new(f, failure))),
    }
}

async fn verify_page(v: Visitor, Query(q): Query<TokenQuery>) -> Response {
    let res = verify_form(&v, &q.token, None);
    v.finish(res)
}

fn verify_form(v: &Visitor, token: &str, retry: Option<&Retry>) -> Response {
    ui::bare(
        ui::status_of(retry),
        "Verify your email address",
        html! {
            (form_error(retry, "verify"))
            form method="post" action="/console/verify-email" {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="_form" value="verify";
                input type="hidden" name="token" value=(token);
                div.actions { button type="submit" { "Verify my email address" } }
            }
        },
    )
}

async fn verify_email(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let token = f.get("token").to_owned();
    match v
        .api
        .post("/auth/verify-email", json!({"token": token}))
        .await
    {
        Ok(user) => ui::bare(
            StatusCode::OK,
            "Email verified",
            html! {
                p { (s(&user["email"])) " is verified." }
                p { a.button href="/console" { "Go to the console" } }
            },
        ),
        Err(failure) => verify_form(&v, &token, Some(&Retry::new(f, failure))),
    }
}

/// A field exactly as typed (passwords are not trimmed).
fn raw<'a>(f: &'a super::Fields, name: &str) -> &'a str {
    f.0.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn sign_out(Submit { c, .. }: Submit) -> Response {
    // The session ends on the server, not only in this browser.
    let _ = c.api.post("/auth/logout", json!({})).await;
    signed_out(&c.shared, "/console/sign-in")
}

// --- home --------------------------------------------------------------------------------------

async fn home(c: Console) -> Response {
    home_page(&c, None).await
}

async fn home_page(c: &Console, retry: Option<&Retry>) -> Response {
    let orgs = or_fail!(c, c.api.list("/organizations?limit=200").await).0;
    let invitations = or_fail!(c, c.api.list("/users/me/invitations").await).0;
    let title = if c.is_superuser() {
        "Organizations"
    } else {
        "Your organizations"
    };
    let status = retry.map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    ui::page(
        c,
        status,
        title,
        &Nav::home(c, "/console"),
        html! {
            @if !invitations.is_empty() {
                section #invitations {
                    h2 { "Invitations for you" }
                    (form_error(retry, "my-invitation"))
                    ul.cards {
                        @for i in &invitations {
                            li.card {
                                strong { (s(&i["organization"]["name"])) }
                                " invites you as " em { (s(&i["role"])) }
                                " (from " (s(&i["inviter"]["email"])) ", until " (when(&i["expires_at"])) ")."
                                div.actions {
                                    (ui::action_button(c, &format!("/console/invitations/{}/accept", seg(s(&i["id"]))), "Accept", "small", &[("_form", "my-invitation")]))
                                    (ui::action_button(c, &format!("/console/invitations/{}/decline", seg(s(&i["id"]))), "Decline", "small secondary", &[("_form", "my-invitation"), ("organization", s(&i["organization"]["name"]))]))
                                }
                            }
                        }
                    }
                }
            }
            @if orgs.is_empty() {
                (ui::empty("You are not a member of any organization yet. Create one below, or accept an invitation."))
            } @else {
                div.table-wrap {
                    table #organizations {
                        thead { tr { th { "Name" } th { "Slug" } th { "Your role" } th { "Members" } th { "Plan" } th { "Status" } } }
                        tbody {
                            @for o in &orgs {
                                tr {
                                    td { a href={ "/console/orgs/" (s(&o["id"])) } { (s(&o["name"])) } }
                                    td { code { (s(&o["slug"])) } }
                                    td { (o["role"].as_str().unwrap_or("—")) }
                                    td { (ui::num(&o["member_count"])) }
                                    td { (s(&o["plan"])) }
                                    td { (s(&o["status"])) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Create an organization" }
                (form_error(retry, "create-org"))
                (ui::form(c, "/console/organizations", "create-org", html! {
                    (input(retry, "create-org", "name", "Name", "text", "", true, ""))
                    (input(retry, "create-org", "slug", "Slug", "text", "", false, "Optional: made from the name."))
                    div.actions { button type="submit" { "Create organization" } }
                }))
            }
        },
    )
}

async fn create_organization(Submit { c, f }: Submit) -> Response {
    let mut body = json!({"name": f.get("name")});
    if let Some(slug) = f.opt("slug") {
        body["slug"] = json!(slug);
    }
    match c.api.post("/organizations", body).await {
        Ok(org) => c.done(
            &format!("/console/orgs/{}", seg(s(&org["id"]))),
            &format!("{} was created.", s(&org["name"])),
        ),
        Err(failure) => home_page(&c, Some(&Retry::new(f, failure))).await,
    }
}

// --- invitations -------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The invitation link's page: accept or decline, signed in or as a new account.
async fn invitation_page(v: Visitor, Query(q): Query<TokenQuery>) -> Response {
    let res = invitation_form(&v, &q.token, None);
    v.finish(res)
}

fn invitation_form(v: &Visitor, token: &str, retry: Option<&Retry>) -> Response {
    let here = format!("/console/invitations/accept{}", query(&[("token", token)]));
    let status = retry.map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    ui::bare(
        status,
        "You are invited",
        html! {
            (form_error(retry, "answer"))
            @if v.session.is_some() {
                p { "Accept the invitation with the account you are signed in with. Its email must be the invited address." }
                form method="post" action="/console/invitations/accept" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="_form" value="answer";
                    input type="hidden" name="token" value=(token);
                    div.actions {
                        button type="submit" name="answer" value="accept" { "Accept invitation" }
                        button.secondary type="submit" name="answer" value="decline" { "Decline" }
                    }
                }
            } @else {
                p { "Have an account with the invited address? " a href={ "/console/sign-in" (query(&[("next", &here)])) } { "Sign in to accept" } "." }
                h2 { "New here? Create your account" }
                (form_error(retry, "new-account"))
                form method="post" action="/console/invitations/new-account" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="_form" value="new-account";
                    input type="hidden" name="token" value=(token);
                    (input(retry, "new-account", "name", "Name", "text", "", false, ""))
                    (input(retry, "new-account", "username", "Username", "text", "", false, "Optional."))
                    div.field {
                        label for="new-account-password" { "Password" }
                        input #new-account-password name="password" type="password" autocomplete="new-password" required minlength="8";
                    }
                    div.actions { button type="submit" { "Create account and join" } }
                }
                form method="post" action="/console/invitations/accept" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="_form" value="answer";
                    input type="hidden" name="token" value=(token);
                    div.actions { button.secondary type="submit" name="answer" value="decline" { "Decline the invitation" } }
                }
            }
        },
    )
}

/// Accepting (signed in) or declining (signed in or not).
async fn invitation_answer(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let token = f.get("token").to_owned();
    let api = match &v.session {
        Some(session) => v.api.with_token(session),
        None => v.api.clone(),
    };
    if f.get("answer") == "decline" {
        return match api
            .post("/invitations/decline", json!({"token": token}))
            .await
        {
            Ok(_) => ui::bare(
                StatusCode::OK,
                "Invitation declined",
                html! { p { "The invitation was declined." } p { a href="/console" { "Go to the console" } } },
            ),
            Err(failure) => invitation_form(&v, &token, Some(&Retry::new(f, failure))),
        };
    }
    if v.session.is_none() {
        return invitation_form(&v, &token, None);
    }
    match api
        .post("/invitations/accept", json!({"token": token}))
        .await
    {
        Ok(accepted) => redirect(&format!(
            "/console/orgs/{}",
            seg(s(&accepted["organization_id"]))
        )),
        Err(failure) => invitation_form(&v, &token, Some(&Retry::new(f, failure))),
    }
}

async fn invitation_new_account(VisitorSubmit { v, f }: VisitorSubmit) -> Response {
    let token = f.get("token").to_owned();
    let mut body = json!({"token": token, "password": raw(&f, "password")});
    if let Some(n) = f.opt("name") {
        body["name"] = json!(n);
    }
    if let Some(u) = f.opt("username") {
        body["username"] = json!(u);
    }
    match v.api.post("/invitations/accept", body).await {
        Ok(accepted) => v.sign_in(
            s(&accepted["session"]["access_token"]),
            &format!("/console/orgs/{}", seg(s(&accepted["organization_id"]))),
        ),
        Err(failure) => invitation_form(&v, &token, Some(&Retry::new(f, failure))),
    }
}

/// Accepting one's own invitation from the list (the API asks for a verified email).
async fn accept_mine(Path(id): Path<String>, Submit { c, f }: Submit) -> Response {
    match c
        .api
        .post(
            &format!("/users/me/invitations/{}/accept", seg(&id)),
            json!({}),
        )
        .await
    {
        Ok(accepted) => c.done(
            &format!("/console/orgs/{}", seg(s(&accepted["organization_id"]))),
            "You joined the organization.",
        ),
        Err(failure) => home_page(&c, Some(&Retry::new(f, failure))).await,
    }
}

async fn decline_mine(Path(id): Path<String>, Submit { c, f }: Submit) -> Response {
    if !f.confirmed() {
        return ui::confirm(
            &c,
            &Nav::home(&c, "/console"),
            "Decline invitation",
            &[
                format!("You will not join {}.", f.get("organization")),
                "The invitation cannot be accepted afterwards; someone would have to invite you again.".to_owned(),
            ],
            &format!("/console/invitations/{}/decline", seg(&id)),
            &f,
            "/console",
        );
    }
    match c
        .api
        .post(
            &format!("/users/me/invitations/{}/decline", seg(&id)),
            json!({}),
        )
        .await
    {
        Ok(_) => c.done("/console", "The invitation was declined."),
        Err(failure) => home_page(&c, Some(&Retry::new(f, failure))).await,
    }
}

// --- account -----------------------------------------------------------------------------------

async fn account(c: Console) -> Response {
    account_page(&c, None)
}

fn account_page(c: &Console, retry: Option<&Retry>) -> Response {
    let me = &c.me;
    let status = retry.map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    ui::page(
        c,
        status,
        "Account",
        &Nav::home(c, "/console/account"),
        html! {
            dl.facts {
                dt { "Email" } dd { (s(&me["email"])) " " @if me["email_verified"].as_bool() == Some(true) { span.badge.ok { "verified" } } @else { span.badge { "not verified" } } }
                dt { "Account id" } dd { code { (s(&me["id"])) } }
                dt { "Created" } dd { (when(&me["created_at"])) }
            }
            section {
                h2 { "Profile" }
                (form_error(retry, "profile"))
                (ui::form(c, "/console/account/profile", "profile", html! {
                    (input(retry, "profile", "name", "Name", "text", s(&me["name"]), false, ""))
                    (input(retry, "profile", "username", "Username", "text", s(&me["username"]), true, ""))
                    (input(retry, "profile", "company", "Company", "text", s(&me["company"]), false, ""))
                    (input(retry, "profile", "job_title", "Job title", "text", s(&me["job_title"]), false, ""))
                    div.actions { button type="submit" { "Save profile" } }
                }))
            }
            section {
                h2 { "Password" }
                (form_error(retry, "password"))
                (ui::form(c, "/console/account/password", "password", html! {
                    div.field {
                        label for="current_password" { "Current password" }
                        input #current_password name="current_password" type="password" autocomplete="current-password" required;
                    }
                    div.field {
                        label for="new_password" { "New password" }
                        input #new_password name="new_password" type="password" autocomplete="new-password" required minlength="8";
                    }
                    div.field.check {
                        input #revoke_tokens name="revoke_tokens" type="checkbox";
                        label for="revoke_tokens" { "Also end every session and revoke every personal token (you sign in again)" }
                    }
                    div.actions { button type="submit" { "Change password" } }
                }))
            }
        },
    )
}

async fn update_profile(Submit { c, f }: Submit) -> Response {
    let body = json!({
        "name": f.opt("name"),
        "username": f.get("username"),
        "company": f.opt("company"),
        "job_title": f.opt("job_title"),
    });
    match c.api.patch("/users/me", body).await {
        Ok(_) => c.done("/console/account", "Your profile was saved."),
        Err(failure) => account_page(&c, Some(&Retry::new(f, failure))),
    }
}

async fn change_password(Submit { c, f }: Submit) -> Response {
    let revoke = f.checked("revoke_tokens");
    let body = json!({
        "current_password": raw(&f, "current_password"),
        "new_password": raw(&f, "new_password"),
        "revoke_tokens": revoke,
    });
    match c.api.post("/users/me/password", body).await {
        Ok(_) if revoke => signed_out(&c.shared, "/console/sign-in"),
        Ok(_) => c.done("/console/account", "Your password was changed."),
        Err(failure) => account_page(&c, Some(&Retry::new(f, failure))),
    }
}

async fn tokens(c: Console) -> Response {
    tokens_page(&c, None).await
}

async fn tokens_page(c: &Console, retry: Option<&Retry>) -> Response {
    let (items, _) = or_fail!(c, c.api.list("/tokens").await);
    let (sessions, _) = or_fail!(c, c.api.list("/users/me/sessions").await);
    let orgs = c
        .api
        .list("/organizations?limit=200")
        .await
        .map(|r| r.0)
        .unwrap_or_default();
    let mut org_options = vec![(String::new(), "Every organization of mine".to_owned())];
    org_options.extend(
        orgs.iter()
            .map(|o| (s(&o["id"]).to_owned(), format!("Only {}", s(&o["name"])))),
    );
    let status = retry.map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let org_name = |id: &str| {
        orgs.iter()
            .find(|o| s(&o["id"]) == id)
            .map(|o| s(&o["name"]).to_owned())
            .unwrap_or_else(|| id.to_owned())
    };
    ui::page(
        c,
        status,
        "Sessions and tokens",
        &Nav::home(c, "/console/account/tokens"),
        html! {
            section {
                h2 { "Sessions" }
                p { "Where you are signed in. Ending a session signs that browser or app out at once." }
                div.table-wrap {
                    table #sessions {
                        thead { tr { th { "Signed in" } th { "Last used" } th { "Expires" } th { span.sr { "Actions" } } } }
                        tbody {
                            @for t in &sessions {
                                tr {
                                    td { (when(&t["created_at"])) @if t["current"].as_bool() == Some(true) { " " span.badge.ok { "this browser" } } }
                                    td { (when(&t["last_used_at"])) }
                                    td { (when(&t["expires_at"])) }
                                    td { (ui::action_button(c, "/console/account/tokens/revoke", "End session", "danger small", &[("id", s(&t["id"])), ("name", "a session"), ("current", if t["current"].as_bool() == Some(true) { "yes" } else { "" })])) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Personal tokens" }
                p { "For scripts and tools: a token acts as you (or only inside one organization)." }
                @if items.is_empty() { (ui::empty("No personal tokens. Create one below.")) } @else {
                    div.table-wrap {
                        table #tokens {
                            thead { tr { th { "Name" } th { "Organization" } th { "Created" } th { "Last used" } th { "Expires" } th { span.sr { "Actions" } } } }
                            tbody {
                                @for t in &items {
                                    tr {
                                        td { (s(&t["name"])) }
                                        td { @if let Some(o) = t["organization_id"].as_str() { (org_name(o)) } @else { "All" } }
                                        td { (when(&t["created_at"])) }
                                        td { (when(&t["last_used_at"])) }
                                        td { (when(&t["expires_at"])) }
                                        td { (ui::action_button(c, "/console/account/tokens/revoke", "Revoke", "danger small", &[("id", s(&t["id"])), ("name", s(&t["name"]))])) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Create a personal token" }
                (form_error(retry, "token"))
                (ui::form(c, "/console/account/tokens", "token", html! {
                    (input(retry, "token", "name", "Name", "text", "", true, "What it is for, e.g. “deploy script”."))
                    (ui::select(retry, "token", "organization", "Scope", &org_options, ""))
                    (input(retry, "token", "expires_at", "Expires", "date", "", false, "Optional."))
                    div.actions { button type="submit" { "Create token" } }
                }))
            }
        },
    )
}

async fn create_token(Submit { c, f }: Submit) -> Response {
    let mut body = json!({"name": f.get("name")});
    if let Some(o) = f.opt("organization") {
        body["organization"] = json!(o);
    }
    if let Some(d) = f.opt("expires_at") {
        body["expires_at"] = json!(ui::day_start(d));
    }
    match c.api.post("/tokens", body).await {
        Ok(t) => ui::secret(
            &c,
            &Nav::home(&c, "/console/account/tokens"),
            "Token created",
            &format!("The token “{}”.", s(&t["name"])),
            s(&t["token"]),
            "/console/account/tokens",
        ),
        Err(failure) => tokens_page(&c, Some(&Retry::new(f, failure))).await,
    }
}

async fn revoke_token(Submit { c, f }: Submit) -> Response {
    let nav = Nav::home(&c, "/console/account/tokens");
    if !f.confirmed() {
        return ui::confirm(
            &c,
            &nav,
            "Revoke this token",
            &[
                format!("“{}” stops working at once, everywhere.", f.get("name")),
                if f.get("current") == "yes" {
                    "It is this browser's session: you are signed out.".to_owned()
                } else {
                    "Whatever uses it has to sign in again.".to_owned()
                },
            ],
            "/console/account/tokens/revoke",
            &f,
            "/console/account/tokens",
        );
    }
    match c.api.delete(&format!("/tokens/{}", seg(f.get("id")))).await {
        Ok(_) if f.get("current") == "yes" => signed_out(&c.shared, "/console/sign-in"),
        Ok(_) => c.done("/console/account/tokens", "It was revoked."),
        Err(failure) => c.failed(failure),
    }
}
