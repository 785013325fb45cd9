//! The exit codes of the three operator binaries, one family: a number means the same thing in
//! `flowiq-events`, `flowiq-bootstrap` and `flowiq-provision`, so a script reacts to it the same
//! way whichever tool it ran. docs/operations.md#exit-codes is the one source of what each code
//! means and of which binary uses it: compiled in, its table gives each binary's `--help` its
//! list ([`Tool::exit_codes_help`]), and a test keeps it equal to [`ExitStatus`].

use std::io::Write as _;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    Success = 0,
    /// A bug or an environment problem.
    Unexpected = 1,
    /// Nothing was read, sent or changed.
    Usage = 2,
    NotFound = 3,
    /// Some of the work was refused or not done; what was done is printed.
    Incomplete = 4,
    Unreachable = 5,
    Aws = 6,
    KeyRejected = 7,
    Differs = 8,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// A binary's end: `output` written on stdout (a failure to, such as a closed pipe, exits
/// [`ExitStatus::Unexpected`]), then the run's error on stderr and its exit code.
pub fn finish(output: &str, error: Option<(&dyn std::fmt::Display, ExitStatus)>) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("error: cannot write to stdout: {e}");
        return ExitStatus::Unexpected.into();
    }
    let Some((error, status)) = error else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {error}");
    status.into()
}

/// The operator binaries, in the order of the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Events,
    Bootstrap,
    Provision,
}

impl Tool {
    /// The exit-code list `--help` prints: the rows of the codes this binary uses.
    pub fn exit_codes_help(self) -> String {
        let doc = include_str!("../../../docs/operations.md");
        let rows = markdown_table(doc, "## Exit codes").into_iter();
        let used = rows.filter(|row| row.get(2 + self as usize) == Some(&"✓"));
        let lines = used.map(|row| format!("  {}  {}\n", row[0], row[1]));
        lines.fold(
            "Exit codes (docs/operations.md#exit-codes):\n".to_owned(),
            |help, line| help + &line,
        )
    }
}

/// The cells of each row of the first table after `heading` in a markdown document.
fn markdown_table<'a>(doc: &'a str, heading: &str) -> Vec<Vec<&'a str>> {
    let section = doc.split(heading).nth(1).unwrap_or_default();
    (section.lines())
        .skip_while(|line| !line.starts_with("|---"))
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ExitStatus; 9] = [
        ExitStatus::Success,
        ExitStatus::Unexpected,
        ExitStatus::Usage,
        ExitStatus::NotFound,
        ExitStatus::Incomplete,
        ExitStatus::Unreachable,
        ExitStatus::Aws,
        ExitStatus::KeyRejected,
        ExitStatus::Differs,
    ];

    /// docs/operations.md's table has one row per code, in order, each with a meaning and a
    /// mark (or none) per binary; every binary may succeed and fail unexpectedly.
    #[test]
    fn the_documented_table_has_every_code() {
        let rows = markdown_table(include_str!("../../../docs/operations.md"), "## Exit codes");
        let codes: Vec<String> = rows.iter().map(|row| row[0].to_owned()).collect();
        let expected: Vec<String> = ALL.iter().map(|s| s.code().to_string()).collect();
        assert_eq!(codes, expected);
        for row in &rows {
            assert_eq!(row.len(), 5, "{row:?}");
            assert!(row[1].len() > 20, "{row:?}");
            assert!(
                row[2..].iter().all(|mark| ["✓", ""].contains(mark)),
                "{row:?}"
            );
        }
        for tool in [Tool::Events, Tool::Bootstrap, Tool::Provision] {
            let help = tool.exit_codes_help();
            assert!(
                help.contains("  0  success: everything asked for was done"),
                "{help}"
            );
            assert!(help.contains("  1  unexpected error: a bug"), "{help}");
            assert!(help.contains("  2  usage or configuration error"), "{help}");
        }
        let bootstrap = Tool::Bootstrap.exit_codes_help();
        assert!(bootstrap.contains("  7  FlowIQ rejected the API key (HTTP 401 or 403)"));
        assert!(
            !bootstrap.contains("  3  ") && !bootstrap.contains("  8  "),
            "{bootstrap}"
        );
        let provision = Tool::Provision.exit_codes_help();
        assert!(provision.contains("  8  a deployed resource differs from template.yaml"));
    }

    /// docs/bootstrap.md says what gives each of the bootstrap's codes: exactly the codes
    /// docs/operations.md marks as the bootstrap's.
    #[test]
    fn the_bootstrap_documents_its_codes() {
        let rows = markdown_table(include_str!("../../../docs/bootstrap.md"), "## Exit codes");
        let mut documented: Vec<u8> = rows.iter().map(|row| row[0].parse().unwrap()).collect();
        documented.sort_unstable();
        let help = Tool::Bootstrap.exit_codes_help();
        let used: Vec<u8> = (help.lines().skip(1))
            .map(|line| line.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(documented, used);
        assert_eq!(used, [0, 1, 2, 4, 5, 6, 7]);
    }
}
