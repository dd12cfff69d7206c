import TernTestSupport
import TernWire

extension WireSamples {
    /// Samples of the consumer-group APIs; `str` substitutes every string (hostile UTF-8 tests).
    static func groupSamples(_ str: (String) -> String) -> [WireCase] {
        let assignment = [
            TopicPartitionList(name: str("orders"), partitions: [0, 2, Int32.max]),
            TopicPartitionList(name: str("ünïcødé-☃"), partitions: []),
        ]
        return [
            .request(FindCoordinatorRequest(key: str("payments-service"))),
            .request(FindCoordinatorRequest(key: str(""), keyType: -1), "extreme"),
            .response(FindCoordinatorResponse(nodeId: 0, host: str("127.0.0.1"), port: 9092)),
            .response(
                FindCoordinatorResponse(
                    errorCode: .coordinatorNotAvailable, errorMessage: str("loading"), nodeId: -1, host: str(""),
                    port: -1), "error"),

            .request(
                ConsumerGroupHeartbeatRequest(
                    groupId: str("g"), memberId: str("m-1"), memberEpoch: 7, instanceId: str("host-a"),
                    rebalanceTimeoutMs: 30_000, sessionTimeoutMs: 6000, subscribedTopics: [str("orders"), str("x")],
                    ownedPartitions: assignment)),
            .request(
                ConsumerGroupHeartbeatRequest(
                    groupId: str("g"), memberId: str(""), memberEpoch: 0, subscribedTopics: [], ownedPartitions: []),
                "join"),
            .response(
                ConsumerGroupHeartbeatResponse(
                    memberId: str("m-1"), memberEpoch: 8, heartbeatIntervalMs: 5000, assignment: assignment)),
            .response(
                ConsumerGroupHeartbeatResponse(
                    errorCode: .fencedMemberEpoch, errorMessage: str("fenced"), memberId: str(""),
                    memberEpoch: -1, heartbeatIntervalMs: 0, assignment: []), "error"),

            .request(
                OffsetCommitRequest(
                    groupId: str("g"), memberId: str("m-1"), memberEpoch: 3,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [.init(partition: 0, offset: 42), .init(partition: 5, offset: Int64.max)])
                    ])),
            .request(OffsetCommitRequest(groupId: str(""), memberId: str(""), memberEpoch: -1, topics: []), "empty"),
            .response(
                OffsetCommitResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [.init(partition: 0), .init(partition: 9, errorCode: .unknownTopicOrPartition)])
                ])),
            .response(
                OffsetCommitResponse(errorCode: .staleMemberEpoch, errorMessage: str("stale"), topics: []), "error"),

            .request(OffsetFetchRequest(groupId: str("g"), memberId: str("m"), memberEpoch: 4, topics: assignment)),
            .request(OffsetFetchRequest(groupId: str("g"), topics: []), "all"),
            .response(
                OffsetFetchResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [.init(partition: 0, offset: 17), .init(partition: 1, offset: -1)])
                ])),
            .response(OffsetFetchResponse(errorCode: .notCoordinator, errorMessage: nil, topics: []), "error"),

            .request(ListGroupsRequest(), equal: { _, _ in true }),
            .response(
                ListGroupsResponse(groups: [
                    .init(groupId: str("g"), state: str("Stable"), memberCount: 3),
                    .init(groupId: str("idle"), state: str("Empty"), memberCount: 0),
                ])),

            .request(DescribeGroupsRequest(groupIds: [str("g"), str("missing")])),
            .response(
                DescribeGroupsResponse(groups: [
                    .init(
                        groupId: str("g"), state: str("Stable"), groupEpoch: 5,
                        members: [
                            .init(
                                memberId: str("m-1"), instanceId: str("host-a"), clientId: str("tern-consume"),
                                clientHost: str("127.0.0.1"), memberEpoch: 5, subscribedTopics: [str("orders")],
                                assignment: assignment),
                            .init(
                                memberId: str("m-2"), clientId: str(""), clientHost: str(""), memberEpoch: 1,
                                subscribedTopics: [], assignment: []),
                        ],
                        offsets: [
                            .init(
                                name: str("orders"),
                                partitions: [
                                    .init(partition: 0, committedOffset: 10, logEndOffset: 15, lag: 5),
                                    .init(partition: 1, committedOffset: -1, logEndOffset: -1, lag: -1),
                                ])
                        ]),
                    .init(
                        errorCode: .groupIdNotFound, errorMessage: str("no group"), groupId: str("missing"),
                        state: str("Dead"), groupEpoch: -1, members: [], offsets: []),
                ])),

            .request(DeleteGroupsRequest(groupIds: [str("a"), str("b")])),
            .response(
                DeleteGroupsResponse(results: [
                    .init(groupId: str("a")),
                    .init(groupId: str("b"), errorCode: .nonEmptyGroup, errorMessage: str("2 members")),
                ])),

            .request(
                ResetGroupOffsetsRequest(
                    groupId: str("g"), topic: str("orders"), partitions: [0, 3], strategy: .timestamp,
                    value: 1_700_000_000_000, dryRun: true)),
            .request(ResetGroupOffsetsRequest(groupId: str("g"), topic: str("t"), strategy: .earliest), "all"),
            .response(
                ResetGroupOffsetsResponse(partitions: [
                    .init(partition: 0, offset: 5),
                    .init(partition: 7, errorCode: .unknownTopicOrPartition, offset: -1),
                ])),
            .response(
                ResetGroupOffsetsResponse(errorCode: .nonEmptyGroup, errorMessage: str("active"), partitions: []),
                "error"),

            .request(
                FetchKeyRequest(
                    topic: str("accounts"), partition: 2, key: Array("acct-7".utf8), fetchOffset: 40,
                    maxBytes: 1 << 20)),
            .request(FetchKeyRequest(topic: str("t"), partition: 0, key: [], fetchOffset: 0, maxBytes: 1), "empty key"),
            .response(
                FetchKeyResponse(
                    highWatermark: 90, logStartOffset: 3, nextOffset: 90, records: makeBatch(count: 2, baseOffset: 41))),
            .response(FetchKeyResponse(highWatermark: 0, logStartOffset: 0, nextOffset: 0, records: []), "empty"),
        ]
    }
}
