//! The only place SQL lives.
//!
//! [`Db`] holds either an SQLite or a PostgreSQL pool, chosen once from the
//! database URL; callers never know which. Queries are written once in SQL
//! both databases accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`) and
//! run through [`on_pool!`], which expands the same code for each pool type.
//! The store test suite runs on both databases and is the query checker.

pub mod accounts;
pub mod audit;
pub mod checkin_batch;
pub mod checkin_sqlite;
pub mod checkins;
pub mod flags;
pub mod hot;
pub mod members;
pub mod points;
pub mod reports;
pub mod retention;
pub mod sessions;
pub mod sqlite_page_cache;
pub mod tally;
pub mod units;
pub mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::domain::tree;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub use on_pool;

/// `($1, $2), ($3, $4), …`: `rows` tuples of `width` placeholders from `first`
/// (one tuple of `n`, `placeholders(1, n, 1)`, is an `IN (…)` list).
pub(crate) fn placeholders(rows: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * width * 6);
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&n.to_string());
            n += 1;
        }
        out.push(')');
    }
    out
}

/// Whether a SQLite pool is on a file that other connections can open (not
/// an in-memory database).
pub fn is_file(pool: &sqlx::SqlitePool) -> bool {
    let options = pool.connect_options();
    let name = options.get_filename().to_string_lossy();
    !(name.is_empty() || name.starts_with(':') || name.contains("mode=memory"))
}

impl Db {
    /// Opens (creating if needed) the database named by `url` and applies the
    /// migrations. `sqlite:` URLs or plain file paths open SQLite in WAL mode;
    /// `postgres://` URLs open PostgreSQL.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .with_context(|| "không kết nối được PostgreSQL (cannot connect to PostgreSQL)")?;
            Db::Postgres(pool)
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
                .with_context(|| format!("bad SQLite address {url:?}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a committed check-in survives a power cut, not only a crash.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open SQLite database {path:?}"))?;
            Db::Sqlite(pool)
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
        }
        .context("database migration failed")
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT value FROM meta WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(pool)
        .await)
    }

    /// The value of `key`, storing `value` first if there is none (the first
    /// writer wins, so concurrent instances agree).
    pub async fn meta_get_or_insert(&self, key: &str, value: &str) -> Result<String, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_one(pool)
                .await
        })
    }

    pub async fn meta_set(&self, key: &str, value: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        .bind(key)
        .bind(value)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock
/// at once (`BEGIN IMMEDIATE`): a deferred transaction that reads and then
/// writes fails with "database is locked" under concurrency instead of
/// waiting its turn.
pub trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// What part of the unit tree a caller may see: everything, or one subtree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Subtree { unit_id: i64, path: String },
}

impl Scope {
    /// Half-open range of unit paths inside the scope. Every path starts with
    /// `/`, and `0` is the next byte, so `All` is `["/", "0")`.
    pub fn path_range(&self) -> (String, String) {
        match self {
            Scope::All => ("/".into(), "0".into()),
            Scope::Subtree { path, .. } => (path.clone(), tree::subtree_end(path)),
        }
    }

    pub fn contains(&self, unit_path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Subtree { path, .. } => tree::is_in_subtree(unit_path, path),
        }
    }

    /// The path of the scope's root ("/" for everything).
    pub fn root_path(&self) -> &str {
        match self {
            Scope::All => "/",
            Scope::Subtree { path, .. } => path,
        }
    }
}

/// True when the error is a unique-constraint violation: the database, not a
/// racy select-then-insert, is the judge of uniqueness.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// True for a foreign-key violation (something still refers to the row).
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

/// A page of results with the total count.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_every_parameter_once() {
        assert_eq!(placeholders(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(1, 3, 5), "($5, $6, $7)");
    }
}
