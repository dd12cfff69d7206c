import Dispatch
import Logging
import TernStorage
import TernWire

extension Broker {
    /// ApiVersions: the APIs and versions this broker speaks.
    func handleApiVersions() -> ApiVersionsResponse {
        ApiVersionsResponse(
            apis: ApiKey.supported.map { .init(key: $0.key, minVersion: $0.minVersion, maxVersion: $0.maxVersion) },
            brokerVersion: Broker.version, uptimeMs: Int64(startedAt.duration(to: .now).milliseconds))
    }

    /// Metadata: answered at once from the metadata image, unless it asks to auto-create topics
    /// (`auto.create.topics.enable`) the image does not have: those are created through the
    /// active controller first (as CreateTopics with `num.partitions` and
    /// `default.replication.factor`), and the answer comes once this broker applied them.
    func handleMetadata(_ request: MetadataRequest, _ context: RequestContext) {
        // While starting, the image may not list this broker yet: answer once it does (bounded).
        guard isServing || isStopping || RequestMetrics.now() &- context.receivedAt > 10_000_000_000
        else {
            return cluster.forwardQueue.asyncAfter(deadline: .now() + .milliseconds(5)) { [self] in
                handleMetadata(request, context)
            }
        }
        let listener = context.listener
        let image = cluster.image
        let missing =
            request.allowAutoTopicCreation && config.autoCreateTopics
            ? (request.topics ?? []).filter { image.topic(named: $0) == nil } : []
        guard !missing.isEmpty else { return context.respond(metadata(request, listener: listener)) }
        var seen = Set<String>()
        let create = CreateTopicsRequest(
            topics: missing.filter { seen.insert($0).inserted }.map { .init(name: $0, numPartitions: -1) })
        forward(create, clientId: context.header.clientId, principal: context.principal, timeoutMs: nil) {
            [self] response in
            var refused: [String: ErrorCode] = [:]
            for result in response.topics where result.errorCode != .none && result.errorCode != .topicAlreadyExists {
                logger.info(
                    "refused to auto-create a topic",
                    metadata: ["tern_topic": "\(result.name)", "error": "\(result.errorMessage ?? "\(result.errorCode)")"])
                // A refused name or count answers with its code; a quorum that could not decide
                // answers UNKNOWN_TOPIC_OR_PARTITION, so clients retry as for any unknown topic.
                let client: Set<ErrorCode> = [.invalidTopic, .invalidPartitions, .invalidReplicationFactor, .invalidConfig]
                refused[result.name] = client.contains(result.errorCode) ? result.errorCode : .unknownTopicOrPartition
            }
            context.respond(metadata(request, listener: listener, refused: refused))
        }
    }

    /// The unfenced brokers at the address each registered for the listener the request came in
    /// on (same listener name), and the requested topics (or all) with each partition's leader,
    /// replicas, in-sync replicas and leader epoch, all from the metadata image.
    /// - Parameters:
    ///   - listener: the index in `listeners` of the listener the request came in on.
    ///   - refused: topics whose auto-creation was refused, with the code to answer.
    func metadata(_ request: MetadataRequest, listener: Int = 0, refused: [String: ErrorCode] = [:]) -> MetadataResponse {
        let image = cluster.image
        let listenerName = config.listeners.indices.contains(listener) ? config.listeners[listener].name : nil
        let brokers = image.sortedBrokers.filter { !$0.fenced }.compactMap { broker -> MetadataResponse.Broker? in
            guard let address = broker.listeners.first(where: { $0.name == listenerName }) else { return nil }
            return MetadataResponse.Broker(nodeId: broker.nodeId, host: address.host, port: Int32(address.port))
        }
        var described: [MetadataResponse.Topic] = []
        if let names = request.topics {
            for name in names {
                if let topic = image.topic(named: name) {
                    described.append(describe(topic))
                } else {
                    described.append(.init(errorCode: refused[name] ?? .unknownTopicOrPartition, name: name, partitions: []))
                }
            }
        } else {
            described = image.sortedTopics.map(describe)
        }
        return MetadataResponse(
            brokers: brokers, clusterId: image.clusterId ?? "", controllerId: cluster.controllerId ?? -1,
            topics: described)
    }

    private func describe(_ topic: MetadataImage.Topic) -> MetadataResponse.Topic {
        MetadataResponse.Topic(
            name: topic.name, isInternal: topic.name.hasPrefix("__"),
            partitions: topic.sortedPartitions.map {
                .init(
                    partition: $0.partition, leader: $0.leader, leaderEpoch: $0.leaderEpoch, replicas: $0.replicas,
                    isr: $0.isr)
            })
    }

    /// ListOffsets: log start (earliest), high watermark (latest) or the first offset at or after
    /// a timestamp.
    func handleListOffsets(_ request: ListOffsetsRequest) -> ListOffsetsResponse {
        ListOffsetsResponse(
            topics: request.topics.map { topic in
                let info = topics.topic(topic.name)
                return ListOffsetsResponse.Topic(
                    name: topic.name,
                    partitions: topic.partitions.map { p in
                        guard let info, info.holds(p.partition),
                            let log = logManager.log(for: TopicPartition(topic.name, p.partition))
                        else { return .init(partition: p.partition, errorCode: .unknownTopicOrPartition) }
                        // A replica that does not lead has no (or stale) data: its offsets would
                        // send a consumer to the wrong place, so it answers as Fetch does.
                        guard leads(topic.name, p.partition) else {
                            return .init(partition: p.partition, errorCode: .notLeaderOrFollower)
                        }
                        switch p.timestamp {
                        case ListOffsetsRequest.earliest:
                            return .init(partition: p.partition, offset: log.logStartOffset)
                        case ListOffsetsRequest.latest:
                            // A replicated partition's latest offset is its high watermark.
                            guard let end = visibleEnd(TopicPartition(topic.name, p.partition), log) else {
                                return .init(partition: p.partition, errorCode: .notLeaderOrFollower)
                            }
                            return .init(partition: p.partition, offset: end)
                        default:
                            do {
                                guard let found = try log.offsetForTimestamp(p.timestamp) else {
                                    return .init(partition: p.partition)
                                }
                                return .init(partition: p.partition, timestamp: found.timestamp, offset: found.offset)
                            } catch {
                                return .init(partition: p.partition, errorCode: .kafkaStorageError)
                            }
                        }
                    })
            })
    }
}
