//! The TOML policy files.
//!
//! `site.toml`:
//! ```toml
//! # [site.OWNERS.PEOPLE]: OWNERS is whose workflows, PEOPLE who acts;
//! # each is "*", a user name or "group:NAME".
//! [site."*"."*"]
//! default = ["READ", "stop", "play"]
//! limit = ["READ", "EXECUTE"]
//! ```
//! `users/OWNER.toml` and `workflows/OWNER/NAME.toml`:
//! ```toml
//! [grants]
//! "group:ocean_team" = ["READ"]
//! "*" = []
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::{GrantRule, PolicyError, RuleRef, SiteRule, line_of, line_text};
use crate::names::Subject;
use crate::ops::Right;

type Rights = Vec<Spanned<String>>;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    #[serde(default)]
    site: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, SiteEntry>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteEntry {
    default: Option<Rights>,
    limit: Option<Rights>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    #[serde(default)]
    grants: BTreeMap<Spanned<String>, Rights>,
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn line(&self, span: &Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    pub(super) fn subject(&self, key: &str, line: usize, field: &str) -> Result<Subject, PolicyError> {
        key.parse()
            .map_err(|e: crate::names::NameError| PolicyError::BadSubject {
                file: self.file.to_owned(),
                line,
                field: field.to_owned(),
                value: key.to_owned(),
                reason: e.to_string(),
            })
    }

    pub(super) fn right(&self, value: &str, line: usize, field: &str) -> Result<Right, PolicyError> {
        value.parse().map_err(|_| PolicyError::UnknownRight {
            file: self.file.to_owned(),
            line,
            field: field.to_owned(),
            value: value.to_owned(),
        })
    }

    fn rights(&self, rights: &Rights, field: &str) -> Result<Vec<Right>, PolicyError> {
        rights
            .iter()
            .map(|r| self.right(r.get_ref(), self.line(&r.span()), field))
            .collect()
    }

    fn syntax(&self, e: &toml::de::Error) -> PolicyError {
        let line = e.span().map_or(1, |s| self.line(&s));
        PolicyError::Syntax {
            file: self.file.to_owned(),
            line,
            message: e.message().trim().to_owned(),
            near: line_text(self.text, line),
        }
    }
}

/// Parses `site.toml`.
pub(super) fn parse_site(file: &str, text: &str) -> Result<Vec<SiteRule>, PolicyError> {
    let ctx = Ctx { file, text };
    let parsed: SiteFile = toml::from_str(text).map_err(|e| ctx.syntax(&e))?;
    let mut rules = Vec::new();
    for (owners_key, people) in &parsed.site {
        let owners_line = ctx.line(&owners_key.span());
        let owners_field = format!("site.\"{}\"", owners_key.get_ref());
        let owners = ctx.subject(owners_key.get_ref(), owners_line, &owners_field)?;
        for (who_key, entry) in people {
            let line = ctx.line(&who_key.span());
            let field = format!("{owners_field}.\"{}\"", who_key.get_ref());
            let who = ctx.subject(who_key.get_ref(), line, &field)?;
            let default = match &entry.default {
                Some(r) => Some(ctx.rights(r, &format!("{field}.default"))?),
                None => None,
            };
            let limit = match &entry.limit {
                Some(r) => Some(ctx.rights(r, &format!("{field}.limit"))?),
                None => None,
            };
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

/// Parses `users/OWNER.toml` or `workflows/OWNER/NAME.toml`.
pub(super) fn parse_grants(file: &str, text: &str) -> Result<Vec<GrantRule>, PolicyError> {
    let ctx = Ctx { file, text };
    let parsed: GrantFile = toml::from_str(text).map_err(|e| ctx.syntax(&e))?;
    let mut rules = Vec::new();
    for (who_key, rights) in &parsed.grants {
        let line = ctx.line(&who_key.span());
        let field = format!("grants.\"{}\"", who_key.get_ref());
        let who = ctx.subject(who_key.get_ref(), line, &field)?;
        let rights = ctx.rights(rights, &field)?;
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

    #[test]
    fn an_unknown_operation_is_reported_with_file_line_and_field() {
        let text = "[grants]\n\"*\" = [\"READ\"]\n\"group:ops\" = [\"READ\",\n  \"trigerr\"]\n";
        let err = parse_grants("users/bob.toml", text).expect_err("refused");
        assert_eq!(
            err,
            PolicyError::UnknownRight {
                file: "users/bob.toml".into(),
                line: 4,
                field: "grants.\"group:ops\"".into(),
                value: "trigerr".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "users/bob.toml:4: grants.\"group:ops\": unknown operation or access group \"trigerr\""
        );
    }

    #[test]
    fn an_unknown_field_is_a_syntax_error_on_its_line() {
        let text = "[site.\"*\".\"*\"]\ndefault = [\"READ\"]\nlimmit = [\"ALL\"]\n";
        let err = parse_site("site.toml", text).expect_err("refused");
        match err {
            PolicyError::Syntax {
                file,
                line,
                message,
                near,
            } => {
                assert_eq!(
                    (file.as_str(), line, near.as_str()),
                    ("site.toml", 3, "limmit = [\"ALL\"]")
                );
                assert!(message.contains("limmit"), "{message}");
            }
            other => panic!("wrong error {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_is_a_syntax_error_showing_the_line_with_the_field() {
        let err = parse_grants("users/bob.toml", "[grants]\n\"*\" = \"READ\"\n").expect_err("refused");
        assert!(
            matches!(&err, PolicyError::Syntax { line: 2, near, .. } if near == "\"*\" = \"READ\""),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("users/bob.toml:2: "), "{err}");
    }

    #[test]
    fn a_bad_subject_names_its_field() {
        let text = "[site.\"*\".\"group:\"]\ndefault = [\"READ\"]\n";
        let err = parse_site("site.toml", text).expect_err("refused");
        assert!(
            matches!(&err, PolicyError::BadSubject { line: 1, field, .. } if field == "site.\"*\".\"group:\""),
            "{err:?}"
        );
    }

    #[test]
    fn site_rules_keep_default_and_limit_apart() {
        let text = "[site.\"*\".\"*\"]\ndefault = [\"READ\"]\n\n[site.\"*\".\"group:ops\"]\nlimit = [\"ALL\"]\n";
        let rules = parse_site("site.toml", text).expect("parses");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].limit, None);
        assert_eq!(rules[0].effective_limit().len(), 1);
        assert_eq!(rules[1].default, None);
        assert_eq!(rules[1].at.line, 4);
    }
}
