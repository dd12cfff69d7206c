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

    /// Metadata: answered at once, unless it asks to auto-create topics
    /// (`auto.create.topics.enable`), which then happens on the admin worker (``adminQueue``)
    /// and the answer comes from there.
    func handleMetadata(_ request: MetadataRequest, _ context: RequestContext) {
        let creates =
            request.allowAutoTopicCreation && config.autoCreateTopics
            && (request.topics ?? []).contains { topics.topic($0) == nil }
        let listener = context.listener
        guard creates else { return context.respond(metadata(request, autoCreate: false, listener: listener)) }
        adminQueue.async { context.respond(self.metadata(request, autoCreate: true, listener: listener)) }
    }

    /// This broker, and the requested topics (or all) with their partition leaders; with
    /// `autoCreate`, unknown requested topics are created first (with `num.partitions`
    /// partitions, through the same checks as CreateTopics: blocks on disk work).
    /// The broker's address is the one advertised for `listener` (its index in `listeners`).
    func metadata(_ request: MetadataRequest, autoCreate: Bool, listener: Int = 0) -> MetadataResponse {
        var described: [MetadataResponse.Topic] = []
        if let names = request.topics {
            for name in names {
                if let info = topics.topic(name) {
                    described.append(describe(info))
                } else if autoCreate {
                    described.append(autoCreateTopic(name))
                } else {
                    described.append(.init(errorCode: .unknownTopicOrPartition, name: name, partitions: []))
                }
            }
        } else {
            described = topics.all.map(describe)
        }
        return MetadataResponse(
            brokers: [advertisedBroker(listener: listener)], clusterId: "tern-single-node", controllerId: config.nodeId, topics: described)
    }

    /// Creates `name` for a Metadata request; a refused or failed creation answers with its
    /// error code (INVALID_TOPIC for a bad or reserved name, INVALID_PARTITIONS over budget;
    /// UNKNOWN_TOPIC_OR_PARTITION when the disk failed, so clients retry as for any unknown topic).
    private func autoCreateTopic(_ name: String) -> MetadataResponse.Topic {
        do {
            if let info = try createTopic(name: name, partitions: config.numPartitions, configs: [:], by: .client)
                ?? topics.topic(name)
            {
                return describe(info)
            }
        } catch let refused as TopicAdminError {
            logger.info(
                "refused to auto-create a topic", metadata: ["tern_topic": "\(name)", "error": "\(refused.message)"])
            return .init(errorCode: refused.code, name: name, partitions: [])
        } catch {
            // createTopic logged it.
        }
        return .init(errorCode: .unknownTopicOrPartition, name: name, partitions: [])
    }

    private func describe(_ info: TopicInfo) -> MetadataResponse.Topic {
        let node = config.nodeId
        return MetadataResponse.Topic(
            name: info.name, isInternal: info.isInternal,
            partitions: (0..<info.partitionCount).map {
                .init(partition: $0, leader: node, leaderEpoch: 0, replicas: [node], isr: [node])
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
                        guard let info, p.partition >= 0, p.partition < info.partitionCount,
                            let log = logManager.log(for: TopicPartition(topic.name, p.partition))
                        else { return .init(partition: p.partition, errorCode: .unknownTopicOrPartition) }
                        switch p.timestamp {
                        case ListOffsetsRequest.earliest: return .init(partition: p.partition, offset: log.logStartOffset)
                        case ListOffsetsRequest.latest: return .init(partition: p.partition, offset: log.logEndOffset)
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
