//! Pixel operations on u8 images (C x H x W), written to give the same bytes as
//! torchvision's tensor implementations (`transforms/_functional_tensor.py`).
//!
//! They are hand-written rather than taken from an image crate because the results must
//! match torchvision exactly, including its float32 arithmetic and its rounding: the
//! float -> u8 step truncates (`tensor.to(torch.uint8)`), the affine warp samples an
//! inverse-matrix grid with `grid_sample(mode="nearest", align_corners=False)` and rounds
//! half to even, and the blends compute `ratio * a + (1 - ratio) * b` in float32.

/// An image's `[channels, height, width]`.
pub type Shape = [usize; 3];

/// Nearest-neighbour warp with the inverse affine `matrix` (output pixel -> input pixel, in
/// coordinates centred on the image, as `_get_inverse_affine_matrix` returns it); pixels
/// from outside the image are 0.
pub fn affine_nearest(img: &mut [u8], shape: Shape, matrix: [f64; 6]) {
    let [channels, height, width] = shape;
    let plane = height * width;
    // torchvision: theta = float32(matrix); rescaled = theta.T / [0.5 w, 0.5 h];
    // grid = base_grid @ rescaled, with base_grid = (x, y, 1) of each output pixel centre.
    // A plain multiply-then-add in this order matches torch 2.9's bmm bit for bit on every
    // fixture (all 31 bins of all five geometric ops).
    let theta = matrix.map(|v| v as f32);
    let (half_w, half_h) = ((0.5 * width as f64) as f32, (0.5 * height as f64) as f32);
    let row_x = [theta[0] / half_w, theta[1] / half_w, theta[2] / half_w];
    let row_y = [theta[3] / half_h, theta[4] / half_h, theta[5] / half_h];
    let source = img.to_vec();
    for out_y in 0..height {
        let base_y = out_y as f32 - half_h + 0.5;
        for out_x in 0..width {
            let base_x = out_x as f32 - half_w + 0.5;
            let grid_x = base_x * row_x[0] + base_y * row_x[1] + row_x[2];
            let grid_y = base_x * row_y[0] + base_y * row_y[1] + row_y[2];
            // grid_sample, align_corners=False: ((g + 1) * size / 2 - 0.5), rounded half to even.
            let in_x = ((grid_x + 1.0) * half_w - 0.5).round_ties_even();
            let in_y = ((grid_y + 1.0) * half_h - 0.5).round_ties_even();
            let inside = in_x >= 0.0 && in_x < width as f32 && in_y >= 0.0 && in_y < height as f32;
            let from = if inside { Some(in_y as usize * width + in_x as usize) } else { None };
            for channel in 0..channels {
                let offset = channel * plane;
                img[offset + out_y * width + out_x] = from.map_or(0, |i| source[offset + i]);
            }
        }
    }
}

/// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale=1, shear)`,
/// in f64 like the Python original (angles in degrees).
pub fn inverse_affine_matrix(center: [f64; 2], angle: f64, translate: [f64; 2], shear: [f64; 2]) -> [f64; 6] {
    // Python's math.radians multiplies by pi / 180 (Rust's to_radians may differ by an ulp).
    let radians = |degrees: f64| degrees * (std::f64::consts::PI / 180.0);
    let (rot, sx, sy) = (radians(angle), radians(shear[0]), radians(shear[1]));
    let [cx, cy] = center;
    let [tx, ty] = translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0];
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// `_blend(img, other, ratio)`: `(ratio * img + (1 - ratio) * other).clamp(0, 255)` in
/// float32, truncated to u8. `other(i)` is the second image's value at pixel `i`.
fn blend(img: &mut [u8], ratio: f64, other: impl Fn(usize) -> f32) {
    let (ratio_f, rest_f) = (ratio as f32, (1.0 - ratio) as f32);
    for (i, pixel) in img.iter_mut().enumerate() {
        *pixel = to_u8(ratio_f * *pixel as f32 + rest_f * other(i));
    }
}

/// float32 -> u8 as torch's `.clamp(0, 255).to(torch.uint8)`: clamp, then truncate.
fn to_u8(value: f32) -> u8 {
    value.clamp(0.0, 255.0) as u8
}

/// `rgb_to_grayscale` of a 3-channel image: `0.2989 r + 0.587 g + 0.114 b` in float32,
/// truncated to u8 (one plane).
fn grayscale(img: &[u8], shape: Shape) -> Vec<u8> {
    let plane = shape[1] * shape[2];
    let (r, g, b) = (&img[..plane], &img[plane..2 * plane], &img[2 * plane..3 * plane]);
    (0..plane)
        .map(|i| to_u8(0.2989f32 * r[i] as f32 + 0.587f32 * g[i] as f32 + 0.114f32 * b[i] as f32))
        .collect()
}

/// `adjust_brightness`: blend with black.
pub fn brightness(img: &mut [u8], factor: f64) {
    blend(img, factor, |_| 0.0);
}

/// `adjust_saturation`: blend with the grey image; a 1-channel image is returned unchanged
/// (torchvision: "Match PIL behaviour").
pub fn saturation(img: &mut [u8], shape: Shape, factor: f64) {
    if shape[0] != 3 {
        return;
    }
    let plane = shape[1] * shape[2];
    let grey = grayscale(img, shape);
    blend(img, factor, |i| grey[i % plane] as f32);
}

/// `adjust_contrast`: blend with the mean grey level (of the grey image for 3 channels).
pub fn contrast(img: &mut [u8], shape: Shape, factor: f64) {
    // torch sums in float32 and divides by the count. The integer sum converted once is the
    // same number while the sum stays below 2^24 (any image up to 256x256); beyond that it
    // is the correctly rounded sum, which torch's pairwise float32 sum is closest to.
    let grey;
    let values: &[u8] = if shape[0] == 3 {
        grey = grayscale(img, shape);
        &grey
    } else {
        img
    };
    let sum = values.iter().map(|&v| v as u64).sum::<u64>() as f32;
    let count = values.len();
    let mean = sum / count as f32;
    blend(img, factor, |_| mean);
}

/// `adjust_sharpness`: blend with the image smoothed by `[[1,1,1],[1,5,1],[1,1,1]] / 13`
/// (rounded to u8), whose border pixels are the original ones.
pub fn sharpness(img: &mut [u8], shape: Shape, factor: f64) {
    let [channels, height, width] = shape;
    if width <= 2 || height <= 2 {
        return;
    }
    let mut smooth = img.to_vec();
    for channel in 0..channels {
        let offset = channel * height * width;
        for y in 1..height - 1 {
            for x in 1..width - 1 {
                let at = |dy: usize, dx: usize| img[offset + (y + dy - 1) * width + (x + dx - 1)] as u32;
                let sum: u32 =
                    (0..3).flat_map(|dy| (0..3).map(move |dx| (dy, dx))).map(|(dy, dx)| at(dy, dx)).sum();
                // (sum + 4 * centre) / 13 is never exactly k + 0.5 (13 is odd), so rounding
                // the exact quotient agrees with torch's float32 conv + round.
                let weighted = sum + 4 * at(1, 1);
                smooth[offset + y * width + x] = ((2 * weighted + 13) / 26) as u8;
            }
        }
    }
    blend(img, factor, |i| smooth[i] as f32);
}

/// `posterize`: keep the `bits` highest bits of every pixel.
pub fn posterize(img: &mut [u8], bits: u32) {
    let mask = (0xFFu16 << (8 - bits.min(8))) as u8;
    img.iter_mut().for_each(|p| *p &= mask);
}

/// `solarize`: invert every pixel at or above `threshold` (compared in float32).
pub fn solarize(img: &mut [u8], threshold: f64) {
    let threshold = threshold as f32;
    img.iter_mut().filter(|p| **p as f32 >= threshold).for_each(|p| *p = 255 - *p);
}

/// `invert`: `255 - pixel`.
pub fn invert(img: &mut [u8]) {
    img.iter_mut().for_each(|p| *p = 255 - *p);
}

/// `autocontrast`: stretch every channel to 0..255 (a flat channel is left unchanged).
pub fn autocontrast(img: &mut [u8], shape: Shape) {
    let plane = shape[1] * shape[2];
    for channel in img.chunks_exact_mut(plane) {
        let min = channel.iter().copied().min().unwrap_or(0) as f32;
        let max = channel.iter().copied().max().unwrap_or(0) as f32;
        // torch computes `bound / (max - min)` as `(max - min).reciprocal() * bound`: two
        // float32 roundings, which differ from one division for 46 of the 255 ranges (a
        // range of 7 would map the maximum to 254 instead of 255).
        let scale = (1.0f32 / (max - min)) * 255.0;
        let (min, scale) = if scale.is_finite() { (min, scale) } else { (0.0, 1.0) };
        channel.iter_mut().for_each(|p| *p = to_u8((*p as f32 - min) * scale));
    }
}

/// `equalize`: torchvision's per-channel histogram equalisation (`_scale_channel`).
pub fn equalize(img: &mut [u8], shape: Shape) {
    let plane = shape[1] * shape[2];
    for channel in img.chunks_exact_mut(plane) {
        let mut histogram = [0usize; 256];
        channel.iter().for_each(|&p| histogram[p as usize] += 1);
        // All counts except that of the highest pixel value present.
        let last_nonzero = histogram.iter().rposition(|&n| n != 0).unwrap_or(0);
        let step = histogram[..last_nonzero].iter().sum::<usize>() / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0u8; 256];
        let mut cumulative = 0;
        for value in 0..255 {
            cumulative += histogram[value];
            // lut is shifted right by one: lut[v + 1] = (cumsum[v] + step / 2) / step.
            lut[value + 1] = ((cumulative + step / 2) / step).min(255) as u8;
        }
        channel.iter_mut().for_each(|p| *p = lut[*p as usize]);
    }
}

/// Mirrors every row.
pub fn horizontal_flip(img: &mut [u8], shape: Shape) {
    img.chunks_exact_mut(shape[2]).for_each(|row| row.reverse());
}

/// Pads every side with `padding` zeros, then crops the original size back out at
/// (`top`, `left`) of the padded image (both in `0..=2 * padding`).
pub fn padded_crop(img: &mut [u8], shape: Shape, padding: usize, top: usize, left: usize) {
    let [_, height, width] = shape;
    let source = img.to_vec();
    for (out, src) in img.chunks_exact_mut(height * width).zip(source.chunks_exact(height * width)) {
        for y in 0..height {
            for x in 0..width {
                // Position in the original image, if inside it.
                let sy = (y + top).checked_sub(padding).filter(|&v| v < height);
                let sx = (x + left).checked_sub(padding).filter(|&v| v < width);
                out[y * width + x] = match (sy, sx) {
                    (Some(sy), Some(sx)) => src[sy * width + sx],
                    _ => 0,
                };
            }
        }
    }
}
