//! The official report of a session, checked against a brute-force count of
//! generated data: a seeded random tree of units, rosters with random
//! categories, units known only by their expected head count, and check-ins
//! of every method made through the real APIs. Then its CSV, XLSX and
//! printable forms, and a manager's view of it.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;

use calamine::{Data, Range, Reader, Xlsx};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use diemcau::domain::time::{now_ms, to_local};

use crate::helpers::*;

/// Categories in the order of the report's `by_category`.
const CATEGORIES: [&str; 6] = [
    "cadre",
    "party_member",
    "civil_servant",
    "public_employee",
    "worker",
    "guest",
];

/// The province's children in Vietnamese alphabetical order (sorting bytes
/// would put "Xã Ân Thịnh" and "Xã Đại Từ" after "Xã Yên Ninh").
const PROVINCE_CHILDREN: [(&str, &str); 7] = [
    ("Ban Tuyên giáo Tỉnh ủy", "agency"),
    ("Sở Y tế", "agency"),
    ("Xã An Khánh", "commune"),
    ("Xã Ân Thịnh", "commune"),
    ("Xã Dân Tiến", "commune"),
    ("Xã Đại Từ", "commune"),
    ("Xã Yên Ninh", "commune"),
];
/// A commune's cells in Vietnamese order ("Cẩm" before "Chè": â comes
/// before h); punctuation sorts after every letter.
const CELLS: [&str; 6] = [
    "Chi bộ thôn Cẩm Lý",
    "Chi bộ thôn Chè Tân",
    "Chi bộ thôn Đồng Tâm",
    "Chi bộ thôn Na Hiên",
    "Chi bộ thôn Ơn Sơn",
    "Chi bộ thôn <b>Nà & Lạ</b>",
];
/// The unit whose name must be escaped in HTML.
const TRICKY: &str = "Chi bộ thôn <b>Nà & Lạ</b>";
const GROUPS: [&str; 2] = ["Tổ đảng số 1", "Tổ đảng số 2"];
const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const MIDDLE: [&str; 5] = ["Văn", "Thị", "Minh", "Đức", "Thu"];
const GIVEN: [&str; 10] = [
    "An", "Bình", "Hoa", "Nam", "Tâm", "Ánh", "Đức", "Hùng", "Yến", "Ơn",
];
/// The recording's length as the make-up page reports it.
const RECORDING_S: f64 = 5400.0;

struct Unit {
    code: String,
    name: String,
    kind: &'static str,
    parent: Option<usize>,
    /// In the report's order (Vietnamese order of their names).
    children: Vec<usize>,
    /// Expected head count by category, as imported.
    expected: [i64; 6],
}

struct Member {
    code: String,
    name: String,
    unit: usize,
    category: usize,
}

struct Point {
    unit: usize,
    op: Api,
}

/// A server filled with generated data, and what the test knows it did.
struct World {
    seed: u64,
    app: TestApp,
    org: Api,
    session: i64,
    units: Vec<Unit>,
    members: Vec<Member>,
    points: Vec<Point>,
    /// Member index → method of their live check-in.
    checked_in: HashMap<usize, &'static str>,
    /// Point index → its latest head count (by device time).
    head_counts: HashMap<usize, i64>,
    /// Unit index of each member of the public counted at home.
    viewers: Vec<usize>,
    /// Points whose console connected.
    connected: HashSet<usize>,
}

/// The seed: `DIEMCAU_TEST_SEED` when set (to replay a failure), else `base`.
fn seed_or(base: u64) -> u64 {
    std::env::var("DIEMCAU_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(base)
}

fn minutes_ago(minutes: i64) -> String {
    to_local(now_ms() - minutes * 60_000).to_rfc3339()
}

impl World {
    fn unit_by_code(&self, code: &str) -> usize {
        self.units
            .iter()
            .position(|u| u.code == code)
            .unwrap_or_else(|| panic!("unit {code}"))
    }

    /// The unit and its descendants, depth first in report order.
    fn subtree(&self, root: usize) -> Vec<usize> {
        let mut out = vec![root];
        for &kid in &self.units[root].children {
            out.extend(self.subtree(kid));
        }
        out
    }

    /// The unit, its parent, … up to the province.
    fn ancestors(&self, unit: usize) -> Vec<usize> {
        let mut out = vec![unit];
        let mut cur = self.units[unit].parent;
        while let Some(p) = cur {
            out.push(p);
            cur = self.units[p].parent;
        }
        out
    }

    fn own_roster(&self, unit: usize) -> i64 {
        self.members.iter().filter(|m| m.unit == unit).count() as i64
    }

    /// The report rows of `root`'s subtree, counted from scratch.
    fn expected_rows(&self, root: usize) -> Vec<Row> {
        let root_depth = self.ancestors(root).len();
        self.subtree(root)
            .into_iter()
            .map(|u| self.count(u, self.ancestors(u).len() - root_depth))
            .collect()
    }

    fn count(&self, unit: usize, level: usize) -> Row {
        let inside: HashSet<usize> = self.subtree(unit).into_iter().collect();
        let roster_based = |v: usize| self.own_roster(v) > 0;
        let mut row = Row {
            code: self.units[unit].code.clone(),
            name: self.units[unit].name.clone(),
            kind: self.units[unit].kind.to_string(),
            level,
            ..Row::default()
        };
        let mut covered = 0;
        let mut base = 0;
        for &v in &inside {
            let roster = self.own_roster(v);
            row.roster += roster;
            if roster > 0 {
                base += roster;
            } else {
                let expected: i64 = self.units[v].expected.iter().sum();
                row.expected += expected;
                base += expected;
            }
        }
        let mut members = 0;
        for (&m, &method) in &self.checked_in {
            let member = &self.members[m];
            if !inside.contains(&member.unit) {
                continue;
            }
            members += 1;
            row.by_category[member.category] += 1;
            match method {
                "qr_self" | "roster" | "card" => row.at_point += 1,
                "broadcast" => row.broadcast += 1,
                "makeup" => row.makeup += 1,
                other => panic!("method {other}"),
            }
        }
        covered += members;
        for (i, p) in self.points.iter().enumerate() {
            if !inside.contains(&p.unit) {
                continue;
            }
            row.points_registered += 1;
            if self.connected.contains(&i) {
                row.points_connected += 1;
            }
            let count = self.head_counts.get(&i).copied().unwrap_or(0);
            row.head_count += count;
            if !roster_based(p.unit) {
                covered += count;
            }
        }
        for &v in &self.viewers {
            if inside.contains(&v) {
                row.broadcast += 1;
                row.viewers += 1;
                if !roster_based(v) {
                    covered += 1;
                }
            }
        }
        row.participants_total = members + row.head_count + row.viewers;
        row.participants_live = row.participants_total - row.makeup;
        let share = |c: i64| {
            (base > 0).then(|| ((c as f64 / base as f64).min(1.0) * 10_000.0).round() / 10_000.0)
        };
        row.coverage_total = share(covered);
        row.coverage_live = share(covered - row.makeup);
        row
    }
}

/// One row of the report as the test counts it.
#[derive(Debug, Default)]
struct Row {
    code: String,
    name: String,
    kind: String,
    level: usize,
    points_registered: i64,
    points_connected: i64,
    roster: i64,
    expected: i64,
    by_category: [i64; 6],
    at_point: i64,
    head_count: i64,
    broadcast: i64,
    makeup: i64,
    viewers: i64,
    participants_live: i64,
    participants_total: i64,
    coverage_live: Option<f64>,
    coverage_total: Option<f64>,
}

/// Thousands with dots, as Vietnamese writes them.
fn vn_number(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    out
}

fn same_share(got: &Value, want: Option<f64>) -> bool {
    match (got.as_f64(), want) {
        (None, None) => got.is_null(),
        (Some(g), Some(w)) => (g - w).abs() < 1e-9,
        _ => false,
    }
}

/// Compares the report's rows with the counted ones, field by field.
#[track_caller]
fn assert_rows(got: &Value, want: &[Row], what: &str) {
    let rows = got.as_array().unwrap_or_else(|| panic!("{what}: rows"));
    let got_codes: Vec<&str> = rows.iter().map(|r| r["code"].as_str().unwrap()).collect();
    let want_codes: Vec<&str> = want.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(got_codes, want_codes, "{what}: rows and their order");
    for (g, w) in rows.iter().zip(want) {
        let at = format!("{what}, unit {} ({})", w.code, w.name);
        assert_eq!(g["name"], w.name.as_str(), "{at}");
        assert_eq!(g["kind"], w.kind.as_str(), "{at}");
        assert_eq!(g["level"], w.level, "{at}: level");
        let numbers = [
            ("points_registered", w.points_registered),
            ("points_connected", w.points_connected),
            ("roster", w.roster),
            ("expected", w.expected),
            ("at_point", w.at_point),
            ("head_count", w.head_count),
            ("broadcast", w.broadcast),
            ("makeup", w.makeup),
            ("participants_live", w.participants_live),
            ("participants_total", w.participants_total),
        ];
        for (field, value) in numbers {
            assert_eq!(g[field], value, "{at}: {field} in {g}");
        }
        assert_eq!(g["by_category"], json!(w.by_category), "{at}: by_category");
        assert!(
            same_share(&g["coverage_live"], w.coverage_live),
            "{at}: coverage_live {} ≠ {:?}",
            g["coverage_live"],
            w.coverage_live
        );
        assert!(
            same_share(&g["coverage_total"], w.coverage_total),
            "{at}: coverage_total {} ≠ {:?}",
            g["coverage_total"],
            w.coverage_total
        );
    }
}

/// Builds the tree, rosters, points and attendance with a seeded RNG, all
/// through the API, and remembers what it did.
async fn generate(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::start().await;
    let org = app.organizer().await;

    // The tree.
    let mut units = vec![Unit {
        code: "46".into(),
        name: "Tỉnh Kiểm Định".into(),
        kind: "province",
        parent: None,
        children: Vec::new(),
        expected: [0; 6],
    }];
    let add = |units: &mut Vec<Unit>, code: String, name: &str, kind, parent: usize| {
        units.push(Unit {
            code,
            name: name.to_string(),
            kind,
            parent: Some(parent),
            children: Vec::new(),
            expected: [0; 6],
        });
        let id = units.len() - 1;
        units[parent].children.push(id);
        id
    };
    for (i, (name, kind)) in PROVINCE_CHILDREN.iter().enumerate() {
        // Official codes keep their leading zeros.
        let unit = add(&mut units, format!("0{}", 4600 + i), name, *kind, 0);
        if *kind != "commune" {
            continue;
        }
        let mut first_cell = true;
        for (j, cell) in CELLS.iter().enumerate() {
            let forced =
                (*name == "Xã Đại Từ" && *cell == TRICKY) || (*name == "Xã An Khánh" && j == 0);
            if !forced && !rng.gen_bool(0.55) {
                continue;
            }
            let c = add(&mut units, format!("CB{i}-{j}"), cell, "cell", unit);
            if *name == "Xã An Khánh" && first_cell {
                for (k, group) in GROUPS.iter().enumerate() {
                    add(&mut units, format!("TD{i}-{j}-{k}"), group, "other", c);
                }
            }
            first_cell = false;
        }
    }

    // Rosters, or expected head counts only, or both (the roster wins), or nothing.
    let mut members = Vec::new();
    for (u, unit) in units.iter_mut().enumerate() {
        let mode = match unit.name.as_str() {
            "Ban Tuyên giáo Tỉnh ủy" => 1,
            "Sở Y tế" => 0,
            _ if u == 0 => 0,
            _ => match rng.gen_range(0..100) {
                0..=54 => 0,
                55..=74 => 1,
                75..=84 => 2,
                _ => 3,
            },
        };
        if mode == 1 || mode == 2 {
            for e in unit.expected.iter_mut() {
                *e = if rng.gen_bool(0.7) {
                    rng.gen_range(1..=25)
                } else {
                    0
                };
            }
        }
        if mode == 0 || mode == 2 {
            for _ in 0..rng.gen_range(2..=8) {
                let name = format!(
                    "{} {} {}",
                    FAMILY.choose(&mut rng).unwrap(),
                    MIDDLE.choose(&mut rng).unwrap(),
                    GIVEN.choose(&mut rng).unwrap()
                );
                members.push(Member {
                    code: format!("0{:06}", 460_001 + members.len()),
                    name,
                    unit: u,
                    category: rng.gen_range(0..CATEGORIES.len()),
                });
            }
        }
    }

    let mut rows: Vec<String> = units
        .iter()
        .map(|u| {
            let expected: Vec<String> = u
                .expected
                .iter()
                .map(|e| if *e > 0 { e.to_string() } else { String::new() })
                .collect();
            format!(
                "{},{},{},{},{}",
                u.code,
                u.name,
                u.kind,
                u.parent.map(|p| units[p].code.as_str()).unwrap_or(""),
                expected.join(",")
            )
        })
        .collect();
    rows.shuffle(&mut rng);
    let csv = format!(
        "code,name,kind,parent_code,expected_cadre,expected_party_member,expected_civil_servant,\
         expected_public_employee,expected_worker,expected_guest\n{}\n",
        rows.join("\n")
    );
    let imported = org.import_units(csv).await.expect(200);
    assert_eq!(imported["created"], units.len(), "{imported}");
    let mut rows: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "{},{},{},{}",
                m.code, m.name, CATEGORIES[m.category], units[m.unit].code
            )
        })
        .collect();
    rows.shuffle(&mut rng);
    let csv = format!(
        "member_code,full_name,category,unit_code\n{}\n",
        rows.join("\n")
    );
    let imported = org.import_members(csv).await.expect(200);
    assert_eq!(imported["created"], members.len(), "{imported}");

    // The session, its recording (for make-up) and its points.
    let session = org.open_session("46", "46").await;
    org.set_recording(session, "https://video.example.vn/hoi-nghi-chuyen-de.mp4")
        .await;
    let mut points = Vec::new();
    for (u, unit) in units.iter().enumerate() {
        let name = match unit.kind {
            "province" => format!("Hội trường {}", unit.name),
            "commune" => format!("Hội trường UBND {}", unit.name),
            "agency" => format!("Phòng họp {}", unit.name),
            "cell" if rng.gen_bool(0.5) => format!("Nhà văn hóa {}", unit.name),
            _ => continue,
        };
        let (_, secret) = org.new_point(session, &unit.code, &name).await;
        points.push(Point {
            unit: u,
            op: app.operator(&secret),
        });
    }

    let mut world = World {
        seed,
        app,
        org,
        session,
        units,
        members,
        points,
        checked_in: HashMap::new(),
        head_counts: HashMap::new(),
        viewers: Vec::new(),
        connected: HashSet::new(),
    };
    world.attend(&mut rng).await;
    world
}

impl World {
    /// A point for a member: one of their own units' if any, else any.
    fn point_for(&self, member: usize, rng: &mut StdRng) -> usize {
        let chain = self.ancestors(self.members[member].unit);
        let near: Vec<usize> = (0..self.points.len())
            .filter(|p| chain.contains(&self.points[*p].unit))
            .collect();
        match near.choose(rng) {
            Some(p) => *p,
            None => rng.gen_range(0..self.points.len()),
        }
    }

    /// Check-ins of every method, undos, repeats, head counts, viewers at
    /// home, one console connecting, and make-up.
    async fn attend(&mut self, rng: &mut StdRng) {
        let signer = self.app.card_signer().await;
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.shuffle(rng);
        assert!(order.len() > 20, "seed {}: too few members", self.seed);
        let (makeup, rest) = order.split_at(2);
        let (undone, rest) = rest.split_at(3);
        let mut batches: HashMap<usize, Vec<Value>> = HashMap::new();
        let mut qr = Vec::new();
        let mut home = Vec::new();
        for &m in undone {
            let p = self.point_for(m, rng);
            let code = &self.members[m].code;
            batches
                .entry(p)
                .or_default()
                .push(json!({"id": format!("r-{code}"), "method": "roster", "member_code": code}));
        }
        for &m in rest {
            let code = self.members[m].code.clone();
            match rng.gen_range(0..100) {
                0..=24 => {} // absent
                25..=49 => {
                    let p = self.point_for(m, rng);
                    batches.entry(p).or_default().push(
                        json!({"id": format!("r-{code}"), "method": "roster", "member_code": code}),
                    );
                    self.checked_in.insert(m, "roster");
                }
                50..=64 => {
                    let p = self.point_for(m, rng);
                    batches.entry(p).or_default().push(
                        json!({"id": format!("c-{code}"), "method": "card", "card": signer.card(&code)}),
                    );
                    self.checked_in.insert(m, "card");
                }
                65..=81 => {
                    qr.push((m, self.point_for(m, rng)));
                    self.checked_in.insert(m, "qr_self");
                }
                _ => {
                    home.push(m);
                    self.checked_in.insert(m, "broadcast");
                }
            }
        }

        // Operators: roster ticks and member cards, a batch per point.
        for (p, items) in &batches {
            let n = items.len();
            let done = self.points[*p]
                .op
                .post("/api/operator/checkins", json!({ "items": items }))
                .await
                .expect(200);
            for r in done["results"].as_array().unwrap() {
                assert_eq!(r["answer"]["result"], "checked_in", "{r}");
            }
            assert_eq!(done["results"].as_array().unwrap().len(), n);
        }
        // Members scanning the point's QR code with their phones.
        let phone = self.app.anonymous();
        for (m, p) in &qr {
            let token = self.points[*p].op.get("/api/operator/qr").await.expect(200)["token"]
                .as_str()
                .unwrap()
                .to_string();
            let code = &self.members[*m].code;
            let answer = phone
                .post(
                    "/api/checkin",
                    json!({"token": token, "member_code": code, "client_id": format!("phone-{code}")}),
                )
                .await
                .expect(200);
            assert_eq!(answer["result"], "checked_in", "{answer}");
            assert_eq!(answer["method"], "qr_self");
        }
        // Members following the broadcast at home.
        let home_checkin = format!("/api/public/sessions/{}/home-checkin", self.session);
        for m in &home {
            let code = &self.members[*m].code;
            let answer = phone
                .post(
                    &home_checkin,
                    json!({"member_code": code, "device_id": format!("tv-{code}")}),
                )
                .await
                .expect(200);
            assert_eq!(answer["result"], "checked_in", "{answer}");
            assert_eq!(answer["method"], "broadcast");
        }
        // Ticked by mistake: undone; two of them arrive later at another
        // point and their card is scanned.
        for (i, &m) in undone.iter().enumerate() {
            let code = self.members[m].code.clone();
            let p = batches
                .iter()
                .find(|(_, items)| items.iter().any(|it| it["member_code"] == code.as_str()))
                .map(|(p, _)| *p)
                .unwrap();
            self.points[p]
                .op
                .post(
                    "/api/operator/undo",
                    json!({"id": format!("u-{code}"), "member_code": code, "reason": "Bấm nhầm"}),
                )
                .await
                .expect(200);
            if i < 2 {
                let other = (p + 1) % self.points.len();
                let done = self.points[other]
                    .op
                    .post(
                        "/api/operator/checkins",
                        json!({"items": [{"id": format!("c2-{code}"), "method": "card", "card": signer.card(&code)}]}),
                    )
                    .await
                    .expect(200);
                assert_eq!(done["results"][0]["answer"]["result"], "checked_in");
                self.checked_in.insert(m, "card");
            }
        }
        // Members already counted try again another way: counted once.
        let mut again: Vec<usize> = self.checked_in.keys().copied().collect();
        again.sort();
        again.shuffle(rng);
        for &m in again.iter().take(4) {
            let code = &self.members[m].code;
            let answer = phone
                .post(
                    &home_checkin,
                    json!({"member_code": code, "device_id": format!("again-{code}")}),
                )
                .await
                .expect(200);
            assert_eq!(answer["result"], "already_checked_in", "{answer}");
        }
        // Members of the public at home pick their unit; a device counts once.
        for i in 0..rng.gen_range(10..=16) {
            let u = rng.gen_range(0..self.units.len());
            let answer = phone
                .post(
                    &home_checkin,
                    json!({"unit_code": self.units[u].code, "device_id": format!("public-{i}")}),
                )
                .await
                .expect(200);
            assert_eq!(answer["result"], "checked_in", "{answer}");
            self.viewers.push(u);
        }
        let u = self.viewers[0];
        let answer = phone
            .post(
                &home_checkin,
                json!({"unit_code": self.units[u].code, "device_id": "public-0"}),
            )
            .await
            .expect(200);
        assert_eq!(answer["result"], "already_checked_in", "{answer}");
        // Head counts: several reports per point, sent out of order; the
        // one taken last counts. One hall is full: over a thousand people.
        let big = rng.gen_range(0..self.points.len());
        for p in 0..self.points.len() {
            if p != big && !rng.gen_bool(0.6) {
                continue;
            }
            let mut minutes: Vec<i64> = (1..=40).collect();
            minutes.shuffle(rng);
            let reports: Vec<(i64, i64)> = minutes
                .iter()
                .take(rng.gen_range(1..=3))
                .map(|m| (*m, rng.gen_range(0..=60)))
                .collect();
            let latest = reports.iter().min_by_key(|(m, _)| *m).unwrap().0;
            for (k, (m, count)) in reports.iter().enumerate() {
                let count = if p == big && *m == latest {
                    rng.gen_range(1000..=1500)
                } else {
                    *count
                };
                let stats = self.points[p]
                    .op
                    .post(
                        "/api/operator/head-count",
                        json!({"id": format!("h-{p}-{k}"), "count": count, "taken_at": minutes_ago(*m)}),
                    )
                    .await
                    .expect(200);
                if *m == latest {
                    self.head_counts.insert(p, count);
                }
                assert!(stats["head_count"].is_i64(), "{stats}");
            }
        }
        // One console connects (and goes): its point counts as connected.
        let p = rng.gen_range(0..self.points.len());
        self.app.connect_console_once(&self.points[p].op).await;
        self.connected.insert(p);
        // Two absentees study the recording from their personal link.
        let absentees = self.org.absentees(self.session, None).await.expect(200);
        for &m in makeup {
            let code = self.members[m].code.clone();
            let item = absentees["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["member_code"] == code.as_str())
                .unwrap_or_else(|| panic!("{code} among the absentees: {absentees}"))
                .clone();
            let token = makeup_token_of(item["makeup_link"].as_str().unwrap());
            self.app
                .watch_recording(self.session, &code, &token, RECORDING_S)
                .await;
            self.checked_in.insert(m, "makeup");
        }
    }
}

/// Checks a JSON report against the count, with its summary.
#[track_caller]
fn check_report(w: &World, report: &Value, unit: usize) {
    let want = w.expected_rows(unit);
    let what = format!("seed {}, report of {}", w.seed, w.units[unit].code);
    assert_eq!(report["session_id"], w.session, "{what}");
    assert_eq!(report["unit_code"], w.units[unit].code.as_str(), "{what}");
    assert_eq!(report["unit_name"], w.units[unit].name.as_str(), "{what}");
    assert_rows(&report["rows"], &want, &what);
    let top = &want[0];
    assert_eq!(
        report["summary"],
        format!(
            "Toàn {} có {} điểm cầu kết nối, với tổng số {} cán bộ, đảng viên, công chức, viên chức, người lao động tham gia.",
            top.name,
            vn_number(top.points_connected),
            vn_number(top.participants_live)
        ),
        "{what}"
    );
}

#[tokio::test]
async fn report_figures_match_a_brute_force_count_of_generated_attendance() {
    let w = generate(seed_or(20_261_123)).await;
    let root = w.expected_rows(0).remove(0);
    // The data reaches every case the report distinguishes.
    assert!(root.at_point > 0 && root.broadcast > root.viewers && root.viewers > 0);
    assert_eq!(root.makeup, 2);
    assert!(root.head_count >= 1000, "{root:?}");
    assert!(
        root.participants_live >= 1000,
        "thousands are written with a dot"
    );
    assert_eq!(root.points_connected, 1);

    let report = w.org.report(w.session, None).await.expect(200);
    check_report(&w, &report, 0);
    assert!(
        report["summary"].as_str().unwrap().contains(&format!(
            "tổng số {} cán bộ",
            vn_number(root.participants_live)
        )),
        "{}",
        report["summary"]
    );
    // Any unit's report is its subtree, levels counted from it.
    let mut sample: Vec<usize> = (1..=PROVINCE_CHILDREN.len()).collect();
    sample.push(w.unit_by_code("CB2-0"));
    sample.push(w.unit_by_code("TD2-0-1"));
    sample.push(w.units.iter().position(|u| u.name == TRICKY).unwrap());
    for u in sample {
        let code = w.units[u].code.clone();
        let report = w.org.report(w.session, Some(&code)).await.expect(200);
        check_report(&w, &report, u);
    }
    w.org
        .report(w.session, Some("KHONG-CO"))
        .await
        .error(404, "unit.not_found");
}

/// The report's header row, as spreadsheets show it.
const HEADERS: [&str; 21] = [
    "Cấp",
    "Mã đơn vị",
    "Đơn vị",
    "Điểm cầu đăng ký",
    "Điểm cầu kết nối",
    "Danh sách",
    "Dự kiến",
    "Cán bộ",
    "Đảng viên",
    "Công chức",
    "Viên chức",
    "Người lao động",
    "Khách",
    "Tại điểm cầu",
    "Ngoài danh sách (đếm người)",
    "Theo dõi truyền hình",
    "Học bù",
    "Tham gia trực tiếp",
    "Tổng cộng",
    "Tỷ lệ trực tiếp (%)",
    "Tỷ lệ kể cả học bù (%)",
];

/// The numbers of a JSON row in the order of the columns after the name.
fn row_numbers(r: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = [
        "points_registered",
        "points_connected",
        "roster",
        "expected",
    ]
    .iter()
    .map(|f| r[*f].as_i64().unwrap())
    .collect();
    out.extend(
        r["by_category"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_i64().unwrap()),
    );
    out.extend(
        [
            "at_point",
            "head_count",
            "broadcast",
            "makeup",
            "participants_live",
            "participants_total",
        ]
        .iter()
        .map(|f| r[*f].as_i64().unwrap()),
    );
    out
}

fn percent(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{:.1}", x * 100.0))
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The text of a sheet cell (strings only: a code must not become a number).
fn cell_text(sheet: &Range<Data>, row: u32, col: u32) -> String {
    match sheet.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        None | Some(Data::Empty) => String::new(),
        Some(other) => panic!("cell ({row}, {col}) is {other:?}, not text"),
    }
}

fn cell_number(sheet: &Range<Data>, row: u32, col: u32) -> f64 {
    match sheet.get_value((row, col)) {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("cell ({row}, {col}) is {other:?}, not a number"),
    }
}

#[tokio::test]
async fn report_exports_carry_the_same_figures_as_csv_xlsx_and_a_printable_page() {
    let w = generate(seed_or(20_261_124)).await;
    let path = format!("/api/sessions/{}/report", w.session);
    let report = w.org.report(w.session, None).await.expect(200);
    check_report(&w, &report, 0);
    let rows = report["rows"].as_array().unwrap();

    // CSV: a BOM (so that Excel reads UTF-8), the header, the same figures.
    let csv = w
        .org
        .get_raw(&path, &[("format", "csv")])
        .await
        .expect(200, "text/csv");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&csv[3..]);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("CSV row")).collect();
    assert_eq!(records[0].iter().collect::<Vec<_>>(), HEADERS);
    assert_eq!(records.len(), rows.len() + 1);
    for (rec, r) in records[1..].iter().zip(rows) {
        assert_eq!(&rec[0], r["level"].to_string());
        assert_eq!(&rec[1], r["code"].as_str().unwrap());
        assert_eq!(&rec[2], r["name"].as_str().unwrap());
        let numbers: Vec<i64> = (3..19).map(|i| rec[i].parse().unwrap()).collect();
        assert_eq!(numbers, row_numbers(r), "CSV row of {}", r["code"]);
        assert_eq!(&rec[19], percent(&r["coverage_live"]));
        assert_eq!(&rec[20], percent(&r["coverage_total"]));
    }

    // XLSX opened back: title, header, names with their diacritics, codes
    // with their leading zeros, figures as numbers.
    let xlsx = w
        .org
        .get_raw(&path, &[("format", "xlsx")])
        .await
        .expect(200, "application/vnd.openxmlformats");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).expect("XLSX opens");
    let sheet = book.worksheet_range("Báo cáo").expect("the report sheet");
    assert_eq!(
        cell_text(&sheet, 0, 0),
        "BÁO CÁO KẾT QUẢ HỌC TẬP CHUYÊN ĐỀ — TỈNH KIỂM ĐỊNH"
    );
    let subtitle = cell_text(&sheet, 1, 0);
    assert!(
        subtitle.contains(report["summary"].as_str().unwrap()),
        "{subtitle}"
    );
    let header: Vec<String> = (0..21).map(|c| cell_text(&sheet, 3, c)).collect();
    assert_eq!(header, HEADERS);
    for (i, r) in rows.iter().enumerate() {
        let at = 4 + i as u32;
        assert_eq!(cell_number(&sheet, at, 0), r["level"].as_f64().unwrap());
        assert_eq!(
            cell_text(&sheet, at, 1),
            r["code"].as_str().unwrap(),
            "XLSX code of row {i}"
        );
        assert_eq!(cell_text(&sheet, at, 2), r["name"].as_str().unwrap());
        let numbers: Vec<i64> = (3..19).map(|c| cell_number(&sheet, at, c) as i64).collect();
        assert_eq!(numbers, row_numbers(r), "XLSX row of {}", r["code"]);
        for (col, field) in [(19, "coverage_live"), (20, "coverage_total")] {
            match r[field].as_f64() {
                Some(x) => assert!(
                    (cell_number(&sheet, at, col) - x * 100.0).abs() < 0.051,
                    "{field} of {}",
                    r["code"]
                ),
                None => assert_eq!(cell_text(&sheet, at, col), ""),
            }
        }
    }
    assert_eq!(sheet.get_value((4 + rows.len() as u32, 1)), None);

    // The printable page: the Party's heading, the summary, every unit,
    // all escaped.
    let page = w
        .org
        .get_raw(&path, &[("format", "html")])
        .await
        .expect(200, "text/html");
    let html = String::from_utf8(page).expect("UTF-8 page");
    assert!(html.contains("ĐẢNG CỘNG SẢN VIỆT NAM"));
    assert!(html.contains(&escape(report["summary"].as_str().unwrap())));
    assert!(html.contains(&escape(report["theme"].as_str().unwrap())));
    for r in rows {
        let cell = format!(
            "<td class=\"name\">{}</td>",
            escape(r["name"].as_str().unwrap())
        );
        assert!(html.contains(&cell), "{cell} in the page");
    }
    assert_eq!(html.matches("<tr class=\"level-").count(), rows.len());
    assert!(html.contains("&lt;b&gt;Nà &amp; Lạ&lt;/b&gt;"));
    assert!(!html.contains("<b>Nà"), "names are escaped");

    // Formats the server does not make.
    for format in ["pdf", "docx"] {
        w.org
            .get_with(&path, &[("format", format)])
            .await
            .error(400, "request.invalid_query");
    }
}

#[tokio::test]
async fn a_managers_report_is_their_commune_only() {
    let w = generate(seed_or(20_261_125)).await;
    let mine = w.unit_by_code("04605"); // Xã Đại Từ
    let other = w.unit_by_code("04602"); // Xã An Khánh
    let (_, manager) = w.app.manager("quanly.daitu", "04605").await;

    let report = manager.report(w.session, None).await.expect(200);
    check_report(&w, &report, mine);
    let org_view = w.org.report(w.session, Some("04605")).await.expect(200);
    assert_eq!(report["rows"], org_view["rows"]);
    assert_eq!(report["summary"], org_view["summary"]);
    let cell = w.units[mine].children[0];
    let report = manager
        .report(w.session, Some(&w.units[cell].code))
        .await
        .expect(200);
    check_report(&w, &report, cell);

    // Another commune, the province, or their cells: not in this manager's view.
    for code in ["04602", "46", "CB2-0"] {
        manager
            .report(w.session, Some(code))
            .await
            .error(404, "unit.not_found");
        manager
            .absentees(w.session, Some(code))
            .await
            .error(404, "unit.not_found");
    }
    let path = format!("/api/sessions/{}/report", w.session);
    let refused = manager
        .get_raw(&path, &[("unit", "04602"), ("format", "csv")])
        .await;
    assert_eq!(refused.status, 404);
    // The absentees of their commune are theirs only.
    let absentees = manager.absentees(w.session, None).await.expect(200);
    let inside: HashSet<usize> = w.subtree(mine).into_iter().collect();
    let expected: HashSet<String> = w
        .members
        .iter()
        .enumerate()
        .filter(|(i, m)| inside.contains(&m.unit) && !w.checked_in.contains_key(i))
        .map(|(_, m)| m.code.clone())
        .collect();
    let listed: HashSet<String> = codes(&absentees["items"], "member_code")
        .into_iter()
        .collect();
    assert_eq!(listed, expected, "seed {}", w.seed);
    assert!(!inside.contains(&other));
}

#[tokio::test]
async fn member_history_lists_each_session_studied_with_method_and_point() {
    let t = two_communes().await;
    let (app, org) = (&t.app, &t.org);
    let first = org.open_session(AGENCY, PROVINCE).await;
    // A second session, starting later the same day.
    let at = |minutes: i64| to_local(now_ms() + minutes * 60_000).to_rfc3339();
    let second = org
        .create_session(json!({
            "theme": "Chuyên đề thứ hai: Học tập và làm theo",
            "host_unit_code": COMMUNE_A,
            "scope_unit_code": PROVINCE,
            "starts_at": at(-10),
            "ends_at": at(120),
        }))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    org.set_status(second, "open").await.expect(200);
    let (_, secret) = org
        .new_point(first, COMMUNE_A, "Hội trường xã Bằng Thành")
        .await;
    let hall = app.operator(&secret);
    let (_, secret) = org
        .new_point(second, CELL_A, "Nhà văn hóa thôn Nà Lạ")
        .await;
    let village = app.operator(&secret);
    let card = app.card_signer().await.card("0012002");

    let done = hall
        .post(
            "/api/operator/checkins",
            json!({"items": [
                {"id": "h-1", "method": "roster", "member_code": "0012001"},
                {"id": "h-2", "method": "card", "card": card},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(done["stats"]["checked_in"], 2, "{done}");
    let token = village.get("/api/operator/qr").await.expect(200)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let phone = app.anonymous();
    phone
        .post(
            "/api/checkin",
            json!({"token": token, "member_code": "0012001", "client_id": "phone-a"}),
        )
        .await
        .expect(200);
    // Ticked by mistake in the second session, then undone: not studied.
    village
        .post(
            "/api/operator/checkins",
            json!({"items": [{"id": "v-1", "method": "roster", "member_code": "0012002"}]}),
        )
        .await
        .expect(200);
    village
        .post(
            "/api/operator/undo",
            json!({"id": "v-2", "member_code": "0012002", "reason": "Nhầm người"}),
        )
        .await
        .expect(200);
    // Followed the first one on TV at home.
    phone
        .post(
            &format!("/api/public/sessions/{first}/home-checkin"),
            json!({"member_code": "0023001", "device_id": "tv-hoa"}),
        )
        .await
        .expect(200);

    let history = org.get("/api/members/0012001/history").await.expect(200);
    assert_eq!(history["member_code"], "0012001");
    assert_eq!(history["full_name"], "Nguyễn Văn A");
    assert_eq!(history["unit_name"], "Xã Bằng Thành");
    let sessions = history["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{history}");
    // Newest first.
    assert_eq!(sessions[0]["session_id"], second);
    assert_eq!(
        sessions[0]["theme"],
        "Chuyên đề thứ hai: Học tập và làm theo"
    );
    assert_eq!(sessions[0]["method"], "qr_self");
    assert_eq!(sessions[0]["point"], "Nhà văn hóa thôn Nà Lạ");
    assert_eq!(sessions[1]["session_id"], first);
    assert_eq!(sessions[1]["method"], "roster");
    assert_eq!(sessions[1]["method_label"], "điểm danh theo danh sách");
    assert_eq!(sessions[1]["point"], "Hội trường xã Bằng Thành");
    for s in sessions {
        assert_eq!(s["replayed"], false);
        let at = chrono::DateTime::parse_from_rfc3339(s["at"].as_str().unwrap()).unwrap();
        assert!((at.timestamp_millis() - now_ms()).abs() < 120_000, "{s}");
    }

    let history = org.get("/api/members/0012002/history").await.expect(200);
    let sessions = history["sessions"].as_array().unwrap();
    assert_eq!(
        sessions.len(),
        1,
        "the undone check-in is not listed: {history}"
    );
    assert_eq!(sessions[0]["session_id"], first);
    assert_eq!(sessions[0]["method"], "card");
    let history = org.get("/api/members/0023001/history").await.expect(200);
    assert_eq!(history["sessions"][0]["method"], "broadcast");
    assert_eq!(history["sessions"][0]["point"], Value::Null);
    let history = org.get("/api/members/0031001/history").await.expect(200);
    assert_eq!(history["sessions"], json!([]));

    // A commune's manager sees their own members' history only.
    let mine = t.a.get("/api/members/0012001/history").await.expect(200);
    assert_eq!(
        mine["sessions"],
        org.get("/api/members/0012001/history").await.expect(200)["sessions"]
    );
    t.b.get("/api/members/0012001/history")
        .await
        .error(404, "member.not_found");
    t.a.get("/api/members/0023001/history")
        .await
        .error(404, "member.not_found");
    t.b.get("/api/members/0023001/history").await.expect(200);
    org.get("/api/members/0099999/history")
        .await
        .error(404, "member.not_found");
}
