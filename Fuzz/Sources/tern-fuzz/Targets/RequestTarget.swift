import TernWire

/// A request frame's payload as the broker's `RequestRouter` receives it (after the size prefix):
/// the request header, then the body of every API and version the broker decodes.
enum RequestTarget {
    static let target = FuzzTarget(
        name: "request", maxLength: 4096, summary: "request header + every request body (RequestRouter's decode)",
        run: run, seeds: seeds, report: { counters.report("request") })

    /// Only libFuzzer's fuzzing thread touches it (see ``Selected``).
    nonisolated(unsafe) static var counters = WireRoundTrip.Counters()

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = [UInt8](input)
        var reader = ByteReader(bytes)
        guard let header = try? RequestHeader(from: &reader) else { return }
        // The header has one encoding: it re-encodes to exactly the bytes it came from.
        var writer = ByteWriter(capacity: 32)
        header.encode(into: &writer)
        fuzzCheck(writer.take() == Array(bytes[0..<reader.position]), "request header does not re-encode to its bytes")
        guard
            let api = WireRoundTrip.apis.first(where: { $0.key == header.apiKey }),
            header.apiVersion >= api.minVersion && header.apiVersion <= api.maxVersion,
            let type = WireRoundTrip.requestType(header.apiKey)
        else { return }
        if WireRoundTrip.request(type, bytes, from: reader.position, version: header.apiVersion) {
            counters.count(header.apiKey, header.apiVersion)
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        func payload<R: WireRequest>(_ request: R) -> [UInt8] {
            Array(Frame.request(request, correlationId: 7, clientId: "fuzz-seed").dropFirst(Frame.prefixSize))
        }
        /// A request's body alone, as an Envelope carries it.
        func payloadBody<R: WireRequest>(_ request: R) -> [UInt8] {
            var writer = ByteWriter(capacity: 64)
            request.encode(into: &writer)
            return writer.take()
        }
        let records = SeedData.batch(count: 2)
        var seeds: [(String, [UInt8])] = [
            (
                "produce",
                payload(
                    ProduceRequest(
                        acks: -1, timeoutMs: 30_000,
                        topics: [.init(name: "orders", partitions: [.init(partition: 0, records: records)])]))
            ),
            (
                "fetch-v0",
                payload(
                    FetchRequest(
                        maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                        topics: [
                            .init(name: "orders", partitions: [.init(partition: 0, fetchOffset: 42, maxBytes: 65536)])
                        ],
                        version: 0))
            ),
            (
                "fetch-v1",
                payload(
                    FetchRequest(
                        maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                        topics: [
                            .init(name: "orders", partitions: [.init(partition: 1, fetchOffset: 7, maxBytes: 4096)])
                        ],
                        sessionId: 3, sessionEpoch: 2, forgottenTopics: [.init(name: "old", partitions: [2])],
                        version: 1))
            ),
            (
                "fetch-v2",
                payload(
                    FetchRequest(
                        replicaId: 2, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [
                                    .init(
                                        partition: 1, fetchOffset: 7, maxBytes: 4096, currentLeaderEpoch: 3,
                                        lastFetchedEpoch: 2)
                                ])
                        ],
                        sessionId: 3, sessionEpoch: 2, version: 2))
            ),
            (
                "fetch-v3-replica",
                payload(
                    FetchRequest(
                        replicaId: 3, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [
                                    .init(
                                        partition: 0, fetchOffset: 120, maxBytes: 1 << 20, currentLeaderEpoch: 4,
                                        lastFetchedEpoch: 4, durableOffset: 118),
                                    .init(
                                        partition: 1, fetchOffset: 0, maxBytes: 4096, currentLeaderEpoch: 1,
                                        lastFetchedEpoch: -1, durableOffset: 0),
                                ])
                        ], version: 3))
            ),
            (
                "list-offsets-v0",
                payload(
                    ListOffsetsRequest(
                        topics: [.init(name: "orders", partitions: [.init(partition: 0, timestamp: -2)])], version: 0))
            ),
            (
                "offset-for-leader-epoch",
                payload(
                    OffsetForLeaderEpochRequest(
                        replicaId: 2,
                        topics: [
                            .init(
                                name: "orders", partitions: [.init(partition: 0, currentLeaderEpoch: 3, leaderEpoch: 2)]
                            )
                        ]))
            ),
            (
                "list-offsets",
                payload(
                    ListOffsetsRequest(
                        topics: [.init(name: "orders", partitions: [.init(partition: 0, timestamp: -1)])]))
            ),
            ("metadata", payload(MetadataRequest(topics: ["orders", "payments"], allowAutoTopicCreation: true))),
            ("metadata-all", payload(MetadataRequest(topics: nil))),
            ("api-versions", payload(ApiVersionsRequest())),
            (
                "create-topics",
                payload(
                    CreateTopicsRequest(
                        topics: [
                            .init(
                                name: "orders", numPartitions: 3,
                                configs: [.init(name: "cleanup.policy", value: "compact")])
                        ]))
            ),
            ("delete-topics", payload(DeleteTopicsRequest(names: ["orders"]))),
            (
                "describe-configs",
                payload(
                    DescribeConfigsRequest(
                        resources: [
                            .init(type: .topic, name: "orders", keys: ["retention.ms"]),
                            .init(type: .broker, name: "1"),
                        ]))
            ),
            (
                "alter-configs",
                payload(
                    AlterConfigsRequest(
                        resources: [
                            .init(
                                type: .topic, name: "orders",
                                entries: [
                                    .init(name: "retention.ms", value: "1000"),
                                    .init(name: "segment.bytes", value: nil),
                                ])
                        ], validateOnly: true))
            ),
            (
                "offset-commit",
                payload(
                    OffsetCommitRequest(
                        groupId: "g", memberId: "m-1", memberEpoch: 3,
                        topics: [.init(name: "orders", partitions: [.init(partition: 0, offset: 99)])]))
            ),
            (
                "offset-fetch",
                payload(OffsetFetchRequest(groupId: "g", topics: [.init(name: "orders", partitions: [0, 1])]))
            ),
            ("find-coordinator", payload(FindCoordinatorRequest(key: "g"))),
            ("describe-groups", payload(DescribeGroupsRequest(groupIds: ["g", "h"]))),
            ("list-groups", payload(ListGroupsRequest())),
            ("delete-groups", payload(DeleteGroupsRequest(groupIds: ["g"]))),
            (
                "consumer-group-heartbeat",
                payload(
                    ConsumerGroupHeartbeatRequest(
                        groupId: "g", memberId: "", memberEpoch: 0, instanceId: "i-1", subscribedTopics: ["orders"],
                        ownedPartitions: [.init(name: "orders", partitions: [0])]))
            ),
            (
                "reset-group-offsets",
                payload(
                    ResetGroupOffsetsRequest(
                        groupId: "g", topic: "orders", partitions: [0, 2], strategy: .timestamp,
                        value: 1_700_000_000_000,
                        dryRun: true))
            ),
            ("describe-log-dirs", payload(DescribeLogDirsRequest(topics: ["orders"]))),
            (
                "produce-v1-conditions",
                payload(
                    ProduceRequest(
                        acks: -1, timeoutMs: 30_000,
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [
                                    .init(partition: 0, records: records, condition: .endOffset(42)),
                                    .init(
                                        partition: 1, records: records, condition: .keyLastOffset(-1),
                                        appendId: Array("append-1".utf8)),
                                ])
                        ], version: 1))
            ),
            (
                "fetch-key",
                payload(
                    FetchKeyRequest(
                        topic: "orders", partition: 0, key: Array("key-1".utf8), fetchOffset: 0, maxBytes: 65536))
            ),
            ("describe-cluster", payload(DescribeClusterRequest(includeFencedBrokers: false))),
            ("describe-quorum", payload(DescribeQuorumRequest())),
            ("init-producer-id", payload(InitProducerIdRequest())),
            ("elect-leaders", payload(ElectLeadersRequest(topics: [.init(name: "orders", partitions: [0, 1])]))),
            ("allocate-producer-ids", payload(AllocateProducerIdsRequest(brokerId: 2, brokerEpoch: 17))),
            (
                "alter-partition",
                payload(
                    AlterPartitionRequest(
                        brokerId: 2, brokerEpoch: 17,
                        partitions: [
                            .init(
                                topicId: MetadataUUID(high: 1, low: 2), partition: 0, leaderEpoch: 3, partitionEpoch: 5,
                                newIsr: [2, 3])
                        ]))
            ),
            (
                "envelope",
                payload(
                    EnvelopeRequest(
                        requestApiKey: .createAcls, requestApiVersion: 0, clientId: "tern-cli", principal: "User:admin",
                        requestData: payloadBody(
                            CreateAclsRequest(creations: [
                                AclBinding(
                                    resourceType: .topic, resourceName: "orders", principal: "User:alice",
                                    operation: .read)
                            ]))))
            ),
            (
                "broker-registration",
                payload(
                    BrokerRegistrationRequest(
                        nodeId: 2, clusterId: "3Hh2Tq6sSU2b1DwnEJmQ9w", incarnationId: MetadataUUID(high: 1, low: 2),
                        listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)], roles: [.broker]))
            ),
            (
                "broker-heartbeat",
                payload(BrokerHeartbeatRequest(nodeId: 2, brokerEpoch: 17, metadataOffset: 40, wantFence: true))
            ),
            ("sasl-handshake", payload(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"))),
            ("describe-user-scram-credentials", payload(DescribeUserScramCredentialsRequest(users: ["alice"]))),
            (
                "alter-user-scram-credentials",
                payload(
                    AlterUserScramCredentialsRequest(
                        deletions: [.init(user: "bob", mechanism: .sha512)],
                        upsertions: [
                            .init(
                                user: "alice", mechanism: .sha256, iterations: 4096,
                                salt: [UInt8](repeating: 1, count: 32), saltedPassword: [UInt8](repeating: 2, count: 32)
                            )
                        ]))
            ),
            (
                "sasl-authenticate",
                payload(SaslAuthenticateRequest(authBytes: Array("n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL".utf8)))
            ),
            (
                "create-acls",
                payload(
                    CreateAclsRequest(creations: [
                        AclBinding(
                            resourceType: .topic, resourceName: "orders-", patternType: .prefixed,
                            principal: "User:alice", operation: .read),
                        AclBinding(
                            resourceType: .cluster, resourceName: AclBinding.clusterResourceName,
                            principal: "User:bob", host: "10.0.0.1", operation: .alter, permission: .deny),
                    ]))
            ),
            (
                "delete-acls",
                payload(
                    DeleteAclsRequest(filters: [
                        AclBindingFilter(resourceType: .topic, resourceName: "orders", principal: "User:alice"),
                        .all,
                    ]))
            ),
            (
                "describe-acls",
                payload(DescribeAclsRequest(filter: AclBindingFilter(resourceType: .group, operation: .read)))
            ),
            (
                "alter-partition-reassignments",
                payload(
                    AlterPartitionReassignmentsRequest(topics: [
                        .init(
                            name: "orders",
                            partitions: [.init(partition: 0, replicas: [2, 3]), .init(partition: 1, replicas: nil)])
                    ]))
            ),
            (
                "list-partition-reassignments",
                payload(ListPartitionReassignmentsRequest(topics: [.init(name: "orders", partitions: [0, 1])]))
            ),
            (
                "describe-replica-lag",
                payload(DescribeReplicaLagRequest(topics: [.init(name: "orders", partitions: [0, 1])]))
            ),
        ]
        // Every supported API has a seed (a new API without one fails here, at seed time).
        for api in WireRoundTrip.apis {
            precondition(WireRoundTrip.requestType(api.key) != nil, "no request type for \(api.key)")
        }
        seeds.append(("unknown-api", [0x03, 0xE7, 0, 0, 0, 0, 0, 1, 0, 1, 0x78]))
        return seeds.map { (name: $0.0, bytes: $0.1) }
    }
}
