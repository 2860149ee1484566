//! The page's files, embedded in the binary (the page loads nothing from the network): the
//! statistics page, the batch page, their scripts and style, and the vendored chart library
//! (uPlot, from the npm registry, with its licence). The files live in `assets/`, next to this
//! file; this list is the only place that names them.

/// One embedded file.
pub(crate) struct Asset {
    /// Its name under `/static/` (the pages have their own paths).
    pub(crate) name: &'static str,
    /// Its `Content-Type`.
    pub(crate) content_type: &'static str,
    /// Its bytes.
    pub(crate) bytes: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// The streaming statistics page (`/streaming/`).
pub(crate) const INDEX: Asset = Asset {
    name: "index.html",
    content_type: HTML,
    bytes: include_bytes!("assets/index.html"),
};

/// The batch page (`/streaming/batch/?id=<ms>`).
pub(crate) const BATCH: Asset = Asset {
    name: "batch.html",
    content_type: HTML,
    bytes: include_bytes!("assets/batch.html"),
};

/// The files served under `/static/`.
pub(crate) const STATIC: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: JS,
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        name: "batch.js",
        content_type: JS,
        bytes: include_bytes!("assets/batch.js"),
    },
    Asset {
        name: "style.css",
        content_type: CSS,
        bytes: include_bytes!("assets/style.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: JS,
        bytes: include_bytes!("assets/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: CSS,
        bytes: include_bytes!("assets/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE",
        content_type: TEXT,
        bytes: include_bytes!("assets/uPlot.LICENSE"),
    },
];

/// The file served as `/static/<name>`.
pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    STATIC.iter().find(|a| a.name == name)
}
