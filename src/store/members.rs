//! Members: each unit's roster.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::domain::import::{self, LineProblem, MemberRow};
use crate::domain::{Category, text, time};

use super::{Db, Page, Scope, on_pool};

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
    /// Header columns of the file that were not recognised.
    pub ignored_columns: Vec<String>,
}

const FILTER: &str = " WHERE u.path >= $1 AND u.path < $2 AND u.path >= $3 AND u.path < $4 \
     AND ($5 IS NULL OR m.unit_id = $5) \
     AND ($6 IS NULL OR m.name_search LIKE $6 ESCAPE '\\' OR m.code = $7) \
     AND ($8 IS NULL OR m.category = $8)";

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

    /// Applies parsed roster rows in one transaction (see [`Db::import_members_csv`]).
    pub async fn import_members(
        &self,
        rows: &[MemberRow],
        scope: &Scope,
    ) -> Result<Result<MemberImportReport, Vec<LineProblem>>, sqlx::Error> {
        let chunks: Vec<&[MemberRow]> = rows.chunks(import::MEMBER_CHUNK).collect();
        let (tx, rx) = std::sync::mpsc::sync_channel(chunks.len());
        for chunk in chunks {
            let _ = tx.send(chunk.to_vec());
        }
        drop(tx);
        let parsed = std::future::ready(Ok(Vec::new()));
        self.write_members(rx, parsed, scope, rows.len()).await
    }

    /// Imports a roster CSV, all or nothing. Reading, preparing and writing
    /// overlap — a thread reads and checks the file, a second one makes the
    /// names' search and sort keys and finds each row's unit, the writer
    /// writes — and memory stays bounded by a few chunks in flight.
    /// Problems in the file reject it first; then unknown units, units
    /// outside the caller's scope and codes already used outside it reject
    /// it. Existing codes are updated (name, category, unit).
    pub async fn import_members_csv(
        &self,
        bytes: impl AsRef<[u8]> + Send + 'static,
        max_rows: usize,
        scope: &Scope,
    ) -> Result<Result<MemberImportReport, Vec<LineProblem>>, sqlx::Error> {
        let lines = bytes.as_ref().iter().filter(|b| **b == b'\n').count();
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Vec<MemberRow>>(2);
        let reader = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let outcome =
                import::scan_members(bytes.as_ref(), max_rows, import::MEMBER_CHUNK, |rows| {
                    // The writer gone (a database error) leaves nothing to feed.
                    let _ = raw_tx.send(rows);
                });
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "roster read");
            outcome
        });
        let parsed = async move {
            reader.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "roster reader failed");
                Err(vec![LineProblem::new(
                    0,
                    None,
                    "import.failed",
                    "Không đọc được tệp.",
                )])
            })
        };
        self.write_members(raw_rx, parsed, scope, lines).await
    }

    /// The writer of an import: takes rows as they come, writes them in one
    /// transaction, and commits only if the file turned out valid (`parsed`)
    /// and every row's unit was found.
    async fn write_members(
        &self,
        rows: std::sync::mpsc::Receiver<Vec<MemberRow>>,
        parsed: impl Future<Output = Result<Vec<String>, Vec<LineProblem>>> + Send,
        scope: &Scope,
        expected_rows: usize,
    ) -> Result<Result<MemberImportReport, Vec<LineProblem>>, sqlx::Error> {
        let started = std::time::Instant::now();
        let result = match self {
            Db::Sqlite(pool) => sqlite_import(pool, rows, parsed, scope, expected_rows).await,
            Db::Postgres(pool) => postgres_import(pool, rows, parsed, scope, expected_rows).await,
        };
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "roster written");
        result
    }
}

/// Units by code: (id, path).
type UnitMap = HashMap<String, (i64, String)>;

const SELECT_UNITS: &str = "SELECT id, code, path FROM units";

fn unit_map(units: Vec<(i64, String, String)>) -> Arc<UnitMap> {
    Arc::new(
        units
            .into_iter()
            .map(|(id, code, path)| (code, (id, path)))
            .collect(),
    )
}

/// Rows of a roster import ready to write: with their search and sort keys
/// and their unit's id, or the problems of rows whose unit is not found.
struct Prepared {
    rows: Vec<MemberRow>,
    /// (name_search, sort_key) of each row.
    keys: Vec<(String, String)>,
    unit_ids: Vec<i64>,
    problems: Vec<LineProblem>,
}

/// Prepares chunks on a thread of its own, beside the reader and the writer.
fn spawn_preparer(
    raw: std::sync::mpsc::Receiver<Vec<MemberRow>>,
    units: Arc<UnitMap>,
    scope: Scope,
) -> mpsc::Receiver<Prepared> {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut names = import::NameKeys::default();
        for rows in raw {
            let mut prepared = Prepared {
                keys: Vec::with_capacity(rows.len()),
                unit_ids: Vec::with_capacity(rows.len()),
                problems: Vec::new(),
                rows: Vec::new(),
            };
            for row in &rows {
                prepared.keys.push(names.keys(&row.full_name));
                match units.get(&row.unit_code) {
                    Some((id, path)) if scope.contains(path) => prepared.unit_ids.push(*id),
                    // Outside the scope reads exactly like unknown: no enumeration.
                    _ => prepared.problems.push(LineProblem::new(
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
            prepared.rows = rows;
            if tx.blocking_send(prepared).is_err() {
                break;
            }
        }
    });
    rx
}

/// What the writer learns while rows stream in.
#[derive(Default)]
struct Checked {
    problems: Vec<LineProblem>,
    rows: u64,
}

impl Checked {
    /// Takes in a chunk's problems; true when the file is still valid.
    fn take(&mut self, chunk: &mut Prepared) -> bool {
        self.rows += chunk.rows.len() as u64;
        let valid = self.problems.is_empty() && chunk.problems.is_empty();
        // Lines grow: the first problems found are the ones listed.
        if self.problems.len() < import::MAX_LISTED_PROBLEMS {
            self.problems.append(&mut chunk.problems);
        }
        valid
    }
}

fn code_taken(code: &str, line: u64) -> LineProblem {
    LineProblem::new(
        line,
        Some("member_code"),
        "member.code_taken",
        format!("Mã thành viên \"{code}\" đã thuộc một đơn vị ngoài phạm vi của bạn."),
    )
}

/// The final answer of an import once every row went through.
fn conclude(
    parsed: Result<Vec<String>, Vec<LineProblem>>,
    mut checked: Checked,
    created: u64,
) -> Result<MemberImportReport, Vec<LineProblem>> {
    // Problems in the file come first: units are only judged on a valid file.
    let ignored_columns = parsed?;
    if !checked.problems.is_empty() {
        checked.problems.sort_by_key(|p| p.line);
        checked.problems.truncate(import::MAX_LISTED_PROBLEMS);
        return Err(checked.problems);
    }
    Ok(MemberImportReport {
        created,
        updated: checked.rows - created,
        ignored_columns,
    })
}

const UPSERT_SET: &str = " ON CONFLICT (code) DO UPDATE SET full_name = excluded.full_name, name_search = excluded.name_search, \
     sort_key = excluded.sort_key, category = excluded.category, unit_id = excluded.unit_id, updated_at = excluded.updated_at";

/// Rows per INSERT on SQLite: 6 bound values each, under the 32,766 limit.
const SQLITE_ROWS_PER_INSERT: usize = 4096;

/// Imports at least this big, and bigger than the table, rebuild the roster's
/// sort index once at the end instead of updating it row by row (and on
/// PostgreSQL check the units' foreign key once).
const REBUILD_INDEX_FROM: usize = 100_000;

async fn sqlite_import(
    pool: &sqlx::SqlitePool,
    raw: std::sync::mpsc::Receiver<Vec<MemberRow>>,
    parsed: impl Future<Output = Result<Vec<String>, Vec<LineProblem>>> + Send,
    scope: &Scope,
    expected_rows: usize,
) -> Result<Result<MemberImportReport, Vec<LineProblem>>, sqlx::Error> {
    use sqlx::Connection;
    let now = time::now_ms();
    let mut conn = pool.acquire().await?;
    // A big import touches far more index pages than the default 2 MB cache.
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("PRAGMA cache_size = -262144")
        .execute(&mut *conn)
        .await?;
    let result = async {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let units = unit_map(sqlx::query_as(SELECT_UNITS).fetch_all(&mut *tx).await?);
        let mut incoming = spawn_preparer(raw, units, scope.clone());
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM members")
            .fetch_one(&mut *tx)
            .await?;
        let rebuild = expected_rows >= REBUILD_INDEX_FROM && expected_rows as i64 > before;
        if rebuild {
            sqlx::query("DROP INDEX members_unit")
                .execute(&mut *tx)
                .await?;
        }
        let mut checked = Checked::default();
        let (lo, hi) = scope.path_range();
        while let Some(mut chunk) = incoming.recv().await {
            if !checked.take(&mut chunk) {
                continue; // rejected: only the remaining problems matter now
            }
            if scope != &Scope::All {
                // A manager may only update members already inside the subtree.
                for part in chunk.rows.chunks(SQLITE_ROWS_PER_INSERT) {
                    let mut qb = sqlx::QueryBuilder::new(
                        "SELECT m.code FROM members m JOIN units u ON u.id = m.unit_id WHERE (u.path < ",
                    );
                    qb.push_bind(&lo)
                        .push(" OR u.path >= ")
                        .push_bind(&hi)
                        .push(") AND m.code IN (");
                    let mut list = qb.separated(", ");
                    for row in part {
                        list.push_bind(row.code.as_str());
                    }
                    qb.push(")");
                    let outside: Vec<String> =
                        qb.build_query_scalar().fetch_all(&mut *tx).await?;
                    let lines: HashMap<&str, u64> =
                        part.iter().map(|r| (r.code.as_str(), r.line)).collect();
                    checked.problems.extend(
                        outside
                            .iter()
                            .map(|c| code_taken(c, lines.get(c.as_str()).copied().unwrap_or(0))),
                    );
                }
                if !checked.problems.is_empty() {
                    continue;
                }
            }
            let rows: Vec<_> = (0..chunk.rows.len()).collect();
            for part in rows.chunks(SQLITE_ROWS_PER_INSERT) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO members (code, full_name, name_search, sort_key, category, unit_id, created_at, updated_at) ",
                );
                qb.push_values(part, |mut b, &i| {
                    let (row, (search, sort)) = (&chunk.rows[i], &chunk.keys[i]);
                    // Borrowed, not copied: the rows outlive the statement.
                    b.push_bind(row.code.as_str())
                        .push_bind(row.full_name.as_str())
                        .push_bind(search.as_str())
                        .push_bind(sort.as_str())
                        .push_bind(row.category.code())
                        .push_bind(chunk.unit_ids[i])
                        .push(now)
                        .push(now);
                });
                qb.push(UPSERT_SET);
                qb.build().execute(&mut *tx).await?;
            }
        }
        let parsed = parsed.await;
        if parsed.is_err() || !checked.problems.is_empty() {
            tx.rollback().await?;
            return Ok(conclude(parsed, checked, 0));
        }
        if rebuild {
            sqlx::query("CREATE INDEX members_unit ON members (unit_id, sort_key)")
                .execute(&mut *tx)
                .await?;
        }
        let after: i64 = sqlx::query_scalar("SELECT count(*) FROM members")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(conclude(parsed, checked, (after - before) as u64))
    }
    .await;
    let _ = sqlx::query(&format!("PRAGMA cache_size = {cache}"))
        .execute(&mut *conn)
        .await;
    result
}

/// Appends `value` to COPY text data, escaping what the format reserves.
fn copy_field(buf: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// COPY data is sent in pieces of about this many bytes.
const COPY_BUFFER: usize = 1 << 20;

/// PostgreSQL: rows stream into a temporary table with `COPY` (no statement
/// per row or per thousand rows), then one `INSERT … SELECT … ON CONFLICT`
/// applies them.
async fn postgres_import(
    pool: &sqlx::PgPool,
    raw: std::sync::mpsc::Receiver<Vec<MemberRow>>,
    parsed: impl Future<Output = Result<Vec<String>, Vec<LineProblem>>> + Send,
    scope: &Scope,
    expected_rows: usize,
) -> Result<Result<MemberImportReport, Vec<LineProblem>>, sqlx::Error> {
    use std::io::Write;
    let now = time::now_ms();
    let mut tx = pool.begin().await?;
    let units = unit_map(sqlx::query_as(SELECT_UNITS).fetch_all(&mut *tx).await?);
    let mut incoming = spawn_preparer(raw, units, scope.clone());
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM members)")
        .fetch_one(&mut *tx)
        .await?;
    // The first load of a national roster goes straight into the table:
    // nothing to merge, so no staging table, and the unit check and the sort
    // index are done once at the end (see below).
    let direct = empty && scope == &Scope::All && expected_rows >= REBUILD_INDEX_FROM;
    if direct {
        drop_bulk_checks(&mut tx).await?;
    } else {
        sqlx::query(
            "CREATE TEMPORARY TABLE member_import (line BIGINT NOT NULL, code TEXT NOT NULL, \
             full_name TEXT NOT NULL, name_search TEXT NOT NULL, sort_key TEXT NOT NULL, \
             category TEXT NOT NULL, unit_id BIGINT NOT NULL) ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
    }
    let mut checked = Checked::default();
    let mut copy = tx
        .copy_in_raw(if direct {
            "COPY members (code, full_name, name_search, sort_key, category, unit_id, \
             created_at, updated_at) FROM STDIN"
        } else {
            "COPY member_import FROM STDIN"
        })
        .await?;
    let mut buf = Vec::with_capacity(COPY_BUFFER + 64 * 1024);
    while let Some(mut chunk) = incoming.recv().await {
        if !checked.take(&mut chunk) {
            continue; // rejected: only the remaining problems matter now
        }
        for ((row, (search, sort)), unit_id) in
            chunk.rows.iter().zip(&chunk.keys).zip(&chunk.unit_ids)
        {
            if !direct {
                let _ = write!(buf, "{}\t", row.line);
            }
            copy_field(&mut buf, &row.code);
            buf.push(b'\t');
            copy_field(&mut buf, &row.full_name);
            buf.push(b'\t');
            copy_field(&mut buf, search);
            buf.push(b'\t');
            copy_field(&mut buf, sort);
            let _ = write!(buf, "\t{}\t{unit_id}", row.category.code());
            if direct {
                let _ = write!(buf, "\t{now}\t{now}");
            }
            buf.push(b'\n');
            if buf.len() >= COPY_BUFFER {
                copy.send(buf.as_slice()).await?;
                buf.clear();
            }
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_slice()).await?;
    }
    copy.finish().await?;
    let parsed = parsed.await;
    if parsed.is_ok() && checked.problems.is_empty() && scope != &Scope::All {
        // A manager may only update members already inside the subtree.
        let (lo, hi) = scope.path_range();
        let outside: Vec<(String, i64)> = sqlx::query_as(
            "SELECT t.code, t.line FROM member_import t JOIN members m ON m.code = t.code \
             JOIN units u ON u.id = m.unit_id WHERE u.path < $1 OR u.path >= $2 \
             ORDER BY t.line LIMIT $3",
        )
        .bind(&lo)
        .bind(&hi)
        .bind(import::MAX_LISTED_PROBLEMS as i64)
        .fetch_all(&mut *tx)
        .await?;
        checked.problems.extend(
            outside
                .iter()
                .map(|(code, line)| code_taken(code, *line as u64)),
        );
    }
    if parsed.is_err() || !checked.problems.is_empty() {
        tx.rollback().await?;
        return Ok(conclude(parsed, checked, 0));
    }
    if direct {
        restore_bulk_checks(&mut tx).await?;
        tx.commit().await?;
        let created = checked.rows;
        return Ok(conclude(parsed, checked, created));
    }
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM members")
        .fetch_one(&mut *tx)
        .await?;
    // A bulk load (a national roster) is four times faster without checking
    // each row's unit by trigger and updating the sort index row by row: the
    // constraint is checked once for all rows and the index built once. This
    // locks the roster until commit (about ten seconds for two million
    // rows), only for loads bigger than the roster already there.
    let bulk = expected_rows >= REBUILD_INDEX_FROM && expected_rows as i64 > before;
    if bulk {
        drop_bulk_checks(&mut tx).await?;
    }
    sqlx::query(&format!(
        "INSERT INTO members (code, full_name, name_search, sort_key, category, unit_id, created_at, updated_at) \
         SELECT code, full_name, name_search, sort_key, category, unit_id, $1, $1 FROM member_import{UPSERT_SET}"
    ))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if bulk {
        restore_bulk_checks(&mut tx).await?;
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM members")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(conclude(parsed, checked, (after - before) as u64))
}

/// For a bulk load on PostgreSQL: no unit check by trigger per row, no sort
/// index updated row by row (the roster is locked until commit).
async fn drop_bulk_checks(tx: &mut sqlx::PgTransaction<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("ALTER TABLE members DROP CONSTRAINT members_unit_id_fkey")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DROP INDEX members_unit")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The unit check once over all rows, the sort index built in one sort.
async fn restore_bulk_checks(tx: &mut sqlx::PgTransaction<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut **tx)
        .await?;
    sqlx::query("CREATE INDEX members_unit ON members (unit_id, sort_key)")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "ALTER TABLE members ADD CONSTRAINT members_unit_id_fkey \
         FOREIGN KEY (unit_id) REFERENCES units (id)",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
