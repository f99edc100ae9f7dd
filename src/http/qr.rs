//! QR code images (SVG for screens and print, PNG for TV mixers and tests).

use image::Luma;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::error::{AppError, AppResult};

fn code(text: &str) -> AppResult<QrCode> {
    // Medium error correction: survives a projector's glare and a cheap camera.
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| AppError::internal(anyhow::anyhow!("qr: {e}")))
}

pub fn svg(text: &str) -> AppResult<String> {
    Ok(code(text)?
        .render::<svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

pub fn png(text: &str, size: u32) -> AppResult<Vec<u8>> {
    let img = code(text)?
        .render::<Luma<u8>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| AppError::internal(anyhow::anyhow!("png: {e}")))?;
    Ok(out.into_inner())
}
