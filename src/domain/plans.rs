//! Plans, the limits they set, and which plan an organization is on: decided from its license
//! (if any) at the moment of the question, so an expiry or a revocation takes effect at once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// The plans of an installation. Their limits and features come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanName {
    Free,
    Team,
    Business,
    Enterprise,
}

impl PlanName {
    pub const ALL: [PlanName; 4] = [
        PlanName::Free,
        PlanName::Team,
        PlanName::Business,
        PlanName::Enterprise,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PlanName::Free => "free",
            PlanName::Team => "team",
            PlanName::Business => "business",
            PlanName::Enterprise => "enterprise",
        }
    }
    pub fn parse(s: &str) -> Option<PlanName> {
        PlanName::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Seats: the organization's active human members (and its service accounts when the plan
    /// says they take seats).
    Members,
    Projects,
    Applications,
    /// Live tokens scoped to the organization: personal access tokens scoped to it and its
    /// service accounts' tokens.
    Tokens,
    ServiceAccounts,
    /// Deployments registered under the license (capped by the license, not the plan).
    Deployments,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Members => "members",
            Resource::Projects => "projects",
            Resource::Applications => "applications",
            Resource::Tokens => "tokens",
            Resource::ServiceAccounts => "service_accounts",
            Resource::Deployments => "deployments",
        }
    }
}

/// A plan's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct Limits {
    /// Seats. Unlimited when null.
    pub members: Option<i64>,
    pub projects: Option<i64>,
    pub applications: Option<i64>,
    pub tokens: Option<i64>,
    pub service_accounts: Option<i64>,
}

impl Limits {
    pub fn of(&self, r: Resource) -> Option<i64> {
        match r {
            Resource::Members => self.members,
            Resource::Projects => self.projects,
            Resource::Applications => self.applications,
            Resource::Tokens => self.tokens,
            Resource::ServiceAccounts => self.service_accounts,
            Resource::Deployments => None,
        }
    }
    fn set(&mut self, r: Resource, v: Option<i64>) {
        match r {
            Resource::Members => self.members = v,
            Resource::Projects => self.projects = v,
            Resource::Applications => self.applications = v,
            Resource::Tokens => self.tokens = v,
            Resource::ServiceAccounts => self.service_accounts = v,
            Resource::Deployments => {}
        }
    }
}

/// A plan as configured.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Plan {
    pub name: PlanName,
    pub limits: Limits,
    /// Labels your application reads to switch features on (`GET …/license` shows those in
    /// force). orgd itself does not gate its routes on them.
    pub features: Vec<String>,
    /// Whether the organization's service accounts take seats (by default they do not).
    pub service_accounts_take_seats: bool,
}

/// The installation's four plans.
#[derive(Debug, Clone, PartialEq)]
pub struct Plans(pub [Plan; 4]);

impl Default for Plans {
    /// The documented defaults: a small free plan, growing paid plans, an unlimited enterprise.
    fn default() -> Self {
        fn plan(
            name: PlanName,
            [members, projects, applications, tokens, service_accounts]: [Option<i64>; 5],
            features: &[&str],
        ) -> Plan {
            Plan {
                name,
                limits: Limits {
                    members,
                    projects,
                    applications,
                    tokens,
                    service_accounts,
                },
                features: features.iter().map(|f| f.to_string()).collect(),
                service_accounts_take_seats: false,
            }
        }
        Plans([
            plan(
                PlanName::Free,
                [Some(5), Some(3), Some(3), Some(10), Some(2)],
                &[],
            ),
            plan(
                PlanName::Team,
                [Some(25), Some(25), Some(25), Some(100), Some(10)],
                &["custom_roles"],
            ),
            plan(
                PlanName::Business,
                [Some(250), Some(250), Some(250), Some(1000), Some(50)],
                &["custom_roles", "audit_log", "sso"],
            ),
            plan(
                PlanName::Enterprise,
                [None; 5],
                &[
                    "custom_roles",
                    "audit_log",
                    "sso",
                    "force_sso",
                    "deployments",
                ],
            ),
        ])
    }
}

impl Plans {
    pub fn get(&self, name: PlanName) -> &Plan {
        &self.0[PlanName::ALL.iter().position(|p| *p == name).unwrap_or(0)]
    }
    fn get_mut(&mut self, name: PlanName) -> &mut Plan {
        &mut self.0[PlanName::ALL.iter().position(|p| *p == name).unwrap_or(0)]
    }

    /// Applies one setting `PLAN.KEY=VALUE` (`free.members=10`, `team.projects=unlimited`,
    /// `business.features=sso audit_log`, `free.service_accounts_take_seats=true`).
    pub fn apply(&mut self, setting: &str) -> Result<(), String> {
        let bad = || {
            format!(
                "plan setting {setting:?}: expected PLAN.KEY=VALUE, PLAN one of free, team, \
                 business, enterprise; KEY one of members, projects, applications, tokens, \
                 service_accounts (a number or unlimited), features (names separated by spaces), \
                 service_accounts_take_seats (true or false)"
            )
        };
        let (path, value) = setting.split_once('=').ok_or_else(bad)?;
        let (plan, key) = path.trim().split_once('.').ok_or_else(bad)?;
        let plan = self.get_mut(PlanName::parse(plan).ok_or_else(bad)?);
        let value = value.trim();
        let limit = |v: &str| -> Result<Option<i64>, String> {
            match v {
                "unlimited" => Ok(None),
                n => n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .map(Some)
                    .ok_or_else(bad),
            }
        };
        let resource = match key {
            "members" | "seats" => Resource::Members,
            "projects" => Resource::Projects,
            "applications" => Resource::Applications,
            "tokens" => Resource::Tokens,
            "service_accounts" => Resource::ServiceAccounts,
            "features" => {
                plan.features = value
                    .split([' ', ','])
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect();
                return Ok(());
            }
            "service_accounts_take_seats" => {
                plan.service_accounts_take_seats = value.parse().map_err(|_| bad())?;
                return Ok(());
            }
            _ => return Err(bad()),
        };
        plan.limits.set(resource, limit(value)?);
        Ok(())
    }
}

/// What a license says, as far as the plan in force depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseTerms {
    pub plan: PlanName,
    pub seats: Option<i64>,
    pub trial: bool,
    pub starts_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Where a license stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    /// Started, not expired, not revoked: its plan is in force.
    Active,
    /// Its `starts_at` is still ahead.
    Scheduled,
    Expired,
    Revoked,
}

impl LicenseTerms {
    pub fn status(&self, now: Timestamp) -> LicenseStatus {
        if self.revoked_at.is_some() {
            LicenseStatus::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            LicenseStatus::Expired
        } else if self.starts_at > now {
            LicenseStatus::Scheduled
        } else {
            LicenseStatus::Active
        }
    }
}

/// The plan an organization is on at a moment, with what it allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub plan: PlanName,
    pub limits: Limits,
    pub features: Vec<String>,
    pub service_accounts_take_seats: bool,
    /// A non-trial license in force.
    pub has_active_subscription: bool,
    /// A trial license's expiry (also once it has passed), else none.
    pub trial_expiry: Option<Timestamp>,
}

impl Standing {
    /// The standing of an organization holding `license` (or none) at `now`: the license's plan
    /// while it is in force (its `seats` replacing the plan's member limit), else the free plan.
    pub fn at(plans: &Plans, license: Option<&LicenseTerms>, now: Timestamp) -> Standing {
        let in_force = license.filter(|l| l.status(now) == LicenseStatus::Active);
        let plan = plans.get(in_force.map_or(PlanName::Free, |l| l.plan));
        let mut limits = plan.limits;
        if let Some(seats) = in_force.and_then(|l| l.seats) {
            limits.members = Some(seats);
        }
        Standing {
            plan: plan.name,
            limits,
            features: plan.features.clone(),
            service_accounts_take_seats: plan.service_accounts_take_seats,
            has_active_subscription: in_force.is_some_and(|l| !l.trial),
            trial_expiry: license
                .filter(|l| l.trial && l.revoked_at.is_none())
                .and_then(|l| l.expires_at),
        }
    }

    /// Refuses one more `resource` when `usage` already reaches the limit.
    pub fn admit(&self, resource: Resource, usage: i64) -> Result<(), LimitReached> {
        match self.limits.of(resource) {
            Some(max) if usage >= max => Err(LimitReached {
                resource,
                limit: max,
                usage,
                plan: self.plan,
            }),
            _ => Ok(()),
        }
    }
}

/// A refused addition: which limit, its value, what is in use, on which plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LimitReached {
    /// The limit that was reached.
    pub resource: Resource,
    pub limit: i64,
    pub usage: i64,
    pub plan: PlanName,
}

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "The {} plan allows {} {}; {} in use",
            self.plan.as_str(),
            self.limit,
            self.resource.as_str().replace('_', " "),
            self.usage
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(plan: PlanName, trial: bool) -> LicenseTerms {
        LicenseTerms {
            plan,
            seats: None,
            trial,
            starts_at: Timestamp(1_000),
            expires_at: Some(Timestamp(10_000)),
            revoked_at: None,
        }
    }

    #[test]
    fn a_license_is_in_force_between_its_start_and_its_expiry() {
        let plans = Plans::default();
        let l = terms(PlanName::Team, false);
        assert_eq!(l.status(Timestamp(999)), LicenseStatus::Scheduled);
        assert_eq!(l.status(Timestamp(1_000)), LicenseStatus::Active);
        assert_eq!(l.status(Timestamp(10_000)), LicenseStatus::Expired);
        let on = Standing::at(&plans, Some(&l), Timestamp(5_000));
        assert_eq!(on.plan, PlanName::Team);
        assert!(on.has_active_subscription);
        assert_eq!(on.trial_expiry, None);
        let after = Standing::at(&plans, Some(&l), Timestamp(10_000));
        assert_eq!(after.plan, PlanName::Free);
        assert!(!after.has_active_subscription);
        let before = Standing::at(&plans, Some(&l), Timestamp(999));
        assert_eq!(before.plan, PlanName::Free);
    }

    #[test]
    fn a_revoked_license_is_the_free_plan_and_a_trial_is_no_subscription() {
        let plans = Plans::default();
        let mut l = terms(PlanName::Business, true);
        let trial = Standing::at(&plans, Some(&l), Timestamp(5_000));
        assert_eq!(trial.plan, PlanName::Business);
        assert!(!trial.has_active_subscription);
        assert_eq!(trial.trial_expiry, Some(Timestamp(10_000)));
        l.revoked_at = Some(Timestamp(2_000));
        let revoked = Standing::at(&plans, Some(&l), Timestamp(5_000));
        assert_eq!(revoked.plan, PlanName::Free);
        assert_eq!(revoked.trial_expiry, None);
    }

    #[test]
    fn license_seats_replace_the_member_limit_only_while_in_force() {
        let plans = Plans::default();
        let mut l = terms(PlanName::Team, false);
        l.seats = Some(40);
        let s = Standing::at(&plans, Some(&l), Timestamp(5_000));
        assert_eq!(s.limits.members, Some(40));
        assert_eq!(s.limits.projects, Some(25));
        assert!(s.admit(Resource::Members, 39).is_ok());
        let e = s.admit(Resource::Members, 40).unwrap_err();
        assert_eq!((e.limit, e.usage, e.plan), (40, 40, PlanName::Team));
        assert_eq!(e.to_string(), "The team plan allows 40 members; 40 in use");
        let lapsed = Standing::at(&plans, Some(&l), Timestamp(20_000));
        assert_eq!(lapsed.limits.members, Some(5));
    }

    #[test]
    fn settings_change_limits_features_and_seat_counting() {
        let mut plans = Plans::default();
        plans.apply("free.members=12").unwrap();
        plans.apply(" team.projects = unlimited").unwrap();
        plans.apply("business.features=sso, audit_log").unwrap();
        plans
            .apply("free.service_accounts_take_seats=true")
            .unwrap();
        assert_eq!(plans.get(PlanName::Free).limits.members, Some(12));
        assert_eq!(plans.get(PlanName::Team).limits.projects, None);
        assert_eq!(plans.get(PlanName::Business).features, ["sso", "audit_log"]);
        assert!(plans.get(PlanName::Free).service_accounts_take_seats);
        for bad in [
            "free.members",
            "gold.members=1",
            "free.users=1",
            "free.members=-1",
            "free.members=many",
            "free.service_accounts_take_seats=maybe",
        ] {
            assert!(plans.apply(bad).is_err(), "{bad}");
        }
        let s = Standing::at(&plans, None, Timestamp(0));
        assert!(s.admit(Resource::Deployments, 1_000).is_ok());
        assert!(s.admit(Resource::Projects, 2).is_ok());
        assert!(s.admit(Resource::Projects, 3).is_err());
    }
}
