//! End-to-end tests: the built binary (or the library's server) over real
//! sockets, with the npm `yjs`/`y-websocket` client and a Rust yrs client.

mod support;

mod amendments;
mod cluster;
mod crash;
mod durability;
mod export;
mod history;
mod interop;
mod malformed;
mod permissions;
mod randomized;
mod reliability;
mod storage;
mod versions;
