/// A broker joined the cluster (or rejoined as a new process): `RegisterBrokerRecord` in KRaft.
///
/// A newer registration of the same node id replaces the older one; the new `brokerEpoch` is what
/// the broker sends with every heartbeat from then on, so messages from the old process are
/// recognisably stale.
public struct BrokerRegistrationRecord: Hashable, Sendable {
    /// An address the broker listens on, by listener name (`PLAINTEXT`, `CONTROLLER`, …).
    public struct Listener: Hashable, Sendable {
        public var name: String
        public var host: String
        public var port: UInt16

        public init(name: String, host: String, port: UInt16) {
            self.name = name
            self.host = host
            self.port = port
        }
    }

    /// What the node does (`process.roles`), as a bit set.
    public struct Roles: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let broker = Roles(rawValue: 1)
        public static let controller = Roles(rawValue: 2)
        /// Every bit this version knows; others are refused on decode.
        public static let known: Roles = [.broker, .controller]
    }

    public var nodeId: Int32
    /// Random per process start: tells a restarted broker from a retried registration.
    public var incarnationId: MetadataUUID
    public var brokerEpoch: Int64
    public var listeners: [Listener]
    public var roles: Roles
    /// Whether the broker starts fenced (a new registration does until it has caught up).
    public var fenced: Bool

    public init(
        nodeId: Int32, incarnationId: MetadataUUID, brokerEpoch: Int64, listeners: [Listener], roles: Roles,
        fenced: Bool
    ) {
        self.nodeId = nodeId
        self.incarnationId = incarnationId
        self.brokerEpoch = brokerEpoch
        self.listeners = listeners
        self.roles = roles
        self.fenced = fenced
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(nodeId)
        writer.write(incarnationId)
        writer.write(brokerEpoch)
        writer.writeArray(listeners) {
            $0.writeString($1.name)
            $0.writeString($1.host)
            $0.write($1.port)
        }
        writer.write(roles.rawValue)
        writer.write(fenced)
    }

    static func decode(from reader: inout ByteReader) throws -> BrokerRegistrationRecord {
        let nodeId = try reader.readInt32("broker registration node id")
        let incarnation = try reader.readUUID("broker registration incarnation id")
        let epoch = try reader.readInt64("broker registration epoch")
        let listeners = try reader.readArray("broker registration listeners", minElementSize: 6) {
            Listener(
                name: try $0.readString("listener name"), host: try $0.readString("listener host"),
                port: try $0.readUInt16("listener port"))
        }
        let rawRoles = try reader.readUInt8("broker registration roles")
        let roles = Roles(rawValue: rawRoles)
        guard Roles.known.isSuperset(of: roles) else {
            throw WireError(.malformed, "broker registration of node \(nodeId): unknown role bits \(rawRoles)")
        }
        let fenced = try reader.readBool("broker registration fenced")
        return BrokerRegistrationRecord(
            nodeId: nodeId, incarnationId: incarnation, brokerEpoch: epoch, listeners: listeners, roles: roles,
            fenced: fenced)
    }
}

/// A broker was fenced (`fenced == true`: it may lead nothing and is out of every ISR it could
/// leave) or unfenced. Carries the broker epoch so a change meant for an older process of the same
/// node is refused.
public struct BrokerFencingRecord: Hashable, Sendable {
    public var nodeId: Int32
    public var brokerEpoch: Int64
    public var fenced: Bool

    public init(nodeId: Int32, brokerEpoch: Int64, fenced: Bool) {
        self.nodeId = nodeId
        self.brokerEpoch = brokerEpoch
        self.fenced = fenced
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(nodeId)
        writer.write(brokerEpoch)
    }

    static func decode(from reader: inout ByteReader, fenced: Bool) throws -> BrokerFencingRecord {
        BrokerFencingRecord(
            nodeId: try reader.readInt32("broker fencing node id"),
            brokerEpoch: try reader.readInt64("broker fencing epoch"), fenced: fenced)
    }
}
