//! A YAML document tree that remembers where every node came from.
//!
//! Falco reads rules files with yaml-cpp and reports each problem at the node's mark
//! (0-based line and column). This module builds the same kind of tree from saphyr's
//! event stream: scalars keep the text they were written with (yaml-cpp's
//! `as<std::string>()` answers that text, so `items: [007]` is the string `007`, not 7), and
//! the few typed conversions Falco does (`bool`, `uint32`) are done here the yaml-cpp way.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A node's position, as yaml-cpp reports it: 0-based line and column, character offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// Character offset from the start of the content.
    pub pos: usize,
    /// 0-based line.
    pub line: usize,
    /// 0-based column.
    pub column: usize,
}

impl Mark {
    fn from_span(span: &Span) -> Self {
        Mark {
            pos: span.start.index(),
            line: span.start.line().saturating_sub(1),
            column: span.start.col(),
        }
    }
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// Where it starts.
    pub mark: Mark,
}

/// The node kinds yaml-cpp distinguishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null`, an empty value: yaml-cpp's `IsNull()`.
    Null,
    /// A scalar and the text it stands for.
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The member with a scalar key equal to `key` (the first, as yaml-cpp answers).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(members) => members
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Scalar(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether `key` is present (yaml-cpp's `item[key].IsDefined()`).
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The scalar text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the node is null.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// Whether the node is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    /// Whether the node is a sequence.
    pub fn is_seq(&self) -> bool {
        matches!(self.kind, Kind::Seq(_))
    }

    /// The sequence items (empty for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The mapping members (empty for anything else).
    pub fn members(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(m) => m,
            _ => &[],
        }
    }

    /// The key text of a member key, rendered as yaml-cpp's `as<std::string>()` would
    /// (only scalar keys have one).
    pub fn key_text(&self) -> String {
        match &self.kind {
            Kind::Scalar(s) => s.clone(),
            Kind::Null => "~".to_string(),
            _ => String::new(),
        }
    }
}

/// yaml-cpp's `convert<bool>`: the YAML 1.1 spellings it accepts.
pub fn to_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 11] = [
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
    ];
    const FALSE: [&str; 11] = [
        "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
    ];
    if TRUE.contains(&s) {
        Some(true)
    } else if FALSE.contains(&s) {
        Some(false)
    } else {
        None
    }
}

/// yaml-cpp's `convert<uint32_t>`: decimal digits (an optional `+`), in range.
pub fn to_u32(s: &str) -> Option<u32> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("yaml-cpp: error at line {}, column {}: {message}", mark.line + 1, mark.column + 1)]
pub struct YamlError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub mark: Mark,
}

/// yaml-cpp accepts the closing bracket of a multi-line flow collection at the indentation
/// of the key that opened it, which YAML 1.2 (and saphyr) reject:
///
/// ```yaml
/// - list: l
///   items: [
///     a, b
///   ]
/// ```
///
/// Falco's own rules files are written like this. Such a closing-bracket line is re-indented
/// to the previous line's depth before parsing (no value changes: indentation inside a flow
/// collection is insignificant); answers the text and, per changed line, the spaces added.
fn relax_flow_closers(content: &str) -> (Cow<'_, str>, Vec<(usize, usize)>) {
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let mut added = Vec::new();
    let mut prev_indent: Option<usize> = None;
    let mut out = String::new();
    for (i, line) in content.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start_matches(' ');
        let body = trimmed.trim_end();
        let closer = body.starts_with([']', '}'])
            && body.split('#').next().is_some_and(|b| {
                b.trim_end()
                    .chars()
                    .all(|c| matches!(c, ']' | '}' | ',' | ' '))
            });
        let ind = indent(line);
        let mut fixed = false;
        if closer && let Some(p) = prev_indent.filter(|&p| p > ind) {
            added.push((i, p - ind));
            out.push_str(&" ".repeat(p - ind));
            out.push_str(line);
            fixed = true;
        }
        if !fixed {
            out.push_str(line);
        }
        if !body.is_empty() && !body.starts_with('#') {
            prev_indent = Some(ind);
        }
    }
    if added.is_empty() {
        (Cow::Borrowed(content), added)
    } else {
        (Cow::Owned(out), added)
    }
}

/// Maps a mark in the relaxed text back to the original text.
fn unrelax(mark: Mark, added: &[(usize, usize)]) -> Mark {
    let mut m = mark;
    for &(line, n) in added {
        if line < mark.line {
            m.pos = m.pos.saturating_sub(n);
        } else if line == mark.line {
            m.pos = m.pos.saturating_sub(n.min(mark.column));
            m.column = m.column.saturating_sub(n);
        }
    }
    m
}

/// Parses every document of `content`.
pub fn load_all(content: &str) -> Result<Vec<Node>, YamlError> {
    let (text, added) = relax_flow_closers(content);
    let mut builder = Builder::default();
    for event in Parser::new_from_str(&text) {
        let (event, span) = event.map_err(|e| YamlError {
            message: e.info().to_string(),
            mark: unrelax(
                Mark {
                    pos: e.marker().index(),
                    line: e.marker().line().saturating_sub(1),
                    column: e.marker().col(),
                },
                &added,
            ),
        })?;
        builder.push(event, &span)?;
    }
    let mut docs = builder.docs;
    if !added.is_empty() {
        for d in &mut docs {
            remap(d, &added);
        }
    }
    Ok(docs)
}

fn remap(n: &mut Node, added: &[(usize, usize)]) {
    n.mark = unrelax(n.mark, added);
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|i| remap(i, added)),
        Kind::Map(members) => members.iter_mut().for_each(|(k, v)| {
            remap(k, added);
            remap(v, added);
        }),
        Kind::Null | Kind::Scalar(_) => {}
    }
}

/// A container being filled.
#[derive(Debug)]
enum Open {
    Seq(Mark, usize, Vec<Node>),
    Map(Mark, usize, Vec<(Node, Node)>, Option<Node>),
}

#[derive(Debug, Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    /// Whether the current document produced its root node.
    has_root: bool,
    doc_mark: Mark,
}

impl Builder {
    fn push(&mut self, event: Event<'_>, span: &Span) -> Result<(), YamlError> {
        let mark = Mark::from_span(span);
        match event {
            Event::DocumentStart(_) => {
                self.has_root = false;
                self.doc_mark = mark;
            }
            Event::DocumentEnd => {
                if !self.has_root {
                    self.docs.push(Node {
                        kind: Kind::Null,
                        mark: self.doc_mark,
                    });
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let null = style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                let kind = if null {
                    Kind::Null
                } else {
                    Kind::Scalar(value.into_owned())
                };
                self.add(Node { kind, mark }, anchor)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    message: "unknown anchor".into(),
                    mark,
                })?;
                self.add(node, 0)?;
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(mark, anchor, Vec::new())),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map(mark, anchor, Vec::new(), None))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq(mark, anchor, items)) => (
                        Node {
                            kind: Kind::Seq(items),
                            mark,
                        },
                        anchor,
                    ),
                    Some(Open::Map(mark, anchor, members, _)) => (
                        Node {
                            kind: Kind::Map(members),
                            mark,
                        },
                        anchor,
                    ),
                    None => {
                        return Err(YamlError {
                            message: "unbalanced collection end".into(),
                            mark,
                        });
                    }
                };
                self.add(node.0, node.1)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.has_root = true;
                self.docs.push(node);
            }
            Some(Open::Seq(_, _, items)) => items.push(node),
            Some(Open::Map(_, _, members, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => members.push((key, node)),
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_text_and_nulls_are_null() {
        let docs = load_all("- a: 007\n  b: ~\n  c: 'null'\n  d:\n").unwrap();
        let item = &docs[0].items()[0];
        assert_eq!(item.get("a").and_then(Node::scalar), Some("007"));
        assert!(item.get("b").unwrap().is_null());
        assert_eq!(item.get("c").and_then(Node::scalar), Some("null"));
        assert!(item.get("d").unwrap().is_null());
        assert!(!item.has("e"));
    }

    #[test]
    fn marks_are_zero_based_like_yaml_cpp() {
        let docs = load_all("# c\n- rule: x\n  desc: y\n").unwrap();
        let item = &docs[0].items()[0];
        assert_eq!((item.mark.line, item.mark.column), (1, 2));
        let desc = item.get("desc").unwrap();
        assert_eq!((desc.mark.line, desc.mark.column), (2, 8));
    }

    #[test]
    fn documents_and_aliases() {
        let docs = load_all("- &a {x: 1}\n- *a\n---\n---\n- 2\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(
            docs[0].items()[1].get("x").and_then(Node::scalar),
            Some("1")
        );
        assert!(docs[1].is_null());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load_all("- a: [1, 2\n").unwrap_err();
        assert!(err.mark.line <= 1, "{err:?}");
    }

    #[test]
    fn closing_bracket_at_key_indentation_is_accepted() {
        let text = "- list: l\n  items: [\n    a, b\n  ]\n- macro: m\n  condition: x\n";
        let docs = load_all(text).unwrap();
        let items = docs[0].items()[0].get("items").unwrap();
        assert_eq!(items.items().len(), 2);
        let m = &docs[0].items()[1];
        assert_eq!((m.mark.line, m.mark.column, m.mark.pos), (4, 2, 36));
    }

    #[test]
    fn yaml_cpp_conversions() {
        assert_eq!(to_bool("Yes"), Some(true));
        assert_eq!(to_bool("off"), Some(false));
        assert_eq!(to_bool("1"), None);
        assert_eq!(to_u32("15"), Some(15));
        assert_eq!(to_u32("0.31.0"), None);
        assert_eq!(to_u32("-1"), None);
    }
}
