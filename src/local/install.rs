//! Fetching Apache Cassandra and its runtime dependencies from Maven Central with Maven.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::progress::Progress;

const POM_XML: &str = include_str!("../../assets/cassandra/pom.xml");

pub fn is_installed(lib_dir: &Path, version: &str) -> bool {
    lib_dir
        .join(format!("cassandra-all-{version}.jar"))
        .is_file()
}

/// Finds `java` and checks it is JDK 11 or newer (Cassandra 5.0 runs on 11 and 17).
pub fn check_java() -> Result<PathBuf> {
    let java = find_program("java").context(
        "no `java` on PATH: the local node needs JDK 17 (Debian: apt-get install openjdk-17-jdk-headless)",
    )?;
    let output = std::process::Command::new(&java)
        .arg("-version")
        .output()
        .with_context(|| format!("running {} -version", java.display()))?;
    let text = String::from_utf8_lossy(&output.stderr);
    let major = java_major_version(&text);
    match major {
        Some(major) if major >= 11 => Ok(java),
        _ => bail!(
            "{} is not JDK 11 or newer (it says: {}); the local node needs JDK 17 \
             (Debian: apt-get install openjdk-17-jdk-headless)",
            java.display(),
            text.lines().next().unwrap_or("nothing")
        ),
    }
}

pub fn check_maven() -> Result<PathBuf> {
    find_program("mvn").context(
        "no `mvn` on PATH: installing the local node fetches Cassandra from Maven Central with Maven \
         (Debian: apt-get install maven)",
    )
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `openjdk version "17.0.15" 2025-04-15` → 17; `java version "1.8.0_292"` → 8.
fn java_major_version(text: &str) -> Option<u32> {
    let quoted = text.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Resolves `cassandra-all:<version>` with every runtime dependency into `lib_dir`. Downloads go
/// to a sibling directory first and are renamed into place, so a broken download never looks
/// installed.
pub async fn install(
    version: &str,
    lib_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<Duration> {
    let mvn = check_maven()?;
    let home = lib_dir.parent().context("lib dir has a parent")?;
    fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let partial = home.join("lib.partial");
    let _ = fs::remove_dir_all(&partial);
    let pom = home.join("pom.xml");
    fs::write(&pom, POM_XML).with_context(|| format!("writing {}", pom.display()))?;
    let log_path = home.join("maven.log");
    let log = fs::File::create(&log_path)?;

    let started = Instant::now();
    let mut child = tokio::process::Command::new(&mvn)
        .args(["-B", "-f"])
        .arg(&pom)
        .arg("dependency:copy-dependencies")
        .arg("-DincludeScope=runtime")
        .arg(format!("-DoutputDirectory={}", partial.display()))
        .arg(format!("-Dcassandra.version={version}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", mvn.display()))?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                let (jars, bytes) = count_jars(&partial);
                progress.update(&format!(
                    "downloading Apache Cassandra {version} from Maven Central: {jars} jars, {:.1} MB ... {}s",
                    bytes as f64 / 1e6,
                    started.elapsed().as_secs()
                ));
            }
        }
    };
    if !status.success() {
        let log_text = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log_text.lines().rev().take(15).collect();
        bail!(
            "Maven could not fetch org.apache.cassandra:cassandra-all:{version} ({status}); \
             is Maven Central reachable and is local.version a real 5.0.x release? \
             Full log: {}\n{}",
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    if !is_installed(&partial, version) {
        bail!(
            "Maven finished but cassandra-all-{version}.jar is missing from {}; see {}",
            partial.display(),
            log_path.display()
        );
    }
    let _ = fs::remove_dir_all(lib_dir);
    fs::rename(&partial, lib_dir)
        .with_context(|| format!("moving {} to {}", partial.display(), lib_dir.display()))?;
    let (jars, bytes) = count_jars(lib_dir);
    let elapsed = started.elapsed();
    progress.finish(&format!(
        "downloaded Apache Cassandra {version}: {jars} jars, {:.1} MB in {:.1}s -> {}",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        lib_dir.display()
    ));
    Ok(elapsed)
}

fn count_jars(dir: &Path) -> (usize, u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jar"))
        .fold((0, 0), |(n, bytes), e| {
            (n + 1, bytes + e.metadata().map(|m| m.len()).unwrap_or(0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions() {
        assert_eq!(
            java_major_version("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(java_major_version("java version \"1.8.0_292\""), Some(8));
        assert_eq!(
            java_major_version("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(java_major_version("garbage"), None);
    }
}
