//! `casstop report [--merge] RUN...`: recordings to plots and report.md.

use anyhow::Result;

use crate::cli::ReportArgs;
use crate::report;
use crate::stdout::say;

pub fn run(args: &ReportArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_out(&args.runs, args.merge));
    let files = if args.merge {
        report::write_merged_report(&args.runs, &out)?
    } else {
        report::write_report(&args.runs, &out)?
    };
    for note in &files.notes {
        eprintln!("note: {note}");
    }
    say!("report: {}", files.markdown.display());
    for picture in &files.pictures {
        say!("        {}", picture.display());
    }
    Ok(())
}
