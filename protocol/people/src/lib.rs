//! People acting on workflows: authorisation, sessions with elevation, and the audit log.
//!
//! Seed 001's model: a person (say `jacintar`) acts on another user's workflows
//! (`atmosphere_stage`'s) through a gateway. What they may do comes from three policy layers;
//! their session is read-only until they re-authenticate to raise it for a short time; every
//! attempt is written to a tamper-evident audit log before anything happens.
//!
//! Everything is a sans-IO core (time is passed in as [`protocol_core::time::Millis`],
//! randomness through `rand_core`, state is `Clone + Eq + Hash` over `BTreeMap`s) except the
//! edges that read policy, group and user files and write the audit log.
//!
//! | module | what |
//! |---|---|
//! | [`ops`] | operations (`stop`, `trigger`, `edit-trigger`…), the level each needs, rights (`!trigger`, `READ`, `CONTROL`, `ALL`) |
//! | [`names`], [`groups`] | subjects (`user`, `group:NAME`, `*`); group membership from a file or the system |
//! | [`policy`] | the site, owner and workflow layers; loading a policy directory (TOML, or Cylc's JSON) |
//! | [`authz`] | [`authz::Authorizer::decide`], `permitted_ops`, `explain` |
//! | [`session`] | login, tokens, audience, expiry, revocation, elevation |
//! | [`audit`] | records, their human lines, the MAC chain, the head anchor, [`audit::verify`] |
//! | [`gate`] | the three together: authenticate → decide → record → [`gate::Permit`] |
//! | [`checks`] | the named defences, removable one at a time with the `weaken` feature |
//!
//! # Precedence
//!
//! See [`authz`]: a broken policy denies everything; owners may do everything to their own
//! workflows; otherwise the most specific layer that names the person (workflow, then owner,
//! then site default) decides, negations beating grants within it; the site limit caps the
//! result; and the session's level must reach the operation's level.
//!
//! # Where this differs from Cylc's UI server
//!
//! The structure is Cylc's (`site_authorization` with per-owner, per-user `default` and
//! `limit`; `user_authorization`; `READ`, `CONTROL`, `ALL`; `!op`; `group:NAME`; `*`), and
//! Cylc's own JSON can be loaded (`site.json`, `users/OWNER.json`). The semantics differ in:
//!
//! * **The site limit cannot be lifted by owners.** In Cylc the UI server runs as the owner,
//!   who controls its configuration and can bypass the limit; here the limit is enforced by a
//!   gateway the owner does not run.
//! * **A workflow layer**, below the owner layer (Cylc authorises per owner only).
//! * **Levels and elevation.** Operations have a level (Read, Execute, Write) and a session
//!   must be elevated, with the password again and for a limited time, to perform Execute or
//!   Write operations. Cylc has no such notion. `reload`, in Cylc's `CONTROL` group, needs
//!   Write here, because it applies changed configuration.
//! * **Fail closed.** An unknown operation name, an unknown key, a stray file or an empty list
//!   in a Cylc-format file refuses the whole policy; Cylc ignores unknown names (which then
//!   simply never match) and raises only for `[]`. Our TOML format allows `[]`, meaning "named,
//!   granted nothing".
//! * **Extra operations.** `edit-trigger` and `edit-config` have no Cylc 8 mutation; they are in
//!   `ALL` (and `WRITE`), not in `CONTROL`. `EXECUTE` and `WRITE` are our access groups.
//! * **Spelling.** Operations are printed as Cylc's command names (`set-hold-point`); the
//!   mutation (`setHoldPoint`) and authorisation (`set_hold_point`) spellings are accepted.

pub mod audit;
pub mod authz;
pub mod checks;
pub mod cylc;
pub mod gate;
pub mod groups;
pub mod names;
pub mod ops;
pub mod policy;
pub mod session;

pub use authz::{Authorizer, Decision, DenyReason};
pub use checks::{PeopleCheck, PeopleDefences};
pub use groups::{Person, WorkflowRef};
pub use ops::{Level, Operation};
pub use policy::{Policy, PolicyError};

/// Whether this crate was compiled with the `weaken` feature (a verification build, in which
/// defences can be removed). The deployed servers refuse to start when it is true.
pub const WEAKEN_COMPILED: bool = cfg!(feature = "weaken");
