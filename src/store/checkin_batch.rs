//! Group commit of check-ins: many check-ins recorded in one transaction.
//!
//! A durable commit costs an fsync; at the start of a national session tens of
//! thousands of check-ins arrive each second. One writer collects what is
//! waiting and records it here with a handful of multi-row statements and one
//! commit, so the fsync is shared. Every answer is still given only after the
//! commit, and the rules are exactly those of a single check-in:
//! a repeated operation id gets its first answer, one live check-in per
//! member per session (the unique index decides, also between instances), and
//! a check-in supersedes an absence.

use std::collections::HashMap;

use super::checkins::{PRIOR_COLUMNS, PriorCheckin, Recorded};
use super::members::{MemberRecord, SELECT_MEMBER};
use super::{BeginWrite, Db, on_pool, placeholders};
use crate::domain::time;

/// One check-in waiting to be recorded.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub session_id: i64,
    pub member_code: String,
    pub point_id: Option<i64>,
    /// Carried into the "already checked in" answer of a later duplicate.
    pub point_name: Option<String>,
    pub method: &'static str,
    /// Who made the operation id: `p:<point>` or `m:<member code>`.
    pub source: Option<String>,
    pub client_id: Option<String>,
    pub taken_at: i64,
    pub replayed: bool,
    /// Hash of the phone's device id (self check-in only).
    pub device: Option<String>,
    /// The point's console shows its count with each answer: count it in
    /// the same transaction rather than with a query per check-in.
    pub want_point_count: bool,
}

impl BatchItem {
    fn operation(&self) -> Option<(&str, &str)> {
        match (&self.source, &self.client_id) {
            (Some(s), Some(c)) => Some((s.as_str(), c.as_str())),
            _ => None,
        }
    }
}

/// What became of one item.
#[derive(Debug, Clone)]
pub enum BatchOutcome {
    /// The operation id was answered before: that answer, unchanged (kept
    /// in `operations`, or made again from the check-in the id recorded).
    Repeat(String),
    /// No member has this code; nothing stored.
    UnknownMember,
    /// A rule refused it (the refusal as the rules gave it); nothing stored.
    Refused(String),
    /// Recorded now, or found already checked in; the "already checked in"
    /// `answer` is stored against the operation id.
    Recorded {
        member: Box<MemberRecord>,
        recorded: Recorded,
        answer: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// Another instance stored an answer for one of the operation ids while
    /// this batch ran; nothing was written. Retry the items one by one.
    #[error("operation id raced with another instance")]
    OperationRace,
}

/// A live check-in found by (session, member).
#[derive(sqlx::FromRow)]
struct PriorRow {
    session_id: i64,
    member_id: i64,
    #[sqlx(flatten)]
    prior: PriorCheckin,
}

/// Statement parameters stay well under SQLite's limit of 32,766.
pub const MAX_BATCH: usize = 1000;

enum Plan {
    Done(Box<BatchOutcome>),
    Insert,
    /// Same operation id as an earlier item of this batch.
    RepeatOf(usize),
    /// Same member and session as an earlier item of this batch.
    DuplicateOf(usize),
}

impl Db {
    /// Records `items` (at most [`MAX_BATCH`]) in one transaction. `rules`
    /// decides, for an item that is not a repeat and whose member exists,
    /// whether it may be recorded: `Err(refusal)` refuses it. `answer` makes
    /// the answer stored against the operation id. Also returns the live
    /// check-ins of each point whose item asked for it.
    pub async fn record_checkin_batch<R, A>(
        &self,
        items: &[BatchItem],
        rules: R,
        answer: A,
    ) -> Result<(Vec<BatchOutcome>, HashMap<i64, i64>), BatchError>
    where
        R: Fn(usize, &MemberRecord) -> Result<(), String>,
        A: Fn(usize, &MemberRecord, &Recorded) -> String,
    {
        assert!(items.len() <= MAX_BATCH, "batch too large");
        let received_at = time::now_ms();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;

            // 1. Operation ids answered before.
            let ops: Vec<(usize, (&str, &str))> = items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| it.operation().map(|op| (i, op)))
                .collect();
            let mut seen_answers: HashMap<(String, String), String> = HashMap::new();
            if !ops.is_empty() {
                let sql = format!(
                    "SELECT source, client_id, answer FROM operations WHERE (source, client_id) IN (VALUES {})",
                    placeholders(ops.len(), 2, 1)
                );
                let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
                for (_, (s, c)) in &ops {
                    q = q.bind(*s).bind(*c);
                }
                for (s, c, a) in q.fetch_all(&mut *tx).await? {
                    seen_answers.insert((s, c), a);
                }
            }

            // 2. Members, by code.
            let mut codes: Vec<&str> = items.iter().map(|it| it.member_code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            let sql = format!(
                "{SELECT_MEMBER} WHERE m.code IN {}",
                placeholders(1, codes.len(), 1)
            );
            let mut q = sqlx::query_as::<_, MemberRecord>(&sql);
            for code in &codes {
                q = q.bind(*code);
            }
            let members: HashMap<String, MemberRecord> = q
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|m| (m.code.clone(), m))
                .collect();

            // 3. Decide each item in order, within the batch too.
            let mut plans: Vec<Plan> = Vec::with_capacity(items.len());
            let mut first_op: HashMap<(&str, &str), usize> = HashMap::new();
            let mut first_member: HashMap<(i64, i64), usize> = HashMap::new();
            for (i, it) in items.iter().enumerate() {
                if let Some(op) = it.operation() {
                    if let Some(a) = seen_answers.get(&(op.0.to_string(), op.1.to_string())) {
                        plans.push(Plan::Done(Box::new(BatchOutcome::Repeat(a.clone()))));
                        continue;
                    }
                    if let Some(&j) = first_op.get(&op) {
                        plans.push(Plan::RepeatOf(j));
                        continue;
                    }
                }
                let Some(member) = members.get(&it.member_code) else {
                    plans.push(Plan::Done(Box::new(BatchOutcome::UnknownMember)));
                    continue;
                };
                if let Err(refusal) = rules(i, member) {
                    plans.push(Plan::Done(Box::new(BatchOutcome::Refused(refusal))));
                    continue;
                }
                if let Some(op) = it.operation() {
                    first_op.insert(op, i);
                }
                match first_member.get(&(it.session_id, member.id)) {
                    Some(&j) => plans.push(Plan::DuplicateOf(j)),
                    None => {
                        first_member.insert((it.session_id, member.id), i);
                        plans.push(Plan::Insert);
                    }
                }
            }

            // 4. Insert the new ones; the unique index skips members already in.
            // Sorted by (session, member) so that two instances lock rows in
            // the same order.
            let mut to_insert: Vec<usize> = (0..items.len())
                .filter(|&i| matches!(plans[i], Plan::Insert))
                .collect();
            to_insert.sort_by_key(|&i| (items[i].session_id, members[&items[i].member_code].id));
            let mut inserted: HashMap<(i64, i64), i64> = HashMap::new();
            if !to_insert.is_empty() {
                let sql = format!(
                    "INSERT INTO checkins (session_id, member_id, point_id, method, source, client_id, taken_at, received_at, replayed, device) \
                     VALUES {} ON CONFLICT DO NOTHING RETURNING id, session_id, member_id",
                    placeholders(to_insert.len(), 10, 1)
                );
                let mut q = sqlx::query_as::<_, (i64, i64, i64)>(&sql);
                for &i in &to_insert {
                    let it = &items[i];
                    q = q
                        .bind(it.session_id)
                        .bind(members[&it.member_code].id)
                        .bind(it.point_id)
                        .bind(it.method)
                        .bind(&it.source)
                        .bind(&it.client_id)
                        .bind(it.taken_at)
                        .bind(received_at)
                        .bind(it.replayed)
                        .bind(&it.device);
                }
                for (id, session_id, member_id) in q.fetch_all(&mut *tx).await? {
                    inserted.insert((session_id, member_id), id);
                }
            }

            // 5. Those already checked in before this batch: their first check-in.
            let conflicted: Vec<(i64, i64)> = to_insert
                .iter()
                .map(|&i| (items[i].session_id, members[&items[i].member_code].id))
                .filter(|key| !inserted.contains_key(key))
                .collect();
            let mut priors: HashMap<(i64, i64), PriorCheckin> = HashMap::new();
            if !conflicted.is_empty() {
                let sql = format!(
                    "SELECT c.session_id, c.member_id, {PRIOR_COLUMNS} FROM checkins c \
                     LEFT JOIN points p ON p.id = c.point_id \
                     WHERE c.annulled_at IS NULL AND (c.session_id, c.member_id) IN (VALUES {})",
                    placeholders(conflicted.len(), 2, 1)
                );
                let mut q = sqlx::query_as::<_, PriorRow>(&sql);
                for (s, m) in &conflicted {
                    q = q.bind(*s).bind(*m);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    priors.insert((row.session_id, row.member_id), row.prior);
                }
            }

            // 6. Present after all: a check-in supersedes an absence.
            if !inserted.is_empty() {
                let keys: Vec<&(i64, i64)> = inserted.keys().collect();
                let sql = format!(
                    "DELETE FROM absences WHERE (session_id, member_id) IN (VALUES {})",
                    placeholders(keys.len(), 2, 1)
                );
                let mut q = sqlx::query(&sql);
                for (s, m) in keys {
                    q = q.bind(*s).bind(*m);
                }
                q.execute(&mut *tx).await?;
            }

            // 7. Outcomes and answers, in item order.
            let mut outcomes: Vec<Option<BatchOutcome>> = Vec::with_capacity(items.len());
            for (i, plan) in plans.iter().enumerate() {
                let it = &items[i];
                let outcome = match plan {
                    Plan::Done(o) => Some((**o).clone()),
                    Plan::RepeatOf(_) => None,
                    Plan::Insert | Plan::DuplicateOf(_) => {
                        let member = &members[&it.member_code];
                        let key = (it.session_id, member.id);
                        let recorded = match (plan, inserted.get(&key)) {
                            (Plan::Insert, Some(&id)) => Recorded::New { id, received_at },
                            // Recorded by an earlier item of this batch.
                            (Plan::DuplicateOf(j), Some(&id)) => Recorded::Already(PriorCheckin {
                                id,
                                taken_at: items[*j].taken_at,
                                point_id: items[*j].point_id,
                                point_name: items[*j].point_name.clone(),
                                method: items[*j].method.to_string(),
                                source: items[*j].source.clone(),
                                client_id: items[*j].client_id.clone(),
                            }),
                            // Checked in before this batch.
                            _ => match priors.get(&key) {
                                // A resend of the operation that checked them in.
                                Some(prior)
                                    if prior
                                        .made_by(it.source.as_deref(), it.client_id.as_deref()) =>
                                {
                                    let text = answer(i, member, &Recorded::Resent(prior.clone()));
                                    outcomes.push(Some(BatchOutcome::Repeat(text)));
                                    continue;
                                }
                                Some(prior) => Recorded::Already(prior.clone()),
                                // Cannot happen inside one write transaction;
                                // retried one by one if it ever does.
                                None => return Err(BatchError::OperationRace),
                            },
                        };
                        let text = answer(i, member, &recorded);
                        Some(BatchOutcome::Recorded {
                            member: Box::new(member.clone()),
                            recorded,
                            answer: text,
                        })
                    }
                };
                outcomes.push(outcome);
            }
            for (i, plan) in plans.iter().enumerate() {
                if let Plan::RepeatOf(j) = plan {
                    let text = match &outcomes[*j] {
                        Some(
                            BatchOutcome::Recorded { answer, .. } | BatchOutcome::Repeat(answer),
                        ) => answer.clone(),
                        _ => unreachable!("only recorded items are first of an operation id"),
                    };
                    outcomes[i] = Some(BatchOutcome::Repeat(text));
                }
            }
            let outcomes: Vec<BatchOutcome> = outcomes
                .into_iter()
                .map(|o| o.expect("every item decided"))
                .collect();

            // 8. Remember the "already checked in" answers of new operation
            // ids (first answer wins); a new check-in keeps its id on its row.
            let to_store: Vec<(&str, &str, &str)> = items
                .iter()
                .zip(&outcomes)
                .filter_map(|(it, o)| match (it.operation(), o) {
                    (
                        Some((s, c)),
                        BatchOutcome::Recorded {
                            recorded: Recorded::Already(_),
                            answer,
                            ..
                        },
                    ) => Some((s, c, answer.as_str())),
                    _ => None,
                })
                .collect();
            if !to_store.is_empty() {
                let sql = format!(
                    "INSERT INTO operations (source, client_id, answer, created_at) VALUES {} ON CONFLICT DO NOTHING RETURNING source",
                    placeholders(to_store.len(), 4, 1)
                );
                let mut q = sqlx::query_scalar::<_, String>(&sql);
                for (s, c, a) in &to_store {
                    q = q.bind(*s).bind(*c).bind(*a).bind(received_at);
                }
                let stored = q.fetch_all(&mut *tx).await?.len();
                if stored != to_store.len() {
                    // A concurrent resend on another instance got there first.
                    tx.rollback().await?;
                    if let ([_], [(s, c, _)]) = (items, to_store.as_slice()) {
                        let first: String = sqlx::query_scalar(
                            "SELECT answer FROM operations WHERE source = $1 AND client_id = $2",
                        )
                        .bind(*s)
                        .bind(*c)
                        .fetch_one(pool)
                        .await?;
                        // The console still shows its point's count with the
                        // answer, as for any other repeat.
                        let mut point_counts = HashMap::new();
                        if let Some(point_id) =
                            items[0].point_id.filter(|_| items[0].want_point_count)
                        {
                            point_counts
                                .insert(point_id, self.point_checkin_count(point_id).await?);
                        }
                        return Ok((vec![BatchOutcome::Repeat(first)], point_counts));
                    }
                    return Err(BatchError::OperationRace);
                }
            }
            // 9. The counts the consoles show.
            let mut counted: Vec<i64> = items
                .iter()
                .filter(|it| it.want_point_count)
                .filter_map(|it| it.point_id)
                .collect();
            counted.sort_unstable();
            counted.dedup();
            let mut point_counts = HashMap::new();
            if !counted.is_empty() {
                let sql = self.count_at_points_sql(counted.len());
                let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
                for id in &counted {
                    q = q.bind(*id);
                }
                point_counts.extend(q.fetch_all(&mut *tx).await?);
            }
            tx.commit().await?;
            Ok((outcomes, point_counts))
        })
    }
}
