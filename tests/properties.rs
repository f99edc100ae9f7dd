//! Property tests (fuzzing with proptest) of everything that reads untrusted
//! input without a server in between: CSV imports, QR tokens, member cards,
//! make-up tokens and progress, console messages, Vietnamese text handling,
//! and the tally against a rebuild. None may panic; invariants must hold.
//!
//! Run longer with `PROPTEST_CASES=100000 cargo test --test properties`.
//! Failing inputs are kept in tests/properties.proptest-regressions and
//! replayed first on every run.

use std::collections::HashMap;

use diemcau::domain::import::{NameKeys, parse_members, parse_units};
use diemcau::domain::tally::{Tally, TallyEvent, TallySource};
use diemcau::domain::tokens::{self, CardSigner, QR_PERIOD_MS};
use diemcau::domain::{Category, CheckinMethod, makeup, text};
use proptest::prelude::*;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Cases per property: `PROPTEST_CASES` when set (long fuzzing runs), else
/// `default` (every test run).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CSV-ish bytes: mostly printable text with separators, quotes and newlines,
/// sometimes raw bytes.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        "[a-zA-Z0-9ĐđăâêôơưÁàảãạ ,;\"\\n\\r_.-]{0,400}".prop_map(|s| s.into_bytes()),
        (
            "code,name,kind,parent_code\n",
            "[A-Z0-9]{0,6},[a-zà-ỹ ]{0,10},(province|commune|xã|planet|),[A-Z0-9]{0,6}\n{0,3}"
        )
            .prop_map(|(h, b)| format!("{h}{b}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), ..ProptestConfig::default() })]

    #[test]
    fn unit_imports_never_panic_and_report_real_lines(bytes in csvish()) {
        match parse_units(&bytes, 1000) {
            Ok(parsed) => {
                let mut seen = std::collections::HashSet::new();
                for row in &parsed.rows {
                    prop_assert!(row.line >= 2);
                    prop_assert!(!row.code.is_empty() && !row.name.is_empty());
                    prop_assert!(seen.insert(row.code.clone()), "duplicate code accepted");
                    prop_assert_ne!(row.parent_code.as_deref(), Some(row.code.as_str()));
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in problems {
                    prop_assert!(!p.code.is_empty() && !p.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn member_imports_never_panic(bytes in csvish()) {
        if let Ok(parsed) = parse_members(&bytes, 1000) {
            for row in parsed.rows {
                prop_assert!(!row.code.is_empty());
                // Names are stored NFC, trimmed.
                prop_assert_eq!(text::clean(&row.full_name), row.full_name);
            }
        }
    }

    #[test]
    fn qr_tokens_accept_only_what_was_issued(point in 1i64..1_000_000, t in 1_600_000_000_000i64..2_000_000_000_000, junk in "\\PC{0,60}") {
        let (token, _) = tokens::issue_qr(KEY, point, t);
        prop_assert_eq!(tokens::verify_qr(KEY, &token, t), Ok(point));
        prop_assert_eq!(tokens::verify_qr(KEY, &token, t + QR_PERIOD_MS), Ok(point));
        prop_assert!(tokens::verify_qr(KEY, &token, t + 3 * QR_PERIOD_MS).is_err());
        // Arbitrary text never verifies (and never panics).
        prop_assert!(tokens::verify_qr(KEY, &junk, t).is_err());
        // Flipping any one character breaks it.
        let mut chars: Vec<char> = token.chars().collect();
        let i = (point as usize) % chars.len();
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        if altered != token {
            prop_assert!(tokens::verify_qr(KEY, &altered, t).is_err());
        }
    }

    #[test]
    fn cards_cannot_be_forged(code in "[0-9A-Za-z_.-]{1,20}", junk in "\\PC{0,120}") {
        let signer = CardSigner::from_bytes(&[7u8; 32]).unwrap();
        let card = signer.card(&code);
        prop_assert_eq!(signer.verify(&card), Ok(code.clone()));
        prop_assert!(signer.verify(&junk).is_err() || junk == card);
        let other = format!("{code}0");
        let swapped = card.replacen(&format!(".{code}."), &format!(".{other}."), 1);
        prop_assert!(signer.verify(&swapped).is_err());
    }

    #[test]
    fn makeup_credit_never_exceeds_budget_or_duration(
        watched in proptest::collection::vec((0.0f64..5000.0, 0.0f64..600.0), 0..8),
        reported in proptest::collection::vec((-100.0f64..6000.0, 0.0f64..900.0), 0..12),
        duration in 1.0f64..5400.0,
        budget in 0.0f64..3000.0,
    ) {
        let watched = makeup::merge(watched.into_iter().map(|(a, l)| (a.min(duration), (a + l).min(duration))).collect());
        let reported: Vec<(f64, f64)> = reported.into_iter().map(|(a, l)| (a, a + l)).collect();
        let before = makeup::total(&watched);
        let after = makeup::credit(&watched, &reported, duration, budget);
        let gained = makeup::total(&after) - before;
        prop_assert!(gained >= -1e-6, "credit never takes away");
        prop_assert!(gained <= budget + 1e-6, "gained {gained} over budget {budget}");
        prop_assert!(makeup::total(&after) <= duration + 1e-6);
        for w in after.windows(2) {
            prop_assert!(w[0].1 < w[1].0, "merged intervals do not overlap");
        }
    }

    #[test]
    fn makeup_tokens_are_personal(session in 1i64..100_000, code in "[0-9A-Za-z]{1,12}", junk in "\\PC{0,60}") {
        let t = makeup::token(KEY, session, &code);
        prop_assert_eq!(makeup::verify(KEY, &t), Some((session, code)));
        prop_assert!(makeup::verify(KEY, &junk).is_none() || junk == t);
    }

    #[test]
    fn folding_and_sort_keys_never_panic(s in "\\PC{0,80}") {
        let folded = text::fold(&s);
        prop_assert_eq!(text::fold(&folded), folded.clone());
        let _ = text::person_sort_key(&s);
        let _ = text::collation_key(&s);
        let cleaned = text::clean(&s);
        prop_assert_eq!(text::clean(&cleaned), cleaned);
    }

    #[test]
    fn import_name_keys_equal_the_text_functions(
        words in proptest::collection::vec("[a-zA-Zà-ỹÀ-ỸĐđ\u{0300}-\u{0323}Σσ.(|~0-9-]{1,8}|\\PC{1,6}", 1..6),
    ) {
        // Names as the import stores them (NFC, single spaces), through one
        // shared cache as in a real import.
        let mut keys = NameKeys::default();
        for n in 1..=words.len() {
            let name = text::clean(&words[..n].join(" "));
            if name.is_empty() {
                continue;
            }
            prop_assert_eq!(
                keys.keys(&name),
                (text::fold(&name), text::person_sort_key(&name)),
                "{:?}", name
            );
        }
    }

    #[test]
    fn console_messages_never_panic(frame in "\\PC{0,300}") {
        // The console protocol's parser, as the WebSocket handler uses it.
        let _ = serde_json::from_str::<serde_json::Value>(&frame);
        let _ = diemcau::ws::protocol::parse_client_message(&frame);
    }
}

/// Random events applied live reach exactly the figures of a tally rebuilt
/// from the resulting state: no drift, whatever the order and duplicates.
fn events() -> impl Strategy<Value = Vec<(u8, i64, usize, usize)>> {
    proptest::collection::vec((0u8..4, 1i64..40, 0usize..6, 0usize..5), 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(500), ..ProptestConfig::default() })]

    #[test]
    fn a_live_tally_equals_one_rebuilt_from_the_same_state(ops in events()) {
        let units = vec![
            (1, None, "P".to_string(), "Tỉnh".to_string(), "province".to_string(), [0; 6]),
            (2, Some(1), "A".to_string(), "Xã A".to_string(), "commune".to_string(), [0; 6]),
            (3, Some(2), "A1".to_string(), "Chi bộ".to_string(), "cell".to_string(), [0; 6]),
            (4, Some(1), "B".to_string(), "Xã B".to_string(), "commune".to_string(), [3, 50, 0, 0, 0, 0]),
        ];
        let base = || TallySource {
            units: units.clone(),
            roster: vec![(2, Category::PartyMember, 10), (3, Category::Cadre, 4)],
            points: vec![(10, 2, "P-A".into()), (11, 4, "P-B".into())],
            ..TallySource::default()
        };
        let mut live = Tally::build(base());
        // The state the database would hold after the same operations.
        let mut checkins: HashMap<i64, (i64, Category, CheckinMethod, Option<i64>)> = HashMap::new();
        let mut head: HashMap<i64, (i64, i64, i64)> = HashMap::new();
        let mut report_id = 0;
        for (kind, id, a, b) in ops {
            let unit = [2, 3, 4][a % 3];
            let category = Category::ALL[a % 6];
            let method = CheckinMethod::ALL[b % 5];
            let point = [Some(10), Some(11), None][b % 3];
            match kind {
                0 | 1 => {
                    // A check-in; delivered twice sometimes.
                    checkins.entry(id).or_insert((unit, category, method, point));
                    let (u, c, m, p) = checkins[&id];
                    let e = TallyEvent::CheckedIn { checkin_id: id, unit_id: u, category: c, method: m, point_id: p };
                    live.apply(&e);
                    if kind == 1 { live.apply(&e); }
                }
                2 => {
                    checkins.remove(&id);
                    live.apply(&TallyEvent::Annulled { checkin_id: id });
                }
                _ => {
                    report_id += 1;
                    let p = [10, 11][b % 2];
                    let taken = id * 1000 + b as i64;
                    let newer = head.get(&p).is_none_or(|(t, r, _)| (taken, report_id) > (*t, *r));
                    if newer { head.insert(p, (taken, report_id, a as i64 * 7)); }
                    live.apply(&TallyEvent::HeadCount { point_id: p, report_id, taken_at: taken, count: a as i64 * 7 });
                }
            }
        }
        let mut src = base();
        src.checkins = checkins.iter().map(|(id, (u, c, m, p))| (*id, *u, *c, *m, *p)).collect();
        src.head_counts = head.iter().map(|(p, (t, r, c))| (*p, *r, *t, *c)).collect();
        let rebuilt = Tally::build(src);
        for id in [1, 2, 3, 4] {
            prop_assert_eq!(&live.units[&id].total, &rebuilt.units[&id].total, "unit {}", id);
        }
        for p in [10, 11] {
            prop_assert_eq!(live.points[&p].checked_in, rebuilt.points[&p].checked_in);
        }
    }
}
