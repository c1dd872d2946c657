//! Text in two embedded fonts: DejaVu Sans for every character it has, Droid Sans Fallback (the
//! GB2312 + Big5 subset in `assets/fonts/`) for Chinese, scaled to DejaVu's em and sharing its
//! baseline.
//!
//! Glyph metrics (which glyph a character has, advances, left side bearings, DejaVu's kerning
//! pairs, ascender and height) come from `ab_glyph`, the crate plotters rasterises with, so the
//! layout measures the very fonts it draws. Text is laid out here and drawn one glyph at a time
//! through plotters, because plotters' `ab_glyph` text draws a font per text element and places
//! each glyph without its left side bearing (so "2018-12-31" reads "2018-1 2-31" at small sizes).

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use ab_glyph::{Font, FontRef, GlyphId};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle};

use super::{DrawResult, Rect};

static LATIN: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
static CJK: &[u8] = include_bytes!("../../../../assets/fonts/DroidSansFallback-GB2312-Big5.ttf");

/// One of the two fonts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Face {
    Latin = 0,
    Cjk = 1,
}

/// A font as plotters knows it (its registered family) and as ab_glyph measures it.
struct FaceData {
    family: &'static str,
    /// `None` only if an embedded font failed to parse, a build defect the tests catch; text in
    /// that face then measures zero and is drawn by plotters' fallback.
    font: Option<FontRef<'static>>,
    /// Font units per em, and the ascender and ascender − descender in font units: the vertical
    /// metrics ab_glyph scales a font by (neither font sets OS/2's USE_TYPO_METRICS, so these are
    /// `hhea`'s).
    units_per_em: f64,
    ascender: f64,
    height: f64,
}

fn faces() -> &'static [FaceData; 2] {
    static FACES: OnceLock<[FaceData; 2]> = OnceLock::new();
    FACES.get_or_init(|| [load("idc-dejavu-sans", LATIN), load("idc-droid-sans-fallback", CJK)])
}

/// Registers the fonts with plotters and reads their metrics (once).
pub(super) fn load_fonts() {
    faces();
}

fn load(family: &'static str, bytes: &'static [u8]) -> FaceData {
    // The fonts are embedded and valid; a failure here is a build defect, caught by tests.
    if plotters::style::register_font(family, FontStyle::Normal, bytes).is_err() {
        log::error!("the embedded chart font {family} could not be loaded");
    }
    let font = FontRef::try_from_slice(bytes)
        .map_err(|_| log::error!("the embedded chart font {family} could not be read"))
        .ok();
    let (units_per_em, ascender, height) = match &font {
        Some(f) => {
            (f64::from(f.units_per_em().unwrap_or(1.0)), f64::from(f.ascent_unscaled()), f64::from(f.height_unscaled()))
        }
        None => (1.0, 1.0, 1.0),
    };
    FaceData { family, font, units_per_em, ascender, height }
}

impl Face {
    fn data(self) -> &'static FaceData {
        &faces()[self as usize]
    }

    /// The glyph of `c` in this face; glyph 0, the missing-glyph box, when it has none.
    fn glyph(self, c: char) -> GlyphId {
        self.data().font.as_ref().map_or(GlyphId(0), |f| f.glyph_id(c))
    }

    fn height_per_em(self) -> f64 {
        let data = self.data();
        data.height / data.units_per_em
    }

    /// The size to ask plotters for so that this face has DejaVu Sans's em at `size`
    /// (ab_glyph scales a font's ascender − descender to the size asked for).
    fn size(self, size: f64) -> f64 {
        size * self.height_per_em() / Face::Latin.height_per_em()
    }

    /// Pixels per font unit at `size`.
    fn scale(self, size: f64) -> f64 {
        self.size(size) / self.data().height
    }

    /// Where the baseline is in a line of text `size` pixels high, from its top, as a fraction
    /// of the size.
    pub(super) fn ascent_fraction(self) -> f64 {
        self.data().ascender / self.data().height
    }

    pub(super) fn style(self, size: f64, colour: &'static RGBColor) -> TextStyle<'static> {
        let font = FontDesc::new(FontFamily::Name(self.data().family), self.size(size), FontStyle::Normal);
        TextStyle::from(font).color(colour).pos(Pos::new(HPos::Left, VPos::Top))
    }
}

/// The face that draws `c`: DejaVu Sans when it has the glyph, else the CJK font; `None` when
/// neither has it.
pub(super) fn face_for(c: char) -> Option<Face> {
    [Face::Latin, Face::Cjk].into_iter().find(|face| face.glyph(c) != GlyphId(0))
}

/// A glyph placed on a line: its character, face, where its origin is on the line and where its
/// outline starts from there (its left side bearing), in pixels.
struct Placed {
    c: char,
    face: Face,
    pen: f64,
    bearing: f64,
}

/// The glyphs of `text` at `size`, and the line's advance in pixels. A character neither face
/// has gets DejaVu Sans's missing-glyph box (and [`draw`] logs it).
fn layout(text: &str, size: f64) -> (Vec<Placed>, f64) {
    let mut placed = Vec::with_capacity(text.len());
    let mut pen = 0.0;
    let mut previous: Option<(Face, GlyphId)> = None;
    for c in text.chars() {
        let (face, glyph) = match face_for(c) {
            Some(face) => (face, face.glyph(c)),
            None => (Face::Latin, GlyphId(0)),
        };
        let scale = face.scale(size);
        let Some(font) = face.data().font.as_ref() else { continue };
        if let Some((previous_face, previous_glyph)) = previous {
            // Kerning pairs are within a font; none apply across the two.
            if previous_face == face {
                pen += f64::from(font.kern_unscaled(previous_glyph, glyph)) * scale;
            }
        }
        let bearing = f64::from(font.h_side_bearing_unscaled(glyph)) * scale;
        placed.push(Placed { c, face, pen, bearing });
        pen += f64::from(font.h_advance_unscaled(glyph)) * scale;
        previous = Some((face, glyph));
    }
    (placed, pen)
}

/// The width of `text` at `size`, in whole pixels.
pub(super) fn width(text: &str, size: f64) -> i32 {
    layout(text, size).1.ceil() as i32
}

/// The box of `text` drawn at `size` with its top-left corner at `at`: `size` pixels high, from
/// the ascender to the descender, as wide as [`width`].
pub(super) fn bounds(text: &str, size: f64, at: (i32, i32)) -> Rect {
    (at.0, at.1, at.0 + width(text, size), at.1 + size.round() as i32)
}

/// The box of `text` turned a quarter left, reading upwards, with the bottom-left corner of its
/// box at `at`.
pub(super) fn bounds_upwards(text: &str, size: f64, at: (i32, i32)) -> Rect {
    (at.0, at.1 - width(text, size), at.0 + size.round() as i32, at.1)
}

/// A line of text placed in the picture.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Label {
    pub(super) text: String,
    pub(super) size: f64,
    /// The top-left corner of its box; for text reading upwards, the bottom-left.
    pub(super) at: (i32, i32),
    pub(super) upwards: bool,
}

impl Label {
    pub(super) fn new(text: impl Into<String>, size: f64, at: (i32, i32)) -> Label {
        Label { text: text.into(), size, at, upwards: false }
    }

    /// The box the text fills when drawn.
    pub(super) fn bounds(&self) -> Rect {
        if self.upwards {
            bounds_upwards(&self.text, self.size, self.at)
        } else {
            bounds(&self.text, self.size, self.at)
        }
    }
}

/// Draws `text` with the top-left corner of its box at `at` (see [`bounds`]).
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    at: (i32, i32),
    colour: &'static RGBColor,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    draw_glyphs(area, text, size, colour, None, |along, across| (at.0 + along, at.1 + across))
}

/// Draws `text` turned a quarter left, reading upwards, with the bottom-left corner of its box
/// at `at` (see [`bounds_upwards`]).
pub(super) fn draw_upwards<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    at: (i32, i32),
    colour: &'static RGBColor,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let turn = Some(FontTransform::Rotate270);
    draw_glyphs(area, text, size, colour, turn, |along, across| (at.0 + across, at.1 - along))
}

/// Draws each glyph of `text` where `place` maps (pixels along the line, pixels down from the
/// top of the line) to the picture.
fn draw_glyphs<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    colour: &'static RGBColor,
    transform: Option<FontTransform>,
    place: impl Fn(i32, i32) -> (i32, i32),
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    warn_missing(text);
    let (glyphs, _) = layout(text, size);
    let baseline = size * Face::Latin.ascent_fraction();
    let mut styles: [Option<TextStyle<'static>>; 2] = [None, None];
    let mut buffer = [0u8; 4];
    for glyph in glyphs.iter().filter(|g| !g.c.is_whitespace()) {
        let face = glyph.face;
        let style = styles[face as usize].get_or_insert_with(|| {
            let style = face.style(size, colour);
            match &transform {
                Some(turn) => style.transform(turn.clone()),
                None => style,
            }
        });
        // ab_glyph rasterises an outline from the whole pixel left of it, keeping the bearing's
        // fraction, and puts the baseline half the pixel size below the top; so the origin is
        // snapped to a whole pixel and the bearing's whole pixels added.
        let across = (baseline - face.size(size) / 2.0).round() as i32;
        let position = place(glyph.pen.round() as i32 + glyph.bearing.floor() as i32, across);
        area.draw_text(glyph.c.encode_utf8(&mut buffer), style, position)?;
    }
    Ok(())
}

/// Logs, once per character and process, the characters neither font has, since they are drawn
/// as boxes.
fn warn_missing(text: &str) {
    let missing: BTreeSet<char> = text.chars().filter(|&c| !c.is_whitespace() && face_for(c).is_none()).collect();
    if missing.is_empty() {
        return;
    }
    static WARNED: Mutex<BTreeSet<char>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    let new: Vec<String> =
        missing.into_iter().filter(|&c| warned.insert(c)).map(|c| format!("{c:?} (U+{:04X})", c as u32)).collect();
    if !new.is_empty() {
        log::warn!("the chart fonts have no glyph for {}; drawn as boxes", new.join(", "));
    }
}
