//! Comparison operators, with libsinsp's semantics (`filter_compare.cpp`).
//!
//! Strings compare as C strings (values are NUL-truncated before they get here):
//! `=`/`in` are `strcmp`, `contains` is `strstr` (an empty needle matches), `icontains` is
//! `strcasestr` (ASCII case folding), `startswith` is `strncmp` over the needle's length,
//! `<`/`>` compare bytes, `glob`/`iglob` are `fnmatch(3)` without flags (so `*` crosses `/`)
//! or with `FNM_CASEFOLD`, `pmatch` is libsinsp's path-prefix tree (see [`PathPrefix`]) and
//! `regex` is a full match (RE2 in Falco, the `regex` crate here; see [`compile_regex`]).

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    In,
    Intersects,
    Pmatch,
    Exists,
    Glob,
    IGlob,
    Regex,
}

/// A list modifier on a string operator (`startswith anyof (...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// No modifier.
    None,
    /// Exactly one right-hand value matches.
    OneOf,
    /// At least one matches.
    AnyOf,
    /// All match.
    AllOf,
}

/// An operator and its modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cmp {
    /// The operator.
    pub op: Op,
    /// The modifier.
    pub modifier: Modifier,
}

impl Op {
    /// libsinsp `str_to_cmpop`.
    pub fn parse(s: &str) -> Result<Op, String> {
        Ok(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<=" => Op::Le,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            ">" => Op::Gt,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "exists" => Op::Exists,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            _ => return Err(format!("unrecognized filter comparison operator '{s}'")),
        })
    }

    /// libsinsp `cmpop_to_str`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
        }
    }

    /// libsinsp `std::to_string(cmpop)`, used in a few messages.
    pub fn upper_name(self) -> &'static str {
        match self {
            Op::Eq => "EQ",
            Op::Ne => "NE",
            Op::Lt => "LT",
            Op::Le => "LE",
            Op::Gt => "GT",
            Op::Ge => "GE",
            Op::Contains => "CONTAINS",
            Op::IContains => "ICONTAINS",
            Op::BContains => "BCONTAINS",
            Op::StartsWith => "STARTSWITH",
            Op::BStartsWith => "BSTARTSWITH",
            Op::EndsWith => "ENDSWITH",
            Op::In => "IN",
            Op::Intersects => "INTERSECTS",
            Op::Pmatch => "PMATCH",
            Op::Exists => "EXISTS",
            Op::Glob => "GLOB",
            Op::IGlob => "IGLOB",
            Op::Regex => "REGEX",
        }
    }
}

impl Cmp {
    /// libsinsp `str_to_cmpop_with_modifier`: `"startswith anyof"`.
    pub fn parse(s: &str) -> Result<Cmp, String> {
        match s.split_once(' ') {
            None => Ok(Cmp {
                op: Op::parse(s)?,
                modifier: Modifier::None,
            }),
            Some((op, m)) => Ok(Cmp {
                op: Op::parse(op)?,
                modifier: match m {
                    "oneof" => Modifier::OneOf,
                    "anyof" => Modifier::AnyOf,
                    "allof" => Modifier::AllOf,
                    _ => {
                        return Err(format!("unrecognized filter comparison modifier '{m}'"));
                    }
                },
            }),
        }
    }
}

/// Whether a string operator may carry a modifier (Falco's `cmpop_supports_modifier`).
pub fn supports_modifier(op: Op) -> bool {
    matches!(
        op,
        Op::Eq
            | Op::Ne
            | Op::Contains
            | Op::IContains
            | Op::BContains
            | Op::StartsWith
            | Op::BStartsWith
            | Op::EndsWith
            | Op::Glob
            | Op::IGlob
            | Op::Regex
    )
}

/// libsinsp `flt_is_comparable`: whether `op` applies to a field of this kind, with its
/// error message when not.
pub fn check_comparable(cmp: Cmp, ty: super::fields::FieldType, list: bool) -> Result<(), String> {
    use super::fields::FieldType;
    let op = cmp.op;
    if op == Op::Exists {
        return Ok(());
    }
    if list {
        return match op {
            Op::In | Op::Intersects => Ok(()),
            _ => Err(format!(
                "'{}' operator not supported list filters",
                op.as_str()
            )),
        };
    }
    let ok = match ty {
        FieldType::U64 | FieldType::AbsTime | FieldType::RelTime => matches!(
            op,
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::In | Op::Intersects
        ),
        FieldType::Bool => matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects),
        FieldType::Str => !matches!(op, Op::BContains | Op::BStartsWith),
    };
    if ok {
        return Ok(());
    }
    let kind = match ty {
        FieldType::Str => "string",
        _ => "numeric",
    };
    Err(format!(
        "'{}' operator not supported for {kind} filters",
        op.as_str()
    ))
}

/// `strstr`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || memchr::memmem::find(hay, needle).is_some()
}

/// `strcasestr` (ASCII case folding, as in the C locale).
pub fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A string comparison for the operators that compare two strings.
pub fn compare_str(op: Op, a: &[u8], b: &[u8]) -> bool {
    match op {
        Op::Eq | Op::In | Op::Intersects => a == b,
        Op::Ne => a != b,
        Op::Contains => contains(a, b),
        Op::IContains => icontains(a, b),
        Op::StartsWith => a.starts_with(b),
        Op::EndsWith => a.ends_with(b),
        Op::Glob => glob(b, a, false),
        Op::IGlob => glob(b, a, true),
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

/// A numeric (or boolean) comparison.
pub fn compare_num(op: Op, a: u64, b: u64) -> bool {
    match op {
        Op::Eq | Op::In | Op::Intersects => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

/// glibc `fnmatch(pattern, string, casefold ? FNM_CASEFOLD : 0)`: `*`, `?`, bracket
/// expressions (`[!...]`/`[^...]`, ranges, `[:class:]`), backslash escapes; `*` and `?` also
/// match `/` and a leading `.` (no `FNM_PATHNAME`/`FNM_PERIOD`).
pub fn glob(pattern: &[u8], s: &[u8], casefold: bool) -> bool {
    let fold = |c: u8| if casefold { c.to_ascii_lowercase() } else { c };
    let (mut p, mut i) = (0usize, 0usize);
    // Backtracking point for the last `*`.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' if i < s.len() => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' if i < s.len() => {
                    if let Some((matched, next)) = bracket(pattern, p, fold(s[i]), &fold) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    } else if s[i] == b'[' {
                        // No closing bracket: a literal `[`.
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                b'\\' => {
                    if p + 1 >= pattern.len() {
                        return false;
                    }
                    if i < s.len() && fold(pattern[p + 1]) == fold(s[i]) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c if i < s.len() && c != b'?' && c != b'[' && fold(c) == fold(s[i]) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        } else if i == s.len() {
            return true;
        }
        // Mismatch: retry from the last star with one more character swallowed.
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the bracket expression at `pattern[p] == '['`; answers whether it
/// matched and where the expression ends, or `None` when the bracket never closes.
fn bracket(pattern: &[u8], p: usize, c: u8, fold: &dyn Fn(u8) -> u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = matches!(pattern.get(j), Some(b'!' | b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &ch = pattern.get(j)?;
        if ch == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if ch == b'[' && pattern.get(j + 1) == Some(&b':') {
            let close = pattern[j + 2..].windows(2).position(|w| w == b":]")?;
            let class = &pattern[j + 2..j + 2 + close];
            let raw = c;
            let is = match class {
                b"alpha" => raw.is_ascii_alphabetic(),
                b"digit" => raw.is_ascii_digit(),
                b"alnum" => raw.is_ascii_alphanumeric(),
                b"upper" => {
                    raw.is_ascii_uppercase() || (fold(b'A') == b'a' && raw.is_ascii_lowercase())
                }
                b"lower" => raw.is_ascii_lowercase(),
                b"space" => matches!(raw, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
                b"blank" => matches!(raw, b' ' | b'\t'),
                b"punct" => raw.is_ascii_punctuation(),
                b"print" => (0x20..0x7f).contains(&raw),
                b"graph" => (0x21..0x7f).contains(&raw),
                b"cntrl" => raw < 0x20 || raw == 0x7f,
                b"xdigit" => raw.is_ascii_hexdigit(),
                _ => return None,
            };
            matched |= is;
            j += 2 + close + 2;
            continue;
        }
        let mut lo = ch;
        if ch == b'\\' {
            j += 1;
            lo = *pattern.get(j)?;
        }
        j += 1;
        if pattern.get(j) == Some(&b'-') && pattern.get(j + 1).is_some_and(|&b| b != b']') {
            let mut hi = pattern[j + 1];
            j += 2;
            if hi == b'\\' {
                hi = *pattern.get(j)?;
                j += 1;
            }
            if fold(lo) <= c && c <= fold(hi) {
                matched = true;
            }
        } else if fold(lo) == c {
            matched = true;
        }
    }
}

/// libsinsp's `path_prefix_search`: `pmatch (/etc, /usr/lib)` matches a path equal to or
/// under one of the prefixes, component by component; a component holding `*`, `?` or `[`
/// is a glob. Adding a shorter prefix drops the longer ones below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathPrefix {
    dirs: Vec<(Vec<u8>, Entry)>,
    glob_dirs: Vec<(Vec<u8>, Entry)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    subtree: Option<Box<PathPrefix>>,
    terminal: bool,
}

fn split_path(path: &[u8]) -> Vec<&[u8]> {
    let mut comps: Vec<&[u8]> = vec![b"root"];
    comps.extend(path.split(|&b| b == b'/').filter(|c| !c.is_empty()));
    comps
}

impl PathPrefix {
    /// Adds a prefix.
    pub fn add(&mut self, path: &[u8]) {
        let comps = split_path(path);
        self.add_components(&comps);
    }

    fn add_components(&mut self, comps: &[&[u8]]) {
        let Some((cur, rest)) = comps.split_first() else {
            return;
        };
        let is_glob = cur.iter().any(|b| matches!(b, b'?' | b'*' | b'['));
        let dirs = if is_glob {
            &mut self.glob_dirs
        } else {
            &mut self.dirs
        };
        match dirs.iter_mut().find(|(k, _)| k.as_slice() == *cur) {
            None => {
                let subtree = (!rest.is_empty()).then(|| {
                    let mut t = PathPrefix::default();
                    t.add_components(rest);
                    Box::new(t)
                });
                dirs.push((
                    cur.to_vec(),
                    Entry {
                        subtree,
                        terminal: rest.is_empty(),
                    },
                ));
            }
            Some((_, entry)) => {
                if rest.is_empty() {
                    *entry = Entry {
                        subtree: None,
                        terminal: true,
                    };
                } else if let Some(sub) = entry.subtree.as_mut() {
                    sub.add_components(rest);
                }
            }
        }
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &[u8]) -> bool {
        let comps = split_path(path);
        self.match_components(&comps, 0)
    }

    fn match_components(&self, comps: &[&[u8]], mut at: usize) -> bool {
        let Some(cur) = comps.get(at) else {
            return false;
        };
        if let Some((_, e)) = self.dirs.iter().find(|(k, _)| k.as_slice() == *cur)
            && Self::check(e, comps, at + 1)
        {
            return true;
        }
        for (k, e) in &self.glob_dirs {
            let Some(cur) = comps.get(at) else {
                return false;
            };
            if glob(k, cur, false) {
                // libsinsp advances its iterator here and does not restore it.
                at += 1;
                if Self::check(e, comps, at) {
                    return true;
                }
            }
        }
        false
    }

    fn check(e: &Entry, comps: &[&[u8]], at: usize) -> bool {
        if at >= comps.len() {
            e.subtree.is_none() && e.terminal
        } else {
            match &e.subtree {
                None => e.terminal,
                Some(sub) => sub.match_components(comps, at),
            }
        }
    }
}

/// Compiles a `regex` operand: full-match semantics, and RE2's POSIX syntax restrictions
/// (Falco compiles with `RE2::POSIX`: no Perl classes `\d \s \w`, no `\b`, no `(?` groups,
/// no lazy quantifiers). Error texts are the `regex` crate's, not RE2's.
pub fn compile_regex(pattern: &str) -> Result<regex::bytes::Regex, String> {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                if matches!(
                    b[i + 1],
                    b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'b' | b'B'
                ) {
                    return Err(format!(
                        "invalid regex pattern: invalid escape sequence: \\{}",
                        b[i + 1] as char
                    ));
                }
                i += 2;
                continue;
            }
            b'(' if b.get(i + 1) == Some(&b'?') => {
                return Err(
                    "invalid regex pattern: missing argument to repetition operator: ?".into(),
                );
            }
            b'*' | b'+' | b'?' | b'}' if b.get(i + 1) == Some(&b'?') => {
                return Err(format!(
                    "invalid regex pattern: bad repetition operator: {}?",
                    b[i] as char
                ));
            }
            _ => {}
        }
        i += 1;
    }
    regex::bytes::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("invalid regex pattern: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob(b"*", b"", false));
        assert!(glob(b"/etc/*", b"/etc/a/b", false));
        assert!(glob(b"a?c", b"abc", false));
        assert!(!glob(b"a?c", b"ac", false));
        assert!(glob(b"[a-c]x", b"bx", false));
        assert!(glob(b"[!a-c]x", b"dx", false));
        assert!(!glob(b"[^a-c]x", b"ax", false));
        assert!(glob(b"[]]", b"]", false));
        assert!(glob(b"[[:digit:]]*", b"7up", false));
        assert!(glob(b"a\\*", b"a*", false));
        assert!(!glob(b"a\\*", b"ab", false));
        assert!(!glob(b"a\\", b"a\\", false));
        assert!(glob(b"[ab", b"[ab", false));
        assert!(glob(b"*.Yaml", b"x.yaml", true));
        assert!(!glob(b"*.Yaml", b"x.yaml", false));
        assert!(glob(b"*a*b*c", b"xxaxbxxc", false));
        assert!(!glob(b"*a*b*c", b"xxaxbxxcd", false));
    }

    #[test]
    fn pmatch_prefixes() {
        let mut p = PathPrefix::default();
        p.add(b"/etc");
        p.add(b"/usr/lib");
        p.add(b"/var/*/x");
        assert!(p.matches(b"/etc"));
        assert!(p.matches(b"/etc/passwd"));
        assert!(!p.matches(b"/etcx"));
        assert!(p.matches(b"/usr/lib/a"));
        assert!(!p.matches(b"/usr"));
        assert!(p.matches(b"/var/log/x/y"));
        assert!(!p.matches(b"/var/log/z"));
        let mut root = PathPrefix::default();
        root.add(b"/");
        assert!(root.matches(b"/"));
        assert!(root.matches(b"/anything"));
        // Adding a shorter prefix replaces the subtree.
        let mut q = PathPrefix::default();
        q.add(b"/usr/lib");
        q.add(b"/usr");
        assert!(q.matches(b"/usr/share"));
    }

    #[test]
    fn string_ops_are_c_string_ops() {
        assert!(compare_str(Op::Contains, b"abc", b""));
        assert!(compare_str(Op::IContains, b"HeLLo", b"ell"));
        assert!(compare_str(Op::StartsWith, b"system:x", b"system:"));
        assert!(compare_str(Op::EndsWith, b"abc", b"bc"));
        assert!(compare_str(Op::Lt, b"ab", b"b"));
        assert!(compare_str(Op::Ge, b"b", b"ab"));
        assert!(compare_str(Op::Glob, b"a/b", b"a*"));
    }

    #[test]
    fn comparability() {
        use super::super::fields::FieldType;
        let c = |op| Cmp {
            op,
            modifier: Modifier::None,
        };
        assert!(check_comparable(c(Op::Contains), FieldType::Str, false).is_ok());
        assert_eq!(
            check_comparable(c(Op::BContains), FieldType::Str, false).unwrap_err(),
            "'bcontains' operator not supported for string filters"
        );
        assert_eq!(
            check_comparable(c(Op::Eq), FieldType::Str, true).unwrap_err(),
            "'=' operator not supported list filters"
        );
        assert_eq!(
            check_comparable(c(Op::Contains), FieldType::U64, false).unwrap_err(),
            "'contains' operator not supported for numeric filters"
        );
        assert!(check_comparable(c(Op::Exists), FieldType::Str, true).is_ok());
    }

    #[test]
    fn regex_is_anchored_and_posix() {
        let r = compile_regex("a.c").unwrap();
        assert!(r.is_match(b"abc"));
        assert!(!r.is_match(b"xabc"));
        assert!(compile_regex("\\d+").is_err());
        assert!(compile_regex("a*?").is_err());
        assert!(compile_regex("(").is_err());
    }
}
