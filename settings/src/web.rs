//! Where a service answers: `--listen` and `--web-config-file` (TLS and
//! basic auth, exporter-toolkit style), with their environment variables
//! and config-file keys.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::file::{CommonConfig, ConfigError};
use crate::source::Env;
use crate::{ENV_LISTEN, ENV_WEB_CONFIG_FILE};

/// The flags of a serving process.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct WebArgs {
    /// Address to serve on [env: MOTCUA_LISTEN] [default: `listen` in the config file,
    /// else 0.0.0.0:9745 for the exporter and 0.0.0.0:9746 for the chart service]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Web config file (exporter-toolkit YAML: tls_server_config, basic_auth_users) for
    /// HTTPS and basic auth [env: MOTCUA_WEB_CONFIG_FILE] [default: `web_config_file` in the
    /// config file, else plain HTTP]
    #[arg(long, value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
}

/// Where to serve, after flags, environment, file and the service's default.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSettings {
    pub listen: SocketAddr,
    pub web_config_file: Option<PathBuf>,
}

impl WebSettings {
    pub fn resolve(
        args: &WebArgs,
        env: Env<'_>,
        file: &CommonConfig,
        default_listen: SocketAddr,
    ) -> Result<WebSettings, ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let listen = match (args.listen, env(ENV_LISTEN)) {
            (Some(a), _) => a,
            (None, Some(v)) => v.trim().parse().map_err(|e| ConfigError::Value {
                origin: ENV_LISTEN.to_owned(),
                message: format!(
                    "{v:?} is not an address like 0.0.0.0:{} ({e})",
                    default_listen.port()
                ),
            })?,
            (None, None) => file.listen.unwrap_or(default_listen),
        };
        let web_config_file = args
            .web_config_file
            .clone()
            .or_else(|| env(ENV_WEB_CONFIG_FILE).map(PathBuf::from))
            .or_else(|| file.web_config_file.clone());
        Ok(WebSettings {
            listen,
            web_config_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let default: SocketAddr = "0.0.0.0:9746".parse().unwrap();
        let file = CommonConfig {
            listen: Some("127.0.0.1:3".parse().unwrap()),
            web_config_file: Some("file.yml".into()),
            ..CommonConfig::default()
        };
        let env = |k: &str| match k {
            ENV_LISTEN => Some("127.0.0.1:2".to_owned()),
            ENV_WEB_CONFIG_FILE => Some("env.yml".to_owned()),
            _ => None,
        };
        let none = |_: &str| None;
        let flags = WebArgs {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            web_config_file: Some("flag.yml".into()),
        };
        let s = WebSettings::resolve(&flags, &env, &file, default).unwrap();
        assert_eq!(
            (s.listen.port(), s.web_config_file),
            (1, Some("flag.yml".into()))
        );
        let s = WebSettings::resolve(&WebArgs::default(), &env, &file, default).unwrap();
        assert_eq!(
            (s.listen.port(), s.web_config_file),
            (2, Some("env.yml".into()))
        );
        let s = WebSettings::resolve(&WebArgs::default(), &none, &file, default).unwrap();
        assert_eq!(
            (s.listen.port(), s.web_config_file),
            (3, Some("file.yml".into()))
        );
        let s = WebSettings::resolve(
            &WebArgs::default(),
            &none,
            &CommonConfig::default(),
            default,
        )
        .unwrap();
        assert_eq!((s.listen, s.web_config_file), (default, None));
        let bad = |k: &str| (k == ENV_LISTEN).then(|| "nowhere".to_owned());
        let msg = WebSettings::resolve(&WebArgs::default(), &bad, &file, default)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("MOTCUA_LISTEN: \"nowhere\" is not an address like 0.0.0.0:9746"),
            "{msg}"
        );
    }
}
