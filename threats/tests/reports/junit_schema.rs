//! `junit.xml` against the Jenkins xunit-plugin schema `junit-10.xsd` (vendored in
//! `tests/schemas/`), and its times, case names and case counts.
//!
//! No XSD validator for Rust is worth a dependency, so [`Schema`] is a small one for exactly the
//! constructs that file uses: global `xs:element`s with an inline `xs:complexType` or a `type`,
//! named `xs:complexType`s and `xs:simpleType`s (a restriction of `xs:string` by `xs:pattern`),
//! `xs:sequence` and `xs:choice` with `minOccurs`/`maxOccurs`, `xs:element ref=` and local
//! `xs:element name= type=`, `xs:attribute` with `use="required"`, and `mixed` content. It reads
//! its rules from the schema file and refuses (panics on) any construct or attribute of the
//! schema it does not know, rather than ignore a rule. Attributes the schema does not declare
//! are errors (it has no `xs:anyAttribute`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use roxmltree::{Document, Node, NodeType};
use threats::Results;
use threats::lint::{LintFinding, Rule, Severity};
use threats::model::Location;
use threats::report::{self, RenderOptions};

use crate::threat_fixtures as fx;

const XS: &str = "http://www.w3.org/2001/XMLSchema";

// --- the schema -------------------------------------------------------------------------

/// A simple type: `xs:string`, or a named restriction of it by patterns (a value must match
/// one of them, as XSD ORs the patterns of one restriction).
#[derive(Debug, Clone)]
enum SimpleType {
    String,
    Restricted {
        name: String,
        patterns: Vec<(String, Regex)>,
    },
}

#[derive(Debug, Clone)]
struct AttributeDecl {
    name: String,
    ty: SimpleType,
    required: bool,
}

#[derive(Debug, Clone)]
struct ComplexType {
    mixed: bool,
    particle: Option<Particle>,
    attributes: Vec<AttributeDecl>,
}

#[derive(Debug, Clone)]
enum ContentType {
    Simple(SimpleType),
    Complex(ComplexType),
}

#[derive(Debug, Clone)]
struct ElementDecl {
    name: String,
    content: ContentType,
}

#[derive(Debug, Clone)]
enum Term {
    /// `xs:element ref=`: a global declaration, looked up when validating (it may recurse).
    Ref(String),
    /// `xs:element name= type=` inside a content model.
    Local(Box<ElementDecl>),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
}

impl Term {
    /// The element name an element term matches.
    fn element_name(&self) -> Option<&str> {
        match self {
            Self::Ref(name) => Some(name),
            Self::Local(decl) => Some(&decl.name),
            Self::Sequence(_) | Self::Choice(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Particle {
    min: usize,
    /// `None`: unbounded.
    max: Option<usize>,
    term: Term,
}

#[derive(Debug)]
struct Schema {
    elements: BTreeMap<String, ElementDecl>,
}

fn unsupported(node: Node<'_, '_>, what: &str) -> ! {
    let pos = node.document().text_pos_at(node.range().start);
    panic!(
        "junit-10.xsd line {}: unsupported XSD construct: {what} (<{}>)",
        pos.row,
        node.tag_name().name()
    )
}

fn is_xs(node: Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(XS) && node.tag_name().name() == name
}

/// The element children of a schema node (comments and whitespace skipped; text refused).
fn xs_children<'a, 'i>(node: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    node.children()
        .filter(|c| match c.node_type() {
            NodeType::Element => true,
            NodeType::Text => {
                if !c.text().unwrap_or("").trim().is_empty() {
                    unsupported(node, "text inside a schema element");
                }
                false
            }
            _ => false,
        })
        .inspect(|c| {
            if c.tag_name().namespace() != Some(XS) {
                unsupported(*c, "an element outside the XML Schema namespace");
            }
        })
        .collect()
}

/// Refuses any attribute of `node` not in `known`.
fn only_attributes(node: Node<'_, '_>, known: &[&str]) {
    for a in node.attributes() {
        if a.namespace().is_some() || !known.contains(&a.name()) {
            unsupported(node, &format!("attribute {}", a.name()));
        }
    }
}

/// A QName attribute value resolved against the node's namespaces: (namespace, local name).
fn qname<'a>(node: Node<'a, '_>, value: &'a str) -> (Option<&'a str>, &'a str) {
    match value.split_once(':') {
        Some((prefix, local)) => match node.lookup_namespace_uri(Some(prefix)) {
            Some(ns) => (Some(ns), local),
            None => unsupported(node, &format!("undeclared prefix {prefix}")),
        },
        None => (node.lookup_namespace_uri(None), value),
    }
}

fn occurs(node: Node<'_, '_>) -> (usize, Option<usize>) {
    let number = |v: &str| {
        v.parse::<usize>()
            .unwrap_or_else(|_| unsupported(node, &format!("occurrence {v:?}")))
    };
    let min = node.attribute("minOccurs").map_or(1, number);
    let max = match node.attribute("maxOccurs") {
        None => Some(1),
        Some("unbounded") => None,
        Some(v) => Some(number(v)),
    };
    (min, max)
}

struct SchemaReader<'a, 'i> {
    simple: BTreeMap<&'a str, Node<'a, 'i>>,
    complex: BTreeMap<&'a str, Node<'a, 'i>>,
}

impl<'a, 'i> SchemaReader<'a, 'i> {
    fn simple_type_by_name(&self, at: Node<'a, 'i>, value: &str) -> SimpleType {
        match qname(at, value) {
            (Some(XS), "string") => SimpleType::String,
            (Some(XS), other) => unsupported(at, &format!("built-in type xs:{other}")),
            (None, name) => match self.simple.get(name) {
                Some(node) => Self::simple_type(*node),
                None => unsupported(at, &format!("unknown simple type {name}")),
            },
            (Some(ns), name) => unsupported(at, &format!("type {name} in namespace {ns}")),
        }
    }

    fn simple_type(node: Node<'a, 'i>) -> SimpleType {
        only_attributes(node, &["name"]);
        let name = node.attribute("name").unwrap_or("(anonymous)").to_owned();
        let [restriction] = xs_children(node)[..] else {
            unsupported(node, "a simple type that is not one xs:restriction")
        };
        if !is_xs(restriction, "restriction") {
            unsupported(restriction, "a simple type other than a restriction");
        }
        only_attributes(restriction, &["base"]);
        if restriction.attribute("base").map(|b| qname(restriction, b)) != Some((Some(XS), "string")) {
            unsupported(restriction, "a restriction of anything but xs:string");
        }
        let patterns = xs_children(restriction)
            .into_iter()
            .map(|facet| {
                if !is_xs(facet, "pattern") {
                    unsupported(facet, "a facet other than xs:pattern");
                }
                only_attributes(facet, &["value"]);
                let value = facet
                    .attribute("value")
                    .unwrap_or_else(|| unsupported(facet, "a pattern without a value"));
                // XSD patterns match the whole value; this file's syntax (groups, `|`, `*`,
                // `?`, `{m,n}`, `[0-9]`, `\.`) means the same to the regex crate.
                let re = Regex::new(&format!("^(?:{value})$"))
                    .unwrap_or_else(|e| unsupported(facet, &format!("pattern {value:?}: {e}")));
                (value.to_owned(), re)
            })
            .collect();
        SimpleType::Restricted { name, patterns }
    }

    fn complex_type(&self, node: Node<'a, 'i>) -> ComplexType {
        only_attributes(node, &["name", "mixed"]);
        let mixed = match node.attribute("mixed") {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => unsupported(node, &format!("mixed={v:?}")),
        };
        let mut particle = None;
        let mut attributes = Vec::new();
        for child in xs_children(node) {
            if is_xs(child, "attribute") {
                only_attributes(child, &["name", "type", "use"]);
                let name = child
                    .attribute("name")
                    .unwrap_or_else(|| unsupported(child, "an attribute without a name"));
                let ty = child
                    .attribute("type")
                    .unwrap_or_else(|| unsupported(child, "an attribute without a type"));
                let required = match child.attribute("use") {
                    None | Some("optional") => false,
                    Some("required") => true,
                    Some(v) => unsupported(child, &format!("use={v:?}")),
                };
                attributes.push(AttributeDecl {
                    name: name.to_owned(),
                    ty: self.simple_type_by_name(child, ty),
                    required,
                });
            } else if (is_xs(child, "sequence") || is_xs(child, "choice"))
                && particle.is_none()
                && attributes.is_empty()
            {
                particle = Some(self.particle(child));
            } else {
                unsupported(child, "this content of a complex type");
            }
        }
        ComplexType {
            mixed,
            particle,
            attributes,
        }
    }

    fn particle(&self, node: Node<'a, 'i>) -> Particle {
        let (min, max) = occurs(node);
        let term = if is_xs(node, "sequence") || is_xs(node, "choice") {
            only_attributes(node, &["minOccurs", "maxOccurs"]);
            let parts = xs_children(node).into_iter().map(|c| self.particle(c)).collect();
            if is_xs(node, "sequence") {
                Term::Sequence(parts)
            } else {
                Term::Choice(parts)
            }
        } else if is_xs(node, "element") {
            if let Some(r) = node.attribute("ref") {
                only_attributes(node, &["ref", "minOccurs", "maxOccurs"]);
                match qname(node, r) {
                    (None, name) => Term::Ref(name.to_owned()),
                    _ => unsupported(node, "a reference into another namespace"),
                }
            } else {
                only_attributes(node, &["name", "type", "minOccurs", "maxOccurs"]);
                Term::Local(Box::new(self.element(node)))
            }
        } else {
            unsupported(node, "this particle")
        };
        Particle { min, max, term }
    }

    /// An element declaration with a name and either a `type` or an inline complex type.
    fn element(&self, node: Node<'a, 'i>) -> ElementDecl {
        let name = node
            .attribute("name")
            .unwrap_or_else(|| unsupported(node, "an element without a name"))
            .to_owned();
        let inline = xs_children(node);
        let content = match (node.attribute("type"), &inline[..]) {
            (Some(ty), []) => match qname(node, ty) {
                (None, local) if self.complex.contains_key(local) => {
                    ContentType::Complex(self.complex_type(self.complex[local]))
                }
                _ => ContentType::Simple(self.simple_type_by_name(node, ty)),
            },
            (None, [ct]) if is_xs(*ct, "complexType") => ContentType::Complex(self.complex_type(*ct)),
            _ => unsupported(node, "an element that is not given one type"),
        };
        ElementDecl { name, content }
    }
}

impl Schema {
    /// `tests/schemas/junit-10.xsd`.
    fn junit() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/junit-10.xsd");
        let text = std::fs::read_to_string(&path).expect("the vendored junit-10.xsd");
        Self::parse(&text)
    }

    fn parse(text: &str) -> Self {
        let doc = Document::parse(text).expect("the schema is well-formed XML");
        let root = doc.root_element();
        assert!(is_xs(root, "schema"), "not an XML Schema");
        // targetNamespace, elementFormDefault, … would change what the rules mean.
        only_attributes(root, &[]);
        let mut reader = SchemaReader {
            simple: BTreeMap::new(),
            complex: BTreeMap::new(),
        };
        let mut globals = Vec::new();
        for child in xs_children(root) {
            let name = || {
                child
                    .attribute("name")
                    .unwrap_or_else(|| unsupported(child, "a global component without a name"))
            };
            if is_xs(child, "simpleType") {
                reader.simple.insert(name(), child);
            } else if is_xs(child, "complexType") {
                reader.complex.insert(name(), child);
            } else if is_xs(child, "element") {
                only_attributes(child, &["name", "type"]);
                globals.push(child);
            } else {
                unsupported(child, "this top-level component");
            }
        }
        let elements = globals
            .into_iter()
            .map(|node| {
                let decl = reader.element(node);
                (decl.name.clone(), decl)
            })
            .collect();
        Self { elements }
    }

    /// Validates `xml`; every violation found, with its line.
    fn validate(&self, xml: &str) -> Result<(), Vec<String>> {
        let doc = Document::parse(xml).map_err(|e| vec![format!("not well-formed XML: {e}")])?;
        let root = doc.root_element();
        let mut errors = Vec::new();
        match self.elements.get(root.tag_name().name()) {
            Some(decl) if root.tag_name().namespace().is_none() => self.element(root, decl, &mut errors),
            _ => errors.push(format!(
                "<{}> is not a global element of the schema",
                root.tag_name().name()
            )),
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn element(&self, node: Node<'_, '_>, decl: &ElementDecl, errors: &mut Vec<String>) {
        let at = format!(
            "line {}: <{}>",
            node.document().text_pos_at(node.range().start).row,
            decl.name
        );
        let none = Vec::new();
        let declared = match &decl.content {
            ContentType::Simple(_) => &none,
            ContentType::Complex(ct) => &ct.attributes,
        };
        for a in node.attributes() {
            match declared.iter().find(|d| a.namespace().is_none() && d.name == a.name()) {
                None => errors.push(format!("{at}: attribute {} is not allowed", a.name())),
                Some(d) => {
                    if let Err(e) = check_simple(&d.ty, a.value()) {
                        errors.push(format!("{at}: attribute {}: {e}", a.name()));
                    }
                }
            }
        }
        for d in declared.iter().filter(|d| d.required) {
            if node.attribute(d.name.as_str()).is_none() {
                errors.push(format!("{at}: required attribute {} is missing", d.name));
            }
        }
        let children: Vec<Node<'_, '_>> = node.children().filter(Node::is_element).collect();
        let text: String = node.children().filter(Node::is_text).filter_map(|t| t.text()).collect();
        match &decl.content {
            ContentType::Simple(ty) => {
                if let Some(c) = children.first() {
                    errors.push(format!(
                        "{at}: has simple content, but contains <{}>",
                        c.tag_name().name()
                    ));
                }
                if let Err(e) = check_simple(ty, &text) {
                    errors.push(format!("{at}: content: {e}"));
                }
            }
            ContentType::Complex(ct) => {
                if !ct.mixed && !text.trim().is_empty() {
                    errors.push(format!("{at}: text is not allowed here: {:?}", text.trim()));
                }
                if let Some(c) = children.iter().find(|c| c.tag_name().namespace().is_some()) {
                    errors.push(format!("{at}: <{}> is in a namespace", c.tag_name().name()));
                    return;
                }
                let names: Vec<&str> = children.iter().map(|c| c.tag_name().name()).collect();
                let accepted = match &ct.particle {
                    None => names.is_empty(),
                    Some(p) => self.ends(p, &names, 0).contains(&names.len()),
                };
                if !accepted {
                    errors.push(format!("{at}: children {names:?} do not match its content model"));
                    return;
                }
                let mut decls = BTreeMap::new();
                if let Some(p) = &ct.particle {
                    collect_decls(p, &mut decls);
                }
                for c in children {
                    match decls.get(c.tag_name().name()) {
                        Some(Term::Local(d)) => self.element(c, d, errors),
                        Some(Term::Ref(name)) => match self.elements.get(name) {
                            Some(d) => self.element(c, d, errors),
                            None => errors.push(format!("{at}: the schema refers to an undeclared <{name}>")),
                        },
                        _ => unreachable!("a matched child has a declaration"),
                    }
                }
            }
        }
    }

    /// Every position in `names` where a match of `p` starting at `start` can end.
    fn ends(&self, p: &Particle, names: &[&str], start: usize) -> BTreeSet<usize> {
        let mut result = BTreeSet::new();
        if p.min == 0 {
            result.insert(start);
        }
        let mut current = BTreeSet::from([start]);
        // Beyond min + (names left) repetitions, another one can only match nothing.
        let limit = p.min + (names.len() - start) + 1;
        let mut count = 0;
        while p.max.is_none_or(|max| count < max) && count < limit && !current.is_empty() {
            current = current
                .iter()
                .flat_map(|&at| self.term_ends(&p.term, names, at))
                .collect();
            count += 1;
            if count >= p.min {
                result.extend(&current);
            }
        }
        result
    }

    fn term_ends(&self, term: &Term, names: &[&str], start: usize) -> BTreeSet<usize> {
        match term {
            Term::Ref(_) | Term::Local(_) => {
                if names.get(start).copied() == term.element_name() {
                    BTreeSet::from([start + 1])
                } else {
                    BTreeSet::new()
                }
            }
            Term::Sequence(parts) => parts.iter().fold(BTreeSet::from([start]), |at, p| {
                at.iter().flat_map(|&s| self.ends(p, names, s)).collect()
            }),
            Term::Choice(parts) => parts.iter().flat_map(|p| self.ends(p, names, start)).collect(),
        }
    }
}

/// The element terms of a content model, by name.
fn collect_decls<'s>(p: &'s Particle, out: &mut BTreeMap<&'s str, &'s Term>) {
    match &p.term {
        Term::Ref(_) | Term::Local(_) => {
            if let Some(name) = p.term.element_name() {
                out.insert(name, &p.term);
            }
        }
        Term::Sequence(parts) | Term::Choice(parts) => parts.iter().for_each(|p| collect_decls(p, out)),
    }
}

fn check_simple(ty: &SimpleType, value: &str) -> Result<(), String> {
    match ty {
        SimpleType::String => Ok(()),
        SimpleType::Restricted { name, patterns } => {
            if patterns.is_empty() || patterns.iter().any(|(_, re)| re.is_match(value)) {
                Ok(())
            } else {
                let list: Vec<&str> = patterns.iter().map(|(p, _)| p.as_str()).collect();
                Err(format!("{value:?} is not a {name} (pattern {list:?})"))
            }
        }
    }
}

fn assert_valid(what: &str, xml: &str) {
    if let Err(errors) = Schema::junit().validate(xml) {
        panic!("{what} is not valid against junit-10.xsd:\n{}", errors.join("\n"));
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/fixtures/results.json`, the fixture with timings.
fn fixture_results() -> Results {
    Results::read(&fx::dir().join("results.json")).expect("tests/fixtures/results.json")
}

// --- the validator itself ---------------------------------------------------------------

const MINIMAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="x" tests="1" failures="1" errors="0" time="1,234.5">
  <testsuite name="s" tests="1" failures="1" errors="0" skipped="0" time="0.250">
    <properties><property name="k" value="v"/></properties>
    <testcase classname="c" name="n" time="0.250">
      <failure type="red" message="m">text</failure>
      <system-out>out</system-out>
    </testcase>
  </testsuite>
</testsuites>
"#;

#[test]
fn the_validator_reads_every_global_element_of_the_vendored_schema() {
    let schema = Schema::junit();
    let names: Vec<&str> = schema.elements.keys().map(String::as_str).collect();
    for name in [
        "testsuites",
        "testsuite",
        "testcase",
        "failure",
        "error",
        "skipped",
        "system-out",
        "rerunFailure",
    ] {
        assert!(names.contains(&name), "{name} not read from the schema: {names:?}");
    }
    let Some(ElementDecl {
        content: ContentType::Complex(suites),
        ..
    }) = schema.elements.get("testsuites")
    else {
        panic!("testsuites has complex content")
    };
    let attributes: Vec<&str> = suites.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(attributes, ["name", "time", "tests", "failures", "errors"]);
}

#[test]
fn the_validator_accepts_a_minimal_valid_report() {
    assert_valid("the minimal report", MINIMAL);
}

#[test]
fn the_validator_rejects_skipped_on_testsuites_and_a_testcase_without_a_name() {
    let schema = Schema::junit();
    let skipped = MINIMAL.replace("<testsuites name=\"x\"", "<testsuites skipped=\"1\" name=\"x\"");
    let errors = schema
        .validate(&skipped)
        .expect_err("skipped on <testsuites> is refused");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("<testsuites>: attribute skipped is not allowed")),
        "{errors:?}"
    );
    let nameless = MINIMAL.replace("<testcase classname=\"c\" name=\"n\"", "<testcase classname=\"c\"");
    let errors = schema
        .validate(&nameless)
        .expect_err("a testcase without a name is refused");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("<testcase>: required attribute name is missing")),
        "{errors:?}"
    );
}

#[test]
fn the_validator_rejects_bad_times_misplaced_elements_stray_text_and_attributes_on_simple_content() {
    let schema = Schema::junit();
    let cases = [
        (
            "time=\"0.250\">\n    <properties>",
            "time=\"0.2.5\">\n    <properties>",
            "is not a SUREFIRE_TIME",
        ),
        ("time=\"1,234.5\"", "time=\"12s\"", "is not a SUREFIRE_TIME"),
        (
            "<system-out>out</system-out>",
            "<stdout>out</stdout>",
            "do not match its content model",
        ),
        (
            "<system-out>out</system-out>",
            "<system-out a=\"b\">out</system-out>",
            "attribute a is not allowed",
        ),
        (
            "<system-out>out</system-out>",
            "<system-out><b/></system-out>",
            "has simple content",
        ),
        ("<properties>", "stray<properties>", "text is not allowed here"),
        (
            "<testsuite name",
            "<testcase name=\"t\"/><testsuite name",
            "do not match its content model",
        ),
        (
            "errors=\"0\" skipped",
            "skipped",
            "required attribute errors is missing",
        ),
    ];
    for (from, to, expected) in cases {
        let xml = MINIMAL.replacen(from, to, 1);
        assert_ne!(xml, MINIMAL, "{from:?} is in the minimal report");
        let errors = schema.validate(&xml).expect_err(expected);
        assert!(errors.iter().any(|e| e.contains(expected)), "{expected}: {errors:?}");
    }
    assert!(schema.validate("<testsuite/>").is_err(), "a testsuite needs its counts");
    assert!(schema.validate("<report/>").is_err(), "not an element of the schema");
}

// --- junit.xml against the schema --------------------------------------------------------

#[test]
fn junit_of_the_fixture_results_json_is_valid_against_the_jenkins_schema() {
    let r = fixture_results();
    assert_valid("junit.xml with timings", &report::junit(&r, RenderOptions::default()));
    assert_valid("junit.xml without timings", &report::junit(&r, RenderOptions::stable()));
}

#[test]
fn junit_of_red_results_with_failures_errors_and_lint_errors_is_valid_against_the_jenkins_schema() {
    let base = fx::results();
    let mut evidence = base.evidence.clone();
    for h in &mut evidence.harnesses {
        h.outcome = threats::evidence::HarnessOutcome::Error;
        h.evidence = "setup failed: <![CDATA[ ]]> \"quoted\" & 'apostrophe' \u{1}\u{202e}".into();
    }
    for v in &mut evidence.variants {
        v.found = false;
    }
    let mut lint = base.lint.clone();
    lint.push(LintFinding {
        location: None,
        rule: Rule::SectionMissing,
        severity: Severity::Error,
        message: "no data assets ([[asset]]) <&>".into(),
    });
    lint.push(LintFinding {
        location: Some(base.model.threats[0].location.clone()),
        rule: Rule::ItemIncomplete,
        severity: Severity::Error,
        message: "threat: title is empty".into(),
    });
    lint.push(LintFinding {
        location: Some(base.model.threats[0].location.clone()),
        rule: Rule::ItemIncomplete,
        severity: Severity::Error,
        message: "threat: countermeasure is empty".into(),
    });
    let r = Results::new(base.tool.clone(), base.as_of, base.model.clone(), evidence, lint);
    assert_eq!(r.outcome.verdict, threats::Verdict::Red);
    for opts in [RenderOptions::default(), RenderOptions::stable()] {
        let xml = report::junit(&r, opts);
        assert_valid("junit.xml of red results", &xml);
        let doc = Document::parse(&xml).expect("well-formed");
        let failures = doc.descendants().filter(|n| n.has_tag_name("failure")).count();
        assert!(failures > 10, "{failures} failures");
        assert_eq!(
            doc.root_element().attribute("failures"),
            Some(failures.to_string().as_str())
        );
        let lint_names: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase") && n.attribute("classname") == Some("lint"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        let first = &r.model.threats[0].id;
        assert!(lint_names.contains(&format!("item-incomplete: threat {first}").as_str()));
        assert!(lint_names.contains(&format!("item-incomplete: threat {first} #2").as_str()));
        assert!(lint_names.contains(&"section-missing: no data assets ([[asset]]) <&>"));
    }
}

#[test]
fn junit_rendered_from_the_committed_results_json_is_valid_with_one_case_per_threat_and_evidence_item() {
    let r = Results::read(&workspace().join("reports/results.json")).expect("reports/results.json");
    let xml = report::junit(&r, RenderOptions::stable());
    assert_valid("junit.xml of reports/results.json", &xml);
    let doc = Document::parse(&xml).expect("well-formed");
    let threats = doc
        .root_element()
        .children()
        .find(|n| n.attribute("name") == Some("threats"))
        .expect("the threats suite");
    let cases: Vec<(&str, &str)> = threats
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            (
                n.attribute("classname").unwrap_or(""),
                n.attribute("name").unwrap_or(""),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = r
        .model
        .threats
        .iter()
        .flat_map(|t| {
            if t.evidence.is_empty() {
                vec![(t.id.clone(), "risk-acceptance".to_owned())]
            } else {
                t.evidence.iter().map(|e| (t.id.clone(), e.to_string())).collect()
            }
        })
        .collect();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(cases, expected, "one case per threat × evidence item, in model order");
}

#[test]
fn the_committed_junit_xml_is_valid_against_the_jenkins_schema() {
    let xml = std::fs::read_to_string(workspace().join("reports/junit.xml")).expect("reports/junit.xml");
    if let Err(errors) = Schema::junit().validate(&xml) {
        panic!(
            "reports/junit.xml is not valid against junit-10.xsd (regenerate reports/ with \
             `scripts/regenerate-reports.sh`):\n{}",
            errors.join("\n")
        );
    }
}

// --- times -------------------------------------------------------------------------------

/// A `time` attribute in whole milliseconds (`0`, or seconds with at most three decimals).
fn millis(node: Node<'_, '_>) -> u64 {
    let t = node.attribute("time").expect("a time attribute");
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    assert!(frac.len() <= 3, "{t}: more than millisecond precision");
    let whole: u64 = whole.parse().expect("whole seconds");
    let frac: u64 = format!("{frac:0<3}").parse().expect("milliseconds");
    whole * 1000 + frac
}

fn seconds_to_millis(s: f64) -> u64 {
    (s * 1000.0).round() as u64
}

#[test]
fn junit_times_add_up_from_cases_to_suites_to_the_run_and_count_each_result_once() {
    let r = fixture_results();
    let xml = report::junit(&r, RenderOptions::default());
    let doc = Document::parse(&xml).expect("well-formed");
    let root = doc.root_element();
    let suites: Vec<Node<'_, '_>> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), 3);
    let mut suite_sum = 0;
    for suite in &suites {
        let cases: Vec<Node<'_, '_>> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        let sum: u64 = cases.iter().map(|c| millis(*c)).sum();
        let name = suite.attribute("name").unwrap_or("");
        assert_eq!(millis(*suite), sum, "suite {name}: its time is the sum of its cases");
        for c in &cases {
            assert!(
                millis(*c) <= millis(*suite),
                "a case of {name} is longer than its suite"
            );
        }
        suite_sum += millis(*suite);
    }
    assert_eq!(millis(root), suite_sum, "<testsuites> time is the sum of the suites");

    // Each result's own time counted once: in the evidence suite, from the variant's search
    // and the harness's runs; properties carry only their proof run's time (shared), so 0.
    let own: u64 = r
        .evidence
        .variants
        .iter()
        .map(|v| seconds_to_millis(v.timing.seconds))
        .sum::<u64>()
        + r.evidence
            .harnesses
            .iter()
            .map(|h| seconds_to_millis(h.timing.seconds))
            .sum::<u64>();
    assert!(own > 0, "the fixture has timings");
    assert_eq!(millis(root), own);
    let suite = |name: &str| *suites.iter().find(|s| s.attribute("name") == Some(name)).expect(name);
    assert_eq!(
        millis(suite("threats")),
        0,
        "a threat case's time is its evidence's, counted there"
    );
    assert_eq!(millis(suite("lint")), 0);
    for case in suite("evidence").children().filter(|n| n.has_tag_name("testcase")) {
        let name = case.attribute("name").unwrap_or("");
        let expected = match case.attribute("classname") {
            Some("property") => 0,
            Some("variant") => seconds_to_millis(r.evidence.variant(name).expect("variant").timing.seconds),
            Some("harness") => seconds_to_millis(r.evidence.harness(name).expect("harness").timing.seconds),
            other => panic!("unexpected evidence case {other:?}"),
        };
        assert_eq!(millis(case), expected, "evidence case {name}");
    }

    let stable = report::junit(&r, RenderOptions::stable());
    let doc = Document::parse(&stable).expect("well-formed");
    for n in doc.descendants().filter(|n| n.attribute("time").is_some()) {
        assert_eq!(n.attribute("time"), Some("0"), "no timings: every time is 0");
    }
}

// --- stable names --------------------------------------------------------------------------

fn shift(l: &mut Location, by: u32) {
    l.line += by;
}

#[test]
fn lint_case_names_are_rule_and_subject_and_do_not_change_when_lines_move() {
    let lint_cases = |r: &Results| -> Vec<(String, String)> {
        let xml = report::junit(r, RenderOptions::stable());
        let doc = Document::parse(&xml).expect("well-formed");
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase") && n.attribute("classname") == Some("lint"))
            .map(|n| {
                let text = n
                    .children()
                    .find(|f| f.has_tag_name("failure"))
                    .and_then(|f| f.text())
                    .unwrap_or("")
                    .to_owned();
                (n.attribute("name").unwrap_or("").to_owned(), text)
            })
            .collect()
    };
    let r = fx::results();
    let before = lint_cases(&r);
    assert_eq!(before.len(), 1);
    let (name, text) = &before[0];
    assert_eq!(name, "acceptance-expired: threat T-DB-I-01");
    assert!(
        text.starts_with("threats/tests/fixtures/model/threats.toml:91: threat T-DB-I-01"),
        "the location is in the failure text: {text}"
    );

    let mut moved = r.clone();
    let m = &mut moved.model;
    if let Some(s) = &mut m.system {
        shift(&mut s.location, 7);
    }
    m.boundaries.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.entities.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.flows.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.assets.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.dependencies.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.stories.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.sequences.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.threats.iter_mut().for_each(|x| shift(&mut x.location, 7));
    m.not_applicable.iter_mut().for_each(|x| shift(&mut x.location, 7));
    for f in &mut moved.lint {
        if let Some(l) = &mut f.location {
            shift(l, 7);
        }
    }
    let after = lint_cases(&moved);
    let names = |cases: &[(String, String)]| cases.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(&before), "lint case names survive moved lines");
    assert!(
        after[0].1.contains("threats.toml:98:"),
        "the failure text follows the line"
    );
}
