import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// CreateTopics: checked here for what only this broker can know (its descriptor budget),
    /// then forwarded to the active controller, which decides and commits each topic to the
    /// metadata log; answered once this broker has made the logs it replicates
    /// (``forward(_:_:timeoutMs:)``). `validateOnly` is decided by the controller too, so it
    /// checks against the cluster's metadata.
    func handleCreateTopics(_ request: CreateTopicsRequest, _ context: RequestContext) {
        var local: [String: TopicResult] = [:]
        for topic in request.topics {
            let partitions = topic.numPartitions == -1 ? config.numPartitions : topic.numPartitions
            guard partitions > 0, let refused = checkDescriptorBudget(name: topic.name, partitions: partitions) else {
                continue
            }
            local[topic.name] = TopicResult(name: topic.name, errorCode: refused.code, errorMessage: refused.message)
        }
        // Topics this broker refuses never reach the controller; the others go on.
        var rest = request
        rest.topics = request.topics.filter { local[$0.name] == nil }
        guard !rest.topics.isEmpty else {
            return context.respond(CreateTopicsResponse(topics: request.topics.compactMap { local[$0.name] }))
        }
        let refused = local
        forward(rest, clientId: context.header.clientId, principal: context.principal, timeoutMs: request.timeoutMs) {
            [self] response in
            var results = refused
            for result in response.topics { results[result.name] = result }
            // A topic committed but whose logs this broker could not make (a disk error) is
            // undone, so the creation is all or nothing as it always was on a single node.
            var undo: [String] = []
            for result in response.topics where result.errorCode == .none && !request.validateOnly {
                guard let reason = reconcileFailure(result.name) else { continue }
                undo.append(result.name)
                results[result.name] = TopicResult(
                    name: result.name, errorCode: .kafkaStorageError,
                    errorMessage:
                        "topic '\(result.name)' was not created: broker \(config.nodeId) cannot make its logs: \(reason)"
                )
            }
            let answer = CreateTopicsResponse(topics: request.topics.compactMap { results[$0.name] })
            guard !undo.isEmpty else { return context.respond(answer) }
            forward(
                DeleteTopicsRequest(names: undo, timeoutMs: request.timeoutMs), clientId: context.header.clientId,
                principal: context.principal, timeoutMs: request.timeoutMs
            ) { _ in context.respond(answer) }
        }
    }

    /// DeleteTopics: forwarded to the active controller; answered once this broker has removed
    /// its logs of the deleted topics.
    func handleDeleteTopics(_ request: DeleteTopicsRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: request.timeoutMs)
    }

    /// DescribeConfigs: a topic's effective values from the metadata image's overrides and this
    /// broker's defaults, or the broker's own (static) configuration.
    func handleDescribeConfigs(_ request: DescribeConfigsRequest) -> DescribeConfigsResponse {
        let image = cluster.image
        return DescribeConfigsResponse(
            resources: request.resources.map { resource in
                let wanted = Set(resource.keys)
                func include(_ name: String) -> Bool { wanted.isEmpty || wanted.contains(name) }
                switch resource.type {
                case .topic:
                    guard let topic = image.topic(named: resource.name) else {
                        return .init(
                            errorCode: .unknownTopicOrPartition,
                            errorMessage: "topic '\(resource.name)' does not exist",
                            type: .topic, name: resource.name, entries: [])
                    }
                    let entries = resolver.effective(topic.configs).filter { include($0.name) }.map {
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
