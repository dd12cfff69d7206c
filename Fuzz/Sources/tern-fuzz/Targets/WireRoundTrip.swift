import TernWire

/// The message types of the native protocol by API key, and the round trip every one of them must
/// survive: whatever body decodes, re-encoded, decodes again to a body that encodes to the same
/// bytes (so a broker or client that decodes, acts and re-encodes never drifts or traps).
enum WireRoundTrip {
    /// Every API whose bodies come from outside: the client APIs of ``ApiKey/supported``, then
    /// those the broker answers outside that table (SASL before authentication, the controller's
    /// broker registration, heartbeat, producer-id allocation, forwarded requests (Envelope) and ISR changes (AlterPartition),
    /// the ACL administration), all at version 0. Appended after `supported`, and new ones at the
    /// end, so that the response corpus's first byte (an index here) keeps its meaning.
    static let apis: [(key: ApiKey, minVersion: UInt16, maxVersion: UInt16)] =
        ApiKey.supported
        + [
            ApiKey.saslHandshake, .saslAuthenticate, .brokerRegistration, .brokerHeartbeat, .describeAcls, .createAcls,
            .deleteAcls, .allocateProducerIds, .envelope, .alterPartition,
        ]
        .filter { key in !ApiKey.supported.contains { $0.key == key } }.map { (key: $0, minVersion: 0, maxVersion: 0) }

    static func requestType(_ key: ApiKey) -> (any WireRequest.Type)? {
        switch key {
        case .produce: ProduceRequest.self
        case .fetch: FetchRequest.self
        case .listOffsets: ListOffsetsRequest.self
        case .offsetForLeaderEpoch: OffsetForLeaderEpochRequest.self
        case .metadata: MetadataRequest.self
        case .apiVersions: ApiVersionsRequest.self
        case .createTopics: CreateTopicsRequest.self
        case .deleteTopics: DeleteTopicsRequest.self
        case .describeConfigs: DescribeConfigsRequest.self
        case .alterConfigs: AlterConfigsRequest.self
        case .offsetCommit: OffsetCommitRequest.self
        case .offsetFetch: OffsetFetchRequest.self
        case .findCoordinator: FindCoordinatorRequest.self
        case .describeGroups: DescribeGroupsRequest.self
        case .listGroups: ListGroupsRequest.self
        case .deleteGroups: DeleteGroupsRequest.self
        case .consumerGroupHeartbeat: ConsumerGroupHeartbeatRequest.self
        case .resetGroupOffsets: ResetGroupOffsetsRequest.self
        case .describeLogDirs: DescribeLogDirsRequest.self
        case .fetchKey: FetchKeyRequest.self
        case .describeCluster: DescribeClusterRequest.self
        case .describeQuorum: DescribeQuorumRequest.self
        case .brokerRegistration: BrokerRegistrationRequest.self
        case .brokerHeartbeat: BrokerHeartbeatRequest.self
        case .saslHandshake: SaslHandshakeRequest.self
        case .saslAuthenticate: SaslAuthenticateRequest.self
        case .describeUserScramCredentials: DescribeUserScramCredentialsRequest.self
        case .alterUserScramCredentials: AlterUserScramCredentialsRequest.self
        case .createAcls: CreateAclsRequest.self
        case .deleteAcls: DeleteAclsRequest.self
        case .describeAcls: DescribeAclsRequest.self
        case .initProducerId: InitProducerIdRequest.self
        case .electLeaders: ElectLeadersRequest.self
        case .allocateProducerIds: AllocateProducerIdsRequest.self
        case .envelope: EnvelopeRequest.self
        case .alterPartitionReassignments: AlterPartitionReassignmentsRequest.self
        case .listPartitionReassignments: ListPartitionReassignmentsRequest.self
        case .describeReplicaLag: DescribeReplicaLagRequest.self
        case .alterPartition: AlterPartitionRequest.self
        default: nil
        }
    }

    /// Decodes a request body of `version` from `bytes[start...]` as the broker's router does
    /// (nothing may follow the body) and checks the round trip. Returns whether it decoded.
    static func request<R: WireRequest>(_ type: R.Type, _ bytes: [UInt8], from start: Int, version: UInt16) -> Bool {
        var reader = ByteReader(bytes, range: start..<bytes.count)
        guard let request = try? R(from: &reader, version: version), reader.isAtEnd else { return false }
        var writer = ByteWriter(capacity: 64)
        request.encode(into: &writer)
        let encoded = writer.take()
        var again = ByteReader(encoded)
        let decoded: R
        do {
            decoded = try R(from: &again, version: version)
        } catch {
            fuzzFail("\(R.self) v\(version): its own encoding does not decode: \(error)")
        }
        fuzzCheck(again.isAtEnd, "\(R.self) v\(version): \(again.remaining) bytes left after its own encoding")
        var rewriter = ByteWriter(capacity: encoded.count)
        decoded.encode(into: &rewriter)
        fuzzCheck(rewriter.take() == encoded, "\(R.self) v\(version): decode∘encode is not stable")
        return true
    }

    /// Decodes a response body as the client does and checks the round trip. Returns whether it
    /// decoded.
    static func response<R: WireResponse>(_ type: R.Type, _ bytes: [UInt8], from start: Int, version: UInt16) -> Bool {
        var reader = ByteReader(bytes, range: start..<bytes.count)
        guard let response = try? R(from: &reader, version: version) else { return false }
        var writer = ByteWriter(capacity: 64)
        response.encode(into: &writer, version: version)
        let encoded = writer.take()
        // Nothing is skipped or invented: the decoded prefix re-encodes to no more bytes than it took.
        var again = ByteReader(encoded)
        let decoded: R
        do {
            decoded = try R(from: &again, version: version)
        } catch {
            fuzzFail("\(R.self) v\(version): its own encoding does not decode: \(error)")
        }
        fuzzCheck(again.isAtEnd, "\(R.self) v\(version): \(again.remaining) bytes left after its own encoding")
        var rewriter = ByteWriter(capacity: encoded.count)
        decoded.encode(into: &rewriter, version: version)
        fuzzCheck(rewriter.take() == encoded, "\(R.self) v\(version): decode∘encode is not stable")
        return true
    }

    /// One counter per entry of ``apis`` and version: how many inputs decoded as that
    /// type, so a run shows that every type was reached, not just the first few.
    struct Counters {
        private var counts: [UInt32: Int] = [:]

        mutating func count(_ key: ApiKey, _ version: UInt16) {
            counts[UInt32(key.rawValue) << 16 | UInt32(version), default: 0] += 1
        }

        /// One line per API and version of ``apis`` (of `keys` only, when given).
        func report(_ what: String, keys: Set<ApiKey>? = nil) -> String {
            var lines = ["\(what) decoded per type (inputs that decoded and round-tripped):"]
            for api in WireRoundTrip.apis where keys?.contains(api.key) ?? true {
                for version in api.minVersion...api.maxVersion {
                    let count = counts[UInt32(api.key.rawValue) << 16 | UInt32(version)] ?? 0
                    lines.append("  \(api.key.name) v\(version): \(count)")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
