import FoundationEssentials
import Synchronization
import TernStorage

/// A set of topics, kept in memory and persisted to a JSON file in the first log directory with
/// write-new, fsync, rename, fsync-directory, so a crash leaves the old or the new file.
///
/// The metadata image (`__cluster_metadata`, DESIGN.md section 6) is the source of truth for
/// topics. This store is the broker's record of what it has *materialized* from it
/// (`__tern_local_topics.json`: the topics whose partition logs exist on this broker, with their
/// configs, so logs open with the right settings before the image is caught up after a
/// restart). The single-node broker of earlier versions kept the truth itself in
/// `__tern_topics.json`, which is read once to import it (see `Broker+TopicImport.swift`).
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

    /// The file single-node brokers of earlier versions kept their topics in.
    public static let legacyFileName = "__tern_topics.json"
    /// The file of the topics this broker has materialized from the metadata image.
    public static let localFileName = "__tern_local_topics.json"

    /// The file's path.
    public var filePath: String { path }

    /// Loads the store from `directory/fileName`, or starts empty when the file does not exist.
    public init(directory: String, fileName: String = TopicStore.legacyFileName) throws {
        path = directory + "/" + fileName
        var loaded: [String: TopicInfo] = [:]
        for topic in try Self.read(path) ?? [] { loaded[topic.name] = topic }
        topics = Mutex(loaded)
    }

    /// The topics of the store file at `path`, or nil when it does not exist.
    /// - Throws: `StorageError` when the file cannot be read or parsed.
    public static func read(_ path: String) throws -> [TopicInfo]? {
        guard let bytes = try AtomicFile.readIfExists(path) else { return nil }
        do {
            return try JSONDecoder().decode(FileFormat.self, from: Data(bytes)).topics
        } catch {
            throw StorageError(.corruptLog, "cannot parse topic metadata \(path): \(error)")
        }
    }

    /// Replaces every topic with `all` and persists the store (the first materialization of a
    /// legacy store's topics).
    public func replaceAll(_ all: [TopicInfo]) throws {
        _ = try mutate { topics in
            topics = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
            return true
        }
    }

    /// Adds or replaces one topic and persists the store.
    public func put(_ topic: TopicInfo) throws {
        _ = try mutate { topics in
            topics[topic.name] = topic
            return true
        }
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
