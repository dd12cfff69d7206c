/// Judges a ``ChaosHistory`` against what an `acks=all` producer is promised:
/// - every acknowledged record is in the final log exactly once, at the offset its
///   acknowledgement named (else **lost**, **duplicated** or **changed**);
/// - acknowledged records of a partition are stored in the order they were sent (**reordered**);
/// - nothing is visible that the workload never attempted (**phantom**);
/// - a record a consumer saw is still there, at the same offset (**truncated**: visible, then gone);
/// - no record, acknowledged or not, is stored twice (**duplicated**).
/// Records never acknowledged may or may not be present (**indeterminate**, not a violation).
public enum ChaosHistoryChecker {
    /// Checks `history`; the verdict lists counts and the first few violations of each kind in words.
    public static func check(_ history: ChaosHistory, maxProblemsPerKind: Int = 4) -> ChaosVerdict {
        var verdict = ChaosVerdict()
        var listed: [Substring: Int] = [:]
        func problem(_ text: @autoclosure () -> String) {
            let line = text()
            let kind = line.prefix { $0 != ":" }
            listed[kind, default: 0] += 1
            if listed[kind, default: 0] <= maxProblemsPerKind { verdict.problems.append(line) }
        }
        // Where each workload record is in the final logs.
        var positions: [ChaosRecordId: [(partition: Int32, offset: Int64)]] = [:]
        var atOffset: [Int32: [Int64: ChaosRecordId?]] = [:]
        for partition in history.final.keys.sorted() {
            for record in history.final[partition] ?? [] {
                atOffset[partition, default: [:]][record.offset] = .some(record.id)
                guard let id = record.id, history.wasAttempted(id) else {
                    verdict.phantom += 1
                    problem(
                        "phantom: \(record.id.map { "\($0)" } ?? "a foreign value") at p\(partition)@\(record.offset) was never sent"
                    )
                    continue
                }
                positions[id, default: []].append((partition, record.offset))
            }
        }
        for (id, places) in positions.sorted(by: { $0.key < $1.key }) where places.count > 1 {
            verdict.duplicated += 1
            problem(
                "duplicated: \(id) stored \(places.count) times, at \(places.map { "p\($0.partition)@\($0.offset)" })")
        }

        // Acknowledged records: present once, where acknowledged, in send order.
        verdict.acknowledged = history.acknowledged.count
        for (id, offset) in history.acknowledged.sorted(by: { $0.key < $1.key }) {
            let places = positions[id] ?? []
            if places.isEmpty {
                verdict.lost += 1
                problem("lost: \(id) acknowledged at p\(id.partition)@\(offset), not in the final log")
            } else if !places.contains(where: { $0.partition == id.partition && $0.offset == offset }) {
                verdict.changed += 1
                let found = atOffset[id.partition]?[offset].map { $0.map { "\($0)" } ?? "a foreign value" } ?? "nothing"
                problem(
                    "changed: \(id) acknowledged at p\(id.partition)@\(offset) holds \(found); \(id) is at \(places.map { "p\($0.partition)@\($0.offset)" })"
                )
            }
        }
        for partition in Set(history.acknowledged.keys.map(\.partition)).sorted() {
            let acked = history.acknowledged.filter { $0.key.partition == partition }.sorted { $0.key < $1.key }
            for (earlier, later) in zip(acked, acked.dropFirst()) where later.value <= earlier.value {
                verdict.reordered += 1
                problem(
                    "reordered: \(later.key) acknowledged at offset \(later.value), not after \(earlier.key) at \(earlier.value)"
                )
            }
            // In the final log, acknowledged records of the partition appear in sequence order.
            var highest: ChaosRecordId?
            for record in history.final[partition] ?? [] {
                guard let id = record.id, id.partition == partition, history.acknowledged[id] != nil else { continue }
                if let highest, id.sequence < highest.sequence {
                    verdict.reordered += 1
                    problem("reordered: \(id) at p\(partition)@\(record.offset) is stored after \(highest)")
                }
                if highest.map({ id.sequence > $0.sequence }) ?? true { highest = id }
            }
        }

        // What consumers saw must still be there.
        var seen = Set<ChaosObservation>()
        for observation in history.observed where seen.insert(observation).inserted {
            guard let id = observation.id, history.wasAttempted(id) else {
                verdict.phantom += 1
                problem(
                    "phantom: a consumer saw \(observation.id.map { "\($0)" } ?? "a foreign value") at p\(observation.partition)@\(observation.offset), never sent"
                )
                continue
            }
            let now = atOffset[observation.partition]?[observation.offset]
            if now != .some(.some(id)) {
                verdict.truncated += 1
                let found = now.map { $0.map { "\($0)" } ?? "a foreign value" } ?? "nothing"
                problem(
                    "truncated: a consumer saw \(id) at p\(observation.partition)@\(observation.offset); it now holds \(found)"
                )
            }
        }

        // Attempts that were never acknowledged: allowed either way; count where they ended up.
        for (partition, count) in history.attempted {
            for sequence in 0..<count {
                let id = ChaosRecordId(partition: partition, sequence: sequence)
                guard history.acknowledged[id] == nil else { continue }
                verdict.indeterminate += 1
                if positions[id] != nil { verdict.indeterminatePresent += 1 }
            }
        }
        return verdict
    }
}

/// The outcome of ``ChaosHistoryChecker/check(_:maxProblemsPerKind:)``.
public struct ChaosVerdict: Sendable, Equatable {
    public var acknowledged = 0
    /// Acknowledged records missing from the final log.
    public var lost = 0
    /// Records (acknowledged or not) stored more than once.
    public var duplicated = 0
    /// Acknowledged records out of send order (by acknowledged offset or in the final log).
    public var reordered = 0
    /// Acknowledged records not at the offset their acknowledgement named.
    public var changed = 0
    /// Values visible that the workload never sent.
    public var phantom = 0
    /// Records a consumer saw that are gone from (or changed at) their offset.
    public var truncated = 0
    /// Attempts never acknowledged (failed or timed out): may or may not be stored.
    public var indeterminate = 0
    /// How many of the indeterminate attempts are stored.
    public var indeterminatePresent = 0
    /// The first violations, in words.
    public var problems: [String] = []

    public init() {}

    /// Violations of every kind together.
    public var violations: Int { lost + duplicated + reordered + changed + phantom + truncated }
    public var isValid: Bool { violations == 0 }

    /// `acked=… lost=… duplicated=… reordered=… changed=… phantom=… truncated=… indeterminate=…(present …)`.
    public var summary: String {
        "acked=\(acknowledged) lost=\(lost) duplicated=\(duplicated) reordered=\(reordered) changed=\(changed) "
            + "phantom=\(phantom) truncated=\(truncated) indeterminate=\(indeterminate) (\(indeterminatePresent) stored)"
    }

    /// Adds another run's counts (problems are not merged).
    public mutating func add(_ other: ChaosVerdict) {
        acknowledged += other.acknowledged
        lost += other.lost
        duplicated += other.duplicated
        reordered += other.reordered
        changed += other.changed
        phantom += other.phantom
        truncated += other.truncated
        indeterminate += other.indeterminate
        indeterminatePresent += other.indeterminatePresent
    }
}
