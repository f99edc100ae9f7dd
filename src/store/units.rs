//! Units: the tree of provinces, communes, party committees, agencies, cells.

use std::collections::HashMap;

use crate::domain::import::{LineProblem, UnitRow};
use crate::domain::{UnitKind, text, time, tree};

use super::{BeginWrite, Db, Page, Scope, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub parent_code: Option<String>,
    pub path: String,
    pub depth: i64,
    pub expected_cadre: Option<i64>,
    pub expected_party_member: Option<i64>,
    pub expected_civil_servant: Option<i64>,
    pub expected_public_employee: Option<i64>,
    pub expected_worker: Option<i64>,
    pub expected_guest: Option<i64>,
    pub child_count: i64,
    pub member_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UnitRecord {
    pub fn expected(&self) -> [Option<i64>; 6] {
        [
            self.expected_cadre,
            self.expected_party_member,
            self.expected_civil_servant,
            self.expected_public_employee,
            self.expected_worker,
            self.expected_guest,
        ]
    }
}

const SELECT_UNIT: &str = "SELECT u.id, u.code, u.name, u.kind, u.parent_id, p.code AS parent_code, u.path, u.depth, \
     u.expected_cadre, u.expected_party_member, u.expected_civil_servant, u.expected_public_employee, \
     u.expected_worker, u.expected_guest, \
     (SELECT count(*) FROM units c WHERE c.parent_id = u.id) AS child_count, \
     (SELECT count(*) FROM members m WHERE m.unit_id = u.id) AS member_count, \
     u.created_at, u.updated_at \
     FROM units u LEFT JOIN units p ON p.id = u.parent_id";

/// What to list.
#[derive(Debug, Default, Clone)]
pub struct UnitFilter {
    /// Only the direct children of this unit.
    pub parent_id: Option<i64>,
    /// Only units without a parent.
    pub roots_only: bool,
    /// Only this unit (a manager's own root).
    pub only_id: Option<i64>,
    /// Name without diacritics, or an exact code.
    pub query: Option<String>,
    pub kind: Option<UnitKind>,
    pub limit: i64,
    pub offset: i64,
}

/// Fields of a new or edited unit, already validated.
#[derive(Debug, Clone)]
pub struct UnitFields {
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub parent_id: Option<i64>,
    pub expected: [Option<i64>; 6],
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
}

const FILTER: &str = " WHERE u.path >= $1 AND u.path < $2 \
     AND ($3 IS NULL OR u.parent_id = $3) \
     AND ($4 = FALSE OR u.parent_id IS NULL) \
     AND ($5 IS NULL OR u.id = $5) \
     AND ($6 IS NULL OR u.name_search LIKE $6 ESCAPE '\\' OR u.code = $7) \
     AND ($8 IS NULL OR u.kind = $8)";

impl Db {
    pub async fn unit_by_code(&self, code: &str) -> Result<Option<UnitRecord>, sqlx::Error> {
        let sql = format!("{SELECT_UNIT} WHERE u.code = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, UnitRecord>(&sql)
            .bind(code)
            .fetch_optional(pool)
            .await)
    }

    pub async fn unit_by_id(&self, id: i64) -> Result<Option<UnitRecord>, sqlx::Error> {
        let sql = format!("{SELECT_UNIT} WHERE u.id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, UnitRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
    }

    pub async fn list_units(
        &self,
        scope: &Scope,
        filter: &UnitFilter,
    ) -> Result<Page<UnitRecord>, sqlx::Error> {
        let (lo, hi) = scope.path_range();
        let pattern = filter.query.as_deref().map(text::like_pattern);
        let exact = filter.query.as_deref().map(text::clean);
        let kind = filter.kind.map(|k| k.code());
        let items_sql =
            format!("{SELECT_UNIT}{FILTER} ORDER BY u.depth, u.sort_key LIMIT $9 OFFSET $10");
        let count_sql = format!("SELECT count(*) FROM units u{FILTER}");
        on_pool!(self, |pool| {
            let items = sqlx::query_as::<_, UnitRecord>(&items_sql)
                .bind(&lo)
                .bind(&hi)
                .bind(filter.parent_id)
                .bind(filter.roots_only)
                .bind(filter.only_id)
                .bind(&pattern)
                .bind(&exact)
                .bind(kind)
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count_sql)
                .bind(&lo)
                .bind(&hi)
                .bind(filter.parent_id)
                .bind(filter.roots_only)
                .bind(filter.only_id)
                .bind(&pattern)
                .bind(&exact)
                .bind(kind)
                .fetch_one(pool)
                .await?;
            Ok(Page { items, total })
        })
    }

    /// The chain of units from the root down to (and including) `path`'s unit.
    pub async fn unit_ancestors(&self, path: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        let ids: Vec<i64> = path.split('/').filter_map(|s| s.parse().ok()).collect();
        let mut chain = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<(String, String)> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT code, name FROM units WHERE id = $1"
            )
            .bind(id)
            .fetch_optional(pool)
            .await)?;
            chain.extend(row);
        }
        Ok(chain)
    }

    /// Inserts a unit under `parent` (whose path is given) and returns its id.
    pub async fn create_unit(
        &self,
        fields: &UnitFields,
        parent_path: Option<&str>,
    ) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        let [e0, e1, e2, e3, e4, e5] = fields.expected;
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO units (code, name, name_search, sort_key, kind, parent_id, path, depth, \
                 expected_cadre, expected_party_member, expected_civil_servant, expected_public_employee, \
                 expected_worker, expected_guest, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, '', 0, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
            )
            .bind(&fields.code).bind(&fields.name).bind(text::fold(&fields.name)).bind(text::collation_key(&fields.name))
            .bind(fields.kind.code()).bind(fields.parent_id)
            .bind(e0).bind(e1).bind(e2).bind(e3).bind(e4).bind(e5).bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let path = tree::child_path(parent_path, id);
            sqlx::query("UPDATE units SET path = $1, depth = $2 WHERE id = $3")
                .bind(&path)
                .bind(tree::depth(&path))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Updates a unit. When the parent changes, the paths of the whole moved
    /// subtree are rewritten in the same transaction.
    pub async fn update_unit(
        &self,
        id: i64,
        fields: &UnitFields,
        old_path: &str,
        new_parent_path: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        let [e0, e1, e2, e3, e4, e5] = fields.expected;
        let new_path = tree::child_path(new_parent_path, id);
        let depth_change = tree::depth(&new_path) - tree::depth(old_path);
        let end = tree::subtree_end(old_path);
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE units SET name = $1, name_search = $2, sort_key = $3, kind = $4, parent_id = $5, \
                 expected_cadre = $6, expected_party_member = $7, expected_civil_servant = $8, \
                 expected_public_employee = $9, expected_worker = $10, expected_guest = $11, updated_at = $12 WHERE id = $13",
            )
            .bind(&fields.name).bind(text::fold(&fields.name)).bind(text::collation_key(&fields.name))
            .bind(fields.kind.code()).bind(fields.parent_id)
            .bind(e0).bind(e1).bind(e2).bind(e3).bind(e4).bind(e5).bind(now).bind(id)
            .execute(&mut *tx)
            .await?;
            if new_path != old_path {
                sqlx::query(
                    "UPDATE units SET path = $1 || substr(path, CAST($2 AS INTEGER)), depth = depth + $3 \
                     WHERE path >= $4 AND path < $5",
                )
                .bind(&new_path)
                .bind(old_path.len() as i64 + 1)
                .bind(depth_change)
                .bind(old_path)
                .bind(&end)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes a unit that nothing refers to. Returns false when something
    /// still does (children, members, accounts, sessions or points).
    pub async fn delete_unit(&self, id: i64) -> Result<bool, sqlx::Error> {
        let result = on_pool!(self, |pool| sqlx::query("DELETE FROM units WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        match result {
            Ok(_) => Ok(true),
            Err(e) if super::is_foreign_key_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Applies a parsed CSV of units in one transaction: every row is checked
    /// against the database (unknown parent, out of scope, cycles) first, and
    /// nothing is written unless all rows pass. Existing codes are updated.
    pub async fn import_units(
        &self,
        rows: &[UnitRow],
        scope: &Scope,
    ) -> Result<Result<ImportReport, Vec<LineProblem>>, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let existing: Vec<(i64, String, Option<i64>, String)> =
                sqlx::query_as("SELECT id, code, parent_id, path FROM units")
                    .fetch_all(&mut *tx)
                    .await?;
            let plan = match plan_unit_import(rows, &existing, scope) {
                Ok(plan) => plan,
                Err(problems) => return Ok(Err(problems)),
            };
            let mut ids: HashMap<String, i64> = existing
                .iter()
                .map(|(id, code, _, _)| (code.clone(), *id))
                .collect();
            let mut report = ImportReport::default();
            for &index in &plan.order {
                let row = &rows[index];
                let parent_id = row.parent_code.as_ref().and_then(|p| ids.get(p).copied());
                let [e0, e1, e2, e3, e4, e5] = row.expected;
                if let Some(&id) = ids.get(&row.code) {
                    sqlx::query(
                        "UPDATE units SET name = $1, name_search = $2, sort_key = $3, kind = $4, parent_id = $5, \
                         expected_cadre = $6, expected_party_member = $7, expected_civil_servant = $8, \
                         expected_public_employee = $9, expected_worker = $10, expected_guest = $11, updated_at = $12 WHERE id = $13",
                    )
                    .bind(&row.name).bind(text::fold(&row.name)).bind(text::collation_key(&row.name))
                    .bind(row.kind.code()).bind(parent_id)
                    .bind(e0).bind(e1).bind(e2).bind(e3).bind(e4).bind(e5).bind(now).bind(id)
                    .execute(&mut *tx)
                    .await?;
                    report.updated += 1;
                } else {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO units (code, name, name_search, sort_key, kind, parent_id, path, depth, \
                         expected_cadre, expected_party_member, expected_civil_servant, expected_public_employee, \
                         expected_worker, expected_guest, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, '', 0, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
                    )
                    .bind(&row.code).bind(&row.name).bind(text::fold(&row.name)).bind(text::collation_key(&row.name))
                    .bind(row.kind.code()).bind(parent_id)
                    .bind(e0).bind(e1).bind(e2).bind(e3).bind(e4).bind(e5).bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    ids.insert(row.code.clone(), id);
                    report.created += 1;
                }
            }
            // Recompute every path from the parents and write those that changed.
            let all: Vec<(i64, Option<i64>, String)> =
                sqlx::query_as("SELECT id, parent_id, path FROM units")
                    .fetch_all(&mut *tx)
                    .await?;
            let parents: HashMap<i64, Option<i64>> =
                all.iter().map(|(id, p, _)| (*id, *p)).collect();
            let paths = tree::compute_paths(&parents);
            for (id, _, old) in &all {
                let new = &paths[id];
                if new != old {
                    sqlx::query("UPDATE units SET path = $1, depth = $2 WHERE id = $3")
                        .bind(new)
                        .bind(tree::depth(new))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(Ok(report))
        })
    }
}

/// The checked order in which to apply imported rows (parents first).
struct ImportPlan {
    order: Vec<usize>,
}

/// Checks imported rows against the existing tree; pure, so it is testable.
fn plan_unit_import(
    rows: &[UnitRow],
    existing: &[(i64, String, Option<i64>, String)],
    scope: &Scope,
) -> Result<ImportPlan, Vec<LineProblem>> {
    let by_id: HashMap<i64, &str> = existing
        .iter()
        .map(|(id, code, _, _)| (*id, code.as_str()))
        .collect();
    let existing_by_code: HashMap<&str, (Option<&str>, &str)> = existing
        .iter()
        .map(|(_, code, parent, path)| {
            (
                code.as_str(),
                (parent.and_then(|p| by_id.get(&p).copied()), path.as_str()),
            )
        })
        .collect();
    let in_file: HashMap<&str, &UnitRow> = rows.iter().map(|r| (r.code.as_str(), r)).collect();
    let mut problems = Vec::new();

    // The final parent of every code once the file is applied.
    let mut parents: HashMap<&str, Option<&str>> = existing_by_code
        .iter()
        .map(|(code, (parent, _))| (*code, *parent))
        .collect();
    for row in rows {
        parents.insert(&row.code, row.parent_code.as_deref());
    }

    let root_code = match scope {
        Scope::All => None,
        Scope::Subtree { unit_id, .. } => by_id.get(unit_id).copied(),
    };
    for row in rows {
        if let Some((old_parent, path)) = existing_by_code.get(row.code.as_str()) {
            if !scope.contains(path) {
                problems.push(LineProblem::new(row.line, Some("code"), "unit.out_of_scope", format!("Mã đơn vị \"{}\" đã được dùng cho một đơn vị ngoài phạm vi quản lý của bạn.", row.code)));
                continue;
            }
            if Some(row.code.as_str()) == root_code && *old_parent != row.parent_code.as_deref() {
                problems.push(LineProblem::new(
                    row.line,
                    Some("parent_code"),
                    "unit.out_of_scope",
                    "Bạn không thể chuyển đơn vị gốc của mình sang cấp trên khác.",
                ));
                continue;
            }
        }
        match row.parent_code.as_deref() {
            Some(parent)
                if !in_file.contains_key(parent) && !existing_by_code.contains_key(parent) =>
            {
                problems.push(LineProblem::new(row.line, Some("parent_code"), "unit.parent_unknown", format!("Không tìm thấy đơn vị cấp trên có mã \"{parent}\" (không có trong tệp cũng như trong hệ thống).")));
            }
            None if root_code.is_some() && Some(row.code.as_str()) != root_code => {
                problems.push(LineProblem::new(
                    row.line,
                    Some("parent_code"),
                    "unit.parent_required",
                    "Cần mã đơn vị cấp trên thuộc phạm vi quản lý của bạn.",
                ));
            }
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    if let Some(cycle) = tree::find_cycle(&parents) {
        let lines: Vec<String> = cycle
            .iter()
            .filter_map(|code| in_file.get(code).map(|r| r.line.to_string()))
            .collect();
        let first_line = cycle
            .iter()
            .filter_map(|c| in_file.get(c).map(|r| r.line))
            .min()
            .unwrap_or(0);
        return Err(vec![LineProblem::new(
            first_line,
            Some("parent_code"),
            "unit.cycle",
            format!(
                "Quan hệ cấp trên tạo thành vòng lặp: {} (dòng {}).",
                cycle.join(" → "),
                lines.join(", ")
            ),
        )]);
    }

    // Depth of each code in the final forest; parents are applied first.
    let mut depth_of: HashMap<&str, usize> = HashMap::new();
    fn depth<'a>(
        code: &'a str,
        parents: &HashMap<&'a str, Option<&'a str>>,
        memo: &mut HashMap<&'a str, usize>,
    ) -> usize {
        let mut chain = vec![code];
        let mut cur = code;
        let base = loop {
            if let Some(d) = memo.get(cur) {
                break *d;
            }
            match parents.get(cur).copied().flatten() {
                Some(p) => {
                    chain.push(p);
                    cur = p;
                }
                None => break 0,
            }
        };
        let mut d = base;
        for c in chain.into_iter().rev() {
            if !memo.contains_key(c) {
                memo.insert(c, d);
            }
            d = memo[c] + 1;
        }
        memo[code]
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let depths: Vec<usize> = rows
        .iter()
        .map(|r| depth(&r.code, &parents, &mut depth_of))
        .collect();
    order.sort_by_key(|&i| depths[i]);

    // A manager's rows must all end up inside the manager's subtree.
    if let Some(root) = root_code {
        for row in rows {
            let mut cur = Some(row.code.as_str());
            let mut inside = false;
            while let Some(c) = cur {
                if c == root {
                    inside = true;
                    break;
                }
                cur = parents.get(c).copied().flatten();
            }
            if !inside {
                problems.push(LineProblem::new(
                    row.line,
                    Some("parent_code"),
                    "unit.out_of_scope",
                    format!(
                        "Đơn vị \"{}\" sẽ nằm ngoài phạm vi quản lý của bạn.",
                        row.code
                    ),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
    }
    Ok(ImportPlan { order })
}
