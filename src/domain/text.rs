//! Vietnamese text: normalization, search folding and collation.
//!
//! Names are stored in NFC. Searching ignores case and diacritics
//! ("nguyen van a" finds "Nguyễn Văn A"). Sorting follows the Vietnamese
//! alphabet (a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y), then
//! tones in dictionary order (ngang, huyền, hỏi, ngã, sắc, nặng); person names
//! sort by given name first, as Vietnamese lists do.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// NFC-normalize, trim, and collapse runs of whitespace into one space.
pub fn clean(input: &str) -> String {
    let nfc: String = input.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lowercase without diacritics, for search: "Nguyễn Văn Đức" → "nguyen van duc".
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Vowel modifiers that make a separate letter (ă, â, ê, ô, ơ, ư).
const BREVE: char = '\u{0306}';
const CIRCUMFLEX: char = '\u{0302}';
const HORN: char = '\u{031B}';

fn tone_rank(mark: char) -> Option<u8> {
    match mark {
        '\u{0300}' => Some(1), // huyền
        '\u{0309}' => Some(2), // hỏi
        '\u{0303}' => Some(3), // ngã
        '\u{0301}' => Some(4), // sắc
        '\u{0323}' => Some(5), // nặng
        _ => None,
    }
}

/// Rank of a base letter (with its letter-forming modifier) in the Vietnamese
/// alphabet; foreign letters keep their Latin place.
fn letter_rank(base: char, modifier: Option<char>) -> u8 {
    const ORDER: [&str; 33] = [
        "a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m", "n",
        "o", "ô", "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z",
    ];
    let letter = match (base, modifier) {
        ('a', Some(BREVE)) => "ă",
        ('a', Some(CIRCUMFLEX)) => "â",
        ('e', Some(CIRCUMFLEX)) => "ê",
        ('o', Some(CIRCUMFLEX)) => "ô",
        ('o', Some(HORN)) => "ơ",
        ('u', Some(HORN)) => "ư",
        ('đ', _) => "đ",
        _ => "",
    };
    let mut buf = [0u8; 4];
    let name = if letter.is_empty() {
        base.encode_utf8(&mut buf)
    } else {
        letter
    };
    ORDER
        .iter()
        .position(|l| *l == name)
        .map(|p| p as u8 + 20)
        .unwrap_or(0)
}

/// Primary (letters) and secondary (tones) keys of one word or phrase.
fn keys(input: &str) -> (String, String) {
    let lower: String = input.to_lowercase();
    let mut primary = String::new();
    let mut tones = String::new();
    let decomposed: Vec<char> = lower.nfd().collect();
    let mut i = 0;
    while i < decomposed.len() {
        let c = decomposed[i];
        i += 1;
        if c.is_whitespace() {
            primary.push('!');
            continue;
        }
        let mut modifier = None;
        let mut tone = 0u8;
        while i < decomposed.len() && is_combining_mark(decomposed[i]) {
            let m = decomposed[i];
            if let Some(t) = tone_rank(m) {
                tone = t;
            } else if matches!(m, BREVE | CIRCUMFLEX | HORN) {
                modifier = Some(m);
            }
            i += 1;
        }
        if c.is_ascii_digit() {
            primary.push((b'0' + (c as u8 - b'0')) as char);
        } else {
            let rank = letter_rank(c, modifier);
            if rank == 0 {
                // Punctuation and other scripts: after every letter, in code-point order.
                primary.push('~');
                primary.push(c);
            } else {
                primary.push((b'0' + rank) as char);
            }
        }
        tones.push((b'0' + tone) as char);
    }
    (primary, tones)
}

/// Sort key for a name of a place or body: Vietnamese alphabetical order.
pub fn collation_key(name: &str) -> String {
    let (p, t) = keys(&clean(name));
    format!("{p} |{t}")
}

/// Sort key for a person's full name: given name (last word) first, then the
/// family and middle names, each in Vietnamese alphabetical order.
pub fn person_sort_key(full_name: &str) -> String {
    let cleaned = clean(full_name);
    let (rest, given) = match cleaned.rsplit_once(' ') {
        Some((rest, given)) => (rest, given),
        None => ("", cleaned.as_str()),
    };
    let (pg, tg) = keys(given);
    let (pr, tr) = keys(rest);
    format!("{pg} {pr} |{tg}{tr}")
}

/// Turn a user's search text into a `LIKE` pattern over folded names,
/// escaping the wildcard characters (the SQL must say `ESCAPE '\'`).
pub fn like_pattern(query: &str) -> String {
    let folded = fold(query);
    let mut pattern = String::from("%");
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_normalizes_to_nfc_and_collapses_spaces() {
        // "Nguyễn" written with combining marks (NFD) becomes the NFC form.
        let nfd = "  Nguye\u{0302}\u{0303}n   Va\u{0306}n  A ";
        assert_eq!(clean(nfd), "Nguyễn Văn A");
    }

    #[test]
    fn fold_strips_diacritics_and_case() {
        assert_eq!(fold("Nguyễn Văn Đức"), "nguyen van duc");
        assert_eq!(fold("ĐẶNG THỊ ÁNH"), "dang thi anh");
    }

    #[test]
    fn vietnamese_letter_order() {
        let mut words = vec![
            "Ơn", "Ân", "Bình", "Ăn", "An", "Đào", "Dung", "Ô", "O", "Ư", "U",
        ];
        words.sort_by_key(|w| collation_key(w));
        assert_eq!(
            words,
            vec![
                "An", "Ăn", "Ân", "Bình", "Dung", "Đào", "O", "Ô", "Ơn", "U", "Ư"
            ]
        );
    }

    #[test]
    fn tones_order_after_letters() {
        // Same letters: ngang < huyền < hỏi < ngã < sắc < nặng.
        let mut words = vec!["mạ", "má", "mã", "mả", "mà", "ma"];
        words.sort_by_key(|w| collation_key(w));
        assert_eq!(words, vec!["ma", "mà", "mả", "mã", "má", "mạ"]);
        // Letters decide before tones.
        assert!(collation_key("án") < collation_key("ăn"));
    }

    #[test]
    fn people_sort_by_given_name_first() {
        let mut names = vec!["Trần Văn Bình", "Nguyễn Thị An", "Lê Văn An", "Hoàng Đức"];
        names.sort_by_key(|n| person_sort_key(n));
        assert_eq!(
            names,
            vec!["Lê Văn An", "Nguyễn Thị An", "Trần Văn Bình", "Hoàng Đức"]
        );
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("Nguyễn 50%"), "%nguyen 50\\%%");
    }
}
