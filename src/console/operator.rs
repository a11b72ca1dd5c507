//! The operator's pages (superusers): every organization, with suspension, bans and verification.

use axum::Router;
use axum::extract::Query;
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::api::seg;
use super::ui::{self, Nav, Retry, form_error, s, when};
use super::{Console, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/operator", get(organizations))
        .route("/operator/organizations/status", post(set_status))
        .route("/operator/organizations/verify", post(verify))
}

/// The operator's sections.
pub fn nav(active: &str) -> Nav {
    Nav {
        heading: "Operator".to_owned(),
        links: vec![
            ("/console/operator".to_owned(), "Organizations"),
            ("/console/operator/users".to_owned(), "Users"),
            ("/console/operator/licenses".to_owned(), "Licenses"),
            ("/console/operator/health".to_owned(), "Health"),
            ("/console/operator/audit-log".to_owned(), "Audit log"),
            ("/console".to_owned(), "Back to my organizations"),
        ],
        active: active.to_owned(),
        banner: None,
    }
}

use super::ui::PAGE;

#[derive(Deserialize, Default)]
struct OrgQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    offset: u64,
}

async fn organizations(c: Console, Query(q): Query<OrgQuery>) -> Response {
    organizations_page(&c, &q, None).await
}

async fn organizations_page(c: &Console, q: &OrgQuery, retry: Option<&Retry>) -> Response {
    let (items, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged(
                "/organizations",
                &[("name", &q.name), ("status", &q.status), ("plan", &q.plan)],
                q.offset,
            ))
            .await
    );
    let plans = c.api.list("/plans").await.map(|r| r.0).unwrap_or_default();
    let statuses = ["", "active", "suspended", "banned"];
    ui::page(
        c,
        ui::status_of(retry),
        "All organizations",
        &nav("/console/operator"),
        html! {
            @if !c.is_superuser() {
                div.notice.warn { p { "These pages are for the installation's operators; the API refuses their actions to anyone else." } }
            }
            form.filters method="get" action="/console/operator" role="search" {
                div.field { label for="name" { "Name" } input #name name="name" type="search" value=(q.name); }
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        @for st in statuses { option value=(st) selected[st == q.status] { @if st.is_empty() { "Any" } @else { (st) } } }
                    }
                }
                div.field {
                    label for="plan" { "Plan" }
                    select #plan name="plan" {
                        option value="" { "Any" }
                        @for p in &plans { option value=(s(&p["name"])) selected[s(&p["name"]) == q.plan] { (s(&p["name"])) } }
                    }
                }
                div.actions { button.secondary type="submit" { "Filter" } }
            }
            (form_error(retry, "status"))
            (form_error(retry, "verify"))
            @if items.is_empty() { (ui::empty("No organization matches.")) } @else {
                div.table-wrap {
                    table #all-organizations {
                        thead { tr { th { "Name" } th { "Owner" } th { "Plan" } th { "Members" } th { "Status" } th { "Verified" } th { "Created" } th { "Actions" } } }
                        tbody {
                            @for o in &items {
                                tr data-org=(s(&o["id"])) {
                                    td { a href={ "/console/orgs/" (seg(s(&o["id"]))) } { (s(&o["name"])) } br; code { (s(&o["slug"])) } }
                                    td { (s(&o["owner"]["email"])) }
                                    td { (s(&o["plan"])) }
                                    td { (ui::num(&o["member_count"])) }
                                    td.status { (s(&o["status"])) @if let Some(r) = o["status_reason"].as_str() { br; small { (r) } } }
                                    td { @if o["verified"].as_bool() == Some(true) { "yes" } @else { "no" } }
                                    td { (when(&o["created_at"])) }
                                    td {
                                        details.row-actions {
                                            summary { "Change…" }
                                            (ui::form(c, "/console/operator/organizations/status", "status", html! {
                                                input type="hidden" name="id" value=(s(&o["id"]));
                                                input type="hidden" name="name" value=(s(&o["name"]));
                                                div.field {
                                                    label for={ "st-" (s(&o["id"])) } { "Status" }
                                                    select id={ "st-" (s(&o["id"])) } name="status" {
                                                        @for st in ["active", "suspended", "banned"] { option value=(st) selected[st == s(&o["status"])] { (st) } }
                                                    }
                                                }
                                                div.field {
                                                    label for={ "why-" (s(&o["id"])) } { "Reason" }
                                                    input id={ "why-" (s(&o["id"])) } name="reason" type="text" value=(o["status_reason"].as_str().unwrap_or(""));
                                                }
                                                button.small.danger type="submit" { "Set status" }
                                            }))
                                            (ui::action_button(c, "/console/operator/organizations/verify", if o["verified"].as_bool() == Some(true) { "Mark unverified" } else { "Mark verified" }, "small secondary", &[("id", s(&o["id"])), ("_form", "verify"), ("verified", if o["verified"].as_bool() == Some(true) { "false" } else { "true" })]))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (ui::pager("/console/operator", &[("name", &q.name), ("status", &q.status), ("plan", &q.plan)], q.offset, PAGE, items.len(), None))
        },
    )
}

async fn set_status(Submit { c, f }: Submit) -> Response {
    let status = f.get("status");
    if status != "active" && !f.confirmed() {
        return ui::confirm(
            &c,
            &nav("/console/operator"),
            &format!("Set {} to {status}", f.get("name")),
            &[
                format!(
                    "Every member of {} is refused by the API at once ({}), tokens and sessions included.",
                    f.get("name"),
                    if status == "banned" {
                        "organization_banned"
                    } else {
                        "organization_suspended"
                    }
                ),
                format!("The reason is shown to them: “{}”.", f.get("reason")),
                "Setting the status back to active restores access; nothing is deleted.".to_owned(),
            ],
            "/console/operator/organizations/status",
            &f,
            "/console/operator",
        );
    }
    let body = json!({"status": status, "status_reason": f.opt("reason")});
    match c
        .api
        .patch(&format!("/organizations/{}", seg(f.get("id"))), body)
        .await
    {
        Ok(o) => c.done(
            "/console/operator",
            &format!("{} is now {}.", s(&o["name"]), s(&o["status"])),
        ),
        Err(failure) => {
            organizations_page(&c, &OrgQuery::default(), Some(&Retry::new(f, failure))).await
        }
    }
}

async fn verify(Submit { c, f }: Submit) -> Response {
    let body = json!({"verified": f.get("verified") == "true"});
    match c
        .api
        .patch(&format!("/organizations/{}", seg(f.get("id"))), body)
        .await
    {
        Ok(o) => c.done(
            "/console/operator",
            &format!(
                "{} is {}.",
                s(&o["name"]),
                if o["verified"].as_bool() == Some(true) {
                    "verified"
                } else {
                    "not verified"
                }
            ),
        ),
        Err(failure) => {
            organizations_page(&c, &OrgQuery::default(), Some(&Retry::new(f, failure))).await
        }
    }
}
