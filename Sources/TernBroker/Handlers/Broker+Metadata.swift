import TernStorage
import TernWire

extension Broker {
    /// ApiVersions: the APIs and versions this broker speaks.
    func handleApiVersions() -> ApiVersionsResponse {
        ApiVersionsResponse(
            apis: ApiKey.supported.map { .init(key: $0.key, minVersion: $0.minVersion, maxVersion: $0.maxVersion) },
            brokerVersion: Broker.version, uptimeMs: Int64(startedAt.duration(to: .now).milliseconds))
    }

    /// Metadata: this broker, and the requested topics (or all) with their partition leaders.
    func handleMetadata(_ request: MetadataRequest) -> MetadataResponse {
        var described: [MetadataResponse.Topic] = []
        if let names = request.topics {
            for name in names {
                if let info = topics.topic(name) {
                    described.append(describe(info))
                } else if request.allowAutoTopicCreation && config.autoCreateTopics,
                    TopicInfo.validateName(name) == nil,
                    let info = try? createTopic(name: name, partitions: config.numPartitions, configs: [:])
                {
                    described.append(describe(info))
                } else {
                    described.append(.init(errorCode: .unknownTopicOrPartition, name: name, partitions: []))
                }
            }
        } else {
            described = topics.all.map(describe)
        }
        return MetadataResponse(
            brokers: [advertisedBroker], clusterId: "tern-single-node", controllerId: config.nodeId, topics: described)
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
