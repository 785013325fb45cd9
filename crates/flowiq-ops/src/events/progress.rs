//! Progress on stderr for long runs, only when stderr is a terminal (never in logs or pipes):
//! indicatif's bars, hidden otherwise. They show counts and states only: no ids, numbers or
//! text.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Runs shorter than this get no bar.
const MIN_ITEMS: u64 = 20;

/// A bar counting `total` items as they are done (`verb` names the work).
pub fn bar(total: u64, verb: &str) -> ProgressBar {
    let template = format!("{verb} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})");
    styled(ProgressBar::new(total), total >= MIN_ITEMS, &template)
}

/// A spinner with a message, for a wait of unknown length (an Athena query).
pub fn spinner(what: &str) -> ProgressBar {
    let template = format!("{{spinner}} {what}: {{msg}}");
    let spinner = styled(ProgressBar::new_spinner(), true, &template);
    if !spinner.is_hidden() {
        spinner.enable_steady_tick(Duration::from_millis(120));
    }
    spinner
}

fn styled(bar: ProgressBar, wanted: bool, template: &str) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
