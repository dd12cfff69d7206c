import TernWire

/// A response frame's payload as the client's `BrokerConnection` receives it: correlation id,
/// status, then (when the status is NONE) the body of the API it answers. The first input byte
/// picks the API (an entry of ``WireRoundTrip/apis``), the second its version; the rest is the
/// payload, so every response type the client decodes is reached from one corpus.
enum ResponseTarget {
    static let target = FuzzTarget(
        name: "response", maxLength: 4096, summary: "response head + every response body (the client's decode)",
        run: run, seeds: seeds, report: { counters.report("response") })

    /// Only libFuzzer's fuzzing thread touches it (see ``Selected``).
    nonisolated(unsafe) static var counters = WireRoundTrip.Counters()

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let api = WireRoundTrip.apis[Int(input[0]) % WireRoundTrip.apis.count]
        let version = api.minVersion + UInt16(input[1]) % (api.maxVersion - api.minVersion + 1)
        let bytes = [UInt8](input[2...])
        var reader = ByteReader(bytes)
        guard let head = try? Frame.readResponseHead(&reader) else { return }
        var writer = ByteWriter(capacity: 32)
        Frame.beginResponse(&writer, correlationId: head.correlationId, status: head.status)
        fuzzCheck(
            Array(writer.take().dropFirst(Frame.prefixSize)) == Array(bytes[0..<reader.position]),
            "response head does not re-encode to its bytes")
        guard head.status.errorCode == .none, let type = WireRoundTrip.requestType(api.key) else { return }
        if response(type, bytes, from: reader.position, version: version) { counters.count(api.key, version) }
    }

    private static func response<R: WireRequest>(_ type: R.Type, _ bytes: [UInt8], from start: Int, version: UInt16)
        -> Bool
    {
        WireRoundTrip.response(R.Response.self, bytes, from: start, version: version)
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        func seed<R: WireResponse>(_ key: ApiKey, _ response: R, version: UInt16 = 0) -> [UInt8] {
            guard let index = WireRoundTrip.apis.firstIndex(where: { $0.key == key }) else { fatalError("\(key)") }
            let supported = WireRoundTrip.apis[index]
            return [UInt8(index), UInt8(version - supported.minVersion)]
                + Frame.response(response, correlationId: 7, version: version).dropFirst(Frame.prefixSize)
        }
        let records = SeedData.batch(count: 2)
        let seeds: [(String, [UInt8])] = [
            (
                "produce",
                seed(
                    .produce,
                    ProduceResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(partition: 0, baseOffset: 10, logStartOffset: 0),
                                .init(partition: 1, errorCode: .notLeaderOrFollower, errorMessage: "moved"),
                            ])
                    ]))
            ),
            (
                "fetch-v0",
                seed(
                    .fetch,
                    FetchResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [.init(partition: 0, highWatermark: 2, logStartOffset: 0, records: records)])
                    ]), version: 0)
            ),
            (
                "fetch-v1",
                seed(
                    .fetch,
                    FetchResponse(
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [.init(partition: 0, highWatermark: 2, logStartOffset: 0, records: records)]
                            )
                        ], sessionId: 5), version: 1)
            ),
            (
                "fetch-v2-diverging",
                seed(
                    .fetch,
                    FetchResponse(
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [
                                    .init(
                                        partition: 0, highWatermark: 90, logStartOffset: 0, divergingEpoch: 3,
                                        divergingEndOffset: 80),
                                    .init(partition: 1, errorCode: .fencedLeaderEpoch, errorMessage: "epoch 2 < 4"),
                                ])
                        ], sessionId: 0), version: 2)
            ),
            (
                "fetch-v3",
                seed(
                    .fetch,
                    FetchResponse(
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [.init(partition: 0, highWatermark: 2, logStartOffset: 0, records: records)]
                            )
                        ], sessionId: 0), version: 3)
            ),
            (
                "list-offsets-v1",
                seed(
                    .listOffsets,
                    ListOffsetsResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(partition: 0, offset: 0), .init(partition: 1, errorCode: .unknownLeaderEpoch),
                            ])
                    ]), version: 1)
            ),
            (
                "offset-for-leader-epoch",
                seed(
                    .offsetForLeaderEpoch,
                    OffsetForLeaderEpochResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(partition: 0, leaderEpoch: 2, endOffset: 12),
                                .init(partition: 1, errorCode: .fencedLeaderEpoch),
                            ])
                    ]))
            ),
            (
                "list-offsets",
                seed(
                    .listOffsets,
                    ListOffsetsResponse(topics: [
                        .init(
                            name: "orders", partitions: [.init(partition: 0, timestamp: 1_700_000_000_000, offset: 12)])
                    ]))
            ),
            (
                "metadata",
                seed(
                    .metadata,
                    MetadataResponse(
                        brokers: [.init(nodeId: 1, host: "127.0.0.1", port: 9092)], clusterId: "tern-cluster",
                        controllerId: 1,
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [
                                    .init(partition: 0, leader: 1, leaderEpoch: 3, replicas: [1, 2], isr: [1])
                                ]),
                            .init(errorCode: .unknownTopicOrPartition, name: "gone", partitions: []),
                        ]))
            ),
            (
                "api-versions",
                seed(
                    .apiVersions,
                    ApiVersionsResponse(
                        apis: ApiKey.supported.map {
                            .init(key: $0.key, minVersion: $0.minVersion, maxVersion: $0.maxVersion)
                        },
                        brokerVersion: "0.1.0", uptimeMs: 1234))
            ),
            (
                "create-topics",
                seed(
                    .createTopics,
                    CreateTopicsResponse(topics: [
                        .init(name: "orders"), .init(name: "bad", errorCode: .invalidRequest, errorMessage: "no"),
                    ]))
            ),
            ("delete-topics", seed(.deleteTopics, DeleteTopicsResponse(topics: [.init(name: "orders")]))),
            (
                "describe-configs",
                seed(
                    .describeConfigs,
                    DescribeConfigsResponse(resources: [
                        .init(
                            type: .topic, name: "orders",
                            entries: [
                                .init(name: "retention.ms", value: "1000", source: .topic),
                                .init(
                                    name: "sasl.password", value: nil, source: .staticBroker, readOnly: true,
                                    sensitive: true),
                            ])
                    ]))
            ),
            (
                "alter-configs",
                seed(.alterConfigs, AlterConfigsResponse(resources: [.init(type: .topic, name: "orders")]))
            ),
            (
                "offset-commit",
                seed(
                    .offsetCommit,
                    OffsetCommitResponse(topics: [
                        .init(name: "orders", partitions: [.init(partition: 0)])
                    ]))
            ),
            (
                "offset-fetch",
                seed(
                    .offsetFetch,
                    OffsetFetchResponse(topics: [
                        .init(name: "orders", partitions: [.init(partition: 0, offset: 99)])
                    ]))
            ),
            (
                "find-coordinator",
                seed(.findCoordinator, FindCoordinatorResponse(nodeId: 1, host: "localhost", port: 9092))
            ),
            (
                "describe-groups",
                seed(
                    .describeGroups,
                    DescribeGroupsResponse(groups: [
                        .init(
                            groupId: "g", state: "Stable", groupEpoch: 4,
                            members: [
                                .init(
                                    memberId: "m-1", instanceId: "i", clientId: "c", clientHost: "/127.0.0.1",
                                    memberEpoch: 4,
                                    subscribedTopics: ["orders"],
                                    assignment: [.init(name: "orders", partitions: [0, 1])])
                            ],
                            offsets: [
                                .init(
                                    name: "orders",
                                    partitions: [.init(partition: 0, committedOffset: 5, logEndOffset: 9, lag: 4)])
                            ])
                    ]))
            ),
            (
                "list-groups",
                seed(.listGroups, ListGroupsResponse(groups: [.init(groupId: "g", state: "Empty", memberCount: 0)]))
            ),
            ("delete-groups", seed(.deleteGroups, DeleteGroupsResponse(results: [.init(groupId: "g")]))),
            (
                "consumer-group-heartbeat",
                seed(
                    .consumerGroupHeartbeat,
                    ConsumerGroupHeartbeatResponse(
                        memberId: "m-1", memberEpoch: 2, heartbeatIntervalMs: 3000,
                        assignment: [.init(name: "orders", partitions: [0])]))
            ),
            (
                "reset-group-offsets",
                seed(
                    .resetGroupOffsets,
                    ResetGroupOffsetsResponse(partitions: [
                        .init(partition: 0, offset: 3)
                    ]))
            ),
            (
                "describe-log-dirs",
                seed(
                    .describeLogDirs,
                    DescribeLogDirsResponse(logDirs: [
                        .init(
                            path: "/var/lib/tern",
                            topics: [
                                .init(
                                    name: "orders",
                                    partitions: [
                                        .init(
                                            partition: 0, sizeBytes: 1024, logStartOffset: 0, logEndOffset: 10,
                                            segmentCount: 1,
                                            firstDirtyOffset: 0, cleanerError: "disk")
                                    ])
                            ])
                    ]))
            ),
            (
                "produce-v1",
                seed(
                    .produce,
                    ProduceResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(partition: 0, baseOffset: 43, logStartOffset: 0),
                                .init(partition: 1, errorCode: .conditionFailed, actualOffset: 40),
                            ])
                    ]), version: 1)
            ),
            (
                "fetch-key",
                seed(
                    .fetchKey,
                    FetchKeyResponse(highWatermark: 10, logStartOffset: 0, nextOffset: 4, records: records))
            ),
            (
                "describe-cluster",
                seed(
                    .describeCluster,
                    DescribeClusterResponse(
                        clusterId: "3Hh2Tq6sSU2b1DwnEJmQ9w", controllerId: 1,
                        nodes: [
                            .init(
                                nodeId: 1, roles: [.broker, .controller], fenced: false,
                                listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)])
                        ]))
            ),
            (
                "describe-quorum",
                seed(
                    .describeQuorum,
                    DescribeQuorumResponse(
                        nodeId: 1, role: "leader", leaderId: 1, epoch: 3, highWatermark: 40, logEndOffset: 41,
                        voters: [
                            .init(nodeId: 1, logEndOffset: 41, lastContactAgeMs: 0),
                            .init(nodeId: 2, logEndOffset: 39, lastContactAgeMs: 120),
                        ]))
            ),
            ("broker-registration", seed(.brokerRegistration, BrokerRegistrationResponse(brokerEpoch: 17))),
            ("init-producer-id", seed(.initProducerId, InitProducerIdResponse(producerId: 4000, producerEpoch: 0))),
            (
                "elect-leaders",
                seed(
                    .electLeaders,
                    ElectLeadersResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [.init(partition: 0), .init(partition: 1, errorCode: .electionNotNeeded)])
                    ]))
            ),
            (
                "allocate-producer-ids",
                seed(.allocateProducerIds, AllocateProducerIdsResponse(producerIdStart: 1000, producerIdLength: 1000))
            ),
            (
                "alter-partition",
                seed(
                    .alterPartition,
                    AlterPartitionResponse(partitions: [
                        .init(
                            topicId: MetadataUUID(high: 1, low: 2), partition: 0, leader: 2, leaderEpoch: 3,
                            partitionEpoch: 6, isr: [2, 3])
                    ]))
            ),
            (
                "envelope",
                seed(
                    .envelope,
                    EnvelopeResponse(
                        metadataOffset: 41,
                        responseData: {
                            var writer = ByteWriter(capacity: 16)
                            CreateAclsResponse(results: [.init()]).encode(into: &writer, version: 0)
                            return writer.take()
                        }()))
            ),
            (
                "envelope-not-controller",
                seed(
                    .envelope,
                    EnvelopeResponse(
                        errorCode: .notController, errorMessage: "no metadata quorum", metadataOffset: -1,
                        responseData: []))
            ),
            (
                "broker-heartbeat",
                seed(
                    .brokerHeartbeat,
                    BrokerHeartbeatResponse(isCaughtUp: true, isFenced: false, shouldShutDown: false))
            ),
            (
                "sasl-handshake",
                seed(
                    .saslHandshake,
                    SaslHandshakeResponse(
                        errorCode: .unsupportedSaslMechanism, mechanisms: ["SCRAM-SHA-256", "PLAIN"]),
                    version: 1)
            ),
            (
                "describe-user-scram-credentials",
                seed(
                    .describeUserScramCredentials,
                    DescribeUserScramCredentialsResponse(results: [
                        .init(user: "alice", credentials: [.init(mechanism: .sha256, iterations: 4096)])
                    ]))
            ),
            (
                "alter-user-scram-credentials",
                seed(
                    .alterUserScramCredentials,
                    AlterUserScramCredentialsResponse(results: [
                        .init(user: "alice"), .init(user: "bob", errorCode: .resourceNotFound, errorMessage: "no"),
                    ]))
            ),
            (
                "sasl-authenticate",
                seed(
                    .saslAuthenticate,
                    SaslAuthenticateResponse(
                        authBytes: Array("r=abc,s=QSXCR+Q6sek8bf92,i=4096".utf8), sessionLifetimeMs: 3_600_000))
            ),
            (
                "create-acls",
                seed(
                    .createAcls,
                    CreateAclsResponse(results: [.init(), .init(errorCode: .invalidRequest, errorMessage: "bad")]))
            ),
            (
                "delete-acls",
                seed(
                    .deleteAcls,
                    DeleteAclsResponse(results: [
                        .init(deleted: [
                            AclBinding(
                                resourceType: .topic, resourceName: "orders", principal: "User:alice",
                                operation: .write)
                        ])
                    ]))
            ),
            (
                "describe-acls",
                seed(
                    .describeAcls,
                    DescribeAclsResponse(bindings: [
                        AclBinding(
                            resourceType: .group, resourceName: "g", patternType: .prefixed, principal: "User:*",
                            operation: .read, permission: .deny)
                    ]))
            ),
            (
                "alter-partition-reassignments",
                seed(
                    .alterPartitionReassignments,
                    AlterPartitionReassignmentsResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(partition: 0),
                                .init(partition: 1, errorCode: .invalidReplicaAssignment, errorMessage: "broker 9"),
                            ])
                    ]))
            ),
            (
                "list-partition-reassignments",
                seed(
                    .listPartitionReassignments,
                    ListPartitionReassignmentsResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(
                                    partition: 0, replicas: [2, 3, 1], addingReplicas: [2, 3], removingReplicas: [1])
                            ])
                    ]))
            ),
            (
                "describe-replica-lag",
                seed(
                    .describeReplicaLag,
                    DescribeReplicaLagResponse(topics: [
                        .init(
                            name: "orders",
                            partitions: [
                                .init(
                                    partition: 0, leaderEpoch: 3, highWatermark: 90, logEndOffset: 120,
                                    replicas: [
                                        .init(
                                            replicaId: 1, fetchOffset: 120, durableOffset: 118, lagRecords: 0,
                                            caughtUpAgoMs: 0),
                                        .init(
                                            replicaId: 2, fetchOffset: 90, durableOffset: 90, lagRecords: 30,
                                            caughtUpAgoMs: 4200, lastFetchAgoMs: 4100),
                                    ]),
                                .init(partition: 1, errorCode: .notLeaderOrFollower, errorMessage: "not the leader"),
                            ])
                    ]))
            ),
            (
                "error-status",
                [0, 0]
                    + Frame.errorResponse(
                        correlationId: 7, status: ResponseStatus(.unsupportedVersion, "no such version")
                    ).dropFirst(Frame.prefixSize)
            ),
        ]
        return seeds.map { (name: $0.0, bytes: $0.1) }
    }
}
