import TernStorage

/// The `meta.properties` of every log directory (``MetaProperties``), checked against this
/// node's `node.id` and, once the metadata quorum knows it, the cluster id.
///
/// A directory that belongs to another node or another cluster must never be opened as this
/// node's: recovery would truncate and rewrite logs that are another replica's history. So
/// ``load(logDirs:nodeId:)`` runs before any log is opened and only reads; ``writeMissing()``
/// claims the directories that have no file yet (a new node, or a data directory written before
/// Tern had clusters) once they exist; ``adopt(clusterId:)`` checks and records the cluster id.
public struct LogDirIdentity: Sendable {
    /// One log directory and what its `meta.properties` says (nil: no file yet).
    public struct Directory: Sendable, Hashable {
        public var path: String
        public var file: String
        public var properties: MetaProperties?
    }

    /// The configured `node.id`.
    public let nodeId: Int32
    /// Every log directory, in `log.dirs` order.
    public private(set) var directories: [Directory]

    /// The cluster id the directories record, if any does (they all agree: ``load(logDirs:nodeId:)`` checked).
    public var clusterId: String? { directories.lazy.compactMap { $0.properties?.clusterId }.first }

    /// Reads and checks every directory's `meta.properties`. A missing directory or file is fine.
    /// - Throws: ``MetaPropertiesError``: `.mismatch` when a file names another node id, or two
    ///   directories name different cluster ids; `.corrupt` or `.io` when a file cannot be used.
    public static func load(logDirs: [String], nodeId: Int32) throws(MetaPropertiesError) -> LogDirIdentity {
        var directories: [Directory] = []
        var firstCluster: (id: String, file: String)?
        for path in logDirs {
            let file = path + "/" + MetaProperties.fileName
            let properties = try read(file)
            if let properties {
                guard properties.nodeId == nodeId else {
                    throw MetaPropertiesError(
                        .mismatch, path: file,
                        "this log directory belongs to node \(properties.nodeId), but node.id is \(nodeId) "
                            + "(start node \(properties.nodeId) on it, or give this node its own log.dirs)")
                }
                if let id = properties.clusterId {
                    if let first = firstCluster, first.id != id {
                        throw MetaPropertiesError(
                            .mismatch, path: file,
                            "this log directory belongs to cluster \(id), but \(first.file) belongs to cluster \(first.id)"
                        )
                    }
                    firstCluster = firstCluster ?? (id, file)
                }
            }
            directories.append(Directory(path: path, file: file, properties: properties))
        }
        return LogDirIdentity(nodeId: nodeId, directories: directories)
    }

    /// Writes `meta.properties` (this node id, and the cluster id if one is known) into every
    /// directory that has none. The directories must exist (the log manager creates them).
    /// - Throws: ``MetaPropertiesError`` `.io` naming the file.
    public mutating func writeMissing() throws(MetaPropertiesError) {
        let known = clusterId
        for index in directories.indices where directories[index].properties == nil {
            let properties = MetaProperties(nodeId: nodeId, clusterId: known)
            try Self.write(properties, to: directories[index].file)
            directories[index].properties = properties
        }
    }

    /// Checks the quorum's cluster id against every directory and records it where none is
    /// recorded yet (writing the files of directories that have none).
    /// - Throws: ``MetaPropertiesError`` `.mismatch` naming the first file that records another
    ///   cluster (nothing is written then), `.corrupt` for an id that is not a valid cluster id,
    ///   `.io` when a file cannot be written.
    public mutating func adopt(clusterId: String) throws(MetaPropertiesError) {
        guard MetaProperties.isValidClusterId(clusterId) else {
            throw MetaPropertiesError(
                .corrupt, path: directories.first?.file ?? MetaProperties.fileName,
                "cluster id '\(clusterId)' from the metadata log is not a valid cluster id")
        }
        for directory in directories {
            if let recorded = directory.properties?.clusterId, recorded != clusterId {
                throw MetaPropertiesError(
                    .mismatch, path: directory.file,
                    "this log directory belongs to cluster \(recorded), but the metadata quorum's cluster is \(clusterId)"
                )
            }
        }
        for index in directories.indices where directories[index].properties?.clusterId == nil {
            var properties = directories[index].properties ?? MetaProperties(nodeId: nodeId)
            properties.clusterId = clusterId
            try Self.write(properties, to: directories[index].file)
            directories[index].properties = properties
        }
    }

    /// The parsed file, or nil when it does not exist.
    static func read(_ file: String) throws(MetaPropertiesError) -> MetaProperties? {
        let bytes: [UInt8]?
        do {
            bytes = try AtomicFile.readIfExists(file, limit: 64 << 10)
        } catch {
            throw MetaPropertiesError(.io, path: file, "cannot read: \(error)")
        }
        guard let bytes else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MetaPropertiesError(.corrupt, path: file, "not valid UTF-8")
        }
        return try MetaProperties(parsing: text, path: file)
    }

    /// Replaces the file crash-safely (write `.tmp`, fsync, rename, fsync the directory).
    static func write(_ properties: MetaProperties, to file: String) throws(MetaPropertiesError) {
        do {
            try AtomicFile.write(file, bytes: Array(properties.rendered().utf8))
        } catch {
            throw MetaPropertiesError(.io, path: file, "cannot write: \(error)")
        }
    }
}
