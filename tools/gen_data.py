#!/usr/bin/env python3
"""Generate the data files that the diemcau server embeds.

Writes (paths relative to the repository root):

  data/vn-units-2025.csv   whole country, 2025 two-level administrative units
  demo/units.csv           demo unit tree for Tỉnh Thái Nguyên
  demo/members.csv         demo rosters (synthetic people)
  demo/points.csv          demo connection points ("điểm cầu")

Source of the real administrative data: the PyPI package
``vietnamadminunits`` version 1.0.4 (MIT licence), file
``vietnamadminunits/data/dataset.db``, table ``admin_units``.

Usage:
    pip install vietnamadminunits==1.0.4
    python3 tools/gen_data.py            # (re)write the files
    python3 tools/gen_data.py --check    # exit 1 if the files are not up to date

Only the Python standard library and that package's data file are used.
Everything random comes from fixed seeds, so the output is byte-for-byte
reproducible.
"""

import argparse
import csv
import importlib.metadata
import importlib.resources
import io
import random
import sqlite3
import sys
import unicodedata
from pathlib import Path

PACKAGE = "vietnamadminunits"
PACKAGE_VERSION = "1.0.4"

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_PROVINCES = 34
EXPECTED_COMMUNES = 3321

DEMO_PROVINCE_NAME = "Tỉnh Thái Nguyên"

# Fixed seeds, one per generated concern, so that changing one part does not
# reshuffle the others.
SEED_UNITS = 2025_07_01
SEED_MEMBERS = 2025_07_02
SEED_POINTS = 2025_07_03

UNITS_HEADER = ["code", "name", "kind", "parent_code"]
DEMO_UNITS_HEADER = [
    "code", "name", "kind", "parent_code",
    "expected_cadre", "expected_party_member", "expected_civil_servant",
    "expected_public_employee", "expected_worker", "expected_guest",
]
MEMBERS_HEADER = ["member_code", "full_name", "category", "unit_code"]
POINTS_HEADER = ["unit_code", "name", "location", "kind", "capacity",
                 "operator_name", "operator_phone"]

CATEGORIES = ["cadre", "party_member", "civil_servant", "public_employee", "worker"]

# Name prefix -> kind.  The name prefix is used rather than the dataset's
# ``wardType`` column: in 1.0.4 four rows have a ``wardType`` that contradicts
# the official name (Phường Việt Hòa and Xã Vĩnh Hòa in Hải Phòng, Phường Tân
# Lộc and Xã Phong Điền in Cần Thơ); the names follow the 2025 resolutions.
WARD_PREFIX_KIND = [
    ("Xã ", "commune"),
    ("Phường ", "ward"),
    ("Đặc khu ", "special_zone"),
]


# --------------------------------------------------------------------------
# helpers

def nfc(s):
    return unicodedata.normalize("NFC", s.strip())


def ward_kind(name):
    for prefix, kind in WARD_PREFIX_KIND:
        if name.startswith(prefix):
            return kind
    raise ValueError(f"unknown ward name prefix: {name!r}")


def to_csv(header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else str(v) for v in r])
    return buf.getvalue()


def load_admin_units():
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"error: install the source first: pip install {PACKAGE}=={PACKAGE_VERSION}")
    if version != PACKAGE_VERSION:
        sys.exit(f"error: {PACKAGE} {version} installed, {PACKAGE_VERSION} required "
                 f"(pip install {PACKAGE}=={PACKAGE_VERSION})")
    db = importlib.resources.files(PACKAGE) / "data" / "dataset.db"
    with importlib.resources.as_file(db) as path:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT provinceCode, province, wardCode, ward, wardType "
                "FROM admin_units ORDER BY provinceCode, wardCode"
            ).fetchall()
        finally:
            con.close()
    return [tuple(nfc(v) for v in r) for r in rows]


# --------------------------------------------------------------------------
# 1. the whole country

def build_country(admin):
    provinces = {}
    communes = []
    for pcode, pname, wcode, wname, _wtype in admin:
        assert len(pcode) == 2 and pcode.isdigit(), pcode
        assert len(wcode) == 5 and wcode.isdigit(), wcode
        if pcode in provinces:
            assert provinces[pcode] == pname, (pcode, pname)
        provinces[pcode] = pname
        communes.append((wcode, wname, ward_kind(wname), pcode))
    rows = [(c, n, "province", "") for c, n in sorted(provinces.items())]
    rows += communes
    assert len(provinces) == EXPECTED_PROVINCES, len(provinces)
    assert len(communes) == EXPECTED_COMMUNES, len(communes)
    return rows


# --------------------------------------------------------------------------
# 2. demo unit tree

PARTY_COMMITTEES = [
    ("TN-DBCQ", "Đảng bộ các cơ quan Đảng tỉnh"),
    ("TN-DBUB", "Đảng bộ Ủy ban nhân dân tỉnh"),
]

# (code, name, parent, roster size, point name, point location)
AGENCIES = [
    ("TN-VPTU", "Văn phòng Tỉnh ủy", "TN-DBCQ", 72,
     "Phòng họp trực tuyến Văn phòng Tỉnh ủy", "Phòng họp tầng 2, trụ sở Tỉnh ủy"),
    ("TN-BTC", "Ban Tổ chức Tỉnh ủy", "TN-DBCQ", 48,
     "Phòng họp Ban Tổ chức Tỉnh ủy", "Phòng họp tầng 3, nhà B trụ sở Tỉnh ủy"),
    ("TN-BTG", "Ban Tuyên giáo và Dân vận Tỉnh ủy", "TN-DBCQ", 56,
     "Hội trường Ban Tuyên giáo và Dân vận Tỉnh ủy", "Hội trường tầng 4, nhà C trụ sở Tỉnh ủy"),
    ("TN-UBKT", "Ủy ban Kiểm tra Tỉnh ủy", "TN-DBCQ", 40,
     "Phòng họp Ủy ban Kiểm tra Tỉnh ủy", "Phòng họp tầng 2, nhà B trụ sở Tỉnh ủy"),
    ("TN-BPTTH", "Báo và Phát thanh, Truyền hình Thái Nguyên", "TN-DBCQ", 150,
     "Hội trường Báo và Phát thanh, Truyền hình Thái Nguyên", "Trường quay số 1, tầng 1"),
    ("TN-VPUB", "Văn phòng Ủy ban nhân dân tỉnh", "TN-DBUB", 78,
     "Phòng họp trực tuyến UBND tỉnh", "Phòng họp số 1, tầng 3, trụ sở UBND tỉnh"),
    ("TN-SNV", "Sở Nội vụ", "TN-DBUB", 88,
     "Hội trường Sở Nội vụ", "Hội trường tầng 5, trụ sở Sở Nội vụ"),
    ("TN-STC", "Sở Tài chính", "TN-DBUB", 96,
     "Hội trường Sở Tài chính", "Hội trường tầng 6, trụ sở Sở Tài chính"),
    ("TN-SGD", "Sở Giáo dục và Đào tạo", "TN-DBUB", 118,
     "Hội trường Sở Giáo dục và Đào tạo", "Hội trường tầng 3, trụ sở Sở Giáo dục và Đào tạo"),
    ("TN-SYT", "Sở Y tế", "TN-DBUB", 140,
     "Hội trường Sở Y tế", "Hội trường tầng 4, trụ sở Sở Y tế"),
]

# Communes (in code order) that get party cells, and how many communes get a
# roster.  All of them are in the former Bắc Kạn province (codes 018xx-021xx).
COMMUNES_WITH_CELLS = 8
COMMUNES_WITH_ROSTER = 12

# Plausible Tày/Nùng village names of the former Bắc Kạn area.
VILLAGES = [
    "Nà Pài", "Nà Mòn", "Khuổi Khỉ", "Bản Chang", "Pác Ngòi", "Cốc Tộc",
    "Nà Làng", "Nà Dạ", "Khau Cuốn", "Phiêng Chỉ", "Bản Cám", "Nà Hỏi",
    "Cốc Phát", "Nà Viễn", "Pác Châm", "Khuổi Ổ", "Nặm Dầm", "Bản Đính",
    "Nà Ngần", "Phja Khao", "Nà Cà", "Khuổi Tích", "Bản Duồm", "Nà Lẹng",
    "Pác Nghè", "Thôm Mò", "Nà Bản", "Cốc Lải",
]


def is_former_bac_kan(ward_code):
    """Communes of the former Bắc Kạn province keep their old codes 01xxx-02xxx."""
    return ward_code < "05000"


def build_demo_units(admin):
    rng = random.Random(SEED_UNITS)
    prov = [(p, pn) for p, pn, *_ in admin if pn == DEMO_PROVINCE_NAME]
    assert prov, "demo province not found"
    pcode = prov[0][0]
    communes = [(w, wn, ward_kind(wn)) for p, _pn, w, wn, _t in admin if p == pcode]
    communes.sort()

    units = []  # dicts, in output order (parents first)

    def add(code, name, kind, parent, expected=None):
        units.append({"code": code, "name": name, "kind": kind,
                      "parent_code": parent, "expected": expected})

    add(pcode, DEMO_PROVINCE_NAME, "province", "")
    for code, name in PARTY_COMMITTEES:
        add(code, name, "party_committee", pcode)
    for code, name, parent, *_ in AGENCIES:
        add(code, name, "agency", parent)

    roster_communes = [c[0] for c in communes[:COMMUNES_WITH_ROSTER]]
    cells = []  # (code, name, commune_code)
    villages = list(VILLAGES)
    rng.shuffle(villages)
    for idx, (wcode, wname, kind) in enumerate(communes):
        if wcode in roster_communes:
            expected = None
        else:
            big = kind == "ward"
            expected = (
                rng.randint(5, 15),
                rng.randint(180, 400) if big else rng.randint(80, 320),
                rng.randint(10, 25),
                rng.randint(20, 80),
                rng.randint(0, 10),
                0,
            )
        add(wcode, wname, kind, pcode, expected)
        if idx < COMMUNES_WITH_CELLS:
            for n in range(1, rng.randint(1, 3) + 1):
                if kind == "ward":
                    cname = f"Chi bộ tổ dân phố số {rng.randint(1, 12)}"
                    # avoid two cells with the same name in one ward
                    while any(c[1] == cname and c[2] == wcode for c in cells):
                        cname = f"Chi bộ tổ dân phố số {rng.randint(1, 12)}"
                else:
                    cname = f"Chi bộ thôn {villages.pop()}"
                cells.append((f"{wcode}-CB{n:02d}", cname, wcode))
                add(f"{wcode}-CB{n:02d}", cname, "cell", wcode)
    return pcode, communes, roster_communes, cells, units


def demo_units_rows(units):
    rows = []
    for u in units:
        exp = u["expected"] or ("",) * 6
        rows.append([u["code"], u["name"], u["kind"], u["parent_code"], *exp])
    return rows


# --------------------------------------------------------------------------
# 3. synthetic people

# Family names, weights roughly following their frequency in Vietnam
# (northern spelling preferred: Hoàng/Vũ are more common than Huỳnh/Võ here).
FAMILY_KINH = [
    ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 70), ("Hoàng", 50),
    ("Phan", 30), ("Vũ", 39), ("Đặng", 21), ("Bùi", 20), ("Đỗ", 14),
    ("Hồ", 10), ("Ngô", 13), ("Dương", 10), ("Lý", 5), ("Huỳnh", 4), ("Võ", 4),
    ("Đào", 8), ("Đinh", 8), ("Lương", 6), ("Trịnh", 6), ("Mai", 4), ("Tạ", 3),
    ("Đoàn", 5), ("Lưu", 3), ("Cao", 3), ("Tô", 2), ("Chu", 3),
]
# Tày, Nùng, Dao family names common in the north-east mountains.
FAMILY_MINORITY = [
    ("Hoàng", 90), ("Nông", 70), ("Ma", 45), ("Triệu", 40), ("Lục", 25),
    ("Hà", 35), ("Đinh", 20), ("Lường", 8), ("Bế", 22), ("Lý", 15),
    ("Đàm", 10), ("Lương", 15), ("Hứa", 8), ("Dương", 12), ("Mông", 5),
    ("Nguyễn", 40), ("Lâm", 8), ("Phùng", 6), ("Bàn", 8), ("Hầu", 3),
]
MIDDLE_MALE = [("Văn", 60), ("Đức", 10), ("Minh", 8), ("Quang", 7), ("Hữu", 6),
               ("Xuân", 5), ("Công", 5), ("Thanh", 4), ("Tiến", 3), ("Mạnh", 3),
               ("Ngọc", 3), ("Trung", 3), ("Anh", 2), ("Việt", 2)]
MIDDLE_FEMALE = [("Thị", 70), ("Thu", 6), ("Ngọc", 5), ("Thanh", 5), ("Minh", 3),
                 ("Hồng", 4), ("Kim", 3), ("Phương", 3), ("Thùy", 3), ("Bích", 2),
                 ("Diệu", 1), ("Hải", 2), ("Lan", 1), ("Mai", 2)]
GIVEN_MALE = [
    "Hùng", "Dũng", "Tuấn", "Hải", "Long", "Nam", "Sơn", "Thắng", "Cường",
    "Hoàng", "Bình", "Tùng", "Quân", "Huy", "Đạt", "Phong", "Khánh", "Trung",
    "Thành", "Hiếu", "Kiên", "Mạnh", "Vinh", "Toàn", "Lâm", "Tài", "Chiến",
    "Tú", "Định", "Quyết", "Hưng", "Việt", "Hào", "Dương", "Lợi", "Nghĩa",
    "Phúc", "Thịnh", "Tâm", "An", "Đông", "Ước", "Thủy", "Đức", "Trường",
    "Quý", "Lực", "Tiến", "Hiệp", "Công", "Chung", "Điệp", "Khoa", "Lộc",
    "Ngọc", "Pháp", "Quảng", "Sáng", "Thuận", "Tuyến", "Vững", "Yên", "Ánh",
    "Bảo", "Duy", "Giang", "Hạnh", "Kỳ", "Luân", "Nhất", "Sỹ", "Thông",
]
GIVEN_FEMALE = [
    "Lan", "Hương", "Hoa", "Mai", "Linh", "Hà", "Thảo", "Trang", "Ngọc",
    "Huyền", "Nga", "Hằng", "Yến", "Loan", "Phương", "Nhung", "Thúy", "Hạnh",
    "Dung", "Oanh", "Vân", "Thu", "Hiền", "Ánh", "Đào", "Quỳnh", "Giang",
    "Liên", "Xuân", "Uyên", "Thủy", "Nguyệt", "Diệp", "Duyên", "Hồng", "Chi",
    "Tuyết", "Lụa", "Nhàn", "Thơm", "Hậu", "Thắm", "Sen", "Ly", "Lý", "Ngân",
    "Tươi", "Gấm", "Khuyên", "Lệ", "Mơ", "Nụ", "Phượng", "Sáu", "Thoa",
    "Vui", "Ước",
]
# Deliberately tricky names (short, 4-part, rare capital letters with
# diacritics).  All use LATIN CAPITAL LETTER D WITH STROKE (U+0110), never
# the Icelandic eth (U+00D0).
TRICKY_NAMES = [
    "Đặng Thị Ánh", "Lê Ư", "Ngô Thị Đào", "Nông Thị Ỷ", "Ông Văn Ích",
    "Lục Thị Ước", "Nguyễn Thị Ngọc Ánh", "Âu Dương Đức Ý", "Đỗ Êm",
    "Hà Thị Ưng", "Bế Văn Ẩn", "Triệu Thị Ửng", "Ma Văn Út", "Nguyễn Đình Ơn",
]

# Category weights per unit kind.
CAT_WEIGHTS = {
    "agency": [12, 15, 38, 30, 5],
    "press": [8, 10, 12, 62, 8],
    "commune": [9, 62, 12, 14, 3],
    "cell": [3, 97, 0, 0, 0],
}


def weighted(rng, pairs):
    names = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(names, weights)[0]


def make_name(rng, minority_share):
    family_pool = FAMILY_MINORITY if rng.random() < minority_share else FAMILY_KINH
    family = weighted(rng, family_pool)
    if rng.random() < 0.52:
        middle = weighted(rng, MIDDLE_MALE)
        given = rng.choice(GIVEN_MALE)
        if middle == given:
            middle = "Văn"
    else:
        middle = weighted(rng, MIDDLE_FEMALE)
        given = rng.choice(GIVEN_FEMALE)
        if middle == given:
            middle = "Thị"
    parts = [family, middle, given]
    # a few four-part women's names: "Nguyễn Thị Ngọc Ánh"
    if middle == "Thị" and rng.random() < 0.1:
        extra = rng.choice(["Ngọc", "Thu", "Thanh", "Kim", "Hồng", "Minh", "Phương"])
        if extra != given:
            parts.insert(2, extra)
    return " ".join(parts)


def build_members(communes, roster_communes, cells):
    rng = random.Random(SEED_MEMBERS)
    groups = []  # (unit_code, size, weights, minority_share)
    for code, _name, _parent, size, *_ in AGENCIES:
        weights = CAT_WEIGHTS["press" if code == "TN-BPTTH" else "agency"]
        groups.append((code, size, weights, 0.25))
    cells_of = {}
    for c in cells:
        cells_of.setdefault(c[2], []).append(c[0])
    for wcode in roster_communes:
        groups.append((wcode, rng.randint(110, 165), CAT_WEIGHTS["commune"], 0.7))
        for ccode in cells_of.get(wcode, []):
            groups.append((ccode, rng.randint(18, 45), CAT_WEIGHTS["cell"], 0.75))

    total = sum(g[1] for g in groups)
    codes = rng.sample(range(100_000, 1_000_000), total)
    tricky = list(TRICKY_NAMES)
    # spread the tricky names over the roster
    tricky_at = dict(zip(sorted(rng.sample(range(total), len(tricky))), tricky))

    rows = []
    i = 0
    for unit_code, size, weights, minority in groups:
        seen = set()
        for _ in range(size):
            name = tricky_at.get(i)
            if name is None:
                name = make_name(rng, minority)
                while name in seen:
                    name = make_name(rng, minority)
            seen.add(name)
            cat = rng.choices(CATEGORIES, weights)[0]
            rows.append([f"{codes[i]:08d}", name, cat, unit_code])
            i += 1
    return rows


# --------------------------------------------------------------------------
# 4. connection points

COMMUNE_LOCATIONS = [
    "Hội trường UBND {k}, tầng 2",
    "Hội trường Đảng ủy {k}",
    "Phòng họp trực tuyến UBND {k}",
    "Hội trường Trung tâm hành chính công {k}",
    "Nhà văn hóa trung tâm {k}",
]
# Hamlets ("xóm") in the lowland part of the province (former Thái Nguyên).
HAMLETS_LOWLAND = [
    "Đồng Tiến", "Tân Lập", "Làng Mới", "Cầu Đá", "Đồng Bầu", "Xuân Trường",
    "Thống Nhất", "Hòa Bình", "Trung Tâm", "Đồng Kiệm", "Bãi Phẳng", "Na Hoàng",
]
BROADCAST_LOCATIONS = [
    "Nhà văn hóa {v}, {k} {n}",
    "Hội trường trường Tiểu học {n}",
    "Nhà văn hóa trung tâm {k}",
]
TOTAL_POINTS = 61
BROADCAST_POINTS = 10
MOBILE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098"]


def capacity_for(people, lo=30, hi=300):
    """Seats for a roster of `people`: ~20% spare, rounded up to tens."""
    seats = -(-int(people * 1.2) // 10) * 10
    return max(lo, min(hi, seats))


def build_points(pcode, communes, roster_communes, head_counts):
    """head_counts: unit code -> number of people expected at its point."""
    rng = random.Random(SEED_POINTS)
    rows = []
    used_phones = set()
    used_names = set()

    def phone():
        while True:
            p = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"
            if p not in used_phones:
                used_phones.add(p)
                return p

    def operator():
        while True:
            name = make_name(rng, 0.4)
            if name not in used_names:
                used_names.add(name)
                return name

    rows.append([pcode, "Điểm cầu chính Tỉnh ủy Thái Nguyên",
                 "Hội trường A, trụ sở Tỉnh ủy Thái Nguyên", "video", 300,
                 operator(), phone()])
    for code, _name, _parent, _size, pname, ploc in AGENCIES:
        cap = capacity_for(head_counts[code], lo=50)
        rows.append([code, pname, ploc, "video", cap, operator(), phone()])

    n_communes = TOTAL_POINTS - len(rows)
    # every roster commune gets a point; the rest are drawn from the others
    others = [c for c in communes if c[0] not in roster_communes]
    chosen = set(roster_communes)
    chosen.update(c[0] for c in rng.sample(others, n_communes - len(roster_communes)))
    picked = [c for c in communes if c[0] in chosen]
    # broadcast rooms: mountain communes (xã) without a roster
    bc_candidates = [c[0] for c in picked if c[2] == "commune" and c[0] not in roster_communes]
    broadcast = set(rng.sample(bc_candidates, BROADCAST_POINTS))
    villages = list(VILLAGES)
    rng.shuffle(villages)
    hamlets = list(HAMLETS_LOWLAND)
    rng.shuffle(hamlets)
    for wcode, wname, kind in picked:
        short = wname.split(" ", 1)[1]
        k = "xã" if kind == "commune" else "phường"
        name = f"Điểm cầu {k} {short}"
        if wcode in broadcast:
            tmpl = rng.choice(BROADCAST_LOCATIONS)
            hamlet = ("thôn " + villages.pop()) if is_former_bac_kan(wcode) \
                else ("xóm " + hamlets.pop())
            loc = tmpl.format(k=k, n=short, v=hamlet)
            # a broadcast room seats only part of the commune
            cap = capacity_for(head_counts[wcode] * rng.uniform(0.25, 0.45), hi=120)
            pkind = "broadcast"
        else:
            loc = rng.choice(COMMUNE_LOCATIONS).format(k=k)
            cap = capacity_for(head_counts[wcode], lo=50)
            pkind = "video"
        rows.append([wcode, name, loc, pkind, cap, operator(), phone()])
    assert len(rows) == TOTAL_POINTS, len(rows)
    return rows


# --------------------------------------------------------------------------
# checks

def check_text(path, text):
    assert not text.startswith("\ufeff"), f"{path}: BOM"
    assert text.endswith("\n"), f"{path}: no final newline"
    assert unicodedata.is_normalized("NFC", text), f"{path}: not NFC"
    assert "\u00d0" not in text and "\u00f0" not in text, f"{path}: eth instead of Đ"
    assert "\r" not in text, f"{path}: CR"
    return list(csv.reader(io.StringIO(text)))


def verify(outputs):
    country = check_text("data/vn-units-2025.csv", outputs["data/vn-units-2025.csv"])
    assert country[0] == UNITS_HEADER
    body = country[1:]
    codes = [r[0] for r in body]
    assert len(codes) == len(set(codes)) == EXPECTED_PROVINCES + EXPECTED_COMMUNES
    assert sum(r[2] == "province" for r in body) == EXPECTED_PROVINCES
    seen = set()
    for r in body:
        assert len(r) == 4
        assert r[2] in ("province", "commune", "ward", "special_zone"), r
        assert (r[3] == "") == (r[2] == "province"), r
        assert r[3] == "" or r[3] in seen, f"parent after child: {r}"
        seen.add(r[0])

    units = check_text("demo/units.csv", outputs["demo/units.csv"])
    assert units[0] == DEMO_UNITS_HEADER
    ucodes = set()
    for r in units[1:]:
        assert len(r) == len(DEMO_UNITS_HEADER), r
        assert r[0] not in ucodes, f"duplicate unit {r[0]}"
        assert r[3] == "" or r[3] in ucodes, f"parent after child / missing: {r}"
        exp = r[4:]
        assert all(v == "" for v in exp) or all(v.isdigit() for v in exp), r
        ucodes.add(r[0])

    members = check_text("demo/members.csv", outputs["demo/members.csv"])
    assert members[0] == MEMBERS_HEADER
    mcodes = set()
    roster_units = set()
    for r in members[1:]:
        assert len(r) == 4, r
        assert len(r[0]) == 8 and r[0].isdigit() and r[0] not in mcodes, r
        mcodes.add(r[0])
        assert r[1] and r[1] == " ".join(r[1].split()), r
        assert r[2] in CATEGORIES, r
        assert r[3] in ucodes, r
        roster_units.add(r[3])
    # units with a roster have no expected counts
    for r in units[1:]:
        if r[0] in roster_units:
            assert all(v == "" for v in r[4:]), f"roster unit with expected counts: {r}"

    points = check_text("demo/points.csv", outputs["demo/points.csv"])
    assert points[0] == POINTS_HEADER
    for r in points[1:]:
        assert len(r) == 7, r
        assert r[0] in ucodes, r
        assert r[3] in ("video", "broadcast"), r
        assert 30 <= int(r[4]) <= 300, r
        assert len(r[6]) == 10 and r[6].startswith("09") and r[6].isdigit(), r

    return {
        "data/vn-units-2025.csv": len(body),
        "demo/units.csv": len(units) - 1,
        "demo/members.csv": len(members) - 1,
        "demo/points.csv": len(points) - 1,
    }


def head_counts(units, cells, members):
    """People expected at each unit's own point: its roster (a commune's
    includes its cells) or, without a roster, the sum of expected counts."""
    parent_of_cell = {c[0]: c[2] for c in cells}
    counts = {}
    for _code, _name, _cat, unit in members:
        unit = parent_of_cell.get(unit, unit)
        counts[unit] = counts.get(unit, 0) + 1
    for u in units:
        if u["expected"]:
            assert u["code"] not in counts
            counts[u["code"]] = sum(u["expected"])
    return counts


# --------------------------------------------------------------------------

def generate():
    admin = load_admin_units()
    country = build_country(admin)
    pcode, communes, roster_communes, cells, units = build_demo_units(admin)
    members = build_members(communes, roster_communes, cells)
    points = build_points(pcode, communes, roster_communes,
                          head_counts(units, cells, members))
    return pcode, {
        "data/vn-units-2025.csv": to_csv(UNITS_HEADER, country),
        "demo/units.csv": to_csv(DEMO_UNITS_HEADER, demo_units_rows(units)),
        "demo/members.csv": to_csv(MEMBERS_HEADER, members),
        "demo/points.csv": to_csv(POINTS_HEADER, points),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the committed files differ")
    args = ap.parse_args()

    pcode, outputs = generate()
    counts = verify(outputs)

    stale = []
    for rel, text in outputs.items():
        path = ROOT / rel
        data = text.encode("utf-8")
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
    for rel, n in counts.items():
        print(f"{rel}: {n} rows, {len(outputs[rel].encode('utf-8'))} bytes")
    print(f"demo province code: {pcode}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
