//! What happened and who hears about it: an organization's audit log and webhooks (with their
//! deliveries), and the installation's audit log for operators.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{query, seg};
use super::org::OrgCtx;
use super::ui::{self, Retry, form_error, input, s, when};
use super::{Console, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/orgs/{org}/audit-log", get(org_audit))
        .route("/operator/audit-log", get(operator_audit))
        .route("/orgs/{org}/webhooks", get(webhooks).post(create_webhook))
        .route(
            "/orgs/{org}/webhooks/{id}",
            get(webhook).post(update_webhook),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/orgs/{org}/webhooks/{id}/ping", post(ping))
        .route("/orgs/{org}/webhooks/{id}/delete", post(delete_webhook))
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries/{delivery}",
            get(delivery),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries/{delivery}/retry",
            post(retry_delivery),
        )
}

/// The event catalogue (`GET /webhooks/event-types`): what webhooks subscribe to, and the audit
/// log's actions of changes.
async fn event_types(c: &Console) -> Vec<String> {
    c.api
        .get("/webhooks/event-types")
        .await
        .ok()
        .and_then(|v| {
            v["event_types"].as_array().map(|ts| {
                ts.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// A JSON value in a few words.
fn short(v: &Value) -> String {
    let text = match v {
        Value::Null => return "none".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}…")
    } else {
        text
    }
}

// --- audit log ---------------------------------------------------------------------------------

const AUDIT_PAGE: u64 = 50;

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor_id: String,
    #[serde(default)]
    target_type: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    after: String,
}

enum Scope {
    Org(OrgCtx),
    Installation,
}

async fn org_audit(c: Console, Path(org): Path<String>, Query(q): Query<AuditQuery>) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    audit_page(&c, &Scope::Org(ctx), &q).await
}

async fn operator_audit(c: Console, Query(q): Query<AuditQuery>) -> Response {
    audit_page(&c, &Scope::Installation, &q).await
}

async fn audit_page(c: &Console, scope: &Scope, q: &AuditQuery) -> Response {
    let (api_path, path, nav, title) = match scope {
        Scope::Org(ctx) => (
            format!("{}/audit-log", ctx.api()),
            format!("{}/audit-log", ctx.base()),
            ctx.nav("/audit-log"),
            "Audit log",
        ),
        Scope::Installation => (
            "/audit-log".to_owned(),
            "/console/operator/audit-log".to_owned(),
            super::operator::nav("/console/operator/audit-log"),
            "Installation audit log",
        ),
    };
    let since = ui::day_start(&q.since);
    let until = ui::day_start(&q.until);
    let limit = AUDIT_PAGE.to_string();
    let listed = c
        .api
        .list(&format!(
            "{api_path}{}",
            query(&[
                ("action", &q.action),
                ("actor_id", &q.actor_id),
                ("target_type", &q.target_type),
                ("since", &since),
                ("until", &until),
                ("after", &q.after),
                ("limit", &limit),
            ])
        ))
        .await;
    // A filter the API refuses (a malformed actor id) is shown next to the filters; anything
    // else (not allowed, not found) is the page's answer.
    let (items, next, refused) = match listed {
        Ok((items, next)) => (items, next, None),
        Err(f) if f.status == 400 => (Vec::new(), None, Some(f)),
        Err(f) => return c.failed(f),
    };
    let next_after = next.as_deref().and_then(|n| {
        url::form_urlencoded::parse(n.as_bytes())
            .find(|(k, _)| k == "after")
            .map(|(_, v)| v.into_owned())
    });
    let names = actor_names(c, scope, &items).await;
    let mut actions = vec![(String::new(), "Any action".to_owned())];
    actions.extend(event_types(c).await.into_iter().map(|t| (t.clone(), t)));
    if !q.action.is_empty() && !actions.iter().any(|(k, _)| *k == q.action) {
        actions.push((q.action.clone(), q.action.clone()));
    }
    let filters: [(&str, &str); 5] = [
        ("action", &q.action),
        ("actor_id", &q.actor_id),
        ("target_type", &q.target_type),
        ("since", &q.since),
        ("until", &q.until),
    ];
    let filtered = filters.iter().any(|(_, v)| !v.is_empty());
    let first = format!("{path}{}", query(&filters));
    let next_href = next_after.map(|a| {
        let mut p = filters.to_vec();
        p.push(("after", &a));
        format!("{path}{}", query(&p))
    });
    let status = refused
        .as_ref()
        .and_then(|f| axum::http::StatusCode::from_u16(f.status).ok())
        .unwrap_or(axum::http::StatusCode::OK);
    ui::page(
        c,
        status,
        title,
        &nav,
        html! {
            @if let Scope::Installation = scope {
                @if !c.is_superuser() {
                    div.notice.warn { p { "This page is for the installation's operators; the API refuses it to anyone else." } }
                }
                p { "Every change and refusal in the installation, newest first. An organization's own log is on its Audit log page." }
            } @else {
                p { "Every change made in this organization, and every refused attempt, newest first." }
            }
            form.filters method="get" action=(path) role="search" {
                div.field {
                    label for="action" { "Action" }
                    select #action name="action" {
                        @for (v, t) in &actions { option value=(v) selected[*v == q.action] { (t) } }
                    }
                }
                div.field {
                    label for="actor_id" { "Actor id" }
                    input #actor_id name="actor_id" type="text" value=(q.actor_id) placeholder="A user's or service account's id";
                }
                div.field {
                    label for="target_type" { "Target type" }
                    input #target_type name="target_type" type="text" value=(q.target_type) placeholder="user, project, token…";
                }
                div.field {
                    label for="since" { "From (UTC)" }
                    input #since name="since" type="date" value=(q.since);
                }
                div.field {
                    label for="until" { "Before (UTC)" }
                    input #until name="until" type="date" value=(q.until);
                }
                div.actions {
                    button.secondary type="submit" { "Filter" }
                    @if filtered { a href=(path) { "Clear filters" } }
                }
            }
            @if let Some(f) = &refused { (ui::failure_box(f)) }
            @if items.is_empty() {
                @if refused.is_none() {
                    (ui::empty(if filtered || !q.after.is_empty() { "No entry matches these filters." } else { "Nothing has happened yet: changes and refused attempts appear here as they are made." }))
                }
            } @else {
                div.table-wrap {
                    table #audit-log {
                        thead { tr { th { "Time" } th { "Actor" } th { "Action" } th { "Target" } th { "Changes" } th { "Request id" } } }
                        tbody {
                            @for e in &items {
                                (audit_row(e, &names, &path, &filters, matches!(scope, Scope::Installation)))
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if !q.after.is_empty() { a href=(first) rel="first" { "← First page" } }
                span { @if items.is_empty() { "Nothing here" } @else { (items.len()) " entries" } }
                @if let Some(href) = &next_href { a href=(href) rel="next" { "Next →" } }
            }
        },
    )
}

fn audit_row(
    e: &Value,
    names: &HashMap<String, String>,
    path: &str,
    filters: &[(&str, &str)],
    with_org: bool,
) -> Markup {
    let actor = &e["actor"];
    let actor_id = s(&actor["id"]);
    let kind = match s(&actor["type"]) {
        "service_account" => "service account",
        "superuser" => "operator",
        "system" => "orgd",
        "user" => "user",
        other => other,
    };
    let by_actor = {
        let mut p: Vec<(&str, &str)> = filters
            .iter()
            .filter(|(k, _)| *k != "actor_id")
            .copied()
            .collect();
        p.push(("actor_id", actor_id));
        format!("{path}{}", query(&p))
    };
    html! {
        tr data-entry=(s(&e["id"])) {
            td { (when(&e["created_at"])) }
            td {
                @if actor_id.is_empty() {
                    (kind)
                } @else {
                    a href=(by_actor) title="Only this actor's entries" {
                        (names.get(actor_id).map(String::as_str).unwrap_or(actor_id))
                    }
                    br; small { (kind) }
                }
            }
            td {
                code { (s(&e["action"])) }
                @if s(&e["outcome"]) == "refused" { " " span.badge.bad { "refused" } }
            }
            td {
                @if e["target"].is_object() {
                    (s(&e["target"]["type"])) br; small { code { (s(&e["target"]["id"])) } }
                } @else { "—" }
                @if with_org && let Some(o) = e["organization_id"].as_str() {
                    br; small { "in " a href={ "/console/orgs/" (seg(o)) } { (names.get(&format!("org:{o}")).map(String::as_str).unwrap_or("an organization")) } }
                }
            }
            td { (changes(&e["changes"])) }
            td { @if let Some(r) = e["request_id"].as_str() { code { (r) } } @else { "—" } }
        }
    }
}

/// `{field: {from, to}}` as one line per field.
fn changes(v: &Value) -> Markup {
    match v.as_object() {
        Some(m) if !m.is_empty() => html! {
            ul.changes {
                @for (field, ch) in m {
                    li {
                        code { (field) } ": "
                        @if ch.get("from").is_some() || ch.get("to").is_some() {
                            (short(&ch["from"])) " → " (short(&ch["to"]))
                        } @else {
                            (short(ch))
                        }
                    }
                }
            }
        },
        _ => html! { "—" },
    }
}

/// Who the actors of a page are: an organization's members by id, or (for operators) each
/// actor's account.
async fn actor_names(c: &Console, scope: &Scope, items: &[Value]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let ids: Vec<&str> = {
        let mut ids: Vec<&str> = items
            .iter()
            .filter_map(|e| e["actor"]["id"].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    if let Scope::Org(ctx) = scope
        && ctx.can("members:read")
        && let Ok((members, _)) = c
            .api
            .list(&format!("{}/members?limit=1000", ctx.api()))
            .await
    {
        for m in &members {
            names.insert(s(&m["user_id"]).to_owned(), label_of(m));
        }
    }
    if let Scope::Installation = scope {
        let mut orgs: Vec<&str> = items
            .iter()
            .filter_map(|e| e["organization_id"].as_str())
            .collect();
        orgs.sort_unstable();
        orgs.dedup();
        for o in orgs {
            if let Ok(org) = c.api.get(&format!("/organizations/{}", seg(o))).await {
                names.insert(format!("org:{o}"), s(&org["name"]).to_owned());
            }
        }
    }
    if c.is_superuser() {
        for id in ids {
            if names.contains_key(id) {
                continue;
            }
            if let Ok(u) = c.api.get(&format!("/users/{}", seg(id))).await {
                names.insert(id.to_owned(), label_of(&u));
            }
        }
    }
    names
}

fn label_of(user: &Value) -> String {
    let name = ui::display_name(user);
    match user["email"].as_str() {
        Some(e) if e != name => format!("{name} ({e})"),
        _ => name,
    }
}

// --- webhooks ----------------------------------------------------------------------------------

use super::ui::PAGE;

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    offset: u64,
}

fn events_text(w: &Value) -> String {
    let types: Vec<&str> = w["event_types"]
        .as_array()
        .map(|ts| ts.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    if types.contains(&"*") {
        "All events".to_owned()
    } else {
        types.join(", ")
    }
}

fn state_badge(w: &Value) -> Markup {
    html! {
        @if w["enabled"].as_bool() == Some(true) {
            span.badge.ok { "enabled" }
        } @else {
            span.badge.bad { "disabled" }
            @if let Some(r) = w["disabled_reason"].as_str() { br; small { (r) } }
        }
    }
}

/// The event-type check boxes of a webhook form: every type, and `*` for all of them.
fn event_checks(retry: Option<&Retry>, form: &str, types: &[String], current: &[&str]) -> Markup {
    let chosen: Vec<String> = match retry.filter(|r| r.form == form) {
        Some(r) => r
            .fields
            .all("event_types")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        None => current.iter().map(|t| (*t).to_owned()).collect(),
    };
    let on = |t: &str| chosen.iter().any(|c| c == t);
    html! {
        fieldset.events {
            legend { "Events" }
            div.checks {
                label for={ (form) "-ev-all" } {
                    input id={ (form) "-ev-all" } type="checkbox" name="event_types" value="*" checked[on("*")];
                    "All events (*), also those added later"
                }
                @for t in types {
                    label for={ (form) "-ev-" (t) } {
                        input id={ (form) "-ev-" (t) } type="checkbox" name="event_types" value=(t) checked[on(t)];
                        code { (t) }
                    }
                }
            }
        }
    }
}

fn enabled_check(retry: Option<&Retry>, form: &str, current: bool) -> Markup {
    let on = match retry.filter(|r| r.form == form) {
        Some(r) => r.fields.checked("enabled"),
        None => current,
    };
    html! {
        div.field.check {
            input id={ (form) "-enabled" } name="enabled" type="checkbox" checked[on];
            label for={ (form) "-enabled" } { "Enabled: send it new events" }
        }
    }
}

async fn webhooks(c: Console, Path(org): Path<String>, Query(q): Query<PageQuery>) -> Response {
    webhooks_page(&c, &org, q.offset, None).await
}

async fn webhooks_page(c: &Console, org: &str, offset: u64, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let (items, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged(&format!("{}/webhooks", ctx.api()), &[], offset))
            .await
    );
    let b = ctx.base();
    let can_write = ctx.can("organization:update");
    let types = if can_write {
        event_types(c).await
    } else {
        Vec::new()
    };
    ui::page(
        c,
        ui::status_of(retry),
        "Webhooks",
        &ctx.nav("/webhooks"),
        html! {
            p { "Webhooks POST this organization's events to your endpoints, signed with the endpoint's secret (Standard Webhooks)." }
            @if items.is_empty() {
                (ui::empty("No webhooks. Add an endpoint below to receive this organization's events."))
            } @else {
                div.table-wrap {
                    table #webhooks {
                        thead { tr { th { "URL" } th { "Events" } th { "State" } th { "Last success" } th { "Created" } } }
                        tbody {
                            @for w in &items {
                                tr data-webhook=(s(&w["id"])) {
                                    td {
                                        a href={ (b) "/webhooks/" (seg(s(&w["id"]))) } { (s(&w["url"])) }
                                        @if let Some(d) = w["description"].as_str() { br; small { (d) } }
                                    }
                                    td { (events_text(w)) }
                                    td { (state_badge(w)) }
                                    td { (when(&w["last_success_at"])) }
                                    td { (when(&w["created_at"])) }
                                }
                            }
                        }
                    }
                }
            }
            (ui::pager(&format!("{b}/webhooks"), &[], offset, PAGE, items.len(), None))
            @if can_write {
                section #create-webhook {
                    h2 { "Add a webhook" }
                    (form_error(retry, "create-webhook"))
                    (ui::form(c, &format!("{b}/webhooks"), "create-webhook", html! {
                        (input(retry, "create-webhook", "url", "Endpoint URL", "url", "", true, "Where events are POSTed: https://…"))
                        (input(retry, "create-webhook", "description", "Description", "text", "", false, "Optional: what receives them."))
                        (event_checks(retry, "create-webhook", &types, &[]))
                        (enabled_check(retry, "create-webhook", true))
                        div.actions { button type="submit" { "Add webhook" } }
                    }))
                }
            }
        },
    )
}

async fn create_webhook(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "url": f.get("url"),
        "description": f.opt("description"),
        "event_types": f.all("event_types"),
        "enabled": f.checked("enabled"),
    });
    match c
        .api
        .post(&format!("/organizations/{}/webhooks", seg(&org)), body)
        .await
    {
        Ok(w) => {
            let ctx = ctx_or_return!(&c, &org);
            ui::secret(
                &c,
                &ctx.nav("/webhooks"),
                "Webhook added",
                &format!(
                    "The signing secret of the webhook to {}: your endpoint verifies every delivery with it.",
                    s(&w["url"])
                ),
                s(&w["secret"]),
                &format!("{}/webhooks/{}", ctx.base(), seg(s(&w["id"]))),
            )
        }
        Err(failure) => webhooks_page(&c, &org, 0, Some(&Retry::new(f, failure))).await,
    }
}

async fn webhook(
    c: Console,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    webhook_page(&c, &org, &id, &q, None).await
}

async fn webhook_page(
    c: &Console,
    org: &str,
    id: &str,
    q: &PageQuery,
    retry: Option<&Retry>,
) -> Response {
    let ctx = ctx_or_return!(c, org);
    let api = format!("{}/webhooks/{}", ctx.api(), seg(id));
    let w = or_fail!(c, c.api.get(&api).await);
    let listed = c
        .api
        .list(&ui::paged(
            &format!("{api}/deliveries"),
            &[("status", &q.status)],
            q.offset,
        ))
        .await;
    let (deliveries, refused) = match listed {
        Ok((items, _)) => (items, None),
        Err(f) if f.status == 400 => (Vec::new(), Some(f)),
        Err(f) => return c.failed(f),
    };
    let can_write = ctx.can("organization:update");
    let types = if can_write {
        event_types(c).await
    } else {
        Vec::new()
    };
    let current: Vec<&str> = w["event_types"]
        .as_array()
        .map(|ts| ts.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    let here = format!("{}/webhooks/{}", ctx.base(), seg(s(&w["id"])));
    let url = s(&w["url"]);
    ui::page(
        c,
        ui::status_of(retry),
        &format!("Webhook to {url}"),
        &ctx.nav("/webhooks"),
        html! {
            p { a href={ (ctx.base()) "/webhooks" } { "← All webhooks" } }
            dl.facts {
                dt { "URL" } dd { code { (url) } }
                dt { "Description" } dd { (w["description"].as_str().unwrap_or("—")) }
                dt { "Events" } dd { (events_text(&w)) }
                dt { "State" } dd { (state_badge(&w)) }
                dt { "Last success" } dd { (when(&w["last_success_at"])) }
                @if !w["previous_secret_expires_at"].is_null() {
                    dt { "Previous secret" } dd { "Still verifies until " (when(&w["previous_secret_expires_at"])) }
                }
                dt { "Created" } dd { (when(&w["created_at"])) }
                dt { "Updated" } dd { (when(&w["updated_at"])) }
                dt { "Id" } dd { code { (s(&w["id"])) } }
            }
            @if can_write {
                section #actions {
                    h2 { "Test and secret" }
                    (form_error(retry, "ping"))
                    (form_error(retry, "rotate-secret"))
                    div.actions {
                        (ui::action_button(c, &format!("{here}/ping"), "Send test event", "secondary", &[("_form", "ping")]))
                        (ui::action_button(c, &format!("{here}/rotate-secret"), "Rotate secret…", "secondary", &[("_form", "rotate-secret"), ("url", url)]))
                    }
                    p.hint { "The test event is a " code { "webhook.ping" } "; follow it in the deliveries below." }
                }
                section #edit {
                    h2 { "Edit" }
                    (form_error(retry, "edit-webhook"))
                    (ui::form(c, &here, "edit-webhook", html! {
                        (input(retry, "edit-webhook", "url", "Endpoint URL", "url", url, true, ""))
                        (input(retry, "edit-webhook", "description", "Description", "text", s(&w["description"]), false, ""))
                        (event_checks(retry, "edit-webhook", &types, &current))
                        (enabled_check(retry, "edit-webhook", w["enabled"].as_bool() == Some(true)))
                        div.actions { button type="submit" { "Save webhook" } }
                    }))
                }
            }
            section #deliveries-section {
                h2 { "Deliveries" }
                form.filters method="get" action=(here) role="search" {
                    div.field {
                        label for="status" { "Status" }
                        select #status name="status" {
                            @for (v, t) in [("", "Any"), ("pending", "Pending"), ("succeeded", "Succeeded"), ("failed", "Failed")] {
                                option value=(v) selected[v == q.status] { (t) }
                            }
                        }
                    }
                    div.actions { button.secondary type="submit" { "Filter" } }
                }
                @if let Some(f) = &refused { (ui::failure_box(f)) }
                @if deliveries.is_empty() {
                    @if refused.is_none() {
                        (ui::empty(if q.status.is_empty() { "No deliveries yet: each event this webhook subscribes to is delivered and listed here. Send a test event to try it." } else { "No delivery in this state." }))
                    }
                } @else {
                    div.table-wrap {
                        table #deliveries {
                            thead { tr { th { "Event" } th { "Status" } th { "Attempts" } th { "Response" } th { "Latency" } th { "Error" } th { "Next attempt" } th { "Created" } } }
                            tbody {
                                @for d in &deliveries {
                                    tr data-delivery=(s(&d["id"])) {
                                        td { a href={ (here) "/deliveries/" (seg(s(&d["id"]))) } { code { (s(&d["event_type"])) } } }
                                        td { (delivery_badge(d)) }
                                        td { (ui::num(&d["attempts"])) }
                                        td { (ui::num(&d["response_code"])) }
                                        td { @if let Some(ms) = d["latency_ms"].as_i64() { (ms) " ms" } @else { "—" } }
                                        td { @if let Some(e) = d["error"].as_str() { small { (e) } } @else { "—" } }
                                        td { (when(&d["next_attempt_at"])) }
                                        td { (when(&d["created_at"])) }
                                    }
                                }
                            }
                        }
                    }
                }
                (ui::pager(&here, &[("status", &q.status)], q.offset, PAGE, deliveries.len(), None))
            }
            @if can_write {
                section.danger-zone {
                    h2 { "Delete" }
                    (form_error(retry, "delete-webhook"))
                    p { "Delete this webhook with its delivery history." }
                    (ui::action_button(c, &format!("{here}/delete"), "Delete webhook…", "danger", &[("_form", "delete-webhook"), ("url", url)]))
                }
            }
        },
    )
}

fn delivery_badge(d: &Value) -> Markup {
    let status = s(&d["status"]);
    html! {
        @match status {
            "succeeded" => span.badge.ok { (status) },
            "failed" => span.badge.bad { (status) },
            _ => span.badge { (status) },
        }
    }
}

async fn update_webhook(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let body = json!({
        "url": f.get("url"),
        "description": f.opt("description"),
        "event_types": f.all("event_types"),
        "enabled": f.checked("enabled"),
    });
    match c
        .api
        .patch(
            &format!("/organizations/{}/webhooks/{}", seg(&org), seg(&id)),
            body,
        )
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/webhooks/{}", seg(&org), seg(&id)),
            "The webhook was saved.",
        ),
        Err(failure) => {
            webhook_page(
                &c,
                &org,
                &id,
                &PageQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn rotate_secret(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let here = format!("/console/orgs/{}/webhooks/{}", seg(&org), seg(&id));
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        return ui::confirm(
            &c,
            &ctx.nav("/webhooks"),
            "Rotate secret",
            &[
                format!(
                    "The webhook to {} gets a new signing secret, shown once on the next page.",
                    f.get("url")
                ),
                "The old secret keeps verifying for 24 hours: every delivery is signed with both, so your endpoint can switch without losing an event.".to_owned(),
                "After 24 hours only the new secret verifies: an endpoint still checking the old one rejects every delivery.".to_owned(),
            ],
            &format!("{here}/rotate-secret"),
            &f,
            &here,
        );
    }
    match c
        .api
        .post(
            &format!(
                "/organizations/{}/webhooks/{}/rotate-secret",
                seg(&org),
                seg(&id)
            ),
            json!({}),
        )
        .await
    {
        Ok(w) => {
            let ctx = ctx_or_return!(&c, &org);
            ui::secret(
                &c,
                &ctx.nav("/webhooks"),
                "New signing secret",
                &format!(
                    "The new signing secret of the webhook to {}. The old one keeps verifying until {}.",
                    s(&w["url"]),
                    when(&w["previous_secret_expires_at"])
                ),
                s(&w["secret"]),
                &here,
            )
        }
        Err(failure) => {
            webhook_page(
                &c,
                &org,
                &id,
                &PageQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn ping(Path((org, id)): Path<(String, String)>, Submit { c, f }: Submit) -> Response {
    match c
        .api
        .post(
            &format!("/organizations/{}/webhooks/{}/ping", seg(&org), seg(&id)),
            json!({}),
        )
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/webhooks/{}", seg(&org), seg(&id)),
            "A test event was sent: follow it in the deliveries.",
        ),
        Err(failure) => {
            webhook_page(
                &c,
                &org,
                &id,
                &PageQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn delete_webhook(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let here = format!("/console/orgs/{}/webhooks/{}", seg(&org), seg(&id));
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        return ui::confirm(
            &c,
            &ctx.nav("/webhooks"),
            "Delete webhook",
            &[
                format!(
                    "{} gets no more events from {}.",
                    f.get("url"),
                    ctx.name()
                ),
                "Its delivery history is deleted, and pending deliveries are never sent.".to_owned(),
                "This cannot be undone: to receive events again, add a new webhook (with a new secret).".to_owned(),
            ],
            &format!("{here}/delete"),
            &f,
            &here,
        );
    }
    match c
        .api
        .delete(&format!(
            "/organizations/{}/webhooks/{}",
            seg(&org),
            seg(&id)
        ))
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/webhooks", seg(&org)),
            "The webhook was deleted.",
        ),
        Err(failure) => {
            webhook_page(
                &c,
                &org,
                &id,
                &PageQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn delivery(
    c: Console,
    Path((org, id, delivery)): Path<(String, String, String)>,
) -> Response {
    delivery_page(&c, &org, &id, &delivery, None).await
}

async fn delivery_page(
    c: &Console,
    org: &str,
    id: &str,
    delivery: &str,
    retry: Option<&Retry>,
) -> Response {
    let ctx = ctx_or_return!(c, org);
    let d = or_fail!(
        c,
        c.api
            .get(&format!(
                "{}/webhooks/{}/deliveries/{}",
                ctx.api(),
                seg(id),
                seg(delivery)
            ))
            .await
    );
    let hook = format!("{}/webhooks/{}", ctx.base(), seg(id));
    let here = format!("{hook}/deliveries/{}", seg(s(&d["id"])));
    let payload = serde_json::to_string_pretty(&d["payload"]).unwrap_or_default();
    ui::page(
        c,
        ui::status_of(retry),
        &format!("Delivery of {}", s(&d["event_type"])),
        &ctx.nav("/webhooks"),
        html! {
            p { a href=(hook) { "← The webhook and its deliveries" } }
            (form_error(retry, "retry"))
            dl.facts {
                dt { "Event" } dd { code { (s(&d["event_type"])) } }
                dt { "Event id" } dd { code { (s(&d["event_id"])) } }
                dt { "Status" } dd { (delivery_badge(&d)) }
                dt { "Attempts" } dd { (ui::num(&d["attempts"])) }
                dt { "Response code" } dd { (ui::num(&d["response_code"])) }
                dt { "Latency" } dd { @if let Some(ms) = d["latency_ms"].as_i64() { (ms) " ms" } @else { "—" } }
                dt { "Error" } dd { (d["error"].as_str().unwrap_or("—")) }
                dt { "Next attempt" } dd { (when(&d["next_attempt_at"])) }
                dt { "Created" } dd { (when(&d["created_at"])) }
                dt { "Updated" } dd { (when(&d["updated_at"])) }
            }
            @if s(&d["status"]) == "failed" && ctx.can("organization:update") {
                div.actions {
                    (ui::action_button(c, &format!("{here}/retry"), "Retry", "", &[("_form", "retry")]))
                }
                p.hint { "Attempts the delivery once more, now, with the same event id." }
            }
            h2 { "Payload" }
            pre #payload { code { (payload) } }
        },
    )
}

async fn retry_delivery(
    Path((org, id, delivery)): Path<(String, String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    match c
        .api
        .post(
            &format!(
                "/organizations/{}/webhooks/{}/deliveries/{}/retry",
                seg(&org),
                seg(&id),
                seg(&delivery)
            ),
            json!({}),
        )
        .await
    {
        Ok(_) => c.done(
            &format!(
                "/console/orgs/{}/webhooks/{}/deliveries/{}",
                seg(&org),
                seg(&id),
                seg(&delivery)
            ),
            "The delivery is being attempted again.",
        ),
        Err(failure) => {
            delivery_page(&c, &org, &id, &delivery, Some(&Retry::new(f, failure))).await
        }
    }
}
