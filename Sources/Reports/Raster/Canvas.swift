// An RGB raster to draw PNG figures on: filled rectangles, frames, greyscale images scaled by
// whole pixels, and text in the 5x7 bitmap font.
import MNISTData

public struct Color: Equatable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }
    public static let white = Color(255, 255, 255)
    public static let black = Color(0, 0, 0)
    public static let ink = Color(34, 34, 34)
    public static let correct = Color(30, 150, 60)
    public static let wrong = Color(210, 40, 40)
    public static let grey = Color(140, 140, 140)
}

public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    /// RGB, row-major.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: Color = .white) {
        precondition(width >= 1 && height >= 1)
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, color: background)
    }

    public func color(x: Int, y: Int) -> Color {
        let i = (y * width + x) * 3
        return Color(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Sets one pixel; points outside the canvas are ignored.
    public mutating func set(x: Int, y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r
        pixels[i + 1] = c.g
        pixels[i + 2] = c.b
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: Color) {
        for yy in max(0, y)..<min(height, y + h) where w > 0 {
            for xx in max(0, x)..<min(width, x + w) { set(x: xx, y: yy, color) }
        }
    }

    /// A rectangle outline `thickness` pixels wide, drawn inside (x, y, w, h).
    public mutating func frame(x: Int, y: Int, width w: Int, height h: Int, thickness: Int, color: Color) {
        fill(x: x, y: y, width: w, height: thickness, color: color)
        fill(x: x, y: y + h - thickness, width: w, height: thickness, color: color)
        fill(x: x, y: y, width: thickness, height: h, color: color)
        fill(x: x + w - thickness, y: y, width: thickness, height: h, color: color)
    }

    /// Draws a greyscale image (0 black .. 255 white) with its top-left at (x, y), each pixel
    /// as a `scale` x `scale` block.
    public mutating func draw(gray pixels: ArraySlice<UInt8>, width w: Int, height h: Int, x: Int, y: Int, scale: Int = 1) {
        precondition(pixels.count == w * h)
        let base = pixels.startIndex
        for sy in 0..<h {
            for sx in 0..<w {
                let v = pixels[base + sy * w + sx]
                fill(x: x + sx * scale, y: y + sy * scale, width: scale, height: scale, color: Color(v, v, v))
            }
        }
    }

    /// Draws `text` with its top-left at (x, y); each font pixel is `scale` x `scale`.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 1, color: Color = .ink) {
        for (i, c) in text.enumerated() {
            let g = BitmapFont.glyph(c)
            let ox = x + i * BitmapFont.advance * scale
            for (row, bits) in g.enumerated() {
                for (col, on) in bits.enumerated() where on {
                    fill(x: ox + col * scale, y: y + row * scale, width: scale, height: scale, color: color)
                }
            }
        }
    }

    /// Text centred horizontally on `centerX`.
    public mutating func text(_ s: String, centerX: Int, y: Int, scale: Int = 1, color: Color = .ink) {
        text(s, x: centerX - BitmapFont.width(s, scale: scale) / 2, y: y, scale: scale, color: color)
    }

    public var image: RGBImage { RGBImage(width: width, height: height, pixels: pixels) }
    public var png: [UInt8] { PNG.encode(image) }
}
