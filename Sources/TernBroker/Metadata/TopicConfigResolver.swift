import TernStorage

/// Turns a topic's overrides plus the broker's defaults into effective values and a `LogConfig`.
struct TopicConfigResolver: Sendable {
    let broker: BrokerConfig

    /// The effective value of a topic key and where it came from.
    func value(_ key: TopicConfigKeys.Key, overrides: [String: String]) -> (String, DescribeConfigSource) {
        let name = key.definition.name
        if let value = overrides[name] { return (value, .topic) }
        if let brokerKey = key.brokerDefault, let value = broker[brokerKey] {
            return (value, broker.sources[brokerKey] == .defaultValue ? .defaultValue : .broker)
        }
        return (key.definition.defaultValue, .defaultValue)
    }

    /// Every topic key's effective value.
    func effective(_ overrides: [String: String]) -> [(name: String, value: String, source: DescribeConfigSource)] {
        TopicConfigKeys.all.map { key in
            let (value, source) = value(key, overrides: overrides)
            return (key.definition.name, value, source)
        }
    }

    /// The storage settings of a topic's partitions.
    func logConfig(_ overrides: [String: String]) -> LogConfig {
        func int(_ name: String) -> Int64 {
            guard let key = TopicConfigKeys.key(name) else { return 0 }
            return Int64(value(key, overrides: overrides).0) ?? Int64(key.definition.defaultValue) ?? 0
        }
        var config = LogConfig()
        config.segmentBytes = Int(int("segment.bytes"))
        config.segmentMs = int("segment.ms")
        config.indexIntervalBytes = Int(int("index.interval.bytes"))
        config.maxMessageBytes = Int(int("max.message.bytes"))
        if let key = TopicConfigKeys.key("key.index.enable") {
            config.keyIndexEnabled = value(key, overrides: overrides).0 == "true"
        }
        return config
    }
}

/// Where an effective config value came from (mirrors the wire's DescribeConfigs source).
enum DescribeConfigSource: Sendable { case topic, broker, defaultValue }

extension TopicConfigResolver {
    /// The effective value of a topic key.
    func value(_ name: String, _ overrides: [String: String]) -> String? {
        TopicConfigKeys.key(name).map { value($0, overrides: overrides).0 }
    }

    /// True when the topic's cleanup.policy includes compact.
    func isCompacted(_ overrides: [String: String]) -> Bool {
        (value("cleanup.policy", overrides) ?? "delete").split(separator: ",").contains { part in
            String(part).trimmingWhitespace() == "compact"
        }
    }

    /// The cleaner's settings for a topic, or nil when it is not compacted.
    func compactionPolicy(_ overrides: [String: String]) -> CompactionPolicy? {
        guard isCompacted(overrides) else { return nil }
        return CompactionPolicy(
            minCleanableRatio: Double(value("min.cleanable.dirty.ratio", overrides) ?? "") ?? 0.5,
            deleteRetentionMs: Int64(value("delete.retention.ms", overrides) ?? "") ?? 86_400_000)
    }
}
