//! Parsing of the CSV files organizers import: units and member rosters.
//!
//! Parsing is all-or-nothing: every row is checked and every problem is
//! reported with its line number, so that a file can be fixed in one pass.
//! Nothing is written unless the whole file is valid (the store applies the
//! rows in one transaction).

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{Category, UnitKind, parse_code, parse_name, text, text_error_message};

/// One problem found in an uploaded file, with its line number.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub code: String,
    pub message: String,
}

impl LineProblem {
    pub fn new(line: u64, field: Option<&str>, code: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.map(str::to_string),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Problems beyond this many are counted but not listed.
pub const MAX_LISTED_PROBLEMS: usize = 200;

#[derive(Debug, Clone)]
pub struct UnitRow {
    pub line: u64,
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub parent_code: Option<String>,
    /// Expected head count per category, in [`Category::ALL`] order.
    pub expected: [Option<i64>; 6],
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub line: u64,
    pub code: String,
    pub full_name: String,
    pub category: Category,
    pub unit_code: String,
}

/// Parsed file: rows, and the header columns that were not recognised.
#[derive(Debug)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub ignored_columns: Vec<String>,
}

pub type ParseResult<T> = Result<Parsed<T>, Vec<LineProblem>>;

/// Column names accepted for each field (compared after folding).
const UNIT_COLUMNS: &[(&str, &[&str])] = &[
    ("code", &["code", "ma", "ma_don_vi"]),
    ("name", &["name", "ten", "ten_don_vi"]),
    ("kind", &["kind", "loai", "loai_don_vi", "cap"]),
    (
        "parent_code",
        &[
            "parent_code",
            "parent",
            "ma_cha",
            "ma_don_vi_cap_tren",
            "cap_tren",
        ],
    ),
    ("expected_cadre", &["expected_cadre", "du_kien_can_bo"]),
    (
        "expected_party_member",
        &["expected_party_member", "du_kien_dang_vien"],
    ),
    (
        "expected_civil_servant",
        &["expected_civil_servant", "du_kien_cong_chuc"],
    ),
    (
        "expected_public_employee",
        &["expected_public_employee", "du_kien_vien_chuc"],
    ),
    (
        "expected_worker",
        &["expected_worker", "du_kien_nguoi_lao_dong"],
    ),
    ("expected_guest", &["expected_guest", "du_kien_khach"]),
];

const MEMBER_COLUMNS: &[(&str, &[&str])] = &[
    (
        "member_code",
        &[
            "member_code",
            "code",
            "ma",
            "ma_dang_vien",
            "ma_thanh_vien",
            "so_the",
        ],
    ),
    ("full_name", &["full_name", "name", "ho_ten", "ho_va_ten"]),
    ("category", &["category", "doi_tuong", "loai"]),
    ("unit_code", &["unit_code", "unit", "ma_don_vi", "don_vi"]),
];

/// Which column holds which field, from the header line.
struct Header {
    /// field name → column index
    columns: HashMap<&'static str, usize>,
    ignored: Vec<String>,
    width: usize,
}

impl Header {
    fn parse(
        fields: &csv::StringRecord,
        spec: &[(&'static str, &[&str])],
        required: &[&str],
    ) -> Result<Header, Vec<LineProblem>> {
        let mut columns = HashMap::new();
        let mut ignored = Vec::new();
        let mut problems = Vec::new();
        for (index, name) in fields.iter().map(str::trim).enumerate() {
            let folded = super::text::fold(name).replace([' ', '-'], "_");
            match spec
                .iter()
                .find(|(_, aliases)| aliases.contains(&folded.as_str()))
            {
                Some((field, _)) => {
                    if columns.insert(*field, index).is_some() {
                        problems.push(LineProblem::new(
                            1,
                            Some(field),
                            "import.duplicate_column",
                            format!("Cột \"{name}\" xuất hiện hai lần trong dòng tiêu đề."),
                        ));
                    }
                }
                None => ignored.push(name.to_string()),
            }
        }
        for field in required {
            if !columns.contains_key(field) {
                problems.push(LineProblem::new(
                    1,
                    Some(field),
                    "import.missing_column",
                    format!("Thiếu cột \"{field}\" trong dòng tiêu đề."),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Header {
            columns,
            ignored,
            width: fields.len(),
        })
    }

    fn get<'a>(&self, record: &'a csv::StringRecord, name: &str) -> &'a str {
        self.columns
            .get(name)
            .and_then(|i| record.get(*i))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// The CSV reader shared by both imports: strips a UTF-8 BOM, accepts `;` as
/// the delimiter when the header uses it (spreadsheets in some locales do).
/// Streams: each data record goes to `on_record` with its line number, one
/// reused buffer, so a two-million-row file is never held twice in memory.
fn scan_table(
    bytes: &[u8],
    spec: &[(&'static str, &[&str])],
    required: &[&str],
    max_rows: usize,
    mut on_record: impl FnMut(&Header, u64, &csv::StringRecord),
) -> Result<Header, Vec<LineProblem>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        return Err(vec![LineProblem::new(
            line,
            None,
            "import.encoding",
            "Tệp không phải văn bản UTF-8. Hãy lưu tệp dạng CSV UTF-8.",
        )]);
    }
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if !first_line.contains(&b',') && first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);

    let mut header: Option<Result<Header, Vec<LineProblem>>> = None;
    let mut rows = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(vec![LineProblem::new(
                    line,
                    None,
                    "import.malformed",
                    format!("Dòng {line} không đọc được theo định dạng CSV."),
                )]);
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // blank lines are harmless
        }
        let Some(parsed_header) = &header else {
            header = Some(Header::parse(&record, spec, required));
            continue;
        };
        if rows >= max_rows {
            return Err(vec![LineProblem::new(
                line,
                None,
                "import.too_many_rows",
                format!("Tệp có quá nhiều dòng: tối đa {max_rows} dòng mỗi lần nhập."),
            )]);
        }
        rows += 1;
        // With a bad header the rows are only read for the CSV checks above.
        if let Ok(h) = parsed_header {
            on_record(h, line, &record);
        }
    }
    let Some(header) = header else {
        return Err(vec![LineProblem::new(
            1,
            None,
            "import.empty",
            "Tệp trống: cần một dòng tiêu đề và ít nhất một dòng dữ liệu.",
        )]);
    };
    let header = header?;
    if rows == 0 {
        return Err(vec![LineProblem::new(
            2,
            None,
            "import.empty",
            "Tệp không có dòng dữ liệu nào.",
        )]);
    }
    Ok(header)
}

/// Collects problems, listing at most [`MAX_LISTED_PROBLEMS`].
#[derive(Default)]
struct Problems {
    listed: Vec<LineProblem>,
    total: usize,
}

impl Problems {
    fn push(&mut self, p: LineProblem) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(p);
        }
    }

    fn finish<T>(mut self, rows: Vec<T>, ignored: Vec<String>) -> ParseResult<T> {
        if self.total == 0 {
            return Ok(Parsed {
                rows,
                ignored_columns: ignored,
            });
        }
        if self.total > self.listed.len() {
            let more = self.total - self.listed.len();
            self.listed.push(LineProblem::new(
                0,
                None,
                "import.more_problems",
                format!("Còn {more} lỗi khác chưa liệt kê."),
            ));
        }
        Err(self.listed)
    }
}

fn check_width(
    header: &Header,
    line: u64,
    record: &csv::StringRecord,
    problems: &mut Problems,
) -> bool {
    if record.len() > header.width {
        problems.push(LineProblem::new(
            line,
            None,
            "import.column_count",
            format!(
                "Dòng {line} có {} cột, nhiều hơn {} cột của dòng tiêu đề.",
                record.len(),
                header.width
            ),
        ));
        return false;
    }
    true
}

/// A head count written by a person: "2701", "2.701" or "2 701".
pub fn parse_count(input: &str) -> Option<i64> {
    let s = input.trim();
    let grouped = s.contains(['.', ' ']);
    let digits: String = s.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 9 {
        return None;
    }
    if grouped {
        // Only thousands groups: 1.234.567, never 12.34.
        let groups: Vec<&str> = s.split(['.', ' ']).collect();
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    digits.parse().ok()
}

pub fn parse_units(bytes: &[u8], max_rows: usize) -> ParseResult<UnitRow> {
    let mut problems = Problems::default();
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let header = scan_table(
        bytes,
        UNIT_COLUMNS,
        &["code", "name", "kind"],
        max_rows,
        |table, line, fields| {
            if !check_width(table, line, fields, &mut problems) {
                return;
            }
            let mut ok = true;
            let code = match parse_code(table.get(fields, "code")) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(LineProblem::new(
                        line,
                        Some("code"),
                        "unit.code_invalid",
                        text_error_message("Mã đơn vị", &e),
                    ));
                    ok = false;
                    String::new()
                }
            };
            let name = match parse_name(table.get(fields, "name"), 255) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(LineProblem::new(
                        line,
                        Some("name"),
                        "unit.name_invalid",
                        text_error_message("Tên đơn vị", &e),
                    ));
                    ok = false;
                    String::new()
                }
            };
            let kind_text = table.get(fields, "kind");
            let kind = UnitKind::parse(kind_text);
            if kind.is_none() {
                problems.push(LineProblem::new(
                    line,
                    Some("kind"),
                    "unit.kind_invalid",
                    format!(
                        "Loại đơn vị \"{kind_text}\" không hợp lệ. Dùng một trong: {}.",
                        UnitKind::codes()
                    ),
                ));
                ok = false;
            }
            let parent_text = table.get(fields, "parent_code");
            let parent_code = if parent_text.is_empty() {
                None
            } else {
                match parse_code(parent_text) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(LineProblem::new(
                            line,
                            Some("parent_code"),
                            "unit.parent_invalid",
                            text_error_message("Mã đơn vị cấp trên", &e),
                        ));
                        ok = false;
                        None
                    }
                }
            };
            let mut expected = [None; 6];
            for (slot, category) in expected.iter_mut().zip(Category::ALL) {
                let field = format!("expected_{}", category.code());
                let raw = table.get(fields, &field);
                if raw.is_empty() {
                    continue;
                }
                match parse_count(raw) {
                    Some(n) if n <= 10_000_000 => *slot = Some(n),
                    _ => {
                        problems.push(LineProblem::new(
                            line,
                            Some(&field),
                            "unit.expected_invalid",
                            format!(
                                "Số dự kiến {} \"{raw}\" phải là số nguyên không âm.",
                                category.label()
                            ),
                        ));
                        ok = false;
                    }
                }
            }
            if !code.is_empty() {
                if let Some(first) = seen.get(&code) {
                    problems.push(LineProblem::new(
                        line,
                        Some("code"),
                        "unit.code_duplicate",
                        format!("Mã đơn vị \"{code}\" trùng với dòng {first}."),
                    ));
                    ok = false;
                } else {
                    seen.insert(code.clone(), line);
                }
                if parent_code.as_deref() == Some(code.as_str()) {
                    problems.push(LineProblem::new(
                        line,
                        Some("parent_code"),
                        "unit.cycle",
                        format!("Đơn vị \"{code}\" không thể là cấp trên của chính nó."),
                    ));
                    ok = false;
                }
            }
            if ok {
                rows.push(UnitRow {
                    line,
                    code,
                    name,
                    kind: kind.expect("checked above"),
                    parent_code,
                    expected,
                });
            }
        },
    )?;
    problems.finish(rows, header.ignored)
}

pub fn parse_members(bytes: &[u8], max_rows: usize) -> ParseResult<MemberRow> {
    let mut rows = Vec::new();
    let ignored = scan_members(bytes, max_rows, usize::MAX, |chunk| rows.extend(chunk))?;
    Ok(Parsed {
        rows,
        ignored_columns: ignored,
    })
}

/// Rows handed over at a time by [`scan_members`] to a caller streaming them.
pub const MEMBER_CHUNK: usize = 4096;

/// Parses a roster as it reads it, handing valid rows over `chunk` at a time
/// (so that a writer can work while the rest is read). After the first
/// problem no more rows are handed over, but the whole file is still checked
/// to report every problem. Returns the ignored columns, or the problems:
/// a caller that already received rows must then discard them.
pub fn scan_members(
    bytes: &[u8],
    max_rows: usize,
    chunk: usize,
    mut emit: impl FnMut(Vec<MemberRow>),
) -> Result<Vec<String>, Vec<LineProblem>> {
    let chunk = chunk.max(1);
    let mut problems = Problems::default();
    let mut rows = Vec::with_capacity(chunk.min(MEMBER_CHUNK));
    // Sized once: growing a two-million-entry map rehashes it again and again.
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    let mut seen: HashMap<String, u64> = HashMap::with_capacity(lines.min(max_rows) + 1);
    let mut categories = CategoryCache::default();
    let header = scan_table(
        bytes,
        MEMBER_COLUMNS,
        &["member_code", "full_name", "category", "unit_code"],
        max_rows,
        |table, line, fields| {
            if !check_width(table, line, fields, &mut problems) {
                return;
            }
            let mut ok = true;
            let code = match fast_code(table.get(fields, "member_code")) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(LineProblem::new(
                        line,
                        Some("member_code"),
                        "member.code_invalid",
                        text_error_message("Mã thành viên", &e),
                    ));
                    ok = false;
                    String::new()
                }
            };
            let full_name = match fast_name(table.get(fields, "full_name"), 120) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(LineProblem::new(
                        line,
                        Some("full_name"),
                        "member.name_invalid",
                        text_error_message("Họ và tên", &e),
                    ));
                    ok = false;
                    String::new()
                }
            };
            let category_text = table.get(fields, "category");
            let category = categories.parse(category_text);
            if category.is_none() {
                problems.push(LineProblem::new(
                    line,
                    Some("category"),
                    "member.category_invalid",
                    format!(
                        "Đối tượng \"{category_text}\" không hợp lệ. Dùng một trong: {}.",
                        Category::codes()
                    ),
                ));
                ok = false;
            }
            let unit_code = match fast_code(table.get(fields, "unit_code")) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(LineProblem::new(
                        line,
                        Some("unit_code"),
                        "member.unit_invalid",
                        text_error_message("Mã đơn vị", &e),
                    ));
                    ok = false;
                    String::new()
                }
            };
            if !code.is_empty() {
                match seen.entry(code) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        problems.push(LineProblem::new(
                            line,
                            Some("member_code"),
                            "member.code_duplicate",
                            format!(
                                "Mã thành viên \"{}\" trùng với dòng {}.",
                                first.key(),
                                first.get()
                            ),
                        ));
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        // Rows are only kept while the file is still valid.
                        if ok && problems.total == 0 {
                            rows.push(MemberRow {
                                line,
                                code: slot.key().clone(),
                                full_name,
                                category: category.expect("checked above"),
                                unit_code,
                            });
                            if rows.len() >= chunk {
                                emit(std::mem::replace(
                                    &mut rows,
                                    Vec::with_capacity(chunk.min(MEMBER_CHUNK)),
                                ));
                            }
                        }
                        slot.insert(line);
                    }
                }
            }
        },
    )?;
    if problems.total == 0 && !rows.is_empty() {
        emit(rows);
    }
    problems
        .finish(Vec::<()>::new(), header.ignored)
        .map(|p| p.ignored_columns)
}

/// [`parse_code`], without its Unicode work for the plain ASCII codes that
/// nearly every row has (same result: NFC and whitespace cleaning leave them
/// as they are).
fn fast_code(input: &str) -> Result<String, super::TextError> {
    if !input.is_empty()
        && input.len() <= 64
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Ok(input.to_string());
    }
    parse_code(input)
}

/// [`parse_name`], skipping the normalisation when the name is already NFC
/// with single spaces between words (what [`super::text::clean`] would give).
fn fast_name(input: &str, max_chars: usize) -> Result<String, super::TextError> {
    let clean_spacing = !input.starts_with(' ')
        && !input.ends_with(' ')
        && !input.contains("  ")
        && !input
            .chars()
            .any(|c| c != ' ' && (c.is_whitespace() || c.is_control()));
    if !input.is_empty()
        && clean_spacing
        && unicode_normalization::is_nfc_quick(input.chars())
            == unicode_normalization::IsNormalized::Yes
        && input.chars().count() <= max_chars
    {
        return Ok(input.to_string());
    }
    parse_name(input, max_chars)
}

/// Categories as written in a file: a handful of distinct spellings, each
/// folded and matched once instead of on every row.
#[derive(Default)]
struct CategoryCache(Vec<(String, Option<Category>)>);

impl CategoryCache {
    fn parse(&mut self, input: &str) -> Option<Category> {
        if let Some((_, c)) = self.0.iter().find(|(s, _)| s == input) {
            return *c;
        }
        let parsed = Category::parse(input);
        if self.0.len() < 32 {
            self.0.push((input.to_string(), parsed));
        }
        parsed
    }
}

/// The search and sort keys of imported names — exactly [`text::fold`] and
/// [`text::person_sort_key`] — put together from a cache of their words: a
/// national roster has millions of names but only thousands of distinct
/// words, and both keys are made word by word.
#[derive(Default)]
pub struct NameKeys {
    words: HashMap<String, WordKeys>,
}

struct WordKeys {
    folded: String,
    /// The two halves of the word's [`text::collation_key`]: letters, tones.
    primary: String,
    tones: String,
}

impl WordKeys {
    fn of(word: &str) -> WordKeys {
        let key = text::collation_key(word);
        // "{letters} |{tones}": letters of one word hold no space.
        let (primary, tones) = key.split_once(" |").unwrap_or((&key, ""));
        WordKeys {
            folded: text::fold(word),
            primary: primary.to_string(),
            tones: tones.to_string(),
        }
    }
}

impl NameKeys {
    /// Bound on the words remembered (a few MB).
    const MAX_WORDS: usize = 200_000;

    /// (search key, sort key) of a name as [`parse_name`] returns it: NFC,
    /// words separated by single spaces.
    pub fn keys(&mut self, name: &str) -> (String, String) {
        if self.words.len() > Self::MAX_WORDS {
            self.words.clear();
        }
        for word in name.split(' ') {
            if !self.words.contains_key(word) {
                self.words.insert(word.to_string(), WordKeys::of(word));
            }
        }
        let mut search = String::with_capacity(name.len());
        for word in name.split(' ') {
            let folded = &self.words[word].folded;
            // A word of lone combining marks folds to nothing, as in `fold`.
            if !folded.is_empty() {
                if !search.is_empty() {
                    search.push(' ');
                }
                search.push_str(folded);
            }
        }
        // Given name first, then family and middle names (person_sort_key).
        let (rest, given) = name.rsplit_once(' ').unwrap_or(("", name));
        let given = &self.words[given];
        let mut sort = String::with_capacity(name.len() * 3 + 4);
        sort.push_str(&given.primary);
        sort.push(' ');
        for (i, word) in rest.split(' ').filter(|w| !w.is_empty()).enumerate() {
            if i > 0 {
                sort.push('!');
            }
            sort.push_str(&self.words[word].primary);
        }
        sort.push_str(" |");
        sort.push_str(&given.tones);
        for word in rest.split(' ').filter(|w| !w.is_empty()) {
            sort.push_str(&self.words[word].tones);
        }
        (search, sort)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_with_bom_and_vietnamese_headers() {
        let csv = "\u{FEFF}ma,ten,loai,ma_cha,du_kien_dang_vien\n19,Tỉnh Thái Nguyên,tỉnh,,\n05800,Xã Bằng Thành,Xã,19,2.701\n";
        let parsed = parse_units(csv.as_bytes(), 100).unwrap();
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[1].code, "05800");
        assert_eq!(parsed.rows[1].kind, UnitKind::Commune);
        assert_eq!(parsed.rows[1].expected[1], Some(2701));
        assert_eq!(parsed.rows[1].line, 3);
    }

    #[test]
    fn reports_every_bad_row_with_its_line() {
        let csv = "code,name,kind,parent_code\nA,Alpha,province,\nA,Again,commune,\nB,,planet,\nC,Gamma,commune,C\n";
        let problems = parse_units(csv.as_bytes(), 100).unwrap_err();
        let lines: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.code.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (3, "unit.code_duplicate"),
                (4, "unit.name_invalid"),
                (4, "unit.kind_invalid"),
                (5, "unit.cycle")
            ]
        );
    }

    #[test]
    fn missing_columns_and_bad_encoding() {
        let problems = parse_units(b"code,name\nA,B\n", 10).unwrap_err();
        assert_eq!(problems[0].code, "import.missing_column");
        let problems = parse_members(b"member_code,full_name\n\xff\xfe,x\n", 10).unwrap_err();
        assert_eq!(problems[0].code, "import.encoding");
        assert_eq!(problems[0].line, 2);
    }

    #[test]
    fn name_keys_from_cached_words_equal_the_text_functions() {
        let mut keys = NameKeys::default();
        for name in [
            "Nguyễn Văn An",
            "Đặng Thị Ánh",
            "An",
            "Hoàng Đức",
            "Nguyễn Văn An",
            "Lê Văn An (đổi) 12",
            "ĐẶNG THỊ ÁNH",
            "Ma Thị Phương",
        ] {
            assert_eq!(
                keys.keys(name),
                (text::fold(name), text::person_sort_key(name)),
                "{name}"
            );
        }
    }

    #[test]
    fn semicolon_files_and_counts() {
        let csv = "member_code;full_name;category;unit_code\n0012;Nguyễn Văn A;Đảng viên;19\n";
        let parsed = parse_members(csv.as_bytes(), 10).unwrap();
        assert_eq!(parsed.rows[0].category, Category::PartyMember);
        assert_eq!(parse_count("2.701"), Some(2701));
        assert_eq!(parse_count("12.34"), None);
        assert_eq!(parse_count("-3"), None);
    }
}
