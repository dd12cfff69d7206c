import Dispatch
import TernWire

extension Broker {
    /// ListOffsets, answered through `reply`: at once when every partition asks for the earliest
    /// or latest offset (in-memory log bounds), else on the log-read worker (``logReadQueue``),
    /// because finding an offset by timestamp reads time indexes and segment files, which must
    /// not hold up the connection's network queue and every other connection on it. The answer
    /// still goes out in request order: the connection writes responses in ticket order.
    func listOffsets(_ request: ListOffsetsRequest, reply: @escaping @Sendable (ListOffsetsResponse) -> Void) {
        let byTimestamp = request.topics.contains { topic in
            topic.partitions.contains {
                $0.timestamp != ListOffsetsRequest.earliest && $0.timestamp != ListOffsetsRequest.latest
            }
        }
        guard byTimestamp else { return reply(handleListOffsets(request)) }
        logReadQueue.async { reply(self.handleListOffsets(request)) }
    }

    /// DescribeLogDirs, answered through `reply` from the log-read worker: it walks every local
    /// log of the requested topics (all of them by default), work that grows with the partition
    /// count and has no place on a network queue.
    func describeLogDirs(
        _ request: DescribeLogDirsRequest, reply: @escaping @Sendable (DescribeLogDirsResponse) -> Void
    ) {
        logReadQueue.async { reply(self.handleDescribeLogDirs(request)) }
    }
}
