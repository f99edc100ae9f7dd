//! The official report of a session for a unit's subtree: one row per unit,
//! depth first in Vietnamese order, with participants by category and by
//! method, coverage live and with make-up, and the one-line summary.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tally::{Figures, Tally, method_index};
use super::{CheckinMethod, text};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ReportRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    /// 0 for the report's unit, 1 for its children…
    pub level: usize,
    pub points_registered: i64,
    /// Points whose console connected during the session.
    pub points_connected: i64,
    pub roster: i64,
    pub expected: i64,
    /// cán bộ, đảng viên, công chức, viên chức, người lao động, khách (members)
    pub by_category: [i64; 6],
    /// Members checked in at a point (QR, roster tick, card).
    pub at_point: i64,
    /// People not on a roster, from head counts.
    pub head_count: i64,
    /// Following the TV broadcast from home: members and the public.
    pub broadcast: i64,
    /// Studied the recording afterwards (học bù).
    pub makeup: i64,
    /// Took part in the session itself (everything but make-up).
    pub participants_live: i64,
    pub participants_total: i64,
    /// Coverage from the session itself, 0–1.
    pub coverage_live: Option<f64>,
    /// Coverage counting make-up, 0–1: the goal is 100%.
    pub coverage_total: Option<f64>,
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn row(f: &Figures, code: &str, name: &str, kind: &str, level: usize, connected: i64) -> ReportRow {
    let m = |x: CheckinMethod| f.by_method[method_index(x)];
    let makeup = m(CheckinMethod::Makeup);
    let coverage =
        |covered: i64| (f.base > 0).then(|| round4((covered as f64 / f.base as f64).min(1.0)));
    ReportRow {
        code: code.to_string(),
        name: name.to_string(),
        kind: kind.to_string(),
        level,
        points_registered: f.points,
        points_connected: connected,
        roster: f.roster.iter().sum(),
        expected: f.expected.iter().sum(),
        by_category: f.members,
        at_point: m(CheckinMethod::QrSelf) + m(CheckinMethod::Roster) + m(CheckinMethod::Card),
        head_count: f.guests,
        broadcast: m(CheckinMethod::Broadcast) + f.public_viewers,
        makeup,
        participants_live: f.participants() - makeup,
        participants_total: f.participants(),
        coverage_live: coverage(f.covered - makeup),
        coverage_total: coverage(f.covered),
    }
}

/// Rows for the subtree of `root` (a unit id of the tally). `connected`
/// holds the ids of the points that connected during the session.
pub fn rows(tally: &Tally, root: i64, connected: &HashSet<i64>) -> Vec<ReportRow> {
    // Points that connected, counted per unit and rolled up.
    let mut connected_per_unit: std::collections::HashMap<i64, i64> = Default::default();
    for point in tally.points.values().filter(|p| connected.contains(&p.id)) {
        let mut cur = Some(point.unit_id);
        while let Some(id) = cur {
            *connected_per_unit.entry(id).or_default() += 1;
            cur = tally.units.get(&id).and_then(|u| u.parent);
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((id, level)) = stack.pop() {
        let Some(u) = tally.units.get(&id) else {
            continue;
        };
        out.push(row(
            &u.total,
            &u.code,
            &u.name,
            &u.kind,
            level,
            connected_per_unit.get(&id).copied().unwrap_or(0),
        ));
        let mut kids: Vec<&super::tally::UnitNode> = tally
            .children
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|k| tally.units.get(k))
            .collect();
        kids.sort_by_key(|k| std::cmp::Reverse(text::collation_key(&k.name)));
        stack.extend(kids.into_iter().map(|k| (k.id, level + 1)));
    }
    out
}

/// Thousands with dots, as Vietnamese writes them: 2.701.
pub fn vn_number(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "Toàn Đảng bộ có 61 điểm cầu kết nối, với tổng số 2.701 cán bộ, …"
pub fn summary(scope_name: &str, points_connected: i64, participants: i64) -> String {
    format!(
        "Toàn {scope_name} có {} điểm cầu kết nối, với tổng số {} cán bộ, đảng viên, công chức, viên chức, người lao động tham gia.",
        vn_number(points_connected),
        vn_number(participants)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Category;
    use crate::domain::tally::{TallyEvent, TallySource};

    #[test]
    fn rows_follow_the_tree_and_split_methods() {
        let mut t = Tally::build(TallySource {
            units: vec![
                (
                    1,
                    None,
                    "19".into(),
                    "Tỉnh".into(),
                    "province".into(),
                    [0; 6],
                ),
                (
                    2,
                    Some(1),
                    "B".into(),
                    "Xã Bằng".into(),
                    "commune".into(),
                    [0; 6],
                ),
                (
                    3,
                    Some(1),
                    "A".into(),
                    "Xã An".into(),
                    "commune".into(),
                    [0; 6],
                ),
            ],
            roster: vec![(2, Category::PartyMember, 4), (3, Category::Cadre, 2)],
            points: vec![(10, 2, "P".into())],
            ..Default::default()
        });
        t.apply(&TallyEvent::CheckedIn {
            checkin_id: 1,
            unit_id: 2,
            category: Category::PartyMember,
            method: CheckinMethod::QrSelf,
            point_id: Some(10),
        });
        t.apply(&TallyEvent::CheckedIn {
            checkin_id: 2,
            unit_id: 2,
            category: Category::PartyMember,
            method: CheckinMethod::Makeup,
            point_id: None,
        });
        t.apply(&TallyEvent::HeadCount {
            point_id: 10,
            report_id: 1,
            taken_at: 1,
            count: 7,
        });
        let rows = rows(&t, 1, &HashSet::from([10]));
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["Tỉnh", "Xã An", "Xã Bằng"]);
        let b = &rows[2];
        assert_eq!((b.at_point, b.makeup, b.head_count), (1, 1, 7));
        assert_eq!((b.participants_live, b.participants_total), (8, 9));
        assert_eq!((b.coverage_live, b.coverage_total), (Some(0.25), Some(0.5)));
        assert_eq!(rows[0].points_connected, 1);
        assert_eq!(rows[0].level, 0);
        assert_eq!(rows[1].level, 1);
    }

    #[test]
    fn summary_reads_like_the_reports() {
        assert_eq!(
            summary("Đảng bộ", 61, 2701),
            "Toàn Đảng bộ có 61 điểm cầu kết nối, với tổng số 2.701 cán bộ, đảng viên, công chức, viên chức, người lao động tham gia."
        );
        assert_eq!(vn_number(1_900_000), "1.900.000");
        assert_eq!(vn_number(2701), "2.701");
        assert_eq!(vn_number(61), "61");
        assert_eq!(
            summary("Đảng bộ tỉnh", 61, 2701),
            "Toàn Đảng bộ tỉnh có 61 điểm cầu kết nối, với tổng số 2.701 cán bộ, đảng viên, công chức, viên chức, người lao động tham gia."
        );
    }
}
