//! pprof protobufs from casstop's stacks (`go tool pprof` reads them), for the CPU profile and
//! the wall-clock one alike.

use std::collections::HashMap;

use pprof::protos;

use super::categories::Frame;

/// One of a profile's values: `name` in `unit`, the stack's weight times `scale`.
#[derive(Clone, Copy, Debug)]
pub struct SampleType {
    pub name: &'static str,
    pub unit: &'static str,
    pub scale: f64,
}

/// A CPU profile's values: the sample count, and the CPU time one sample stands for.
pub fn cpu_sample_types(ns_per_sample: f64) -> [SampleType; 2] {
    [
        SampleType {
            name: "samples",
            unit: "count",
            scale: 1.0,
        },
        SampleType {
            name: "cpu",
            unit: "nanoseconds",
            scale: ns_per_sample,
        },
    ]
}

/// Stacks (thread first, then root to leaf) as a pprof profile with one value per sample type:
/// the stack's weight times that type's scale. The thread is a label, as in pprof-rs's own CPU
/// profiles; the frames below it are the locations, leaf first.
pub fn pprof(
    stacks: &[(Vec<Frame>, u64)],
    types: &[SampleType],
    duration_s: f64,
) -> protos::Profile {
    let mut strings = Strings::default();
    let mut functions: HashMap<String, u64> = HashMap::new();
    let mut profile = protos::Profile {
        sample_type: types
            .iter()
            .map(|t| protos::ValueType {
                ty: strings.id(t.name),
                unit: strings.id(t.unit),
            })
            .collect(),
        duration_nanos: (duration_s * 1e9) as i64,
        ..protos::Profile::default()
    };
    let thread = strings.id("thread");
    for (stack, weight) in stacks {
        let Some((head, frames)) = stack.split_first() else {
            continue;
        };
        let mut location_id = Vec::with_capacity(frames.len());
        for frame in frames.iter().rev() {
            let id = match functions.get(&frame.name) {
                Some(id) => *id,
                None => {
                    let id = profile.function.len() as u64 + 1;
                    let name = strings.id(&frame.name);
                    profile.function.push(protos::Function {
                        id,
                        name,
                        system_name: name,
                        filename: strings.id(&frame.file),
                        ..protos::Function::default()
                    });
                    profile.location.push(protos::Location {
                        id,
                        line: vec![protos::Line {
                            function_id: id,
                            ..protos::Line::default()
                        }],
                        ..protos::Location::default()
                    });
                    functions.insert(frame.name.clone(), id);
                    id
                }
            };
            location_id.push(id);
        }
        profile.sample.push(protos::Sample {
            location_id,
            value: types
                .iter()
                .map(|t| (*weight as f64 * t.scale).round() as i64)
                .collect(),
            label: vec![protos::Label {
                key: thread,
                str: strings.id(&head.name),
                ..protos::Label::default()
            }],
        });
    }
    profile.string_table = strings.table;
    profile
}

/// A pprof string table: index 0 is the empty string.
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            table: vec![String::new()],
            index: HashMap::from([(String::new(), 0)]),
        }
    }
}

impl Strings {
    fn id(&mut self, text: &str) -> i64 {
        if let Some(id) = self.index.get(text) {
            return *id;
        }
        let id = self.table.len() as i64;
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sample_type_scales_the_weight_and_frames_are_shared() {
        let frame = |name: &str| Frame {
            name: name.into(),
            file: "f.rs".into(),
        };
        let stacks = vec![
            (vec![frame("t"), frame("main"), frame("send")], 3),
            (vec![frame("t"), frame("main"), frame("poll")], 1),
        ];
        let profile = pprof(&stacks, &cpu_sample_types(4e6), 2.0);
        let text = |i: i64| profile.string_table[i as usize].as_str();
        assert_eq!(text(profile.sample_type[1].ty), "cpu");
        assert_eq!(profile.sample[0].value, vec![3, 12_000_000]);
        assert_eq!(profile.function.len(), 3, "main is one function");
        assert_eq!(
            profile.sample[0].location_id.len(),
            2,
            "the thread is a label"
        );
        assert_eq!(text(profile.sample[0].label[0].str), "t");
        assert_eq!(profile.duration_nanos, 2_000_000_000);
    }
}
