/// The verdict of `tern perf failover`: the partition read back against the acknowledgements.
struct FailoverCheck {
    /// Acknowledged records not in the read-back.
    var lost = 0
    /// Records (acknowledged or not) that appear more than once.
    var duplicated = 0
    /// Acknowledged records found at another offset than their acknowledgement gave.
    var moved = 0
    /// Places where a record's sequence number is not above the one before it (one producer,
    /// one partition, idempotent: the log keeps send order).
    var reordered = 0
    var acknowledged: Int
    var readBack: Int
    /// The longest time between two consecutive acknowledgements, and when it ended.
    var longestGapNanoseconds: UInt64 = 0
    var longestGapEndNanoseconds: UInt64 = 0

    var passed: Bool { lost == 0 && duplicated == 0 && moved == 0 && reordered == 0 }

    init(acknowledged acks: [FailoverHistory.Ack], readBack records: [(offset: Int64, sequence: Int)]) {
        acknowledged = acks.count
        readBack = records.count
        var offsetOf: [Int: Int64] = [:]
        offsetOf.reserveCapacity(records.count)
        var previous = -1
        for record in records {
            if offsetOf.updateValue(record.offset, forKey: record.sequence) != nil { duplicated += 1 }
            if record.sequence <= previous { reordered += 1 }
            previous = record.sequence
        }
        for ack in acks {
            guard let offset = offsetOf[ack.sequence] else {
                lost += 1
                continue
            }
            if offset != ack.offset { moved += 1 }
        }
        for (before, after) in zip(acks, acks.dropFirst())
        where after.ackNanoseconds - before.ackNanoseconds > longestGapNanoseconds {
            longestGapNanoseconds = after.ackNanoseconds - before.ackNanoseconds
            longestGapEndNanoseconds = after.ackNanoseconds
        }
    }

    func print(sent: Int, failed: Int, json: Bool) {
        let gapMs = PerfSummary.rounded(Double(longestGapNanoseconds) / 1e6, 1)
        if json {
            Swift.print(
                "{\"mode\":\"failover\",\"sent\":\(sent),\"acknowledged\":\(acknowledged),\"failed\":\(failed),"
                    + "\"read_back\":\(readBack),\"lost\":\(lost),\"duplicated\":\(duplicated),\"moved\":\(moved),"
                    + "\"reordered\":\(reordered),\"longest_gap_ms\":\(gapMs),"
                    + "\"longest_gap_end_ns\":\(longestGapEndNanoseconds)}")
        } else {
            Swift.print(
                "failover: \(sent) sent, \(acknowledged) acknowledged, \(failed) failed; read back \(readBack): "
                    + "\(lost) lost, \(duplicated) duplicated, \(moved) moved, \(reordered) reordered; "
                    + "longest gap between acks \(gapMs) ms")
        }
    }
}
