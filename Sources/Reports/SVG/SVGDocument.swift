// A minimal SVG writer for charts: shapes and text appended as elements, numbers printed
// compactly, every attribute value escaped. The output is standalone XML that browsers
// render as an <img> or inline in HTML.
import Foundation

public struct SVGDocument {
    public let width: Double
    public let height: Double
    var elements: [String] = []

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A number as SVG wants it: at most 2 decimals, no trailing zeros.
    public static func num(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        var s = String(format: "%.2f", v)
        while s.contains(".") && (s.hasSuffix("0") || s.hasSuffix(".")) { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    static func attributes(_ a: [(String, String)]) -> String {
        a.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
    }

    public mutating func raw(_ element: String) { elements.append(element) }

    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, extra: [(String, String)] = []) {
        elements.append(
            "<rect"
                + Self.attributes(
                    [
                        ("x", Self.num(x)), ("y", Self.num(y)), ("width", Self.num(max(0, width))),
                        ("height", Self.num(max(0, height))), ("fill", fill)
                    ] + extra) + "/>")
    }

    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        var a = [
            ("x1", Self.num(x1)), ("y1", Self.num(y1)), ("x2", Self.num(x2)), ("y2", Self.num(y2)), ("stroke", stroke),
            ("stroke-width", Self.num(width))
        ]
        if let dash { a.append(("stroke-dasharray", dash)) }
        elements.append("<line" + Self.attributes(a) + "/>")
    }

    public mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dash: String? = nil) {
        var a = [
            ("points", points.map { "\(Self.num($0.0)),\(Self.num($0.1))" }.joined(separator: " ")), ("fill", "none"),
            ("stroke", stroke), ("stroke-width", Self.num(width)), ("stroke-linejoin", "round")
        ]
        if let dash { a.append(("stroke-dasharray", dash)) }
        elements.append("<polyline" + Self.attributes(a) + "/>")
    }

    public mutating func circle(cx: Double, cy: Double, r: Double, fill: String, stroke: String? = nil, title: String? = nil) {
        var a = [("cx", Self.num(cx)), ("cy", Self.num(cy)), ("r", Self.num(r)), ("fill", fill)]
        if let stroke { a += [("stroke", stroke), ("stroke-width", "1.5")] }
        if let title {
            elements.append("<circle" + Self.attributes(a) + "><title>\(Self.escape(title))</title></circle>")
        } else {
            elements.append("<circle" + Self.attributes(a) + "/>")
        }
    }

    public enum Anchor: String { case start, middle, end }

    public mutating func text(
        _ s: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start, fill: String = "#222",
        bold: Bool = false, rotate: Double? = nil, extra: [(String, String)] = []
    ) {
        var a = [("x", Self.num(x)), ("y", Self.num(y)), ("font-size", Self.num(size)), ("text-anchor", anchor.rawValue), ("fill", fill)]
        if bold { a.append(("font-weight", "bold")) }
        if let rotate { a.append(("transform", "rotate(\(Self.num(rotate)) \(Self.num(x)) \(Self.num(y)))")) }
        elements.append("<text" + Self.attributes(a + extra) + ">\(Self.escape(s))</text>")
    }

    /// The standalone document (with XML declaration), sized in pixels.
    public func render() -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.num(width))\" height=\"\(Self.num(height))\" "
            + "viewBox=\"0 0 \(Self.num(width)) \(Self.num(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            + "<rect x=\"0\" y=\"0\" width=\"\(Self.num(width))\" height=\"\(Self.num(height))\" fill=\"#ffffff\"/>\n"
            + elements.joined(separator: "\n") + "\n</svg>\n"
    }
}

/// Chart colours (colour-blind-safe Tableau 10 order).
public enum Palette {
    public static let colors = [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"
    ]
    public static func color(_ i: Int) -> String { colors[i % colors.count] }
}

/// Axis ticks at "nice" numbers (1, 2 or 5 times a power of ten).
public enum Ticks {
    public static func nice(min lo: Double, max hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = ceil(lo / step - 1e-9)
        let last = floor(hi / step + 1e-9)
        guard last >= first else { return [lo] }
        return (0...Int(last - first)).map { (first + Double($0)) * step }.map { abs($0) < step * 1e-9 ? 0 : $0 }
    }

    /// A tick label: integers plainly, otherwise as many decimals as the step needs.
    public static func label(_ v: Double, step: Double) -> String {
        if abs(v) >= 10000 && v == v.rounded() {
            let f = NumberFormatter()
            f.numberStyle = .decimal
            return f.string(from: NSNumber(value: v)) ?? String(Int(v))
        }
        let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}

/// The plot area of a chart with its y axis on the left and its x axis at the bottom (BarChart and
/// LineChart): the title above it, horizontal grid lines with their labels, and the two axes.
struct ChartFrame {
    let left: Double, top: Double, plotWidth: Double, plotHeight: Double

    /// A plot area inset from a `width` x `height` document by the given margins.
    init(width: Double, height: Double, left: Double, right: Double, top: Double, bottom: Double) {
        self.left = left
        self.top = top
        plotWidth = width - left - right
        plotHeight = height - top - bottom
    }

    /// The title, centred at the top of the document.
    func title(_ text: String, in doc: inout SVGDocument) {
        doc.text(text, x: doc.width / 2, y: 20, size: 15, anchor: .middle, bold: true)
    }

    /// A grid line across the plot at each tick, labelled left of the y axis; `y` maps a value to
    /// its vertical position.
    func horizontalGrid(_ ticks: [Double], step: Double, y: (Double) -> Double, in doc: inout SVGDocument) {
        for t in ticks {
            doc.line(x1: left, y1: y(t), x2: left + plotWidth, y2: y(t), stroke: "#e4e4e4")
            doc.text(Ticks.label(t, step: step), x: left - 6, y: y(t) + 4, size: 11, anchor: .end, fill: "#555")
        }
    }

    /// The x and y axis lines and their labels (the y label rotated, left of the tick labels).
    func axes(xLabel: String, yLabel: String, in doc: inout SVGDocument) {
        let bottom = top + plotHeight
        doc.line(x1: left, y1: bottom, x2: left + plotWidth, y2: bottom, stroke: "#555")
        doc.line(x1: left, y1: top, x2: left, y2: bottom, stroke: "#555")
        doc.text(xLabel, x: left + plotWidth / 2, y: bottom + 34, size: 12, anchor: .middle)
        doc.text(yLabel, x: 16, y: top + plotHeight / 2, size: 12, anchor: .middle, rotate: -90)
    }
}
