//! The web UI a [`StreamingContext`] serves (see [`crate::ui`]): started by `start`, or earlier
//! by `get_or_create` when it restores a checkpoint (so that the restore's progress shows),
//! stopped by `stop`. Only the driver's process of a cluster serves it.

use std::sync::{Arc, Weak};

use crate::error::Result;
use crate::streaming::context::{Inner, StreamingContext};
use crate::sync::RecoverPoison;
use crate::ui::{App, UiServer};

impl StreamingContext {
    /// The URL of the web UI this context serves, e.g. `http://127.0.0.1:4040`, while it runs;
    /// `None` before the start, after the stop, with `spark.ui.enabled=false`, on the processes
    /// of a cluster other than the driver's, and when every port it may use was busy. The
    /// statistics page is at `<url>/streaming/`, Spark's REST API under
    /// `<url>/api/v1/applications`, and the Prometheus metrics at `<url>/metrics`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Conf, Duration};
    ///
    /// // Test contexts serve no UI unless asked; port 0 takes any free port.
    /// let conf = Conf::new()
    ///     .set_master("local[2]")
    ///     .set("spark.ui.enabled", "true")
    ///     .set("spark.ui.port", "0");
    /// let t = StreamTest::with_conf(conf, Duration::seconds(1))?;
    /// t.collect(&t.input(vec![vec![1, 2, 3]]))?;
    /// assert_eq!(t.context().ui_web_url(), None);
    /// t.run(1)?;
    /// let url = t.context().ui_web_url().expect("the UI runs");
    /// assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    /// assert_eq!(t.context().context().ui_web_url(), Some(url));
    /// t.stop()?;
    /// assert_eq!(t.context().ui_web_url(), None);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn ui_web_url(&self) -> Option<String> {
        self.inner
            .ui
            .lock()
            .recover()
            .as_ref()
            .map(|ui| ui.url().to_owned())
    }

    /// Starts the web UI unless it runs or is off (the setting, or a process of a cluster other
    /// than the driver's).
    pub(super) fn start_ui(&self) -> Result<()> {
        let ctx = &self.inner.ctx;
        if ctx.master().process() != 0 {
            return Ok(());
        }
        let mut ui = self.inner.ui.lock().recover();
        if ui.is_some() {
            return Ok(());
        }
        let conf = ctx.conf();
        let kill_enabled = crate::conf::settings::UI_KILL_ENABLED.get(conf)?;
        let app = App {
            id: ctx.application_id(),
            name: conf.app_name().to_owned(),
            start_time: ctx.start_time(),
            user: crate::ui::user(),
            kill_enabled,
        };
        // The server must not keep the context alive: it holds it weakly, for the kill.
        let kill = kill_enabled.then(|| {
            let weak: Weak<Inner> = Arc::downgrade(&self.inner);
            Box::new(move || {
                let Some(inner) = weak.upgrade() else { return };
                let ssc = StreamingContext { inner };
                // A graceful stop waits for the batches under way and stops this server: not
                // on the server's own thread.
                let spawned = std::thread::Builder::new()
                    .name("ember-ui-kill".into())
                    .spawn(move || {
                        tracing::info!("stopping the stream: asked by the web UI");
                        if let Err(e) = ssc.stop(false, true) {
                            tracing::error!("the web UI's stop failed: {e}");
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!("the web UI's stop could not start: {e}");
                }
            }) as crate::ui::Kill
        });
        *ui = UiServer::start(conf, app, self.inner.status.clone(), kill)?;
        ctx.set_ui_web_url(ui.as_ref().map(|s| s.url().to_owned()));
        Ok(())
    }

    /// Stops the web UI if it runs.
    pub(super) fn stop_ui(&self) {
        let ui = self.inner.ui.lock().recover().take();
        if let Some(ui) = ui {
            ui.stop();
            self.inner.ctx.set_ui_web_url(None);
        }
    }
}
