//! The block diagram ([`flowchart`]): trust boundaries, the entities in them, one arrow per
//! flow.
//!
//! Layout (a "bus" layout, chosen because it needs no graph search and cannot put a line
//! through a box): the boundaries, in model order, are split into two rows whose widths are as
//! equal as possible: the first ones on top, the rest below (entities outside every boundary
//! form a last, unframed group). Each boundary is a labelled rounded rectangle holding its
//! entities side by side, so every box faces the routing area between the two rows. A flow
//! leaves its source box on that side, runs vertically to a horizontal track of its own,
//! along it, and vertically into the destination box, ending in an arrowhead; its label sits on
//! the track. Each end of each flow gets its own point on the box side, so flows between the
//! same two boxes are distinct arrows; the points are ordered (flows to the left first, and on
//! each side the flows that stay nearer the row nearer the other box) so that flows nest
//! rather than cross. Tracks are packed greedily: flows whose tracks (with labels) overlap
//! horizontally get different levels; flows between two top boxes use the upper levels
//! (shortest nearest the boxes), flows between two bottom boxes the lower ones, flows between
//! the rows the middle. A label covers at least 40 px of its track, wrapped at one of
//! [`LABEL_CHARS`] and slid along it to cover as few other flows' attachment points (where
//! vertical segments run) as it can; where one still crosses it, the label's translucent
//! background lets the line show through. A flow's `via` channels are named in its
//! label, not drawn as hops. Every flow has its own colour (from a fixed palette).

use std::fmt::Write as _;

use super::{Font, MARGIN, Rect, chars_in, document, esc, placeholder, shape, text_width, two_lines, widest, wrap};
use crate::model::{EntityKind, ThreatModel};

const NAME: Font = Font::new(13, "#1b1b1b");
const GROUP: Font = Font::new(12, "#4a4a4a").bold();
const LABEL: Font = Font::new(12, "#1b1b1b");
/// Entity names wrap into two lines if they can, at most this many characters a line.
const NAME_CHARS: usize = 20;
/// Flow labels wrap at the first of these many characters that lets them cover the fewest
/// other flows' vertical segments.
const LABEL_CHARS: [usize; 3] = [34, 26, 20];
/// Padding inside a boundary.
const PAD: i32 = 12;
/// Between boxes of a boundary.
const GAP: i32 = 14;
/// Between boundaries.
const GROUP_GAP: i32 = 20;
const PALETTE: [&str; 8] = [
    "#1f4e9c", "#2e7d32", "#8e24aa", "#e65100", "#00838f", "#6d4c41", "#ad1457", "#455a64",
];

/// An entity's box.
pub(super) struct Node {
    pub rect: Rect,
    kind: EntityKind,
    name: Vec<String>,
    top: bool,
}

/// A boundary (or the unframed group of entities outside every boundary).
struct Group {
    name: Option<Vec<String>>,
    members: Vec<usize>,
    rect: Rect,
    top: bool,
}

/// Where a flow goes: top row to top row, between the rows, bottom row to bottom row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Top,
    Across,
    Bottom,
}

/// A flow's arrow.
pub(super) struct Edge {
    pub flow: usize,
    pub from: usize,
    pub to: usize,
    /// The x of the source end and of the destination end.
    pub ends: (i32, i32),
    label: Vec<String>,
    label_w: i32,
    label_h: i32,
    class: Class,
    /// The horizontal extent the track and its label take.
    span: (i32, i32),
    /// The track's y.
    pub track: i32,
    /// The label's top-left corner.
    label_at: (i32, i32),
}

/// How the ends of flows at one box are ordered: side, outer first, other box, flow.
type EndKey = (i32, bool, i32, i64);

/// The whole layout.
pub(super) struct Layout {
    groups: Vec<Group>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    width: i32,
    height: i32,
}

impl Edge {
    /// The label's box.
    pub(super) const fn label_rect(&self) -> Rect {
        Rect {
            x: self.label_at.0,
            y: self.label_at.1,
            w: self.label_w,
            h: self.label_h,
        }
    }
}

impl Node {
    /// Where the flows attach: the bottom of a top-row box, the top of a bottom-row one.
    pub const fn side(&self) -> i32 {
        if self.top {
            self.rect.y + self.rect.h
        } else {
            self.rect.y
        }
    }
}

fn node_size(kind: EntityKind, name: &[String]) -> (i32, i32) {
    let pad = if matches!(kind, EntityKind::Channel | EntityKind::External) {
        40
    } else {
        28
    };
    (
        (text_width(widest(name), NAME.size) + pad).max(110),
        NAME.height(name.len()) + 22,
    )
}

/// The width of a row of groups `widths` wide.
fn row_width(widths: &[i32]) -> i32 {
    widths.iter().sum::<i32>() + GROUP_GAP * (i32::try_from(widths.len()).unwrap_or(1) - 1).max(0)
}

/// The split of `widths` into a top and a bottom row that minimises the wider row.
fn split(widths: &[i32]) -> usize {
    (1..=widths.len())
        .min_by_key(|&s| row_width(&widths[..s]).max(row_width(&widths[s..])))
        .unwrap_or(widths.len())
}

/// The left edge of a label `w` wide for a track between `ends`: over at least 40 px of the
/// track (or all of a shorter one), covering as few of the x positions `avoid` as it can, and
/// then as central as it can.
/// Returns it and how many it covers.
fn label_x(ends: (i32, i32), w: i32, avoid: &[i32]) -> (i32, usize) {
    let (lo, hi) = (ends.0.min(ends.1), ends.0.max(ends.1));
    let overlap = (hi - lo).min(40);
    let centred = (lo + hi) / 2 - w / 2;
    let (first, last) = (lo + overlap - w, hi - overlap);
    let covered = |x: i32| avoid.iter().filter(|&&a| x - 4 < a && a < x + w + 4).count();
    (0..=(last - first).max(0) / 6)
        .map(|i| first + 6 * i)
        .min_by_key(|&x| (covered(x), (x - centred).abs()))
        .map_or((centred, covered(centred)), |x| (x, covered(x)))
}

/// The flow's label: `F03 HTTPS (via Site network)`.
fn flow_label(m: &ThreatModel, i: usize) -> String {
    let f = &m.flows[i];
    let mut label = format!("{} {}", f.id.trim(), f.protocol.trim());
    if !f.via.is_empty() {
        let via: Vec<String> = f
            .via
            .iter()
            .map(|id| m.entity(id).map_or_else(|| id.clone(), |e| e.name.clone()))
            .collect();
        let _ = write!(label, " (via {})", via.join(", "));
    }
    label
}

impl Layout {
    pub(super) fn new(m: &ThreatModel) -> Self {
        let mut groups: Vec<Group> = m
            .boundaries
            .iter()
            .map(|b| Group {
                name: Some(b.name.clone()).map(|n| vec![n]),
                members: (0..m.entities.len())
                    .filter(|&i| m.entities[i].boundary == b.id)
                    .collect(),
                rect: Rect { x: 0, y: 0, w: 0, h: 0 },
                top: true,
            })
            .collect();
        let outside: Vec<usize> = (0..m.entities.len())
            .filter(|&i| !m.boundaries.iter().any(|b| b.id == m.entities[i].boundary))
            .collect();
        if !outside.is_empty() {
            groups.push(Group {
                name: None,
                members: outside,
                rect: Rect { x: 0, y: 0, w: 0, h: 0 },
                top: true,
            });
        }
        let mut nodes: Vec<Node> = m
            .entities
            .iter()
            .map(|e| {
                let name = wrap(&e.name, two_lines(&e.name, (12, NAME_CHARS)));
                let (w, h) = node_size(e.kind, &name);
                Node {
                    rect: Rect { x: 0, y: 0, w, h },
                    kind: e.kind,
                    name,
                    top: true,
                }
            })
            .collect();
        // Widths, labels and rows.
        for g in &mut groups {
            let inner: i32 = g.members.iter().map(|&i| nodes[i].rect.w + GAP).sum::<i32>() - GAP;
            // Wide enough for the name in two lines.
            let name_chars = g
                .name
                .as_ref()
                .map_or(0, |n| two_lines(&n.join(" "), (12, 2 * NAME_CHARS)));
            g.rect.w = (inner + 2 * PAD)
                .max(130)
                .max(text_width(name_chars, GROUP.size) + 2 * PAD);
            if let Some(name) = &g.name {
                g.name = Some(wrap(&name.join(" "), chars_in(g.rect.w - 2 * PAD, GROUP.size)));
            }
        }
        let widths: Vec<i32> = groups.iter().map(|g| g.rect.w).collect();
        let s = split(&widths);
        for g in &mut groups[s..] {
            g.top = false;
        }
        let row_width = [row_width(&widths[..s]), row_width(&widths[s..])];
        let inner_width = row_width[0].max(row_width[1]);
        for (top, width) in [(true, row_width[0]), (false, row_width[1])] {
            let mut x = MARGIN + (inner_width - width) / 2;
            for g in groups.iter_mut().filter(|g| g.top == top) {
                g.rect.x = x;
                let inner: i32 = g.members.iter().map(|&i| nodes[i].rect.w + GAP).sum::<i32>() - GAP;
                let mut nx = x + (g.rect.w - inner) / 2;
                for &i in &g.members {
                    nodes[i].rect.x = nx;
                    nodes[i].top = top;
                    nx += nodes[i].rect.w + GAP;
                }
                x += g.rect.w + GROUP_GAP;
            }
        }
        let label_h = |top: bool| {
            groups
                .iter()
                .filter(|g| g.top == top)
                .map(|g| GROUP.height(g.name.as_ref().map_or(0, Vec::len)))
                .max()
                .unwrap_or(0)
        };
        let box_h = |top: bool| {
            nodes
                .iter()
                .filter(|n| n.top == top)
                .map(|n| n.rect.h)
                .max()
                .unwrap_or(0)
        };
        let (top_label, top_box) = (label_h(true), box_h(true));
        let (bottom_label, bottom_box) = (label_h(false), box_h(false));
        // The top row.
        for n in nodes.iter_mut().filter(|n| n.top) {
            n.rect.y = MARGIN + PAD + top_label + 6;
            n.rect.h = top_box;
        }
        for g in groups.iter_mut().filter(|g| g.top) {
            g.rect.y = MARGIN;
            g.rect.h = PAD + top_label + 6 + top_box + PAD;
        }
        let mut edges = Self::edges(m, &nodes);
        let routing_top = MARGIN + PAD + top_label + 6 + top_box + PAD + 12;
        let routing_bottom = Self::levels(&mut edges, routing_top);
        // The bottom row.
        for n in nodes.iter_mut().filter(|n| !n.top) {
            n.rect.y = routing_bottom + PAD;
            n.rect.h = bottom_box;
        }
        let mut height = routing_bottom;
        for g in groups.iter_mut().filter(|g| !g.top) {
            g.rect.y = routing_bottom;
            g.rect.h = PAD + bottom_box + 6 + bottom_label + PAD;
            height = height.max(g.rect.y + g.rect.h);
        }
        // Labels of flows at the left end may stick out: move everything right.
        let dx = (MARGIN - edges.iter().map(|e| e.span.0).min().unwrap_or(MARGIN)).max(0);
        for g in &mut groups {
            g.rect.x += dx;
        }
        for n in &mut nodes {
            n.rect.x += dx;
        }
        for e in &mut edges {
            e.ends = (e.ends.0 + dx, e.ends.1 + dx);
            e.span = (e.span.0 + dx, e.span.1 + dx);
            e.label_at.0 += dx;
        }
        let right = edges
            .iter()
            .map(|e| e.span.1)
            .chain(groups.iter().map(|g| g.rect.x + g.rect.w))
            .chain([legend(m, 0).1]);
        Self {
            width: right.max().unwrap_or(0) + MARGIN,
            height: height + 14 + 22 + MARGIN,
            groups,
            nodes,
            edges,
        }
    }

    /// One edge per flow whose ends are entities, with its attachment points.
    fn edges(m: &ThreatModel, nodes: &[Node]) -> Vec<Edge> {
        let index = |id: &str| m.entities.iter().position(|e| e.id == id);
        let mut edges: Vec<Edge> = Vec::new();
        for (flow, f) in m.flows.iter().enumerate() {
            let (Some(from), Some(to)) = (index(&f.from), index(&f.to)) else {
                continue;
            };
            let class = match (nodes[from].top, nodes[to].top) {
                (true, true) => Class::Top,
                (false, false) => Class::Bottom,
                _ => Class::Across,
            };
            edges.push(Edge {
                flow,
                from,
                to,
                ends: (0, 0),
                label: vec![flow_label(m, flow)],
                label_w: 0,
                label_h: 0,
                class,
                span: (0, 0),
                track: 0,
                label_at: (0, 0),
            });
        }
        // Attachment points: per box, the ends of flows to boxes on the left, then to itself,
        // then to the right. On each side the flows that will run nearer the box row (to the
        // same row, nearer boxes, lower index) are put nearer the other box, so that the flows
        // nest rather than cross.
        let centre = |i: usize| nodes[i].rect.x + nodes[i].rect.w / 2;
        for (n, node) in nodes.iter().enumerate() {
            let mut ends: Vec<(EndKey, usize, bool)> = Vec::new();
            for (k, e) in edges.iter().enumerate() {
                for (is_from, here, there) in [(true, e.from, e.to), (false, e.to, e.from)] {
                    if here == n {
                        let index = i64::try_from(k).unwrap_or(0);
                        let across = e.class == Class::Across;
                        let key = match centre(there).cmp(&centre(n)) {
                            std::cmp::Ordering::Less => (0, across, -centre(there), index),
                            std::cmp::Ordering::Equal => (1, false, 0, index),
                            std::cmp::Ordering::Greater => (2, !across, -centre(there), -index),
                        };
                        ends.push((key, k, !is_from));
                    }
                }
            }
            ends.sort_unstable();
            let inset = if node.kind == EntityKind::Process || node.kind == EntityKind::DataStore {
                14
            } else {
                22
            };
            let (left, room) = (node.rect.x + inset, node.rect.w - 2 * inset);
            let count = i32::try_from(ends.len()).unwrap_or(1) + 1;
            for (i, &(_, k, is_to)) in (1..).zip(&ends) {
                let x = left + room * i / count;
                if is_to {
                    edges[k].ends.1 = x;
                } else {
                    edges[k].ends.0 = x;
                }
            }
        }
        // Where other flows' vertical segments may run.
        let ends: Vec<(usize, i32, bool)> = edges
            .iter()
            .enumerate()
            .flat_map(|(k, e)| [(k, e.ends.0, nodes[e.from].top), (k, e.ends.1, nodes[e.to].top)])
            .collect();
        for (k, e) in edges.iter_mut().enumerate() {
            let own_bottom = |x: i32, top: bool| !top && (x == e.ends.0 || x == e.ends.1);
            let avoid: Vec<i32> = ends
                .iter()
                .filter(|&&(o, x, top)| match e.class {
                    Class::Top => o != k && top,
                    Class::Bottom => o != k && !top,
                    Class::Across => o != k || own_bottom(x, top),
                })
                .map(|&(_, x, _)| x)
                .collect();
            let (label, w, x) = LABEL_CHARS
                .iter()
                .map(|&chars| {
                    let label = wrap(&e.label[0], chars);
                    let w = text_width(widest(&label), LABEL.size) + 10;
                    let (x, covered) = label_x(e.ends, w, &avoid);
                    (covered, label, w, x)
                })
                .min_by_key(|(covered, ..)| *covered)
                .map(|(_, label, w, x)| (label, w, x))
                .unwrap_or_default();
            let (lo, hi) = (e.ends.0.min(e.ends.1), e.ends.0.max(e.ends.1));
            e.label_h = LABEL.height(label.len()) + 6;
            (e.label, e.label_w, e.label_at.0) = (label, w, x);
            e.span = (lo.min(x) - 6, hi.max(x + e.label_w) + 6);
        }
        edges
    }

    /// Assigns each edge a level and its track's y, from `top` down; returns the bottom.
    fn levels(edges: &mut [Edge], top: i32) -> i32 {
        let mut bands: Vec<Vec<Vec<usize>>> = vec![Vec::new(); 3];
        for (c, class) in [Class::Top, Class::Across, Class::Bottom].into_iter().enumerate() {
            let mut order: Vec<usize> = (0..edges.len()).filter(|&k| edges[k].class == class).collect();
            order.sort_by_key(|&k| {
                let e = &edges[k];
                ((e.ends.0 - e.ends.1).abs(), e.flow)
            });
            if class == Class::Across {
                order.sort_by_key(|&k| (edges[k].span.0, edges[k].flow));
            }
            for k in order {
                let (l, r) = edges[k].span;
                let free = bands[c]
                    .iter()
                    .position(|level| level.iter().all(|&o| r <= edges[o].span.0 || edges[o].span.1 <= l));
                let level = free.unwrap_or_else(|| {
                    bands[c].push(Vec::new());
                    bands[c].len() - 1
                });
                bands[c][level].push(k);
            }
        }
        bands[2].reverse();
        let mut y = top;
        for ks in bands.into_iter().flatten() {
            let h = ks.iter().map(|&k| edges[k].label_h).max().unwrap_or(0);
            for k in ks {
                let e = &mut edges[k];
                // Labels hang below their track, except between two bottom boxes, where the
                // vertical segments come from below.
                e.track = if e.class == Class::Bottom { y + 4 + h + 4 } else { y + 6 };
                e.label_at.1 = if e.class == Class::Bottom {
                    e.track - 4 - e.label_h
                } else {
                    e.track + 4
                };
            }
            y += h + 16;
        }
        y + 8
    }
}

/// The block diagram: trust boundaries as labelled frames, entities as boxes shaped by kind,
/// one labelled arrow per flow (see the module documentation for the layout).
#[must_use]
pub fn flowchart(m: &ThreatModel) -> String {
    let system = m.system.as_ref().map_or("the system", |s| s.name.as_str());
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let label = format!(
        "Block diagram of {system}: {}, {}, {}, each flow one labelled arrow",
        count(m.boundaries.len(), "trust boundary", "trust boundaries"),
        count(m.entities.len(), "entity", "entities"),
        count(m.flows.len(), "data flow", "data flows")
    );
    if m.entities.is_empty() {
        return placeholder(&label, "no entities");
    }
    let l = Layout::new(m);
    let mut out = String::new();
    for g in &l.groups {
        let Some(name) = &g.name else { continue };
        let Rect { x, y, w, h } = g.rect;
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"10\" fill=\"#fafafa\" stroke=\"#8c8c8c\" stroke-dasharray=\"6 3\"/>"
        );
        let top = if g.top {
            y + PAD - 2
        } else {
            y + h - PAD - GROUP.height(name.len()) + 2
        };
        GROUP.draw(&mut out, name, x + w / 2, top);
    }
    for (i, n) in l.nodes.iter().enumerate() {
        let _ = writeln!(out, "<g data-entity=\"{}\">", esc(&m.entities[i].id));
        shape(&mut out, n.kind, n.rect);
        let lift = if n.kind == EntityKind::DataStore { 4 } else { 0 };
        let text_top = n.rect.y + (n.rect.h - NAME.height(n.name.len())) / 2 + lift;
        NAME.draw(&mut out, &n.name, n.rect.x + n.rect.w / 2, text_top);
        out.push_str("</g>\n");
    }
    for e in &l.edges {
        let colour = PALETTE[e.flow % PALETTE.len()];
        let (a, b) = (l.nodes[e.from].side(), l.nodes[e.to].side());
        let dir = if l.nodes[e.to].top { -1 } else { 1 };
        let (ax, bx) = e.ends;
        let _ = writeln!(
            out,
            "<polyline data-flow=\"{}\" points=\"{ax},{a} {ax},{t} {bx},{t} {bx},{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"/>\n\
             <circle cx=\"{ax}\" cy=\"{a}\" r=\"2.5\" fill=\"{colour}\"/>\n\
             <polygon points=\"{bx},{b} {},{} {},{}\" fill=\"{colour}\"/>",
            esc(&m.flows[e.flow].id),
            b - dir * 8,
            bx - 5,
            b - dir * 10,
            bx + 5,
            b - dir * 10,
            t = e.track
        );
    }
    for e in &l.edges {
        let colour = PALETTE[e.flow % PALETTE.len()];
        let Rect { x, y, w, h } = e.label_rect();
        let _ = writeln!(
            out,
            "<g data-flow-label=\"{}\">\n<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.88\" stroke=\"{colour}\" stroke-width=\"0.8\"/>",
            esc(&m.flows[e.flow].id),
        );
        Font { fill: colour, ..LABEL }.draw(&mut out, &e.label, x + w / 2, y + 2);
        out.push_str("</g>\n");
    }
    out.push_str(&legend(m, l.height - MARGIN - 22).0);
    document(&label, l.width, l.height, &out)
}

/// A line at `y` showing the shapes of the kinds used, and where it ends.
fn legend(m: &ThreatModel, y: i32) -> (String, i32) {
    let mut out = String::new();
    let mut x = MARGIN;
    for kind in [
        EntityKind::Person,
        EntityKind::Process,
        EntityKind::DataStore,
        EntityKind::Channel,
        EntityKind::External,
    ] {
        if !m.entities.iter().any(|e| e.kind == kind) {
            continue;
        }
        let name = kind.name().replace('-', " ");
        shape(&mut out, kind, Rect { x, y, w: 44, h: 22 });
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#444444\">{}</text>",
            x + 50,
            y + 15,
            esc(&name)
        );
        x += 50 + text_width(name.chars().count(), 12) + 24;
    }
    (out, x - 24)
}
