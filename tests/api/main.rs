//! End-to-end tests of the HTTP API: each test starts the real server on its
//! own SQLite file and talks to it over HTTP, as the web pages and API
//! clients do. The CLI tests run the real binary.

mod helpers;

mod access;
mod accounts;
mod checkin;
mod cli;
mod cluster;
mod console;
mod errors;
mod flags;
mod imports;
mod live;
mod members;
mod ops;
mod points;
mod postgres;
mod public;
mod scope;
mod sessions;
mod slow;
mod units;

// After the session: reports, make-up, webhooks, retention.
mod crash;
mod makeup;
mod reports;
mod retention;
mod webhooks;
