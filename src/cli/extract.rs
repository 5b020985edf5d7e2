//! `eksaudit extract`: field values per event, as JSON lines.

use std::io::Write;

use anyhow::{Context, Result};
use eksaudit::fields::{
    ArgKind, FIELDS, FieldId, FieldRequest, OwnedArg, Provider, Value, extract,
};

use super::inputs::InputArgs;
use super::{Outcome, output};

/// Arguments of `eksaudit extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A field to print, e.g. `ka.user.name`, `ka.uri.param[command]` or
    /// `jevt.value[/sourceIPs/0]`. Repeat for several. Default: every ka.*, eks.* and
    /// json.rawtime field that needs no argument.
    #[arg(short = 'f', long = "field", value_name = "FIELD")]
    fields: Vec<String>,

    #[command(flatten)]
    input: InputArgs,
}

/// The default selection: everything a rule author can read without an argument,
/// without the json plugin's aliases and its whole-event dump.
fn default_requests() -> Vec<FieldRequest> {
    FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| f.arg != ArgKind::RequiredKey)
        .filter(|(_, f)| f.provider == Provider::Plugin || f.name == "json.rawtime")
        .map(|(i, _)| FieldRequest {
            field: FieldId(i),
            arg: OwnedArg::None,
        })
        .collect()
}

pub fn run(args: Args) -> Result<Outcome> {
    let requests = if args.fields.is_empty() {
        default_requests()
    } else {
        args.fields
            .iter()
            .map(|f| FieldRequest::parse(f).with_context(|| format!("--field {f}")))
            .collect::<Result<_>>()?
    };
    if args.input.nothing_to_read() {
        anyhow::bail!(
            "no input: give audit log FILEs or directories, or pipe events on stdin (see --help)"
        );
    }
    let names: Vec<String> = requests.iter().map(FieldRequest::display).collect();
    let mut out = output::stdout();
    let mut decoder = args.input.open()?;
    for item in decoder.by_ref() {
        // Decode errors were logged (with their location) as they happened.
        let Ok(decoded) = item else { continue };
        let view = decoded.event.view();
        out.write_all(b"{")?;
        let mut first = true;
        for (request, name) in requests.iter().zip(&names) {
            let value = match extract(&view, request.field, request.arg.as_arg()) {
                Ok(Some(value)) => value,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(location = %decoded.location, field = name.as_str(), "Extraction failed: {e}");
                    continue;
                }
            };
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            output::lossy_json_string(&mut out, name.as_bytes())?;
            out.write_all(b":")?;
            write_value(&mut out, &value)?;
        }
        out.write_all(b"}\n")?;
    }
    out.flush()?;
    let stats = decoder.stats();
    if stats.total_errors() > 0 {
        eprintln!(
            "eksaudit: {} events, {} input problems ({})",
            stats.events,
            stats.total_errors(),
            stats
                .errors_by_kind()
                .map(|(k, n)| format!("{}: {n}", k.label()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(Outcome::Problems);
    }
    Ok(Outcome::Clean)
}

fn write_value(out: &mut impl Write, value: &Value<'_>) -> std::io::Result<()> {
    match value {
        Value::One(s) => output::lossy_json_string(out, s),
        Value::List(items) => {
            out.write_all(b"[")?;
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                output::lossy_json_string(out, s)?;
            }
            out.write_all(b"]")
        }
    }
}
