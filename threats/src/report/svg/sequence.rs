//! Sequence diagrams: counterexample traces ([`trace`]) and the model's sequences
//! ([`sequence`]).
//!
//! Layout: participants are columns in order of first appearance, evenly spaced so that the
//! usual two to four fit in [`MAX_WIDTH`] (notes narrow, down to [`MIN_NOTE_W`], when there are
//! more), each column at least as wide as the widest name (names wrap into two lines where
//! they can); a dashed lifeline under each, and the names again at the bottom of a long one.
//! Steps are rows, top to bottom: a message is an arrow with its numbered label above it (the
//! detail on the next lines in a smaller font), wrapped to the arrow's length; an action
//! without a recipient (or to itself) is a note box over its actor. The breaking step has a
//! pale red band behind it, a red arrow or note, and [`BREAKS`] under its label.

use std::fmt::Write as _;

use super::{Font, MARGIN, MAX_WIDTH, chars_in, document, placeholder, text_width, two_lines, widest, wrap};
use crate::evidence::Action;
use crate::model::{Sequence, ThreatModel};

/// The marker under the step after which the property is violated.
pub(super) const BREAKS: &str = "✗ breaks the property";

const RED: &str = "#c62828";
const NAME: Font = Font::new(13, "#1b1b1b");
const HEAD: Font = Font::new(13, "#1b1b1b");
const HEAD_RED: Font = Font::new(13, RED);
const DETAIL: Font = Font::new(11, "#555555");
const MARK: Font = Font::new(12, RED).bold();
/// Participant names wrap into two lines if they can, at most this many characters a line.
const NAME_CHARS: usize = 22;
/// The width of a note, and the least it is narrowed to for a diagram with many columns.
const NOTE_W: i32 = 300;
const MIN_NOTE_W: i32 = 200;
/// The widest spacing of two columns.
const MAX_SPACING: i32 = 460;

/// One step: an arrow `from` → `to`, or a note over `from`.
struct Row {
    from: usize,
    to: Option<usize>,
    head: String,
    detail: String,
}

/// Participants (by key, with display names) and steps.
#[derive(Default)]
struct Diagram {
    keys: Vec<String>,
    names: Vec<String>,
    rows: Vec<Row>,
}

impl Diagram {
    /// The column of `key`, added (named `name`) on first appearance.
    fn column(&mut self, key: &str, name: impl FnOnce() -> String) -> usize {
        if let Some(i) = self.keys.iter().position(|k| k == key) {
            return i;
        }
        self.keys.push(key.to_owned());
        self.names.push(name());
        self.keys.len() - 1
    }

    /// `1 step between A and B`.
    fn describe(&self) -> String {
        let n = self.rows.len();
        let names = match self.names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        format!("{n} step{} between {names}", if n == 1 { "" } else { "s" })
    }
}

/// A counterexample as a sequence diagram, the step at index `breaking` (if any; callers pass
/// the last) marked as the one after which the property is violated. `title` names the
/// diagram in its `aria-label` and `<title>`.
#[must_use]
pub fn trace(actions: &[Action], breaking: Option<usize>, title: &str) -> String {
    if actions.is_empty() {
        return placeholder(&format!("{title}: no counterexample"), "no counterexample");
    }
    let mut d = Diagram::default();
    for (n, a) in actions.iter().enumerate() {
        let from = d.column(&a.actor, || a.actor.clone());
        let to =
            a.to.as_ref()
                .filter(|to| **to != a.actor)
                .map(|to| d.column(to, || to.clone()));
        d.rows.push(Row {
            from,
            to,
            head: format!("{}. {}", n + 1, a.label.trim()),
            detail: a.detail.trim().to_owned(),
        });
    }
    let breaking = breaking.filter(|&i| i < actions.len());
    let mut label = format!("{title}: sequence diagram of {}", d.describe());
    if let Some(i) = breaking {
        let _ = write!(
            label,
            "; step {} ({}) breaks the property",
            i + 1,
            actions[i].label.trim()
        );
    }
    render(&d, breaking, &label)
}

/// One of the model's sequence diagrams, participants named by entity name.
#[must_use]
pub fn sequence(m: &ThreatModel, s: &Sequence) -> String {
    let title = if s.title.trim().is_empty() { &s.id } else { &s.title };
    if s.steps.is_empty() {
        return placeholder(&format!("{title}: no steps"), "no steps");
    }
    let name = |id: &str| m.entity(id).map_or_else(|| id.to_owned(), |e| e.name.clone());
    let mut d = Diagram::default();
    for (n, step) in s.steps.iter().enumerate() {
        let from = d.column(&step.from, || name(&step.from));
        let to = (step.to != step.from).then(|| d.column(&step.to, || name(&step.to)));
        d.rows.push(Row {
            from,
            to,
            head: format!("{}. {}", n + 1, step.message.trim()),
            detail: String::new(),
        });
    }
    let label = format!("{title}: sequence diagram of {}", d.describe());
    render(&d, None, &label)
}

/// Column positions and sizes.
struct Layout {
    xs: Vec<i32>,
    note_w: i32,
    width: i32,
}

impl Layout {
    /// Draws one step with its top at `top`; returns its bottom.
    fn step(&self, out: &mut String, row: &Row, number: usize, top: i32, broken: bool) -> i32 {
        let from = self.xs[row.from];
        let (centre, room) = match row.to {
            Some(to) => ((from + self.xs[to]) / 2, (self.xs[to] - from).abs() - 24),
            None => (from, self.note_w - 20),
        };
        let head = wrap(&row.head, chars_in(room, HEAD.size));
        let detail = if row.detail.is_empty() {
            Vec::new()
        } else {
            wrap(&row.detail, chars_in(room, DETAIL.size))
        };
        let mark = if broken { vec![BREAKS.to_owned()] } else { Vec::new() };
        let text_h = HEAD.height(head.len()) + DETAIL.height(detail.len()) + MARK.height(mark.len());
        let text_top = if row.to.is_some() { top + 4 } else { top + 10 };
        let mut text = String::new();
        (if broken { HEAD_RED } else { HEAD }).draw(&mut text, &head, centre, text_top);
        let below = text_top + HEAD.height(head.len());
        DETAIL.draw(&mut text, &detail, centre, below);
        MARK.draw(&mut text, &mark, centre, below + DETAIL.height(detail.len()));
        let (stroke, stroke_w) = if broken { (RED, "2.5") } else { ("#333333", "1.5") };
        let mut shape = String::new();
        let bottom = if let Some(to) = row.to {
            let to = self.xs[to];
            let y = text_top + text_h + 4;
            let dir = if to > from { 1 } else { -1 };
            let _ = writeln!(
                shape,
                "<line x1=\"{from}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{stroke}\" stroke-width=\"{stroke_w}\"/>\n\
                 <polygon points=\"{to},{y} {},{} {},{}\" fill=\"{stroke}\"/>",
                to - dir * 8,
                to - dir * 10,
                y - 5,
                to - dir * 10,
                y + 5
            );
            y + 14
        } else {
            let fill = if broken { "#fdecea" } else { "#fff8dc" };
            let stroke = if broken { RED } else { "#b5a642" };
            let _ = writeln!(
                shape,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
                from - self.note_w / 2,
                top + 4,
                self.note_w,
                text_h + 12,
                if broken { "2.5" } else { "1" }
            );
            top + text_h + 26
        };
        if broken {
            let _ = writeln!(
                out,
                "<g data-step=\"{number}\" data-breaks=\"true\">\n<rect x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"#fff1f1\"/>",
                MARGIN / 2,
                self.width - MARGIN,
                bottom - top - 2
            );
        } else {
            let _ = writeln!(out, "<g data-step=\"{number}\">");
        }
        out.push_str(&shape);
        out.push_str(&text);
        out.push_str("</g>\n");
        bottom
    }
}

/// The participants' name boxes with their tops at `top`.
fn heads(out: &mut String, names: &[Vec<String>], xs: &[i32], (box_w, box_h): (i32, i32), top: i32) {
    for (name, x) in names.iter().zip(xs) {
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{top}\" width=\"{box_w}\" height=\"{box_h}\" rx=\"4\" fill=\"#eaeef6\" stroke=\"#44546a\" stroke-width=\"1.5\"/>",
            x - box_w / 2
        );
        let text_top = top + (box_h - NAME.height(name.len())) / 2;
        NAME.draw(out, name, *x, text_top);
    }
}

fn render(d: &Diagram, breaking: Option<usize>, label: &str) -> String {
    let names: Vec<Vec<String>> = d
        .names
        .iter()
        .map(|n| wrap(n, two_lines(n, (10, NAME_CHARS))))
        .collect();
    let box_w = names
        .iter()
        .map(|n| text_width(widest(n), NAME.size) + 24)
        .fold(96, i32::max);
    let box_h = NAME.height(names.iter().map(Vec::len).max().unwrap_or(1)) + 14;
    let gaps = i32::try_from(d.names.len().saturating_sub(1)).unwrap_or(0);
    let spacing = if gaps == 0 {
        0
    } else {
        ((MAX_WIDTH - 2 * MARGIN - NOTE_W) / gaps)
            .min(MAX_SPACING)
            .max(box_w + 24)
    };
    // Narrower notes when many columns would make the diagram too wide.
    let narrowest = box_w.max(MIN_NOTE_W);
    let note_w = (MAX_WIDTH - 2 * MARGIN - gaps * spacing).clamp(narrowest, NOTE_W.max(narrowest));
    let xs: Vec<i32> = (0..=gaps).map(|i| MARGIN + note_w / 2 + i * spacing).collect();
    let layout = Layout {
        xs,
        note_w,
        width: 2 * MARGIN + note_w + gaps * spacing,
    };
    let mut rows = String::new();
    let mut y = MARGIN + box_h + 12;
    for (i, row) in d.rows.iter().enumerate() {
        y = layout.step(&mut rows, row, i + 1, y, breaking == Some(i));
    }
    let end = y + 6;
    let mut body = String::new();
    for x in &layout.xs {
        let _ = writeln!(
            body,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{end}\" stroke=\"#9a9a9a\" stroke-dasharray=\"5 4\"/>",
            MARGIN + box_h
        );
    }
    heads(&mut body, &names, &layout.xs, (box_w, box_h), MARGIN);
    body.push_str(&rows);
    let height = if d.rows.len() >= 6 {
        heads(&mut body, &names, &layout.xs, (box_w, box_h), end);
        end + box_h + MARGIN
    } else {
        end + MARGIN
    };
    document(label, layout.width, height, &body)
}
