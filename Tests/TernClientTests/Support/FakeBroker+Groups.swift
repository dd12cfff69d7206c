import Synchronization
import TernWire

@testable import TernClient

/// A scripted consumer group: every heartbeat gets `assignment` (the test changes it), commits
/// and fetches of committed offsets use `offsets`, and every group request is logged in order.
struct FakeGroup {
    var assignment: [TopicPartitionList] = []
    var memberEpoch: Int32 = 0
    var lastAssignment: [TopicPartitionList]?
    var offsets: [TopicPartition: Int64] = [:]
    /// Error codes the next heartbeats get, one each, before the assignment is given again.
    var heartbeatErrors: [ErrorCode] = []
    /// Error codes the next commits get (top level), one each.
    var commitErrors: [ErrorCode] = []
    /// FindCoordinator requests answered.
    var finds = 0
    /// `heartbeat owned=t-0,t-1`, `commit t-1=3`, …
    var log: [String] = []
}

extension FakeBroker {
    func groupResponse(_ header: RequestHeader, _ reader: inout ByteReader) throws -> [UInt8] {
        let id = header.correlationId
        switch header.apiKey {
        case .findCoordinator:
            _ = try FindCoordinatorRequest(from: &reader)
            state.withLock { $0.group.finds += 1 }
            return Frame.response(
                FindCoordinatorResponse(nodeId: nodeId, host: host, port: Int32(port)), correlationId: id)
        case .consumerGroupHeartbeat:
            let request = try ConsumerGroupHeartbeatRequest(from: &reader)
            let response = state.withLock { state -> ConsumerGroupHeartbeatResponse in
                let owned = request.ownedPartitions.flatMap { t in t.partitions.map { "\(t.name)-\($0)" } }.sorted()
                state.group.log.append("heartbeat epoch=\(request.memberEpoch) owned=\(owned.joined(separator: ","))")
                if request.memberEpoch < 0 {
                    return ConsumerGroupHeartbeatResponse(
                        memberId: "m", memberEpoch: request.memberEpoch, heartbeatIntervalMs: 20, assignment: [])
                }
                if !state.group.heartbeatErrors.isEmpty {
                    let code = state.group.heartbeatErrors.removeFirst()
                    return ConsumerGroupHeartbeatResponse(
                        errorCode: code, memberId: request.memberId, memberEpoch: -1, heartbeatIntervalMs: 20,
                        assignment: [])
                }
                if state.group.lastAssignment != state.group.assignment {
                    state.group.lastAssignment = state.group.assignment
                    state.group.memberEpoch += 1
                }
                return ConsumerGroupHeartbeatResponse(
                    memberId: "m", memberEpoch: state.group.memberEpoch, heartbeatIntervalMs: 20,
                    assignment: state.group.assignment)
            }
            return Frame.response(response, correlationId: id)
        case .offsetCommit:
            let request = try OffsetCommitRequest(from: &reader)
            let refused = state.withLock { state -> ErrorCode? in
                state.group.commitErrors.isEmpty ? nil : state.group.commitErrors.removeFirst()
            }
            if let refused {
                return Frame.response(OffsetCommitResponse(errorCode: refused, topics: []), correlationId: id)
            }
            state.withLock { state in
                for t in request.topics {
                    for p in t.partitions {
                        state.group.offsets[TopicPartition(topic: t.name, partition: p.partition)] = p.offset
                        state.group.log.append("commit \(t.name)-\(p.partition)=\(p.offset)")
                    }
                }
            }
            return Frame.response(
                OffsetCommitResponse(
                    topics: request.topics.map { t in
                        .init(name: t.name, partitions: t.partitions.map { .init(partition: $0.partition) })
                    }), correlationId: id)
        default:
            let request = try OffsetFetchRequest(from: &reader)
            let offsets = state.withLock { $0.group.offsets }
            return Frame.response(
                OffsetFetchResponse(
                    topics: request.topics.map { t in
                        .init(
                            name: t.name,
                            partitions: t.partitions.map {
                                .init(
                                    partition: $0, offset: offsets[TopicPartition(topic: t.name, partition: $0)] ?? -1)
                            })
                    }), correlationId: id)
        }
    }

    var groupLog: [String] { state.withLock { $0.group.log } }
}
