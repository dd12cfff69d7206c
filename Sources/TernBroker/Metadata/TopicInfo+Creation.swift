import TernWire

/// Who asks for a new topic. Clients (CreateTopics, auto-creation on Metadata) may not use the
/// reserved `__` prefix; the broker uses it for its own internal topics only.
enum TopicCreator: Sendable {
    case client
    case broker
}

/// Why a topic cannot be created or deleted, with the error code its answer carries.
struct TopicAdminError: Error, CustomStringConvertible, Sendable {
    var code: ErrorCode
    var message: String

    init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}

extension TopicInfo {
    /// Most partitions one topic may have.
    static let maxPartitionsPerTopic: Int32 = 100_000

    /// Topics the broker creates for itself; the only names with the reserved `__` prefix.
    static let internalTopicNames: Set<String> = [GroupCoordinator.topicName]

    /// The one check of a new topic's name and partition count, shared by every creation path
    /// (CreateTopics, auto-creation on Metadata, the broker's internal topics): the name's
    /// characters and length, the reserved `__` prefix, and 1...``maxPartitionsPerTopic``
    /// partitions. Returns why the topic cannot be created, or nil.
    static func validateNew(name: String, partitions: Int32, by creator: TopicCreator) -> TopicAdminError? {
        if let reason = validateName(name) { return TopicAdminError(.invalidTopic, reason) }
        if name.hasPrefix("__") {
            switch creator {
            case .client:
                return TopicAdminError(.invalidTopic, "names starting with '__' are reserved for internal topics")
            case .broker:
                guard internalTopicNames.contains(name) else {
                    return TopicAdminError(.invalidTopic, "'\(name)' is not an internal topic of this broker")
                }
            }
        }
        guard partitions >= 1 && partitions <= maxPartitionsPerTopic else {
            return TopicAdminError(
                .invalidPartitions, "partition count must be 1...\(maxPartitionsPerTopic), got \(partitions)")
        }
        return nil
    }
}
