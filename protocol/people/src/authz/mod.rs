//! Authorisation decisions: may this person perform this operation on this workflow, now?
//!
//! Precedence, for a person P acting on workflow W of owner O:
//!
//! 1. A policy that failed to load denies everything (`fail-closed`).
//! 2. O may do everything to O's own workflows (as in Cylc).
//! 3. Otherwise the most specific layer that *names* P (by user name, by one of P's groups, or
//!    by `*`) decides: the workflow layer, else O's owner layer, else the site defaults for O.
//!    A layer that names P replaces the layers above it, so an owner can narrow the site
//!    default and a workflow can narrow (or widen) its owner's grants. Within the deciding
//!    layer, rights of all matching rules add up and a negation beats any grant
//!    (`negation-wins`). No layer names P: nothing is granted (deny by default).
//! 4. The site limit for (O, P), the union of the matching site rules' `limit` (or `default`
//!    where no limit is given) less their negations, caps the result (`site-limit`). No lower
//!    layer can lift it; unlike Cylc, where the owner runs the server and could.
//! 5. The session's level must reach the operation's level (`elevation-required`): an
//!    un-elevated session reads only, whatever the policy grants.

mod explain;

use std::collections::BTreeSet;
use std::fmt;

use protocol_core::ids::WorkflowId;

use crate::checks::{PeopleCheck, PeopleDefences};
use crate::groups::{Person, WorkflowRef};
use crate::names::{GroupName, UserName};
use crate::ops::{Expanded, Level, Operation, Right};
use crate::policy::{GrantRule, Policy, PolicyError, RuleRef};

pub use explain::{Explanation, LayerReport, LayerVerdict};

/// A layer of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerKind {
    /// The site's defaults (used when no lower layer names the person).
    SiteDefault,
    /// The site's limit (caps every layer).
    SiteLimit,
    /// The workflow owner's grants on all their workflows.
    Owner,
    /// Grants on one workflow.
    Workflow,
}

impl LayerKind {
    /// Its name in messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SiteDefault => "site default",
            Self::SiteLimit => "site limit",
            Self::Owner => "owner layer",
            Self::Workflow => "workflow layer",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an operation is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowReason {
    /// The person owns the workflow.
    Owner,
    /// A rule of the deciding layer grants it (within the site limit).
    Granted {
        /// The deciding layer.
        layer: LayerKind,
        /// The first rule that grants it.
        rule: RuleRef,
    },
}

/// Why an operation is denied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The policy did not load; everything is denied.
    PolicyBroken {
        /// What is wrong with it.
        error: PolicyError,
    },
    /// A negation in the deciding layer or the site limit removes it.
    NegatedAt {
        /// Where.
        layer: LayerKind,
        /// The first rule that negates it.
        rule: RuleRef,
    },
    /// The deciding layer does not grant it, or no layer names the person at all.
    NotGranted {
        /// The deciding layer, if any layer names the person.
        layer: Option<LayerKind>,
    },
    /// The deciding layer grants it but the site limit does not allow it.
    AboveSiteLimit {
        /// The deciding layer.
        layer: LayerKind,
        /// The rule that grants it.
        granted_by: RuleRef,
    },
    /// The policy allows it but the session is not elevated enough.
    LevelTooLow {
        /// The level the operation needs.
        needed: Level,
        /// The session's effective level.
        have: Level,
    },
}

impl DenyReason {
    /// The check whose refusal this is (`None` for a plain absence of any grant).
    #[must_use]
    pub const fn check(&self) -> Option<PeopleCheck> {
        match self {
            Self::PolicyBroken { .. } => Some(PeopleCheck::FailClosed),
            Self::NegatedAt { .. } => Some(PeopleCheck::NegationWins),
            Self::AboveSiteLimit { .. } => Some(PeopleCheck::SiteLimit),
            Self::LevelTooLow { .. } => Some(PeopleCheck::ElevationRequired),
            Self::NotGranted { .. } => None,
        }
    }

    /// A short stable code (`not-granted`), for audit lines.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::PolicyBroken { .. } => "policy-broken",
            Self::NegatedAt { .. } => "negated",
            Self::NotGranted { .. } => "not-granted",
            Self::AboveSiteLimit { .. } => "above-site-limit",
            Self::LevelTooLow { .. } => "needs-elevation",
        }
    }
}

/// An authorisation decision, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Go ahead.
    Allow(AllowReason),
    /// Refused.
    Deny(DenyReason),
}

impl Decision {
    /// Whether it allows.
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow(AllowReason::Owner) => f.write_str("allow: the person owns the workflow"),
            Self::Allow(AllowReason::Granted { layer, rule }) => {
                write!(f, "allow: granted by the {layer} at {rule}, within the site limit")
            }
            Self::Deny(DenyReason::PolicyBroken { error }) => {
                write!(f, "deny: the policy is malformed, so everything is denied: {error}")
            }
            Self::Deny(DenyReason::NegatedAt { layer, rule }) => {
                write!(f, "deny: negated by the {layer} at {rule}")
            }
            Self::Deny(DenyReason::NotGranted { layer: Some(layer) }) => {
                write!(f, "deny: the {layer} names the person but does not grant it")
            }
            Self::Deny(DenyReason::NotGranted { layer: None }) => {
                f.write_str("deny: no layer names the person (deny by default)")
            }
            Self::Deny(DenyReason::AboveSiteLimit { layer, granted_by }) => {
                write!(
                    f,
                    "deny: the {layer} grants it at {granted_by}, but the site limit does not allow it"
                )
            }
            Self::Deny(DenyReason::LevelTooLow { needed, have }) => {
                write!(
                    f,
                    "deny: needs a session elevated to {needed}, the session is at {have}"
                )
            }
        }
    }
}

/// The rules of one layer that name a person, and what they add up to.
#[derive(Debug, Clone)]
pub(crate) struct Matched<'a> {
    pub(crate) rules: Vec<(&'a RuleRef, &'a [Right])>,
    pub(crate) rights: Expanded,
}

impl<'a> Matched<'a> {
    fn new(rules: Vec<(&'a RuleRef, &'a [Right])>) -> Self {
        let mut rights = Expanded::default();
        for (_, r) in &rules {
            let e = Expanded::of(r);
            rights.grants.extend(e.grants);
            rights.negations.extend(e.negations);
        }
        Self { rules, rights }
    }

    fn names_person(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The first rule that grants (`negated == false`) or negates `op`.
    pub(crate) fn first(&self, op: Operation, negated: bool) -> Option<&'a RuleRef> {
        self.rules
            .iter()
            .find(|(_, rights)| {
                rights
                    .iter()
                    .any(|r| r.negated == negated && r.operations().contains(&op))
            })
            .map(|(at, _)| *at)
    }
}

/// Every layer's view of one (person, workflow) pair.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation<'a> {
    pub(crate) owner: bool,
    pub(crate) site_default: Matched<'a>,
    pub(crate) site_limit: Matched<'a>,
    pub(crate) owner_layer: Matched<'a>,
    pub(crate) workflow_layer: Matched<'a>,
    pub(crate) deciding: Option<LayerKind>,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn layer(&self, kind: LayerKind) -> &Matched<'a> {
        match kind {
            LayerKind::SiteDefault => &self.site_default,
            LayerKind::SiteLimit => &self.site_limit,
            LayerKind::Owner => &self.owner_layer,
            LayerKind::Workflow => &self.workflow_layer,
        }
    }
}

fn grants_matching<'a>(rules: &'a [GrantRule], person: &Person) -> Matched<'a> {
    Matched::new(
        rules
            .iter()
            .filter(|r| r.who.matches(person.name.as_str(), person.groups.iter()))
            .map(|r| (&r.at, r.rights.as_slice()))
            .collect(),
    )
}

/// Decides requests against a policy (or refuses all of them if the policy did not load).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authorizer {
    policy: Result<Policy, PolicyError>,
    defences: PeopleDefences,
}

impl Authorizer {
    /// An authoriser with every defence.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self::with_defences(Ok(policy), PeopleDefences::all())
    }

    /// An authoriser from the result of loading a policy: an error denies everything.
    #[must_use]
    pub fn from_load(policy: Result<Policy, PolicyError>) -> Self {
        Self::with_defences(policy, PeopleDefences::all())
    }

    /// An authoriser with the given defences (only the `weaken` feature can build partial ones).
    #[must_use]
    pub const fn with_defences(policy: Result<Policy, PolicyError>, defences: PeopleDefences) -> Self {
        Self { policy, defences }
    }

    /// The policy, or why it did not load.
    pub const fn policy(&self) -> Result<&Policy, &PolicyError> {
        self.policy.as_ref()
    }

    fn on(&self, check: PeopleCheck) -> bool {
        self.defences.is_on(check)
    }

    pub(crate) fn evaluate<'a>(&self, policy: &'a Policy, person: &Person, workflow: &WorkflowRef) -> Evaluation<'a> {
        self.evaluate_on(
            policy,
            person,
            workflow.owner().as_str(),
            &workflow.owner_groups,
            Some(&workflow.id),
        )
    }

    /// As [`Self::evaluate`] for an owner given by name (any [`UserName`], as Cylc's
    /// configuration names owners) and, if there is one, a workflow for the workflow layer.
    pub(crate) fn evaluate_on<'a>(
        &self,
        policy: &'a Policy,
        person: &Person,
        owner_name: &str,
        owner_groups: &BTreeSet<GroupName>,
        workflow: Option<&WorkflowId>,
    ) -> Evaluation<'a> {
        let site: Vec<_> = policy
            .site
            .iter()
            .filter(|r| r.owners.matches(owner_name, owner_groups.iter()))
            .filter(|r| r.who.matches(person.name.as_str(), person.groups.iter()))
            .collect();
        let site_default = Matched::new(
            site.iter()
                .filter_map(|r| r.default.as_deref().map(|d| (&r.at, d)))
                .collect(),
        );
        let site_limit = Matched::new(site.iter().map(|r| (&r.at, r.effective_limit())).collect());
        let owner_layer = grants_matching(policy.owner_rules_named(owner_name), person);
        let workflow_layer = grants_matching(workflow.map_or(&[], |w| policy.workflow_rules(w)), person);
        let deciding = [
            (LayerKind::Workflow, &workflow_layer),
            (LayerKind::Owner, &owner_layer),
            (LayerKind::SiteDefault, &site_default),
        ]
        .into_iter()
        .find(|(_, m)| m.names_person())
        .map(|(k, _)| k);
        Evaluation {
            owner: person.name.as_str() == owner_name,
            site_default,
            site_limit,
            owner_layer,
            workflow_layer,
            deciding,
        }
    }

    /// What the policy says about `op`, before the session level is considered.
    pub(crate) fn verdict(&self, eval: &Evaluation<'_>, op: Operation) -> Decision {
        if eval.owner {
            return Decision::Allow(AllowReason::Owner);
        }
        let Some(layer) = eval.deciding else {
            return Decision::Deny(DenyReason::NotGranted { layer: None });
        };
        let negation_wins = self.on(PeopleCheck::NegationWins);
        let deciding = eval.layer(layer);
        if negation_wins
            && deciding.rights.negations.contains(&op)
            && let Some(rule) = deciding.first(op, true)
        {
            return Decision::Deny(DenyReason::NegatedAt {
                layer,
                rule: rule.clone(),
            });
        }
        let Some(granted_by) = deciding.first(op, false) else {
            return Decision::Deny(DenyReason::NotGranted { layer: Some(layer) });
        };
        if self.on(PeopleCheck::SiteLimit) {
            let limit = &eval.site_limit;
            if negation_wins
                && limit.rights.negations.contains(&op)
                && let Some(rule) = limit.first(op, true)
            {
                return Decision::Deny(DenyReason::NegatedAt {
                    layer: LayerKind::SiteLimit,
                    rule: rule.clone(),
                });
            }
            if !limit.rights.grants.contains(&op) {
                return Decision::Deny(DenyReason::AboveSiteLimit {
                    layer,
                    granted_by: granted_by.clone(),
                });
            }
        }
        Decision::Allow(AllowReason::Granted {
            layer,
            rule: granted_by.clone(),
        })
    }

    fn gate_level(&self, verdict: Decision, op: Operation, level: Level) -> Decision {
        if verdict.is_allowed() && self.on(PeopleCheck::ElevationRequired) && level < op.level() {
            return Decision::Deny(DenyReason::LevelTooLow {
                needed: op.level(),
                have: level,
            });
        }
        verdict
    }

    /// May `person` perform `op` on `workflow` from a session whose effective level is `level`?
    #[must_use]
    pub fn decide(&self, person: &Person, workflow: &WorkflowRef, op: Operation, level: Level) -> Decision {
        let policy = match &self.policy {
            Ok(p) => p,
            Err(error) => return Decision::Deny(DenyReason::PolicyBroken { error: error.clone() }),
        };
        let eval = self.evaluate(policy, person, workflow);
        self.gate_level(self.verdict(&eval, op), op, level)
    }

    /// May `person` perform `op` on a workflow of `owner` (in `owner_groups`), by the site and
    /// owner layers alone: the question Cylc's configuration answers, for owners named as Cylc
    /// names them (`jane.doe`), who need not be valid workflow owners here.
    #[must_use]
    pub fn decide_for_owner(
        &self,
        person: &Person,
        owner: &UserName,
        owner_groups: &BTreeSet<GroupName>,
        op: Operation,
        level: Level,
    ) -> Decision {
        let policy = match &self.policy {
            Ok(p) => p,
            Err(error) => return Decision::Deny(DenyReason::PolicyBroken { error: error.clone() }),
        };
        let eval = self.evaluate_on(policy, person, owner.as_str(), owner_groups, None);
        self.gate_level(self.verdict(&eval, op), op, level)
    }

    /// [`Self::permitted_ops`] for an owner given by name, by the site and owner layers alone.
    #[must_use]
    pub fn permitted_ops_for_owner(
        &self,
        person: &Person,
        owner: &UserName,
        owner_groups: &BTreeSet<GroupName>,
        level: Level,
    ) -> BTreeSet<Operation> {
        let Ok(policy) = &self.policy else {
            return BTreeSet::new();
        };
        let eval = self.evaluate_on(policy, person, owner.as_str(), owner_groups, None);
        Operation::ALL
            .iter()
            .copied()
            .filter(|&op| self.gate_level(self.verdict(&eval, op), op, level).is_allowed())
            .collect()
    }

    /// The operations the site limit lets an owner's layer give `person` (before negations in
    /// lower layers): `None` if the policy did not load.
    #[must_use]
    pub fn site_limit_for_owner(
        &self,
        person: &Person,
        owner: &UserName,
        owner_groups: &BTreeSet<GroupName>,
    ) -> Option<BTreeSet<Operation>> {
        let policy = self.policy.as_ref().ok()?;
        let eval = self.evaluate_on(policy, person, owner.as_str(), owner_groups, None);
        let r = &eval.site_limit.rights;
        Some(r.grants.difference(&r.negations).copied().collect())
    }

    /// The operations `person` may perform on `workflow` at `level`: what a UI may offer.
    /// Pass [`Level::Write`] for what they could do after elevating.
    #[must_use]
    pub fn permitted_ops(&self, person: &Person, workflow: &WorkflowRef, level: Level) -> BTreeSet<Operation> {
        let Ok(policy) = &self.policy else {
            return BTreeSet::new();
        };
        let eval = self.evaluate(policy, person, workflow);
        Operation::ALL
            .iter()
            .copied()
            .filter(|&op| self.gate_level(self.verdict(&eval, op), op, level).is_allowed())
            .collect()
    }
}
