// Grouped bar charts (class balance of train and test): one group per category, one bar per
// series, the value written above each bar.

public struct BarChart {
    public struct Series {
        public var name: String
        public var color: String
        public var values: [Double]
        public init(name: String, color: String, values: [Double]) {
            self.name = name
            self.color = color
            self.values = values
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var categories: [String]
    public var series: [Series]
    public var width = 640.0
    public var height = 340.0
    /// How each bar's value is written above it (nil: not written).
    public var valueLabel: ((Double) -> String)? = { String(format: "%.0f", $0) }

    public init(title: String, xLabel: String, yLabel: String, categories: [String], series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
    }

    public func svg() -> String {
        var doc = SVGDocument(width: width, height: height)
        let frame = ChartFrame(width: width, height: height, left: 64, right: 16, top: 34, bottom: 70)
        let left = frame.left
        let top = frame.top
        let plotW = frame.plotWidth
        let plotH = frame.plotHeight
        frame.title(title, in: &doc)
        let maxValue = max(series.flatMap(\.values).max() ?? 1, 1e-9)
        var ticks = Ticks.nice(min: 0, max: maxValue, count: 5)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        // Room above the tallest bar for its value.
        while let last = ticks.last, last < maxValue * 1.08 { ticks.append(last + step) }
        let top1 = ticks.last ?? maxValue
        func py(_ v: Double) -> Double { top + (1 - v / top1) * plotH }
        frame.horizontalGrid(ticks, step: step, y: py, in: &doc)
        let group = plotW / Double(max(categories.count, 1))
        let barW = group * 0.8 / Double(max(series.count, 1))
        let labelSize = min(10, max(7, barW * 0.45))
        for (c, name) in categories.enumerated() {
            let gx = left + Double(c) * group + group * 0.1
            for (s, ser) in series.enumerated() where c < ser.values.count {
                let v = ser.values[c]
                doc.rect(
                    x: gx + Double(s) * barW, y: py(v), width: barW - 1, height: top + plotH - py(v), fill: ser.color,
                    extra: [("class", "bar"), ("data-series", ser.name), ("data-category", name), ("data-value", SVGDocument.num(v))])
                if let valueLabel {
                    doc.text(
                        valueLabel(v), x: gx + Double(s) * barW + barW / 2, y: py(v) - 3, size: labelSize, anchor: .middle, fill: "#444")
                }
            }
            doc.text(name, x: left + Double(c) * group + group / 2, y: top + plotH + 16, size: 12, anchor: .middle)
        }
        frame.axes(xLabel: xLabel, yLabel: yLabel, in: &doc)
        var lx = left
        for s in series {
            doc.rect(x: lx, y: height - 22, width: 12, height: 12, fill: s.color)
            doc.text(s.name, x: lx + 17, y: height - 12, size: 11)
            lx += 30 + Double(s.name.count) * 7
        }
        return doc.render()
    }
}
