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
}

impl Config {
    /// A configuration for tests and embedding: defaults, on `database_url`.
    pub fn new(bind: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            bind,
            database_url: database_url.into(),
            room: RoomConfig::default(),
            connection: ConnectionConfig::default(),
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
