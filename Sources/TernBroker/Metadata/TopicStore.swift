import FoundationEssentials
import Synchronization
import TernStorage

/// The set of topics, kept in memory and persisted to `<first log dir>/__tern_topics.json` with
/// write-new, fsync, rename, fsync-directory, so a crash leaves the old or the new file.
///
/// Single-node stand-in for the replicated `__cluster_metadata` log of DESIGN.md section 6.
///
/// Every produce and fetch looks topics up, so the lock they take (`topics`) is held only to
/// read or swap the dictionary, never across the file write; writers serialize on `writer`.
public final class TopicStore: Sendable {
    private let path: String
    private let topics: Mutex<[String: TopicInfo]>
    /// Held by a change from reading the current topics to publishing the new ones, across the
    /// write and fsync of the file. Lock order: `writer`, then `topics`.
    private let writer = Mutex(())

    private struct FileFormat: Codable {
        var version: Int
        var topics: [TopicInfo]
    }

    /// Loads the store from `directory`, or starts empty when the file does not exist.
    public init(directory: String) throws {
        path = directory + "/__tern_topics.json"
        var loaded: [String: TopicInfo] = [:]
        if let bytes = try AtomicFile.readIfExists(path) {
            let file: FileFormat
            do {
                file = try JSONDecoder().decode(FileFormat.self, from: Data(bytes))
            } catch {
                throw StorageError(.corruptLog, "cannot parse topic metadata \(path): \(error)")
            }
            for topic in file.topics { loaded[topic.name] = topic }
        }
        topics = Mutex(loaded)
    }

    /// Every topic, sorted by name.
    public var all: [TopicInfo] { topics.withLock { $0.values.sorted { $0.name < $1.name } } }

    /// The topic named `name`.
    public func topic(_ name: String) -> TopicInfo? { topics.withLock { $0[name] } }

    /// Adds a topic and persists the store; returns false when it already exists.
    public func create(_ topic: TopicInfo) throws -> Bool {
        try mutate { topics in
            guard topics[topic.name] == nil else { return false }
            topics[topic.name] = topic
            return true
        }
    }

    /// Replaces a topic's config overrides and persists the store; returns the updated topic, or
    /// nil when it does not exist.
    public func updateConfigs(_ name: String, _ configs: [String: String]) throws -> TopicInfo? {
        var updated: TopicInfo?
        _ = try mutate { topics in
            guard var topic = topics[name] else { return false }
            topic.configs = configs
            topics[name] = topic
            updated = topic
            return true
        }
        return updated
    }

    /// Removes a topic and persists the store; returns false when it did not exist.
    public func delete(_ name: String) throws -> Bool {
        try mutate { topics in topics.removeValue(forKey: name) != nil }
    }

    private func mutate(_ body: (inout [String: TopicInfo]) -> Bool) throws -> Bool {
        try writer.withLock { _ in
            var copy = topics.withLock { $0 }
            guard body(&copy) else { return false }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(FileFormat(version: 1, topics: copy.values.sorted { $0.name < $1.name }))
            try AtomicFile.write(path, bytes: [UInt8](data))
            topics.withLock { $0 = copy }
            return true
        }
    }
}
