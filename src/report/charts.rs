//! The charts of report.html: SVG from `plotters` (see html.rs for why), each a function of
//! the series it draws; a chart with nothing to draw becomes a one-line note instead.

use plotters::prelude::*;

use super::html::{esc, Point};
use crate::model::{Metric, Snapshot};

const W: u32 = 1180;
const H: u32 = 300;
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

pub(super) type Series = (String, Vec<(f64, f64)>);

/// A line chart of `series` over the run's seconds; an empty note instead when no point exists.
pub(super) fn line_chart(
    title: &str,
    y_desc: &str,
    series: &[Series],
    x_max: f64,
    steps: bool,
) -> String {
    if series.iter().all(|(_, p)| p.is_empty()) {
        let none = if steps {
            "none found"
        } else {
            "nothing measured in this run"
        };
        return format!("<p class=\"empty\">{}: {none}.</p>", esc(title));
    }
    // At least 1 on the axis: a chart of zeros gets ticks 0, 0.2 … 1, not eleven `0.0`s.
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let mut svg = String::new();
    let drawn: Result<(), Box<dyn std::error::Error>> = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max.max(1.0), 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the start")
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        // Each series thinner than the one before and drawn over it: where two are equal (a
        // p99 that is the second's max), both stay visible, one inside the other.
        for (i, (_, pts)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let width = 4u32.saturating_sub(i as u32).max(1);
            if steps {
                chart.draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), width + 1, color.filled())),
                )?;
            } else {
                chart.draw_series(LineSeries::new(
                    pts.iter().copied(),
                    color.stroke_width(width),
                ))?;
            }
        }
        root.present()?;
        Ok(())
    })();
    // The legend under the chart, never over its data.
    let legend = legend_of(series, |i| {
        let RGBColor(r, g, b) = COLORS[i % COLORS.len()];
        (r, g, b)
    });
    figure(title, svg + &legend, drawn)
}

/// Each series' name beside a swatch of its color, as HTML under a chart.
fn legend_of(series: &[Series], color: impl Fn(usize) -> (u8, u8, u8)) -> String {
    let mut h = String::from("<figcaption class=\"legend\">");
    for (i, (name, _)) in series.iter().enumerate() {
        let (r, g, b) = color(i);
        h += &format!(
            "<span><i style=\"background:#{r:02x}{g:02x}{b:02x}\"></i>{}</span>",
            esc(name)
        );
    }
    h + "</figcaption>"
}

/// Each metric's percentile distribution, HdrHistogram style: x is 1/(1−p) on a log axis.
pub(super) fn percentile_chart(totals: &Snapshot) -> String {
    let series: Vec<Series> = Metric::ALL
        .iter()
        .filter(|m| !totals.hist(**m).is_empty())
        .map(|&m| {
            let h = totals.hist(m);
            let pts = (0..=500)
                .map(|i| {
                    let x = i as f64 / 100.0;
                    let p = 1.0 - 10f64.powf(-x);
                    (x, h.value_at_quantile(p.min(1.0)) as f64 / 1e3)
                })
                .collect();
            (m.name().to_string(), pts)
        })
        .collect();
    if series.is_empty() {
        return "<p class=\"empty\">No latency was measured.</p>".into();
    }
    let values = || series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y));
    let y_max = values().fold(0.0f64, f64::max).max(0.001);
    // From just under the smallest value measured (the fastest sample), not from an arbitrary
    // floor: the axis spends its decades where the data is.
    let y_min = values()
        .filter(|&y| y > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(y_max)
        .max(0.001)
        * 0.8;
    let mut svg = String::new();
    let drawn: Result<(), Box<dyn std::error::Error>> = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency by percentile (whole run)", ("sans-serif", 18))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..5.0, (y_min..y_max * 1.5).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("milliseconds (log)")
            .x_labels(6)
            .x_label_formatter(&|x| match x.round() as i64 {
                0 => "0%".into(),
                1 => "90%".into(),
                2 => "99%".into(),
                3 => "99.9%".into(),
                4 => "99.99%".into(),
                _ => "99.999%".into(),
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (_, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart.draw_series(LineSeries::new(
                pts.iter().map(|&(x, y)| (x, y.max(y_min))),
                color.stroke_width(2),
            ))?;
        }
        root.present()?;
        Ok(())
    })();
    let legend = legend_of(&series, |i| Palette99::pick(i).rgb());
    figure("percentiles", svg + &legend, drawn)
}

pub(super) fn pts(series: &[Point], f: impl Fn(&Point) -> Option<f64>) -> Vec<(f64, f64)> {
    series
        .iter()
        .filter_map(|p| f(p).map(|y| (p.t, y)))
        .collect()
}

pub(super) fn latency_over_time(
    series: &[Point],
    name: &str,
    f: impl Fn(&Point) -> Option<[u64; 3]>,
) -> String {
    let x_max = series.last().map_or(1.0, |p| p.t);
    let ms = |i: usize| pts(series, |p| f(p).map(|v| v[i] as f64 / 1e3));
    line_chart(
        &format!("{name}: p50 / p99 / max per second"),
        "milliseconds",
        &[
            ("p50".into(), ms(0)),
            ("p99".into(), ms(1)),
            ("max".into(), ms(2)),
        ],
        x_max,
        false,
    )
}

/// A drawn chart as a figure, or a note naming what failed (the page is written either way).
fn figure(title: &str, svg: String, drawn: Result<(), Box<dyn std::error::Error>>) -> String {
    match drawn {
        Ok(()) => format!("<figure>{svg}</figure>"),
        Err(e) => format!(
            "<p class=\"empty\">{}: not drawn ({})</p>",
            esc(title),
            esc(&e.to_string())
        ),
    }
}

/// A trace's picture, as a standalone SVG: sessions online (left axis) and logins per second
/// (right axis) over its seconds (`points`: second, logins, online).
pub fn trace_picture(shape: &str, points: &[(f64, f64, f64)]) -> String {
    let x_max = points.last().map_or(1.0, |p| p.0).max(1.0);
    let top = |f: fn(&(f64, f64, f64)) -> f64| points.iter().map(f).fold(1.0f64, f64::max) * 1.1;
    let (online_max, logins_max) = (top(|p| p.2), top(|p| p.1));
    let mut svg = String::new();
    let drawn: Result<(), Box<dyn std::error::Error>> = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("trace shape: {shape}"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .right_y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max, 0f64..online_max)?
            .set_secondary_coord(0f64..x_max, 0f64..logins_max);
        chart
            .configure_mesh()
            .x_desc("seconds since the trace's start (at ×1)")
            .y_desc("sessions online")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("logins per second")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.2)),
                COLORS[0].stroke_width(3),
            ))?
            .label("sessions online (left)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], COLORS[0].stroke_width(3)));
        chart
            .draw_secondary_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                COLORS[1].stroke_width(1),
            ))?
            .label("logins per second (right)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], COLORS[1].stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        return format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">cannot draw: {}</text></svg>",
            esc(&e.to_string())
        );
    }
    svg
}
