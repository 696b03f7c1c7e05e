// Grids of digit images with captions (labels, predictions and confidences), optionally framed
// in a colour (green for a correct prediction, red for a wrong one).

public enum ImageGrid {
    public struct Tile: Sendable {
        /// Greyscale pixels, `side * side`.
        public var pixels: ArraySlice<UInt8>
        public var caption: String
        public var captionColor: Color
        public var frame: Color?
        public init(pixels: ArraySlice<UInt8>, caption: String, captionColor: Color = .ink, frame: Color? = nil) {
            self.pixels = pixels
            self.caption = caption
            self.captionColor = captionColor
            self.frame = frame
        }
    }

    public struct Layout: Equatable, Sendable {
        public var columns: Int
        /// Image side in source pixels (28 for MNIST).
        public var side: Int
        public var scale: Int
        public var frame = 3
        public var gap = 6
        public var captionScale = 1
        public var title: String?

        public init(columns: Int, side: Int = 28, scale: Int = 2, title: String? = nil) {
            self.columns = columns
            self.side = side
            self.scale = scale
            self.title = title
        }

        var imageSide: Int { side * scale }
        var cellWidth: Int { imageSide + 2 * frame }
        var cellHeight: Int { imageSide + 2 * frame + 3 + BitmapFont.glyphHeight * captionScale }
        var titleHeight: Int { title == nil ? 0 : BitmapFont.glyphHeight * 2 + 10 }

        /// Top-left corner of tile `i`'s frame.
        public func origin(of i: Int) -> (x: Int, y: Int) {
            (gap + (i % columns) * (cellWidth + gap), titleHeight + gap + (i / columns) * (cellHeight + gap))
        }

        public func size(tiles: Int) -> (width: Int, height: Int) {
            let rows = max(1, (tiles + columns - 1) / columns)
            let w = gap + columns * (cellWidth + gap)
            return (max(w, title.map { BitmapFont.width($0, scale: 2) + 2 * gap } ?? 0), titleHeight + gap + rows * (cellHeight + gap))
        }
    }

    /// Renders `tiles` row by row, `layout.columns` per row.
    public static func render(_ tiles: [Tile], layout: Layout) -> Canvas {
        let size = layout.size(tiles: tiles.count)
        var canvas = Canvas(width: size.width, height: size.height)
        if let title = layout.title { canvas.text(title, x: layout.gap, y: 6, scale: 2) }
        for (i, tile) in tiles.enumerated() {
            precondition(
                tile.pixels.count == layout.side * layout.side,
                "tile \(i) has \(tile.pixels.count) pixels, expected \(layout.side * layout.side)")
            let (x, y) = layout.origin(of: i)
            if let f = tile.frame {
                canvas.frame(x: x, y: y, width: layout.cellWidth, height: layout.cellWidth, thickness: layout.frame, color: f)
            }
            canvas.draw(
                gray: tile.pixels, width: layout.side, height: layout.side, x: x + layout.frame, y: y + layout.frame, scale: layout.scale)
            canvas.text(
                tile.caption, centerX: x + layout.cellWidth / 2, y: y + layout.cellWidth + 3, scale: layout.captionScale,
                color: tile.captionColor)
        }
        return canvas
    }
}
