//! `eksaudit fields`: the field table, for people and for tools.

use std::io::Write;

use anyhow::Result;
use eksaudit::fields::{ArgKind, FIELDS, FieldInfo, Provider};
use serde_json::json;

use super::{Outcome, output};

/// Arguments of `eksaudit fields`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array (name, type, isList, arg, desc, provider), in the shape of a
    /// Falco plugin's field list.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let mut out = output::stdout();
    if args.json {
        let list: Vec<_> = FIELDS.iter().map(field_json).collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else {
        write_table(&mut out)?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

fn field_json(f: &FieldInfo) -> serde_json::Value {
    let arg = match f.arg {
        ArgKind::None => serde_json::Value::Null,
        ArgKind::RequiredKey => json!({"isKey": true, "isRequired": true}),
        ArgKind::OptionalIndex => json!({"isIndex": true}),
    };
    json!({
        "name": f.name,
        "type": "string",
        "isList": f.list,
        "arg": arg,
        "desc": f.description,
        "provider": provider_name(f.provider),
    })
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Plugin => "plugin",
        Provider::JsonPlugin => "json-plugin",
    }
}

fn group_title(name: &str) -> &'static str {
    if name.starts_with("ka.") {
        "ka.* -- Kubernetes audit fields, as Falco's k8saudit plugin 0.18.0 defines them (exported by the plugin)"
    } else if name.starts_with("eks.") {
        "eks.* -- where the event came from and which AWS principal made the call (exported by the plugin)"
    } else {
        "json.* / jevt.* -- Falco's json plugin fields (eksaudit's rule engine only; in Falco, load the json plugin)"
    }
}

fn write_table(out: &mut impl Write) -> std::io::Result<()> {
    let width = FIELDS.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let mut current = "";
    for f in FIELDS.iter() {
        let title = group_title(f.name);
        if title != current {
            if !current.is_empty() {
                writeln!(out)?;
            }
            writeln!(out, "{title}")?;
            writeln!(out)?;
            current = title;
        }
        let kind = if f.list { "list" } else { "string" };
        let arg = match f.arg {
            ArgKind::None => "",
            ArgKind::RequiredKey => "[key]",
            ArgKind::OptionalIndex => "[index]",
        };
        writeln!(
            out,
            "{:<width$}  {kind:<6}  {arg:<7}  {}",
            f.name, f.description
        )?;
    }
    Ok(())
}
