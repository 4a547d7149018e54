//! What every chart of the report shares: sizes, colors, the embedded font, the legend's
//! style, and drawing one picture as both SVG and PNG.

use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// Pixel size of the timeline (throughput above, latency below).
pub const TIMELINE_SIZE: (u32, u32) = (1280, 860);
/// Pixel size of the percentile, matrix and sweep charts.
pub const CHART_SIZE: (u32, u32) = (1280, 720);

pub const FONT: &str = "sans-serif";
pub const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
pub const MARKER: RGBColor = RGBColor(200, 160, 0);

pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Registers the embedded font once; plotters' text drawing looks it up by family name.
pub fn font_ready() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../../assets/fonts/DejaVuSans.ttf"),
        )
        .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the embedded font assets/fonts/DejaVuSans.ttf is unreadable"
        ))
    }
}

/// The legend every chart here draws: a translucent box with a thin border at `position`.
pub fn draw_legend<'a, 'b, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    mut labels: plotters::chart::SeriesLabelStyle<'a, 'b, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    labels
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font((FONT, 15))
        .draw()
        .map_err(plot_error("the legend"))
}

pub fn plot_error<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |err| anyhow!("drawing {what}: {err}")
}

/// Draws the same picture as `<name>.svg` and `<name>.png` in `out`.
macro_rules! svg_and_png {
    ($out:expr, $name:expr, $size:expr, $draw:ident ( $($arg:expr),* )) => {{
        $crate::report::canvas::font_ready()?;
        let svg = $out.join(format!("{}.svg", $name));
        let png = $out.join(format!("{}.png", $name));
        {
            let root = plotters::prelude::SVGBackend::new(&svg, $size).into_drawing_area();
            $draw(&root, $($arg),*)?;
            root.present().map_err($crate::report::canvas::plot_error(&format!("{}", svg.display())))?;
        }
        {
            let root = plotters::prelude::BitMapBackend::new(&png, $size).into_drawing_area();
            $draw(&root, $($arg),*)?;
            root.present().map_err($crate::report::canvas::plot_error(&format!("{}", png.display())))?;
        }
        Ok::<Vec<PathBuf>, anyhow::Error>(vec![svg, png])
    }};
}
pub(crate) use svg_and_png;
