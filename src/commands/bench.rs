//! `casstop bench`: one setting run headless (or, with `--matrix`, every strategy at every RTT
//! asked for), recorded, with a final table and `--json`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::BenchArgs;
use crate::config::Settings;
use crate::control::Control;
use crate::error::UsageError;
use crate::hop::process::HopRoute;
use crate::knobs::Strategy;
use crate::record::{self, Recorder};
use crate::run::{self, BenchResult, RunControl};
use crate::stdout::say;
use crate::{cluster, hop, report, target};

/// What every run of one `bench` shares.
struct Bench<'a> {
    args: &'a BenchArgs,
    node_pid: Option<u32>,
    hop: Option<&'a HopRoute>,
    control: Option<Control>,
}

pub fn run(
    args: &BenchArgs,
    mut settings: Settings,
    runtime: tokio::runtime::Runtime,
) -> Result<()> {
    // Mistakes that need no cluster are found before one is started or a hop is put up.
    if args.rtt.len() > 1 && !args.matrix {
        return Err(UsageError(
            "a list of RTTs needs --matrix (one table per RTT); give one --rtt for a single run"
                .into(),
        )
        .into());
    }
    if let Some(path) = &args.json {
        check_writable(path)?;
    }
    if settings.knobs.duration.is_zero() && settings.knobs.ops == 0 {
        settings.knobs.duration = run::DEFAULT_DURATION;
    }
    let node_pid = runtime.block_on(target::prepare_cluster(&mut settings))?;
    if args.truncate {
        runtime.block_on(async {
            let session = cluster::connect(&settings).await?;
            cluster::create_schema(&session, &settings).await?;
            cluster::truncate(&session, &settings.cluster).await
        })?;
    }
    drop(runtime);
    let hop = target::route_through_hop(&mut settings, !args.rtt.is_empty())?;
    let control = super::listen::control_api_headless(&settings)?;
    let bench = Bench {
        args,
        node_pid,
        hop: hop.as_ref(),
        control,
    };
    if args.matrix {
        bench.matrix(&settings)
    } else {
        bench.single(&settings)
    }
}

/// `--json FILE` must be writable before a run spends minutes: its directory exists and takes a
/// file. Nothing is left behind by the check.
fn check_writable(path: &Path) -> Result<()> {
    let culprit = |why: String| UsageError(format!("--json {}: {why}", path.display()));
    if path.is_dir() {
        return Err(culprit("is a directory".into()).into());
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".casstop-json-check-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|err| culprit(format!("cannot be written: {err}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes the JSON beside its path first and renames it into place, so a full disk leaves no
/// empty or half-written file.
fn write_json_atomically(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let partial = path.with_extension("json.partial");
    let written = run::write_json(&partial, value);
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
        return written;
    }
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}

impl Bench<'_> {
    /// One run, recorded when a recorder is given, with the hop's share of it when the run goes
    /// through the hop.
    fn run_one(&self, settings: &Settings, recorder: Option<&Recorder>) -> Result<BenchResult> {
        let before = self.hop.map(|h| h.state()).transpose()?;
        let mut result = run::run_one_recorded(
            settings,
            self.node_pid,
            self.args.quiet,
            self.args.profile,
            recorder.map(Recorder::feed),
            self.control.as_ref(),
        )?;
        if let (Some(hop), Some(before)) = (self.hop, before) {
            // A hop that died mid-run failed the writes it carried (they are counted); the
            // summary is still the run's, without the hop's share.
            match hop.state() {
                // Counters that went back belong to another hop, started after this one died.
                Ok(after) if after.stats.requests < before.stats.requests => result.warnings.push(
                    "the latency hop was restarted during the run: its share of the run \
                         is unknown"
                        .into(),
                ),
                Ok(after) => result.note_hop(&before, &after),
                Err(err) => result.warnings.push(format!(
                    "the latency hop stopped answering during the run ({err:#}): the writes it \
                     carried failed as connection errors, and its share of the run is unknown"
                )),
            }
        }
        Ok(result)
    }

    fn single(&self, settings: &Settings) -> Result<()> {
        let recorder = settings
            .output
            .record
            .then(|| Recorder::start(settings, "bench"))
            .transpose()?;
        let result = self.run_one(settings, recorder.as_ref());
        let outcome = recorder.map(|r| r.finish(result.as_ref().ok()));
        let result = result?;
        run::print_result(&result);
        if let Some(path) = &self.args.json {
            write_json_atomically(path, &result)?;
        }
        if let Some(outcome) = outcome {
            if let Some(failure) = &outcome.failure {
                bail!(
                    "recording failed ({failure}); the run was stopped, what was recorded is in {}",
                    outcome.dir.display()
                );
            }
            say!("{}", outcome.describe());
        }
        match result.failure() {
            Some(why) => bail!(why),
            None => Ok(()),
        }
    }

    fn matrix(&self, settings: &Settings) -> Result<()> {
        let control = RunControl::install()?;
        // One directory for the matrix, one recorded sub-run per strategy (and RTT) inside it.
        let matrix_dir = settings
            .output
            .record
            .then(|| {
                record::create_run_dir(&settings.output.dir, record::label(settings, "matrix"))
            })
            .transpose()?;
        // Every strategy at every RTT asked for (the hop's current one when none was).
        let rtts: Vec<Option<Duration>> = match self.hop {
            Some(hop) if self.args.rtt.is_empty() => vec![Some(hop.state.settings.rtt)],
            Some(_) => self.args.rtt.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        let mut results = Vec::new();
        let mut failures = Vec::new();
        let mut cut: Option<anyhow::Error> = None;
        for rtt in rtts {
            // A hop that died ends the matrix with the runs measured so far, all written.
            let label = match self.set_rtt(rtt) {
                Ok(label) => label,
                Err(err) => {
                    cut = Some(err);
                    break;
                }
            };
            let mut table = Vec::new();
            for strategy in Strategy::ALL {
                if control.stop_requested() {
                    break;
                }
                let mut one = settings.clone();
                one.knobs.strategy = strategy;
                eprintln!("running {strategy} at {label} ...");
                let name = match rtt {
                    Some(rtt) => format!("{strategy}-rtt-{}", hop::format_rtt(rtt)),
                    None => strategy.name().to_string(),
                };
                let recorder = matrix_dir
                    .as_ref()
                    .map(|dir| Recorder::create(&dir.join(&name), &one, "bench", &name))
                    .transpose()?;
                let result = self.run_one(&one, recorder.as_ref());
                let outcome = recorder.map(|r| r.finish(result.as_ref().ok()));
                if let Some(failure) = outcome.and_then(|o| o.failure) {
                    failures.push((name, failure));
                }
                table.push(result?);
            }
            say!("{label}");
            run::print_matrix(&table);
            say!();
            results.extend(table);
            if control.stop_requested() {
                eprintln!(
                    "stopped: the matrix ends after {} of its runs",
                    results.len()
                );
                break;
            }
        }
        if let Some(path) = &self.args.json {
            write_json_atomically(path, &results)?;
        }
        if let Some(dir) = &matrix_dir {
            run::write_json(&dir.join(record::MATRIX), &results)?;
            report::write_matrix_report(dir, dir)?;
            say!("recorded in {} (chart: matrix.png)", dir.display());
            if let Some((run, failure)) = failures.first() {
                bail!(
                    "recording the {run} run failed ({failure}); the run was stopped, what was recorded is in {}",
                    dir.display()
                );
            }
        }
        if let Some(err) = cut {
            return Err(err.context(format!(
                "the matrix ends after {} of its runs, all of them written",
                results.len()
            )));
        }
        match results
            .iter()
            .find_map(|r| r.failure().map(|why| (r.knobs.strategy, r.rtt_ms, why)))
        {
            Some((strategy, rtt_ms, why)) => bail!(
                "the {strategy} run{}: {why}",
                rtt_ms
                    .map(|ms| format!(" at rtt {ms} ms"))
                    .unwrap_or_default()
            ),
            None => Ok(()),
        }
    }

    /// Puts the hop at `rtt` for the next runs of the matrix; their label.
    fn set_rtt(&self, rtt: Option<Duration>) -> Result<String> {
        Ok(match (self.hop, rtt) {
            (Some(hop), Some(rtt)) => {
                hop.set_rtt(rtt)
                    .context("setting the hop's RTT between matrix runs")?;
                format!("rtt {} ({})", hop::format_rtt(rtt), hop.label())
            }
            _ => "direct (no hop)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_checks_name_the_flag_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let culprit = |path: &Path| format!("{:#}", check_writable(path).unwrap_err());
        let why = culprit(dir.path());
        assert!(
            why.starts_with("--json ") && why.ends_with("is a directory"),
            "{why}"
        );
        let why = culprit(&dir.path().join("missing").join("out.json"));
        assert!(why.contains("cannot be written"), "{why}");
        check_writable(&dir.path().join("out.json")).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe is removed and the file is not made before the run"
        );
    }

    #[test]
    fn json_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").unwrap();
        write_json_atomically(&path, &serde_json::json!({"ok": 3})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["ok"], 3);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.json"], "no partial file beside it");
        // A value serde cannot write (a map with non-string keys) leaves the old file as it was.
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(write_json_atomically(&path, &bad).is_err());
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["ok"], 3);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
