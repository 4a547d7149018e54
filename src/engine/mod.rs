//! The engine: workers that schedule writes by the live knobs and measure them.

pub mod knobs;
