//! Plenary: a server where the delegations of a parliamentary network co-draft
//! resolutions in real time, then amend, vote on and adopt them.
//!
//! Modules, in dependency order:
//! - [`ids`]: newtype identifiers (documents, log sequences, connections).
//! - [`store`]: persistence; the [`store::Store`] trait, SQLite and PostgreSQL.
//! - [`sync`]: live documents over the y-websocket protocol (frames,
//!   awareness, the per-document task, connections).
//! - [`error`]: the HTTP error type (problem+json).
//! - [`config`]: the server's configuration.
//! - [`app`]: the router and `serve`.
//! - [`cli`]: the command line.

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod ids;
pub mod store;
pub mod sync;
