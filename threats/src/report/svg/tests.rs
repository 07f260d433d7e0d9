use std::path::Path;

use super::flow::{Edge, Layout};
use super::sequence::BREAKS;
use super::*;
use crate::evidence::Action;
use crate::model::ThreatModel;

/// Three boundaries, every kind of entity, flows in both directions between the same two
/// boxes, a flow through a channel, a flow to itself and one crossing the rows.
const SMALL: &str = r#"
[system]
name = "Small"
description = "d"
usage = "u"
deployment = "d"
administration = "a"

[[boundary]]
id = "desk"
name = "Desk"
description = "d"

[[boundary]]
id = "net"
name = "Network"
description = "d"

[[boundary]]
id = "dc"
name = "Data centre with a rather long name that has to wrap"
description = "d"

[[entity]]
id = "user"
code = "USR"
name = "User"
kind = "person"
boundary = "desk"
purpose = "p"
sensitive_data = ["none: x"]
protocols = ["none: x"]

[[entity]]
id = "wire"
code = "WIR"
name = "The wire"
kind = "channel"
boundary = "net"
purpose = "p"
sensitive_data = ["none: x"]
protocols = ["none: x"]

[[entity]]
id = "server"
code = "SRV"
name = "Server <script>alert(1)</script>"
kind = "process"
boundary = "dc"
purpose = "p"
sensitive_data = ["none: x"]
protocols = ["none: x"]

[[entity]]
id = "db"
code = "DB"
name = "Database"
kind = "data-store"
boundary = "dc"
purpose = "p"
sensitive_data = ["none: x"]
protocols = ["none: x"]

[[entity]]
id = "idp"
code = "IDP"
name = "Identity provider"
kind = "external"
boundary = "dc"
purpose = "p"
sensitive_data = ["none: x"]
protocols = ["none: x"]
"#;

fn flow(id: &str, from: &str, to: &str, via: &[&str], protocol: &str) -> String {
    let via: Vec<String> = via.iter().map(|v| format!("{v:?}")).collect();
    format!(
        "[[flow]]\nid = {id:?}\nfrom = {from:?}\nto = {to:?}\nvia = [{}]\nprotocol = {protocol:?}\n\
         description = \"d\"\ncarries = []\nauthentication = \"a\"\nconfidentiality = \"low\"\n\
         integrity = \"low\"\navailability = \"low\"\nentry_point = false\n",
        via.join(", ")
    )
}

fn small() -> ThreatModel {
    let mut text = SMALL.to_owned();
    for f in [
        flow("F1", "user", "server", &["wire"], "HTTPS <script>x</script>"),
        flow("F2", "server", "user", &["wire"], "HTTPS responses"),
        flow(
            "F3",
            "server",
            "db",
            &[],
            "SQL over a local socket with a long description",
        ),
        flow("F4", "db", "server", &[], "SQL results"),
        flow("F5", "server", "idp", &[], "LDAPS"),
        flow("F6", "server", "server", &[], "loopback"),
        flow("F7", "user", "user", &[], "self"),
    ] {
        text.push_str(&f);
    }
    text.push_str(
        "[[sequence]]\nid = \"s\"\ntitle = \"Asking\"\ndescription = \"d\"\n\
         [[sequence.step]]\nfrom = \"user\"\nto = \"server\"\nmessage = \"ask <b>now</b>\"\n\
         [[sequence.step]]\nfrom = \"server\"\nto = \"server\"\nmessage = \"thinks\"\n",
    );
    ThreatModel::from_sources("test", [("small.toml", text.as_str())]).expect("the small model loads")
}

fn act(actor: &str, to: Option<&str>, label: &str, detail: &str) -> Action {
    Action {
        actor: actor.into(),
        to: to.map(Into::into),
        label: label.into(),
        detail: detail.into(),
    }
}

fn actions() -> Vec<Action> {
    vec![
        act(
            "job c",
            Some("scheduler"),
            "key reply",
            "the key reply carries a low-order point",
        ),
        act(
            "attacker",
            None,
            "cut",
            "cuts the connection; everything in flight is lost",
        ),
        act("attacker", Some("scheduler"), "replay <script>", "frame \"3\" & 'four'"),
        act(
            "scheduler",
            Some("scheduler"),
            "accept?",
            &"a very long detail ".repeat(20),
        ),
    ]
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{svg}"))
}

fn shipped() -> ThreatModel {
    ThreatModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("model")).expect("the shipped model loads")
}

fn all_kinds(m: &ThreatModel) -> Vec<String> {
    let a = actions();
    vec![
        trace(&a, Some(a.len() - 1), "variant:x <breaks> y"),
        trace(&a, None, "no breaking step"),
        trace(&[], None, "empty"),
        sequence(m, &m.sequences[0]),
        flowchart(m),
        flowchart(&ThreatModel::empty("nothing")),
    ]
}

#[test]
fn the_same_input_gives_identical_svg() {
    let m = small();
    assert_eq!(all_kinds(&m), all_kinds(&m));
    let s = shipped();
    assert_eq!(flowchart(&s), flowchart(&s.clone()));
}

#[test]
fn every_diagram_is_well_formed_xml_with_a_label_and_no_active_content() {
    for svg in all_kinds(&small()) {
        assert!(!svg.contains("<?xml") && !svg.contains("<!"), "{svg}");
        let doc = parse(&svg);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("role"), Some("img"));
        assert!(root.attribute("aria-label").is_some_and(|l| !l.is_empty()));
        assert!(root.attribute("viewBox").is_some() && root.attribute("width").is_some());
        assert_eq!(root.attribute("style"), Some("max-width:100%;height:auto"));
        let title = root.first_element_child().expect("a first child");
        assert_eq!(title.tag_name().name(), "title");
        assert_eq!(title.text(), root.attribute("aria-label"));
        for n in doc.descendants().filter(roxmltree::Node::is_element) {
            let name = n.tag_name().name();
            assert!(
                !matches!(name, "script" | "foreignObject" | "a" | "image" | "use" | "style"),
                "{name}"
            );
            assert!(
                n.attributes()
                    .all(|a| !a.name().contains("href") && !a.name().starts_with("on"))
            );
            assert!(n.attribute("id").is_none() && n.attribute("class").is_none());
        }
    }
}

#[test]
fn markup_in_labels_and_names_appears_only_escaped() {
    let m = small();
    for svg in all_kinds(&m) {
        assert!(!svg.contains("<script") && !svg.contains("<b>"), "{svg}");
    }
    let svg = trace(&actions(), None, "t");
    assert!(svg.contains("3. replay &lt;script&gt;"), "{svg}");
    assert!(svg.contains("frame &quot;3&quot; &amp; &#39;four&#39;"), "{svg}");
    let texts: Vec<String> = parse(&svg)
        .descendants()
        .filter_map(|n| n.text())
        .map(str::to_owned)
        .collect();
    assert!(texts.iter().any(|t| t == "3. replay <script>"), "{texts:?}");
    assert!(flowchart(&m).contains("HTTPS &lt;script&gt;x&lt;/script&gt;"));
    assert!(sequence(&m, &m.sequences[0]).contains("ask &lt;b&gt;now&lt;/b&gt;"));
}

#[test]
fn the_breaking_step_is_marked_exactly_once_and_on_that_step() {
    let a = actions();
    for breaking in 0..a.len() {
        let svg = trace(&a, Some(breaking), "t");
        assert_eq!(svg.matches(BREAKS).count(), 1, "{svg}");
        let doc = parse(&svg);
        let marker = doc
            .descendants()
            .find(|n| n.text() == Some(BREAKS))
            .expect("the marker");
        let step = marker
            .ancestors()
            .find(|n| n.attribute("data-step").is_some())
            .expect("inside a step");
        assert_eq!(step.attribute("data-step"), Some((breaking + 1).to_string().as_str()));
        assert_eq!(step.attribute("data-breaks"), Some("true"));
        assert_eq!(
            doc.descendants()
                .filter(|n| n.attribute("data-breaks").is_some())
                .count(),
            1
        );
        let label = doc.root_element().attribute("aria-label").expect("a label");
        assert!(label.contains(&format!("step {} (", breaking + 1)), "{label}");
    }
    assert!(!trace(&a, None, "t").contains(BREAKS));
    assert!(!trace(&a, Some(a.len()), "t").contains(BREAKS));
    let m = small();
    assert!(!sequence(&m, &m.sequences[0]).contains(BREAKS));
}

#[test]
fn messages_are_arrows_and_other_actions_notes_with_participants_in_order_of_appearance() {
    let svg = trace(&actions(), None, "t");
    let doc = parse(&svg);
    let steps: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("data-step").is_some())
        .collect();
    assert_eq!(steps.len(), 4);
    let has = |i: usize, tag: &str| steps[i].children().any(|c| c.tag_name().name() == tag);
    assert!(has(0, "line") && !has(0, "rect"));
    assert!(has(1, "rect") && !has(1, "line"));
    assert!(has(2, "line"));
    assert!(has(3, "rect") && !has(3, "line"), "an action to itself is a note");
    let heads: Vec<&str> = doc
        .root_element()
        .children()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(heads, ["job c", "scheduler", "attacker"]);
    assert!(
        doc.root_element()
            .attribute("aria-label")
            .expect("a label")
            .contains("between job c, scheduler and attacker")
    );
}

#[test]
fn an_empty_trace_says_no_counterexample() {
    let svg = trace(&[], Some(0), "t");
    assert!(
        svg.contains(">no counterexample</text>") && !svg.contains(BREAKS),
        "{svg}"
    );
}

/// Every `<text>` with its approximate extent `(left, right)`.
fn text_extents(doc: &roxmltree::Document<'_>) -> Vec<(String, i32, i32)> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| {
            let text = n.text().unwrap_or("").to_owned();
            let num = |a: &str| n.attribute(a).and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
            let w = text_width(text.chars().count(), num("font-size"));
            let x = num("x");
            let left = if n.attribute("text-anchor") == Some("middle") {
                x - w / 2
            } else {
                x
            };
            (text, left, left + w)
        })
        .collect()
}

#[test]
fn long_labels_and_names_wrap_inside_the_diagram() {
    let long_name = "a participant with a really rather long name";
    let mut a = actions();
    a.push(act(
        long_name,
        Some("job c"),
        &"long label ".repeat(12),
        &"x".repeat(150),
    ));
    let m = shipped();
    for svg in [
        trace(&a, Some(4), "t"),
        sequence(&m, &m.sequences[0]),
        flowchart(&m),
        flowchart(&small()),
    ] {
        let doc = parse(&svg);
        let width: i32 = doc
            .root_element()
            .attribute("width")
            .and_then(|w| w.parse().ok())
            .expect("a width");
        assert!(width <= 1150, "{width}");
        for (text, left, right) in text_extents(&doc) {
            assert!(left >= 0 && right <= width, "{text:?} at {left}..{right} in {width}");
        }
    }
    let svg = trace(&a, None, "t");
    let doc = parse(&svg);
    let label_lines = text_extents(&doc)
        .into_iter()
        .filter(|(t, ..)| t.contains("long label"))
        .count();
    assert!(label_lines >= 2, "the label wraps: {svg}");
    let xs: Vec<usize> = text_extents(&doc)
        .into_iter()
        .filter(|(t, ..)| !t.is_empty() && t.chars().all(|c| c == 'x'))
        .map(|(t, ..)| t.len())
        .collect();
    assert!(
        xs.len() >= 2 && xs.iter().sum::<usize>() == 150,
        "a long word is split: {xs:?}"
    );
    let head_width = doc
        .root_element()
        .children()
        .find(|n| n.tag_name().name() == "rect" && n.attribute("fill") == Some("#eaeef6"))
        .and_then(|n| n.attribute("width"))
        .and_then(|w| w.parse::<i32>().ok())
        .expect("a participant box");
    let widest_name = text_extents(&doc)
        .into_iter()
        .filter(|(t, ..)| long_name.contains(t.as_str()))
        .map(|(_, l, r)| r - l)
        .max()
        .expect("the name");
    assert!(head_width >= widest_name + 16, "{head_width} {widest_name}");
}

#[test]
fn wrapping_breaks_at_spaces_and_splits_words_longer_than_a_line() {
    assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
    assert_eq!(wrap("abcdefghij k", 4), ["abcd", "efgh", "ij k"]);
    assert_eq!(wrap("  ", 4), [""]);
    assert_eq!(wrap("a\nb\u{202e}", 40), ["a b\\u{202e}"]);
}

const fn overlap(a: Rect, b: Rect) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

#[test]
fn every_flow_is_one_labelled_arrow_between_its_two_boxes() {
    for m in [small(), shipped()] {
        let svg = flowchart(&m);
        let doc = parse(&svg);
        let layout = Layout::new(&m);
        let texts: Vec<&str> = doc
            .descendants()
            .filter(roxmltree::Node::is_text)
            .filter_map(|n| n.text())
            .filter(|t| !t.trim().is_empty())
            .collect();
        for (i, f) in m.flows.iter().enumerate() {
            let labels = texts
                .iter()
                .filter(|t| **t == f.id || t.starts_with(&format!("{} ", f.id)))
                .count();
            assert_eq!(labels, 1, "{}: {texts:?}", f.id);
            let lines: Vec<_> = doc
                .descendants()
                .filter(|n| n.tag_name().name() == "polyline" && n.attribute("data-flow") == Some(f.id.as_str()))
                .collect();
            assert_eq!(lines.len(), 1, "{}", f.id);
            let points: Vec<(i32, i32)> = lines[0]
                .attribute("points")
                .expect("points")
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("x,y");
                    (x.parse().expect("x"), y.parse().expect("y"))
                })
                .collect();
            let edge = layout.edges.iter().find(|e| e.flow == i).expect("an edge");
            let (from, to) = (&layout.nodes[edge.from], &layout.nodes[edge.to]);
            assert_eq!(m.entities[edge.from].id, f.from);
            assert_eq!(m.entities[edge.to].id, f.to);
            let (first, last) = (points[0], points[points.len() - 1]);
            assert_eq!(first.1, from.side(), "{} starts on its source box", f.id);
            assert!(from.rect.x < first.0 && first.0 < from.rect.x + from.rect.w);
            assert!((last.1 - to.side()).abs() <= 8, "{} ends at its destination box", f.id);
            assert!(to.rect.x < last.0 && last.0 < to.rect.x + to.rect.w);
            let label: Vec<_> = doc
                .descendants()
                .filter(|n| n.attribute("data-flow-label") == Some(f.id.as_str()))
                .collect();
            assert_eq!(label.len(), 1, "{}", f.id);
            let text: Vec<&str> = label[0]
                .descendants()
                .filter(roxmltree::Node::is_text)
                .filter_map(|n| n.text())
                .filter(|t| !t.trim().is_empty())
                .collect();
            assert!(
                text[0] == f.id || text[0].starts_with(&format!("{} ", f.id)),
                "{text:?}"
            );
            for via in &f.via {
                let name = &m.entity(via).expect("a via entity").name;
                assert!(text.join(" ").contains(&format!("(via {name})")), "{text:?}");
            }
        }
        assert_eq!(
            doc.descendants().filter(|n| n.tag_name().name() == "polyline").count(),
            m.flows.len()
        );
        // No box overlaps another box or a label; no label overlaps another.
        let boxes: Vec<Rect> = layout.nodes.iter().map(|n| n.rect).collect();
        let labels: Vec<Rect> = layout.edges.iter().map(Edge::label_rect).collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(boxes[i + 1..].iter().all(|b| !overlap(*a, *b)), "boxes overlap");
            assert!(labels.iter().all(|l| !overlap(*a, *l)), "a label covers a box");
        }
        for (i, a) in labels.iter().enumerate() {
            assert!(
                labels[i + 1..].iter().all(|b| !overlap(*a, *b)),
                "labels overlap: {a:?}"
            );
        }
    }
}

#[test]
fn a_model_sequence_names_participants_by_entity_name() {
    let m = small();
    let svg = sequence(&m, &m.sequences[0]);
    assert!(svg.contains(">User</text>") && svg.contains(">Server</text>"), "{svg}");
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/"), "{svg}");
    assert!(svg.contains(">2. thinks</text>"));
}

/// Every diagram the shipped model and the committed results produce is a whole, script-free
/// SVG. (`THREATCHECK_SVG_PREVIEW=DIR` also writes them, with an index page, into DIR for a
/// look in a browser.)
#[test]
fn every_diagram_of_the_shipped_model_and_committed_results_is_a_whole_svg_without_scripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let m = shipped();
    let bytes = std::fs::read(root.join("../reports/results.json")).expect("reports/results.json");
    let r = crate::results::Results::from_json(&bytes).expect("the committed results");
    let mut svgs = vec![("flowchart".to_owned(), flowchart(&m))];
    for s in &m.sequences {
        svgs.push((format!("sequence-{}", s.id), sequence(&m, s)));
    }
    for v in r.evidence.variants.iter().filter(|v| v.found) {
        let title = format!("variant:{} breaks {}", v.name, v.breaks);
        svgs.push((
            format!("trace-{}", v.name),
            trace(&v.counterexample, v.counterexample.len().checked_sub(1), &title),
        ));
    }
    assert!(
        svgs.len() > m.sequences.len() + 1,
        "the committed results hold counterexamples"
    );
    for (name, svg) in &svgs {
        assert!(
            svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"),
            "{name}: not a whole svg"
        );
        assert_eq!(svg.matches("<svg").count(), 1, "{name}: nested or repeated svg");
        assert!(
            !svg.contains("<script") && !svg.contains("javascript:"),
            "{name}: a script"
        );
    }
    if let Some(dir) = std::env::var_os("THREATCHECK_SVG_PREVIEW") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).expect("the preview directory");
        let mut index = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>svg preview</title>\
             <style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1216px}</style></head><body>\n",
        );
        for (name, svg) in &svgs {
            std::fs::write(dir.join(format!("{name}.svg")), svg).expect("an svg file");
            index.push_str(&format!("<h2>{name}</h2>\n{svg}\n"));
        }
        index.push_str("</body></html>\n");
        std::fs::write(dir.join("index.html"), index).expect("index.html");
    }
}
