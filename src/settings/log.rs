//! `[log]`, shared by both services: output format and default filter.

use serde::Deserialize;

use super::{SettingsError, key_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// tracing `EnvFilter` syntax; `RUST_LOG` overrides it.
    pub level: String,
}

/// `[log]` as written: `format` is matched by hand so its error names the key.
#[derive(Deserialize)]
pub(crate) struct RawLog {
    format: String,
    level: String,
}

impl RawLog {
    pub(crate) fn validate(self) -> Result<LogSettings, SettingsError> {
        let format = match self.format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(key_error(
                    "log.format",
                    format!("is unknown: {other:?} (expected \"pretty\" or \"json\")"),
                ));
            }
        };
        Ok(LogSettings {
            format,
            level: self.level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(format: &str) -> RawLog {
        RawLog {
            format: format.into(),
            level: "info".into(),
        }
    }

    #[test]
    fn good_and_bad_format() {
        let s = log("json").validate().unwrap();
        assert_eq!((s.format, s.level.as_str()), (LogFormat::Json, "info"));
        assert_eq!(log("pretty").validate().unwrap().format, LogFormat::Pretty);
        assert_eq!(
            log("xml").validate().unwrap_err().to_string(),
            "configuration: `log.format` is unknown: \"xml\" (expected \"pretty\" or \"json\")"
        );
    }
}
