//! The statuskit reference service: a small but real API built only on the `statuskit` library,
//! where every row of the status contract can be seen with curl.

pub mod admin;
pub mod admin_cli;
pub mod app;
pub mod auth;
pub mod avatars;
pub mod caching;
pub mod call_cli;
pub mod config;
pub mod customers;
pub mod docs;
pub mod docs_cli;
pub mod error;
pub mod faults;
pub mod faults_admin;
pub mod health;
pub mod images;
pub mod logging;
pub mod maintenance;
pub mod openapi;
pub mod operations;
pub mod probe_cli;
pub mod retired;
pub mod serve;
pub mod state;
pub mod store;
pub mod worker;
