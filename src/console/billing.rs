//! An organization's plan, license, limits and usage, and the self-hosted deployments running
//! under its license.

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{query, seg};
use super::ui::{self, Retry, form_error, input, s, when};
use super::{Console, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/orgs/{org}/license", get(license).post(attach_license))
        .route("/orgs/{org}/license/remove", post(remove_license))
        .route("/orgs/{org}/deployments", get(deployments))
        .route("/orgs/{org}/deployments/remove", post(remove_deployment))
}

use super::ui::PAGE;

// --- license and usage -------------------------------------------------------------------------

async fn license(c: Console, Path(org): Path<String>) -> Response {
    license_page(&c, &org, None).await
}

/// `used` of `limit` as a percentage; "<1%" rather than a misleading "0%".
fn percent(used: i64, limit: i64) -> String {
    let p = used.saturating_mul(100) / limit;
    if p == 0 && used > 0 {
        "<1%".to_owned()
    } else {
        format!("{p}%")
    }
}

/// One row of the limits-vs-usage table.
fn usage_row(label: &str, key: &str, used: &Value, limit: &Value) -> Markup {
    let used_n = used.as_i64().unwrap_or(0);
    html! {
        tr data-resource=(key) {
            th scope="row" { (label) }
            td.used { (ui::num(used)) }
            td.limit {
                @match limit.as_i64() {
                    Some(l) => { (l) }
                    None => { "unlimited" }
                }
            }
            td.meter {
                @match limit.as_i64() {
                    Some(l) if l > 0 => {
                        meter min="0" max=(l) value=(used_n.min(l)) low=(l * 7 / 10) high=(l * 9 / 10) optimum="0"
                            aria-label={ (label) ": " (used_n) " of " (l) } {
                            (used_n) " of " (l)
                        }
                        " " span.small { (percent(used_n, l)) }
                        @if used_n >= l { " " span.badge.bad { "at the limit" } }
                    }
                    Some(_) => { span.badge.bad { "none allowed" } }
                    None => { span.small { "unlimited" } }
                }
            }
        }
    }
}

async fn license_page(c: &Console, org: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let l = or_fail!(c, c.api.get(&format!("{}/license", ctx.api())).await);
    let b = ctx.base();
    let lic = &l["license"];
    let features: Vec<&str> = l["features"]
        .as_array()
        .map(|fs| fs.iter().map(s).collect())
        .unwrap_or_default();
    let owner = ctx.is_owner();
    let (usage, limits) = (&l["usage"], &l["limits"]);
    let mut shown = Vec::new();
    if owner {
        shown.push("license-attach");
        if !lic.is_null() {
            shown.push("license-remove");
        }
    }
    ui::page(
        c,
        ui::status_of(retry),
        "License and usage",
        &ctx.nav("/license"),
        html! {
            (ui::stray_error(retry, &shown))
            dl.facts #plan {
                dt { "Plan" } dd {
                    (s(&l["plan"]))
                    @if l["has_active_subscription"].as_bool() == Some(true) { " " span.badge.ok { "subscription" } }
                }
                dt { "Trial expires" } dd {
                    @if l["trial_expiry"].is_null() { "No trial" } @else { (when(&l["trial_expiry"])) }
                }
                dt { "Features" } dd {
                    @if features.is_empty() { "None beyond the plan's basics" }
                    @else { @for (i, f) in features.iter().enumerate() { @if i > 0 { ", " } code { (f) } } }
                }
                dt { "Service accounts take seats" } dd { @if l["service_accounts_take_seats"].as_bool() == Some(true) { "Yes" } @else { "No" } }
            }
            section #license {
                h2 { "License" }
                @if lic.is_null() {
                    (ui::empty(if owner { "No license is attached: the organization is on the free plan. Attach a license key below." } else { "No license is attached: the organization is on the free plan." }))
                } @else {
                    dl.facts {
                        dt { "Name" } dd { @if let Some(n) = lic["name"].as_str().filter(|n| !n.is_empty()) { (n) } @else { "—" } }
                        dt { "Key" } dd { code { (s(&lic["key_hint"])) } }
                        dt { "Status" } dd {
                            @let st = s(&lic["status"]);
                            span.badge.ok[st == "active"].bad[st != "active"] { (st) }
                            @if lic["trial"].as_bool() == Some(true) { " " span.badge { "trial" } }
                        }
                        dt { "Plan" } dd { (s(&lic["plan"])) }
                        dt { "Seats" } dd { @if lic["seats"].is_null() { "The plan's member limit" } @else { (ui::num(&lic["seats"])) } }
                        dt { "Deployments" } dd {
                            (ui::num(&lic["deployment_count"])) " of "
                            @if lic["max_deployments"].is_null() { "unlimited" } @else { (ui::num(&lic["max_deployments"])) }
                        }
                        dt { "Starts" } dd { (when(&lic["starts_at"])) }
                        dt { "Expires" } dd { @if lic["expires_at"].is_null() { "Never" } @else { (when(&lic["expires_at"])) } }
                    }
                }
            }
            section #limits {
                h2 { "Limits and usage" }
                div.table-wrap {
                    table #usage {
                        thead { tr { th { "Resource" } th { "In use" } th { "Limit" } th { "Usage" } } }
                        tbody {
                            (usage_row("Members (seats)", "members", &usage["members"], &limits["members"]))
                            (usage_row("Projects", "projects", &usage["projects"], &limits["projects"]))
                            (usage_row("Applications", "applications", &usage["applications"], &limits["applications"]))
                            (usage_row("Service accounts", "service_accounts", &usage["service_accounts"], &limits["service_accounts"]))
                            (usage_row("Tokens", "tokens", &usage["tokens"], &limits["tokens"]))
                            @if lic.is_null() {
                                tr data-resource="deployments" {
                                    th scope="row" { "Deployments" }
                                    td.used { (ui::num(&usage["deployments"])) }
                                    td.limit { "none without a license" }
                                    td.meter { span.small { "Self-hosted deployments register under a license." } }
                                }
                            } @else {
                                (usage_row("Deployments", "deployments", &usage["deployments"], &l["max_deployments"]))
                            }
                        }
                    }
                }
            }
            @if owner {
                section #attach-license {
                    h2 { "Attach a license key" }
                    p { "The key replaces the current license at once; the organization gets its plan, seats and features." }
                    (form_error(retry, "license-attach"))
                    (ui::form(c, &format!("{b}/license"), "license-attach", html! {
                        (input(retry, "license-attach", "license_key", "License key", "text", "", true, "orgd_lic_ followed by 64 hexadecimal characters."))
                        div.actions { button type="submit" { "Attach license" } }
                    }))
                }
                @if !lic.is_null() {
                    section.danger-zone #remove-license {
                        h2 { "Remove license" }
                        (form_error(retry, "license-remove"))
                        (ui::form(c, &format!("{b}/license/remove"), "license-remove", html! {
                            p { "Take the license off this organization: it goes back to the free plan." }
                            button.danger type="submit" { "Remove license…" }
                        }))
                    }
                }
            }
        },
    )
}

async fn attach_license(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    match c
        .api
        .put(
            &format!("/organizations/{}/license", seg(&org)),
            json!({"license_key": f.get("license_key")}),
        )
        .await
    {
        Ok(l) => c.done(
            &format!("/console/orgs/{}/license", seg(&org)),
            &format!(
                "The license was attached: the organization is on the {} plan.",
                s(&l["plan"])
            ),
        ),
        Err(failure) => license_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn remove_license(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let here = format!("{}/license", ctx.base());
    if !f.confirmed() {
        let l = c
            .api
            .get(&format!("{}/license", ctx.api()))
            .await
            .unwrap_or(Value::Null);
        let lic = &l["license"];
        let label = lic["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(|n| format!("{n} ({})", s(&lic["key_hint"])))
            .unwrap_or_else(|| s(&lic["key_hint"]).to_owned());
        return ui::confirm(
            &c,
            &ctx.nav("/license"),
            "Remove license",
            &[
                format!("{} goes back to the free plan at once: the license {label} no longer gives it its plan ({}), seats or features.", ctx.name(), s(&lic["plan"])),
                "Where the organization uses more than the free plan allows, nothing is deleted, but adding more is refused.".to_owned(),
                match lic["deployment_count"].as_i64().unwrap_or(0) {
                    0 => "No deployment is registered under it.".to_owned(),
                    1 => "Its one deployment keeps running under the license, but is no longer listed here, nor can it be removed from here.".to_owned(),
                    n => format!("Its {n} deployments keep running under the license, but are no longer listed here, nor can they be removed from here."),
                },
                "The license itself is kept: an owner holding its key can attach it again.".to_owned(),
            ],
            &format!("{here}/remove"),
            &f,
            &here,
        );
    }
    match c.api.delete(&format!("{}/license", ctx.api())).await {
        Ok(_) => c.done(
            &here,
            "The license was removed: the organization is on the free plan.",
        ),
        Err(failure) => license_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

// --- deployments -------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    offset: u64,
}

async fn deployments(c: Console, Path(org): Path<String>, Query(q): Query<PageQuery>) -> Response {
    deployments_page(&c, &org, q.offset, None).await
}

async fn deployments_page(c: &Console, org: &str, offset: u64, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let (items, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged(
                &format!("{}/deployments", ctx.api()),
                &[],
                offset
            ))
            .await
    );
    let l = c
        .api
        .get(&format!("{}/license", ctx.api()))
        .await
        .unwrap_or(Value::Null);
    let can_write = ctx.can("organization:update");
    let b = ctx.base();
    ui::page(
        c,
        ui::status_of(retry),
        "Deployments",
        &ctx.nav("/deployments"),
        html! {
            p {
                "Self-hosted installations register under the organization's license with its key and report in with heartbeats."
                @if !l["license"].is_null() {
                    " Deployments in use: " strong { (ui::num(&l["usage"]["deployments"])) } " of "
                    @if l["max_deployments"].is_null() { "unlimited" } @else { strong { (ui::num(&l["max_deployments"])) } }
                    "."
                }
            }
            (form_error(retry, "deployment-remove"))
            @if items.is_empty() {
                (ui::empty(if offset > 0 { "No more deployments." } else if l["license"].is_null() { "No deployments: the organization holds no license for installations to register under." } else { "No deployments yet: an installation appears here once it registers with the license key." }))
            } @else {
                div.table-wrap {
                    table #deployments {
                        thead { tr { th { "Name" } th { "Hostname" } th { "Version" } th { "Status" } th { "Last seen" } th { "Registered" } @if can_write { th { span.sr { "Actions" } } } } }
                        tbody {
                            @for d in &items {
                                @let st = s(&d["status"]);
                                tr data-deployment=(s(&d["id"])) {
                                    td { (s(&d["name"])) }
                                    td { code { (s(&d["hostname"])) } }
                                    td { (s(&d["version"])) }
                                    td { span.badge.ok[st == "active"].bad[st != "active"] { (st) } }
                                    td { (when(&d["last_seen_at"])) }
                                    td { (when(&d["created_at"])) }
                                    @if can_write {
                                        td.actions {
                                            (ui::action_button(c, &format!("{b}/deployments/remove"), "Remove", "danger small", &[("id", s(&d["id"])), ("_form", "deployment-remove")]))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !items.is_empty() || offset > 0 {
                (ui::pager(&format!("{b}/deployments"), &[], offset, PAGE, items.len(), None))
            }
        },
    )
}

async fn remove_deployment(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let here = format!("{}/deployments", ctx.base());
    let id = f.get("id").to_owned();
    if !f.confirmed() {
        // Name it from the API's own list, never from what the browser sent.
        let what = c
            .api
            .list(&format!(
                "{}/deployments{}",
                ctx.api(),
                query(&[("limit", "1000")])
            ))
            .await
            .ok()
            .and_then(|(ds, _)| {
                ds.iter()
                    .find(|d| s(&d["id"]) == id)
                    .map(|d| format!("{} ({})", s(&d["name"]), s(&d["hostname"])))
            })
            .unwrap_or_else(|| "This deployment".to_owned());
        return ui::confirm(
            &c,
            &ctx.nav("/deployments"),
            "Remove deployment",
            &[
                format!(
                    "{what} is removed: its token stops working, and its next heartbeat is refused."
                ),
                "Its place under the license's deployment cap is free again.".to_owned(),
                "To come back, the installation has to register again with the license key."
                    .to_owned(),
            ],
            &format!("{here}/remove"),
            &f,
            &here,
        );
    }
    match c
        .api
        .delete(&format!("{}/deployments/{}", ctx.api(), seg(&id)))
        .await
    {
        Ok(_) => c.done(&here, "The deployment was removed."),
        Err(failure) => deployments_page(&c, &org, 0, Some(&Retry::new(f, failure))).await,
    }
}
