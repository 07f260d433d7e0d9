//! Escaping untrusted text (threat descriptions, harness evidence, counterexample details) for
//! each output language: Markdown table cells, HTML, XML and Mermaid.
//!
//! Every function first makes invisible or line-breaking characters visible (`\u{202e}`), so
//! that no report can be made to lie by bidi overrides, zero-width characters or stray
//! carriage returns.

use std::fmt::Write as _;

/// Whether `c` must be shown as a `\u{…}` escape rather than printed.
fn invisible(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{061c}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

/// Line endings normalised to `\n`, tabs to spaces, invisible characters made visible.
#[must_use]
pub fn visible(s: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            c if invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown table cell or paragraph: HTML and Markdown syntax escaped, `|` escaped,
/// line breaks as `<br>`.
#[must_use]
pub fn md(s: &str) -> String {
    let s = visible(s.trim());
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// An inline code span (backticks included) for Markdown: no backtick can end it early, a
/// `|` cannot split a table cell, and line breaks become spaces.
#[must_use]
pub fn code(s: &str) -> String {
    let s = visible(s.trim())
        .replace('`', "'")
        .replace('|', "\\|")
        .replace('\n', " ");
    if s.is_empty() {
        "` `".to_owned()
    } else {
        format!("`{s}`")
    }
}

/// Text for HTML element content or a double-quoted attribute.
#[must_use]
pub fn html(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// HTML text with line breaks kept as `<br>`.
#[must_use]
pub fn html_lines(s: &str) -> String {
    html(s.trim()).replace('\n', "<br>")
}

/// Text for XML element content or attributes (XML 1.0: no control characters).
#[must_use]
pub fn xml(s: &str) -> String {
    // visible() has already removed every character XML 1.0 forbids except \n, which is
    // allowed; attributes would normalise it to a space, so write it as a reference.
    html(s).replace('\n', "&#10;")
}

/// Text for a Mermaid label, message or note: everything but letters, digits and a few safe
/// punctuation marks becomes a `#NNN;` entity code, so nothing can end a statement, open a
/// comment, inject HTML or break out of the code fence.
#[must_use]
pub fn mermaid(s: &str) -> String {
    let s = visible(s.trim());
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | ' '
            | '.'
            | ','
            | '_'
            | '-'
            | '/'
            | '('
            | ')'
            | '='
            | '+'
            | '@'
            | '?' => out.push(c),
            '\n' => out.push(' '),
            c => {
                let _ = write!(out, "#{};", u32::from(c));
            }
        }
    }
    if out.is_empty() { "#32;".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_shown_as_escapes() {
        assert_eq!(visible("a\u{202e}b\r\nc\u{7}\td"), "a\\u{202e}b\nc\\u{7} d");
    }

    #[test]
    fn markdown_escapes_html_pipes_and_line_breaks() {
        assert_eq!(
            md("<script>x</script> | a\nb *c*"),
            "&lt;script&gt;x&lt;/script&gt; \\| a<br>b \\*c\\*"
        );
        assert_eq!(md("[link](javascript:x)"), "\\[link\\](javascript:x)");
    }

    #[test]
    fn code_spans_cannot_be_closed_early() {
        assert_eq!(code("a`b|c\nd"), "`a'b\\|c d`");
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html("<img src=x onerror='a'> & \"q\""),
            "&lt;img src=x onerror=&#39;a&#39;&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn xml_has_no_raw_control_characters_or_markup() {
        let x = xml("a\u{0}b<c>&\"'\nd");
        assert_eq!(x, "a\\u{0}b&lt;c&gt;&amp;&quot;&#39;&#10;d");
    }

    #[test]
    fn mermaid_labels_cannot_end_statements_or_inject() {
        let m = mermaid("a;b%%c#d<br>\"e\"\n`f`:g{h}[i]");
        let mut rest = m.as_str();
        let mut plain = String::new();
        while let Some(i) = rest.find('#') {
            plain.push_str(&rest[..i]);
            let end = rest[i..].find(';').expect("entity codes end with ';'");
            assert!(rest[i + 1..i + end].bytes().all(|b| b.is_ascii_digit()));
            rest = &rest[i + end + 1..];
        }
        plain.push_str(rest);
        assert!(
            !plain.contains([';', '%', '<', '>', '"', '`', ':', '{', '}', '[', ']', '\n', '#']),
            "{plain}"
        );
        assert_eq!(mermaid("x;y"), "x#59;y");
        assert_eq!(mermaid("end"), "end");
        assert_eq!(mermaid(""), "#32;");
    }
}
