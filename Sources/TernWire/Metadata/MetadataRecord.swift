/// One entry of the `__cluster_metadata` log (DESIGN.md section 6).
///
/// Encoding: `u16 type`, `u16 version`, then the record's fields (big-endian integers, `str16`
/// strings, u32-counted arrays). Every type is at version 0 but the partition and partition-change
/// records, which have a version 1 carrying a reassignment's replica sets (written only when a
/// reassignment is involved, so other logs keep version-0 bytes); a decoder refuses a type or
/// version it does not know with `.unsupportedVersion` rather than guessing, because applying a
/// half-understood metadata record would silently diverge this broker from the others. The
/// record must fill the bytes exactly: trailing bytes are `.malformed`.
public enum MetadataRecord: Hashable, Sendable {
    case clusterId(String)
    case registerBroker(BrokerRegistrationRecord)
    case brokerFencing(BrokerFencingRecord)
    case topic(TopicRecord)
    case partition(PartitionRecord)
    case partitionChange(PartitionChangeRecord)
    case config(ConfigRecord)
    case removeTopic(RemoveTopicRecord)
    case userScramCredential(UserScramCredentialRecord)
    case removeUserScramCredential(RemoveUserScramCredentialRecord)
    /// An ACL binding was added (DESIGN.md section 9).
    case addAcl(AclBinding)
    /// An ACL binding was removed.
    case removeAcl(AclBinding)
    /// A block of producer ids was allocated; the next free id (the idempotent producer).
    case producerIds(ProducerIdsRecord)

    /// Record type numbers in the log. Never reuse one.
    public enum TypeCode: UInt16, Sendable, CaseIterable {
        case clusterId = 1
        case registerBroker = 2
        case fenceBroker = 3
        case unfenceBroker = 4
        case topic = 5
        case partition = 6
        case partitionChange = 7
        case config = 8
        case removeTopic = 9
        case userScramCredential = 10
        case removeUserScramCredential = 11
        case producerIds = 12
        // 13-39 are free; ACLs take numbers from 40 up.
        case addAcl = 40
        case removeAcl = 41
    }

    /// The type number this record is written with.
    public var typeCode: TypeCode {
        switch self {
        case .clusterId: .clusterId
        case .registerBroker: .registerBroker
        case .brokerFencing(let record): record.fenced ? .fenceBroker : .unfenceBroker
        case .topic: .topic
        case .partition: .partition
        case .partitionChange: .partitionChange
        case .config: .config
        case .removeTopic: .removeTopic
        case .userScramCredential: .userScramCredential
        case .removeUserScramCredential: .removeUserScramCredential
        case .addAcl: .addAcl
        case .removeAcl: .removeAcl
        case .producerIds: .producerIds
        }
    }

    /// The newest version of every type but the partition records, which this build writes and reads.
    public static let currentVersion: UInt16 = 0

    /// The newest version of `type` this build reads (it reads every version up to it).
    public static func maxVersion(_ type: TypeCode) -> UInt16 {
        switch type {
        case .partition, .partitionChange: 1
        default: currentVersion
        }
    }

    /// The version this record is written at: the oldest that holds all of it.
    public var version: UInt16 {
        switch self {
        case .partition(let record): record.version
        case .partitionChange(let record): record.version
        default: Self.currentVersion
        }
    }

    /// Encodes the record, header included.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(typeCode.rawValue)
        writer.write(version)
        switch self {
        case .clusterId(let id): writer.writeString(id)
        case .registerBroker(let record): record.encode(into: &writer)
        case .brokerFencing(let record): record.encode(into: &writer)
        case .topic(let record): record.encode(into: &writer)
        case .partition(let record): record.encode(into: &writer)
        case .partitionChange(let record): record.encode(into: &writer)
        case .config(let record): record.encode(into: &writer)
        case .removeTopic(let record): record.encode(into: &writer)
        case .userScramCredential(let record): record.encode(into: &writer)
        case .removeUserScramCredential(let record): record.encode(into: &writer)
        case .addAcl(let binding), .removeAcl(let binding): binding.encode(into: &writer)
        case .producerIds(let record): record.encode(into: &writer)
        }
        return writer.take()
    }

    /// Decodes one record that fills `bytes` exactly.
    /// - Throws: ``WireError`` — `.truncated` when a field runs past the end, `.malformed` on bad
    ///   values or trailing bytes, `.unsupportedVersion` on an unknown type or version.
    public static func decode(_ bytes: [UInt8]) throws -> MetadataRecord {
        var reader = ByteReader(bytes)
        let record = try decode(from: &reader)
        guard reader.isAtEnd else {
            throw WireError(.malformed, "metadata record \(record.typeCode): \(reader.remaining) trailing bytes")
        }
        return record
    }

    /// Decodes one record from `reader`, leaving it just past the record.
    public static func decode(from reader: inout ByteReader) throws -> MetadataRecord {
        let rawType = try reader.readUInt16("metadata record type")
        let version = try reader.readUInt16("metadata record version")
        guard let type = TypeCode(rawValue: rawType) else {
            throw WireError(.unsupportedVersion, "unknown metadata record type \(rawType)")
        }
        guard version <= maxVersion(type) else {
            throw WireError(
                .unsupportedVersion,
                "metadata record \(type) version \(version); this build reads versions up to \(maxVersion(type))")
        }
        switch type {
        case .clusterId: return .clusterId(try reader.readString("cluster id"))
        case .registerBroker: return .registerBroker(try .decode(from: &reader))
        case .fenceBroker: return .brokerFencing(try .decode(from: &reader, fenced: true))
        case .unfenceBroker: return .brokerFencing(try .decode(from: &reader, fenced: false))
        case .topic: return .topic(try .decode(from: &reader))
        case .partition: return .partition(try .decode(from: &reader, version: version))
        case .partitionChange: return .partitionChange(try .decode(from: &reader, version: version))
        case .config: return .config(try .decode(from: &reader))
        case .removeTopic: return .removeTopic(try .decode(from: &reader))
        case .userScramCredential: return .userScramCredential(try .decode(from: &reader))
        case .removeUserScramCredential: return .removeUserScramCredential(try .decode(from: &reader))
        case .addAcl: return .addAcl(try .decode(from: &reader))
        case .removeAcl: return .removeAcl(try .decode(from: &reader))
        case .producerIds: return .producerIds(try .decode(from: &reader))
        }
    }
}
