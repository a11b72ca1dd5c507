//! The console's page frame and shared pieces: navigation, notices, forms that keep what was
//! typed, confirmations, secrets shown once, paging.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::api::{self, Failure};
use super::{Console, FLASH_COOKIE, Fields, cookie};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A form that failed: which form, what the API said, and what was typed (shown again).
pub struct Retry {
    pub form: String,
    pub failure: Failure,
    pub fields: Fields,
}

impl Retry {
    pub fn new(fields: Fields, failure: Failure) -> Self {
        Retry {
            form: fields.get("_form").to_owned(),
            failure,
            fields,
        }
    }
}

/// What was typed into field `name` of form `form`, when that form is being shown again.
pub fn value<'a>(retry: Option<&'a Retry>, form: &str, name: &str) -> &'a str {
    retry
        .filter(|r| r.form == form)
        .map(|r| r.fields.get(name))
        .unwrap_or("")
}

/// The typed value, else `default`.
pub fn value_or<'a>(retry: Option<&'a Retry>, form: &str, name: &str, default: &'a str) -> &'a str {
    match retry.filter(|r| r.form == form) {
        Some(r) => r.fields.get(name),
        None => default,
    }
}

/// The API's explanation of why form `form` failed, where that form is.
pub fn form_error(retry: Option<&Retry>, form: &str) -> Markup {
    match retry.filter(|r| r.form == form) {
        Some(r) => failure_box(&r.failure),
        None => html! {},
    }
}

pub fn failure_box(f: &Failure) -> Markup {
    html! {
        div.notice.error role="alert" {
            p { (f.message) }
            @if !f.details.is_empty() {
                ul { @for (field, msg) in &f.details { li { strong { (field) } ": " (msg) } } }
            }
        }
    }
}

/// The side navigation of a page: a heading and its links, one of them current.
pub struct Nav {
    pub heading: String,
    pub links: Vec<(String, &'static str)>,
    pub active: String,
    /// A warning shown on every page of the section (a suspended organization).
    pub banner: Option<String>,
}

impl Nav {
    /// The signed-in user's own pages.
    pub fn home(c: &Console, active: &str) -> Nav {
        let mut links = vec![
            ("/console".to_owned(), "Organizations"),
            ("/console/account".to_owned(), "Account"),
            ("/console/account/tokens".to_owned(), "Sessions and tokens"),
        ];
        if c.is_superuser() {
            links.push(("/console/operator".to_owned(), "Operator"));
        }
        Nav {
            heading: "You".to_owned(),
            links,
            active: active.to_owned(),
            banner: None,
        }
    }
}

/// A whole page for a signed-in user.
pub fn page(c: &Console, status: StatusCode, title: &str, nav: &Nav, body: Markup) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "orgd" }
                    nav.user aria-label="Account" {
                        a href="/console/account" { (display_name(&c.me)) }
                        @if c.is_superuser() { a href="/console/operator" { "Operator" } }
                        form method="post" action="/console/sign-out" {
                            input type="hidden" name="_csrf" value=(c.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                div.shell {
                    nav.side aria-label=(nav.heading) {
                        p.side-heading { (nav.heading) }
                        ul {
                            @for (href, label) in &nav.links {
                                li {
                                    @if *href == nav.active {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        @if let Some(flash) = &c.flash {
                            div.notice.ok role="status" { (flash) }
                        }
                        @if let Some(banner) = &nav.banner {
                            div.notice.warn #banner { p { (banner) } }
                        }
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
    };
    let mut res = (status, Html(doc.into_string())).into_response();
    if c.flash.is_some() {
        res.headers_mut().append(
            axum::http::header::SET_COOKIE,
            cookie(&c.shared, FLASH_COOKIE, "", Some(0)),
        );
    }
    res
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · orgd" }
            link rel="stylesheet" href={ "/console/assets/console.css?v=" (VERSION) };
            script src={ "/console/assets/console.js?v=" (VERSION) } defer {}
        }
    }
}

/// A page outside a session (sign-in, errors before one).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main #main {
                    p.brand { a href="/console" { "orgd" } }
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    (status, Html(doc.into_string())).into_response()
}

/// A page that sends the browser on to another site (an identity provider). Not a redirect of the
/// form's post: the policy's `form-action 'self'` rightly stops those from leaving orgd.
pub fn onward(title: &str, to: &str) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content={ "0;url=" (to) };
                title { (title) " · orgd" }
                link rel="stylesheet" href={ "/console/assets/console.css?v=" (VERSION) };
            }
            body.bare {
                main #main {
                    h1 { (title) }
                    p { a.button href=(to) { "Continue" } }
                }
            }
        }
    };
    (StatusCode::OK, Html(doc.into_string())).into_response()
}

pub fn bare_page(status: StatusCode, title: &str, message: &str) -> Response {
    bare(
        status,
        title,
        html! { div.notice.error role="alert" { p { (message) } } p { a href="/console" { "Back to the console" } } },
    )
}

/// A failed page load: the API's explanation, in the console's frame.
pub fn error_page(c: &Console, f: &Failure) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = match f.status {
        404 => "Not found",
        403 => "Not allowed",
        429 => "Too many requests",
        _ => "Something went wrong",
    };
    page(
        c,
        status,
        title,
        &Nav::home(c, ""),
        html! { (failure_box(f)) p { a href="/console" { "Back to your organizations" } } },
    )
}

/// A post form with the CSRF token and the form's name.
pub fn form(c: &Console, action: &str, name: &str, body: Markup) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="_csrf" value=(c.csrf);
            input type="hidden" name="_form" value=(name);
            (body)
        }
    }
}

/// A one-button form for an action (destructive ones ask for confirmation first).
pub fn action_button(
    c: &Console,
    action: &str,
    label: &str,
    class: &str,
    hidden: &[(&str, &str)],
) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="_csrf" value=(c.csrf);
            @for (k, v) in hidden { input type="hidden" name=(k) value=(v); }
            button class=(class) type="submit" { (label) }
        }
    }
}

/// The confirmation page of a destructive action: what it does and what follows from it, then
/// the same form again with `_confirmed=yes`.
pub fn confirm(
    c: &Console,
    nav: &Nav,
    title: &str,
    consequences: &[String],
    action: &str,
    fields: &Fields,
    back: &str,
) -> Response {
    page(
        c,
        StatusCode::OK,
        title,
        nav,
        html! {
            div.confirm {
                ul.consequences { @for line in consequences { li { (line) } } }
                form method="post" action=(action) {
                    @for (k, v) in &fields.0 {
                        @if k != "_confirmed" { input type="hidden" name=(k) value=(v); }
                    }
                    input type="hidden" name="_confirmed" value="yes";
                    div.actions {
                        button.danger type="submit" autofocus { (title) }
                        a.button.secondary href=(back) { "Cancel" }
                    }
                }
            }
        },
    )
}

/// A secret shown once, with a copy button.
pub fn secret(
    c: &Console,
    nav: &Nav,
    title: &str,
    label: &str,
    secret: &str,
    back: &str,
) -> Response {
    page(
        c,
        StatusCode::OK,
        title,
        nav,
        html! {
            div.notice.warn role="status" {
                p { (label) " It is shown only now: copy it and keep it somewhere safe." }
            }
            div.secret {
                code #secret { (secret) }
                button type="submit" data-copy="#secret" { "Copy" }
            }
            p { a.button href=(back) { "Done" } }
        },
    )
}

/// The items of one page of every console list.
pub const PAGE: u64 = 50;

/// `path` with `params` (empty ones left out) and the page of [`PAGE`] items at `offset` as its
/// query.
pub fn paged(path: &str, params: &[(&str, &str)], offset: u64) -> String {
    let (limit, offset) = (PAGE.to_string(), offset.to_string());
    let mut all = params.to_vec();
    all.extend([("limit", limit.as_str()), ("offset", offset.as_str())]);
    format!("{path}{}", api::query(&all))
}

/// Previous/next links of an offset-paged list.
pub fn pager(
    path: &str,
    params: &[(&str, &str)],
    offset: u64,
    limit: u64,
    shown: usize,
    total: Option<u64>,
) -> Markup {
    let at = |o: u64| {
        let o = o.to_string();
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("offset", &o));
        format!("{path}{}", api::query(&p))
    };
    let has_next = match total {
        Some(t) => offset + (shown as u64) < t,
        None => shown as u64 >= limit,
    };
    html! {
        nav.pager aria-label="Pages" {
            @if offset > 0 { a href=(at(offset.saturating_sub(limit))) rel="prev" { "← Previous" } }
            span {
                @if shown == 0 { "Nothing here" }
                @else { "Showing " (offset + 1) "–" (offset + shown as u64) @if let Some(t) = total { " of " (t) } }
            }
            @if has_next { a href=(at(offset + limit)) rel="next" { "Next →" } }
        }
    }
}

/// An empty list's explanation.
pub fn empty(text: &str) -> Markup {
    html! { p.empty { (text) } }
}

pub fn display_name(user: &Value) -> String {
    user["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or(user["username"].as_str())
        .or(user["email"].as_str())
        .unwrap_or("you")
        .to_owned()
}

/// A JSON string, or "".
pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A timestamp as `2026-11-24 05:40 UTC`; "—" without one.
pub fn when(v: &Value) -> String {
    match v.as_str() {
        Some(t) if t.len() >= 16 => format!("{} UTC", t[..16].replace('T', " ")),
        Some(t) => t.to_owned(),
        None => "—".to_owned(),
    }
}

/// A number from JSON, as text; "—" for null.
pub fn num(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// A labelled text input that keeps what was typed.
#[allow(clippy::too_many_arguments)]
pub fn input(
    retry: Option<&Retry>,
    form: &str,
    name: &str,
    label: &str,
    kind: &str,
    default: &str,
    required: bool,
    hint: &str,
) -> Markup {
    let id = format!("{form}-{name}");
    let v = value_or(retry, form, name, default);
    html! {
        div.field {
            label for=(id) { (label) }
            @if kind == "password" {
                input id=(id) name=(name) type="password" required[required] autocomplete="current-password";
            } @else {
                input id=(id) name=(name) type=(kind) value=(v) required[required];
            }
            @if !hint.is_empty() { small { (hint) } }
        }
    }
}

/// A `<select>` that keeps what was chosen.
pub fn select(
    retry: Option<&Retry>,
    form: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    default: &str,
) -> Markup {
    let id = format!("{form}-{name}");
    let chosen = value_or(retry, form, name, default);
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                @for (v, text) in options {
                    option value=(v) selected[v == chosen] { (text) }
                }
            }
        }
    }
}

/// Role choices: the organization's roles (built in and custom), owner only for those who may
/// grant it.
pub fn role_options(roles: &[Value], with_owner: bool) -> Vec<(String, String)> {
    roles
        .iter()
        .filter(|r| with_owner || s(&r["key"]) != "owner")
        .map(|r| (s(&r["key"]).to_owned(), s(&r["name"]).to_owned()))
        .collect()
}

/// A labelled text area that keeps what was typed.
pub fn textarea(
    retry: Option<&Retry>,
    form: &str,
    name: &str,
    label: &str,
    default: &str,
) -> Markup {
    let id = format!("{form}-{name}");
    html! {
        div.field {
            label for=(id) { (label) }
            textarea id=(id) name=(name) rows="3" { (value_or(retry, form, name, default)) }
        }
    }
}

/// The API's refusal of a form that this page does not show (the caller may not use it, or it
/// went away), at the top of the page: never lost.
pub fn stray_error(retry: Option<&Retry>, shown: &[&str]) -> Markup {
    match retry.filter(|r| !shown.contains(&r.form.as_str())) {
        Some(r) => failure_box(&r.failure),
        None => html! {},
    }
}

/// The status of a page shown again after a failed form: the API's.
pub fn status_of(retry: Option<&Retry>) -> StatusCode {
    retry.map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.failure.status).unwrap_or(StatusCode::BAD_REQUEST)
    })
}

/// A date input's `YYYY-MM-DD` as the RFC 3339 start of that day (UTC); other text unchanged.
pub fn day_start(d: &str) -> String {
    if d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-' {
        format!("{d}T00:00:00Z")
    } else {
        d.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_its_filters_and_drops_empty_ones() {
        assert_eq!(
            paged("/users", &[("q", "ann"), ("role", "")], 100),
            "/users?q=ann&limit=50&offset=100"
        );
        assert_eq!(paged("/x", &[], 0), "/x?limit=50&offset=0");
    }
}
