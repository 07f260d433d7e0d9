//! Cylc's own authorisation settings, as JSON, read with threatcheck's semantics (what Cylc's
//! documentation describes), so a site can check its real configuration. `threatcheck authz
//! --semantics cylc` ([`crate::cylc`]) reads the same files as cylc-uiserver's code does.
//!
//! `site.json` holds `c.CylcUIServer.site_authorization` (`{OWNER: {USER: {"default": …,
//! "limit": …}}}`), `users/OWNER.json` holds that owner's `c.CylcUIServer.user_authorization`
//! (`{USER: […]}`). Values are a string or a list of strings: operations (Cylc's spellings in
//! any case, as its user guide writes `"Trigger"`), `READ`, `CONTROL`, `ALL`, their `!`
//! negations (any number of `!` negate once, as Cylc strips them all) and `""` (nothing; an
//! entry that is only `""` does not name the person, so the site default applies, as in Cylc).
//! Names are any user or group name ([`crate::names`]). Refused, with file and line: what Cylc
//! itself fails on (a value that is not a string or a list of strings, an object that is not
//! one, `[]`), and, because an ignored restriction is a hole, an unknown field or operation
//! (`lint-cylc` shows what Cylc does with those).

use super::json::{self, Json, Member, Value};
use super::toml_format::Ctx;
use super::{GrantRule, PolicyError, RuleRef, SiteRule, line_text};
use crate::ops::Right;

fn syntax(file: &str, text: &str, line: usize, message: String) -> PolicyError {
    PolicyError::Syntax {
        file: file.to_owned(),
        line,
        message,
        near: line_text(text, line),
    }
}

/// The members of a document that must be an object.
pub(crate) fn parse_object(file: &str, text: &str) -> Result<Vec<Member>, PolicyError> {
    match json::parse(text) {
        Ok(Json {
            value: Value::Object(members),
            ..
        }) => Ok(members),
        Ok(j) => Err(syntax(
            file,
            text,
            j.line,
            format!("expected a JSON object, not {}", j.value.kind()),
        )),
        Err(e) => Err(syntax(file, text, e.line, e.message)),
    }
}

/// The strings of a rights value (a string or a non-empty list of strings).
pub(crate) fn strings<'v>(
    file: &str,
    text: &str,
    value: &'v Json,
    field: &str,
) -> Result<Vec<(&'v str, usize)>, PolicyError> {
    match &value.value {
        Value::Str(s) => Ok(vec![(s.as_str(), value.line)]),
        Value::Array(items) if items.is_empty() => Err(PolicyError::CylcEmptyList {
            file: file.to_owned(),
            line: value.line,
            field: field.to_owned(),
        }),
        Value::Array(items) => items
            .iter()
            .map(|j| match &j.value {
                Value::Str(s) => Ok((s.as_str(), j.line)),
                other => Err(syntax(
                    file,
                    text,
                    j.line,
                    format!("{field}: expected strings, not {}", other.kind()),
                )),
            })
            .collect(),
        other => Err(syntax(
            file,
            text,
            value.line,
            format!("{field}: expected a string or a list of strings, not {}", other.kind()),
        )),
    }
}

fn rights(ctx: &Ctx<'_>, value: &Json, field: &str) -> Result<Vec<Right>, PolicyError> {
    strings(ctx.file, ctx.text, value, field)?
        .into_iter()
        .filter(|(s, _)| !s.is_empty())
        .map(|(s, line)| ctx.right(s, line, field))
        .collect()
}

/// Parses Cylc's `site_authorization`.
pub(super) fn parse_site(file: &str, text: &str) -> Result<Vec<SiteRule>, PolicyError> {
    let ctx = Ctx { file, text };
    let mut rules = Vec::new();
    for owners_m in parse_object(file, text)? {
        let owners_field = format!("\"{}\"", owners_m.key);
        let owners = ctx.subject(&owners_m.key, owners_m.line, &owners_field)?;
        let Value::Object(people) = &owners_m.value.value else {
            return Err(syntax(
                file,
                text,
                owners_m.value.line,
                format!(
                    "{owners_field}: expected an object, not {}",
                    owners_m.value.value.kind()
                ),
            ));
        };
        for who_m in people {
            let field = format!("{owners_field}.\"{}\"", who_m.key);
            let who = ctx.subject(&who_m.key, who_m.line, &field)?;
            let Value::Object(entry) = &who_m.value.value else {
                return Err(syntax(
                    file,
                    text,
                    who_m.value.line,
                    format!(
                        "{field}: expected {{\"default\": …, \"limit\": …}}, not {}",
                        who_m.value.value.kind()
                    ),
                ));
            };
            let (mut default, mut limit) = (None, None);
            for m in entry {
                let sub = format!("{field}.{}", m.key);
                match m.key.as_str() {
                    "default" => default = Some(rights(&ctx, &m.value, &sub)?),
                    "limit" => limit = Some(rights(&ctx, &m.value, &sub)?),
                    _ => {
                        return Err(syntax(
                            file,
                            text,
                            m.line,
                            format!("{field}: unknown field `{}`, expected `default` or `limit`", m.key),
                        ));
                    }
                }
            }
            rules.push(SiteRule {
                at: RuleRef {
                    file: file.to_owned(),
                    line: who_m.line,
                    field,
                },
                owners: owners.clone(),
                who,
                default,
                limit,
            });
        }
    }
    rules.sort_by_key(|r| r.at.line);
    Ok(rules)
}

/// Parses Cylc's `user_authorization` of one owner.
pub(super) fn parse_grants(file: &str, text: &str) -> Result<Vec<GrantRule>, PolicyError> {
    let ctx = Ctx { file, text };
    let mut rules = Vec::new();
    for m in parse_object(file, text)? {
        let field = format!("\"{}\"", m.key);
        let who = ctx.subject(&m.key, m.line, &field)?;
        let rights = rights(&ctx, &m.value, &field)?;
        // As in Cylc, a value that is only "" does not name the person: the site default
        // applies. (`rights` holds one right per non-empty string, and `[]` is refused.)
        if rights.is_empty() {
            continue;
        }
        rules.push(GrantRule {
            at: RuleRef {
                file: file.to_owned(),
                line: m.line,
                field,
            },
            who,
            rights,
        });
    }
    rules.sort_by_key(|r| r.at.line);
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{AccessGroup, RightTarget};

    /// The example from Cylc's own documentation of `site_authorization`.
    const CYLC_DOC_SITE: &str = r#"{
  "*": {
    "*": {"default": "READ"},
    "user1": {"default": ["!ALL"]}
  },
  "server_owner_1": {
    "*": {"default": "READ", "limit": ["READ", "CONTROL"]}
  },
  "server_owner_2": {
    "user2": {"limit": "ALL"},
    "group:groupA": {"default": ["READ", "CONTROL"]}
  },
  "group:grp_of_svr_owners": {
    "group:groupB": {"default": "READ", "limit": ["READ", "CONTROL", "!stop", "!kill"]}
  }
}"#;

    #[test]
    fn the_cylc_documentation_site_example_parses_with_single_strings_and_lists() {
        let rules = parse_site("site.json", CYLC_DOC_SITE).expect("parses");
        assert_eq!(rules.len(), 6);
        let b = rules
            .iter()
            .find(|r| r.who.to_string() == "group:groupB")
            .expect("present");
        let limit = b.limit.as_ref().expect("limit");
        assert_eq!(limit.len(), 4);
        assert_eq!(limit[1].target, RightTarget::Group(AccessGroup::Control));
        assert!(limit[2].negated);
        assert_eq!(b.at.line, 14);
    }

    #[test]
    fn an_empty_list_is_refused_as_cylc_refuses_it() {
        let err = parse_grants("users/bob.json", "{\n  \"user2\": []\n}").expect_err("refused");
        assert_eq!(
            err,
            PolicyError::CylcEmptyList {
                file: "users/bob.json".into(),
                line: 2,
                field: "\"user2\"".into()
            }
        );
    }

    #[test]
    fn the_cylc_documentation_user_example_parses_mixed_case_operations() {
        let text = r#"{"*": ["READ"], "group:groupA": ["CONTROL"], "user1": ["read", "pause", "!play"], "user2": ["!ALL"], "user3": ["READ", "Trigger"]}"#;
        let rules = parse_grants("users/bob.json", text).expect("parses");
        assert_eq!(rules.len(), 5);
    }

    #[test]
    fn names_cylc_accepts_load_and_empty_strings_and_double_negations_read_as_cylc_reads_them() {
        let site = r#"{"jane.doe": {"group:Domain Users": {"default": "READ"}, "john.smith": {"default": ["", "!!stop", "CONTROL"]}}}"#;
        let rules = parse_site("site.json", site).expect("parses");
        assert_eq!(rules.len(), 2);
        let john = rules
            .iter()
            .find(|r| r.who.to_string() == "john.smith")
            .expect("present");
        let d = john.default.as_ref().expect("default");
        assert_eq!(
            d.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["!stop", "CONTROL"]
        );
        let grants = parse_grants(
            "users/jane.doe.json",
            "{\"Alice\": \"\",\n\"group:ops@example.org\": [\"scan\"]}",
        )
        .expect("parses");
        assert_eq!(
            grants.len(),
            1,
            "Alice's \"\" does not name her: the site default applies"
        );
        assert_eq!(grants[0].at.line, 2);
    }

    #[test]
    fn a_value_cylc_would_fail_on_is_refused_with_its_line() {
        let err = parse_grants("users/bob.json", "{\"a\": \"READ\",\n \"b\": [\"READ\", 3]}").expect_err("refused");
        assert!(
            matches!(&err, PolicyError::Syntax { line: 2, message, .. } if message.contains("not a number")),
            "{err:?}"
        );
        let err = parse_site("site.json", "{\"*\":\n \"READ\"}").expect_err("refused");
        assert!(matches!(&err, PolicyError::Syntax { line: 2, .. }), "{err:?}");
    }

    #[test]
    fn an_unknown_key_in_a_site_entry_is_refused() {
        let err = parse_site("site.json", r#"{"*": {"*": {"defualt": "READ"}}}"#).expect_err("refused");
        assert!(
            matches!(&err, PolicyError::Syntax { message, .. } if message.contains("defualt")),
            "{err:?}"
        );
    }
}
