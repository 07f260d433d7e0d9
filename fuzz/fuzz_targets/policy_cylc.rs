//! Policy directories in Cylc's JSON format (`site.json` for `site_authorization`,
//! `users/OWNER.json` for `user_authorization`), mixed with TOML layers where a path says so:
//! see `common/policy.rs` for the input format and the checks of threatcheck's reading.
//!
//! The same files are then read as real Cylc reads them (`protocol_people::cylc`) and, for
//! every owner key and user file named and a few fixed people: building an owner's view never
//! panics (Cylc's constructor failing is an error value); the owner may do every operation of
//! the version; a name that is not an operation after `to_snake_case` is refused for anyone;
//! `decide` agrees with `permitted`;
//! explanations render; `lint` never panics.
#![no_main]

#[path = "common/policy.rs"]
mod policy;

use protocol_people::cylc::{CylcAuthorization, CylcPolicy, CylcReason, CylcVersion, lint};
use protocol_people::policy::PolicyFile;

const ODD_OPS: [&str; 4] = ["setHoldPoint", "RELeaseHOLdPoint", "set-hold-point", "STOP"];

fn cylc(data: &[u8]) {
    let files: Vec<PolicyFile> = policy::files(data, "json");
    let Ok(cylc) = CylcPolicy::from_files(files.iter().map(|f| (f.path.as_str(), f.text.as_str()))) else {
        return;
    };
    let version = CylcVersion::LATEST;
    let mut owners: Vec<String> = cylc.site.owners.iter().map(|o| o.key.clone()).take(4).collect();
    owners.extend(cylc.users.keys().take(4).cloned());
    owners.push("nobody_named".into());
    let people = ["*", "bob", "user1", "group:groupA"];
    for owner in &owners {
        let groups = vec!["group:grp_of_svr_owners".to_owned()];
        let Ok(auth) = CylcAuthorization::new(version, owner, &groups, &cylc.site, &cylc.user_conf(owner)) else {
            continue;
        };
        for op in version.operations() {
            assert!(auth.decide(owner, &[], op).allowed, "the owner {owner} may not {op}");
        }
        for user in people {
            let groups = vec!["group:groupA".to_owned(), String::new()];
            // A permitted set may hold strings that are no operation (`CONTSOL` as both limit and
            // grant): Cylc keeps them, and no request can name them.
            let permitted = auth.permitted(user, &groups);
            for op in version.operations().iter().copied().chain(ODD_OPS) {
                let d = auth.decide(user, &groups, op);
                let _ = d.to_string();
                if user == owner {
                    continue;
                }
                match (&d.reason, &permitted) {
                    (CylcReason::NotAnOperation { .. }, _) => assert!(!version.is_operation(&d.op)),
                    (CylcReason::Raised(_), Err(_)) => assert!(!d.allowed),
                    (_, Ok(p)) => assert_eq!(d.allowed, p.ops.contains(&d.op), "{user} {op}"),
                    (r, Err(e)) => panic!("{user} {op}: {r:?} although permitted raised {e:?}"),
                }
            }
            let _ = auth.explain(user, &[], "stop").to_string();
        }
    }
    // The lint asks about every owner × person the files name: keep executions cheap.
    if data.len() <= 1024 {
        let _ = lint::lint(&files, None, version);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    policy::run(data, "json");
    cylc(data);
});
