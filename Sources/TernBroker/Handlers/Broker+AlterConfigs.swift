import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// AlterConfigs, answered from the admin worker (``adminQueue``): it writes the topic
    /// metadata file and takes `adminLock`, which a large topic creation may hold for seconds.
    func handleAlterConfigs(_ request: AlterConfigsRequest, _ context: RequestContext) {
        adminQueue.async { context.respond(self.alterConfigs(request)) }
    }

    /// AlterConfigs: validates every change of a topic first (unknown key, bad value → INVALID_CONFIG,
    /// nothing changed), then persists the new overrides and applies them to the topic's logs.
    func alterConfigs(_ request: AlterConfigsRequest) -> AlterConfigsResponse {
        AlterConfigsResponse(
            resources: request.resources.map { resource in
                guard resource.type == .topic else {
                    return .init(
                        errorCode: .invalidRequest, errorMessage: "only topic configs can be altered; broker configs are static",
                        type: resource.type, name: resource.name)
                }
                do {
                    return try adminLock.withLock { _ in
                        guard let topic = topics.topic(resource.name) else {
                            return .init(
                                errorCode: .unknownTopicOrPartition, errorMessage: "topic '\(resource.name)' does not exist",
                                type: .topic, name: resource.name)
                        }
                        var configs = topic.configs
                        for entry in resource.entries {
                            if let value = entry.value { configs[entry.name] = value.trimmingWhitespace() } else {
                                guard TopicConfigKeys.key(entry.name) != nil else {
                                    return .init(
                                        errorCode: .invalidConfig, errorMessage: "unknown topic config '\(entry.name)'",
                                        type: .topic, name: resource.name)
                                }
                                configs[entry.name] = nil
                            }
                        }
                        if let reason = TopicInfo.validateConfigs(configs) {
                            return .init(errorCode: .invalidConfig, errorMessage: reason, type: .topic, name: resource.name)
                        }
                        if request.validateOnly { return .init(type: .topic, name: resource.name) }
                        _ = try topics.updateConfigs(resource.name, configs)
                        let logConfig = resolver.logConfig(configs)
                        for partition in 0..<topic.partitionCount {
                            logManager.updateConfig(TopicPartition(resource.name, partition), config: logConfig)
                        }
                        logger.info(
                            "altered topic configs",
                            metadata: ["tern_topic": "\(resource.name)", "configs": "\(configs.sorted { $0.key < $1.key })"])
                        return .init(type: .topic, name: resource.name)
                    }
                } catch {
                    return .init(
                        errorCode: .kafkaStorageError, errorMessage: "\(error)", type: .topic, name: resource.name)
                }
            })
    }
}
