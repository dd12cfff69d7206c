import Foundation
import Synchronization
import TernClient

/// What `tern perf failover` sent and what came back: per sequence number, the send time, the
/// acknowledged offset and the ack time (CLOCK_MONOTONIC nanoseconds). Completion callbacks run
/// on the SDK's queues, hence the lock; the arrays are sized once, up front.
final class FailoverHistory: Sendable {
    /// One acknowledged record.
    struct Ack {
        var sequence: Int
        var offset: Int64
        var sentNanoseconds: UInt64
        var ackNanoseconds: UInt64
    }

    private struct State {
        var sentAt: [UInt64]
        var ackedAt: [UInt64]
        var offsets: [Int64]
        var failed = 0
        var firstError: String?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(
            State(
                sentAt: [UInt64](repeating: 0, count: count), ackedAt: [UInt64](repeating: 0, count: count),
                offsets: [Int64](repeating: -1, count: count)))
    }

    func sent(_ sequence: Int, at nanoseconds: UInt64) {
        state.withLock { $0.sentAt[sequence] = nanoseconds }
    }

    func acknowledged(_ sequence: Int, offset: Int64, at nanoseconds: UInt64) {
        state.withLock {
            $0.ackedAt[sequence] = nanoseconds
            $0.offsets[sequence] = offset
        }
    }

    func failed(_ sequence: Int, error: TernError) {
        state.withLock { state in
            state.failed += 1
            if state.firstError == nil { state.firstError = "\(error.code): \(error.message)" }
        }
    }

    var failedCount: Int { state.withLock { $0.failed } }
    /// Why the first failed record failed.
    var firstError: String? { state.withLock { $0.firstError } }

    /// Every acknowledged record, in ack-time order.
    func acknowledgements() -> [Ack] {
        state.withLock { state in
            var acks: [Ack] = []
            for sequence in state.ackedAt.indices where state.ackedAt[sequence] != 0 {
                acks.append(
                    Ack(
                        sequence: sequence, offset: state.offsets[sequence], sentNanoseconds: state.sentAt[sequence],
                        ackNanoseconds: state.ackedAt[sequence]))
            }
            return acks.sorted { ($0.ackNanoseconds, $0.sequence) < ($1.ackNanoseconds, $1.sequence) }
        }
    }

    /// Writes `sequence offset sent_ns ack_ns`, one acknowledged record a line, in ack order.
    static func write(_ acks: [Ack], to path: String) throws {
        var text = "# sequence offset sent_ns ack_ns (CLOCK_MONOTONIC)\n"
        text.reserveCapacity(acks.count * 48)
        for ack in acks { text += "\(ack.sequence) \(ack.offset) \(ack.sentNanoseconds) \(ack.ackNanoseconds)\n" }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIFailure("cannot write \(path): \(error)")
        }
    }
}
