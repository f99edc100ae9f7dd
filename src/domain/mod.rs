//! Pure rules and types of the product: no IO here.

pub mod import;
pub mod makeup;
pub mod report;
pub mod tally;
pub mod text;
pub mod time;
pub mod tokens;
pub mod tree;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a closed set of values with a stable code (used in the API and the
/// database), a Vietnamese label, and the words accepted when parsing user
/// input (compared after [`text::fold`], so diacritics are optional).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $label:literal, [$($alias:literal),*];)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Stable code, as stored and sent over the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Label in Vietnamese.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Accepts the code, the Vietnamese label (with or without
            /// diacritics) or a known alias.
            pub fn parse(input: &str) -> Option<Self> {
                let folded = text::fold(input).replace(['-', ' '], "_");
                $(
                    if folded == $code
                        || folded == text::fold($label).replace(' ', "_")
                        $(|| folded == $alias)*
                    {
                        return Some($name::$variant);
                    }
                )+
                None
            }

            /// The accepted codes, for error messages.
            pub fn codes() -> String {
                [$($code),+].join(", ")
            }
        }
    };
}

vocabulary! {
    /// Participant category (đối tượng).
    Category {
        Cadre = "cadre", "cán bộ", ["can_bo"];
        PartyMember = "party_member", "đảng viên", ["dang_vien"];
        CivilServant = "civil_servant", "công chức", ["cong_chuc"];
        PublicEmployee = "public_employee", "viên chức", ["vien_chuc"];
        Worker = "worker", "người lao động", ["nguoi_lao_dong", "lao_dong"];
        Guest = "guest", "khách", ["khach", "nhan_dan", "public"];
    }
}

vocabulary! {
    /// Kind of unit in the tree.
    UnitKind {
        Province = "province", "tỉnh", ["thanh_pho_truc_thuoc_trung_uong"];
        District = "district", "huyện", ["quan", "thi_xa", "thanh_pho_thuoc_tinh"];
        Commune = "commune", "xã", [];
        Ward = "ward", "phường", ["thi_tran"];
        SpecialZone = "special_zone", "đặc khu", [];
        PartyCommittee = "party_committee", "đảng bộ", ["dang_uy"];
        Agency = "agency", "cơ quan", ["so", "ban", "don_vi"];
        Cell = "cell", "chi bộ", [];
        Other = "other", "khác", [];
    }
}

vocabulary! {
    /// Life cycle of a study session.
    SessionStatus {
        Scheduled = "scheduled", "đã lên lịch", [];
        Open = "open", "đang mở điểm danh", [];
        Live = "live", "đang diễn ra", [];
        Ended = "ended", "đã kết thúc", [];
    }
}

vocabulary! {
    /// What a connection point is.
    PointKind {
        Video = "video", "phòng họp trực tuyến", ["truc_tuyen"];
        Broadcast = "broadcast", "theo dõi truyền hình", ["truyen_hinh", "tv"];
    }
}

vocabulary! {
    /// How a check-in was taken.
    CheckinMethod {
        QrSelf = "qr_self", "tự quét mã QR tại điểm cầu", [];
        Roster = "roster", "điểm danh theo danh sách", [];
        Card = "card", "quét thẻ thành viên", [];
        Broadcast = "broadcast", "theo dõi truyền hình", ["tv", "home"];
        Makeup = "makeup", "học bù qua video", [];
    }
}

vocabulary! {
    /// Account role. Point operators have no account: they hold an operator link.
    Role {
        Organizer = "organizer", "ban tổ chức", [];
        Manager = "manager", "quản lý đơn vị", [];
    }
}

impl SessionStatus {
    fn rank(self) -> u8 {
        match self {
            SessionStatus::Scheduled => 0,
            SessionStatus::Open => 1,
            SessionStatus::Live => 2,
            SessionStatus::Ended => 3,
        }
    }

    /// A session only moves forward: scheduled → open → live → ended
    /// (a step may be skipped, e.g. straight to live; never back).
    pub fn can_move_to(self, next: SessionStatus) -> bool {
        next.rank() > self.rank()
    }
}

/// Reasons a bounded text value is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong(usize),
    BadChar(char),
}

/// A code of a unit or member: text (official codes keep their leading zeros),
/// 1–64 characters of letters, digits and `-_.`.
pub fn parse_code(input: &str) -> Result<String, TextError> {
    let code: String = text::clean(input);
    if code.is_empty() {
        return Err(TextError::Empty);
    }
    if code.chars().count() > 64 {
        return Err(TextError::TooLong(64));
    }
    if let Some(bad) = code
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(TextError::BadChar(bad));
    }
    Ok(code)
}

/// A human-readable name: NFC, trimmed, no control characters, bounded.
pub fn parse_name(input: &str, max_chars: usize) -> Result<String, TextError> {
    let name = text::clean(input);
    if name.is_empty() {
        return Err(TextError::Empty);
    }
    if name.chars().count() > max_chars {
        return Err(TextError::TooLong(max_chars));
    }
    if let Some(bad) = name.chars().find(|c| c.is_control()) {
        return Err(TextError::BadChar(bad));
    }
    Ok(name)
}

/// Optional free text: empty means none.
pub fn parse_optional_text(
    input: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, TextError> {
    match input.map(text::clean) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_name(&s, max_chars).map(Some),
    }
}

/// A Vietnamese phone number: 10 digits starting with 0, or +84 followed by 9.
pub fn parse_phone(input: &str) -> Option<String> {
    let digits: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    let national = if let Some(rest) = digits.strip_prefix("+84") {
        format!("0{rest}")
    } else {
        digits
    };
    (national.len() == 10
        && national.starts_with('0')
        && national.chars().all(|c| c.is_ascii_digit()))
    .then_some(national)
}

/// An http(s) address (stream or recording).
pub fn parse_url(input: &str) -> Option<String> {
    let s = input.trim();
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 2000
        && s.len() > "https://".len()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| s.to_string())
}

/// Vietnamese wording of a [`TextError`] for the field labelled `what`.
pub fn text_error_message(what: &str, err: &TextError) -> String {
    match err {
        TextError::Empty => format!("{what} không được để trống."),
        TextError::TooLong(n) => format!("{what} dài quá {n} ký tự."),
        TextError::BadChar(c) => format!("{what} chứa ký tự không hợp lệ: {c:?}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_accepts_codes_labels_and_unaccented_labels() {
        assert_eq!(Category::parse("party_member"), Some(Category::PartyMember));
        assert_eq!(Category::parse("Đảng viên"), Some(Category::PartyMember));
        assert_eq!(Category::parse("dang vien"), Some(Category::PartyMember));
        assert_eq!(Category::parse("người lao động"), Some(Category::Worker));
        assert_eq!(UnitKind::parse("Xã"), Some(UnitKind::Commune));
        assert_eq!(UnitKind::parse("Chi bộ"), Some(UnitKind::Cell));
        assert_eq!(UnitKind::parse("planet"), None);
    }

    #[test]
    fn sessions_only_move_forward() {
        use SessionStatus::*;
        assert!(Scheduled.can_move_to(Open));
        assert!(Scheduled.can_move_to(Live));
        assert!(Live.can_move_to(Ended));
        assert!(!Ended.can_move_to(Live));
        assert!(!Open.can_move_to(Open));
    }

    #[test]
    fn codes_keep_leading_zeros_and_refuse_spaces() {
        assert_eq!(parse_code(" 00097 ").unwrap(), "00097");
        assert_eq!(parse_code("a b"), Err(TextError::BadChar(' ')));
        assert_eq!(parse_code(""), Err(TextError::Empty));
    }

    #[test]
    fn phones() {
        assert_eq!(parse_phone("0912 345 678").as_deref(), Some("0912345678"));
        assert_eq!(parse_phone("+84912345678").as_deref(), Some("0912345678"));
        assert_eq!(parse_phone("12345"), None);
    }
}
