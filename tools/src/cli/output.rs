//! What every subcommand shares on the way out: exit codes, errors, `--json`,
//! record formats and progress bars.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::io::{IsTerminal, Write};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command failed (I/O, server error, stream not found, ...).
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad arguments (the same code clap uses for usage errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: `verify` found damage (or `repair` found damage it cannot fix).
pub const EXIT_DAMAGE: u8 = 3;

/// A failed command: the message for stderr and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// One of the `EXIT_*` codes.
    pub exit: u8,
    /// What went wrong, for a person.
    pub message: String,
}

impl CliError {
    /// A failure of the command itself.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError {
            exit: EXIT_ERROR,
            message: message.into(),
        }
    }

    /// Writing records failed. A reader that went away (`| head`) is not a
    /// failure: the command stops quietly with success.
    pub fn output(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError {
                exit: EXIT_OK,
                message: String::new(),
            };
        }
        CliError::failed(format!("writing the output: {error}"))
    }

    /// Arguments that do not make sense together (beyond what clap checks).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: EXIT_USAGE,
            message: message.into(),
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::failed(message)
    }
}

impl From<crate::client::ClientError> for CliError {
    fn from(error: crate::client::ClientError) -> Self {
        CliError::failed(error.to_string())
    }
}

/// The result of a subcommand.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Prints a JSON value on stdout, pretty, followed by a newline.
pub fn print_json(value: &serde_json::Value) -> CliResult {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    write_stdout(format_args!("{text}\n"))
}

/// Writes to stdout. A reader that went away (`| head`) loses the rest of the
/// text, not the command's outcome: that is not an error; any other is.
pub fn write_stdout(text: std::fmt::Arguments<'_>) -> CliResult {
    match std::io::stdout().lock().write_fmt(text) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::failed(format!("writing to stdout: {error}")))
        }
        _ => Ok(()),
    }
}

/// `println!` that returns an error instead of panicking when stdout fails.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// How records are written by `tail` and `replay`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFormat {
    /// The payload bytes as they are, each followed by a newline.
    Raw,
    /// One JSON object a line: shard_id, sequence_number, arrival_ms,
    /// partition_key and data (base64).
    Jsonl,
    /// The payload in lowercase hex, one record a line.
    Hex,
}

/// One record on its way out.
#[derive(Debug, Clone, Copy)]
pub struct OutRecord<'a> {
    /// The shard it was read from.
    pub shard_id: &'a str,
    /// Its sequence number.
    pub sequence_number: &'a str,
    /// Arrival time, ms since the epoch.
    pub arrival_ms: u64,
    /// Partition key.
    pub partition_key: &'a str,
    /// Payload.
    pub data: &'a [u8],
}

/// Writes records in one format, reusing its buffers: no allocation per record.
#[derive(Debug)]
pub struct RecordWriter {
    format: RecordFormat,
    scratch: Vec<u8>,
}

impl RecordWriter {
    /// A writer of `format`.
    pub fn new(format: RecordFormat) -> Self {
        RecordWriter {
            format,
            scratch: Vec::new(),
        }
    }

    /// Writes one record.
    pub fn write(&mut self, out: &mut impl Write, record: &OutRecord<'_>) -> std::io::Result<()> {
        let scratch = &mut self.scratch;
        scratch.clear();
        match self.format {
            RecordFormat::Raw => {
                out.write_all(record.data)?;
                return out.write_all(b"\n");
            }
            RecordFormat::Jsonl => {
                // Field by field rather than through a map: replay writes millions.
                scratch.extend_from_slice(b"{\"shard_id\":");
                serde_json::to_writer(&mut *scratch, record.shard_id)?;
                scratch.extend_from_slice(b",\"sequence_number\":");
                serde_json::to_writer(&mut *scratch, record.sequence_number)?;
                scratch.extend_from_slice(b",\"arrival_ms\":");
                scratch.extend_from_slice(record.arrival_ms.to_string().as_bytes());
                scratch.extend_from_slice(b",\"partition_key\":");
                serde_json::to_writer(&mut *scratch, record.partition_key)?;
                scratch.extend_from_slice(b",\"data\":\"");
                let at = scratch.len();
                scratch.resize(
                    at + base64::encoded_len(record.data.len(), true).unwrap_or(0),
                    0,
                );
                let written = STANDARD
                    .encode_slice(record.data, &mut scratch[at..])
                    .map_err(std::io::Error::other)?;
                scratch.truncate(at + written);
                scratch.extend_from_slice(b"\"}\n");
            }
            RecordFormat::Hex => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                scratch.reserve(record.data.len() * 2 + 1);
                for byte in record.data {
                    scratch.push(DIGITS[usize::from(byte >> 4)]);
                    scratch.push(DIGITS[usize::from(byte & 15)]);
                }
                scratch.push(b'\n');
            }
        }
        out.write_all(scratch)
    }
}

/// A progress bar on stderr when it is a terminal, hidden otherwise (so that
/// scripts and logs see none). `total_bytes` of `None` draws a spinner.
pub fn progress_bar(total_bytes: Option<u64>, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total_bytes {
        Some(total) => {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("template is valid")
            .progress_chars("=> ");
            bar.with_style(style)
        }
        None => {
            let style =
                indicatif::ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
                    .expect("template is valid");
            indicatif::ProgressBar::new_spinner().with_style(style)
        }
    };
    bar.set_message(what.to_string());
    bar
}

/// Milliseconds since the epoch from `1700000000000` or an RFC 3339 time such
/// as `2026-11-22T05:00:00Z`, `2026-11-22T05:00:00.250Z` or `...+01:00`.
pub fn parse_time_ms(text: &str) -> Result<u64, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("'{text}' is too large for a time in ms"));
    }
    let bad =
        || format!("'{text}' is not a time: give ms since the epoch or YYYY-MM-DDTHH:MM:SS[.mmm]Z");
    let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| bad())?;
    u64::try_from(time.timestamp_millis()).map_err(|_| format!("'{text}' is before 1970"))
}

#[cfg(test)]
mod tests {
    //! Time parsing and record formats.
    use super::*;

    /// Both time forms give ms since the epoch; nonsense is an error.
    #[test]
    fn times_parse() {
        assert_eq!(parse_time_ms("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_time_ms("2023-11-14T22:13:20.5Z").unwrap(),
            1_700_000_000_500
        );
        assert_eq!(
            parse_time_ms("2024-02-29T00:00:01.007Z").unwrap(),
            1_709_164_801_007
        );
        assert_eq!(
            parse_time_ms("2024-02-29T01:00:01.007+01:00").unwrap(),
            1_709_164_801_007
        );
        for bad in [
            "",
            "yesterday",
            "2023-11-14T22:13:20",
            "2023-13-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_time_ms(bad).is_err(), "{bad}");
        }
    }

    /// Each format writes the fields it promises.
    #[test]
    fn record_formats() {
        let record = OutRecord {
            shard_id: "shardId-000000000000",
            sequence_number: "42",
            arrival_ms: 7,
            partition_key: "k\"\u{1}",
            data: b"\x01hi",
        };
        let written = |format| {
            let mut out = Vec::new();
            let mut writer = RecordWriter::new(format);
            writer.write(&mut out, &record).unwrap();
            // The buffers are reused: a second record comes out the same.
            writer.write(&mut out, &record).unwrap();
            let (first, second) = out.split_at(out.len() / 2);
            assert_eq!(first, second);
            first.to_vec()
        };
        assert_eq!(written(RecordFormat::Raw), b"\x01hi\n");
        assert_eq!(written(RecordFormat::Hex), b"016869\n");
        let json = written(RecordFormat::Jsonl);
        assert!(json.starts_with(b"{\"shard_id\":\"shardId-000000000000\",\"sequence_number\""));
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["data"], "AWhp");
        assert_eq!(value["sequence_number"], "42");
        assert_eq!(value["arrival_ms"], 7);
        assert_eq!(value["partition_key"], "k\"\u{1}");
    }
}
