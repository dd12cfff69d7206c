import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

extension Broker {
    /// CreateTopics, answered from the admin worker (``adminQueue``): the partition logs are
    /// made on disk there, never on a network queue.
    func handleCreateTopics(_ request: CreateTopicsRequest, _ context: RequestContext) {
        adminQueue.async { context.respond(self.createTopics(request)) }
    }

    /// DeleteTopics, answered from the admin worker (``adminQueue``).
    func handleDeleteTopics(_ request: DeleteTopicsRequest, _ context: RequestContext) {
        adminQueue.async { context.respond(self.deleteTopics(request)) }
    }

    /// CreateTopics: validate name, partition count, replication factor and configs, then create
    /// each topic (see ``createTopic(name:partitions:configs:by:)``). Blocks on disk work: call it
    /// on the admin worker.
    func createTopics(_ request: CreateTopicsRequest) -> CreateTopicsResponse {
        CreateTopicsResponse(
            topics: request.topics.map { topic in
                let partitions = topic.numPartitions == -1 ? config.numPartitions : topic.numPartitions
                if let refused = TopicInfo.validateNew(name: topic.name, partitions: partitions, by: .client) {
                    return TopicResult(name: topic.name, errorCode: refused.code, errorMessage: refused.message)
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
                if request.validateOnly {
                    if let refused = checkPartitionBudget(name: topic.name, partitions: partitions) {
                        return TopicResult(name: topic.name, errorCode: refused.code, errorMessage: refused.message)
                    }
                    return TopicResult(name: topic.name)
                }
                do {
                    guard try createTopic(name: topic.name, partitions: partitions, configs: configs, by: .client) != nil
                    else {
                        return TopicResult(
                            name: topic.name, errorCode: .topicAlreadyExists,
                            errorMessage: "topic '\(topic.name)' already exists")
                    }
                    return TopicResult(name: topic.name)
                } catch let refused as TopicAdminError {
                    return TopicResult(name: topic.name, errorCode: refused.code, errorMessage: refused.message)
                } catch {
                    return TopicResult(name: topic.name, errorCode: .kafkaStorageError, errorMessage: "\(error)")
                }
            })
    }

    /// DeleteTopics: forget each topic, then remove its logs (see ``deleteTopic(_:)``). Blocks on
    /// disk work: call it on the admin worker.
    func deleteTopics(_ request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        DeleteTopicsResponse(
            topics: request.names.map { name in
                do {
                    try deleteTopic(name)
                    return TopicResult(name: name)
                } catch let refused as TopicAdminError {
                    return TopicResult(name: name, errorCode: refused.code, errorMessage: refused.message)
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
                        // A secret is reported as set, never shown (as Kafka does).
                        let sensitive = BrokerConfigKeys.sensitive.contains(definition.name)
                        return DescribeConfigsResponse.Entry(
                            name: definition.name, value: sensitive ? nil : config[definition.name],
                            source: config.sources[definition.name] == .defaultValue ? .defaultValue : .staticBroker,
                            readOnly: true, sensitive: sensitive)
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
