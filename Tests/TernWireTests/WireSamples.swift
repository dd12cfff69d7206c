import TernTestSupport
import TernWire

/// One message value of the native protocol, erased so that round-trip and hostile-input tests
/// can run the same checks over every request and response type.
struct WireCase {
    /// Type name plus a hint of which sample this is.
    let name: String
    /// The body as `encode(into:)` writes it.
    let encoded: [UInt8]
    /// Decodes a body from `reader` and re-encodes it; `equal` says whether the decoded value
    /// equals the original.
    let decode: (inout ByteReader) throws -> (reencoded: [UInt8], equal: Bool)
    /// Sends the message through `Frame.request`/`Frame.response` and back; true when the value,
    /// correlation id (and for requests, the header) survive.
    let frameRoundTrip: (_ correlationId: UInt32, _ clientId: String) throws -> Bool

    static func request<R: WireRequest>(_ message: R, _ hint: String = "", equal: @escaping (R, R) -> Bool) -> WireCase
    {
        WireCase(
            name: "\(R.self)\(hint.isEmpty ? "" : "(\(hint))")", encoded: encodedBody(message),
            decode: { reader in
                let decoded = try R(from: &reader, version: message.version)
                return (encodedBody(decoded), equal(decoded, message))
            },
            frameRoundTrip: { correlationId, clientId in
                let frame = Frame.request(message, correlationId: correlationId, clientId: clientId)
                let (header, decoded) = try parseRequestFrame(frame, as: R.self)
                return header
                    == RequestHeader(
                        apiKey: R.apiKey, apiVersion: message.version, correlationId: correlationId, clientId: clientId)
                    && equal(decoded, message)
            })
    }

    static func request<R: WireRequest & Equatable>(_ message: R, _ hint: String = "") -> WireCase {
        request(message, hint, equal: ==)
    }

    static func response<R: WireResponse & Equatable>(_ message: R, _ hint: String = "", version: UInt16 = 0) -> WireCase {
        WireCase(
            name: "\(R.self)\(hint.isEmpty ? "" : "(\(hint))")", encoded: encodedBody(message, version: version),
            decode: { reader in
                let decoded = try R(from: &reader, version: version)
                return (encodedBody(decoded, version: version), decoded == message)
            },
            frameRoundTrip: { correlationId, _ in
                let frame = Frame.response(message, correlationId: correlationId, version: version)
                let parsed = try parseResponseFrame(frame, as: R.self, version: version)
                return parsed.correlationId == correlationId && parsed.status == .ok && parsed.response == message
            })
    }
}

/// ProduceRequest is not Equatable (it carries raw record bytes); compare it field by field.
func sameProduce(_ a: ProduceRequest, _ b: ProduceRequest) -> Bool {
    a.acks == b.acks && a.timeoutMs == b.timeoutMs && a.topics.count == b.topics.count
        && zip(a.topics, b.topics).allSatisfy { t, u in
            t.name == u.name && t.partitions.count == u.partitions.count
                && zip(t.partitions, u.partitions).allSatisfy {
                    $0.partition == $1.partition && $0.records == $1.records && $0.condition == $1.condition
                        && $0.appendId == $1.appendId
                }
        }
}

/// Sample values of every message, covering empty arrays, nulls, extreme integers, non-ASCII text.
enum WireSamples {
    static let longName = String(repeating: "topic.name-", count: 20)

    /// Every request and response type at least once; each type's first sample is its most
    /// typical one.
    static func all(strings s: String? = nil) -> [WireCase] {
        // With `strings` given, every string field holds that text (hostile UTF-8 tests replace it).
        func str(_ value: String) -> String { s ?? value }
        let batch = makeBatch(records: [
            TestRecord(key: "k", value: "v"),
            TestRecord(key: nil, value: nil, headers: [RecordHeader(key: "h", value: nil)]),
        ])
        let twoBatches = makeBatch(count: 3) + makeBatch(count: 2, baseOffset: 3)
        return [
            .request(ApiVersionsRequest(), equal: { _, _ in true }),
            .request(
                AlterConfigsRequest(
                    resources: [
                        .init(
                            type: .topic, name: str("orders"),
                            entries: [.init(name: str("retention.ms"), value: str("1000")), .init(name: str("retention.bytes"), value: nil)])
                    ], validateOnly: true)),
            .response(
                AlterConfigsResponse(resources: [
                    .init(type: .topic, name: str("orders")),
                    .init(errorCode: .invalidConfig, errorMessage: str("bad value"), type: .topic, name: str("x")),
                ])),
            .request(DescribeLogDirsRequest(topics: [str("orders"), str(longName)])),
            .request(DescribeLogDirsRequest(), "all topics"),
            .response(
                DescribeLogDirsResponse(logDirs: [
                    .init(
                        path: str("/var/lib/tern"),
                        topics: [
                            .init(
                                name: str("orders"),
                                partitions: [
                                    .init(
                                        partition: 0, sizeBytes: 1 << 40, logStartOffset: 5, logEndOffset: .max,
                                        segmentCount: 3, firstDirtyOffset: 7, lastCleanedMs: 1_700_000_000_000),
                                    .init(
                                        partition: .max, sizeBytes: 0, logStartOffset: 0, logEndOffset: 0, segmentCount: 1,
                                        firstDirtyOffset: 0, lastCleanedMs: -1, cleanerError: str("corrupt log: CRC")),
                                ])
                        ]),
                    .init(errorCode: .kafkaStorageError, path: str("/mnt/broken"), topics: []),
                ])),
            .response(
                ApiVersionsResponse(
                    apis: ApiKey.supported.map {
                        .init(key: $0.key, minVersion: $0.minVersion, maxVersion: $0.maxVersion)
                    },
                    brokerVersion: str("0.1.0"))),
            .response(
                ApiVersionsResponse(
                    apis: [.init(key: ApiKey(rawValue: 0xFFFF), minVersion: 0, maxVersion: 0xFFFF)],
                    brokerVersion: str("")), "extreme"),

            .request(
                MetadataRequest(topics: [str("orders"), str("ünïcødé-☃"), str(longName)], allowAutoTopicCreation: true)),
            .request(MetadataRequest(topics: nil), "all topics"),
            .request(MetadataRequest(topics: [], allowAutoTopicCreation: false), "no topics"),
            .response(
                MetadataResponse(
                    brokers: [
                        .init(nodeId: 0, host: str("127.0.0.1"), port: 9092),
                        .init(nodeId: Int32.max, host: str("b.example"), port: 65535),
                    ],
                    clusterId: str("tern-single-node"), controllerId: 0,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(partition: 0, leader: 0, leaderEpoch: 3, replicas: [0, 1, 2], isr: [0, 2]),
                                .init(
                                    errorCode: .leaderNotAvailable, partition: 1, leader: -1, leaderEpoch: -1,
                                    replicas: [], isr: []),
                            ]),
                        .init(errorCode: .unknownTopicOrPartition, name: str("missing"), partitions: []),
                        .init(name: str("__consumer_offsets"), isInternal: true, partitions: []),
                    ])),
            .response(MetadataResponse(brokers: [], clusterId: str(""), controllerId: -1, topics: []), "empty"),

            .request(
                CreateTopicsRequest(
                    topics: [
                        .init(
                            name: str("orders"), numPartitions: 12, replicationFactor: 1,
                            configs: [
                                .init(name: str("cleanup.policy"), value: str("compact")),
                                .init(name: str("retention.ms"), value: str("-1")),
                            ]),
                        .init(name: str("defaults"), numPartitions: -1),
                    ], timeoutMs: Int32.max, validateOnly: true)),
            .request(CreateTopicsRequest(topics: [], timeoutMs: 0), "empty"),
            .response(
                CreateTopicsResponse(topics: [
                    .init(name: str("orders")),
                    .init(
                        name: str("orders"), errorCode: .topicAlreadyExists,
                        errorMessage: str("topic 'orders' already exists")),
                    .init(name: str("bad/name"), errorCode: .invalidTopic),
                ])),

            .request(DeleteTopicsRequest(names: [str("a"), str("b")], timeoutMs: 5000)),
            .request(DeleteTopicsRequest(names: [], timeoutMs: -1), "empty"),
            .response(
                DeleteTopicsResponse(topics: [
                    .init(name: str("a")),
                    .init(name: str("b"), errorCode: .unknownTopicOrPartition, errorMessage: str("no such topic")),
                ])),

            .request(
                DescribeConfigsRequest(resources: [
                    .init(type: .topic, name: str("orders"), keys: [str("retention.ms"), str("cleanup.policy")]),
                    .init(type: .broker, name: str("0")),
                    .init(type: .init(rawValue: -7), name: str("")),
                ])),
            .response(
                DescribeConfigsResponse(resources: [
                    .init(
                        type: .topic, name: str("orders"),
                        entries: [
                            .init(name: str("retention.ms"), value: str("604800000"), source: .defaultValue),
                            .init(name: str("cleanup.policy"), value: str("compact"), source: .topic),
                            .init(
                                name: str("sasl.password"), value: nil, source: .staticBroker, readOnly: true,
                                sensitive: true),
                        ]),
                    .init(
                        errorCode: .unknownTopicOrPartition, errorMessage: str("topic 'x' does not exist"),
                        type: .topic,
                        name: str("x"), entries: []),
                ])),

            .request(
                ProduceRequest(
                    acks: -1, timeoutMs: 30_000,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(partition: 0, records: batch), .init(partition: 7, records: twoBatches),
                            ]),
                        .init(name: str("empty"), partitions: [.init(partition: 0, records: [])]),
                    ]), equal: sameProduce),
            .request(ProduceRequest(acks: 0, timeoutMs: 0, topics: []), "acks 0, empty", equal: sameProduce),
            .request(
                ProduceRequest(
                    acks: -1, timeoutMs: 30_000,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(partition: 0, records: batch, condition: .endOffset(41), appendId: [1, 2, 3]),
                                .init(partition: 1, records: batch, condition: .keyLastOffset(-1), appendId: nil),
                                .init(partition: 2, records: twoBatches, condition: .keyLastOffset(Int64.max)),
                                .init(partition: 3, records: batch),
                            ])
                    ], version: 1), "v1 conditions", equal: sameProduce),
            .response(
                ProduceResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0, baseOffset: 0, logStartOffset: 0),
                            .init(partition: 7, baseOffset: Int64.max, logStartOffset: Int64.max - 1),
                            .init(
                                partition: 9, errorCode: .corruptMessage, errorMessage: str("batch 0: CRC-32C mismatch")
                            ),
                        ])
                ])),
            .response(
                ProduceResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0, baseOffset: 41, logStartOffset: 0),
                            .init(
                                partition: 1, errorCode: .conditionFailed, errorMessage: str("key's last offset is 7"),
                                actualOffset: 7),
                            .init(partition: 2, errorCode: .conditionFailed, actualOffset: -1),
                        ])
                ]), "v1", version: 1),

            .request(
                FetchRequest(
                    maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(partition: 0, fetchOffset: 0, maxBytes: 1_048_576),
                                .init(partition: 3, fetchOffset: Int64.max, maxBytes: 0),
                            ])
                    ])),
            .request(FetchRequest(replicaId: 2, maxWaitMs: 0, minBytes: 0, maxBytes: Int32.max, topics: []), "replica"),
            .request(
                FetchRequest(
                    maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                    topics: [.init(name: str("orders"), partitions: [.init(partition: 1, fetchOffset: 9, maxBytes: 4096)])],
                    version: 0),
                "v0"),
            .request(
                FetchRequest(
                    maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                    topics: [.init(name: str("orders"), partitions: [.init(partition: 1, fetchOffset: 9, maxBytes: 4096)])],
                    sessionId: 7, sessionEpoch: 3,
                    forgottenTopics: [.init(name: str("orders"), partitions: [0, 2]), .init(name: str("audit"), partitions: [5])]),
                "incremental"),
            .response(
                FetchResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(
                                partition: 0, highWatermark: 5, logStartOffset: 0,
                                records: twoBatches + Array(batch.prefix(30))),
                            .init(
                                partition: 1, errorCode: .offsetOutOfRange,
                                errorMessage: str("offset 9 is outside 0...5")),
                            .init(partition: 2, highWatermark: 0, logStartOffset: 0, records: []),
                        ])
                ])),

            .response(
                FetchResponse(
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [.init(partition: 1, highWatermark: 12, logStartOffset: 0, records: twoBatches)])
                    ], sessionId: 7),
                "session", version: 1),

            .request(
                FetchRequest(
                    replicaId: 3, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(
                                    partition: 1, fetchOffset: 9, maxBytes: 4096, currentLeaderEpoch: 7,
                                    lastFetchedEpoch: 6),
                                .init(partition: 2, fetchOffset: 0, maxBytes: 4096),
                            ])
                    ],
                    sessionId: 7, sessionEpoch: 3, version: 2),
                "v2 epochs"),
            .response(
                FetchResponse(
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(
                                    partition: 1, highWatermark: 12, logStartOffset: 0, divergingEpoch: 4,
                                    divergingEndOffset: 10),
                                .init(partition: 2, errorCode: .fencedLeaderEpoch, errorMessage: str("epoch 3 is not 5")),
                                .init(partition: 3, highWatermark: 12, logStartOffset: 0, records: twoBatches),
                            ])
                    ], sessionId: 7),
                "v2 diverging", version: 2),
            .request(
                OffsetForLeaderEpochRequest(
                    replicaId: 2,
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(partition: 0, currentLeaderEpoch: 5, leaderEpoch: 3),
                                .init(partition: 1, leaderEpoch: 0),
                            ])
                    ])),
            .response(
                OffsetForLeaderEpochResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0, leaderEpoch: 2, endOffset: 100),
                            .init(partition: 1, errorCode: .unknownLeaderEpoch),
                            .init(partition: 2, errorCode: .fencedLeaderEpoch),
                        ])
                ])),

            .request(
                ListOffsetsRequest(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0, timestamp: ListOffsetsRequest.earliest),
                            .init(partition: 1, timestamp: ListOffsetsRequest.latest),
                            .init(partition: 2, timestamp: 1_700_000_000_000),
                        ])
                ])),
            .request(
                ListOffsetsRequest(
                    topics: [
                        .init(
                            name: str("orders"),
                            partitions: [
                                .init(partition: 0, timestamp: ListOffsetsRequest.latest, currentLeaderEpoch: 4),
                                .init(partition: 1, timestamp: ListOffsetsRequest.earliest),
                            ])
                    ], version: 1), "v1 leader epochs"),
            .request(
                ListOffsetsRequest(
                    topics: [.init(name: str("orders"), partitions: [.init(partition: 3, timestamp: 17)])], version: 0),
                "v0"),
            .response(
                ListOffsetsResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0, offset: 0), .init(partition: 1, offset: 42),
                            .init(partition: 2, timestamp: 1_700_000_000_005, offset: 17), .init(partition: 3),
                            .init(partition: 9, errorCode: .unknownTopicOrPartition),
                        ])
                ])),
            .request(InitProducerIdRequest()),
            .request(
                InitProducerIdRequest(
                    transactionalId: str("tx"), transactionTimeoutMs: .max, producerId: .max, producerEpoch: .max),
                "re-init"),
            .response(InitProducerIdResponse(producerId: 4000, producerEpoch: 0)),
            .response(
                InitProducerIdResponse(
                    errorCode: .invalidRequest, errorMessage: str("no transactions"), producerId: -1, producerEpoch: -1),
                "error"),
            .request(AllocateProducerIdsRequest(brokerId: 3, brokerEpoch: .max)),
            .response(AllocateProducerIdsResponse(producerIdStart: 1000, producerIdLength: 1000)),
            .response(
                AllocateProducerIdsResponse(
                    errorCode: .staleBrokerEpoch, errorMessage: str("stale"), producerIdStart: -1, producerIdLength: 0),
                "error"),
            .request(
                AlterPartitionRequest(
                    brokerId: 2, brokerEpoch: .max,
                    partitions: [
                        .init(
                            topicId: MetadataUUID(high: 1, low: .max), partition: 0, leaderEpoch: 3, partitionEpoch: 7,
                            newIsr: [2, 1]),
                        .init(topicId: .zero, partition: .max, leaderEpoch: 0, partitionEpoch: 0, newIsr: []),
                    ])),
            .response(
                AlterPartitionResponse(partitions: [
                    .init(
                        topicId: MetadataUUID(high: 1, low: .max), partition: 0, leader: 2, leaderEpoch: 3,
                        partitionEpoch: 8, isr: [2, 1]),
                    .init(
                        topicId: .zero, partition: 1, errorCode: .invalidUpdateVersion, errorMessage: str("stale"),
                        leader: -1, leaderEpoch: -1, partitionEpoch: -1, isr: []),
                ])),
            .response(
                AlterPartitionResponse(errorCode: .staleBrokerEpoch, errorMessage: str("stale"), partitions: []),
                "error"),
            .request(ElectLeadersRequest(), "every partition"),
            .request(
                ElectLeadersRequest(
                    electionType: .unclean, topics: [.init(name: str("orders"), partitions: [0, 2, .max])],
                    timeoutMs: .max)),
            .response(ElectLeadersResponse(topics: []), "nothing to do"),
            .response(
                ElectLeadersResponse(topics: [
                    .init(
                        name: str("orders"),
                        partitions: [
                            .init(partition: 0),
                            .init(partition: 1, errorCode: .electionNotNeeded, errorMessage: str("already led")),
                            .init(partition: 2, errorCode: .preferredLeaderNotAvailable, errorMessage: str("fenced")),
                        ])
                ])),
            .response(
                ElectLeadersResponse(errorCode: .clusterAuthorizationFailed, errorMessage: str("denied"), topics: []),
                "error"),
        ] + groupSamples(str) + clusterSamples(str) + saslSamples(str) + aclSamples(str)
            + reassignmentSamples(str) + replicaLagSamples(str)
    }
}
