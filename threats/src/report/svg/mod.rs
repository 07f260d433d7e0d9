//! Diagrams drawn by threatcheck itself as inline SVG: counterexample traces and the model's
//! sequences as sequence diagrams ([`trace`], [`sequence`]) and the block diagram
//! ([`flowchart`]).
//!
//! Every function is pure and deterministic: integer coordinates, text measured by character
//! count (no font metrics), no randomness. The output is one `<svg>` element for inlining in
//! HTML: no XML declaration, no scripts, no `<foreignObject>`, no links or external resources,
//! no element ids (so any number can share a page) and no classes (so the page's CSS cannot
//! restyle them); every text goes through [`escape::xml`]. Each diagram has `role="img"`, an
//! `aria-label` and a `<title>`, a `viewBox` with an explicit width (at most about 1,100 px for
//! the usual sizes) and `style="max-width:100%;height:auto"` so a wider one scales down.

mod flow;
mod sequence;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

pub use flow::flowchart;
pub use sequence::{sequence, trace};

use super::escape;
use crate::model::EntityKind;

/// The width a diagram is laid out for, in px.
const MAX_WIDTH: i32 = 1100;
/// Space around a diagram.
const MARGIN: i32 = 16;
/// The font of every diagram.
const FONT: &str = "system-ui,-apple-system,'Segoe UI',Roboto,sans-serif";

/// Text escaped for SVG element content or a double-quoted attribute.
fn esc(s: &str) -> String {
    escape::xml(s)
}

/// The width in px of `chars` characters at `size` px: 0.6 em per character, a little more
/// than the average of common sans-serif fonts, so measured text does not overflow.
fn text_width(chars: usize, size: i32) -> i32 {
    (i32::try_from(chars).unwrap_or(i32::MAX / 64) * size * 6 + 9) / 10
}

/// How many characters fit in `px` at `size` px (at least 8).
fn chars_in(px: i32, size: i32) -> usize {
    usize::try_from(px * 10 / (size * 6)).unwrap_or(0).max(8)
}

/// `s` wrapped greedily at spaces into lines of at most `max` characters (a longer word is
/// split), after making invisible characters visible and turning line breaks into spaces.
/// Deterministic; never empty.
fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let text = escape::visible(s).replace('\n', " ");
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        while !word.is_empty() {
            let room = if len == 0 { max } else { max.saturating_sub(len + 1) };
            if word.len() <= room {
                if len > 0 {
                    line.push(' ');
                    len += 1;
                }
                line.extend(word.iter());
                len += word.len();
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut line));
                len = 0;
                continue;
            }
            let rest = word.split_off(max);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The fewest characters a line, from `min` to `max`, for which `name` wraps into at most two
/// lines (`max` if none does).
fn two_lines(name: &str, (min, max): (usize, usize)) -> usize {
    (min..max).find(|&n| wrap(name, n).len() <= 2).unwrap_or(max)
}

/// The widest line, in characters.
fn widest(lines: &[String]) -> usize {
    lines.iter().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// How lines of text are drawn.
#[derive(Debug, Clone, Copy)]
struct Font {
    /// Size in px.
    size: i32,
    /// Distance between baselines in px.
    step: i32,
    /// Colour.
    fill: &'static str,
    /// `font-weight`.
    weight: &'static str,
}

impl Font {
    const fn new(size: i32, fill: &'static str) -> Self {
        Self {
            size,
            step: size + size / 4 + 1,
            fill,
            weight: "normal",
        }
    }

    const fn bold(self) -> Self {
        Self { weight: "bold", ..self }
    }

    /// The height of `n` lines.
    fn height(self, n: usize) -> i32 {
        i32::try_from(n).unwrap_or(0) * self.step
    }

    /// One `<text>` per line, centred on `x`, the first line's top at `top`.
    fn draw(self, out: &mut String, lines: &[String], x: i32, top: i32) {
        let baseline = top + self.size;
        for (i, line) in (0..).zip(lines) {
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{}\" font-size=\"{}\" fill=\"{}\" text-anchor=\"middle\"",
                baseline + i * self.step,
                self.size,
                self.fill
            );
            if self.weight != "normal" {
                let _ = write!(out, " font-weight=\"{}\"", self.weight);
            }
            let _ = writeln!(out, ">{}</text>", esc(line));
        }
    }
}

/// The whole `<svg>` element around `body`, `width` × `height` px.
fn document(label: &str, width: i32, height: i32, body: &str) -> String {
    let label = esc(label);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{label}\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         style=\"max-width:100%;height:auto\" font-family=\"{FONT}\" font-size=\"13\">\n\
         <title>{label}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n{body}</svg>\n"
    )
}

/// A small diagram that only says `message` (nothing to draw).
fn placeholder(label: &str, message: &str) -> String {
    let w = text_width(message.chars().count(), 13) + 40;
    let body = format!(
        "<rect x=\"{MARGIN}\" y=\"{MARGIN}\" width=\"{w}\" height=\"40\" rx=\"4\" fill=\"#f6f6f6\" stroke=\"#888888\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333333\">{}</text>\n",
        MARGIN + w / 2,
        MARGIN + 25,
        esc(message)
    );
    document(label, w + 2 * MARGIN, 40 + 2 * MARGIN, &body)
}

/// A rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

/// The outline of a box of `kind`.
fn shape(out: &mut String, kind: EntityKind, r: Rect) {
    let Rect { x, y, w, h } = r;
    let style = |fill: &str| format!("fill=\"{fill}\" stroke=\"#3c4650\" stroke-width=\"1.5\"");
    let _ = match kind {
        EntityKind::Person => writeln!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{}\" {}/>",
            h.min(44) / 2,
            style("#fff4d6")
        ),
        EntityKind::Process => writeln!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\" {}/>",
            style("#e3eefa")
        ),
        EntityKind::DataStore => writeln!(
            out,
            "<path d=\"M{x},{a} A{r},7 0 0 1 {b},{a} V{c} A{r},7 0 0 1 {x},{c} Z\" {}/>\n\
             <path d=\"M{x},{a} A{r},7 0 0 0 {b},{a}\" fill=\"none\" stroke=\"#3c4650\" stroke-width=\"1.5\"/>",
            style("#eaf5e1"),
            a = y + 7,
            b = x + w,
            c = y + h - 7,
            r = w / 2
        ),
        EntityKind::Channel => writeln!(
            out,
            "<polygon points=\"{},{y} {},{y} {},{} {},{} {},{} {x},{}\" {}/>",
            x + 14,
            x + w - 14,
            x + w,
            y + h / 2,
            x + w - 14,
            y + h,
            x + 14,
            y + h,
            y + h / 2,
            style("#efe8f8")
        ),
        EntityKind::External => writeln!(
            out,
            "<polygon points=\"{},{y} {},{y} {},{} {x},{}\" {}/>",
            x + 14,
            x + w,
            x + w - 14,
            y + h,
            y + h,
            style("#f1f1f1")
        ),
    };
}
