//! A small JSON reader that keeps what Cylc's configuration needs and general parsers drop:
//! the order of keys (Cylc's merge of `site_authorization` depends on it), the line of every
//! key and value (so a finding names `site.json:7`), and duplicate keys (Python keeps the
//! first key's position and the last key's value; so do we, and we remember both lines).
//!
//! Strict RFC 8259 otherwise: no comments, no trailing commas, no `NaN`; nesting is bounded.

use std::fmt;

/// The deepest nesting accepted (Cylc's configuration needs four levels).
pub const MAX_DEPTH: usize = 32;

/// A value and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Json {
    /// The value.
    pub value: Value,
    /// 1-based line of its first character.
    pub line: usize,
}

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in first-appearance order.
    Object(Vec<Member>),
}

impl Value {
    /// What kind of value it is, for messages.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::Str(_) => "a string",
            Self::Array(_) => "a list",
            Self::Object(_) => "an object",
        }
    }
}

/// One key of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The key.
    pub key: String,
    /// Line of the key whose value is kept (the last occurrence).
    pub line: usize,
    /// Lines of earlier occurrences of the same key, whose values were replaced.
    pub replaced: Vec<usize>,
    /// The value.
    pub value: Json,
}

/// Why a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a whole document.
///
/// # Errors
/// [`JsonError`] at the first problem.
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
        line: 1,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.at < p.bytes.len() {
        return Err(p.err("unexpected text after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            line: self.line,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), JsonError> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected `{}`", char::from(b))))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nested more than {MAX_DEPTH} deep")));
        }
        let line = self.line;
        let value = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.err("expected a value")),
            None => return Err(self.err("unexpected end of text")),
        };
        Ok(Json { value, line })
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, JsonError> {
        if self.bytes[self.at..].starts_with(w.as_bytes()) {
            self.at += w.len();
            Ok(v)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let s = p.at;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.at += 1;
            }
            p.at > s
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else if !digits(self) {
            return Err(self.err("malformed number"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !digits(self) {
                return Err(self.err("malformed number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !digits(self) {
                return Err(self.err("malformed number"));
            }
        }
        Ok(Value::Number(self.text[start..self.at].to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let s = self
            .text
            .get(self.at..self.at + 4)
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("malformed \\u escape"))?;
        self.at += 4;
        u32::from_str_radix(s, 16).map_err(|_| self.err("malformed \\u escape"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.at;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20) {
                self.at += 1;
            }
            out.push_str(&self.text[start..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let e = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.at += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if !self.bytes[self.at..].starts_with(b"\\u") {
                                    return Err(self.err("unpaired surrogate in \\u escape"));
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("unpaired surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err("unpaired surrogate in \\u escape"))?
                        }
                        _ => return Err(self.err("unknown escape")),
                    };
                    out.push(c);
                }
                Some(_) => return Err(self.err("control character in a string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.eat(b'{')?;
        let mut members: Vec<Member> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            let line = self.line;
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key in double quotes"));
            }
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let value = self.value(depth + 1)?;
            if let Some(m) = members.iter_mut().find(|m| m.key == key) {
                m.replaced.push(m.line);
                m.line = line;
                m.value = value;
            } else {
                members.push(Member {
                    key,
                    line,
                    replaced: Vec::new(),
                    value,
                });
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Vec<Member> {
        match parse(text).expect("parses").value {
            Value::Object(m) => m,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn keys_keep_their_order_and_lines() {
        let m = object("{\n \"z\": 1,\n \"a\": {\"b\": [\"x\",\n \"y\"]}\n}");
        assert_eq!(
            m.iter().map(|m| (m.key.as_str(), m.line)).collect::<Vec<_>>(),
            [("z", 2), ("a", 3)]
        );
        let Value::Object(inner) = &m[1].value.value else {
            panic!("object")
        };
        let Value::Array(items) = &inner[0].value.value else {
            panic!("array")
        };
        assert_eq!(items.iter().map(|j| j.line).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn a_duplicate_key_keeps_the_first_position_and_the_last_value_as_python_does() {
        let m = object("{\"a\": 1,\n\"b\": 2,\n\"a\": 3}");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].key, "a");
        assert_eq!(m[0].value.value, Value::Number("3".into()));
        assert_eq!((m[0].line, m[0].replaced.clone()), (3, vec![1]));
    }

    #[test]
    fn escapes_and_surrogate_pairs_decode_and_bad_ones_are_refused_with_their_line() {
        let m = object(r#"{"\u00e9\ud83d\ude00\n\"": "x"}"#);
        assert_eq!(m[0].key, "é😀\n\"");
        for (bad, line) in [
            ("{\n\"a\": \"\\ud800\"}", 2),
            ("{\"a\": [1,]}", 1),
            ("{\"a\": 1,}", 1),
            ("{\n\n\"a\" 1}", 3),
            ("{\"a\": NaN}", 1),
            ("{\"a\": \"x\ty\"}", 1),
            ("{} x", 1),
            ("{\"a\": 01}", 1),
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.line, line, "{bad}: {err}");
        }
    }

    #[test]
    fn nesting_beyond_the_bound_is_refused_not_overflowing_the_stack() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
        let err = parse(&deep).expect_err("too deep");
        assert!(err.message.contains("nested"), "{err}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(matches!(
            parse(&ok),
            Ok(Json {
                value: Value::Array(_),
                ..
            })
        ));
    }
}
