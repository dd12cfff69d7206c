import Synchronization
import Logging
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

extension Broker {
    /// CreateTopics: validate name, partition count, replication factor and configs, then persist
    /// the topic and create its partition logs.
    func handleCreateTopics(_ request: CreateTopicsRequest) -> CreateTopicsResponse {
        CreateTopicsResponse(
            topics: request.topics.map { topic in
                if let reason = TopicInfo.validateName(topic.name) {
                    return TopicResult(name: topic.name, errorCode: .invalidTopic, errorMessage: reason)
                }
                if topic.name.hasPrefix("__") {
                    return TopicResult(
                        name: topic.name, errorCode: .invalidTopic,
                        errorMessage: "names starting with '__' are reserved for internal topics")
                }
                let partitions = topic.numPartitions == -1 ? config.numPartitions : topic.numPartitions
                guard partitions >= 1 && partitions <= 100_000 else {
                    return TopicResult(
                        name: topic.name, errorCode: .invalidPartitions,
                        errorMessage: "partition count must be 1...100000, got \(topic.numPartitions)")
                }
                guard topic.replicationFactor == -1 || topic.replicationFactor == 1 else {
                    return TopicResult(
                        name: topic.name, errorCode: .invalidReplicationFactor,
                        errorMessage:
                            "replication factor \(topic.replicationFactor) is larger than the 1 available broker")
                }
                var configs: [String: String] = [:]
                for entry in topic.configs {
                    guard configs[entry.name] == nil else {
                        return TopicResult(
                            name: topic.name, errorCode: .invalidConfig, errorMessage: "config \(entry.name) given twice")
                    }
                    configs[entry.name] = entry.value.trimmingWhitespace()
                }
                if let reason = TopicInfo.validateConfigs(configs) {
                    return TopicResult(name: topic.name, errorCode: .invalidConfig, errorMessage: reason)
                }
                if topics.topic(topic.name) != nil {
                    return TopicResult(
                        name: topic.name, errorCode: .topicAlreadyExists,
                        errorMessage: "topic '\(topic.name)' already exists")
                }
                if request.validateOnly { return TopicResult(name: topic.name) }
                do {
                    guard try createTopic(name: topic.name, partitions: partitions, configs: configs) != nil else {
                        return TopicResult(
                            name: topic.name, errorCode: .topicAlreadyExists,
                            errorMessage: "topic '\(topic.name)' already exists")
                    }
                    return TopicResult(name: topic.name)
                } catch {
                    logger.error("topic creation failed", metadata: ["tern_topic": "\(topic.name)", "error": "\(error)"])
                    return TopicResult(name: topic.name, errorCode: .kafkaStorageError, errorMessage: "\(error)")
                }
            })
    }

    /// Persists a new topic, then creates its logs. Returns nil when the topic already exists.
    func createTopic(name: String, partitions: Int32, configs: [String: String]) throws -> TopicInfo? {
        try adminLock.withLock { _ in
            let info = TopicInfo(
                name: name, id: Self.newTopicId(), partitionCount: partitions, replicationFactor: 1, configs: configs)
            guard try topics.create(info) else { return nil }
            let logConfig = resolver.logConfig(configs)
            for partition in 0..<partitions {
                _ = try logManager.createLog(TopicPartition(name, partition), config: logConfig)
            }
            logger.info("created topic", metadata: ["tern_topic": "\(name)", "partitions": "\(partitions)"])
            return info
        }
    }

    /// DeleteTopics: forget the topic, then remove its logs (a crash in between is finished at start-up).
    func handleDeleteTopics(_ request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        DeleteTopicsResponse(
            topics: request.names.map { name in
                do {
                    return try adminLock.withLock { _ in
                        guard let info = topics.topic(name) else {
                            return TopicResult(
                                name: name, errorCode: .unknownTopicOrPartition,
                                errorMessage: "topic '\(name)' does not exist")
                        }
                        guard !info.isInternal else {
                            return TopicResult(
                                name: name, errorCode: .invalidTopic, errorMessage: "internal topic '\(name)' cannot be deleted")
                        }
                        _ = try topics.delete(name)
                        for partition in 0..<info.partitionCount {
                            try logManager.deleteLog(TopicPartition(name, partition))
                        }
                        topicMetrics.forget(name)
                        logger.info("deleted topic", metadata: ["tern_topic": "\(name)"])
                        return TopicResult(name: name)
                    }
                } catch {
                    logger.error("topic deletion failed", metadata: ["tern_topic": "\(name)", "error": "\(error)"])
                    return TopicResult(name: name, errorCode: .kafkaStorageError, errorMessage: "\(error)")
                }
            })
    }

    /// DescribeConfigs: effective values of a topic's keys or the broker's.
    func handleDescribeConfigs(_ request: DescribeConfigsRequest) -> DescribeConfigsResponse {
        DescribeConfigsResponse(
            resources: request.resources.map { resource in
                let wanted = Set(resource.keys)
                func include(_ name: String) -> Bool { wanted.isEmpty || wanted.contains(name) }
                switch resource.type {
                case .topic:
                    guard let info = topics.topic(resource.name) else {
                        return .init(
                            errorCode: .unknownTopicOrPartition, errorMessage: "topic '\(resource.name)' does not exist",
                            type: .topic, name: resource.name, entries: [])
                    }
                    let entries = resolver.effective(info.configs).filter { include($0.name) }.map {
                        DescribeConfigsResponse.Entry(name: $0.name, value: $0.value, source: $0.source.wire)
                    }
                    return .init(type: .topic, name: resource.name, entries: entries)
                case .broker:
                    let entries = BrokerConfigKeys.all.filter { include($0.name) }.map { definition in
                        DescribeConfigsResponse.Entry(
                            name: definition.name, value: config[definition.name],
                            source: config.sources[definition.name] == .defaultValue ? .defaultValue : .staticBroker,
                            readOnly: true)
                    }
                    return .init(type: .broker, name: resource.name, entries: entries)
                default:
                    return .init(
                        errorCode: .invalidRequest, errorMessage: "unknown resource type \(resource.type.rawValue)",
                        type: resource.type, name: resource.name, entries: [])
                }
            })
    }

    /// A random 128-bit topic id in hex.
    static func newTopicId() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return String(high, radix: 16) + String(low, radix: 16)
    }
}

extension DescribeConfigSource {
    var wire: DescribeConfigsResponse.Source {
        switch self {
        case .topic: .topic
        case .broker: .staticBroker
        case .defaultValue: .defaultValue
        }
    }
}
