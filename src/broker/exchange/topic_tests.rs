//! Topic routing: RabbitMQ's observed cases, trie maintenance, and the trie checked
//! against a plain reference matcher (property-based and exhaustive on small patterns).

use super::super::{Binding, Destination, ExchangeKind, Router};
use crate::protocol::{FieldTable, ShortStr};
use proptest::prelude::*;

fn queue(name: &str) -> Destination {
    Destination::Queue(ShortStr::from(name))
}

fn binding(dest: Destination, key: &str) -> Binding {
    Binding {
        destination: dest,
        routing_key: ShortStr::from(key),
        arguments: FieldTable::new(),
    }
}

fn route(router: &Router, key: &str) -> Vec<Destination> {
    let mut out = Vec::new();
    router.route(key.as_bytes(), None, &mut out);
    out.sort();
    out
}

/// (binding key, routing key, routed?) as observed on RabbitMQ 3.10.8.
const RABBITMQ_CASES: &[(&str, &str, bool)] = &[
    ("#", "", true),
    ("*", "", false),
    ("", "", true),
    ("", "a", false),
    ("a", "", false),
    ("#.#", "", true),
    ("*.#", "", false),
    ("#.*", "", false),
    ("a.*.b", "a..b", true),
    ("a.b", "a..b", false),
    ("*.*", ".", true),
    ("*", ".", false),
    ("#", ".", true),
    (".", ".", true),
    ("", ".", false),
    ("#.#", "a", true),
    ("a.#.#.b", "a.b", true),
    ("a.#", "a", true),
    ("#.a", "a", true),
    ("a.*.#", "a", false),
    ("a.*.#", "a.b", true),
    ("a.*", "a.", true),
    ("a.*", "a", false),
    ("a.#", "a.", true),
    ("*", "*", true),
    ("a", "*", false),
    ("#", "a.b.c", true),
    ("a#", "a#", true),
    ("a#", "ab", false),
    ("#.b.#", "b", true),
    ("#.b.#", "a.b.c", true),
    ("#.b.#", "a.c", false),
    ("*.#.*", "a", false),
    ("*.#.*", "a.b", true),
    ("#.#.#.#", "a.b", true),
    (".#", "", false),
    (".#", "a", false),
    (".#", ".a", true),
    ("#.", "a.", true),
    ("#.", "", false),
    ("#.", "a", false),
    ("*.", "a.", true),
    ("a.#.a", "a.a", true),
    ("a.#.a", "a", false),
    ("#.#.a", "a", true),
];

#[test]
fn matches_rabbitmq_on_observed_cases() {
    for &(pattern, key, expected) in RABBITMQ_CASES {
        let mut r = Router::new(ExchangeKind::Topic);
        assert!(r.bind(binding(queue("q"), pattern)));
        let routed = !route(&r, key).is_empty();
        assert_eq!(routed, expected, "binding {pattern:?}, routing key {key:?}");
        assert_eq!(
            reference_match(pattern, key),
            expected,
            "reference on {pattern:?} {key:?}"
        );
    }
}

#[test]
fn a_destination_matched_by_several_patterns_gets_one_copy() {
    let mut r = Router::new(ExchangeKind::Topic);
    for pattern in ["a.b", "a.*", "#", "a.#", "#.b", "*.*"] {
        assert!(r.bind(binding(queue("q"), pattern)));
    }
    assert!(r.bind(binding(queue("other"), "x.#")));
    assert_eq!(r.len(), 7);
    assert_eq!(route(&r, "a.b"), vec![queue("q")]);
    assert_eq!(route(&r, "x.y"), vec![queue("other"), queue("q")]);
}

#[test]
fn many_hashes_and_long_keys_stay_cheap() {
    let mut r = Router::new(ExchangeKind::Topic);
    // Both stay under the 255-byte limit of a short string.
    let pattern = vec!["#"; 100].join(".");
    assert!(r.bind(binding(queue("q"), &pattern)));
    let mut key = vec!["w"; 120].join(".");
    assert_eq!(route(&r, &key), vec![queue("q")]);
    key.push_str(".end");
    assert!(r.bind(binding(queue("end"), &format!("{pattern}.end"))));
    assert_eq!(route(&r, &key), vec![queue("end"), queue("q")]);
}

#[test]
fn unbind_prunes_and_keeps_siblings() {
    let mut r = Router::new(ExchangeKind::Topic);
    assert!(r.bind(binding(queue("q1"), "a.b.c")));
    assert!(r.bind(binding(queue("q2"), "a.b")));
    assert!(r.bind(binding(queue("q3"), "a.#")));
    assert!(!r.bind(binding(queue("q3"), "a.#")));
    assert!(!r.unbind(&binding(queue("q1"), "a.b")));
    assert!(!r.unbind(&binding(queue("q1"), "a.b.c.d")));
    assert!(r.unbind(&binding(queue("q1"), "a.b.c")));
    assert_eq!(route(&r, "a.b.c"), vec![queue("q3")]);
    assert_eq!(route(&r, "a.b"), vec![queue("q2"), queue("q3")]);
    assert!(r.unbind(&binding(queue("q2"), "a.b")));
    assert!(r.unbind(&binding(queue("q3"), "a.#")));
    assert!(r.is_empty());
    assert_eq!(route(&r, "a"), Vec::<Destination>::new());
    // Freed nodes are reused.
    assert!(r.bind(binding(queue("q4"), "a.b.c")));
    assert_eq!(route(&r, "a.b.c"), vec![queue("q4")]);
}

#[test]
fn remove_destination_drops_all_its_patterns() {
    let mut r = Router::new(ExchangeKind::Topic);
    for pattern in ["a.*", "#", "b", ""] {
        assert!(r.bind(binding(queue("gone"), pattern)));
    }
    assert!(r.bind(binding(queue("kept"), "a.*")));
    assert_eq!(r.remove_destination(&queue("gone")), 4);
    assert_eq!(r.len(), 1);
    assert_eq!(route(&r, "a.x"), vec![queue("kept")]);
    assert_eq!(route(&r, "b"), Vec::<Destination>::new());
    assert_eq!(r.bindings(), vec![binding(queue("kept"), "a.*")]);
}

/// Every word sequence over `alphabet` with at most `max` words.
fn all_sequences(alphabet: &[&str], max: usize) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    let mut level: Vec<Vec<String>> = vec![Vec::new()];
    for _ in 0..max {
        level = level
            .iter()
            .flat_map(|seq| {
                alphabet.iter().map(move |w| {
                    let mut next = seq.clone();
                    next.push((*w).to_owned());
                    next
                })
            })
            .collect();
        out.extend(level.iter().cloned());
    }
    out
}

#[test]
fn exhaustive_small_patterns_agree_with_reference() {
    // 120 patterns over {a, *, #} (up to 4 words) with and without a trailing "x": many
    // distinct `#` nodes meet each key, past the short list of `HashFloors`.
    let mut patterns: Vec<String> = Vec::new();
    for seq in all_sequences(&["a", "*", "#"], 4) {
        patterns.push(seq.join("."));
        let mut with_x = seq.clone();
        with_x.push("x".to_owned());
        patterns.push(with_x.join("."));
    }
    let mut r = Router::new(ExchangeKind::Topic);
    for (i, p) in patterns.iter().enumerate() {
        assert!(r.bind(binding(queue(&format!("p{i:03}")), p)));
    }
    for seq in all_sequences(&["a", "x", ""], 5) {
        let key = seq.join(".");
        let mut expected: Vec<Destination> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| reference_match(p, &key))
            .map(|(i, _)| queue(&format!("p{i:03}")))
            .collect();
        expected.sort();
        assert_eq!(route(&r, &key), expected, "key {key:?}");
    }
}

/// Splits like RabbitMQ: the empty key has no words.
fn reference_words(key: &str) -> Vec<&str> {
    if key.is_empty() {
        Vec::new()
    } else {
        key.split('.').collect()
    }
}

/// A plain dynamic-programming matcher: `m[i][j]` says whether the first `i` pattern
/// words match the first `j` key words.
fn reference_match(pattern: &str, key: &str) -> bool {
    let p = reference_words(pattern);
    let k = reference_words(key);
    let mut m = vec![vec![false; k.len() + 1]; p.len() + 1];
    m[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=k.len() {
            m[i][j] = match p[i - 1] {
                "#" => m[i - 1][j] || (j > 0 && m[i][j - 1]),
                "*" => j > 0 && m[i - 1][j - 1],
                word => j > 0 && m[i - 1][j - 1] && k[j - 1] == word,
            };
        }
    }
    m[p.len()][k.len()]
}

fn key_strategy(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(words), 0..6).prop_map(|w| w.join("."))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn trie_agrees_with_reference_matcher(
        patterns in prop::collection::vec(key_strategy(&["a", "b", "", "*", "#"]), 1..24),
        keys in prop::collection::vec(key_strategy(&["a", "b", "", "*"]), 1..16),
        removed in prop::collection::vec(any::<bool>(), 24),
    ) {
        let mut r = Router::new(ExchangeKind::Topic);
        for (i, p) in patterns.iter().enumerate() {
            r.bind(binding(queue(&format!("q{}", i % 7)), p));
            r.bind(binding(queue(&format!("p{i}")), p));
        }
        let check = |r: &Router, live: &dyn Fn(usize) -> bool| {
            for key in &keys {
                let mut expected: Vec<Destination> = Vec::new();
                for (i, p) in patterns.iter().enumerate() {
                    if live(i) && reference_match(p, key) {
                        expected.push(queue(&format!("q{}", i % 7)));
                        expected.push(queue(&format!("p{i}")));
                    }
                }
                expected.sort();
                expected.dedup();
                prop_assert_eq!(route(r, key), expected, "key {:?}", key);
            }
            Ok(())
        };
        check(&r, &|_| true)?;
        for (i, p) in patterns.iter().enumerate() {
            if removed[i] {
                r.unbind(&binding(queue(&format!("p{i}")), p));
                if patterns.iter().enumerate().all(|(j, q)| j % 7 != i % 7 || q != p || removed[j]) {
                    r.unbind(&binding(queue(&format!("q{}", i % 7)), p));
                }
            }
        }
        check(&r, &|i| !removed[i])?;
        for i in 0..7 {
            r.remove_destination(&queue(&format!("q{i}")));
        }
        for (i, p) in patterns.iter().enumerate() {
            r.unbind(&binding(queue(&format!("p{i}")), p));
        }
        prop_assert!(r.is_empty());
        prop_assert!(r.bindings().is_empty());
    }
}
