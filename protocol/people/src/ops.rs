//! Operations people perform on workflows, the privilege level each needs, and the rights
//! (`trigger`, `!stop`, `READ`, `CONTROL`, `ALL`, …) policies grant.
//!
//! Names follow Cylc: an operation is a Cylc command (`cylc set-verbosity`) or GraphQL mutation
//! (`setVerbosity`, authorised as `set_verbosity`). We print the command spelling, kebab-case,
//! and accept all three. `edit-trigger` and `edit-config` have no Cylc 8 mutation; they stand
//! for the Write actions of the hub design notes (edit runs, change the workflow configuration).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A session's privilege, and the privilege an operation needs. Ordered: `Read < Execute < Write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// See workflows, logs and configuration.
    Read,
    /// Start, stop, hold, trigger… tasks and workflows.
    Execute,
    /// Change what runs: edit-trigger, broadcast, reload, edit the configuration.
    Write,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Self; 3] = [Self::Read, Self::Execute, Self::Write];

    /// The lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Execute => "execute",
            Self::Write => "write",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A level name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("unknown level {0:?} (expected read, execute or write)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, UnknownLevel> {
        Self::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

macro_rules! operations {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $level:ident, $control:literal, $past:literal; )*) => {
        /// An operation on a workflow.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $( $(#[$doc])* $variant, )*
        }

        impl Operation {
            /// Every operation.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The Cylc command spelling (`set-hold-point`).
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The level a session needs to perform it.
            #[must_use]
            pub const fn level(self) -> Level {
                match self { $(Self::$variant => Level::$level,)* }
            }

            /// Whether Cylc's `CONTROL` access group holds it.
            #[must_use]
            pub const fn in_cylc_control(self) -> bool {
                match self { $(Self::$variant => $control,)* }
            }

            /// The verb for audit lines (`stopped`).
            #[must_use]
            pub const fn past_tense(self) -> &'static str {
                match self { $(Self::$variant => $past,)* }
            }
        }
    };
}

operations! {
    /// View the workflow, its logs and configuration (Cylc's queries and subscriptions).
    Read => "read", Read, false, "read";
    /// Delete a stopped workflow's run directory.
    Clean => "clean", Execute, true, "cleaned";
    /// Send an external trigger.
    ExtTrigger => "ext-trigger", Execute, true, "ext-triggered";
    /// Hold tasks.
    Hold => "hold", Execute, true, "held";
    /// Kill running jobs.
    Kill => "kill", Execute, true, "killed";
    /// Send a task message, as a job would.
    Message => "message", Execute, true, "sent a message to";
    /// Pause the workflow.
    Pause => "pause", Execute, true, "paused";
    /// Start or restart the workflow.
    Play => "play", Execute, true, "started";
    /// Poll jobs.
    Poll => "poll", Execute, true, "polled";
    /// Release held tasks.
    Release => "release", Execute, true, "released";
    /// Release the workflow's hold point.
    ReleaseHoldPoint => "release-hold-point", Execute, true, "released the hold point of";
    /// Remove tasks from the pool.
    Remove => "remove", Execute, true, "removed";
    /// Resume a paused workflow.
    Resume => "resume", Execute, true, "resumed";
    /// Make the UI server rescan for workflows (a Cylc mutation in its CONTROL group).
    Scan => "scan", Execute, true, "rescanned";
    /// Set task prerequisites or outputs (Cylc 8.3's `cylc set`).
    Set => "set", Execute, true, "set";
    /// Change the graph window extent.
    SetGraphWindowExtent => "set-graph-window-extent", Execute, true, "set the graph window of";
    /// Set the workflow's hold point.
    SetHoldPoint => "set-hold-point", Execute, true, "set the hold point of";
    /// Set task outputs (before Cylc 8.3).
    SetOutputs => "set-outputs", Execute, true, "set outputs of";
    /// Change the scheduler's log verbosity.
    SetVerbosity => "set-verbosity", Execute, true, "set the verbosity of";
    /// Stop the workflow, or tasks.
    Stop => "stop", Execute, true, "stopped";
    /// Trigger tasks.
    Trigger => "trigger", Execute, true, "triggered";
    /// Reload the workflow definition. Cylc counts it as CONTROL; it applies changed
    /// configuration, so here a session needs Write.
    Reload => "reload", Write, true, "reloaded";
    /// Reinstall the workflow's source, then reload it (newer Cylc; not in cylc-uiserver 1.7).
    ReinstallReload => "reinstall-reload", Write, true, "reinstalled and reloaded";
    /// Reinstall the workflow's source, then restart it (newer Cylc; not in cylc-uiserver 1.7).
    ReinstallRestart => "reinstall-restart", Write, true, "reinstalled and restarted";
    /// Change task settings at run time: can inject code (Cylc's ALL group only).
    Broadcast => "broadcast", Write, false, "broadcast to";
    /// Edit a task's job script and trigger it.
    EditTrigger => "edit-trigger", Write, false, "edit-triggered";
    /// Change the workflow configuration.
    EditConfig => "edit-config", Write, false, "edited the configuration of";
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An operation name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("unknown operation {0:?}")]
pub struct UnknownOperation(pub String);

/// Graphene's `to_snake_case`, which Cylc applies to a GraphQL field name before it looks the
/// operation up: `ReleaseHoldPoint` → `release_hold_point`, `RELeaseHOLdPoint` →
/// `re_lease_ho_ld_point` (so no operation). Two passes, as Graphene's two regular expressions
/// `(.)([A-Z][a-z]+)` → `\1_\2` and `([a-z0-9])([A-Z])` → `\1_\2`, then lower case.
#[must_use]
pub fn cylc_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // Pass 1: leftmost, non-overlapping matches of `(.)([A-Z][a-z]+)`; `.` is any but '\n'.
    let mut s1 = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let word = c != '\n'
            && chars.get(i + 1).is_some_and(char::is_ascii_uppercase)
            && chars.get(i + 2).is_some_and(char::is_ascii_lowercase);
        if word {
            let mut end = i + 3;
            while chars.get(end).is_some_and(char::is_ascii_lowercase) {
                end += 1;
            }
            s1.push(c);
            s1.push('_');
            s1.extend(&chars[i + 1..end]);
            i = end;
        } else {
            s1.push(c);
            i += 1;
        }
    }
    // Pass 2: `([a-z0-9])([A-Z])`, leftmost and non-overlapping (a match consumes both).
    let chars: Vec<char> = s1.chars().collect();
    let mut out = String::with_capacity(s1.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c.is_ascii_lowercase() || c.is_ascii_digit()) && chars.get(i + 1).is_some_and(char::is_ascii_uppercase) {
            out.push(c);
            out.push('_');
            out.push(chars[i + 1]);
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out.to_lowercase()
}

impl Operation {
    /// Cylc's authorisation spelling (`set_hold_point`).
    #[must_use]
    pub fn snake_name(self) -> String {
        self.name().replace('-', "_")
    }
}

impl FromStr for Operation {
    type Err = UnknownOperation;

    /// Accepts the command spelling (`set-hold-point`) and Cylc's authorisation spelling
    /// (`set_hold_point`), each in any case (`HOLD`, `Trigger`: the intent Cylc's own user
    /// guide writes), and a GraphQL mutation name as Cylc converts it (`setHoldPoint`). A name
    /// that is none of these (`RELeaseHOLdPoint`, `trigerr`) is unknown.
    fn from_str(s: &str) -> Result<Self, UnknownOperation> {
        let lower = s.to_ascii_lowercase();
        let snake = cylc_snake_case(s);
        Self::ALL
            .iter()
            .copied()
            .find(|op| {
                let name = op.name();
                let snake_name = op.snake_name();
                lower == name || lower == snake_name || snake == snake_name
            })
            .ok_or_else(|| UnknownOperation(s.to_owned()))
    }
}

/// A named set of operations, as Cylc's access groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessGroup {
    /// `READ`: `read`.
    Read,
    /// `EXECUTE`: every operation whose level is Execute.
    Execute,
    /// `WRITE`: every operation whose level is Write.
    Write,
    /// `CONTROL`: Cylc's group: every mutation but `broadcast` (so `reload`, not `read`).
    Control,
    /// `ALL`: everything.
    All,
}

impl AccessGroup {
    /// Every group.
    pub const ALL: [Self; 5] = [Self::Read, Self::Execute, Self::Write, Self::Control, Self::All];

    /// Its upper-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Execute => "EXECUTE",
            Self::Write => "WRITE",
            Self::Control => "CONTROL",
            Self::All => "ALL",
        }
    }

    /// The operations it stands for.
    #[must_use]
    pub fn operations(self) -> BTreeSet<Operation> {
        Operation::ALL
            .iter()
            .copied()
            .filter(|op| match self {
                Self::Read => op.level() == Level::Read,
                Self::Execute => op.level() == Level::Execute,
                Self::Write => op.level() == Level::Write,
                Self::Control => op.in_cylc_control(),
                Self::All => true,
            })
            .collect()
    }
}

/// What one entry of a rights list names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RightTarget {
    /// One operation.
    Op(Operation),
    /// An access group.
    Group(AccessGroup),
}

/// One entry of a rights list: `trigger`, `!stop`, `READ`, `!ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Right {
    /// Whether it removes (`!`) rather than grants.
    pub negated: bool,
    /// What it names.
    pub target: RightTarget,
}

impl Right {
    /// The operations it names.
    #[must_use]
    pub fn operations(self) -> BTreeSet<Operation> {
        match self.target {
            RightTarget::Op(op) => BTreeSet::from([op]),
            RightTarget::Group(g) => g.operations(),
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        match self.target {
            RightTarget::Op(op) => f.write_str(op.name()),
            RightTarget::Group(g) => f.write_str(g.name()),
        }
    }
}

impl FromStr for Right {
    type Err = UnknownOperation;

    /// Access groups are upper case, as in Cylc (`READ` is the group, `read` the operation;
    /// both name the same single operation). Any number of leading `!` negate once.
    fn from_str(s: &str) -> Result<Self, UnknownOperation> {
        // Cylc strips every leading `!` (`"!!stop"` negates `stop`).
        let rest = s.trim_start_matches('!');
        let negated = rest.len() != s.len();
        let target = match AccessGroup::ALL.into_iter().find(|g| g.name() == rest) {
            Some(g) => RightTarget::Group(g),
            None => RightTarget::Op(rest.parse().map_err(|_| UnknownOperation(s.to_owned()))?),
        };
        Ok(Self { negated, target })
    }
}

/// The operations a list of rights grants and the operations it negates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Expanded {
    /// Named without `!`.
    pub grants: BTreeSet<Operation>,
    /// Named with `!`.
    pub negations: BTreeSet<Operation>,
}

impl Expanded {
    /// Expands rights.
    #[must_use]
    pub fn of(rights: &[Right]) -> Self {
        let mut e = Self::default();
        for r in rights {
            let ops = r.operations();
            if r.negated {
                e.negations.extend(ops);
            } else {
                e.grants.extend(ops);
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cylc_spellings_of_an_operation_all_parse_to_the_command_name() {
        for s in [
            "set-hold-point",
            "set_hold_point",
            "setHoldPoint",
            "SetHoldPoint",
            "SET_HOLD_POINT",
        ] {
            assert_eq!(s.parse::<Operation>(), Ok(Operation::SetHoldPoint), "{s}");
        }
        assert_eq!("Ext-trigger".parse::<Operation>(), Ok(Operation::ExtTrigger));
        assert_eq!("scan".parse::<Operation>(), Ok(Operation::Scan));
        assert_eq!("reinstall_reload".parse::<Operation>(), Ok(Operation::ReinstallReload));
        assert_eq!("trigerr".parse::<Operation>(), Err(UnknownOperation("trigerr".into())));
        assert_eq!(
            "RELeaseHOLdPoint".parse::<Operation>(),
            Err(UnknownOperation("RELeaseHOLdPoint".into()))
        );
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(*op));
        }
    }

    #[test]
    fn cylc_control_is_every_mutation_but_broadcast_and_not_read() {
        let control = AccessGroup::Control.operations();
        assert!(!control.contains(&Operation::Broadcast));
        assert!(!control.contains(&Operation::Read));
        assert!(control.contains(&Operation::Reload));
        assert!(control.contains(&Operation::Stop));
        assert_eq!(AccessGroup::All.operations().len(), Operation::ALL.len());
    }

    #[test]
    fn rights_parse_groups_only_in_upper_case_and_keep_negation() {
        let r: Right = "!CONTROL".parse().expect("parses");
        assert!(r.negated);
        assert_eq!(r.target, RightTarget::Group(AccessGroup::Control));
        let r: Right = "read".parse().expect("parses");
        assert_eq!(r.target, RightTarget::Op(Operation::Read));
        assert_eq!(r.to_string(), "read");
        assert_eq!("!Stop".parse::<Right>().map(|r| r.to_string()), Ok("!stop".into()));
        assert_eq!("all".parse::<Right>(), Err(UnknownOperation("all".into())));
        assert_eq!("!!stop".parse::<Right>().map(|r| r.to_string()), Ok("!stop".into()));
        assert_eq!("!!READ".parse::<Right>().map(|r| r.to_string()), Ok("!READ".into()));
    }

    #[test]
    fn cylc_snake_case_converts_as_graphene_does() {
        for (given, want) in [
            ("ReleaseHoldPoint", "release_hold_point"),
            ("SetGraphWindowExtent", "set_graph_window_extent"),
            ("release_hold_point", "release_hold_point"),
            ("RELeaseHOLdPoint", "re_lease_ho_ld_point"),
            ("SEtGRAPhWINDOwEXTENt", "s_et_gra_ph_wind_ow_exte_nt"),
            ("aBC", "a_bc"),
            ("ABCdef", "ab_cdef"),
            ("a1B", "a1_b"),
            ("Release_Hold_Point", "release__hold__point"),
            ("setHoldPoint", "set_hold_point"),
            ("STOP", "stop"),
            ("set-hold-point", "set-hold-point"),
        ] {
            assert_eq!(cylc_snake_case(given), want, "{given}");
        }
    }

    #[test]
    fn threatchecks_execute_and_write_groups_are_the_operations_of_those_levels() {
        let write: Vec<&str> = AccessGroup::Write
            .operations()
            .into_iter()
            .map(Operation::name)
            .collect();
        assert_eq!(
            write,
            [
                "reload",
                "reinstall-reload",
                "reinstall-restart",
                "broadcast",
                "edit-trigger",
                "edit-config"
            ]
        );
        let execute = AccessGroup::Execute.operations();
        assert!(execute.iter().all(|op| op.level() == Level::Execute));
        assert_eq!(execute.len() + write.len() + 1, Operation::ALL.len());
        assert_eq!(AccessGroup::Read.operations(), [Operation::Read].into());
    }

    #[test]
    fn levels_are_ordered_and_each_operation_has_one() {
        assert!(Level::Read < Level::Execute && Level::Execute < Level::Write);
        assert_eq!(Operation::Read.level(), Level::Read);
        assert_eq!(Operation::Stop.level(), Level::Execute);
        assert_eq!(Operation::EditTrigger.level(), Level::Write);
        assert_eq!("EXECUTE".parse::<Level>(), Ok(Level::Execute));
    }
}
