//! The control API's routes. Every answer is JSON (but `/metrics`); a refusal is
//! `{"error": "one line"}` with a status saying whose it is: 400 the request's, 401 the token's,
//! 409 the run's state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value as Json, json};

use super::prometheus;
use super::state::{Attached, Shared};
use crate::engine::Changed;
use crate::knobs::{self, KnobChange, Scalar};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/knobs", patch(change_knobs).get(show_knobs))
        .route("/intervals", get(intervals))
        .route("/pause", post(pause))
        .route("/resume", post(resume))
        .route("/stop", post(stop))
        .route("/profile", post(profile))
        .fallback(|| async {
            refuse(
                StatusCode::NOT_FOUND,
                "no such endpoint; see `casstop --help`",
            )
        })
        .with_state(shared)
}

/// A refusal: its status and its one line.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Response {
    Refusal(status, why.into()).into_response()
}

fn ok(body: Json) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The bearer token, compared in constant time.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Refusal> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = shared.token.as_bytes();
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "this needs `Authorization: Bearer <token>` with the token casstop printed at start \
             (or CASSTOP_CONTROL_TOKEN)"
                .into(),
        ))
    }
}

fn attached(shared: &Shared) -> Result<Attached, Refusal> {
    match shared.run() {
        Some(run) if !run.engine.is_over() => Ok(run),
        _ => Err(Refusal(StatusCode::CONFLICT, "no run is going on".into())),
    }
}

/// The run to act on, for a request that must carry the token.
fn steer(shared: &Shared, headers: &HeaderMap) -> Result<Attached, Refusal> {
    authorize(shared, headers)?;
    attached(shared)
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let Some(run) = shared.run() else {
        return ok(json!({ "state": "between runs" }));
    };
    let s = run.engine.latest();
    ok(json!({
        "state": s.state,
        "elapsed_s": s.elapsed.as_secs_f64(),
        "paced": s.paced,
        "knobs": run.engine.knobs(),
        "interval": &*s.interval,
        "totals": &s.totals,
    }))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let snapshot = shared.run().map(|run| run.engine.latest());
    (
        [(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)],
        prometheus::render(snapshot),
    )
        .into_response()
}

/// The closed intervals after `since` (their `seq`), with their histograms as the recording
/// encodes them: another casstop adds them up exactly. The last ten minutes are kept.
async fn intervals(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = authorize(&shared, &headers) {
        return refused.into_response();
    }
    let since: u64 = match query.get("since").map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "since must be an interval's seq, a whole number",
            );
        }
    };
    let Some(run) = shared.run() else {
        return refuse(StatusCode::CONFLICT, "no run is going on");
    };
    let snapshot = run.engine.latest();
    let kept: Vec<_> = snapshot
        .encoded
        .iter()
        .filter(|interval| interval.seq > since)
        .cloned()
        .collect();
    ok(json!({ "intervals": kept }))
}

async fn show_knobs(State(shared): State<Arc<Shared>>) -> Response {
    match attached(&shared) {
        Ok(run) => ok(json!(run.engine.knobs())),
        Err(refused) => refused.into_response(),
    }
}

/// A JSON value as the registry reads a config value.
fn scalar(value: &Json) -> Scalar<'_> {
    match value {
        Json::Bool(b) => Scalar::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Scalar::Text(s),
        Json::Null => Scalar::Other("null"),
        Json::Array(_) => Scalar::Other("array"),
        Json::Object(_) => Scalar::Other("object"),
    }
}

/// The changes a body asks for, each read and checked as a `:` command's would be, against the
/// knobs in force and the ones before it: all of them, or the first one refused.
fn changes_in(body: &str, in_force: &knobs::Knobs) -> Result<Vec<KnobChange>, String> {
    let Ordered(object) = serde_json::from_str(body)
        .map_err(|e| format!("the body must be a JSON object of knob names to values ({e})"))?;
    if object.is_empty() {
        return Err("the body names no knob".into());
    }
    let mut next = in_force.clone();
    let mut changes = Vec::new();
    for (name, value) in &object {
        let knob = knobs::find(name).ok_or_else(|| format!("no knob is called `{name}`"))?;
        let value = knob
            .from_scalar(scalar(value))
            .map_err(|m| format!("{} {m}", knob.name))?;
        let change = KnobChange { knob, value };
        next = next.apply(&change)?;
        changes.push(change);
    }
    Ok(changes)
}

/// A JSON object's entries in the body's order: changes apply in the order given (a cap raised
/// before the depth it must stay above).
struct Ordered(Vec<(String, Json)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

async fn change_knobs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    match steer(&shared, &headers) {
        Ok(run) => apply(&run, &body),
        Err(refused) => refused.into_response(),
    }
}

fn apply(run: &Attached, body: &str) -> Response {
    let changes = match changes_in(body, &run.engine.knobs()) {
        Ok(changes) => changes,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    let mut applied = Vec::new();
    let mut already = Vec::new();
    for change in changes {
        match run.engine.change(change) {
            Ok(Changed::Applied) => applied.push(change),
            Ok(Changed::AlreadySo) => already.push(change),
            // Checked above; only a change from elsewhere in between can make it fail now.
            Err(why) => return refuse(StatusCode::CONFLICT, why),
        }
    }
    let s = run.engine.latest();
    ok(json!({
        "applied": applied,
        "already_so": already,
        // The workers read the knobs at their next step: this is when the change was in force.
        "in_force_at_s": s.started.elapsed().as_secs_f64(),
        "knobs": run.engine.knobs(),
    }))
}

async fn pause(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    paused(&shared, &headers, true)
}

async fn resume(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    paused(&shared, &headers, false)
}

fn paused(shared: &Shared, headers: &HeaderMap, on: bool) -> Response {
    match steer(shared, headers) {
        Ok(run) => apply(&run, &json!({ "paused": on }).to_string()),
        Err(refused) => refused.into_response(),
    }
}

async fn stop(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(refused) = steer(&shared, &headers) {
        return refused.into_response();
    }
    // A first Ctrl-C, for every command alike: writes in flight drain, everything is written.
    (shared.stop)();
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "stopping": "writes in flight drain, then the run ends" })),
    )
        .into_response()
}

/// Captures a profile like `f` (of `duration`, default the profiler's) and answers when its
/// files are written.
async fn profile(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let run = match steer(&shared, &headers) {
        Ok(run) => run,
        Err(refused) => return refused.into_response(),
    };
    let length = match query.get("duration") {
        None => run.profile.duration,
        Some(text) => match knobs::parse_duration(text) {
            Ok(d) if !d.is_zero() && d <= Duration::from_secs(600) => d,
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    format!("duration `{text}` must be a duration up to 10m, like 5s"),
                );
            }
        },
    };
    let setup = run.profile.clone();
    let captured = tokio::task::spawn_blocking(move || {
        let dir = crate::profiler::capture_dir(&setup.dir);
        crate::profiler::capture(length, setup.frequency_hz, &dir, &setup.categories, None)
    })
    .await;
    match captured {
        Ok(Ok(summary)) => {
            run.engine.note_profile(&summary);
            ok(json!(summary))
        }
        Ok(Err(err)) => refuse(StatusCode::CONFLICT, format!("{err:#}")),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the capture panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_read_as_the_registry_reads_config_and_refused_whole() {
        let knobs = knobs::Knobs::default();
        let changes = changes_in(
            r#"{"depth": 64, "rate": 1500, "pacer_slack": "1ms"}"#,
            &knobs,
        )
        .expect("valid");
        let text: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(text, ["depth 64", "rate 1500/s", "pacer_slack 1ms"]);
        let refused = |body: &str| changes_in(body, &knobs).unwrap_err();
        assert!(
            refused(r#"{"depth": 0}"#).starts_with("depth "),
            "{}",
            refused(r#"{"depth": 0}"#)
        );
        assert_eq!(refused(r#"{"dpeth": 3}"#), "no knob is called `dpeth`");
        assert!(
            refused(r#"{"depth": 8, "runtime": "multi-thread"}"#).contains("fixed for the run")
        );
        assert!(refused("[1]").starts_with("the body must be a JSON object"));
        assert!(refused("{}").contains("names no knob"));
        assert!(refused(r#"{"depth": [1]}"#).starts_with("depth "));
        // In the body's order: the cap first, then the depth it must stay above.
        let mut throttled = knobs.clone();
        throttled.throttle_cap = 100;
        throttled.batch = 10;
        assert!(changes_in(r#"{"throttle_cap": 500, "depth": 400}"#, &throttled).is_ok());
        assert!(changes_in(r#"{"depth": 400, "throttle_cap": 500}"#, &throttled).is_err());
    }
}
