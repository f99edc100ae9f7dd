//! Accounts (organizers, unit managers) and their web sessions / API tokens.

use crate::domain::{Role, time};

use super::{BeginWrite, Db, Scope, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit_id: Option<i64>,
    pub unit_code: Option<String>,
    pub unit_name: Option<String>,
    pub unit_path: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
}

impl AccountRecord {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Manager)
    }

    /// The part of the tree this account may see and change.
    pub fn scope(&self) -> Option<Scope> {
        match (self.role(), self.unit_id, &self.unit_path) {
            (Role::Organizer, _, _) => Some(Scope::All),
            (Role::Manager, Some(unit_id), Some(path)) => Some(Scope::Subtree {
                unit_id,
                path: path.clone(),
            }),
            _ => None,
        }
    }
}

const SELECT_ACCOUNT: &str = "SELECT a.id, a.username, a.display_name, a.role, a.unit_id, u.code AS unit_code, \
     u.name AS unit_name, u.path AS unit_path, a.disabled, a.created_at \
     FROM accounts a LEFT JOIN units u ON u.id = a.unit_id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: i64,
    pub kind: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// An authenticated caller, resolved from a token hash.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub account: AccountRecord,
    pub token_id: i64,
    pub token_kind: String,
    pub csrf_token: Option<String>,
}

impl Db {
    pub async fn create_account(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        role: Role,
        unit_id: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO accounts (username, display_name, password_hash, role, unit_id, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6) RETURNING id",
        )
        .bind(username).bind(display_name).bind(password_hash).bind(role.code()).bind(unit_id).bind(now)
        .fetch_one(pool)
        .await
        })
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRecord>, sqlx::Error> {
        let sql = format!("{SELECT_ACCOUNT} WHERE a.id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, AccountRecord>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
    }

    /// The account and its password hash, for login.
    pub async fn account_for_login(
        &self,
        username: &str,
    ) -> Result<Option<(AccountRecord, String)>, sqlx::Error> {
        let sql = format!("{SELECT_ACCOUNT} WHERE a.username = $1");
        let account = on_pool!(self, |pool| sqlx::query_as::<_, AccountRecord>(&sql)
            .bind(username)
            .fetch_optional(pool)
            .await)?;
        let Some(account) = account else {
            return Ok(None);
        };
        let hash: String = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT password_hash FROM accounts WHERE id = $1"
        )
        .bind(account.id)
        .fetch_one(pool)
        .await)?;
        Ok(Some((account, hash)))
    }

    /// Accounts whose unit lies in `scope` (organizers only for `Scope::All`).
    pub async fn list_accounts(&self, scope: &Scope) -> Result<Vec<AccountRecord>, sqlx::Error> {
        let (lo, hi) = scope.path_range();
        let all = matches!(scope, Scope::All);
        let sql = format!(
            "{SELECT_ACCOUNT} WHERE ($1 = TRUE AND a.unit_id IS NULL) OR (u.path >= $2 AND u.path < $3) ORDER BY a.role DESC, a.username"
        );
        on_pool!(self, |pool| sqlx::query_as::<_, AccountRecord>(&sql)
            .bind(all)
            .bind(&lo)
            .bind(&hi)
            .fetch_all(pool)
            .await)
    }

    pub async fn update_account(
        &self,
        id: i64,
        display_name: &str,
        role: Role,
        unit_id: Option<i64>,
        disabled: bool,
    ) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE accounts SET display_name = $1, role = $2, unit_id = $3, disabled = $4, updated_at = $5 WHERE id = $6")
                .bind(display_name).bind(role.code()).bind(unit_id).bind(disabled).bind(now).bind(id)
                .execute(&mut *tx)
                .await?;
            if disabled {
                // A disabled account is signed out everywhere at once.
                sqlx::query("DELETE FROM auth_tokens WHERE account_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    /// Sets a new password and signs the account out of every other session.
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        keep_token: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM auth_tokens WHERE account_id = $1 AND ($2 IS NULL OR id <> $2)",
            )
            .bind(id)
            .bind(keep_token)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
    }

    pub async fn organizer_count(&self) -> Result<i64, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT count(*) FROM accounts WHERE role = 'organizer'"
        )
        .fetch_one(pool)
        .await)
    }

    pub async fn insert_token(
        &self,
        account_id: i64,
        token_hash: &str,
        kind: &str,
        name: Option<&str>,
        csrf: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let now = time::now_ms();
        on_pool!(self, |pool| {
            sqlx::query_scalar(
            "INSERT INTO auth_tokens (account_id, token_hash, kind, name, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(account_id).bind(token_hash).bind(kind).bind(name).bind(csrf).bind(now).bind(expires_at)
        .fetch_one(pool)
        .await
        })
    }

    /// Resolves a token hash to its live, enabled account.
    pub async fn authenticate(
        &self,
        token_hash: &str,
    ) -> Result<Option<Authenticated>, sqlx::Error> {
        let now = time::now_ms();
        let row: Option<(i64, i64, String, Option<String>)> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT t.id, t.account_id, t.kind, t.csrf_token FROM auth_tokens t JOIN accounts a ON a.id = t.account_id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND a.disabled = FALSE",
        )
        .bind(token_hash).bind(now)
        .fetch_optional(pool)
        .await
        })?;
        let Some((token_id, account_id, token_kind, csrf_token)) = row else {
            return Ok(None);
        };
        let Some(account) = self.account_by_id(account_id).await? else {
            return Ok(None);
        };
        Ok(Some(Authenticated {
            account,
            token_id,
            token_kind,
            csrf_token,
        }))
    }

    pub async fn delete_token(&self, account_id: i64, token_id: i64) -> Result<bool, sqlx::Error> {
        let done = on_pool!(self, |pool| sqlx::query(
            "DELETE FROM auth_tokens WHERE id = $1 AND account_id = $2"
        )
        .bind(token_id)
        .bind(account_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    pub async fn list_api_tokens(&self, account_id: i64) -> Result<Vec<TokenRecord>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, TokenRecord>(
            "SELECT id, kind, name, created_at, expires_at FROM auth_tokens WHERE account_id = $1 AND kind = 'api' ORDER BY id",
        )
        .bind(account_id)
        .fetch_all(pool)
        .await
        })
    }
}
