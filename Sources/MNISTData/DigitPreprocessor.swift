// Turns an arbitrary greyscale picture of one digit into a 28x28 MNIST-style image, the way
// MNIST was made: light ink on a dark background, the ink's bounding box scaled to fit 20x20
// (aspect kept, area-averaged), then centred by its centre of mass in the 28x28 frame.

public enum DigitPreprocessor {
    public static let side = 28
    public static let box = 20

    /// 784 bytes, row-major. A 28x28 image that is already light-on-dark is returned unchanged.
    public static func prepare(_ image: GrayImage) -> [UInt8] {
        guard image.width > 0, image.height > 0, image.pixels.count == image.width * image.height else {
            return [UInt8](repeating: 0, count: side * side)
        }
        var pixels = image.pixels
        if backgroundIsLight(image) { pixels = pixels.map { 255 - $0 } }
        if image.width == side && image.height == side { return pixels }
        // Bounding box of the ink.
        var minX = image.width
        var minY = image.height
        var maxX = -1
        var maxY = -1
        for y in 0..<image.height {
            for x in 0..<image.width where pixels[y * image.width + x] > 32 {
                minX = min(minX, x)
                maxX = max(maxX, x)
                minY = min(minY, y)
                maxY = max(maxY, y)
            }
        }
        guard maxX >= 0 else { return [UInt8](repeating: 0, count: side * side) }
        let w = maxX - minX + 1
        let h = maxY - minY + 1
        let scale = Double(box) / Double(max(w, h))
        let outW = max(1, Int((Double(w) * scale).rounded()))
        let outH = max(1, Int((Double(h) * scale).rounded()))
        // Area-average resampling of the crop into outW x outH.
        var scaled = [Double](repeating: 0, count: outW * outH)
        for oy in 0..<outH {
            let y0 = Double(oy) / scale
            let y1 = Double(oy + 1) / scale
            for ox in 0..<outW {
                let x0 = Double(ox) / scale
                let x1 = Double(ox + 1) / scale
                var sum = 0.0
                var area = 0.0
                var sy = Int(y0)
                while Double(sy) < y1 && sy < h {
                    let wy = min(y1, Double(sy + 1)) - max(y0, Double(sy))
                    var sx = Int(x0)
                    while Double(sx) < x1 && sx < w {
                        let wx = min(x1, Double(sx + 1)) - max(x0, Double(sx))
                        sum += Double(pixels[(minY + sy) * image.width + minX + sx]) * wx * wy
                        area += wx * wy
                        sx += 1
                    }
                    sy += 1
                }
                scaled[oy * outW + ox] = area > 0 ? sum / area : 0
            }
        }
        // Centre of mass of the scaled digit goes to the centre of the 28x28 frame.
        var mass = 0.0
        var cx = 0.0
        var cy = 0.0
        for y in 0..<outH {
            for x in 0..<outW {
                let v = scaled[y * outW + x]
                mass += v
                cx += v * Double(x)
                cy += v * Double(y)
            }
        }
        cx = mass > 0 ? cx / mass : Double(outW - 1) / 2
        cy = mass > 0 ? cy / mass : Double(outH - 1) / 2
        let offX = min(max(Int((Double(side) / 2 - 0.5 - cx).rounded()), 0), side - outW)
        let offY = min(max(Int((Double(side) / 2 - 0.5 - cy).rounded()), 0), side - outH)
        var out = [UInt8](repeating: 0, count: side * side)
        for y in 0..<outH {
            for x in 0..<outW {
                out[(y + offY) * side + x + offX] = UInt8(min(255, max(0, scaled[y * outW + x].rounded())))
            }
        }
        return out
    }

    /// True if the border is mostly light (dark ink on paper), judged by the mean border pixel.
    static func backgroundIsLight(_ image: GrayImage) -> Bool {
        var sum = 0
        var count = 0
        for x in 0..<image.width {
            sum += Int(image.pixels[x]) + Int(image.pixels[(image.height - 1) * image.width + x])
            count += 2
        }
        for y in 0..<image.height {
            sum += Int(image.pixels[y * image.width]) + Int(image.pixels[y * image.width + image.width - 1])
            count += 2
        }
        return sum / max(count, 1) > 127
    }
}
