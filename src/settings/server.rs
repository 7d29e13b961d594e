//! `[server]`, shared by both services: the socket address to listen on.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{SettingsError, key_error};

/// `[server]` as written: `bind` is parsed by hand so its error names the key.
#[derive(Deserialize)]
pub(crate) struct RawServer {
    bind: String,
}

impl RawServer {
    /// The bind address; `example` is the service's own default, shown in
    /// the error.
    pub(crate) fn validate(self, example: &str) -> Result<SocketAddr, SettingsError> {
        self.bind.trim().parse().map_err(|_| {
            key_error(
                "server.bind",
                format!(
                    "is not a socket address: {:?} (expected IP:PORT, e.g. {example})",
                    self.bind
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(bind: &str) -> RawServer {
        RawServer { bind: bind.into() }
    }

    #[test]
    fn good_and_bad_bind() {
        assert_eq!(
            server(" 0.0.0.0:9000 ")
                .validate("127.0.0.1:8080")
                .unwrap()
                .to_string(),
            "0.0.0.0:9000"
        );
        assert_eq!(
            server("localhost")
                .validate("127.0.0.1:8080")
                .unwrap_err()
                .to_string(),
            "configuration: `server.bind` is not a socket address: \"localhost\" \
             (expected IP:PORT, e.g. 127.0.0.1:8080)"
        );
        assert!(server("127.0.0.1:99999").validate("x").is_err());
    }
}
