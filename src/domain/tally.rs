//! Live tallies of one session: participants per unit, rolled up the tree,
//! per category and method, with roster sizes, expected head counts, points
//! and coverage.
//!
//! Built once from the database, then kept current by applying events. It
//! remembers which check-ins it has counted, so an event delivered twice (a
//! load racing with new check-ins, a replay, a bridge between instances)
//! never counts twice, and an annulment subtracts only what was counted.

use std::collections::{HashMap, HashSet};

use super::{Category, CheckinMethod};

pub const CATEGORIES: usize = 6;
pub const METHODS: usize = 5;

pub fn category_index(c: Category) -> usize {
    Category::ALL
        .iter()
        .position(|x| *x == c)
        .unwrap_or(CATEGORIES - 1)
}

pub fn method_index(m: CheckinMethod) -> usize {
    CheckinMethod::ALL.iter().position(|x| *x == m).unwrap_or(0)
}

/// Figures of a unit (own or rolled up) or of a point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Members checked in, by category (index of [`Category::ALL`]).
    pub members: [i64; CATEGORIES],
    /// Members checked in, by method (index of [`CheckinMethod::ALL`]).
    pub by_method: [i64; METHODS],
    /// People not on any roster, from the points' latest head counts.
    pub guests: i64,
    /// Anonymous viewers at home following the broadcast.
    pub public_viewers: i64,
    /// Roster size by category.
    pub roster: [i64; CATEGORIES],
    /// Expected head count by category, for units without a roster.
    pub expected: [i64; CATEGORIES],
    pub points: i64,
    /// What coverage is measured against: each unit's roster size, or its
    /// expected head count where it has no roster; summed up the tree.
    pub base: i64,
    /// What counts toward coverage: members checked in, plus guests and home
    /// viewers of units measured by expected head count.
    pub covered: i64,
}

impl Figures {
    pub fn members_total(&self) -> i64 {
        self.members.iter().sum()
    }

    /// Everyone taking part: members, guests and home viewers.
    pub fn participants(&self) -> i64 {
        self.members_total() + self.guests + self.public_viewers
    }

    /// Share of the roster (or expected count) that has taken part, 0–1.
    pub fn coverage(&self) -> Option<f64> {
        (self.base > 0).then(|| (self.covered as f64 / self.base as f64).min(1.0))
    }

    fn add(&mut self, other: &Figures, sign: i64) {
        for i in 0..CATEGORIES {
            self.members[i] += sign * other.members[i];
            self.roster[i] += sign * other.roster[i];
            self.expected[i] += sign * other.expected[i];
        }
        for i in 0..METHODS {
            self.by_method[i] += sign * other.by_method[i];
        }
        self.guests += sign * other.guests;
        self.public_viewers += sign * other.public_viewers;
        self.points += sign * other.points;
        self.base += sign * other.base;
        self.covered += sign * other.covered;
    }
}

#[derive(Debug, Clone)]
pub struct UnitNode {
    pub id: i64,
    pub parent: Option<i64>,
    pub code: String,
    pub name: String,
    pub kind: String,
    /// The unit's own figures (its roster, its points).
    pub own: Figures,
    /// Own plus every descendant's.
    pub total: Figures,
}

#[derive(Debug, Clone, Default)]
pub struct PointNode {
    pub id: i64,
    pub unit_id: i64,
    pub name: String,
    /// Members checked in at this point.
    pub checked_in: i64,
    /// Latest head count: (device time, report id, count).
    pub head_count: Option<(i64, i64, i64)>,
}

/// Everything that changes a tally. Serializable: instances sharing a
/// PostgreSQL database pass them to each other.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum TallyEvent {
    CheckedIn {
        checkin_id: i64,
        unit_id: i64,
        category: Category,
        method: CheckinMethod,
        point_id: Option<i64>,
    },
    Annulled {
        checkin_id: i64,
    },
    HeadCount {
        point_id: i64,
        report_id: i64,
        taken_at: i64,
        count: i64,
    },
    PublicViewer {
        viewer_id: i64,
        unit_id: i64,
    },
    /// The units, rosters or points the tally was built from changed: the
    /// hub rebuilds it from the database.
    Reload,
    /// The session moved to another state (no figure changes; webhooks care).
    StatusChanged {
        status: super::SessionStatus,
    },
}

/// A unit: id, parent id, code, name, kind, expected head count by category.
pub type UnitSourceRow = (i64, Option<i64>, String, String, String, [i64; CATEGORIES]);

/// What the database says, to build a tally from.
#[derive(Debug, Default)]
pub struct TallySource {
    pub units: Vec<UnitSourceRow>,
    /// unit id, category, members on the roster
    pub roster: Vec<(i64, Category, i64)>,
    /// id, unit id, name
    pub points: Vec<(i64, i64, String)>,
    /// live check-ins: id, member's unit id, category, method, point id
    pub checkins: Vec<(i64, i64, Category, CheckinMethod, Option<i64>)>,
    /// latest head count per point: point id, report id, device time, count
    pub head_counts: Vec<(i64, i64, i64, i64)>,
    /// viewer id, unit id
    pub public_viewers: Vec<(i64, i64)>,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub units: HashMap<i64, UnitNode>,
    pub children: HashMap<i64, Vec<i64>>,
    pub points: HashMap<i64, PointNode>,
    pub roots: Vec<i64>,
    /// Counted live check-ins: id → (unit, category, method, point).
    counted: HashMap<i64, (i64, usize, usize, Option<i64>)>,
    viewers: HashSet<i64>,
    /// Bumped by every change that altered a figure.
    pub version: u64,
    /// Units whose figures changed since the last [`Tally::take_dirty`].
    dirty: HashSet<i64>,
    dirty_points: HashSet<i64>,
}

impl Tally {
    pub fn build(src: TallySource) -> Tally {
        let mut t = Tally::default();
        for (id, parent, code, name, kind, expected) in src.units {
            let own = Figures {
                expected,
                ..Figures::default()
            };
            t.units.insert(
                id,
                UnitNode {
                    id,
                    parent,
                    code,
                    name,
                    kind,
                    own,
                    total: Figures::default(),
                },
            );
        }
        // A parent outside the tally (the session's root's parent) is no parent.
        let ids: HashSet<i64> = t.units.keys().copied().collect();
        for unit in t.units.values_mut() {
            if unit.parent.is_some_and(|p| !ids.contains(&p)) {
                unit.parent = None;
            }
        }
        for unit in t.units.values() {
            match unit.parent {
                Some(p) => t.children.entry(p).or_default().push(unit.id),
                None => t.roots.push(unit.id),
            }
        }
        for (unit_id, category, n) in src.roster {
            if let Some(u) = t.units.get_mut(&unit_id) {
                u.own.roster[category_index(category)] += n;
            }
        }
        for unit in t.units.values_mut() {
            let roster: i64 = unit.own.roster.iter().sum();
            if roster > 0 {
                // A unit with a roster is measured by it: its expected head
                // count (if any was imported too) is not counted anywhere.
                unit.own.expected = [0; CATEGORIES];
                unit.own.base = roster;
            } else {
                unit.own.base = unit.own.expected.iter().sum();
            }
        }
        for (id, unit_id, name) in src.points {
            if let Some(u) = t.units.get_mut(&unit_id) {
                u.own.points += 1;
                t.points.insert(
                    id,
                    PointNode {
                        id,
                        unit_id,
                        name,
                        ..PointNode::default()
                    },
                );
            }
        }
        for (id, unit_id, category, method, point_id) in src.checkins {
            t.count_checkin(id, unit_id, category, method, point_id, false);
        }
        for (point_id, report_id, taken_at, count) in src.head_counts {
            t.set_head_count(point_id, report_id, taken_at, count, false);
        }
        for (viewer_id, unit_id) in src.public_viewers {
            t.count_viewer(viewer_id, unit_id, false);
        }
        t.recompute_totals();
        t.dirty.clear();
        t.dirty_points.clear();
        t
    }

    /// Recomputes every rolled-up total from the units' own figures.
    fn recompute_totals(&mut self) {
        let mut order: Vec<i64> = Vec::with_capacity(self.units.len());
        let mut stack: Vec<i64> = self.roots.clone();
        while let Some(id) = stack.pop() {
            order.push(id);
            if let Some(kids) = self.children.get(&id) {
                stack.extend(kids.iter().copied());
            }
        }
        for unit in self.units.values_mut() {
            unit.total = unit.own.clone();
        }
        for id in order.into_iter().rev() {
            let (parent, total) = {
                let u = &self.units[&id];
                (u.parent, u.total.clone())
            };
            if let Some(p) = parent
                && let Some(pu) = self.units.get_mut(&p)
            {
                pu.total.add(&total, 1);
            }
        }
    }

    /// Adds `delta` to a unit's own figures and to the totals up to the root.
    fn bubble(&mut self, unit_id: i64, delta: &Figures, sign: i64, mark: bool) {
        if let Some(u) = self.units.get_mut(&unit_id) {
            u.own.add(delta, sign);
        }
        let mut cur = Some(unit_id);
        while let Some(id) = cur {
            let Some(u) = self.units.get_mut(&id) else {
                break;
            };
            u.total.add(delta, sign);
            if mark {
                self.dirty.insert(id);
            }
            cur = u.parent;
        }
    }

    /// Whether a unit's coverage is measured against its roster (else its
    /// expected head count, which guests count toward).
    fn roster_based(&self, unit_id: i64) -> bool {
        self.units
            .get(&unit_id)
            .is_some_and(|u| u.own.roster.iter().sum::<i64>() > 0)
    }

    fn count_checkin(
        &mut self,
        id: i64,
        unit_id: i64,
        category: Category,
        method: CheckinMethod,
        point_id: Option<i64>,
        live: bool,
    ) -> bool {
        if self.counted.contains_key(&id) || !self.units.contains_key(&unit_id) {
            return false;
        }
        let (c, m) = (category_index(category), method_index(method));
        self.counted.insert(id, (unit_id, c, m, point_id));
        let mut delta = Figures::default();
        delta.members[c] = 1;
        delta.by_method[m] = 1;
        delta.covered = 1;
        if live {
            self.bubble(unit_id, &delta, 1, true);
        } else if let Some(u) = self.units.get_mut(&unit_id) {
            u.own.add(&delta, 1);
        }
        if let Some(p) = point_id.and_then(|p| self.points.get_mut(&p)) {
            p.checked_in += 1;
            if live {
                self.dirty_points.insert(p.id);
            }
        }
        true
    }

    fn set_head_count(
        &mut self,
        point_id: i64,
        report_id: i64,
        taken_at: i64,
        count: i64,
        live: bool,
    ) -> bool {
        let Some(point) = self.points.get_mut(&point_id) else {
            return false;
        };
        let newer = point
            .head_count
            .is_none_or(|(t, r, _)| (taken_at, report_id) > (t, r));
        if !newer {
            return false;
        }
        let old = point.head_count.map(|(_, _, c)| c).unwrap_or(0);
        point.head_count = Some((taken_at, report_id, count));
        let unit_id = point.unit_id;
        let covered = if self.roster_based(unit_id) {
            0
        } else {
            count - old
        };
        let delta = Figures {
            guests: count - old,
            covered,
            ..Figures::default()
        };
        if live {
            self.dirty_points.insert(point_id);
            self.bubble(unit_id, &delta, 1, true);
        } else if let Some(u) = self.units.get_mut(&unit_id) {
            u.own.add(&delta, 1);
        }
        true
    }

    fn count_viewer(&mut self, viewer_id: i64, unit_id: i64, live: bool) -> bool {
        if !self.units.contains_key(&unit_id) || !self.viewers.insert(viewer_id) {
            return false;
        }
        let covered = if self.roster_based(unit_id) { 0 } else { 1 };
        let delta = Figures {
            public_viewers: 1,
            covered,
            ..Figures::default()
        };
        if live {
            self.bubble(unit_id, &delta, 1, true);
        } else if let Some(u) = self.units.get_mut(&unit_id) {
            u.own.add(&delta, 1);
        }
        true
    }

    /// Applies an event; returns whether any figure changed.
    pub fn apply(&mut self, event: &TallyEvent) -> bool {
        let changed = match *event {
            TallyEvent::CheckedIn {
                checkin_id,
                unit_id,
                category,
                method,
                point_id,
            } => self.count_checkin(checkin_id, unit_id, category, method, point_id, true),
            TallyEvent::Annulled { checkin_id } => match self.counted.remove(&checkin_id) {
                None => false,
                Some((unit_id, c, m, point_id)) => {
                    let mut delta = Figures::default();
                    delta.members[c] = 1;
                    delta.by_method[m] = 1;
                    delta.covered = 1;
                    self.bubble(unit_id, &delta, -1, true);
                    if let Some(p) = point_id.and_then(|p| self.points.get_mut(&p)) {
                        p.checked_in -= 1;
                        self.dirty_points.insert(p.id);
                    }
                    true
                }
            },
            TallyEvent::HeadCount {
                point_id,
                report_id,
                taken_at,
                count,
            } => self.set_head_count(point_id, report_id, taken_at, count, true),
            TallyEvent::PublicViewer { viewer_id, unit_id } => {
                self.count_viewer(viewer_id, unit_id, true)
            }
            // Not an event a tally can apply by itself (see LiveHub).
            TallyEvent::Reload => false,
            TallyEvent::StatusChanged { .. } => false,
        };
        if changed {
            self.version += 1;
        }
        changed
    }

    /// The units and points changed since the last call.
    pub fn take_dirty(&mut self) -> (Vec<i64>, Vec<i64>) {
        (
            self.dirty.drain().collect(),
            self.dirty_points.drain().collect(),
        )
    }

    /// The rolled-up figures of the whole session.
    pub fn headline(&self) -> Figures {
        let mut total = Figures::default();
        for root in &self.roots {
            total.add(&self.units[root].total, 1);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> TallySource {
        TallySource {
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
                    "A".into(),
                    "Xã A".into(),
                    "commune".into(),
                    [0; 6],
                ),
                (
                    3,
                    Some(2),
                    "A1".into(),
                    "Chi bộ A1".into(),
                    "cell".into(),
                    [0; 6],
                ),
                (
                    4,
                    Some(1),
                    "B".into(),
                    "Xã B".into(),
                    "commune".into(),
                    [5, 100, 0, 0, 0, 0],
                ),
            ],
            roster: vec![(2, Category::PartyMember, 3), (3, Category::Cadre, 2)],
            points: vec![(10, 2, "Điểm cầu A".into()), (11, 4, "Điểm cầu B".into())],
            checkins: vec![(100, 3, Category::Cadre, CheckinMethod::Roster, Some(10))],
            head_counts: vec![(11, 1, 1000, 40)],
            public_viewers: vec![],
        }
    }

    #[test]
    fn builds_and_rolls_up() {
        let t = Tally::build(source());
        let province = &t.units[&1].total;
        assert_eq!(province.members_total(), 1);
        assert_eq!(province.guests, 40);
        assert_eq!(province.participants(), 41);
        assert_eq!(province.roster.iter().sum::<i64>(), 5);
        assert_eq!(province.points, 2);
        assert_eq!(t.units[&2].total.members_total(), 1);
        assert_eq!(t.units[&4].total.coverage(), Some(40.0 / 105.0));
        // The province: 1 of a roster of 5, plus 40 guests of an expected 105.
        assert_eq!(province.base, 110);
        assert_eq!(province.coverage(), Some(41.0 / 110.0));
        assert_eq!(t.points[&10].checked_in, 1);
    }

    #[test]
    fn a_roster_replaces_the_expected_head_count() {
        let mut src = source();
        // Commune A has a roster and, imported too, an expected head count.
        src.units[1].5 = [7, 7, 0, 0, 0, 0];
        let t = Tally::build(src);
        assert_eq!(t.units[&2].total.base, 5);
        assert_eq!(t.units[&2].total.expected, [0; CATEGORIES]);
        let province = &t.units[&1].total;
        assert_eq!(province.expected.iter().sum::<i64>(), 105);
        assert_eq!(province.base, 110);
    }

    #[test]
    fn events_apply_once_and_annul_only_what_was_counted() {
        let mut t = Tally::build(source());
        let e = TallyEvent::CheckedIn {
            checkin_id: 101,
            unit_id: 2,
            category: Category::PartyMember,
            method: CheckinMethod::QrSelf,
            point_id: Some(10),
        };
        assert!(t.apply(&e));
        assert!(!t.apply(&e)); // delivered twice: counted once
        assert!(!t.apply(&TallyEvent::CheckedIn {
            checkin_id: 100,
            unit_id: 3,
            category: Category::Cadre,
            method: CheckinMethod::Roster,
            point_id: Some(10)
        }));
        assert_eq!(t.headline().members_total(), 2);
        assert_eq!(t.version, 1);
        assert!(t.apply(&TallyEvent::Annulled { checkin_id: 100 }));
        assert!(!t.apply(&TallyEvent::Annulled { checkin_id: 100 }));
        assert!(!t.apply(&TallyEvent::Annulled { checkin_id: 999 }));
        assert_eq!(t.headline().members_total(), 1);
        assert_eq!(t.points[&10].checked_in, 1);
        // An older head count report does not replace a newer one.
        assert!(!t.apply(&TallyEvent::HeadCount {
            point_id: 11,
            report_id: 0,
            taken_at: 500,
            count: 7
        }));
        assert!(t.apply(&TallyEvent::HeadCount {
            point_id: 11,
            report_id: 2,
            taken_at: 2000,
            count: 45
        }));
        assert_eq!(t.headline().guests, 45);
        let (units, points) = t.take_dirty();
        assert!(units.contains(&1) && units.contains(&2) && units.contains(&4));
        assert!(points.contains(&10) && points.contains(&11));
    }
}
