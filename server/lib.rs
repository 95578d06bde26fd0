//! Plenary: a server where the delegations of a parliamentary network co-draft
//! resolutions in real time, then amend, vote on and adopt them.
//!
//! Modules, in dependency order:
//! - [`ids`]: newtype identifiers (documents, log sequences, connections,
//!   accounts, meetings, delegations, resolutions, sessions).
//! - [`auth`], [`meetings`], [`resolutions`], [`versions`], [`amendments`],
//!   [`audit`]: the domain, its
//!   rules as plain functions, each with its HTTP routes in `routes.rs`.
//! - [`store`]: persistence; the [`store::Store`] (documents) and
//!   [`store::directory::Directory`] (records) traits, SQLite and PostgreSQL.
//! - [`sync`]: live documents over the y-websocket protocol (frames,
//!   awareness, the per-document task, connections).
//! - [`document`]: the body's schema, read into a neutral tree of blocks.
//! - [`export`]: the texts in every format a secretariat needs (Markdown,
//!   text, HTML, PDF, DOCX, Akoma Ntoso), meeting collections, compilations
//!   of amendments.
//! - [`demo`]: the demo meeting of `plenary serve --demo`.
//! - [`events`]: live notices (server-sent events) about a resolution's records.
//! - [`error`]: the HTTP error type (problem+json).
//! - [`config`]: the server's configuration.
//! - [`cluster`]: several nodes on one PostgreSQL (NOTIFY, catch-up by sequence).
//! - [`web`]: the browser client's bundle, embedded, served at `/`.
//! - [`app`]: the router and `serve`.
//! - [`cli`]: the command line.

pub mod amendments;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod document;
pub mod error;
pub mod events;
pub mod export;
pub mod ids;
pub mod meetings;
pub mod resolutions;
pub mod store;
pub mod sync;
pub mod versions;
pub mod web;
