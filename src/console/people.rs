//! The operator's pages about the installation itself (superusers): its users, the licenses it
//! issued, and its health.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Failure, query, seg};
use super::ui::{self, Retry, form_error, input, s, when};
use super::{Console, Fields, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/operator/users", get(users).post(create_user))
        .route("/operator/users/{user}", get(user))
        .route("/operator/users/{user}/active", post(set_active))
        .route("/operator/users/{user}/password", post(set_password))
        .route("/operator/users/{user}/verify-email", post(verify_email))
        .route("/operator/users/{user}/superuser", post(set_superuser))
        .route("/operator/users/{user}/delete", post(delete_user))
        .route("/operator/licenses", get(licenses).post(issue_license))
        .route("/operator/licenses/{id}", get(license).post(update_license))
        .route("/operator/licenses/{id}/revoke", post(revoke_license))
        .route("/operator/health", get(health))
}

use super::ui::PAGE;

/// A field exactly as typed (passwords are not trimmed).
fn raw<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.0.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A number field: empty is null, a number is a number, anything else goes to the API as typed
/// (which explains what it wants).
fn int(f: &Fields, name: &str) -> Value {
    match f.get(name) {
        "" => Value::Null,
        v => v.parse::<i64>().map(Value::from).unwrap_or(json!(v)),
    }
}

/// A date field as the start of that day (UTC), or null.
fn date(f: &Fields, name: &str) -> Value {
    match f.get(name) {
        "" => Value::Null,
        v => json!(ui::day_start(v)),
    }
}

fn yes_no(v: &Value) -> Markup {
    html! {
        @if v.as_bool() == Some(true) { span.badge.ok { "yes" } } @else { span.badge { "no" } }
    }
}

fn check(retry: Option<&Retry>, form: &str, name: &str, label: &str, default: bool) -> Markup {
    let id = format!("{form}-{name}");
    let on = match retry.filter(|r| r.form == form) {
        Some(r) => r.fields.checked(name),
        None => default,
    };
    html! {
        div.field.check {
            input id=(id) name=(name) type="checkbox" checked[on];
            label for=(id) { (label) }
        }
    }
}

fn operators_only(c: &Console) -> Markup {
    html! {
        @if !c.is_superuser() {
            div.notice.warn { p { "These pages are for the installation's operators; the API refuses their actions to anyone else." } }
        }
    }
}

// --- users -------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct UserQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: u64,
}

async fn users(c: Console, Query(q): Query<UserQuery>) -> Response {
    users_page(&c, &q, None).await
}

async fn users_page(c: &Console, q: &UserQuery, retry: Option<&Retry>) -> Response {
    let (items, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged("/users", &[("q", &q.q)], q.offset))
            .await
    );
    let f = "create-user";
    ui::page(
        c,
        ui::status_of(retry),
        "Users",
        &super::operator::nav("/console/operator/users"),
        html! {
            (operators_only(c))
            form.filters method="get" action="/console/operator/users" role="search" {
                div.field {
                    label for="q" { "Search" }
                    input #q name="q" type="search" value=(q.q) placeholder="Name, username or email";
                }
                div.actions { button.secondary type="submit" { "Search" } }
            }
            @if items.is_empty() {
                (ui::empty(if q.q.is_empty() { "No users yet. Create one below." } else { "No user matches." }))
            } @else {
                div.table-wrap {
                    table #users {
                        thead { tr { th { "Name" } th { "Email" } th { "Verified" } th { "Active" } th { "Superuser" } th { "Service account" } th { "Created" } } }
                        tbody {
                            @for u in &items {
                                tr data-user=(s(&u["id"])) {
                                    td { a href={ "/console/operator/users/" (seg(s(&u["id"]))) } { (ui::display_name(u)) } br; small { (s(&u["username"])) } }
                                    td { (s(&u["email"])) }
                                    td { (yes_no(&u["email_verified"])) }
                                    td { @if u["is_active"].as_bool() == Some(true) { span.badge.ok { "active" } } @else { span.badge.bad { "deactivated" } } }
                                    td { (yes_no(&u["is_superuser"])) }
                                    td { (yes_no(&u["is_service_account"])) }
                                    td { (when(&u["created_at"])) }
                                }
                            }
                        }
                    }
                }
            }
            (ui::pager("/console/operator/users", &[("q", &q.q)], q.offset, PAGE, items.len(), None))
            section #create-user {
                h2 { "Create a user" }
                (form_error(retry, f))
                (ui::form(c, "/console/operator/users", f, html! {
                    (input(retry, f, "email", "Email", "email", "", true, ""))
                    (input(retry, f, "name", "Name", "text", "", false, "Optional."))
                    (input(retry, f, "username", "Username", "text", "", false, "Optional: made from the email when empty."))
                    div.field {
                        label for="create-user-password" { "Password" }
                        input #create-user-password name="password" type="password" autocomplete="new-password";
                        small { "Optional: without one, the user sets it through a password reset." }
                    }
                    (check(retry, f, "email_verified", "The email address is verified (you vouch for it)", false))
                    (check(retry, f, "is_superuser", "Superuser (an operator of this installation)", false))
                    div.actions { button type="submit" { "Create user" } }
                }))
            }
            p { "See also the " a href="/console/operator/audit-log" { "installation audit log" } "." }
        },
    )
}

async fn create_user(Submit { c, f }: Submit) -> Response {
    let password = raw(&f, "password");
    let mut body = json!({
        "email": f.get("email"),
        "name": f.opt("name"),
        "username": f.opt("username"),
        "email_verified": f.checked("email_verified"),
        "is_superuser": f.checked("is_superuser"),
    });
    if !password.is_empty() {
        body["password"] = json!(password);
    }
    match c.api.post("/users", body).await {
        Ok(u) => c.done(
            &format!("/console/operator/users/{}", seg(s(&u["id"]))),
            &format!("{} was created.", s(&u["email"])),
        ),
        Err(failure) => users_page(&c, &UserQuery::default(), Some(&Retry::new(f, failure))).await,
    }
}

async fn user(c: Console, Path(user): Path<String>) -> Response {
    user_page(&c, &user, None).await
}

async fn user_page(c: &Console, user: &str, retry: Option<&Retry>) -> Response {
    let u = or_fail!(c, c.api.get(&format!("/users/{}", seg(user))).await);
    let id = s(&u["id"]);
    let here = format!("/console/operator/users/{}", seg(id));
    let owned = c
        .api
        .list(&format!(
            "/organizations{}",
            query(&[("owner_id", id), ("limit", "100")])
        ))
        .await
        .map(|r| r.0);
    let active = u["is_active"].as_bool() == Some(true);
    let verified = u["email_verified"].as_bool() == Some(true);
    let superuser = u["is_superuser"].as_bool() == Some(true);
    let service = u["is_service_account"].as_bool() == Some(true);
    let email = s(&u["email"]);
    // The API refuses superusers these on themselves.
    let me = id == c.my_id();
    ui::page(
        c,
        ui::status_of(retry),
        &ui::display_name(&u),
        &super::operator::nav("/console/operator/users"),
        html! {
            (operators_only(c))
            p { a href="/console/operator/users" { "← All users" } }
            dl.facts {
                dt { "Name" } dd { (u["name"].as_str().unwrap_or("—")) }
                dt { "Username" } dd { code { (s(&u["username"])) } }
                dt { "Email" } dd { (email) " " @if verified { span.badge.ok { "verified" } } @else { span.badge { "not verified" } } }
                dt { "State" } dd { @if active { span.badge.ok { "active" } } @else { span.badge.bad { "deactivated" } } }
                dt { "Superuser" } dd { (yes_no(&u["is_superuser"])) }
                dt { "Service account" } dd { (yes_no(&u["is_service_account"])) }
                dt { "Company" } dd { (u["company"].as_str().unwrap_or("—")) }
                dt { "Job title" } dd { (u["job_title"].as_str().unwrap_or("—")) }
                dt { "Created" } dd { (when(&u["created_at"])) }
                dt { "Updated" } dd { (when(&u["updated_at"])) }
                dt { "Id" } dd { code { (id) } }
            }
            section #account {
                h2 { "Account" }
                (form_error(retry, "deactivate"))
                (form_error(retry, "reactivate"))
                (form_error(retry, "verify-email"))
                (form_error(retry, "superuser"))
                div.actions {
                    @if !active {
                        (ui::action_button(c, &format!("{here}/active"), "Reactivate", "", &[("_form", "reactivate"), ("is_active", "true"), ("email", email)]))
                    } @else if !me {
                        (ui::action_button(c, &format!("{here}/active"), "Deactivate…", "danger", &[("_form", "deactivate"), ("is_active", "false"), ("email", email)]))
                    }
                    @if verified {
                        (ui::action_button(c, &format!("{here}/verify-email"), "Mark email unverified", "secondary", &[("_form", "verify-email"), ("email_verified", "false")]))
                    } @else {
                        (ui::action_button(c, &format!("{here}/verify-email"), "Mark email verified", "secondary", &[("_form", "verify-email"), ("email_verified", "true")]))
                    }
                    @if superuser && !me {
                        (ui::action_button(c, &format!("{here}/superuser"), "Remove superuser…", "danger", &[("_form", "superuser"), ("is_superuser", "false"), ("email", email)]))
                    } @else if !superuser && !service {
                        (ui::action_button(c, &format!("{here}/superuser"), "Make superuser…", "secondary", &[("_form", "superuser"), ("is_superuser", "true"), ("email", email)]))
                    }
                }
                @if me { p.hint { "This is your own account: you cannot deactivate, demote or delete it here." } }
            }
            @if !service {
                section #password {
                    h2 { "Set a password" }
                    p { "For a forgotten password: every session and personal token of the account ends, and the user signs in with the new one." }
                    (form_error(retry, "set-password"))
                    (ui::form(c, &format!("{here}/password"), "set-password", html! {
                        div.field {
                            label for="set-password-password" { "New password" }
                            input #set-password-password name="password" type="password" autocomplete="new-password" required minlength="8";
                            small { "8 to 256 characters." }
                        }
                        div.actions { button type="submit" { "Set password" } }
                    }))
                }
            }
            section #owned {
                h2 { "Organizations they own" }
                @match &owned {
                    Ok(orgs) if orgs.is_empty() => { (ui::empty("They are the primary owner of no organization.")) }
                    Ok(orgs) => {
                        div.table-wrap {
                            table #user-organizations {
                                thead { tr { th { "Name" } th { "Plan" } th { "Members" } th { "Status" } } }
                                tbody {
                                    @for o in orgs {
                                        tr {
                                            td { a href={ "/console/orgs/" (seg(s(&o["id"]))) } { (s(&o["name"])) } }
                                            td { (s(&o["plan"])) }
                                            td { (ui::num(&o["member_count"])) }
                                            td { (s(&o["status"])) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Err(f) => { (ui::failure_box(f)) }
                }
                p.hint { "Organizations where they are the primary owner; their other memberships are on each organization's Members page." }
            }
            @if !me {
                section.danger-zone {
                    h2 { "Delete" }
                    (form_error(retry, "delete-user"))
                    p { "Delete the account with its memberships and tokens." }
                    (ui::action_button(c, &format!("{here}/delete"), "Delete user…", "danger", &[("_form", "delete-user"), ("email", email)]))
                }
            }
        },
    )
}

async fn patch_user(c: &Console, user: &str, body: Value) -> Result<Value, Failure> {
    c.api.patch(&format!("/users/{}", seg(user)), body).await
}

async fn set_active(Path(user): Path<String>, Submit { c, f }: Submit) -> Response {
    let here = format!("/console/operator/users/{}", seg(&user));
    let active = f.get("is_active") == "true";
    if !active && !f.confirmed() {
        return ui::confirm(
            &c,
            &super::operator::nav("/console/operator/users"),
            "Deactivate user",
            &[
                format!("{} can no longer sign in.", f.get("email")),
                "Their sessions and personal tokens stop working at once, in every organization."
                    .to_owned(),
                "Nothing is deleted: reactivating the account restores access.".to_owned(),
            ],
            &format!("{here}/active"),
            &f,
            &here,
        );
    }
    match patch_user(&c, &user, json!({"is_active": active})).await {
        Ok(u) => c.done(
            &here,
            &format!(
                "{} is {}.",
                s(&u["email"]),
                if active {
                    "active again"
                } else {
                    "deactivated"
                }
            ),
        ),
        Err(failure) => user_page(&c, &user, Some(&Retry::new(f, failure))).await,
    }
}

async fn set_password(Path(user): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({"password": raw(&f, "password")});
    match patch_user(&c, &user, body).await {
        Ok(u) => c.done(
            &format!("/console/operator/users/{}", seg(&user)),
            &format!(
                "The password of {} was set; their sessions and tokens ended.",
                s(&u["email"])
            ),
        ),
        Err(failure) => user_page(&c, &user, Some(&Retry::new(f, failure))).await,
    }
}

async fn verify_email(Path(user): Path<String>, Submit { c, f }: Submit) -> Response {
    let verified = f.get("email_verified") == "true";
    match patch_user(&c, &user, json!({"email_verified": verified})).await {
        Ok(u) => c.done(
            &format!("/console/operator/users/{}", seg(&user)),
            &format!(
                "{} is marked {}.",
                s(&u["email"]),
                if verified { "verified" } else { "not verified" }
            ),
        ),
        Err(failure) => user_page(&c, &user, Some(&Retry::new(f, failure))).await,
    }
}

async fn set_superuser(Path(user): Path<String>, Submit { c, f }: Submit) -> Response {
    let here = format!("/console/operator/users/{}", seg(&user));
    let make = f.get("is_superuser") == "true";
    if !f.confirmed() {
        let (title, lines) = if make {
            (
                "Make superuser",
                vec![
                    format!(
                        "{} becomes an operator of this installation.",
                        f.get("email")
                    ),
                    "They can read and change every organization, user and license, and make or remove superusers.".to_owned(),
                ],
            )
        } else {
            (
                "Remove superuser",
                vec![
                    format!(
                        "{} is no longer an operator: the operator pages and the installation's API refuse them.",
                        f.get("email")
                    ),
                    "They keep their own organizations and memberships.".to_owned(),
                ],
            )
        };
        return ui::confirm(
            &c,
            &super::operator::nav("/console/operator/users"),
            title,
            &lines,
            &format!("{here}/superuser"),
            &f,
            &here,
        );
    }
    match patch_user(&c, &user, json!({"is_superuser": make})).await {
        Ok(u) => c.done(
            &here,
            &format!(
                "{} is {}.",
                s(&u["email"]),
                if make {
                    "a superuser"
                } else {
                    "no longer a superuser"
                }
            ),
        ),
        Err(failure) => user_page(&c, &user, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_user(Path(user): Path<String>, Submit { c, f }: Submit) -> Response {
    let here = format!("/console/operator/users/{}", seg(&user));
    if !f.confirmed() {
        return ui::confirm(
            &c,
            &super::operator::nav("/console/operator/users"),
            "Delete user",
            &[
                format!("The account {} is deleted for good.", f.get("email")),
                "Their memberships end and their sessions and tokens stop working at once.".to_owned(),
                "While they are the only owner of an organization, the deletion is refused: transfer it first.".to_owned(),
                "This cannot be undone.".to_owned(),
            ],
            &format!("{here}/delete"),
            &f,
            &here,
        );
    }
    match c.api.delete(&format!("/users/{}", seg(&user))).await {
        Ok(_) => c.done(
            "/console/operator/users",
            &format!("{} was deleted.", f.get("email")),
        ),
        Err(failure) => user_page(&c, &user, Some(&Retry::new(f, failure))).await,
    }
}

// --- licenses ----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct LicenseQuery {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    offset: u64,
}

/// How many organizations the issue form offers in a list; beyond that it asks for an id.
const ORG_CHOICES: usize = 200;

fn license_status(l: &Value) -> Markup {
    let st = s(&l["status"]);
    html! {
        @match st {
            "active" => span.badge.ok { (st) },
            "expired" | "revoked" => span.badge.bad { (st) },
            _ => span.badge { (st) },
        }
        @if l["trial"].as_bool() == Some(true) { " " span.badge { "trial" } }
    }
}

fn deployments_text(l: &Value) -> String {
    match l["max_deployments"].as_i64() {
        Some(max) => format!("{} of {max}", ui::num(&l["deployment_count"])),
        None => format!("{} (no cap)", ui::num(&l["deployment_count"])),
    }
}

fn seats_text(l: &Value) -> String {
    match l["seats"].as_i64() {
        Some(n) => n.to_string(),
        None => "the plan's".to_owned(),
    }
}

async fn licenses(c: Console, Query(q): Query<LicenseQuery>) -> Response {
    licenses_page(&c, &q, None).await
}

async fn licenses_page(c: &Console, q: &LicenseQuery, retry: Option<&Retry>) -> Response {
    let listed = c
        .api
        .list(&ui::paged("/licenses", &[("plan", &q.plan)], q.offset))
        .await;
    let (items, refused) = match listed {
        Ok((items, _)) => (items, None),
        Err(f) if f.status == 400 => (Vec::new(), Some(f)),
        Err(f) => return c.failed(f),
    };
    let plans: Vec<String> = c
        .api
        .list("/plans")
        .await
        .map(|r| r.0)
        .unwrap_or_default()
        .iter()
        .map(|p| s(&p["name"]).to_owned())
        .collect();
    let orgs = c
        .api
        .list(&format!("/organizations?limit={}", ORG_CHOICES + 1))
        .await
        .map(|r| r.0)
        .unwrap_or_default();
    let org_name = |id: &str| -> String {
        orgs.iter()
            .find(|o| s(&o["id"]) == id)
            .map(|o| s(&o["name"]).to_owned())
            .unwrap_or_else(|| id.to_owned())
    };
    let mut org_options = vec![(
        String::new(),
        "None: attach it later with its key".to_owned(),
    )];
    org_options.extend(orgs.iter().map(|o| {
        (
            s(&o["id"]).to_owned(),
            format!("{} ({})", s(&o["name"]), s(&o["slug"])),
        )
    }));
    let plan_options: Vec<(String, String)> =
        plans.iter().map(|p| (p.clone(), p.clone())).collect();
    let f = "issue-license";
    ui::page(
        c,
        ui::status_of(retry),
        "Licenses",
        &super::operator::nav("/console/operator/licenses"),
        html! {
            (operators_only(c))
            form.filters method="get" action="/console/operator/licenses" role="search" {
                div.field {
                    label for="plan" { "Plan" }
                    select #plan name="plan" {
                        option value="" { "Any" }
                        @for p in &plans { option value=(p) selected[*p == q.plan] { (p) } }
                    }
                }
                div.actions { button.secondary type="submit" { "Filter" } }
            }
            @if let Some(f) = &refused { (ui::failure_box(f)) }
            @if items.is_empty() {
                @if refused.is_none() {
                    (ui::empty(if q.plan.is_empty() { "No licenses issued yet. Issue one below." } else { "No license on this plan." }))
                }
            } @else {
                div.table-wrap {
                    table #licenses {
                        thead { tr { th { "Name" } th { "Plan" } th { "Organization" } th { "Seats" } th { "Deployments" } th { "Status" } th { "Expires" } th { "Key" } } }
                        tbody {
                            @for l in &items {
                                tr data-license=(s(&l["id"])) {
                                    td { a href={ "/console/operator/licenses/" (seg(s(&l["id"]))) } { (l["name"].as_str().filter(|n| !n.is_empty()).unwrap_or("(unnamed)")) } }
                                    td { (s(&l["plan"])) }
                                    td {
                                        @if let Some(o) = l["organization_id"].as_str() {
                                            a href={ "/console/orgs/" (seg(o)) } { (org_name(o)) }
                                        } @else { "—" }
                                    }
                                    td { (seats_text(l)) }
                                    td { (deployments_text(l)) }
                                    td { (license_status(l)) }
                                    td { @if l["expires_at"].is_null() { "never" } @else { (when(&l["expires_at"])) } }
                                    td { code { (s(&l["key_hint"])) } }
                                }
                            }
                        }
                    }
                }
            }
            (ui::pager("/console/operator/licenses", &[("plan", &q.plan)], q.offset, PAGE, items.len(), None))
            section #issue-license {
                h2 { "Issue a license" }
                (form_error(retry, f))
                (ui::form(c, "/console/operator/licenses", f, html! {
                    (ui::select(retry, f, "plan", "Plan", &plan_options, "team"))
                    (input(retry, f, "name", "Name", "text", "", false, "A label: the customer, the contract."))
                    @if orgs.len() <= ORG_CHOICES {
                        (ui::select(retry, f, "organization_id", "Organization", &org_options, ""))
                    } @else {
                        (input(retry, f, "organization_id", "Organization id", "text", "", false, "Attach it to this organization at once; leave empty to attach it later with its key."))
                    }
                    (input(retry, f, "seats", "Seats", "number", "", false, "Replaces the plan's member limit; empty keeps the plan's."))
                    (input(retry, f, "max_deployments", "Most deployments", "number", "", false, "How many deployments may register under it; empty for no cap."))
                    (check(retry, f, "trial", "A trial (needs an expiry date)", false))
                    (input(retry, f, "starts_at", "Starts (UTC)", "date", "", false, "Empty: now."))
                    (input(retry, f, "expires_at", "Expires (UTC)", "date", "", false, "Empty: never."))
                    div.actions { button type="submit" { "Issue license" } }
                }))
            }
        },
    )
}

async fn issue_license(Submit { c, f }: Submit) -> Response {
    let body = json!({
        "plan": f.get("plan"),
        "name": f.opt("name"),
        "organization_id": f.opt("organization_id"),
        "seats": int(&f, "seats"),
        "max_deployments": int(&f, "max_deployments"),
        "trial": f.checked("trial"),
        "starts_at": date(&f, "starts_at"),
        "expires_at": date(&f, "expires_at"),
    });
    match c.api.post("/licenses", body).await {
        Ok(l) => ui::secret(
            &c,
            &super::operator::nav("/console/operator/licenses"),
            "License issued",
            &format!(
                "The key of the {} license{}: whoever holds it can attach it to an organization or register deployments under it.",
                s(&l["plan"]),
                l["name"]
                    .as_str()
                    .map(|n| format!(" “{n}”"))
                    .unwrap_or_default()
            ),
            s(&l["key"]),
            &format!("/console/operator/licenses/{}", seg(s(&l["id"]))),
        ),
        Err(failure) => {
            licenses_page(&c, &LicenseQuery::default(), Some(&Retry::new(f, failure))).await
        }
    }
}

async fn license(c: Console, Path(id): Path<String>) -> Response {
    license_page(&c, &id, None).await
}

async fn license_page(c: &Console, id: &str, retry: Option<&Retry>) -> Response {
    let l = or_fail!(c, c.api.get(&format!("/licenses/{}", seg(id))).await);
    let id = s(&l["id"]);
    let here = format!("/console/operator/licenses/{}", seg(id));
    let org = match l["organization_id"].as_str() {
        Some(o) => c.api.get(&format!("/organizations/{}", seg(o))).await.ok(),
        None => None,
    };
    let deployments: Vec<Value> = match &org {
        Some(o) => c
            .api
            .list(&format!(
                "/organizations/{}/deployments?limit=100",
                seg(s(&o["id"]))
            ))
            .await
            .map(|r| r.0)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| s(&d["license_id"]) == id)
            .collect(),
        None => Vec::new(),
    };
    let revoked = s(&l["status"]) == "revoked";
    let name = l["name"].as_str().filter(|n| !n.is_empty());
    let expires = s(&l["expires_at"]).get(..10).unwrap_or("");
    let seats = l["seats"]
        .as_i64()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let max = l["max_deployments"]
        .as_i64()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let features: Vec<&str> = l["features"]
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default();
    let f = "edit-license";
    ui::page(
        c,
        ui::status_of(retry),
        &format!("License {}", name.unwrap_or(s(&l["key_hint"]))),
        &super::operator::nav("/console/operator/licenses"),
        html! {
            (operators_only(c))
            p { a href="/console/operator/licenses" { "← All licenses" } }
            dl.facts {
                dt { "Name" } dd { (name.unwrap_or("—")) }
                dt { "Plan" } dd { (s(&l["plan"])) }
                dt { "Status" } dd { (license_status(&l)) }
                dt { "Key" } dd { code { (s(&l["key_hint"])) } }
                dt { "Seats" } dd { (seats_text(&l)) }
                dt { "Deployments" } dd { (deployments_text(&l)) }
                dt { "Features" } dd { @if features.is_empty() { "the plan's" } @else { (features.join(", ")) } }
                dt { "Starts" } dd { (when(&l["starts_at"])) }
                dt { "Expires" } dd { @if l["expires_at"].is_null() { "never" } @else { (when(&l["expires_at"])) } }
                @if !l["revoked_at"].is_null() { dt { "Revoked" } dd { (when(&l["revoked_at"])) } }
                dt { "Created" } dd { (when(&l["created_at"])) }
                dt { "Updated" } dd { (when(&l["updated_at"])) }
                dt { "Id" } dd { code { (id) } }
            }
            section #usage {
                h2 { "Where it is used" }
                dl.facts {
                    dt { "Organization" }
                    dd {
                        @match (&org, l["organization_id"].as_str()) {
                            (Some(o), _) => { a href={ "/console/orgs/" (seg(s(&o["id"]))) } { (s(&o["name"])) } " (" (s(&o["plan"])) " plan now)" },
                            (None, Some(o)) => { code { (o) } },
                            (None, None) => { "None: not attached to any organization." },
                        }
                    }
                    dt { "Deployments" } dd { (deployments_text(&l)) }
                }
                @if !deployments.is_empty() {
                    div.table-wrap {
                        table #license-deployments {
                            thead { tr { th { "Name" } th { "Host" } th { "Version" } th { "Status" } th { "Last seen" } } }
                            tbody {
                                @for d in &deployments {
                                    tr {
                                        td { (s(&d["name"])) }
                                        td { (s(&d["hostname"])) }
                                        td { (s(&d["version"])) }
                                        td { (s(&d["status"])) }
                                        td { (when(&d["last_seen_at"])) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !revoked {
                section #edit {
                    h2 { "Edit" }
                    (form_error(retry, f))
                    (ui::form(c, &here, f, html! {
                        (input(retry, f, "name", "Name", "text", name.unwrap_or(""), false, ""))
                        (input(retry, f, "seats", "Seats", "number", &seats, false, "Empty: the plan's member limit."))
                        (input(retry, f, "max_deployments", "Most deployments", "number", &max, false, "Empty: no cap."))
                        (input(retry, f, "expires_at", "Expires (UTC)", "date", expires, false, "Empty: never."))
                        div.actions { button type="submit" { "Save license" } }
                    }))
                }
                section.danger-zone {
                    h2 { "Revoke" }
                    (form_error(retry, "revoke-license"))
                    p { "Revoke the license: its organization returns to the free plan at once." }
                    (ui::action_button(c, &format!("{here}/revoke"), "Revoke license…", "danger", &[
                        ("_form", "revoke-license"),
                        ("name", name.unwrap_or(s(&l["key_hint"]))),
                        ("organization", org.as_ref().map(|o| s(&o["name"])).unwrap_or("")),
                        ("deployments", &ui::num(&l["deployment_count"])),
                    ]))
                }
            } @else {
                (form_error(retry, f))
                (form_error(retry, "revoke-license"))
                p.hint { "A revoked license cannot be changed." }
            }
        },
    )
}

async fn update_license(Path(id): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "name": f.opt("name"),
        "seats": int(&f, "seats"),
        "max_deployments": int(&f, "max_deployments"),
        "expires_at": date(&f, "expires_at"),
    });
    match c.api.patch(&format!("/licenses/{}", seg(&id)), body).await {
        Ok(_) => c.done(
            &format!("/console/operator/licenses/{}", seg(&id)),
            "The license was saved; its organization follows at once.",
        ),
        Err(failure) => license_page(&c, &id, Some(&Retry::new(f, failure))).await,
    }
}

async fn revoke_license(Path(id): Path<String>, Submit { c, f }: Submit) -> Response {
    let here = format!("/console/operator/licenses/{}", seg(&id));
    if !f.confirmed() {
        let mut lines = vec![format!(
            "The license “{}” stops counting at once; revoked licenses cannot be changed or restored.",
            f.get("name")
        )];
        if let Some(o) = f.opt("organization") {
            lines.push(format!(
                "{o} is on the free plan right away, with the free plan's limits and features."
            ));
        }
        lines.push(format!(
            "The deployments registered under it ({}) learn it at their next heartbeat.",
            f.get("deployments")
        ));
        return ui::confirm(
            &c,
            &super::operator::nav("/console/operator/licenses"),
            "Revoke license",
            &lines,
            &format!("{here}/revoke"),
            &f,
            &here,
        );
    }
    match c.api.delete(&format!("/licenses/{}", seg(&id))).await {
        Ok(_) => c.done(&here, "The license was revoked."),
        Err(failure) => license_page(&c, &id, Some(&Retry::new(f, failure))).await,
    }
}

// --- health ------------------------------------------------------------------------------------

/// One sample of the metrics text: name, labels, value.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The samples of a Prometheus/OpenMetrics text exposition (comments skipped).
fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if rest.starts_with('{') {
        // key="value" pairs; values may hold braces, commas and escaped quotes.
        let mut chars = rest.char_indices().skip(1).peekable();
        let mut end = None;
        let mut key = String::new();
        while let Some((i, ch)) = chars.next() {
            match ch {
                '}' => {
                    end = Some(i);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    let mut value = String::new();
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return None;
                    }
                    loop {
                        match chars.next()?.1 {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
        rest = &rest[end? + 1..];
    }
    let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

fn sum(samples: &[Sample], name: &str) -> Option<f64> {
    let mut found = false;
    let mut total = 0.0;
    for x in samples.iter().filter(|x| x.name == name) {
        found = true;
        total += x.value;
    }
    found.then_some(total)
}

fn count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

fn seconds(v: f64) -> String {
    if v < 1.0 {
        format!("{:.1} ms", v * 1000.0)
    } else {
        format!("{v:.2} s")
    }
}

/// The mean of a histogram (`_sum` / `_count`), as a row's value.
fn mean(samples: &[Sample], base: &str) -> Option<String> {
    let total = sum(samples, &format!("{base}_sum"))?;
    let n = sum(samples, &format!("{base}_count"))?;
    Some(if n > 0.0 {
        format!("{} mean over {}", seconds(total / n), count(n))
    } else {
        "none yet".to_owned()
    })
}

/// The installation's figures worth a glance, from the metrics that exist: (what, value, source).
fn metric_rows(samples: &[Sample]) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    let requests: Vec<&Sample> = samples
        .iter()
        .filter(|x| x.name == "orgd_http_requests_total")
        .collect();
    if !requests.is_empty() {
        let total: f64 = requests.iter().map(|x| x.value).sum();
        rows.push((
            "Requests".to_owned(),
            count(total),
            "orgd_http_requests_total".to_owned(),
        ));
        for class in ['1', '2', '3', '4', '5'] {
            let n: f64 = requests
                .iter()
                .filter(|x| x.label("status").starts_with(class))
                .map(|x| x.value)
                .sum();
            if n > 0.0 {
                rows.push((
                    format!("Requests answered {class}xx"),
                    format!("{} ({:.1} %)", count(n), 100.0 * n / total),
                    "orgd_http_requests_total{status}".to_owned(),
                ));
            }
        }
    }
    if let Some(m) = mean(samples, "orgd_http_request_duration_seconds") {
        rows.push((
            "Request latency".to_owned(),
            m,
            "orgd_http_request_duration_seconds".to_owned(),
        ));
    }
    let simple = [
        ("Requests in flight", "orgd_http_requests_in_flight"),
        ("Requests refused by rate limits", "orgd_rate_limited_total"),
        ("Failed logins", "orgd_login_failures_total"),
    ];
    for (what, name) in simple {
        if let Some(v) = sum(samples, name) {
            rows.push((what.to_owned(), count(v), name.to_owned()));
        }
    }
    if let (Some(open), Some(idle), Some(max)) = (
        sum(samples, "orgd_db_pool_connections"),
        sum(samples, "orgd_db_pool_idle_connections"),
        sum(samples, "orgd_db_pool_max_connections"),
    ) {
        rows.push((
            "Database pool".to_owned(),
            format!(
                "{} open ({} idle) of {}",
                count(open),
                count(idle),
                count(max)
            ),
            "orgd_db_pool_*connections".to_owned(),
        ));
    }
    if let Some(m) = mean(samples, "orgd_db_write_wait_seconds") {
        rows.push((
            "Database write wait".to_owned(),
            m,
            "orgd_db_write_wait_seconds".to_owned(),
        ));
    }
    let mut caches: Vec<&str> = samples
        .iter()
        .filter(|x| x.name == "orgd_cache_hits_total" || x.name == "orgd_cache_misses_total")
        .map(|x| x.label("name"))
        .collect();
    caches.sort_unstable();
    caches.dedup();
    for cache in caches {
        let of = |name: &str| {
            samples
                .iter()
                .filter(|x| x.name == name && x.label("name") == cache)
                .map(|x| x.value)
                .sum::<f64>()
        };
        let (hits, misses) = (of("orgd_cache_hits_total"), of("orgd_cache_misses_total"));
        let ratio = if hits + misses > 0.0 {
            format!(" ({:.0} % hits)", 100.0 * hits / (hits + misses))
        } else {
            String::new()
        };
        rows.push((
            format!("Cache “{cache}”"),
            format!("{} hits, {} misses{ratio}", count(hits), count(misses)),
            "orgd_cache_hits_total, orgd_cache_misses_total".to_owned(),
        ));
    }
    let mail = [
        ("Emails waiting for a retry", "orgd_mail_deliveries_due"),
        ("Emails sent", "orgd_mail_sent_total"),
        ("Email failures", "orgd_mail_failures_total"),
    ];
    for (what, name) in mail {
        if let Some(v) = sum(samples, name) {
            rows.push((what.to_owned(), count(v), name.to_owned()));
        }
    }
    let attempts: Vec<&Sample> = samples
        .iter()
        .filter(|x| x.name == "orgd_webhook_attempts_total")
        .collect();
    if !attempts.is_empty() {
        let text: Vec<String> = attempts
            .iter()
            .map(|x| format!("{} {}", count(x.value), x.label("name")))
            .collect();
        rows.push((
            "Webhook attempts".to_owned(),
            text.join(", "),
            "orgd_webhook_attempts_total".to_owned(),
        ));
    }
    if let Some(m) = mean(samples, "orgd_webhook_attempt_duration_seconds") {
        rows.push((
            "Webhook attempt latency".to_owned(),
            m,
            "orgd_webhook_attempt_duration_seconds".to_owned(),
        ));
    }
    for x in samples.iter().filter(|x| x.name == "orgd_build_info") {
        rows.push((
            "Version".to_owned(),
            x.label("version").to_owned(),
            "orgd_build_info".to_owned(),
        ));
    }
    rows
}

async fn probe(c: &Console, path: &str) -> Result<String, Failure> {
    c.api
        .call(Method::GET, path, None)
        .await
        .map(|r| s(&r.body["status"]).to_owned())
}

async fn health(c: Console) -> Response {
    if !c.is_superuser() {
        return ui::error_page(
            &c,
            &Failure::new(
                403,
                "forbidden",
                "The installation's health is for its operators (superusers).",
            ),
        );
    }
    let live = probe(&c, "/healthz").await;
    let ready = probe(&c, "/readyz").await;
    let metrics = c.api.text("/metrics").await;
    let rows = match &metrics {
        Ok(text) => metric_rows(&parse_metrics(text)),
        Err(_) => Vec::new(),
    };
    let status = |r: &Result<String, Failure>| -> Markup {
        match r {
            Ok(st) => html! { span.badge.ok { (st) } },
            Err(f) => html! { span.badge.bad { (f.status) } " " (f.message) },
        }
    };
    ui::page(
        &c,
        StatusCode::OK,
        "Health",
        &super::operator::nav("/console/operator/health"),
        html! {
            section #probes {
                dl.facts {
                    dt { "Process (GET /healthz)" } dd #healthz { (status(&live)) }
                    dt { "Database (GET /readyz)" } dd #readyz { (status(&ready)) }
                }
            }
            section #metrics-section {
                h2 { "Metrics" }
                @match &metrics {
                    Err(f) if f.status == 404 => {
                        (ui::empty("Metrics are served on their own address (metrics_listen), not through the API: read them there."))
                    }
                    Err(f) => { (ui::failure_box(f)) }
                    Ok(_) if rows.is_empty() => { (ui::empty("No metrics recorded yet.")) }
                    Ok(_) => {
                        p { "Since this process started; counters restart with it, and each node of a cluster counts its own. Requests include the console's own calls to the API." }
                        div.table-wrap {
                            table #metrics {
                                thead { tr { th { "What" } th { "Value" } th { "Metric" } } }
                                tbody {
                                    @for (what, value, source) in &rows {
                                        tr { td { (what) } td { (value) } td { code { (source) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p { "Every change and refusal in the installation is in the " a href="/console/operator/audit-log" { "installation audit log" } "." }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_are_read_with_their_labels() {
        let x = parse_line(
            r#"orgd_http_requests_total{method="GET",route="/organizations/{org}",status="200"} 3"#,
        )
        .unwrap();
        assert_eq!(x.name, "orgd_http_requests_total");
        assert_eq!(x.label("route"), "/organizations/{org}");
        assert_eq!(x.label("status"), "200");
        assert_eq!(x.value, 3.0);
        let y = parse_line("orgd_db_pool_connections 2").unwrap();
        assert_eq!(
            (y.name.as_str(), y.value),
            ("orgd_db_pool_connections", 2.0)
        );
        let z = parse_line(r#"x_bucket{le="+Inf"} 7"#).unwrap();
        assert_eq!(z.label("le"), "+Inf");
    }

    #[test]
    fn histograms_give_a_mean() {
        let s = parse_metrics("a_sum 0.5\na_count 2\n");
        assert_eq!(mean(&s, "a").as_deref(), Some("250.0 ms mean over 2"));
    }
}
