//! The national dataset: the 34 provinces and 3,321 communes of 2025 under
//! one national root, connection points spread over the communes, and
//! members with Vietnamese names, each in a commune. Everything is derived
//! from the member or point index, so any process can recompute it.
//!
//! `--scale N` keeps the whole unit tree but puts points and members in one
//! commune out of N (spread over every province), with N times fewer of
//! each: the same shape as the full run — about 12 points and 600 members a
//! commune — only smaller.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Full-scale sizes (issue 6).
pub const FULL_POINTS: usize = 40_000;
pub const FULL_MEMBERS: usize = 2_000_000;
/// The national root added above the provinces.
pub const ROOT_CODE: &str = "VN";
pub const ROOT_NAME: &str = "Toàn quốc";

pub struct Unit {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent: Option<String>,
}

/// A commune that has points and members in this run.
pub struct Commune {
    pub code: String,
    pub name: String,
    /// Members `member_start .. member_start + members`.
    pub member_start: usize,
    pub members: usize,
    /// Points `point_start .. point_start + points`.
    pub point_start: usize,
    pub points: usize,
}

pub struct Point {
    pub commune: usize,
    /// Its place among its commune's points (0 = the commune hall).
    pub rank: usize,
}

pub struct Dataset {
    pub units: Vec<Unit>,
    pub provinces: usize,
    pub all_communes: usize,
    pub communes: Vec<Commune>,
    pub points: Vec<Point>,
    pub members: usize,
}

/// A fixed pseudo-random mix of a number (splitmix64): the same everywhere.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Splits `total` over `weights` (largest remainders), at least `floor` each.
fn apportion(total: usize, weights: &[f64], floor: usize) -> Vec<usize> {
    let n = weights.len();
    let spare = total.saturating_sub(floor * n);
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| spare as f64 * w / sum).collect();
    let mut out: Vec<usize> = exact.iter().map(|e| e.floor() as usize + floor).collect();
    let mut given: usize = out.iter().sum();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| {
        let ra = exact[*a] - exact[*a].floor();
        let rb = exact[*b] - exact[*b].floor();
        rb.partial_cmp(&ra).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut i = 0;
    while given < total && n > 0 {
        out[order[i % n]] += 1;
        given += 1;
        i += 1;
    }
    out
}

impl Dataset {
    pub fn build(scale: usize) -> Result<Dataset> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/vn-units-2025.csv");
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut units = vec![Unit {
            code: ROOT_CODE.into(),
            name: ROOT_NAME.into(),
            kind: "other".into(),
            parent: None,
        }];
        for row in reader.records() {
            let row = row?;
            let parent = row.get(3).unwrap_or("").trim();
            units.push(Unit {
                code: row[0].to_string(),
                name: row[1].to_string(),
                kind: row[2].to_string(),
                parent: Some(if parent.is_empty() {
                    ROOT_CODE.to_string()
                } else {
                    parent.to_string()
                }),
            });
        }
        let provinces = units.iter().filter(|u| u.kind == "province").count();
        let all: Vec<&Unit> = units
            .iter()
            .filter(|u| matches!(u.kind.as_str(), "commune" | "ward" | "special_zone"))
            .collect();
        let all_communes = all.len();
        let scale = scale.max(1);
        let used: Vec<&Unit> = all.iter().step_by(scale).copied().collect();
        let members = (FULL_MEMBERS / scale).max(used.len());
        let point_count = (FULL_POINTS / scale).max(used.len());
        // Communes differ in size: wards of the big cities are larger.
        let weights: Vec<f64> = used
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let base = 0.5 + (mix(i as u64 ^ 0xC0FFEE) % 1000) as f64 / 1000.0;
                if u.kind == "ward" { base * 1.3 } else { base }
            })
            .collect();
        let member_counts = apportion(members, &weights, 1);
        let point_counts = apportion(point_count, &weights, 1);
        let mut communes = Vec::with_capacity(used.len());
        let mut points = Vec::with_capacity(point_count);
        let (mut m, mut p) = (0, 0);
        for (c, u) in used.iter().enumerate() {
            communes.push(Commune {
                code: u.code.clone(),
                name: u.name.clone(),
                member_start: m,
                members: member_counts[c],
                point_start: p,
                points: point_counts[c],
            });
            for rank in 0..point_counts[c] {
                points.push(Point { commune: c, rank });
            }
            m += member_counts[c];
            p += point_counts[c];
        }
        Ok(Dataset {
            units,
            provinces,
            all_communes,
            communes,
            points,
            members,
        })
    }

    /// The commune of member `i`.
    pub fn commune_of(&self, member: usize) -> usize {
        self.communes
            .partition_point(|c| c.member_start + c.members <= member)
    }

    /// The point member `i` belongs to: the points of a commune share its
    /// members in turn.
    pub fn point_of(&self, member: usize) -> usize {
        let c = &self.communes[self.commune_of(member)];
        c.point_start + (member - c.member_start) % c.points
    }

    /// Members of each point (as `point_of` assigns them), filtered.
    pub fn members_by_point(&self, keep: impl Fn(usize) -> bool) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.points.len()];
        for c in &self.communes {
            for m in c.member_start..c.member_start + c.members {
                if keep(m) {
                    out[c.point_start + (m - c.member_start) % c.points].push(m as u32);
                }
            }
        }
        out
    }

    /// Points in the order consoles are given to them when not every point
    /// can have one: first each commune's hall, then each commune's second
    /// point, and so on — so every commune has a console as soon as possible.
    pub fn points_by_rank(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.points.len()).collect();
        order.sort_by_key(|&p| (self.points[p].rank, self.points[p].commune));
        order
    }

    pub fn point_name(&self, p: usize) -> String {
        let point = &self.points[p];
        let commune = &self.communes[point.commune];
        let short = commune
            .name
            .split_once(' ')
            .map(|(_, rest)| rest)
            .unwrap_or(&commune.name);
        match point.rank {
            0 => format!("Hội trường UBND {}", commune.name),
            1 => format!("Hội trường Đảng ủy {}", commune.name),
            r if r % 3 == 0 => format!("Nhà văn hóa thôn {} số {}", short, r),
            r if r % 3 == 1 => format!("Trường THCS {} (điểm {})", short, r),
            r => format!("Nhà văn hóa tổ dân phố {}", r),
        }
    }

    pub fn units_csv(&self) -> String {
        let mut out = String::from("code,name,kind,parent_code\n");
        for u in &self.units {
            out.push_str(&format!(
                "{},{},{},{}\n",
                u.code,
                u.name,
                u.kind,
                u.parent.as_deref().unwrap_or("")
            ));
        }
        out
    }

    /// Writes the members CSV (`member_code,full_name,category,unit_code`).
    pub fn write_members_csv(&self, path: &Path) -> Result<u64> {
        let file = std::fs::File::create(path)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "member_code,full_name,category,unit_code")?;
        let mut bytes = 0u64;
        let mut line = String::with_capacity(128);
        for c in &self.communes {
            for m in c.member_start..c.member_start + c.members {
                line.clear();
                line.push_str(&member_code(m));
                line.push(',');
                push_name(&mut line, m);
                line.push(',');
                line.push_str(category(m));
                line.push(',');
                line.push_str(&c.code);
                line.push('\n');
                out.write_all(line.as_bytes())?;
                bytes += line.len() as u64;
            }
        }
        out.flush()?;
        Ok(bytes)
    }
}

/// A member's code: nine digits, like the numbers on party cards.
pub fn member_code(i: usize) -> String {
    format!("{}", 100_000_000 + i)
}

// Family names with roughly their share of the population.
const FAMILY: [(&str, u32); 24] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 30),
    ("Huỳnh", 20),
    ("Phan", 45),
    ("Vũ", 25),
    ("Võ", 14),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 8),
    ("Trịnh", 6),
    ("Lương", 5),
    ("Mai", 5),
    ("Đào", 6),
    ("Cao", 5),
    ("Hà", 5),
    ("Lò", 3),
];
const MALE_MIDDLE: [&str; 10] = [
    "Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Thanh", "Ngọc", "Xuân", "Quốc",
];
const FEMALE_MIDDLE: [&str; 8] = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Hồng"];
const MALE_GIVEN: [&str; 24] = [
    "An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hùng", "Huy", "Khang", "Long", "Minh", "Nam",
    "Phong", "Quân", "Sơn", "Tâm", "Thắng", "Tuấn", "Việt", "Vinh", "Hiếu", "Trung", "Kiên",
    "Toàn",
];
const FEMALE_GIVEN: [&str; 24] = [
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngọc",
    "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang", "Vân", "Yến", "Huyền", "Thúy", "Loan",
    "Hằng",
];
const SECOND_MIDDLE: [&str; 8] = [
    "Thu", "Minh", "Hoài", "Bảo", "Thanh", "Phương", "Gia", "Diệu",
];

fn push_name(out: &mut String, i: usize) {
    let r = mix(i as u64);
    let total: u32 = FAMILY.iter().map(|(_, w)| w).sum();
    let mut pick = (r % u64::from(total)) as u32;
    let mut family = FAMILY[0].0;
    for (name, w) in FAMILY {
        if pick < w {
            family = name;
            break;
        }
        pick -= w;
    }
    let female = (r >> 20) % 100 < 42;
    let (middle, given) = if female {
        (
            FEMALE_MIDDLE[((r >> 24) % FEMALE_MIDDLE.len() as u64) as usize],
            FEMALE_GIVEN[((r >> 32) % FEMALE_GIVEN.len() as u64) as usize],
        )
    } else {
        (
            MALE_MIDDLE[((r >> 24) % MALE_MIDDLE.len() as u64) as usize],
            MALE_GIVEN[((r >> 32) % MALE_GIVEN.len() as u64) as usize],
        )
    };
    out.push_str(family);
    out.push(' ');
    out.push_str(middle);
    if (r >> 40) % 100 < 15 {
        out.push(' ');
        out.push_str(SECOND_MIDDLE[((r >> 44) % SECOND_MIDDLE.len() as u64) as usize]);
    }
    out.push(' ');
    out.push_str(given);
}

/// Categories in roughly the proportions of a study session.
pub fn category(i: usize) -> &'static str {
    match mix(i as u64 ^ 0xCA7) % 100 {
        0..=59 => "party_member",
        60..=69 => "cadre",
        70..=81 => "civil_servant",
        82..=93 => "public_employee",
        _ => "worker",
    }
}

/// A plausible mobile number for a point's operator.
pub fn operator_phone(p: usize) -> String {
    let prefixes = ["091", "094", "098", "097", "086", "088", "035", "038"];
    let r = mix(p as u64 ^ 0x0915);
    format!(
        "{}{:07}",
        prefixes[(r % prefixes.len() as u64) as usize],
        (r >> 8) % 10_000_000
    )
}
