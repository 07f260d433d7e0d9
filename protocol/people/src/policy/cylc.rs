//! Cylc's own authorisation settings, as JSON, so a site can check its real configuration.
//!
//! `site.json` holds `c.CylcUIServer.site_authorization` (`{OWNER: {USER: {"default": …,
//! "limit": …}}}`), `users/OWNER.json` holds that owner's `c.CylcUIServer.user_authorization`
//! (`{USER: […]}`). Values are a string or a list of strings: operations (any Cylc spelling),
//! `READ`, `CONTROL`, `ALL`, and their `!` negations. Where Cylc would raise (an empty list) we
//! refuse too; where Cylc silently ignores (an unknown key or operation) we refuse, because an
//! ignored restriction is a hole. JSON parsers keep no positions, so the line of a semantic
//! error is that of the first matching key (best effort).

use serde_json::Value;

use super::toml_format::Ctx;
use super::{GrantRule, PolicyError, RuleRef, SiteRule, line_of, line_text};
use crate::ops::Right;

fn syntax(file: &str, text: &str, line: usize, message: String) -> PolicyError {
    PolicyError::Syntax {
        file: file.to_owned(),
        line,
        message,
        near: line_text(text, line),
    }
}

/// The line of the last of `keys`, each searched for after the previous one.
fn locate(text: &str, keys: &[&str]) -> usize {
    let mut at = 0;
    for key in keys {
        let quoted = format!("\"{key}\"");
        match text.get(at..).and_then(|rest| rest.find(&quoted)) {
            Some(i) => at += i + quoted.len(),
            None => break,
        }
    }
    line_of(text, at)
}

fn parse_json(file: &str, text: &str) -> Result<serde_json::Map<String, Value>, PolicyError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(syntax(file, text, 1, "expected a JSON object".into())),
        Err(e) => Err(syntax(file, text, e.line(), e.to_string())),
    }
}

fn rights(ctx: &Ctx<'_>, value: &Value, keys: &[&str], field: &str) -> Result<Vec<Right>, PolicyError> {
    let line = locate(ctx.text, keys);
    let strings: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) if items.is_empty() => {
            return Err(PolicyError::CylcEmptyList {
                file: ctx.file.to_owned(),
                line,
                field: field.to_owned(),
            });
        }
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| syntax(ctx.file, ctx.text, line, format!("{field}: expected strings")))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(syntax(
                ctx.file,
                ctx.text,
                line,
                format!("{field}: expected a string or a list of strings"),
            ));
        }
    };
    strings.into_iter().map(|s| ctx.right(s, line, field)).collect()
}

/// Parses Cylc's `site_authorization`.
pub(super) fn parse_site(file: &str, text: &str) -> Result<Vec<SiteRule>, PolicyError> {
    let ctx = Ctx { file, text };
    let mut rules = Vec::new();
    for (owner_key, people) in parse_json(file, text)? {
        let owners_field = format!("\"{owner_key}\"");
        let owners = ctx.subject(&owner_key, locate(text, &[&owner_key]), &owners_field)?;
        let Value::Object(people) = people else {
            return Err(syntax(
                file,
                text,
                locate(text, &[&owner_key]),
                format!("{owners_field}: expected an object"),
            ));
        };
        for (who_key, entry) in people {
            let keys = [owner_key.as_str(), who_key.as_str()];
            let line = locate(text, &keys);
            let field = format!("{owners_field}.\"{who_key}\"");
            let who = ctx.subject(&who_key, line, &field)?;
            let Value::Object(entry) = entry else {
                return Err(syntax(
                    file,
                    text,
                    line,
                    format!("{field}: expected {{\"default\": …, \"limit\": …}}"),
                ));
            };
            let (mut default, mut limit) = (None, None);
            for (k, v) in &entry {
                let at = [owner_key.as_str(), who_key.as_str(), k.as_str()];
                let sub = format!("{field}.{k}");
                match k.as_str() {
                    "default" => default = Some(rights(&ctx, v, &at, &sub)?),
                    "limit" => limit = Some(rights(&ctx, v, &at, &sub)?),
                    _ => {
                        return Err(syntax(
                            file,
                            text,
                            locate(text, &at),
                            format!("{field}: unknown field `{k}`, expected `default` or `limit`"),
                        ));
                    }
                }
            }
            let at = RuleRef {
                file: file.to_owned(),
                line,
                field,
            };
            rules.push(SiteRule {
                at,
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
    for (who_key, value) in parse_json(file, text)? {
        let line = locate(text, &[&who_key]);
        let field = format!("\"{who_key}\"");
        let who = ctx.subject(&who_key, line, &field)?;
        let rights = rights(&ctx, &value, &[&who_key], &field)?;
        rules.push(GrantRule {
            at: RuleRef {
                file: file.to_owned(),
                line,
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
    fn an_unknown_key_in_a_site_entry_is_refused() {
        let err = parse_site("site.json", r#"{"*": {"*": {"defualt": "READ"}}}"#).expect_err("refused");
        assert!(
            matches!(&err, PolicyError::Syntax { message, .. } if message.contains("defualt")),
            "{err:?}"
        );
    }
}
