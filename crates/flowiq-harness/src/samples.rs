//! The sample invoke events in events/ (a FlowIQ delivery per event type and platform, through
//! API Gateway v1 and v2, stages, custom domains and a function URL), as tests read them.

use serde_json::Value;

/// The repository's events/.
pub const SAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");

/// The file names of every sample of a delivery: each `*.json` of events/ but the stream record,
/// sorted.
pub fn delivery_sample_files() -> Vec<String> {
    let entries = std::fs::read_dir(SAMPLES_DIR).unwrap_or_else(|e| panic!("{SAMPLES_DIR}: {e}"));
    let mut files: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") && name != "dynamodb-stream.json")
        .collect();
    files.sort();
    files
}

/// The sample event `file` of events/, as JSON.
pub fn sample(file: &str) -> Value {
    let path = format!("{SAMPLES_DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
