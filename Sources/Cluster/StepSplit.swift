// Step scheduling: which worker computes which micro-batch of a step, and who takes over the
// micro-batches of a worker that is gone. Pure functions; only scheduling, never the sums, so
// never the bits.

public enum StepSplit {
    /// Which worker (index into `costs`) computes each of `count` micro-batches: each goes to the
    /// worker that would finish it first given what it already has and its seconds per micro-batch
    /// (unknown costs count as the median known one; ties go to the fewer-loaded, then the first
    /// worker). Equal costs give round robin. Only scheduling: the sums, hence the bits, are the same.
    public static func split(_ count: Int, costs: [Double?]) -> [Int] {
        let known = costs.compactMap { $0 }.filter { $0 > 0 }.sorted()
        let fallback = known.isEmpty ? 1 : known[known.count / 2]
        let cost = costs.map { c -> Double in c.map { $0 > 0 ? $0 : fallback } ?? fallback }
        var finish = [Double](repeating: 0, count: cost.count)
        var assigned = [Int](repeating: 0, count: cost.count)
        return (0..<count).map { _ in
            var best = 0
            for i in cost.indices.dropFirst() {
                let a = finish[i] + cost[i]
                let b = finish[best] + cost[best]
                // A 2% margin keeps near-equal workers on round robin despite noise in the costs.
                if a < b * 0.98 || (a <= b * 1.02 && assigned[i] < assigned[best]) { best = i }
            }
            finish[best] += cost[best]
            assigned[best] += 1
            return best
        }
    }

    /// Deals `orphaned` micro-batches round robin to `holders` (worker ids, in order): each
    /// holder's extra micro-batches, in the order dealt.
    public static func reassign(_ orphaned: [Int], to holders: [UInt32]) -> [(worker: UInt32, microBatches: [Int])] {
        var extra: [UInt32: [Int]] = [:]
        for (j, k) in orphaned.enumerated() { extra[holders[j % holders.count], default: []].append(k) }
        return extra.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

extension Coordinator {
    /// See `StepSplit.split`.
    static func split(_ count: Int, costs: [Double?]) -> [Int] { StepSplit.split(count, costs: costs) }
}
