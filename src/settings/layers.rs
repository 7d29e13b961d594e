//! The configuration layers both services load (later wins): embedded
//! defaults, the optional `--config` file, then `{PREFIX}__SECTION__KEY`
//! environment variables (stack pitfall 8: the prefix separator is `__` too).

use std::path::Path;

use super::SettingsError;

/// Deserialize `T` from the layers: embedded `defaults`, the optional file,
/// then `{prefix}__SECTION__KEY` variables taken from `env` (tests pass their
/// own, so a variable of the other service never leaks in).
pub(crate) fn load_layers<T: serde::de::DeserializeOwned>(
    defaults: &str,
    prefix: &str,
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(defaults, config::FileFormat::Toml));
    if let Some(path) = config_file {
        if !path.is_file() {
            return Err(SettingsError(format!(
                "config file {} does not exist",
                path.display()
            )));
        }
        builder = builder.add_source(
            config::File::from(path)
                .format(config::FileFormat::Toml)
                .required(true),
        );
    }
    let wanted = format!("{prefix}__");
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&wanted))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix(prefix)
            .separator("__")
            .prefix_separator("__")
            .try_parsing(true)
            .source(Some(env)),
    );
    builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| SettingsError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        a: u32,
        section: Section,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Section {
        key: String,
    }

    const DEFAULTS: &str = "a = 1\n[section]\nkey = \"default\"\n";

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn later_layers_win_and_other_prefixes_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "a = 2\n[section]\nkey = \"file\"\n").unwrap();
        let doc: Doc = load_layers(
            DEFAULTS,
            "PFX",
            Some(&file),
            env(&[("PFX__SECTION__KEY", "env"), ("PFX_OTHER__A", "9")]),
        )
        .unwrap();
        assert_eq!(
            doc,
            Doc {
                a: 2,
                section: Section { key: "env".into() }
            }
        );
    }

    #[test]
    fn a_missing_file_is_named_and_a_bad_value_names_its_key() {
        let err = load_layers::<Doc>(DEFAULTS, "PFX", Some(Path::new("/nonexistent.toml")), [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent.toml"), "{err}");
        let err = load_layers::<Doc>(DEFAULTS, "PFX", None, env(&[("PFX__A", "-1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`a`"), "{err}");
    }
}
