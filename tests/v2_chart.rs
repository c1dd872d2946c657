//! `idc.v2.Indicators/Chart` over gRPC: the sample (`SPX`) with `MA(5)`, `MA(10)` and `BOLL`
//! over the candles and `VOL`, `MACD` and `KDJ` panels below them, decoded and looked at pixel by
//! pixel where the chart's own layout says each part is; the same request twice gives the same
//! bytes, the second from the cache; and every bad request gets its status.

mod common;

use futures::TryStreamExt;
use idc::config::Config;
use idc::domain::chart::{self, palette, ChartSize, SeriesChart, SeriesLayout};
use idc::domain::date::DateRange;
use idc::domain::indicators::{Convention, Indicator};
use idc::domain::series::{self, Adjust, BarColumns, Frequency, Labelled};
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;
use image::RgbImage;

fn client(server: &common::InProcess) -> IndicatorsClient {
    IndicatorsClient::new(common::channel(&server.address()))
}

fn spec(name: &str, params: &[f64]) -> pb::IndicatorSpec {
    pb::IndicatorSpec { name: name.to_string(), params: params.to_vec(), ..Default::default() }
}

/// The chart of the sample's 2018.
fn request(width: u32, height: u32) -> pb::ChartRequest {
    pb::ChartRequest {
        symbol: "SPX".into(),
        start_date: "2018-01-01".into(),
        end_date: "2018-12-31".into(),
        overlays: vec![spec("MA", &[5.0]), spec("MA", &[10.0]), spec("BOLL", &[])],
        panels: vec![spec("VOL", &[]), spec("MACD", &[]), spec("KDJ", &[])],
        width,
        height,
        ..Default::default()
    }
}

/// The chunks' bytes, and how many chunks there were.
fn chart(client: &IndicatorsClient, request: &pb::ChartRequest) -> Result<(Vec<u8>, usize), grpcio::Error> {
    let chunks: Vec<pb::ChartChunk> = futures::executor::block_on(client.chart(request)?.try_collect())?;
    Ok((chunks.iter().flat_map(|c| c.png.iter().copied()).collect(), chunks.len()))
}

/// Where the chart puts its parts for `request` over the sample, from the domain itself.
fn layout(size: ChartSize) -> SeriesLayout {
    let labelled = |name: &str, params: &[f64]| {
        let indicator = Indicator::new(name, params, Convention::Cn).unwrap();
        Labelled { label: indicator.label(), indicator }
    };
    let overlays = [labelled("MA", &[5.0]), labelled("MA", &[10.0]), labelled("BOLL", &[])];
    let panels = [labelled("VOL", &[]), labelled("MACD", &[]), labelled("KDJ", &[])];
    let all: Vec<Labelled> = overlays.iter().chain(&panels).cloned().collect();
    let bars = BarColumns::from_bars(&idc::domain::sample::bars().unwrap(), None);
    let range = DateRange::parse("2018-01-01", "2018-12-31").unwrap();
    let series = series::compute(&bars, Adjust::None, Frequency::Daily, &all, range).unwrap();
    let spec = SeriesChart {
        name: idc::domain::sample::INSTRUMENT,
        frequency: Frequency::Daily,
        convention: Convention::Cn,
        adjust: Adjust::None,
        overlays: &overlays,
        panels: &panels,
    };
    chart::render_series_rgb(&series, &spec, size).unwrap().1
}

/// Pixels of `colour` (within a few levels) inside `rect`.
fn count(image: &RgbImage, rect: (i32, i32, i32, i32), colour: plotters::style::RGBColor) -> usize {
    let (l, t, r, b) = rect;
    let mut n = 0;
    for y in t.max(0)..b.min(image.height() as i32) {
        for x in l.max(0)..r.min(image.width() as i32) {
            let p = image.get_pixel(x as u32, y as u32).0;
            let near = |a: u8, b: u8| a.abs_diff(b) <= 6;
            if near(p[0], colour.0) && near(p[1], colour.1) && near(p[2], colour.2) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn the_sample_with_overlays_and_panels_is_drawn_where_the_layout_says() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let (png, chunks) = chart(&client, &request(1280, 800)).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(chunks, png.len().div_ceil(1024), "the server's --chunk-size, 1024");
    if let Ok(dir) = std::env::var("IDC_CHART_OUT") {
        std::fs::write(format!("{dir}/v2_chart_rpc.png"), &png).unwrap(); // to look at
    }
    let image = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (1280, 800));
    let layout = layout(ChartSize { width: 1280, height: 800 });
    let [(vol, vol_plot), (macd, macd_plot), (kdj, kdj_plot)] = &layout.panels[..] else { panic!("{layout:?}") };
    assert_eq!((vol.as_str(), macd.as_str(), kdj.as_str()), ("VOL", "MACD", "KDJ"));
    // Candles red and green in the price panel; the overlays' blue, orange and purple over them.
    for colour in [palette::RISING, palette::FALLING, chart::v2::LINES[0], chart::v2::LINES[1], chart::v2::LINES[2]] {
        assert!(count(&image, layout.price, colour) > 200, "{colour:?} in the price panel");
    }
    // Volume bars red and green in the first band; the MACD histogram red and green in the
    // third (price, VOL, MACD) with DIF and DEA; KDJ's three lines and no bars in the last.
    for (plot, colour) in [(vol_plot, palette::RISING), (vol_plot, palette::FALLING)] {
        assert!(count(&image, *plot, colour) > 1000, "{colour:?} volume bars");
    }
    for colour in [palette::RISING, palette::FALLING, chart::v2::LINES[0], chart::v2::LINES[1]] {
        assert!(count(&image, *macd_plot, colour) > 300, "{colour:?} in the MACD panel");
    }
    for colour in [chart::v2::LINES[0], chart::v2::LINES[1], chart::v2::LINES[2]] {
        assert!(count(&image, *kdj_plot, colour) > 300, "{colour:?} in the KDJ panel");
    }
    assert_eq!(count(&image, *kdj_plot, palette::RISING) + count(&image, *kdj_plot, palette::FALLING), 0);
    // Below the candles and above VOL's legend (whose swatch has a green bar): no candle leaks.
    let gap = (0, layout.price.3 + 1, 1280, layout.legends[1][0].1 .1);
    assert_eq!(count(&image, gap, palette::FALLING), 0, "below the price panel");
    // The legend names each overlay, then each panel's columns.
    let names: Vec<Vec<&str>> = layout.legends.iter().map(|l| l.iter().map(|(n, _)| n.as_str()).collect()).collect();
    assert_eq!(names[0], ["MA(5)", "MA(10)", "BOLL(20,2).UPPER", "BOLL(20,2).MID", "BOLL(20,2).LOWER"]);
    assert_eq!(names[2], ["MACD(12,26,9).DIF", "MACD(12,26,9).DEA", "MACD(12,26,9).MACD"]);
    for (name, (l, t, r, b)) in &layout.legends[0] {
        let dark = (*l..*r).flat_map(|x| (*t..*b).map(move |y| (x as u32, y as u32)));
        let dark = dark.filter(|&(x, y)| image.get_pixel(x, y).0.iter().all(|&c| c < 120)).count();
        assert!(dark > 20, "{name}'s legend is drawn: {dark} dark pixels");
        assert!(*b <= layout.price.1, "{name}'s legend is above the candles");
    }
    // Date ticks on month starts, under the bottom panel only.
    assert!(layout.date_ticks.iter().all(|(_, d)| d.len() == 7 && d.starts_with("2018-")), "{:?}", layout.date_ticks);
}

#[test]
fn a_repeated_chart_is_the_same_bytes_from_the_cache() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let mut asked = request(640, 480);
    asked.chunk_size = 4000;
    let (first, chunks) = chart(&client, &asked).unwrap();
    assert_eq!(chunks, first.len().div_ceil(4000));
    let renders = server.metrics.renders();
    assert_eq!((renders.done, renders.cached), (1, 0));
    // Another chunk size is the same picture, from the cache.
    asked.chunk_size = 0;
    let (second, _) = chart(&client, &asked).unwrap();
    assert_eq!(first, second);
    let renders = server.metrics.renders();
    assert_eq!((renders.done, renders.cached), (1, 1), "the second from the cache");
    // Another size or range is another chart.
    asked.width = 800;
    let (third, _) = chart(&client, &asked).unwrap();
    assert_ne!(first, third);
    assert_eq!(server.metrics.renders().done, 2);
    // The server's size when none is asked; weekly bars name the frequency asked.
    let (png, _) = chart(&client, &pb::ChartRequest { symbol: "SPX".into(), ..Default::default() }).unwrap();
    assert_eq!(image::load_from_memory(&png).unwrap().to_rgb8().dimensions(), (1280, 800));
    let weekly = pb::ChartRequest { frequency: pb::Frequency::WEEKLY.into(), ..request(320, 240) };
    let (png, _) = chart(&client, &weekly).unwrap();
    assert_eq!(image::load_from_memory(&png).unwrap().to_rgb8().dimensions(), (320, 240));
}

#[test]
fn bad_chart_requests_get_their_statuses() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let refused = |request: pb::ChartRequest| match chart(&client, &request) {
        Err(grpcio::Error::RpcFailure(status)) => (status.code(), status.message().to_string()),
        other => panic!("{request:?} answered {:?}", other.map(|(png, n)| (png.len(), n))),
    };
    use grpcio::RpcStatusCode as C;
    let cases: Vec<(pb::ChartRequest, C, &str)> = vec![
        (pb::ChartRequest { symbol: "NOPE".into(), ..request(0, 0) }, C::NOT_FOUND, "\"NOPE\""),
        (pb::ChartRequest { symbol: String::new(), ..request(0, 0) }, C::INVALID_ARGUMENT, "symbol"),
        (request(100, 800), C::INVALID_ARGUMENT, "width 100 is out of range: charts are 320x240 to 8192x8192"),
        (request(1280, 9000), C::INVALID_ARGUMENT, "height 9000"),
        (pb::ChartRequest { chunk_size: 5 << 20, ..request(0, 0) }, C::INVALID_ARGUMENT, "chunk_size 5242880"),
        (
            pb::ChartRequest { adjust: pb::Adjust::FORWARD.into(), ..request(0, 0) },
            C::FAILED_PRECONDITION,
            "adj_factor",
        ),
        (
            pb::ChartRequest { panels: vec![spec("NOPE", &[])], ..request(0, 0) },
            C::INVALID_ARGUMENT,
            "panels: indicator 1",
        ),
        (pb::ChartRequest { overlays: vec![spec("MA", &[0.0])], ..request(0, 0) }, C::INVALID_ARGUMENT, "overlays"),
        (
            pb::ChartRequest { start_date: "2030-01-01".into(), end_date: String::new(), ..request(0, 0) },
            C::INVALID_ARGUMENT,
            "no bars",
        ),
        (pb::ChartRequest { start_date: "2018-13-01".into(), ..request(0, 0) }, C::INVALID_ARGUMENT, "2018-13-01"),
        (
            pb::ChartRequest { convention: protobuf::EnumOrUnknown::from_i32(7), ..request(0, 0) },
            C::INVALID_ARGUMENT,
            "convention 7",
        ),
    ];
    for (request, code, words) in cases {
        let (got, message) = refused(request);
        assert_eq!(got, code, "{message}");
        assert!(message.contains(words), "{message:?} names {words:?}");
    }
    assert_eq!(server.metrics.renders().started, 0, "nothing drawn for a refused request");
    assert!(chart(&client, &request(320, 240)).is_ok(), "the server serves on");
}

#[test]
fn a_cancelled_chart_stops_its_render_and_keeps_nothing() {
    use idc::blocking::Gate;
    use idc::service::graph::CHART_DRAWN;
    let gate = Gate::at(CHART_DRAWN);
    let server = common::InProcess::start_gated(Config::default(), Some(&gate));
    let client = client(&server);
    let limit = std::time::Duration::from_secs(30);
    // No deadline: only the cancel can stop it. Drawn, held before encoding: the cancel comes
    // between the two.
    let mut stream = client.chart(&request(320, 240)).unwrap();
    assert!(gate.wait_arrived(1, limit), "the render did not draw its chart");
    stream.cancel();
    drop(stream);
    server.wait_for_counters("the server to see the cancel", limit, |metrics| {
        metrics.calls("Chart", grpcio::RpcStatusCode::CANCELLED) == 1
    });
    gate.open();
    server.wait_for_counters("the render to stop", limit, |metrics| metrics.renders().cancelled == 1);
    let renders = server.metrics.renders();
    assert_eq!((renders.started, renders.done, renders.cached), (1, 0, 0), "{renders:?}");
    // Nothing was kept: the same request is drawn anew.
    assert!(chart(&client, &request(320, 240)).is_ok());
    assert_eq!(server.metrics.renders().done, 1);
}

#[test]
fn a_range_of_more_bars_than_a_chart_draws_is_out_of_range() {
    let dir = common::scratch();
    let path = common::write_file(dir.path(), "LONG.csv", common::daily_bars_csv(1700, 100_001).as_bytes());
    let mut config = Config::default();
    config.data.source = Some(idc::config::DataSource::Csv(path));
    let server = common::InProcess::start(config);
    let client = client(&server);
    let long = pb::ChartRequest { symbol: "LONG".into(), ..Default::default() };
    match chart(&client, &long) {
        Err(grpcio::Error::RpcFailure(status)) => {
            assert_eq!(status.code(), grpcio::RpcStatusCode::OUT_OF_RANGE, "{}", status.message());
            assert!(status.message().contains("100001 bars") && status.message().contains("shorten the range"));
        }
        other => panic!("expected OUT_OF_RANGE, got {:?}", other.map(|(png, _)| png.len())),
    }
    // Monthly bars of the same history are few enough.
    let monthly = pb::ChartRequest { frequency: pb::Frequency::MONTHLY.into(), width: 320, height: 240, ..long };
    assert!(chart(&client, &monthly).is_ok());
}
