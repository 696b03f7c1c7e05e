// A heatmap with the count written in every cell (the confusion matrix). Diagonal cells are
// shaded blue, off-diagonal ones red, each on a logarithmic scale so that a handful of
// mistakes stays visible next to a thousand correct answers.
import Foundation

public struct Heatmap {
    public var title: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// values[row][column]
    public var values: [[Int]]
    public var xLabel: String
    public var yLabel: String
    public var cell = 40.0

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Int]], xLabel: String, yLabel: String) {
        precondition(values.count == rowLabels.count && values.allSatisfy { $0.count == columnLabels.count })
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    /// Shade for `value`: t in [0, 1] on a log scale up to `max`.
    static func intensity(_ value: Int, max: Int) -> Double {
        guard value > 0, max > 0 else { return 0 }
        return log(1 + Double(value)) / log(1 + Double(max))
    }

    static func mix(_ t: Double, _ to: (Double, Double, Double)) -> String {
        let c = [to.0, to.1, to.2].map { Int((255 + (($0) - 255) * t).rounded()) }
        return String(format: "#%02x%02x%02x", c[0], c[1], c[2])
    }

    public func svg() -> String {
        let left = 70.0
        let top = 56.0
        let w = left + cell * Double(columnLabels.count) + 16
        let h = top + cell * Double(rowLabels.count) + 20
        var doc = SVGDocument(width: w, height: h)
        doc.text(title, x: w / 2, y: 20, size: 15, anchor: .middle, bold: true)
        doc.text(xLabel, x: left + cell * Double(columnLabels.count) / 2, y: 38, size: 12, anchor: .middle)
        doc.text(yLabel, x: 14, y: top + cell * Double(rowLabels.count) / 2, size: 12, anchor: .middle, rotate: -90)
        let diagonalMax = values.indices.map { $0 < values[$0].count ? values[$0][$0] : 0 }.max() ?? 0
        let offMax = values.enumerated().flatMap { r, row in row.enumerated().filter { $0.offset != r }.map(\.element) }.max() ?? 0
        for (j, label) in columnLabels.enumerated() {
            doc.text(label, x: left + (Double(j) + 0.5) * cell, y: top - 6, size: 12, anchor: .middle, bold: true)
        }
        for (i, label) in rowLabels.enumerated() {
            doc.text(label, x: left - 8, y: top + (Double(i) + 0.5) * cell + 4, size: 12, anchor: .end, bold: true)
            for (j, v) in values[i].enumerated() {
                let diagonal = i == j
                let t = Self.intensity(v, max: diagonal ? diagonalMax : offMax)
                let fill = diagonal ? Self.mix(t, (33, 102, 172)) : Self.mix(t * 0.85, (214, 39, 40))
                let x = left + Double(j) * cell
                let y = top + Double(i) * cell
                doc.rect(x: x, y: y, width: cell, height: cell, fill: fill, extra: [("stroke", "#ffffff"), ("stroke-width", "1")])
                doc.text(
                    "\(v)", x: x + cell / 2, y: y + cell / 2 + 4, size: v >= 1000 ? 10.5 : 12, anchor: .middle,
                    fill: t > 0.55 ? "#ffffff" : (v == 0 ? "#bbbbbb" : "#222222"),
                    extra: [("class", "count"), ("data-row", "\(i)"), ("data-col", "\(j)")])
            }
        }
        return doc.render()
    }
}
