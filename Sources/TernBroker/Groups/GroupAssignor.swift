import TernStorage

/// Computes a group's target assignment: every partition of every subscribed topic goes to one
/// member subscribed to its topic, partition counts differ by at most one between members with the
/// same subscription, and members keep as much of their previous assignment as balance allows.
///
/// A pure function of its inputs (members are visited in id order, partitions in topic and number
/// order), so every coordinator computes the same assignment from the same state.
enum GroupAssignor {
    /// - Parameters:
    ///   - subscriptions: each member's subscribed topic names.
    ///   - partitionCounts: the partition count of each existing topic (missing topics are skipped).
    ///   - previous: the previous target (or current) assignment, for stickiness.
    static func assign(
        subscriptions: [String: Set<String>], partitionCounts: [String: Int32], previous: [String: Set<TopicPartition>]
    ) -> [String: Set<TopicPartition>] {
        let memberIds = subscriptions.keys.sorted()
        var result: [String: Set<TopicPartition>] = [:]
        for id in memberIds { result[id] = [] }
        guard !memberIds.isEmpty else { return result }

        // Every partition to place, in a stable order.
        var all: [TopicPartition] = []
        for topic in Set(subscriptions.values.flatMap { $0 }).sorted() {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            for p in 0..<count { all.append(TopicPartition(topic, p)) }
        }
        func eligible(_ member: String, _ tp: TopicPartition) -> Bool {
            subscriptions[member]?.contains(tp.topic) ?? false
        }

        // 1. Sticky: keep previous owners that still subscribe, at most ceil(N / M) each.
        let quota = (all.count + memberIds.count - 1) / memberIds.count
        let valid = Set(all)
        var placed = Set<TopicPartition>()
        for id in memberIds {
            for tp in (previous[id] ?? []).sorted(by: Self.order) where valid.contains(tp) && eligible(id, tp) {
                guard !placed.contains(tp), result[id, default: []].count < quota else { continue }
                result[id, default: []].insert(tp)
                placed.insert(tp)
            }
        }

        // 2. Place the rest on the least-loaded eligible member.
        for tp in all where !placed.contains(tp) {
            guard
                let target = memberIds.filter({ eligible($0, tp) }).min(by: {
                    result[$0, default: []].count < result[$1, default: []].count
                })
            else { continue }
            result[target, default: []].insert(tp)
            placed.insert(tp)
        }

        // 3. Balance: move one partition from a most-loaded to a least-loaded member that can take
        // it while their counts differ by more than one. Each move lowers the sum of squared
        // counts, so this ends.
        var moved = true
        while moved {
            moved = false
            let byLoad = memberIds.sorted { (result[$0, default: []].count, $0) > (result[$1, default: []].count, $1) }
            search: for heavy in byLoad {
                for light in byLoad.reversed()
                where result[heavy, default: []].count - result[light, default: []].count > 1 {
                    if let tp = result[heavy, default: []].sorted(by: Self.order).last(where: { eligible(light, $0) }) {
                        result[heavy, default: []].remove(tp)
                        result[light, default: []].insert(tp)
                        moved = true
                        break search
                    }
                }
            }
        }
        return result
    }

    /// Topic name, then partition number.
    static func order(_ a: TopicPartition, _ b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}
