//! `--ui-port N` and `--no-ui`: the web UI of the commands that run a stream (`ember wordcount`,
//! `ember sql`), declared once. They set Spark's settings (`spark.ui.port`, `spark.ui.enabled`),
//! after any `--conf`, so the flag wins.

use ember::Conf;
use ember::conf::settings;

/// Where the command's web UI listens, or that it has none.
#[derive(clap::Args, Debug, Clone)]
pub struct UiArgs {
    /// Port of the web UI (statistics page, Spark's REST API, /metrics); the next ones are
    /// tried if it is busy, and 0 takes any free port. Default 4040.
    #[arg(long, value_name = "N", conflicts_with = "no_ui")]
    pub ui_port: Option<u16>,
    /// Serve no web UI (`spark.ui.enabled=false`).
    #[arg(long)]
    pub no_ui: bool,
}

impl UiArgs {
    /// `conf` with the flags' settings.
    pub fn apply(&self, mut conf: Conf) -> Conf {
        if self.no_ui {
            conf = conf.set(settings::UI_ENABLED.key(), "false");
        }
        if let Some(port) = self.ui_port {
            conf = conf.set(settings::UI_PORT.key(), &port.to_string());
        }
        conf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_set_spark_settings() {
        let flags = |ui_port, no_ui| UiArgs { ui_port, no_ui };
        let conf = flags(Some(0), false).apply(Conf::new().set("spark.ui.port", "5000"));
        assert_eq!(conf.get("spark.ui.port"), Some("0"));
        assert_eq!(conf.get("spark.ui.enabled"), None);
        let conf = flags(None, true).apply(Conf::new());
        assert_eq!(conf.get("spark.ui.enabled"), Some("false"));
        assert_eq!(flags(None, false).apply(Conf::new()), Conf::new());
    }
}
