//! The server's configuration, as read from the command line and `PLENARY_*`
//! variables (see `cli.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::sync::connection::ConnectionConfig;
use crate::sync::room::RoomConfig;

/// Everything `plenary serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub bind: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Tunables of each open document.
    pub room: RoomConfig,
    /// Tunables of each websocket.
    pub connection: ConnectionConfig,
    /// Rate and count limits per account and connection.
    pub limits: Limits,
    /// How long a session lasts.
    pub session_lifetime: std::time::Duration,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// On a database with no account: the secretariat account to create
    /// (email, password), from `PLENARY_ADMIN_EMAIL` and `PLENARY_ADMIN_PASSWORD`.
    pub admin: Option<(String, String)>,
}

/// Limits per account and per connection (never per IP address alone: a
/// whole delegation sits behind one venue address).
#[derive(Debug, Clone)]
pub struct Limits {
    /// API requests per second per account (sustained).
    pub api_per_second: u32,
    /// API requests an account may burst.
    pub api_burst: u32,
    /// Websocket frames per second, per connection and per account.
    pub sync_messages_per_second: u32,
    /// Websocket frames a connection (or account) may burst.
    pub sync_burst: u32,
    /// Websocket connections one account may hold at once.
    pub connections_per_account: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            api_per_second: 20,
            api_burst: 100,
            sync_messages_per_second: 200,
            sync_burst: 2000,
            connections_per_account: 64,
        }
    }
}

impl Config {
    /// A configuration for tests and embedding: defaults, on `database_url`.
    pub fn new(bind: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            bind,
            database_url: database_url.into(),
            room: RoomConfig::default(),
            connection: ConnectionConfig::default(),
            limits: Limits::default(),
            session_lifetime: std::time::Duration::from_secs(14 * 24 * 3600),
            secure_cookies: false,
            admin: None,
        }
    }
}

/// The database URL to use: the one given, else a SQLite file in `data`
/// (created if needed).
pub fn database_url(explicit: Option<&str>, data: &Path) -> std::io::Result<String> {
    if let Some(url) = explicit {
        return Ok(url.to_owned());
    }
    std::fs::create_dir_all(data)?;
    let file: PathBuf = data.join("plenary.db");
    Ok(format!("sqlite://{}", file.display()))
}
