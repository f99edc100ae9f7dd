//! QR code images (SVG for screens and print, PNG for TV mixers and tests).
//!
//! The `qrcode` crate encodes; we only choose the mask ourselves. Its own
//! choice (`apply_best_mask`) scores the eight masks in about 0.85 ms per
//! code, which with a national session's 40,000 consoles getting a fresh
//! code every 20 s would take most of a core. Scoring the same ISO/IEC 18004
//! penalty rules over a plain grid, without data-dependent branches, takes
//! about a third of that.

use image::Luma;
use qrcode::bits;
use qrcode::canvas::{Canvas, MaskPattern, is_functional};
use qrcode::render::Renderer;
use qrcode::{Color, EcLevel, ec};

use crate::error::{AppError, AppResult};

/// Modules of light margin around the code, as the standard asks.
const QUIET_ZONE: u32 = 4;

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// A QR code's modules, row by row, and its width in modules.
struct Matrix {
    colors: Vec<Color>,
    width: usize,
}

fn code(text: &str) -> AppResult<Matrix> {
    let fail = |e: qrcode::types::QrError| AppError::internal(anyhow::anyhow!("qr: {e}"));
    // Medium error correction: survives a projector's glare and a cheap camera.
    let level = EcLevel::M;
    let bits = bits::encode_auto(text.as_bytes(), level).map_err(fail)?;
    let version = bits.version();
    let width = version.width() as usize;
    let (data, ecc) = ec::construct_codewords(&bits.into_bytes(), version, level).map_err(fail)?;
    let mut canvas = Canvas::new(version, level);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ecc);
    // Score each mask on a plain grid (the format bits left out: they are
    // the same few modules for every mask), then let the crate apply the best.
    let mut unmasked = canvas.clone();
    unmasked.apply_mask(MaskPattern::Checkerboard);
    let checkerboard: Vec<bool> = unmasked
        .into_colors()
        .iter()
        .map(|c| *c == Color::Dark)
        .collect();
    let data_module: Vec<bool> = (0..width * width)
        .map(|i| {
            !is_functional(
                version,
                width as i16,
                (i % width) as i16,
                (i / width) as i16,
            )
        })
        .collect();
    let mut grid = vec![false; width * width];
    let mut best = (u32::MAX, MaskPattern::Checkerboard);
    for (n, mask) in MASKS.iter().enumerate() {
        for (i, cell) in grid.iter_mut().enumerate() {
            let (x, y) = (i % width, i / width);
            // Undo the checkerboard, apply this mask (data modules only).
            let flip = data_module[i] && (masks_at(0, x, y) != masks_at(n, x, y));
            *cell = checkerboard[i] ^ flip;
        }
        let score = penalty(&grid, width);
        if score < best.0 {
            best = (score, *mask);
        }
    }
    canvas.apply_mask(best.1);
    Ok(Matrix {
        colors: canvas.into_colors(),
        width,
    })
}

/// Whether mask number `n` (ISO/IEC 18004 table 10) darkens module (x, y).
fn masks_at(n: usize, x: usize, y: usize) -> bool {
    match n {
        0 => (x + y) % 2 == 0,
        1 => y % 2 == 0,
        2 => x % 3 == 0,
        3 => (x + y) % 3 == 0,
        4 => (y / 2 + x / 3) % 2 == 0,
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3) % 2 == 0,
        _ => ((x + y) % 2 + (x * y) % 3) % 2 == 0,
    }
}

/// The penalty score of ISO/IEC 18004 §7.8.3 (lower reads better): long runs
/// of one colour, 2×2 blocks, finder-like patterns and a dark/light imbalance.
/// Written without data-dependent branches: on a QR code's random-looking
/// modules every mispredicted branch costs more than the arithmetic.
fn penalty(dark: &[bool], width: usize) -> u32 {
    let mut score = 0u32;
    for line in 0..width {
        for (start, step) in [(line * width, 1), (line, width)] {
            let at = |i: usize| dark[start + i * step] as u32;
            // Runs of five or more: 3, plus 1 per module beyond five.
            let mut run = 1u32;
            // 1:1:3:1:1 dark-light-dark with four light modules on either
            // side (outside the code counts as light): 40 each.
            let mut window = at(0);
            for i in 1..width + 4 {
                let bit = if i < width { at(i) } else { 0 };
                let same = (i < width && bit == at(i - 1)) as u32;
                let ended = 1 - same;
                score += ended * (run >= 5) as u32 * run.saturating_sub(2);
                run = run * same + 1;
                window = ((window << 1) | bit) & 0x7ff;
                let finder =
                    (window == 0b000_0101_1101) as u32 + (window == 0b101_1101_0000) as u32;
                score += 40 * finder * (i >= 6) as u32;
            }
        }
    }
    let mut dark_count = 0;
    for y in 0..width {
        let row = &dark[y * width..(y + 1) * width];
        dark_count += row.iter().filter(|d| **d).count();
        if y + 1 < width {
            let below = &dark[(y + 1) * width..(y + 2) * width];
            for x in 0..width - 1 {
                let c = row[x];
                let block = (row[x + 1] == c) & (below[x] == c) & (below[x + 1] == c);
                score += 3 * block as u32;
            }
        }
    }
    // 10 for every 5 % the dark share is away from half.
    let total = width * width;
    let deviation = (dark_count * 20).abs_diff(total * 10) / total;
    score + 10 * deviation as u32
}

/// The code as SVG, in module units (`viewBox`) drawn at 256 px or more:
/// one stroked path of horizontal runs of dark modules, each row starting
/// `M x y` and each further run in it `m gap 0`, then `h n` (the stroke is
/// one module wide, moved down half a module to cover its row). A path
/// square per module, as the crate draws it, made a console's QR frame
/// 13 KB; filled rectangles per run, 4 KB; this is about 2 KB, which matters
/// to a phone on a weak network every 20 s and to the server, whose socket
/// write buffer keeps the size of the largest frame it sent to each of
/// 40,000 consoles.
pub fn svg(text: &str) -> AppResult<String> {
    use std::fmt::Write;
    let m = code(text)?;
    let quiet = QUIET_ZONE as usize;
    let size = m.width + 2 * quiet;
    let pixels = 256usize.div_ceil(size) * size;
    let mut runs = String::with_capacity(m.width * m.width / 3);
    for y in 0..m.width {
        let row = &m.colors[y * m.width..(y + 1) * m.width];
        // Where the pen is after the row's last run, if it has one yet.
        let mut pen = None;
        let mut x = 0;
        while x < m.width {
            if row[x] != Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < m.width && row[x] == Color::Dark {
                x += 1;
            }
            let _ = match pen {
                None => write!(runs, "M{} {}h{}", start + quiet, y + quiet, x - start),
                Some(end) => write!(runs, "m{} 0h{}", start - end, x - start),
            };
            pen = Some(x);
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{pixels}\" height=\"{pixels}\" \
         viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <path fill=\"#fff\" d=\"M0 0h{size}v{size}H0z\"/>\
         <path stroke=\"#000\" transform=\"translate(0 .5)\" d=\"{runs}\"/></svg>"
    ))
}

pub fn png(text: &str, size: u32) -> AppResult<Vec<u8>> {
    let m = code(text)?;
    let img = Renderer::<Luma<u8>>::new(&m.colors, m.width, QUIET_ZONE)
        .min_dimensions(size, size)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| AppError::internal(anyhow::anyhow!("png: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grid of a code with the crate's own mask choice.
    fn crate_choice(text: &str) -> Vec<Color> {
        qrcode::QrCode::with_error_correction_level(text, EcLevel::M)
            .unwrap()
            .into_colors()
    }

    #[test]
    fn codes_read_back_and_masks_score_sensibly() {
        for text in [
            "https://diemcau.example.vn/c/12345.88123456.AbCdEfGhIjKlMnOpQrStUvWx",
            "http://127.0.0.1:8080/tv/1",
            "TV-000123",
        ] {
            let png = png(text, 300).unwrap();
            let img = image::load_from_memory(&png).unwrap().to_luma8();
            let mut grid = rqrr::PreparedImage::prepare(img);
            let found = grid.detect_grids();
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].decode().unwrap().1, text);
            // Our choice never scores worse than the crate's by our measure.
            let ours = code(text).unwrap();
            let dark = |c: &[Color]| c.iter().map(|c| *c == Color::Dark).collect::<Vec<_>>();
            let theirs = crate_choice(text);
            assert_eq!(ours.colors.len(), theirs.len());
            assert!(
                penalty(&dark(&ours.colors), ours.width)
                    <= penalty(&dark(&theirs), ours.width) + 10
            );
        }
    }

    #[test]
    fn a_point_code_is_about_two_kilobytes_of_svg_drawing_exactly_its_modules() {
        let link =
            "https://diemcau.example.vn/c/40000.88123456.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab";
        let svg = svg(link).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.len() < 2_500, "{} bytes", svg.len());
        // Follow the pen through the runs' path and compare with the code.
        let m = code(link).unwrap();
        let quiet = QUIET_ZONE as i64;
        let d_start = svg.rfind(" d=\"").unwrap() + 4;
        let d = &svg[d_start..d_start + svg[d_start..].find('"').unwrap()];
        let mut drawn = vec![Color::Light; m.width * m.width];
        let (mut x, mut y) = (0i64, 0i64);
        let mut rest = d;
        while let Some(command) = rest.chars().next() {
            let end = rest[1..]
                .find(['M', 'm', 'h'])
                .map_or(rest.len(), |i| i + 1);
            let numbers: Vec<i64> = rest[1..end]
                .split(' ')
                .map(|n| n.parse().unwrap())
                .collect();
            match (command, &numbers[..]) {
                ('M', [nx, ny]) => (x, y) = (*nx, *ny),
                ('m', [dx, 0]) => x += dx,
                ('h', [n]) => {
                    for col in x..x + n {
                        let (col, row) = ((col - quiet) as usize, (y - quiet) as usize);
                        drawn[row * m.width + col] = Color::Dark;
                    }
                    x += n;
                }
                other => panic!("unexpected path command {other:?}"),
            }
            rest = &rest[end..];
        }
        assert!(
            drawn == m.colors,
            "the path draws other modules than the code's"
        );
    }

    /// The rules written the plain way, to check the branch-free version.
    fn reference_penalty(dark: &[bool], w: usize) -> u32 {
        let get = |x: isize, y: isize| {
            x >= 0
                && y >= 0
                && (x as usize) < w
                && (y as usize) < w
                && dark[y as usize * w + x as usize]
        };
        let mut score = 0;
        for a in 0..w as isize {
            for by_row in [true, false] {
                let at = |b: isize| if by_row { get(b, a) } else { get(a, b) };
                let mut run = 1;
                for b in 1..=w as isize {
                    if b < w as isize && at(b) == at(b - 1) {
                        run += 1;
                    } else {
                        if run >= 5 {
                            score += run - 2;
                        }
                        run = 1;
                    }
                }
                let finder = [true, false, true, true, true, false, true];
                for b in -4..w as isize {
                    let core = (0..7).all(|k| at(b + k) == finder[k as usize]);
                    let light = |from: isize| (from..from + 4).all(|k| !at(k));
                    if core && (light(b - 4) || light(b + 7)) {
                        score += 40 * (light(b - 4) as u32 + light(b + 7) as u32);
                    }
                }
            }
        }
        for y in 0..w as isize - 1 {
            for x in 0..w as isize - 1 {
                let c = get(x, y);
                if get(x + 1, y) == c && get(x, y + 1) == c && get(x + 1, y + 1) == c {
                    score += 3;
                }
            }
        }
        let dark_count = dark.iter().filter(|d| **d).count();
        score + 10 * ((dark_count * 20).abs_diff(w * w * 10) / (w * w)) as u32
    }

    #[test]
    fn branch_free_penalty_agrees_with_the_plain_rules() {
        let mut seed = 0x2545_f491_u64;
        for w in [21, 25, 37] {
            for _ in 0..20 {
                let grid: Vec<bool> = (0..w * w)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed % 3 == 0
                    })
                    .collect();
                assert_eq!(penalty(&grid, w), reference_penalty(&grid, w));
            }
        }
    }

    #[test]
    fn penalty_counts_runs_blocks_and_balance() {
        // All light 21×21: rows and columns are runs of 21 (19 each, ×42),
        // 400 blocks (3 each), all light (10 × 10).
        let light = vec![false; 21 * 21];
        assert_eq!(penalty(&light, 21), 42 * 19 + 400 * 3 + 100);
    }
}
