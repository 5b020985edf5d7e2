//! Rules indexed by what they require, so an event is tested only against the rules that
//! can match it (libsinsp indexes rules by event type; here the audit event's verb,
//! resource and subresource play that part).
//!
//! A rule's condition is a conjunction at its top; each conjunct that is a plain string
//! check `field = "x"` or `field in ("x", "y")` must hold for the rule to match. Fields
//! that many rules test that way become index keys: for each key, a map from value to the
//! rules that accept it, and the set of rules that do not test the key at all. For an
//! event, the candidates are, for every key, the rules accepting its value (a key without a
//! value accepts none of the rules that test it) or not testing it; rules are then
//! evaluated in load order among the candidates only, so first-match order is unchanged.
//!
//! Skipping a rule is exact because evaluation has no effect besides the answer and the
//! extraction cache, except for the runtime errors of legacy list operators: an engine with
//! such checks is not indexed.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use super::compile::CompiledRule;
use super::fields::{FieldType, FieldValue};
use super::filter::{Check, EvalCtx, Extractor, Node, Rhs};
use super::ops::{Modifier, Op};

/// Fields tested by fewer rules than this are not worth a key.
const MIN_RULES_PER_KEY: usize = 3;
/// At most this many keys (each costs an extraction per event).
const MAX_KEYS: usize = 4;

/// A set of positions in the active-rule list.
type Bits = Vec<u64>;

/// A required field and the values it may have.
type Requirement<'n> = (&'n Extractor, Vec<&'n [u8]>);

/// One index key: a field and which rules accept each of its values.
#[derive(Debug, Clone)]
struct Key {
    field: Extractor,
    /// Rules that accept a value (those that do not test the key included).
    accept: HashMap<Vec<u8>, Bits, FxBuildHasher>,
    /// Rules that do not test the key: the candidates for any other value, or none.
    untested: Bits,
}

/// The index over an engine's active rules.
#[derive(Debug, Clone)]
pub(crate) struct RuleIndex {
    keys: Vec<Key>,
    words: usize,
}

/// A conjunct `field = x` / `field in (...)` on a plain, single-valued string field: its
/// field and accepted values.
fn required_values(check: &Check) -> Option<Requirement<'_>> {
    let lhs = &check.lhs;
    if lhs.ty != FieldType::Str
        || lhs.list
        || !lhs.transformers.is_empty()
        || check.cmp.modifier != Modifier::None
        || check.deferred_error.is_some()
    {
        return None;
    }
    let Rhs::Consts(consts) = &check.rhs else {
        return None;
    };
    let strings = consts.strings();
    match check.cmp.op {
        Op::Eq => strings.first().map(|s| (lhs, vec![s.as_slice()])),
        Op::In => Some((lhs, strings.iter().map(Vec::as_slice).collect())),
        _ => None,
    }
}

/// Every conjunct of the condition's top-level `and` (nested `and`s included) that
/// [`required_values`] understands.
fn requirements<'n>(node: &'n Node, out: &mut Vec<Requirement<'n>>) {
    match node {
        Node::And(children) => children.iter().for_each(|c| requirements(c, out)),
        Node::Check(check) => out.extend(required_values(check)),
        Node::Or(_) | Node::Not(_) => {}
    }
}

fn has_deferred_errors(node: &Node) -> bool {
    match node {
        Node::And(c) | Node::Or(c) => c.iter().any(has_deferred_errors),
        Node::Not(c) => has_deferred_errors(c),
        Node::Check(check) => check.deferred_error.is_some(),
    }
}

fn set(bits: &mut Bits, i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

impl RuleIndex {
    /// Indexes `active` (positions into `rules`, in evaluation order); `None` when no
    /// field is worth a key, or when skipping a rule could change what is counted.
    pub(crate) fn build(rules: &[CompiledRule], active: &[usize]) -> Option<RuleIndex> {
        let active: Vec<&CompiledRule> = active.iter().map(|&i| &rules[i]).collect();
        if active.iter().any(|r| has_deferred_errors(&r.filter)) {
            return None;
        }
        // Per rule, per field slot: the values it requires (intersected when a rule
        // requires the same field twice).
        let mut per_rule: Vec<HashMap<usize, Requirement<'_>>> = Vec::new();
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for rule in &active {
            let mut found = Vec::new();
            requirements(&rule.filter, &mut found);
            let mut mine: HashMap<usize, Requirement<'_>> = HashMap::new();
            for (field, values) in found {
                match mine.get_mut(&field.slot) {
                    Some((_, have)) => have.retain(|v| values.contains(v)),
                    None => {
                        *counts.entry(field.slot).or_default() += 1;
                        mine.insert(field.slot, (field, values));
                    }
                }
            }
            per_rule.push(mine);
        }
        let mut slots: Vec<(usize, usize)> = counts
            .into_iter()
            .filter(|&(_, n)| n >= MIN_RULES_PER_KEY)
            .map(|(slot, n)| (n, slot))
            .collect();
        // Most-tested first; ties by slot for a stable choice.
        slots.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        slots.truncate(MAX_KEYS);
        if slots.is_empty() {
            return None;
        }
        let words = active.len().div_ceil(64);
        let keys = slots
            .into_iter()
            .map(|(_, slot)| {
                let mut untested = vec![0u64; words];
                let mut field = None;
                let mut accept: HashMap<Vec<u8>, Bits, FxBuildHasher> = HashMap::default();
                for (i, mine) in per_rule.iter().enumerate() {
                    match mine.get(&slot) {
                        None => set(&mut untested, i),
                        Some((f, values)) => {
                            field = Some((*f).clone());
                            for v in values {
                                let bits = accept
                                    .entry(v.to_vec())
                                    .or_insert_with(|| vec![0u64; words]);
                                set(bits, i);
                            }
                        }
                    }
                }
                for bits in accept.values_mut() {
                    for (b, u) in bits.iter_mut().zip(&untested) {
                        *b |= u;
                    }
                }
                Key {
                    field: field.expect("a counted slot has a field"),
                    accept,
                    untested,
                }
            })
            .collect();
        Some(RuleIndex { keys, words })
    }

    /// The candidate rules for the event of `ctx` (bit `i` = the `i`-th active rule), in
    /// `out`; false when the index cannot tell (a key with an unexpected value kind), and
    /// then every rule must be evaluated.
    pub(crate) fn candidates(&self, ctx: &mut EvalCtx<'_, '_>, out: &mut Bits) -> bool {
        out.clear();
        out.resize(self.words, u64::MAX);
        for key in &self.keys {
            ctx.ensure(&key.field);
            let allowed = match ctx.get(&key.field) {
                None => &key.untested,
                Some(FieldValue::Str(value)) => key.accept.get(&value[..]).unwrap_or(&key.untested),
                Some(_) => return false,
            };
            for (o, a) in out.iter_mut().zip(allowed) {
                *o &= a;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::event::EventView;
    use crate::rules::{Engine, EngineOptions, RuleMatching, RulesFile};

    const RULES: &str = r#"
- macro: kcreate
  condition: ka.verb=create
- rule: A
  desc: a
  condition: kcreate and ka.target.resource in (pods, deployments) and ka.user.name=bob
  output: A %ka.user.name
  priority: WARNING
  source: k8s_audit
- rule: B
  desc: b
  condition: ka.verb in (create, update) and ka.target.resource=pods
  output: B
  priority: WARNING
  source: k8s_audit
- rule: C
  desc: c
  condition: ka.verb=delete or ka.target.resource=secrets
  output: C
  priority: WARNING
  source: k8s_audit
- rule: D
  desc: d
  condition: ka.verb=get and not ka.target.resource exists and ka.target.subresource=exec
  output: D
  priority: WARNING
  source: k8s_audit
- rule: E
  desc: e
  condition: ka.verb=create and ka.target.resource=pods and ka.target.resource=secrets
  output: E
  priority: WARNING
  source: k8s_audit
"#;

    fn event(verb: &str, resource: Option<&str>, user: &str) -> String {
        let object = match resource {
            Some(r) => format!(r#"{{"resource":"{r}","subresource":"exec"}}"#),
            None => r#"{"subresource":"exec"}"#.to_string(),
        };
        format!(
            r#"{{"auditID":"1","verb":"{verb}","objectRef":{object},"user":{{"username":"{user}"}}}}"#
        )
    }

    /// The indexed engine raises exactly what evaluating every rule raises.
    #[test]
    fn same_alerts_as_without_the_index() {
        for matching in [RuleMatching::First, RuleMatching::All] {
            let options = EngineOptions {
                rule_matching: matching,
                ..EngineOptions::default()
            };
            let (engine, _) = Engine::load(&[RulesFile::new("r.yaml", RULES)], &options).unwrap();
            assert!(engine.index.is_some());
            let mut plain = engine.clone();
            plain.index = None;
            for verb in ["create", "update", "delete", "get", "list"] {
                for resource in [None, Some("pods"), Some("secrets"), Some("deployments")] {
                    for user in ["bob", "alice"] {
                        let payload = event(verb, resource, user);
                        let view = EventView::new(payload.as_bytes(), 1);
                        let (mut a, mut b) = (Vec::new(), Vec::new());
                        engine.evaluator().evaluate(&view, 1, &mut a);
                        plain.evaluator().evaluate(&view, 1, &mut b);
                        let names = |v: &Vec<crate::rules::Alert>| {
                            v.iter().map(|a| a.rule.to_string()).collect::<Vec<_>>()
                        };
                        assert_eq!(names(&a), names(&b), "{payload}");
                    }
                }
            }
        }
    }
}
