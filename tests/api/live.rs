//! Live figures as organizers and managers follow a session: the tally rolled
//! up a generated unit tree, checked against a count made independently from
//! what was sent and answered; the dashboard WebSocket converging after a
//! reconnect; a manager seeing only their subtree; consoles going online and
//! offline.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, ORIGIN};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use diemcau::domain::time::{now_ms, to_local};

use crate::helpers::*;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CATEGORIES: [&str; 6] = [
    "cadre",
    "party_member",
    "civil_servant",
    "public_employee",
    "worker",
    "guest",
];
const METHODS: [&str; 5] = ["qr_self", "roster", "card", "broadcast", "makeup"];
const QR_SELF: usize = 0;
const ROSTER: usize = 1;
const CARD: usize = 2;
const BROADCAST: usize = 3;

/// How long the live figures may take to catch up with what was sent.
const CONVERGE_WITHIN: Duration = Duration::from_secs(5);

// ------------------------------------------------------------ the generated tree

/// A unit of the generated tree.
struct GenUnit {
    code: String,
    name: String,
    kind: &'static str,
    parent: Option<usize>,
    /// Expected head count by category (the units CSV `expected_*` columns).
    expected: [Option<i64>; 6],
    /// Its roster: member code and category index.
    members: Vec<(String, usize)>,
}

impl GenUnit {
    fn roster_size(&self) -> i64 {
        self.members.len() as i64
    }

    fn expected_sum(&self) -> i64 {
        self.expected.iter().flatten().sum()
    }
}

/// A province, three communes, two cells under each; rosters and expected
/// head counts drawn from `rng`, so that the tree has units with a roster,
/// units with only an expected head count, one with both, and units with
/// neither.
fn generate_tree(rng: &mut StdRng) -> Vec<GenUnit> {
    // How each unit is measured: r = roster, e = expected only, b = both,
    // n = neither, ? = drawn.
    let plan: [(&str, Option<usize>, char); 10] = [
        ("province", None, 'e'),
        ("commune", Some(0), 'b'),
        ("cell", Some(1), '?'),
        ("cell", Some(1), '?'),
        ("commune", Some(0), 'e'),
        ("cell", Some(4), 'r'),
        ("cell", Some(4), '?'),
        ("commune", Some(0), 'r'),
        ("cell", Some(7), '?'),
        ("cell", Some(7), 'e'),
    ];
    let mut units = Vec::new();
    let mut commune = 0;
    let mut cell = 0;
    for (i, (kind, parent, how)) in plan.into_iter().enumerate() {
        let (code, name) = match kind {
            "province" => ("P45".to_string(), "Tỉnh Thử Nghiệm".to_string()),
            "commune" => {
                commune += 1;
                cell = 0;
                (format!("X{commune}"), format!("Xã Hòa Bình {commune}"))
            }
            _ => {
                cell += 1;
                (
                    format!("X{commune}-C{cell}"),
                    format!("Chi bộ thôn Đồng {commune}.{cell}"),
                )
            }
        };
        let how = match how {
            '?' => *['r', 'e', 'n', 'r'].choose(rng).expect("a choice"),
            h => h,
        };
        let mut expected = [None; 6];
        if matches!(how, 'e' | 'b') {
            for slot in expected.iter_mut() {
                if rng.gen_bool(0.6) {
                    *slot = Some(rng.gen_range(0..=40));
                }
            }
            if expected.iter().flatten().sum::<i64>() == 0 {
                expected[1] = Some(rng.gen_range(5..=30));
            }
        }
        let mut members = Vec::new();
        if matches!(how, 'r' | 'b') {
            for n in 0..rng.gen_range(3..=10) {
                members.push((format!("T{i:02}{n:03}"), rng.gen_range(0..CATEGORIES.len())));
            }
        }
        units.push(GenUnit {
            code,
            name,
            kind,
            parent,
            expected,
            members,
        });
    }
    units
}

fn units_csv(units: &[GenUnit]) -> String {
    let mut csv = String::from("code,name,kind,parent_code");
    for c in CATEGORIES {
        csv.push_str(&format!(",expected_{c}"));
    }
    csv.push('\n');
    for u in units {
        let parent = u.parent.map(|p| units[p].code.as_str()).unwrap_or("");
        csv.push_str(&format!("{},{},{},{parent}", u.code, u.name, u.kind));
        for e in u.expected {
            csv.push(',');
            if let Some(e) = e {
                csv.push_str(&e.to_string());
            }
        }
        csv.push('\n');
    }
    csv
}

fn members_csv(units: &[GenUnit]) -> String {
    let mut csv = String::from("member_code,full_name,category,unit_code\n");
    for u in units {
        for (n, (code, category)) in u.members.iter().enumerate() {
            csv.push_str(&format!(
                "{code},Người Thử Nghiệm {n},{},{}\n",
                CATEGORIES[*category], u.code
            ));
        }
    }
    csv
}

// ------------------------------------------------------------ the brute-force count

/// A connection point of the generated session.
struct GenPoint {
    id: i64,
    unit: usize,
    name: String,
    op: Api,
}

/// What the test sent and the server answered, counted by the test itself.
/// Ordered maps: the scenario picks from their keys with its seeded generator,
/// so a hash map's random order would make each run a different scenario.
#[derive(Default)]
struct Model {
    /// Member code → (method index, point index) of their live check-in.
    checked_in: BTreeMap<String, (usize, Option<usize>)>,
    /// Point index → latest head count: (device time, order sent, count).
    head_counts: BTreeMap<usize, (i64, u64, i64)>,
    /// Device → the unit a member of the public picked first.
    viewers: BTreeMap<String, usize>,
    sent: u64,
}

impl Model {
    /// Counts a check-in answer: a member is counted once, and the server
    /// must agree with the model on whether they were in already.
    #[track_caller]
    fn answer(&mut self, code: &str, answer: &Value, method: usize, point: Option<usize>) {
        match answer["result"].as_str() {
            Some("checked_in") => {
                assert!(
                    !self.checked_in.contains_key(code),
                    "{code} was checked in already, yet answered checked_in: {answer}"
                );
                self.checked_in.insert(code.to_string(), (method, point));
            }
            Some("already_checked_in") => {
                let (prior, _) = self.checked_in.get(code).unwrap_or_else(|| {
                    panic!("{code} is not checked in, yet answered already_checked_in: {answer}")
                });
                assert_eq!(answer["method"], METHODS[*prior], "{code}: {answer}");
            }
            _ => panic!("{code}: unexpected answer {answer}"),
        }
    }

    fn head_count(&self, point: usize) -> Option<i64> {
        self.head_counts.get(&point).map(|(_, _, c)| *c)
    }

    fn checked_in_at(&self, point: usize) -> i64 {
        self.checked_in
            .values()
            .filter(|(_, p)| *p == Some(point))
            .count() as i64
    }
}

/// Figures of one unit, own or rolled up, as the test counts them.
#[derive(Default, Clone)]
struct Count {
    members: [i64; 6],
    by_method: [i64; 5],
    guests: i64,
    viewers: i64,
    roster: i64,
    expected: i64,
    points: i64,
    base: i64,
    covered: i64,
}

impl Count {
    fn add(&mut self, o: &Count) {
        for i in 0..6 {
            self.members[i] += o.members[i];
        }
        for i in 0..5 {
            self.by_method[i] += o.by_method[i];
        }
        self.guests += o.guests;
        self.viewers += o.viewers;
        self.roster += o.roster;
        self.expected += o.expected;
        self.points += o.points;
        self.base += o.base;
        self.covered += o.covered;
    }
}

/// Every unit's figures rolled up over its subtree, counted from the model.
fn brute_force(units: &[GenUnit], points: &[GenPoint], model: &Model) -> Vec<Count> {
    let member_of: HashMap<&str, (usize, usize)> = units
        .iter()
        .enumerate()
        .flat_map(|(u, unit)| {
            unit.members
                .iter()
                .map(move |(c, cat)| (c.as_str(), (u, *cat)))
        })
        .collect();
    let mut own = vec![Count::default(); units.len()];
    for (u, unit) in units.iter().enumerate() {
        own[u].roster = unit.roster_size();
        // The expected head count is what units without a roster are measured by.
        own[u].expected = if unit.roster_size() > 0 {
            0
        } else {
            unit.expected_sum()
        };
        own[u].base = if unit.roster_size() > 0 {
            unit.roster_size()
        } else {
            unit.expected_sum()
        };
    }
    for (code, (method, _)) in &model.checked_in {
        let (u, category) = member_of[code.as_str()];
        own[u].members[category] += 1;
        own[u].by_method[*method] += 1;
        own[u].covered += 1;
    }
    for (i, p) in points.iter().enumerate() {
        own[p.unit].points += 1;
        own[p.unit].guests += model.head_count(i).unwrap_or(0);
    }
    for unit in model.viewers.values() {
        own[*unit].viewers += 1;
    }
    for (u, unit) in units.iter().enumerate() {
        if unit.roster_size() == 0 {
            own[u].covered += own[u].guests + own[u].viewers;
        }
    }
    let mut total = vec![Count::default(); units.len()];
    for (u, figures) in own.iter().enumerate() {
        let mut cur = Some(u);
        while let Some(a) = cur {
            total[a].add(figures);
            cur = units[a].parent;
        }
    }
    total
}

/// The NodeView the server should show for a unit, without `coverage`.
fn node_json(units: &[GenUnit], u: usize, c: &Count) -> Value {
    let categories: serde_json::Map<String, Value> = CATEGORIES
        .iter()
        .zip(c.members)
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let methods: serde_json::Map<String, Value> = METHODS
        .iter()
        .zip(c.by_method)
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let members: i64 = c.members.iter().sum();
    json!({
        "code": units[u].code,
        "name": units[u].name,
        "kind": units[u].kind,
        "parent_code": units[u].parent.map(|p| units[p].code.clone()),
        "participants": members + c.guests + c.viewers,
        "members": members,
        "by_category": categories,
        "by_method": methods,
        "guests": c.guests,
        "public_viewers": c.viewers,
        "roster": c.roster,
        "expected": c.expected,
        "base": c.base,
        "points": {"registered": c.points, "online": 0, "stale": 0, "offline": c.points},
        "child_count": units.iter().filter(|k| k.parent == Some(u)).count(),
    })
}

/// Differences between a NodeView and the count, or None.
fn node_diff(units: &[GenUnit], u: usize, c: &Count, got: &Value) -> Option<String> {
    let want = node_json(units, u, c);
    let mut got_rest = got.clone();
    let coverage = got_rest
        .as_object_mut()
        .and_then(|o| o.remove("coverage"))
        .unwrap_or(Value::Null);
    let want_coverage = (c.base > 0).then(|| (c.covered as f64 / c.base as f64).min(1.0));
    let coverage_ok = match (want_coverage, coverage.as_f64()) {
        (None, None) => coverage.is_null(),
        (Some(w), Some(g)) => (w - g).abs() <= 0.000_05 + f64::EPSILON,
        _ => false,
    };
    if got_rest != want || !coverage_ok {
        Some(format!(
            "unit {}:\n  want {want} coverage {want_coverage:?}\n  got  {got}",
            units[u].code
        ))
    } else {
        None
    }
}

/// Compares `GET /tally?unit=` of every unit — node, children, points and
/// headline — with the brute-force count. Returns the differences.
async fn compare_tally(
    org: &Api,
    session: i64,
    units: &[GenUnit],
    points: &[GenPoint],
    model: &Model,
) -> Result<(), String> {
    let counts = brute_force(units, points, model);
    let index: HashMap<&str, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.code.as_str(), i))
        .collect();
    let mut diffs = Vec::new();
    let top = org.tally(session, None).await.expect(200);
    if let Some(d) = node_diff(units, 0, &counts[0], &top["headline"]) {
        diffs.push(format!("headline: {d}"));
    }
    if top["node"] != top["headline"] {
        diffs.push(format!(
            "the organizer's top node is not the headline: {}",
            top["node"]
        ));
    }
    for (u, unit) in units.iter().enumerate() {
        let t = org.tally(session, Some(&unit.code)).await.expect(200);
        if let Some(d) = node_diff(units, u, &counts[u], &t["node"]) {
            diffs.push(d);
        }
        if let Some(d) = node_diff(units, 0, &counts[0], &t["headline"]) {
            diffs.push(format!("headline with ?unit={}: {d}", unit.code));
        }
        let children = t["children"].as_array().expect("children");
        let want_children = units.iter().filter(|k| k.parent == Some(u)).count();
        if children.len() != want_children {
            diffs.push(format!(
                "{}: {} children, want {want_children}",
                unit.code,
                children.len()
            ));
        }
        for child in children {
            let code = child["code"].as_str().expect("code");
            match index.get(code) {
                Some(&k) if units[k].parent == Some(u) => {
                    if let Some(d) = node_diff(units, k, &counts[k], child) {
                        diffs.push(format!("child of {}: {d}", unit.code));
                    }
                }
                _ => diffs.push(format!("{}: unexpected child {child}", unit.code)),
            }
        }
        let mut want_points: Vec<Value> = points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.unit == u)
            .map(|(i, p)| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "unit_code": unit.code,
                    "checked_in": model.checked_in_at(i),
                    "head_count": model.head_count(i),
                    "status": "offline",
                    "last_seen_at": null,
                })
            })
            .collect();
        want_points.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        if t["points"] != json!(want_points) {
            diffs.push(format!(
                "points of {}:\n  want {}\n  got  {}",
                unit.code,
                json!(want_points),
                t["points"]
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

/// Polls the tally until it matches the count (events are applied
/// asynchronously), failing with the differences after [`CONVERGE_WITHIN`].
async fn converge(org: &Api, session: i64, units: &[GenUnit], points: &[GenPoint], model: &Model) {
    let deadline = Instant::now() + CONVERGE_WITHIN;
    loop {
        match compare_tally(org, session, units, points, model).await {
            Ok(()) => return,
            Err(diff) if Instant::now() >= deadline => {
                panic!("the tally did not converge within {CONVERGE_WITHIN:?}:\n{diff}")
            }
            Err(_) => sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A generated session and everything needed to act on it.
struct Scenario {
    app: TestApp,
    org: Api,
    session: i64,
    units: Vec<GenUnit>,
    points: Vec<GenPoint>,
    model: Model,
    rng: StdRng,
    cards: diemcau::domain::tokens::CardSigner,
    /// Self and home check-in attempts per member code (limited per minute).
    attempts: BTreeMap<String, u32>,
    /// Point index → (QR token, when it was fetched).
    tokens: HashMap<usize, (String, Instant)>,
    step: u64,
}

/// Per member code and per device, the server allows 10 attempts a minute.
const ATTEMPTS_PER_CODE: u32 = 8;

impl Scenario {
    async fn new(seed: u64) -> Scenario {
        let mut rng = StdRng::seed_from_u64(seed);
        let app = TestApp::start().await;
        let org = app.organizer().await;
        let units = generate_tree(&mut rng);
        let created = org.import_units(units_csv(&units)).await.expect(200);
        assert_eq!(created["created"], units.len(), "{created}");
        let member_count: usize = units.iter().map(|u| u.members.len()).sum();
        let created = org.import_members(members_csv(&units)).await.expect(200);
        assert_eq!(created["created"], member_count, "{created}");
        let session = org.open_session(&units[0].code, &units[0].code).await;
        // Points at the province, at communes with and without a roster, and
        // at cells.
        let mut points = Vec::new();
        for (unit, name) in [
            (0, "Hội trường Tỉnh ủy"),
            (1, "Hội trường xã Hòa Bình 1"),
            (4, "Hội trường xã Hòa Bình 2"),
            (4, "Nhà văn hóa xã Hòa Bình 2"),
            (2, "Nhà văn hóa thôn Đồng 1.1"),
            (9, "Nhà văn hóa thôn Đồng 3.2"),
        ] {
            let (id, secret) = org.new_point(session, &units[unit].code, name).await;
            points.push(GenPoint {
                id,
                unit,
                name: name.to_string(),
                op: app.operator(&secret),
            });
        }
        let cards = app.card_signer().await;
        Scenario {
            app,
            org,
            session,
            units,
            points,
            model: Model::default(),
            rng,
            cards,
            attempts: BTreeMap::new(),
            tokens: HashMap::new(),
            step: 0,
        }
    }

    fn all_members(&self) -> Vec<String> {
        self.units
            .iter()
            .flat_map(|u| u.members.iter().map(|(c, _)| c.clone()))
            .collect()
    }

    /// A member who may still try a self or home check-in this minute.
    fn member_for_phone(&mut self) -> Option<String> {
        let candidates: Vec<String> = self
            .all_members()
            .into_iter()
            .filter(|c| self.attempts.get(c).copied().unwrap_or(0) < ATTEMPTS_PER_CODE)
            .collect();
        let code = candidates.choose(&mut self.rng)?.clone();
        *self.attempts.entry(code.clone()).or_default() += 1;
        Some(code)
    }

    /// The token of the QR code on a point's screen (fetched again when it
    /// may be about to expire).
    async fn token(&mut self, point: usize) -> String {
        if let Some((token, at)) = self.tokens.get(&point)
            && at.elapsed() < Duration::from_secs(10)
        {
            return token.clone();
        }
        let qr = self.points[point]
            .op
            .get("/api/operator/qr")
            .await
            .expect(200);
        let token = qr["token"].as_str().expect("token").to_string();
        self.tokens.insert(point, (token.clone(), Instant::now()));
        token
    }

    /// Makes `n` random attendance operations through the real APIs and
    /// counts what the answers say.
    async fn act(&mut self, n: usize) {
        let members = self.all_members();
        let communes: Vec<usize> = (0..self.units.len())
            .filter(|u| self.units[*u].kind == "commune")
            .collect();
        for _ in 0..n {
            self.step += 1;
            let step = self.step;
            let p = self.rng.gen_range(0..self.points.len());
            match self.rng.gen_range(0..100) {
                // An operator ticks the roster or scans member cards, a few at once.
                0..35 => {
                    let k = self.rng.gen_range(1..=5);
                    let mut items = Vec::new();
                    let mut sent = Vec::new();
                    for i in 0..k {
                        let code = members.choose(&mut self.rng).expect("members").clone();
                        let id = format!("b{step}-{i}");
                        if self.rng.gen_bool(0.2) {
                            items.push(
                                json!({"id": id, "method": "card", "card": self.cards.card(&code)}),
                            );
                            sent.push((code, CARD));
                        } else {
                            items.push(json!({"id": id, "method": "roster", "member_code": code}));
                            sent.push((code, ROSTER));
                        }
                    }
                    let reply = self.points[p]
                        .op
                        .post("/api/operator/checkins", json!({ "items": items }))
                        .await
                        .expect(200);
                    let results = reply["results"].as_array().expect("results");
                    assert_eq!(results.len(), sent.len());
                    for (result, (code, method)) in results.iter().zip(sent) {
                        self.model.answer(&code, &result["answer"], method, Some(p));
                    }
                    assert_eq!(
                        reply["stats"]["checked_in"],
                        self.model.checked_in_at(p),
                        "{reply}"
                    );
                }
                // A member scans the point's QR code with their phone.
                35..60 => {
                    let Some(code) = self.member_for_phone() else {
                        continue;
                    };
                    let token = self.token(p).await;
                    let answer = self
                        .app
                        .anonymous()
                        .post(
                            "/api/checkin",
                            json!({"token": token, "member_code": code, "client_id": format!("s{step}")}),
                        )
                        .await
                        .expect(200);
                    self.model.answer(&code, &answer, QR_SELF, Some(p));
                }
                // A member checks in from home, following the broadcast.
                60..72 => {
                    let Some(code) = self.member_for_phone() else {
                        continue;
                    };
                    let answer = self
                        .app
                        .anonymous()
                        .post(
                            &format!("/api/public/sessions/{}/home-checkin", self.session),
                            json!({"member_code": code, "device_id": format!("dev-m{step}")}),
                        )
                        .await
                        .expect(200);
                    self.model.answer(&code, &answer, BROADCAST, None);
                }
                // A member of the public picks their commune; now and then a
                // phone already counted sends again, maybe another commune.
                72..84 => {
                    let devices: Vec<String> = self.model.viewers.keys().cloned().collect();
                    let device = match devices.choose(&mut self.rng) {
                        Some(d) if self.rng.gen_bool(0.25) => d.clone(),
                        _ => format!("dev-p{step}"),
                    };
                    if self.attempts.get(&device).copied().unwrap_or(0) >= ATTEMPTS_PER_CODE {
                        continue;
                    }
                    *self.attempts.entry(device.clone()).or_default() += 1;
                    let unit = *communes.choose(&mut self.rng).expect("communes");
                    let answer = self
                        .app
                        .anonymous()
                        .post(
                            &format!("/api/public/sessions/{}/home-checkin", self.session),
                            json!({"unit_code": self.units[unit].code, "device_id": device}),
                        )
                        .await
                        .expect(200);
                    match answer["result"].as_str() {
                        Some("checked_in") => {
                            assert!(
                                self.model.viewers.insert(device.clone(), unit).is_none(),
                                "device {device} counted twice: {answer}"
                            );
                        }
                        Some("already_checked_in") => assert!(
                            self.model.viewers.contains_key(&device),
                            "device {device} was never counted: {answer}"
                        ),
                        _ => panic!("public home check-in: {answer}"),
                    }
                    assert_eq!(answer["method"], "broadcast");
                }
                // A head count of guests in the room, taken up to ten minutes
                // ago (an offline queue sends late).
                84..94 => {
                    let count = self.rng.gen_range(0..=60);
                    let taken_at = now_ms() - self.rng.gen_range(0..600) * 1000;
                    self.model.sent += 1;
                    let order = self.model.sent;
                    let stats = self.points[p]
                        .op
                        .post(
                            "/api/operator/head-count",
                            json!({"id": format!("h{step}"), "count": count, "taken_at": to_local(taken_at).to_rfc3339()}),
                        )
                        .await
                        .expect(200);
                    let latest = self
                        .model
                        .head_counts
                        .entry(p)
                        .or_insert((taken_at, order, count));
                    if (taken_at, order) > (latest.0, latest.1) {
                        *latest = (taken_at, order, count);
                    }
                    assert_eq!(
                        stats["head_count"],
                        json!(self.model.head_count(p)),
                        "{stats}"
                    );
                }
                // The operator undoes a check-in taken at their point.
                _ => {
                    let here: Vec<(String, usize)> = self
                        .model
                        .checked_in
                        .iter()
                        .filter_map(|(c, (_, at))| at.map(|at| (c.clone(), at)))
                        .collect();
                    let Some((code, at)) = here.choose(&mut self.rng).cloned() else {
                        continue;
                    };
                    let stats = self.points[at]
                        .op
                        .post(
                            "/api/operator/undo",
                            json!({"id": format!("u{step}"), "member_code": code, "reason": "Bấm nhầm"}),
                        )
                        .await
                        .expect(200);
                    self.model.checked_in.remove(&code);
                    assert_eq!(stats["checked_in"], self.model.checked_in_at(at), "{stats}");
                }
            }
        }
    }

    async fn converge(&self) {
        converge(
            &self.org,
            self.session,
            &self.units,
            &self.points,
            &self.model,
        )
        .await;
    }

    /// The public figures agree with the same count.
    async fn check_public_figures(&self) {
        let counts = brute_force(&self.units, &self.points, &self.model);
        let top = &counts[0];
        let figures = self
            .app
            .anonymous()
            .get(&format!("/api/public/sessions/{}/figures", self.session))
            .await
            .expect(200);
        let members: i64 = top.members.iter().sum();
        assert_eq!(
            figures["participants"],
            members + top.guests + top.viewers,
            "{figures}"
        );
        assert_eq!(
            figures["following_broadcast"],
            top.by_method[BROADCAST] + top.viewers,
            "{figures}"
        );
        assert_eq!(figures["points_registered"], self.points.len(), "{figures}");
        assert_eq!(figures["points_connected"], 0, "{figures}");
    }

    /// What was done, for a failing test's message and to be sure the run
    /// exercised every path.
    fn check_coverage_of_paths(&self) {
        let mut methods = BTreeMap::new();
        for (method, _) in self.model.checked_in.values() {
            *methods.entry(METHODS[*method]).or_insert(0) += 1;
        }
        for m in ["qr_self", "roster", "card", "broadcast"] {
            assert!(methods.contains_key(m), "no {m} check-in left: {methods:?}");
        }
        assert!(!self.model.viewers.is_empty(), "no public viewer");
        assert!(!self.model.head_counts.is_empty(), "no head count");
    }
}

#[tokio::test]
async fn tally_built_from_the_database_matches_a_brute_force_count() {
    let mut s = Scenario::new(0x5EED_0001).await;
    s.act(320).await;
    s.check_coverage_of_paths();
    // Nobody has looked at the session yet: the first GET builds the tally
    // from what the database holds.
    s.converge().await;
    s.check_public_figures().await;
}

#[tokio::test]
async fn tally_kept_current_by_events_matches_a_brute_force_count() {
    let mut s = Scenario::new(0x5EED_0002).await;
    // The dashboard is open before anyone checks in: every figure after this
    // comes from events applied to the tally in memory.
    s.converge().await;
    let before = s.org.tally(s.session, None).await.expect(200);
    assert_eq!(before["headline"]["participants"], 0);
    // A dashboard with every unit expanded follows it all by its updates.
    let follower = Follower::start(&s.app, s.session, &s.org, &s.units).await;
    s.act(160).await;
    s.converge().await;
    s.act(160).await;
    s.check_coverage_of_paths();
    s.converge().await;
    let after = s.org.tally(s.session, None).await.expect(200);
    assert!(
        after["version"].as_u64() > before["version"].as_u64(),
        "{} then {}",
        before["version"],
        after["version"]
    );
    s.check_public_figures().await;
    follower.converges_to_the_tally(&s).await;
}

/// What a dashboard knows, kept by applying each update's merge patches to
/// its last snapshot, as `dashboard.js` does.
#[derive(Default)]
struct Followed {
    version: u64,
    nodes: BTreeMap<String, Value>,
    points: BTreeMap<i64, Value>,
    updates: usize,
    patched_nodes: usize,
    snapshots: usize,
}

/// JSON Merge Patch (RFC 7396), keeping `null`s: the tally shows them.
fn apply_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(fields), Value::Object(changes)) => {
            for (k, v) in changes {
                match fields.get_mut(k) {
                    Some(was) if was.is_object() && v.is_object() => apply_patch(was, v),
                    _ => {
                        fields.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

impl Followed {
    fn apply(&mut self, msg: &Value) -> Result<(), String> {
        let version = msg["version"].as_u64().ok_or("no version")?;
        match msg["type"].as_str() {
            Some("snapshot") => {
                self.snapshots += 1;
                self.nodes.clear();
                self.points.clear();
                for n in msg["nodes"].as_array().ok_or("no nodes")? {
                    self.nodes
                        .insert(n["code"].as_str().ok_or("no code")?.into(), n.clone());
                }
                for p in msg["points"].as_array().ok_or("no points")? {
                    self.points
                        .insert(p["id"].as_i64().ok_or("no id")?, p.clone());
                }
            }
            Some("update") => {
                if msg["base_version"] != self.version {
                    return Err(format!("an update on {}: {msg}", self.version));
                }
                self.updates += 1;
                for n in msg["nodes"].as_array().ok_or("no nodes")? {
                    // Names and kinds never change here: a patch leaves them out.
                    if n.get("name").is_some() || n.get("kind").is_some() {
                        return Err(format!("a whole node in an update: {n}"));
                    }
                    let code = n["code"].as_str().ok_or("no code")?;
                    let node = self.nodes.get_mut(code).ok_or("an unknown node")?;
                    apply_patch(node, n);
                    self.patched_nodes += 1;
                }
                for p in msg["points"].as_array().ok_or("no points")? {
                    let id = p["id"].as_i64().ok_or("no id")?;
                    let point = self.points.get_mut(&id).ok_or("an unknown point")?;
                    apply_patch(point, p);
                }
                let code = msg["headline"]["code"].as_str().ok_or("no headline")?;
                if self.nodes.get(code) != Some(&msg["headline"]) {
                    return Err(format!(
                        "the patched top node is not the headline: {:?} {}",
                        self.nodes.get(code),
                        msg["headline"]
                    ));
                }
            }
            _ => return Err(format!("unexpected {msg}")),
        }
        self.version = version;
        Ok(())
    }
}

/// A dashboard socket read in the background into a [`Followed`].
struct Follower {
    seen: std::sync::Arc<std::sync::Mutex<Followed>>,
    reader: tokio::task::JoinHandle<Result<(), String>>,
}

impl Follower {
    async fn start(app: &TestApp, session: i64, org: &Api, units: &[GenUnit]) -> Follower {
        let (mut ws, _) = dashboard(app, session, org).await;
        let all: Vec<&str> = units.iter().map(|u| u.code.as_str()).collect();
        send_text(&mut ws, &json!({"type": "watch", "units": all}).to_string()).await;
        let watched = next_message(&mut ws).await;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Followed::default()));
        seen.lock()
            .expect("lock")
            .apply(&watched)
            .expect("a snapshot");
        let shared = seen.clone();
        let reader = tokio::spawn(async move {
            while let Some(frame) = ws.next().await {
                let Message::Text(text) = frame.map_err(|e| e.to_string())? else {
                    continue;
                };
                let msg: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
                shared.lock().expect("lock").apply(&msg)?;
            }
            Ok(())
        });
        Follower { seen, reader }
    }

    /// Once it has the tally's version, every node and point it shows is
    /// exactly the tally's, and it got there by patches.
    async fn converges_to_the_tally(self, s: &Scenario) {
        let version = s.org.tally(s.session, None).await.expect(200)["version"].clone();
        let deadline = Instant::now() + CONVERGE_WITHIN;
        while self.seen.lock().expect("lock").version != version {
            if self.reader.is_finished() {
                panic!("the dashboard stopped: {:?}", self.reader.await);
            }
            assert!(
                Instant::now() < deadline,
                "the dashboard never reached {version}"
            );
            sleep(Duration::from_millis(20)).await;
        }
        let seen = std::mem::take(&mut *self.seen.lock().expect("lock"));
        self.reader.abort();
        assert_eq!(seen.snapshots, 1, "updates only, no resync");
        assert!(seen.updates > 10, "{} updates", seen.updates);
        assert!(
            seen.patched_nodes > 10,
            "{} patched nodes",
            seen.patched_nodes
        );
        assert_eq!(seen.nodes.len(), s.units.len());
        for unit in &s.units {
            let t = s.org.tally(s.session, Some(&unit.code)).await.expect(200);
            assert_eq!(t["version"], version, "nothing changed since");
            assert_eq!(
                seen.nodes.get(&unit.code),
                Some(&t["node"]),
                "{}",
                unit.code
            );
            for p in t["points"].as_array().expect("points") {
                let id = p["id"].as_i64().expect("id");
                assert_eq!(seen.points.get(&id), Some(p), "point {id}");
            }
        }
        assert_eq!(seen.points.len(), s.points.len());
    }
}

// ------------------------------------------------------------ the dashboard WebSocket

/// The handshake request of the dashboard socket, signed in with a bearer
/// token, from `origin` when given.
fn live_request(app: &TestApp, session: i64, api: &Api, origin: Option<&str>) -> Request {
    let mut request = app
        .live_url(session)
        .into_client_request()
        .expect("a WebSocket request");
    let token = api.bearer_token().expect("a bearer client");
    request.headers_mut().insert(
        AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header value"),
    );
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert(ORIGIN, origin.parse().expect("header value"));
    }
    request
}

/// Opens the dashboard socket; returns it with its first message, a snapshot.
async fn dashboard(app: &TestApp, session: i64, api: &Api) -> (Ws, Value) {
    let (mut ws, response) = connect_async(live_request(app, session, api, None))
        .await
        .expect("the dashboard connects");
    assert_eq!(response.status(), 101);
    let first = next_message(&mut ws).await;
    assert_eq!(first["type"], "snapshot", "{first}");
    (ws, first)
}

/// The next message, within `within`.
async fn next_within(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let frame = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(frame) => frame.expect("the connection is open").expect("a frame"),
        };
        match frame {
            Message::Text(text) => {
                return Some(serde_json::from_str(text.as_str()).expect("JSON message"));
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn next_message(ws: &mut Ws) -> Value {
    next_within(ws, Duration::from_secs(10))
        .await
        .expect("a message within 10 s")
}

async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_string()))
        .await
        .expect("sent");
}

/// Codes of a message's nodes, sorted.
fn node_codes(msg: &Value) -> Vec<String> {
    let mut codes = codes(&msg["nodes"], "code");
    codes.sort();
    codes
}

fn node_by_code<'a>(msg: &'a Value, code: &str) -> &'a Value {
    msg["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["code"] == code)
        .unwrap_or_else(|| panic!("node {code} in {msg}"))
}

/// Polls `GET /tally` (of `unit` when given) until `ok` holds.
async fn tally_until(
    api: &Api,
    session: i64,
    unit: Option<&str>,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + CONVERGE_WITHIN;
    loop {
        let t = api.tally(session, unit).await.expect(200);
        if ok(&t) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "not within {CONVERGE_WITHIN:?}: {what}: {t}"
        );
        sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `GET /tally` until the headline has `participants`.
async fn wait_for_participants(api: &Api, session: i64, participants: i64) -> Value {
    tally_until(
        api,
        session,
        None,
        &format!("{participants} participants"),
        |t| t["headline"]["participants"] == participants,
    )
    .await
}

/// A point of a session and its operator.
struct Hall {
    id: i64,
    op: Api,
}

async fn hall(app: &TestApp, org: &Api, session: i64, unit: &str, name: &str) -> Hall {
    let (id, secret) = org.new_point(session, unit, name).await;
    Hall {
        id,
        op: app.operator(&secret),
    }
}

impl Hall {
    /// Ticks members on the roster, asserting each is checked in now.
    async fn tick(&self, codes: &[&str]) {
        let items: Vec<Value> = codes
            .iter()
            .map(|c| json!({"id": format!("tick-{c}"), "method": "roster", "member_code": c}))
            .collect();
        let reply = self
            .op
            .post("/api/operator/checkins", json!({ "items": items }))
            .await
            .expect(200);
        for r in reply["results"].as_array().expect("results") {
            assert_eq!(r["answer"]["result"], "checked_in", "{r}");
        }
    }

    async fn head_count(&self, count: i64) {
        self.op
            .post("/api/operator/head-count", json!({ "count": count }))
            .await
            .expect(200);
    }
}

#[tokio::test]
async fn dashboard_reconnects_to_exactly_the_figures_of_the_tally() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let a = hall(&app, &org, session, COMMUNE_A, "Hội trường xã Bằng Thành").await;
    let b = hall(&app, &org, session, COMMUNE_B, "Hội trường xã Nghiên Loan").await;

    let (mut ws, snapshot) = dashboard(&app, session, &org).await;
    assert_eq!(snapshot["headline"]["code"], PROVINCE);
    assert_eq!(snapshot["headline"]["participants"], 0);
    assert_eq!(snapshot["headline"]["roster"], MEMBER_COUNT);
    // The top unit and its children.
    assert_eq!(
        node_codes(&snapshot),
        vec![COMMUNE_B, COMMUNE_A, PROVINCE, AGENCY]
    );
    let mut version = snapshot["version"].as_u64().expect("version");
    let mut participants = 0;

    // Check-ins arrive as updates, each based on the version before it.
    a.tick(&["0012001", "0012002"]).await;
    b.tick(&["0023001"]).await;
    a.head_count(5).await;
    while participants < 8 {
        let update = next_message(&mut ws).await;
        assert_eq!(update["type"], "update", "{update}");
        assert_eq!(update["base_version"], version, "{update}");
        let now = update["headline"]["participants"]
            .as_i64()
            .expect("participants");
        assert!(now > participants, "{participants} then {update}");
        assert!(
            update["version"].as_u64().expect("version") > version,
            "{update}"
        );
        version = update["version"].as_u64().expect("version");
        participants = now;
        assert_eq!(update["headline"]["code"], PROVINCE);
    }
    assert_eq!(participants, 8, "3 members and 5 guests");

    // The dashboard goes away (a laptop sleeps); attendance goes on.
    ws.close(None).await.expect("closed");
    a.tick(&["0012003", "0012004"]).await;
    b.tick(&["0023002"]).await;
    b.head_count(4).await;
    app.anonymous()
        .post(
            &format!("/api/public/sessions/{session}/home-checkin"),
            json!({"unit_code": COMMUNE_B, "device_id": "tv-phone-1"}),
        )
        .await
        .expect(200);
    let tally = wait_for_participants(&org, session, 8 + 3 + 4 + 1).await;

    // After the reconnect the first snapshot replaces everything: exactly the
    // server's figures.
    let (mut ws, snapshot) = dashboard(&app, session, &org).await;
    let tally_now = org.tally(session, None).await.expect(200);
    assert_eq!(
        tally_now["version"], tally["version"],
        "nothing changed since"
    );
    assert_eq!(snapshot["headline"], tally["headline"]);
    assert_eq!(snapshot["version"], tally["version"]);
    assert_eq!(snapshot["summary"], tally["summary"]);
    assert!(
        snapshot["version"].as_u64().expect("version") >= version,
        "{} after {version}",
        snapshot["version"]
    );
    for child in tally["children"].as_array().expect("children") {
        let code = child["code"].as_str().expect("code");
        assert_eq!(node_by_code(&snapshot, code), child);
    }
    assert_eq!(node_by_code(&snapshot, PROVINCE), &tally["node"]);

    // Expanding commune A: a snapshot with its children and its points.
    send_text(
        &mut ws,
        &json!({"type": "watch", "units": [COMMUNE_A]}).to_string(),
    )
    .await;
    let watched = next_message(&mut ws).await;
    assert_eq!(watched["type"], "snapshot", "{watched}");
    assert!(
        node_codes(&watched).contains(&CELL_A.to_string()),
        "{watched}"
    );
    assert!(
        node_codes(&watched).contains(&COMMUNE_A.to_string()),
        "{watched}"
    );
    let cell = org.tally(session, Some(CELL_A)).await.expect(200);
    assert_eq!(node_by_code(&watched, CELL_A), &cell["node"]);
    let point_ids: Vec<i64> = watched["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert!(point_ids.contains(&a.id), "{watched}");
    assert!(!point_ids.contains(&b.id), "{watched}");
    // …and a resync is a snapshot of the same.
    send_text(&mut ws, r#"{"type":"resync"}"#).await;
    let again = next_message(&mut ws).await;
    assert_eq!(again["type"], "snapshot");
    assert_eq!(node_codes(&again), node_codes(&watched));

    // Frames the server does not understand are answered, not fatal.
    for bad in [
        r#"{"type":"subscribe","units":["19"]}"#,
        "xin chào",
        r#"{"type":"watch","units":"19"}"#,
    ] {
        send_text(&mut ws, bad).await;
        let error = next_message(&mut ws).await;
        assert_eq!(error["type"], "error", "{bad}: {error}");
        assert_eq!(error["code"], "protocol.invalid_message", "{bad}: {error}");
        assert!(!error["message"].as_str().expect("message").is_empty());
    }
    send_text(&mut ws, r#"{"type":"resync"}"#).await;
    assert_eq!(next_message(&mut ws).await["type"], "snapshot");
}

/// Frames hold only what some dashboard shows; a unit expanded again after
/// changing unseen comes back with its current figures.
#[tokio::test]
async fn a_unit_expanded_again_shows_what_changed_while_collapsed() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let a = hall(&app, &org, session, COMMUNE_A, "Hội trường xã Bằng Thành").await;
    let (mut top_only, _) = dashboard(&app, session, &org).await;
    let (mut ws, _) = dashboard(&app, session, &org).await;
    let watch = |units: &[&str]| json!({"type": "watch", "units": units}).to_string();

    send_text(&mut ws, &watch(&[COMMUNE_A])).await;
    let open = next_message(&mut ws).await;
    assert_eq!(open["type"], "snapshot", "{open}");
    assert_eq!(open["points"][0]["checked_in"], 0, "{open}");
    assert_eq!(node_by_code(&open, CELL_A)["members"], 0, "{open}");

    // Collapsed: nobody shows commune A's points or its cell now.
    send_text(&mut ws, &watch(&[])).await;
    let closed = next_message(&mut ws).await;
    assert_eq!(closed["points"], json!([]), "{closed}");
    a.tick(&["0012001", "0012002"]).await;
    a.head_count(7).await;
    let tally = wait_for_participants(&org, session, 9).await;
    for board in [&mut ws, &mut top_only] {
        loop {
            let update = next_message(board).await;
            assert_eq!(update["type"], "update", "{update}");
            assert!(!update.to_string().contains(CELL_A), "{update}");
            if update["version"] == tally["version"] {
                break;
            }
        }
    }

    send_text(&mut ws, &watch(&[COMMUNE_A])).await;
    let again = next_message(&mut ws).await;
    let commune = org.tally(session, Some(COMMUNE_A)).await.expect(200);
    assert_eq!(again["version"], commune["version"]);
    assert_eq!(again["points"], commune["points"]);
    assert_eq!(again["points"][0]["checked_in"], 2, "{again}");
    assert_eq!(again["points"][0]["head_count"], 7, "{again}");
    for child in commune["children"].as_array().expect("children") {
        assert_eq!(
            node_by_code(&again, child["code"].as_str().expect("code")),
            child
        );
    }
    assert_eq!(node_by_code(&again, COMMUNE_A), &commune["node"]);
}

#[tokio::test]
async fn dashboard_refuses_other_sites_before_the_upgrade() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;

    let request = live_request(&app, session, &org, Some("http://evil.example"));
    match connect_async(request).await {
        Ok(_) => panic!("a cross-site dashboard socket was accepted"),
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
    // The same request over plain HTTP shows why, in the error envelope.
    let request = org
        .request(
            reqwest::Method::GET,
            &format!("/api/sessions/{session}/live"),
        )
        .header("Origin", "http://evil.example")
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    org.send(request).await.error(403, "auth.origin");

    // The page's own origin is welcome.
    let own = app.base_url.clone();
    let (ws, response) = connect_async(live_request(&app, session, &org, Some(&own)))
        .await
        .expect("same-origin dashboard connects");
    assert_eq!(response.status(), 101);
    drop(ws);

    // Without credentials: no socket.
    let anonymous = app
        .live_url(session)
        .into_client_request()
        .expect("request");
    match connect_async(anonymous).await {
        Ok(_) => panic!("an anonymous dashboard socket was accepted"),
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

// ------------------------------------------------------------ scope

#[tokio::test]
async fn a_manager_sees_the_live_figures_of_their_subtree_only() {
    let t = two_communes().await;
    let (app, org) = (&t.app, &t.org);
    let session = org.open_session(AGENCY, PROVINCE).await;
    let a = hall(app, org, session, COMMUNE_A, "Hội trường xã Bằng Thành").await;
    let a_cell = hall(app, org, session, CELL_A, "Nhà văn hóa thôn Nà Lạ").await;
    let b = hall(app, org, session, COMMUNE_B, "Hội trường xã Nghiên Loan").await;
    a.tick(&["0012001"]).await;
    a_cell.tick(&["0012002"]).await;
    b.tick(&["0023001", "0023002"]).await;
    b.head_count(9).await;
    let everything = wait_for_participants(org, session, 4 + 9).await;
    assert_eq!(everything["headline"]["code"], PROVINCE);
    let org_a = org.tally(session, Some(COMMUNE_A)).await.expect(200);

    // Commune A's manager: their commune is the headline.
    let mine = t.a.tally(session, None).await.expect(200);
    assert_eq!(mine["headline"]["code"], COMMUNE_A);
    assert_eq!(mine["headline"], org_a["node"]);
    assert_eq!(mine["node"], org_a["node"]);
    assert_eq!(mine["children"], org_a["children"]);
    assert_eq!(mine["headline"]["participants"], 2);
    assert_eq!(mine["headline"]["points"]["registered"], 2);
    assert_eq!(mine["headline"]["parent_code"], PROVINCE);
    assert!(
        mine["summary"]
            .as_str()
            .expect("summary")
            .starts_with("Toàn Xã Bằng Thành có 0 điểm cầu kết nối, với tổng số 2 "),
        "{}",
        mine["summary"]
    );
    assert!(!mine.to_string().contains(COMMUNE_B), "{mine}");
    for outside in [COMMUNE_B, CELL_B, PROVINCE, AGENCY, "KHONG-CO"] {
        t.a.tally(session, Some(outside))
            .await
            .error(404, "unit.not_found");
    }
    let cell = t.a.tally(session, Some(CELL_A)).await.expect(200);
    assert_eq!(cell["headline"]["code"], COMMUNE_A);
    assert_eq!(cell["node"]["code"], CELL_A);
    assert_eq!(cell["node"]["participants"], 1);
    assert_eq!(
        codes(&cell["points"], "name"),
        vec!["Nhà văn hóa thôn Nà Lạ"]
    );

    // Over the WebSocket: the same view, whatever the page asks to watch.
    let (mut ws, snapshot) = dashboard(app, session, &t.a).await;
    assert_eq!(snapshot["headline"], mine["headline"]);
    assert_eq!(node_codes(&snapshot), vec![COMMUNE_A, CELL_A]);
    let mut seen = vec![snapshot];
    send_text(
        &mut ws,
        &json!({"type": "watch", "units": [COMMUNE_B, PROVINCE, CELL_B, AGENCY, CELL_A]})
            .to_string(),
    )
    .await;
    let watched = next_message(&mut ws).await;
    assert_eq!(watched["type"], "snapshot");
    assert_eq!(node_codes(&watched), vec![COMMUNE_A, CELL_A]);
    seen.push(watched);
    // Commune B checks in more; commune A too: A's update arrives, B's never.
    b.head_count(20).await;
    a.tick(&["0012003"]).await;
    loop {
        let update = next_message(&mut ws).await;
        assert_eq!(update["type"], "update", "{update}");
        let done = update["headline"]["participants"] == 3;
        seen.push(update);
        if done {
            break;
        }
    }
    for msg in &seen {
        let text = msg.to_string();
        for foreign in [COMMUNE_B, CELL_B, AGENCY, "Nghiên Loan", "Nà Pài"] {
            assert!(!text.contains(foreign), "{foreign} leaked: {text}");
        }
        for p in msg["points"].as_array().expect("points") {
            assert_ne!(p["id"], b.id, "{msg}");
        }
        for n in msg["nodes"].as_array().expect("nodes") {
            assert_ne!(n["code"], PROVINCE, "{msg}");
        }
    }

    // The organizer sees the province, with both communes.
    let all = wait_for_participants(org, session, 5 + 20).await;
    assert_eq!(all["headline"]["code"], PROVINCE);
    let children = codes(&all["children"], "code");
    assert!(children.contains(&COMMUNE_A.to_string()) && children.contains(&COMMUNE_B.to_string()));

    // A session of commune A alone is not commune B's at all.
    let only_a = org.open_session(COMMUNE_A, COMMUNE_A).await;
    t.b.tally(only_a, None)
        .await
        .error(404, "session.not_found");
    match connect_async(live_request(app, only_a, &t.b, None)).await {
        Ok(_) => panic!("commune B's manager opened commune A's dashboard"),
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 404),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

// ------------------------------------------------------------ presence

/// Opens a point's console as the console page does; returns it after `welcome`.
async fn console(app: &TestApp, op: &Api) -> Ws {
    let ticket = op.post_empty("/api/operator/ws-ticket").await.expect(200);
    let url = app.console_url(ticket["ticket"].as_str().expect("ticket"), 1);
    let (mut ws, _) = connect_async(url).await.expect("console connects");
    let welcome = next_message(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    ws
}

fn status_of(points: &Value, id: i64) -> Value {
    points
        .as_array()
        .expect("points")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("point {id} in {points}"))["status"]
        .clone()
}

/// Reads dashboard messages until one's headline shows `online` points.
async fn until_online(ws: &mut Ws, online: i64) -> Value {
    // Point statuses are refreshed every 5 s.
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = next_within(ws, left)
            .await
            .unwrap_or_else(|| panic!("no update with {online} point(s) online"));
        if msg["headline"]["points"]["online"] == online {
            return msg;
        }
    }
}

#[tokio::test]
async fn a_connected_console_shows_its_point_online_then_offline() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let a = hall(&app, &org, session, COMMUNE_A, "Hội trường xã Bằng Thành").await;
    let b = hall(&app, &org, session, CELL_B, "Nhà văn hóa thôn Nà Pài").await;
    let (mut dash, snapshot) = dashboard(&app, session, &org).await;
    assert_eq!(
        snapshot["headline"]["points"],
        json!({"registered": 2, "online": 0, "stale": 0, "offline": 2})
    );

    let mut operator_console = console(&app, &a.op).await;
    let points = org.points(session).await.expect(200);
    assert_eq!(status_of(&points, a.id), "online");
    assert_eq!(status_of(&points, b.id), "offline");
    assert!(points[0]["last_seen_at"].is_string() || points[1]["last_seen_at"].is_string());
    assert_eq!(org.point(a.id).await.expect(200)["status"], "online");

    let tally = org.tally(session, None).await.expect(200);
    assert_eq!(
        tally["headline"]["points"],
        json!({"registered": 2, "online": 1, "stale": 0, "offline": 1})
    );
    assert!(
        tally["summary"]
            .as_str()
            .expect("summary")
            .starts_with("Toàn Tỉnh Thái Nguyên có 1 điểm cầu kết nối"),
        "{}",
        tally["summary"]
    );
    let commune = tally["children"]
        .as_array()
        .expect("children")
        .iter()
        .find(|c| c["code"] == COMMUNE_A)
        .expect("commune A");
    assert_eq!(commune["points"]["online"], 1);
    let node = org.tally(session, Some(COMMUNE_A)).await.expect(200);
    assert_eq!(node["node"]["points"]["online"], 1);
    assert_eq!(node["points"][0]["id"], a.id);
    assert_eq!(node["points"][0]["status"], "online");
    assert!(node["points"][0]["last_seen_at"].is_string());
    let other = org.tally(session, Some(COMMUNE_B)).await.expect(200);
    assert_eq!(
        other["node"]["points"],
        json!({"registered": 1, "online": 0, "stale": 0, "offline": 1})
    );
    let figures = app
        .anonymous()
        .get(&format!("/api/public/sessions/{session}/figures"))
        .await
        .expect(200);
    assert_eq!(figures["points_connected"], 1);
    assert_eq!(figures["points_registered"], 2);
    // The open dashboard learns it too.
    let update = until_online(&mut dash, 1).await;
    assert_eq!(update["type"], "update");

    // The console closes: the point goes offline.
    operator_console.close(None).await.expect("closed");
    let deadline = Instant::now() + CONVERGE_WITHIN;
    loop {
        let points = org.points(session).await.expect(200);
        if status_of(&points, a.id) == "offline" {
            break;
        }
        assert!(Instant::now() < deadline, "still online: {points}");
        sleep(Duration::from_millis(50)).await;
    }
    let tally = org.tally(session, None).await.expect(200);
    assert_eq!(
        tally["headline"]["points"],
        json!({"registered": 2, "online": 0, "stale": 0, "offline": 2})
    );
    until_online(&mut dash, 0).await;
}

// ------------------------------------------------------------ points added later

#[tokio::test]
async fn a_point_registered_while_the_dashboard_is_open_is_counted() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    // The organizer opens the dashboard (and the TV overlay polls) before
    // every point is registered.
    let first = org.tally(session, None).await.expect(200);
    assert_eq!(first["headline"]["points"]["registered"], 0);

    let late = hall(&app, &org, session, CELL_A, "Nhà văn hóa thôn Nà Lạ").await;
    late.tick(&["0012002"]).await;
    late.head_count(12).await;
    let mut console_ws = console(&app, &late.op).await;

    let t = tally_until(&org, session, Some(CELL_A), "the late point counted", |t| {
        t["headline"]["points"]["registered"] == 1
            && t["headline"]["points"]["online"] == 1
            && t["headline"]["guests"] == 12
            && t["headline"]["participants"] == 13
            && t["points"].as_array().is_some_and(|p| p.len() == 1)
    })
    .await;
    assert_eq!(t["points"][0]["id"], late.id);
    assert_eq!(t["points"][0]["checked_in"], 1);
    assert_eq!(t["points"][0]["head_count"], 12);
    let figures = app
        .anonymous()
        .get(&format!("/api/public/sessions/{session}/figures"))
        .await
        .expect(200);
    assert_eq!(figures["points_registered"], 1, "{figures}");
    assert_eq!(figures["points_connected"], 1, "{figures}");
    console_ws.close(None).await.expect("closed");

    // A point registered by mistake and removed is gone from the figures.
    let (mistake, _) = org.new_point(session, COMMUNE_B, "Điểm đăng ký nhầm").await;
    org.delete_point(mistake).await.expect(204);
    tally_until(&org, session, None, "the removed point gone", |t| {
        t["headline"]["points"]["registered"] == 1
    })
    .await;
}

// ------------------------------------------------------------ rosters changed later

#[tokio::test]
async fn members_and_units_added_while_the_dashboard_is_open_are_counted() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let hall = hall(&app, &org, session, COMMUNE_B, "Hội trường xã Nghiên Loan").await;
    // The dashboard (or the TV overlay) is open before the rosters are final.
    let first = org.tally(session, None).await.expect(200);
    assert_eq!(first["headline"]["roster"], MEMBER_COUNT);

    // A new cell in commune B with its roster, and a latecomer in cell A.
    org.import_units(format!(
        "code,name,kind,parent_code\n{PROVINCE},Tỉnh Thái Nguyên,province,\n\
         {COMMUNE_B},Xã Nghiên Loan,commune,{PROVINCE}\nCB-NL2,Chi bộ thôn Nà Mới,cell,{COMMUNE_B}\n"
    ))
    .await
    .expect(200);
    org.import_members(
        "member_code,full_name,category,unit_code\n\
         0023101,Lý Văn Mới,party_member,CB-NL2\n\
         0023102,Lý Thị Mới,worker,CB-NL2\n\
         0012101,Đinh Văn Muộn,cadre,CB-BT1\n",
    )
    .await
    .expect(200);
    hall.tick(&["0023101", "0012101"]).await;

    let t = tally_until(&org, session, None, "new members counted", |t| {
        t["headline"]["roster"] == MEMBER_COUNT + 3 && t["headline"]["members"] == 2
    })
    .await;
    assert_eq!(t["headline"]["participants"], 2);
    let b = tally_until(&org, session, Some(COMMUNE_B), "the new cell", |t| {
        t["children"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["code"] == "CB-NL2"))
    })
    .await;
    assert_eq!(b["node"]["roster"], 4);
    assert_eq!(b["node"]["members"], 1);
    assert_eq!(b["node"]["child_count"], 2);
    let cell = org.tally(session, Some("CB-NL2")).await.expect(200);
    assert_eq!(cell["node"]["roster"], 2);
    assert_eq!(cell["node"]["by_category"]["party_member"], 1);
    assert_eq!(cell["node"]["coverage"], 0.5);
}

/// Hundreds of dashboards on one session (1,000 in the benchmark) each get
/// every change, built once: dashboards showing the same units receive the
/// very same message.
#[tokio::test]
async fn hundreds_of_dashboards_each_receive_the_same_update() {
    let (app, org) = seeded().await;
    let session = org.open_session(AGENCY, PROVINCE).await;
    let a = hall(&app, &org, session, COMMUNE_A, "Hội trường xã Bằng Thành").await;

    let mut boards = Vec::new();
    for i in 0..400 {
        let (mut ws, snapshot) = dashboard(&app, session, &org).await;
        let mut version = snapshot["version"].as_u64().expect("version");
        if i % 2 == 1 {
            // Half of them have the commune open.
            send_text(
                &mut ws,
                &format!(r#"{{"type":"watch","units":["{COMMUNE_A}"]}}"#),
            )
            .await;
            let snapshot = next_message(&mut ws).await;
            assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
            assert_eq!(snapshot["points"].as_array().map(Vec::len), Some(1));
            version = snapshot["version"].as_u64().expect("version");
        }
        boards.push((ws, version));
    }

    let ticked = Instant::now();
    a.tick(&["0012001"]).await;
    let mut seen: [Option<Value>; 2] = [None, None];
    for (i, (ws, version)) in boards.iter_mut().enumerate() {
        let update = next_message(ws).await;
        assert_eq!(update["type"], "update", "{update}");
        assert_eq!(update["base_version"], *version, "{update}");
        assert_eq!(update["headline"]["participants"], 1, "{update}");
        let view = i % 2;
        if view == 1 {
            // The commune's hall is shown, with its new count.
            let points = update["points"].as_array().expect("points");
            assert_eq!(points.len(), 1, "{update}");
            assert_eq!(points[0]["checked_in"], 1);
        }
        match &seen[view] {
            Some(first) => assert_eq!(&update, first, "one message per view"),
            None => seen[view] = Some(update),
        }
    }
    assert!(
        ticked.elapsed() < Duration::from_secs(5),
        "every dashboard updated in {:?}",
        ticked.elapsed()
    );
}
