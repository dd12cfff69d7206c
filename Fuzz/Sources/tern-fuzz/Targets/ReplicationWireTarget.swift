import TernWire

/// The request and response bodies of the cluster and replication APIs alone, so that a run
/// spends its executions on them rather than on the forty-odd APIs of `request`/`response`:
/// replica Fetch (v2 leader epochs, v3 durable offsets), ListOffsets v1, OffsetForLeaderEpoch,
/// AlterPartition, ElectLeaders, the reassignment APIs, DescribeReplicaLag, BrokerRegistration,
/// BrokerHeartbeat, AllocateProducerIds and the Envelope.
///
/// The first input byte picks the API and the direction (even: request, odd: response), the
/// second the version; the rest is the body, with no header in front, so every mutation lands in
/// the body. The invariants are `request`'s and `response`'s (``WireRoundTrip``).
enum ReplicationWireTarget {
    static let target = FuzzTarget(
        name: "replication-wire", maxLength: 2048,
        summary: "cluster/replication request + response bodies (Fetch v2-v3, AlterPartition, reassignment, ...)",
        run: run, seeds: seeds, report: report)

    /// The APIs this target drives. New ones go at the end: the corpus's first byte indexes it.
    static let keys: [ApiKey] = [
        .fetch, .listOffsets, .offsetForLeaderEpoch, .alterPartition, .electLeaders, .alterPartitionReassignments,
        .listPartitionReassignments, .describeReplicaLag, .brokerRegistration, .brokerHeartbeat, .allocateProducerIds,
        .envelope,
    ]

    static let apis: [(key: ApiKey, minVersion: UInt16, maxVersion: UInt16)] = keys.map { key in
        guard let api = WireRoundTrip.apis.first(where: { $0.key == key }) else { fatalError("\(key) not in apis") }
        return api
    }

    /// Only libFuzzer's fuzzing thread touches them (see ``Selected``).
    nonisolated(unsafe) static var requests = WireRoundTrip.Counters()
    nonisolated(unsafe) static var responses = WireRoundTrip.Counters()

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let choice = Int(input[0]) % (apis.count * 2)
        let api = apis[choice / 2]
        let version = api.minVersion + UInt16(input[1]) % (api.maxVersion - api.minVersion + 1)
        guard let type = WireRoundTrip.requestType(api.key) else { fuzzFail("no request type for \(api.key)") }
        let bytes = [UInt8](input)
        if choice % 2 == 0 {
            if WireRoundTrip.request(type, bytes, from: 2, version: version) { requests.count(api.key, version) }
        } else if response(type, bytes, version: version) {
            responses.count(api.key, version)
        }
    }

    private static func response<R: WireRequest>(_ type: R.Type, _ bytes: [UInt8], version: UInt16) -> Bool {
        WireRoundTrip.response(R.Response.self, bytes, from: 2, version: version)
    }

    static func report() -> String {
        requests.report("replication-wire requests", keys: Set(keys)) + "\n"
            + responses.report("replication-wire responses", keys: Set(keys))
    }

    /// The `request` and `response` seeds of these APIs, their headers taken off.
    static func seeds() -> [(name: String, bytes: [UInt8])] {
        var out: [(name: String, bytes: [UInt8])] = []
        for seed in RequestTarget.seeds() {
            var reader = ByteReader(seed.bytes)
            guard let header = try? RequestHeader(from: &reader),
                let index = apis.firstIndex(where: { $0.key == header.apiKey })
            else { continue }
            let prefix = [UInt8(index * 2), UInt8(header.apiVersion - apis[index].minVersion)]
            out.append(("request-" + seed.name, prefix + seed.bytes[reader.position...]))
        }
        for seed in ResponseTarget.seeds() {
            let api = WireRoundTrip.apis[Int(seed.bytes[0]) % WireRoundTrip.apis.count]
            guard let index = apis.firstIndex(where: { $0.key == api.key }) else { continue }
            var reader = ByteReader(seed.bytes, range: 2..<seed.bytes.count)
            guard let head = try? Frame.readResponseHead(&reader), head.status.errorCode == .none else { continue }
            out.append(
                ("response-" + seed.name, [UInt8(index * 2 + 1), seed.bytes[1]] + seed.bytes[reader.position...]))
        }
        return out
    }
}
