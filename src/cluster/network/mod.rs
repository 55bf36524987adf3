//! How nodes talk: length-prefixed frames ([`frame`]), optional mutual TLS
//! ([`peer_tls`]), a shared-secret handshake ([`auth`]), the request and response messages ([`rpc`]), the TCP client openraft drives
//! ([`tcp`]) with its byte bound on append requests ([`batch`]) and the cluster port's
//! server ([`listener`]).

pub mod auth;
pub mod batch;
pub mod frame;
pub mod listener;
pub mod peer_tls;
pub mod rpc;
pub mod tcp;
