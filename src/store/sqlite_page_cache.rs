//! SQLite's own page cache, without the scan of the whole cache at commits.
//!
//! At the end of every write transaction SQLite asks its page cache to drop
//! the pages past the end of the database (`xTruncate`). Its cache (pcache1)
//! remembers only the largest page number it ever held, and when that lies
//! far past the limit it walks every page it holds. A B-tree split that
//! reorders its new pages renumbers one of them for a moment to the page at
//! 1 GiB (the lock-byte page), so in a database under 1 GiB that walk runs
//! at nearly every commit of random-keyed inserts: 40 % of the check-in
//! writer thread's time in the national benchmark's HTTP phase (26,000
//! cached pages walked to drop none). See `benches/national/NOTES.md`.
//!
//! [`install`] puts a thin layer in front of SQLite's cache that tracks the
//! page numbers at or past the database's end as of the last truncation
//! (new pages and that temporary number, a handful per transaction) and
//! passes a truncation on only when one of them lies past the new limit,
//! or when the limit is lower than before (a rollback, a cache reset).
//! Everything else goes straight to SQLite's cache, which still owns every
//! page; the invariant that makes skipping safe is spelled out on
//! [`Cache`].
//!
//! This is the crate's only `unsafe` code: SQLite's C interface for a page
//! cache (`sqlite3_pcache_methods2`) has no safe binding.
#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::os::raw::{c_int, c_uint};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::ffi;

/// SQLite's default page cache, which does the work.
struct Default(ffi::sqlite3_pcache_methods2);
// SAFETY: plain function pointers into SQLite and its (null) argument.
unsafe impl Send for Default {}
unsafe impl Sync for Default {}

static DEFAULT: OnceLock<Default> = OnceLock::new();

/// Truncations passed on to SQLite's cache, and those answered here.
static PASSED_ON: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);
/// Pages renumbered to at or past the end (the B-tree's temporary number).
static REKEYED_PAST_END: AtomicU64 = AtomicU64::new(0);

/// Puts the layer in front of SQLite's page cache for the whole process.
/// Must run before SQLite is first used (before any connection opens);
/// returns false, changing nothing, if SQLite was already initialised.
pub fn install() -> bool {
    if DEFAULT.get().is_some() {
        return false;
    }
    // SAFETY: `sqlite3_config` with GETPCACHE2 writes one methods struct
    // through the pointer; it fails (SQLITE_MISUSE) once SQLite is
    // initialised, and then nothing is changed.
    let mut default: ffi::sqlite3_pcache_methods2 = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_GETPCACHE2,
            &mut default as *mut ffi::sqlite3_pcache_methods2,
        )
    };
    if rc != ffi::SQLITE_OK || default.xCreate.is_none() {
        return false;
    }
    let ours = ffi::sqlite3_pcache_methods2 {
        iVersion: 1,
        pArg: default.pArg,
        xInit: default.xInit,
        xShutdown: default.xShutdown,
        xCreate: Some(create),
        xCachesize: Some(cachesize),
        xPagecount: Some(pagecount),
        xFetch: Some(fetch),
        xUnpin: Some(unpin),
        xRekey: Some(rekey),
        xTruncate: Some(truncate),
        xDestroy: Some(destroy),
        xShrink: Some(shrink),
    };
    if DEFAULT.set(Default(default)).is_err() {
        return false;
    }
    // SAFETY: SQLite copies the struct; every function in it is below.
    let rc = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_PCACHE2,
            &ours as *const ffi::sqlite3_pcache_methods2,
        )
    };
    rc == ffi::SQLITE_OK
}

/// What the layer has done so far in this process.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Truncations passed on to SQLite's cache.
    pub passed_on: u64,
    /// Truncations answered here: nothing past the limit to drop.
    pub skipped: u64,
    /// Pages renumbered to at or past the database's end.
    pub rekeyed_past_end: u64,
}

pub fn counts() -> Counts {
    Counts {
        passed_on: PASSED_ON.load(Ordering::Relaxed),
        skipped: SKIPPED.load(Ordering::Relaxed),
        rekeyed_past_end: REKEYED_PAST_END.load(Ordering::Relaxed),
    }
}

/// One connection's cache: SQLite's, plus what is needed to know when a
/// truncation has nothing to drop.
///
/// Invariant: every page SQLite's cache holds whose number is at least
/// `floor` is in `high` (`high` may also name pages already gone). Pages
/// enter the cache only through `xFetch` and change number only through
/// `xRekey`, and both record numbers at or above `floor`. `floor` is the
/// last truncation's limit: after a truncation passed on, no page at or
/// above it is left; after one skipped (limit at or above `floor`, no
/// recorded page at or above the limit), the pages at or above the new
/// floor were all in `high` and none was at or above the limit. Before the
/// first truncation `floor` is `c_uint::MAX`, so that truncation is passed
/// on.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// Read by the debug builds' check of each skipped truncation only.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    page_size: c_uint,
    floor: c_uint,
    high: BTreeSet<c_uint>,
}

fn default() -> &'static ffi::sqlite3_pcache_methods2 {
    // Our functions are only installed after DEFAULT is set.
    &DEFAULT.get().expect("page cache layer installed").0
}

/// SAFETY (for all below): SQLite calls these with the pointers our
/// `create` returned, from one connection at a time (a cache belongs to
/// one pager), so `&mut Cache` is exclusive; the default methods are all
/// present in SQLite's own cache.
unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a mut Cache {
    unsafe { &mut *(p as *mut Cache) }
}

unsafe extern "C" fn create(
    page_size: c_int,
    extra_size: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let Some(create) = default().xCreate else {
        return std::ptr::null_mut();
    };
    let inner = unsafe { create(page_size, extra_size, purgeable) };
    if inner.is_null() {
        return std::ptr::null_mut();
    }
    let cache = Box::new(Cache {
        inner,
        page_size: page_size.max(512) as c_uint,
        floor: c_uint::MAX,
        high: BTreeSet::new(),
    });
    Box::into_raw(cache) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, pages: c_int) {
    let c = unsafe { cache(p) };
    if let Some(f) = default().xCachesize {
        unsafe { f(c.inner, pages) }
    }
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    let c = unsafe { cache(p) };
    match default().xPagecount {
        Some(f) => unsafe { f(c.inner) },
        None => 0,
    }
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create_flag: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    let c = unsafe { cache(p) };
    let Some(f) = default().xFetch else {
        return std::ptr::null_mut();
    };
    let page = unsafe { f(c.inner, key, create_flag) };
    if !page.is_null() && key >= c.floor {
        c.high.insert(key);
    }
    page
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    let c = unsafe { cache(p) };
    if let Some(f) = default().xUnpin {
        unsafe { f(c.inner, page, discard) }
    }
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    let c = unsafe { cache(p) };
    if let Some(f) = default().xRekey {
        unsafe { f(c.inner, page, old, new) }
    }
    c.high.remove(&old);
    if new >= c.floor {
        c.high.insert(new);
        REKEYED_PAST_END.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let c = unsafe { cache(p) };
    let nothing_to_drop = limit >= c.floor && c.high.range(limit..).next().is_none();
    if nothing_to_drop {
        #[cfg(debug_assertions)]
        check_nothing_past(c, limit);
        SKIPPED.fetch_add(1, Ordering::Relaxed);
    } else {
        if let Some(f) = default().xTruncate {
            unsafe { f(c.inner, limit) }
        }
        PASSED_ON.fetch_add(1, Ordering::Relaxed);
    }
    c.floor = limit;
    c.high.clear();
}

/// Debug builds (all the tests) check a skipped truncation against SQLite's
/// cache itself: no page just past the limit, nor at the temporary number
/// B-tree splits use, may be cached. A wrong skip stops the process.
#[cfg(debug_assertions)]
fn check_nothing_past(c: &Cache, limit: c_uint) {
    const PENDING_BYTE: c_uint = 0x4000_0000;
    let Some(fetch) = default().xFetch else {
        return;
    };
    let temporary = PENDING_BYTE / c.page_size + 1;
    let probes = (limit..limit.saturating_add(256)).chain(Some(temporary).filter(|&k| k >= limit));
    for key in probes {
        // Only a page that is there is pinned by this; then we stop.
        if !unsafe { fetch(c.inner, key, 0) }.is_null() {
            eprintln!(
                "sqlite_page_cache: page {key} cached past the limit {limit} after a skipped truncation"
            );
            std::process::abort();
        }
    }
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: SQLite destroys a cache once, after its last use.
    let c = unsafe { Box::from_raw(p as *mut Cache) };
    if let Some(f) = default().xDestroy {
        unsafe { f(c.inner) }
    }
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    let c = unsafe { cache(p) };
    if let Some(f) = default().xShrink {
        unsafe { f(c.inner) }
    }
}
