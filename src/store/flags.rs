//! Proxy-attendance flags, computed from the recorded check-ins when read
//! (nothing is added to the check-in path but the device hash). Flags ask an
//! organizer to look, they never block: people help the elderly check in.
//!
//! - **Shared device**: at one point, one phone (self check-in by QR) checked
//!   in at least [`SHARED_DEVICE_MIN_MEMBERS`] different members.
//! - **Far from the unit**: a member checked in at a point whose unit lies in
//!   another commune (commune, ward or special zone) or another province than
//!   the member's own unit. Units with no such ancestor (a provincial agency,
//!   the province's own hall) are not compared at that level. Only check-ins
//!   at a point count, of any method; home and broadcast check-ins have none.
//!
//! Annulled check-ins are left out. Only reviews are stored, by flag key.

use crate::domain::tree;

use super::{Db, on_pool};

/// Members one phone may check in at one point before it is flagged: a
/// helper checking in a couple or a parent is common, four people is not.
pub const SHARED_DEVICE_MIN_MEMBERS: i64 = 4;

/// One check-in of a shared-device flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SharedDeviceRow {
    pub point_id: i64,
    pub point_name: String,
    pub point_unit_code: String,
    pub point_unit_name: String,
    pub device: String,
    pub member_code: String,
    pub full_name: String,
    pub unit_code: String,
    pub unit_name: String,
    pub taken_at: i64,
    /// Flagged (point, device) groups in all, before the limit.
    pub groups_total: i64,
}

/// One check-in far from the member's unit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FarRow {
    pub checkin_id: i64,
    /// `other_commune` or `other_province`.
    pub kind: String,
    pub method: String,
    pub taken_at: i64,
    pub point_id: i64,
    pub point_name: String,
    pub point_unit_code: String,
    pub point_unit_name: String,
    pub member_code: String,
    pub full_name: String,
    pub unit_code: String,
    pub unit_name: String,
    /// The member's commune (or province, for `other_province`).
    pub member_region: Option<String>,
    /// The point's commune (or province).
    pub point_region: Option<String>,
    /// Such check-ins in all, and of them in another province.
    pub total: i64,
    pub other_province: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlagReviewRecord {
    pub flag_key: String,
    pub reviewed_at: i64,
    pub reviewed_by: String,
    pub note: String,
}

/// Kinds of the units that make a commune, and the province.
const COMMUNE_KINDS: &str = "'commune', 'ward', 'special_zone'";

impl Db {
    /// Shared-device flags at points of the subtree `path`, the first
    /// `limit_groups` groups (by their first check-in) with every check-in.
    pub async fn shared_device_flags(
        &self,
        session_id: i64,
        path: &str,
        limit_groups: i64,
    ) -> Result<Vec<SharedDeviceRow>, sqlx::Error> {
        let end = tree::subtree_end(path);
        on_pool!(self, |pool| {
            sqlx::query_as::<_, SharedDeviceRow>(
                "WITH grp AS ( \
                   SELECT c.point_id, c.device, min(c.taken_at) AS first_at, count(*) OVER () AS groups_total \
                   FROM checkins c JOIN points p ON p.id = c.point_id JOIN units pu ON pu.id = p.unit_id \
                   WHERE c.session_id = $1 AND c.annulled_at IS NULL AND c.method = 'qr_self' \
                     AND c.device IS NOT NULL AND pu.path >= $2 AND pu.path < $3 \
                   GROUP BY c.point_id, c.device HAVING count(DISTINCT c.member_id) >= $4 \
                   ORDER BY min(c.taken_at), c.point_id, c.device LIMIT $5) \
                 SELECT c.point_id, p.name AS point_name, pu.code AS point_unit_code, pu.name AS point_unit_name, \
                   c.device, m.code AS member_code, m.full_name, mu.code AS unit_code, mu.name AS unit_name, \
                   c.taken_at, grp.groups_total \
                 FROM grp JOIN checkins c ON c.session_id = $1 AND c.point_id = grp.point_id \
                   AND c.device = grp.device AND c.annulled_at IS NULL AND c.method = 'qr_self' \
                 JOIN points p ON p.id = c.point_id JOIN units pu ON pu.id = p.unit_id \
                 JOIN members m ON m.id = c.member_id JOIN units mu ON mu.id = m.unit_id \
                 ORDER BY grp.first_at, c.point_id, c.device, c.taken_at, m.code",
            )
            .bind(session_id)
            .bind(path)
            .bind(&end)
            .bind(SHARED_DEVICE_MIN_MEMBERS)
            .bind(limit_groups)
            .fetch_all(pool)
            .await
        })
    }

    /// Check-ins at a point of another commune or province than the member's
    /// unit, where the member's unit or the point's lies in the subtree
    /// `path`: newest first, at most `limit`, each row carrying the totals.
    pub async fn far_checkin_flags(
        &self,
        session_id: i64,
        path: &str,
        limit: i64,
    ) -> Result<Vec<FarRow>, sqlx::Error> {
        let end = tree::subtree_end(path);
        // A unit's commune and province are its deepest ancestors (or itself)
        // of those kinds: ancestors' paths are prefixes of its path. Only the
        // few units involved are placed, against the few region units.
        let sql = format!(
            "WITH live AS ( \
               SELECT c.id, c.point_id, c.taken_at, c.method, c.member_id, m.unit_id AS m_unit, p.unit_id AS p_unit \
               FROM checkins c JOIN members m ON m.id = c.member_id JOIN points p ON p.id = c.point_id \
               WHERE c.session_id = $1 AND c.annulled_at IS NULL AND m.unit_id <> p.unit_id), \
             involved AS (SELECT m_unit AS id FROM live UNION SELECT p_unit AS id FROM live), \
             region AS (SELECT id, kind, path FROM units WHERE kind IN ('province', {COMMUNE_KINDS})), \
             placed AS ( \
               SELECT u.id, u.path, \
                 (SELECT r.id FROM region r WHERE r.kind IN ({COMMUNE_KINDS}) \
                    AND substr(u.path, 1, length(r.path)) = r.path ORDER BY length(r.path) DESC LIMIT 1) AS commune_id, \
                 (SELECT r.id FROM region r WHERE r.kind = 'province' \
                    AND substr(u.path, 1, length(r.path)) = r.path ORDER BY length(r.path) DESC LIMIT 1) AS province_id \
               FROM units u JOIN involved i ON i.id = u.id), \
             far AS ( \
               SELECT l.id, l.point_id, l.taken_at, l.method, l.member_id, \
                 CASE WHEN mp.province_id <> pp.province_id THEN 'other_province' ELSE 'other_commune' END AS kind, \
                 CASE WHEN mp.province_id <> pp.province_id THEN mp.province_id ELSE mp.commune_id END AS m_region, \
                 CASE WHEN mp.province_id <> pp.province_id THEN pp.province_id ELSE pp.commune_id END AS p_region \
               FROM live l JOIN placed mp ON mp.id = l.m_unit JOIN placed pp ON pp.id = l.p_unit \
               WHERE (mp.province_id <> pp.province_id OR mp.commune_id <> pp.commune_id) \
                 AND ((mp.path >= $2 AND mp.path < $3) OR (pp.path >= $2 AND pp.path < $3))) \
             SELECT f.id AS checkin_id, f.kind, f.method, f.taken_at, f.point_id, p.name AS point_name, \
               pu.code AS point_unit_code, pu.name AS point_unit_name, m.code AS member_code, m.full_name, \
               mu.code AS unit_code, mu.name AS unit_name, mr.name AS member_region, pr.name AS point_region, \
               count(*) OVER () AS total, \
               sum(CASE WHEN f.kind = 'other_province' THEN 1 ELSE 0 END) OVER () AS other_province \
             FROM far f JOIN points p ON p.id = f.point_id JOIN units pu ON pu.id = p.unit_id \
             JOIN members m ON m.id = f.member_id JOIN units mu ON mu.id = m.unit_id \
             LEFT JOIN units mr ON mr.id = f.m_region LEFT JOIN units pr ON pr.id = f.p_region \
             ORDER BY f.taken_at DESC, f.id DESC LIMIT $4"
        );
        on_pool!(self, |pool| {
            sqlx::query_as::<_, FarRow>(&sql)
                .bind(session_id)
                .bind(path)
                .bind(&end)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
    }

    pub async fn flag_reviews(
        &self,
        session_id: i64,
    ) -> Result<Vec<FlagReviewRecord>, sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query_as::<_, FlagReviewRecord>(
                "SELECT flag_key, reviewed_at, reviewed_by, note FROM flag_reviews WHERE session_id = $1",
            )
            .bind(session_id)
            .fetch_all(pool)
            .await
        })
    }

    /// Records (or replaces) the review of a flag.
    pub async fn review_flag(
        &self,
        session_id: i64,
        key: &str,
        reviewed_by: &str,
        note: &str,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO flag_reviews (session_id, flag_key, reviewed_at, reviewed_by, note) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, flag_key) DO UPDATE \
                 SET reviewed_at = excluded.reviewed_at, reviewed_by = excluded.reviewed_by, note = excluded.note",
            )
            .bind(session_id)
            .bind(key)
            .bind(at)
            .bind(reviewed_by)
            .bind(note)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }
}
