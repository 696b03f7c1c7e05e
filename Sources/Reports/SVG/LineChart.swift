// Line charts with markers (learning curves, throughput over time): several series on shared
// axes, optional vertical markers (best epoch, early stop) and a legend.

public struct LineChart {
    public struct Series {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        public init(name: String, color: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name
            self.color = color
            self.points = points
            self.dashed = dashed
        }
    }

    /// A vertical line across the plot at `x`, labelled.
    public struct Marker {
        public var x: Double
        public var label: String
        public var color: String
        public init(x: Double, label: String, color: String) {
            self.x = x
            self.label = label
            self.color = color
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var markers: [Marker] = []
    public var width = 560.0
    public var height = 340.0
    /// Fixed y range; by default the data's range with a margin.
    public var yRange: ClosedRange<Double>?
    /// Ticks on whole numbers only (epochs).
    public var integerX = false
    /// Draw a dot at every point.
    public var showPoints = true

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    public func svg() -> String {
        var doc = SVGDocument(width: width, height: height)
        let right = 16.0
        let frame = ChartFrame(width: width, height: height, left: 64, right: right, top: 34, bottom: 72)
        let left = frame.left
        let top = frame.top
        let plotW = frame.plotWidth
        let plotH = frame.plotHeight
        frame.title(title, in: &doc)

        let xs = series.flatMap { $0.points.map(\.x) } + markers.map(\.x)
        let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        var x0 = xs.min() ?? 0
        var x1 = xs.max() ?? 1
        if x1 <= x0 {
            x0 -= 1
            x1 += 1
        }
        var y0: Double
        var y1: Double
        if let r = yRange {
            (y0, y1) = (r.lowerBound, r.upperBound)
        } else {
            y0 = ys.min() ?? 0
            y1 = ys.max() ?? 1
            if y1 <= y0 {
                y0 -= 0.5
                y1 += 0.5
            }
            let pad = (y1 - y0) * 0.08
            y0 -= pad
            y1 += pad
        }
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }

        // Grid, ticks and axes.
        let yTicks = Ticks.nice(min: y0, max: y1, count: 5)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        frame.horizontalGrid(yTicks, step: yStep, y: py, in: &doc)
        var xTicks = Ticks.nice(min: x0, max: x1, count: 8)
        if integerX { xTicks = xTicks.filter { $0 == $0.rounded() } }
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        for t in xTicks {
            doc.line(x1: px(t), y1: top + plotH, x2: px(t), y2: top + plotH + 4, stroke: "#555")
            doc.text(Ticks.label(t, step: xStep), x: px(t), y: top + plotH + 17, size: 11, anchor: .middle, fill: "#555")
        }
        frame.axes(xLabel: xLabel, yLabel: yLabel, in: &doc)

        for (i, m) in markers.enumerated() {
            doc.line(x1: px(m.x), y1: top, x2: px(m.x), y2: top + plotH, stroke: m.color, width: 1.5, dash: "5 4")
            doc.text(
                m.label, x: px(m.x) + (px(m.x) > left + plotW * 0.7 ? -4 : 4), y: top + 14 + Double(i) * 14, size: 11,
                anchor: px(m.x) > left + plotW * 0.7 ? .end : .start, fill: m.color, bold: true)
        }
        for s in series {
            let pts = s.points.filter { $0.y.isFinite }.map { (px($0.x), py($0.y)) }
            if pts.count > 1 { doc.polyline(pts, stroke: s.color, width: 2, dash: s.dashed ? "6 4" : nil) }
            if showPoints || pts.count == 1 {
                for (p, raw) in zip(pts, s.points.filter { $0.y.isFinite }) {
                    doc.circle(
                        cx: p.0, cy: p.1, r: 3.5, fill: "#fff", stroke: s.color,
                        title: "\(s.name): \(Ticks.label(raw.x, step: xStep)), \(String(format: "%.4f", raw.y))")
                }
            }
        }
        // Legend in rows under the x-axis label.
        var lx = left
        var ly = top + plotH + 54
        for s in series {
            let w = 30 + Double(s.name.count) * 7
            if lx + w > width - right && lx > left {
                lx = left
                ly += 14
            }
            doc.line(x1: lx, y1: ly - 4, x2: lx + 20, y2: ly - 4, stroke: s.color, width: 2.5, dash: s.dashed ? "6 4" : nil)
            doc.text(s.name, x: lx + 25, y: ly, size: 11)
            lx += w
        }
        return doc.render()
    }
}
