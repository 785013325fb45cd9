//! A progress bar for long runs, on stderr, only when stderr is a terminal (never in logs or
//! pipes). It shows counts only: no ids, numbers or text.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};

/// Runs shorter than this get no bar.
const MIN_ITEMS: u64 = 20;

pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new(total: u64, verb: &str) -> Self {
        if total < MIN_ITEMS || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        let template = format!("{verb} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        Progress(Some(bar))
    }

    /// No bar at all (tests, dry runs).
    pub fn hidden() -> Self {
        Progress(None)
    }

    pub fn advance(&self, items: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(items);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// A spinner with a message, for a wait of unknown length (an Athena query): on stderr, only when
/// stderr is a terminal.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub fn new(what: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        let template = format!("{{spinner}} {what}: {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(bar))
    }

    pub fn show(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.to_owned());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
