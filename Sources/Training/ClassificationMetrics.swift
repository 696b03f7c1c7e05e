// Accuracy, per-class precision/recall/F1 (macro and weighted) and the confusion matrix.

public struct ClassMetrics: Codable, Equatable, Sendable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var support: Int
}

public struct ClassificationMetrics: Codable, Equatable, Sendable {
    /// confusion[true][predicted]
    public var confusion: [[Int]]
    public var loss: Double

    public init(classes: Int) {
        confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        loss = 0
    }

    public var classes: Int { confusion.count }
    public var total: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { (0..<classes).reduce(0) { $0 + confusion[$1][$1] } }
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    /// Mean loss per sample.
    public var meanLoss: Double { total == 0 ? 0 : loss / Double(total) }

    public mutating func record(label: Int, predicted: Int) { confusion[label][predicted] += 1 }

    public mutating func merge(_ other: ClassificationMetrics) {
        for i in 0..<classes { for j in 0..<classes { confusion[i][j] += other.confusion[i][j] } }
        loss += other.loss
    }

    public var perClass: [ClassMetrics] {
        (0..<classes).map { c in
            let tp = Double(confusion[c][c])
            let predicted = Double((0..<classes).reduce(0) { $0 + confusion[$1][c] })
            let actual = Double(confusion[c].reduce(0, +))
            let p = predicted == 0 ? 0 : tp / predicted
            let r = actual == 0 ? 0 : tp / actual
            let f = p + r == 0 ? 0 : 2 * p * r / (p + r)
            return ClassMetrics(precision: p, recall: r, f1: f, support: Int(actual))
        }
    }

    public var macro: ClassMetrics {
        let pc = perClass
        let n = Double(pc.count)
        return ClassMetrics(
            precision: pc.map(\.precision).reduce(0, +) / n, recall: pc.map(\.recall).reduce(0, +) / n,
            f1: pc.map(\.f1).reduce(0, +) / n, support: total)
    }

    public var weighted: ClassMetrics {
        let pc = perClass
        let t = Double(max(total, 1))
        func w(_ k: KeyPath<ClassMetrics, Double>) -> Double { pc.reduce(0) { $0 + $1[keyPath: k] * Double($1.support) } / t }
        return ClassMetrics(precision: w(\.precision), recall: w(\.recall), f1: w(\.f1), support: total)
    }

    /// The largest off-diagonal cells: (true, predicted, count), most frequent first.
    public func topConfusions(_ n: Int) -> [(label: Int, predicted: Int, count: Int)] {
        var cells: [(Int, Int, Int)] = []
        for i in 0..<classes { for j in 0..<classes where i != j && confusion[i][j] > 0 { cells.append((i, j, confusion[i][j])) } }
        return cells.sorted { $0.2 != $1.2 ? $0.2 > $1.2 : ($0.0, $0.1) < ($1.0, $1.1) }.prefix(n).map { ($0.0, $0.1, $0.2) }
    }

    /// The confusion matrix as an aligned text table.
    public func confusionTable() -> String {
        let width = max(5, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        var lines = ["true\\pred" + (0..<classes).map { pad("\($0)") }.joined()]
        for i in 0..<classes {
            lines.append(pad("\(i)").padding(toLength: 9, withPad: " ", startingAt: 0) + confusion[i].map { pad("\($0)") }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
