import Dispatch
import TernNet
import TernWire

extension RequestRouter {
    /// The consumer-group APIs: answered from the groups this broker loaded from
    /// `__consumer_offsets`, which a starting broker has not loaded yet.
    static let groupApis: Set<ApiKey> = [
        .findCoordinator, .consumerGroupHeartbeat, .offsetCommit, .offsetFetch, .listGroups, .describeGroups,
        .deleteGroups, .resetGroupOffsets,
    ]

    /// While the broker starts (listening, not yet serving), a group request waits for it, for
    /// up to 10 s from its arrival, as Metadata does: a single node serves only once its groups
    /// are loaded, and an answer before that would show them missing (an empty ListGroups, no
    /// committed offsets). Returns true when the request was put off; it is routed later.
    func deferredWhileStarting(_ key: ApiKey, _ bytes: [UInt8], _ context: RequestContext) -> Bool {
        guard Self.groupApis.contains(key), !broker.isServing, !broker.isStopping,
            RequestMetrics.now() &- context.receivedAt < 10_000_000_000
        else { return false }
        broker.cluster.forwardQueue.asyncAfter(deadline: .now() + .milliseconds(5)) { [self] in
            guard !deferredWhileStarting(key, bytes, context) else { return }
            var reader = ByteReader(bytes)
            // The header was read once already from these same bytes.
            guard let header = try? RequestHeader(from: &reader) else {
                context.connection.noResponse(context.ticket)
                return context.connection.close()
            }
            dispatch(header, &reader, context)
        }
        return true
    }
}
