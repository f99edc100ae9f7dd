//! Members: each unit's roster.

use std::collections::HashMap;

use crate::domain::import::{LineProblem, MemberRow};
use crate::domain::{Category, text, time};

use super::{BeginWrite, Db, Page, Scope, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRecord {
    pub id: i64,
    pub code: String,
    pub full_name: String,
    pub category: String,
    pub unit_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub unit_path: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) const SELECT_MEMBER: &str = "SELECT m.id, m.code, m.full_name, m.category, m.unit_id, u.code AS unit_code, \
     u.name AS unit_name, u.path AS unit_path, m.created_at, m.updated_at \
     FROM members m JOIN units u ON u.id = m.unit_id";

#[derive(Debug, Default, Clone)]
pub struct MemberFilter {
    /// Only members of this unit (not its subunits).
    pub unit_id: Option<i64>,
    /// Only members somewhere under this path (the unit and its subunits).
    pub under_path: Option<String>,
    /// Name without diacritics, or an exact member code.
    pub query: Option<String>,
    pub category: Option<Category>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone)]
pub struct MemberFields {
    pub code: String,
    pub full_name: String,
    pub category: Category,
    pub unit_id: i64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemberImportReport {
    pub created: u64,
    pub updated: u64,
}

const FILTER: &str = " WHERE u.path >= $1 AND u.path < $2 AND u.path >= $3 AND u.path < $4 \
     AND ($5 IS NULL OR m.unit_id = $5) \
     AND ($6 IS NULL OR m.name_search LIKE $6 ESCAPE '\\' OR m.code = $7) \
     AND ($8 IS NULL OR m.category = $8)";

/// Rows per multi-row INSERT: well under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 1000;

impl Db {
    pub async fn member_by_code(&self, code: &str) -> Result<Option<MemberRecord>, sqlx::Error> {
        let sql = format!("{SELECT_MEMBER} WHERE m.code = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, MemberRecord>(&sql)
            .bind(code)
            .fetch_optional(pool)
            .await)
    }

    pub async fn list_members(
        &self,
        scope: &Scope,
        filter: &MemberFilter,
    ) -> Result<Page<MemberRecord>, sqlx::Error> {
        let (lo, hi) = scope.path_range();
        let (under_lo, under_hi) = match &filter.under_path {
            Some(p) => (p.clone(), crate::domain::tree::subtree_end(p)),
            None => ("/".to_string(), "0".to_string()),
        };
        let pattern = filter.query.as_deref().map(text::like_pattern);
        let exact = filter.query.as_deref().map(text::clean);
        let category = filter.category.map(|c| c.code());
        let items_sql =
            format!("{SELECT_MEMBER}{FILTER} ORDER BY m.sort_key, m.code LIMIT $9 OFFSET $10");
        let count_sql =
            format!("SELECT count(*) FROM members m JOIN units u ON u.id = m.unit_id{FILTER}");
        on_pool!(self, |pool| {
            let items = sqlx::query_as::<_, MemberRecord>(&items_sql)
                .bind(&lo)
                .bind(&hi)
                .bind(&under_lo)
                .bind(&under_hi)
                .bind(filter.unit_id)
                .bind(&pattern)
                .bind(&exact)
                .bind(category)
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count_sql)
                .bind(&lo)
                .bind(&hi)
                .bind(&under_lo)
                .bind(&under_hi)
                .bind(filter.unit_id)
                .bind(&pattern)
                .bind(&exact)
                .bind(category)
                .fetch_one(pool)
                .await?;
            Ok(Page { items, total })
        })
    }

    /// Inserts a member; a taken code is reported as a unique violation.
    pub async fn create_member(&self, fields: &MemberFields) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO members (code, full_name, name_search, sort_key, category, unit_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&fields.code).bind(&fields.full_name).bind(text::fold(&fields.full_name))
        .bind(text::person_sort_key(&fields.full_name)).bind(fields.category.code()).bind(fields.unit_id).bind(now)
        .fetch_one(pool)
        .await
        })
    }

    pub async fn update_member(&self, id: i64, fields: &MemberFields) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query(
            "UPDATE members SET full_name = $1, name_search = $2, sort_key = $3, category = $4, unit_id = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&fields.full_name).bind(text::fold(&fields.full_name)).bind(text::person_sort_key(&fields.full_name))
        .bind(fields.category.code()).bind(fields.unit_id).bind(now).bind(id)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    /// Removes a member from the roster. Returns false when later records
    /// (attendance) still refer to them.
    pub async fn delete_member(&self, id: i64) -> Result<bool, sqlx::Error> {
        let result = on_pool!(self, |pool| sqlx::query(
            "DELETE FROM members WHERE id = $1"
        )
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

    /// Applies a parsed roster CSV in one transaction: unknown units, units
    /// outside the caller's scope and codes already used outside it reject
    /// the whole file. Existing codes are updated (name, category, unit).
    pub async fn import_members(
        &self,
        rows: &[MemberRow],
        scope: &Scope,
    ) -> Result<Result<MemberImportReport, Vec<LineProblem>>, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let units: Vec<(i64, String, String)> =
                sqlx::query_as("SELECT id, code, path FROM units")
                    .fetch_all(&mut *tx)
                    .await?;
            let units: HashMap<String, (i64, String)> = units
                .into_iter()
                .map(|(id, code, path)| (code, (id, path)))
                .collect();
            let mut problems = Vec::new();
            for row in rows {
                match units.get(&row.unit_code) {
                    Some((_, path)) if scope.contains(path) => {}
                    // Outside the scope reads exactly like unknown: no enumeration.
                    _ => problems.push(LineProblem::new(
                        row.line,
                        Some("unit_code"),
                        "unit.not_found",
                        format!(
                            "Không tìm thấy đơn vị có mã \"{}\" trong phạm vi của bạn.",
                            row.unit_code
                        ),
                    )),
                }
            }
            if scope != &Scope::All && problems.is_empty() {
                // A manager may only update members already inside the subtree.
                let (lo, hi) = scope.path_range();
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let mut qb = sqlx::QueryBuilder::new(
                        "SELECT m.code FROM members m JOIN units u ON u.id = m.unit_id WHERE (u.path < ",
                    );
                    qb.push_bind(&lo)
                        .push(" OR u.path >= ")
                        .push_bind(&hi)
                        .push(") AND m.code IN (");
                    let mut list = qb.separated(", ");
                    for row in chunk {
                        list.push_bind(&row.code);
                    }
                    qb.push(")");
                    let outside: Vec<String> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
                    let lines: HashMap<&str, u64> =
                        chunk.iter().map(|r| (r.code.as_str(), r.line)).collect();
                    for code in outside {
                        let line = lines.get(code.as_str()).copied().unwrap_or(0);
                        problems.push(LineProblem::new(line, Some("member_code"), "member.code_taken", format!("Mã thành viên \"{code}\" đã thuộc một đơn vị ngoài phạm vi của bạn.")));
                    }
                }
            }
            if !problems.is_empty() {
                problems.sort_by_key(|p| p.line);
                problems.truncate(crate::domain::import::MAX_LISTED_PROBLEMS);
                return Ok(Err(problems));
            }
            let before: i64 = sqlx::query_scalar("SELECT count(*) FROM members")
                .fetch_one(&mut *tx)
                .await?;
            for chunk in rows.chunks(INSERT_CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO members (code, full_name, name_search, sort_key, category, unit_id, created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, row| {
                    let unit_id = units[&row.unit_code].0;
                    b.push_bind(&row.code)
                        .push_bind(&row.full_name)
                        .push_bind(text::fold(&row.full_name))
                        .push_bind(text::person_sort_key(&row.full_name))
                        .push_bind(row.category.code())
                        .push_bind(unit_id)
                        .push_bind(now)
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (code) DO UPDATE SET full_name = excluded.full_name, name_search = excluded.name_search, \
                     sort_key = excluded.sort_key, category = excluded.category, unit_id = excluded.unit_id, updated_at = excluded.updated_at",
                );
                qb.build().execute(&mut *tx).await?;
            }
            let after: i64 = sqlx::query_scalar("SELECT count(*) FROM members")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            let created = (after - before) as u64;
            Ok(Ok(MemberImportReport {
                created,
                updated: rows.len() as u64 - created,
            }))
        })
    }
}
