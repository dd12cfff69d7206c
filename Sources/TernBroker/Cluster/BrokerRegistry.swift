import TernWire

/// The active controller's table of registered brokers: registration (node id, listeners,
/// incarnation id, broker epoch) comes from the ``MetadataImage``; what only the controller
/// knows — each broker's last heartbeat and the metadata offset it reported — lives here (Kafka's
/// `BrokerHeartbeatManager`).
///
/// Pure: every input carries the image, the time (`nowMs`) and, where it matters, log offsets;
/// outputs are the metadata records to propose (registration, fence, unfence, the leadership moves
/// they imply) and the answer for the broker. Nothing here is durable: a new active controller
/// starts with ``becameActive(_:nowMs:)``, giving every registered broker a full session so a
/// failover does not fence the cluster.
///
/// `image` is the active controller's image *including the records it has proposed and not yet
/// seen committed* (a KRaft controller applies its own proposals as it makes them): the caller
/// proposes the records each call returns and applies them to that image before the next call.
public struct BrokerRegistry: Hashable, Sendable {
    /// What the controller last heard from one broker.
    public struct Session: Hashable, Sendable {
        /// When the last accepted heartbeat (or registration) arrived.
        public var lastHeartbeatMs: Int64
        /// Offset of the last metadata record the broker reported applied; −1 for none yet.
        public var metadataOffset: Int64
    }

    /// A registered broker as the controller sees it.
    public struct Entry: Hashable, Sendable {
        public var broker: MetadataImage.Broker
        /// Nil for a broker not heard from since this controller became active (or registered).
        public var session: Session?
    }

    /// The answer to a heartbeat.
    public struct HeartbeatReply: Hashable, Sendable {
        /// The reported metadata offset is at or past the committed offset.
        public var isCaughtUp: Bool
        /// Whether the broker is fenced once `records` are applied.
        public var isFenced: Bool
        /// A controlled shutdown may complete: nothing more needs to move off the broker, and it is
        /// fenced once `records` are applied.
        public var shouldShutDown: Bool
        /// To propose, in order.
        public var records: [MetadataRecord]
    }

    /// `broker.session.timeout.ms`.
    public let sessionTimeoutMs: Int64
    /// By node id.
    public private(set) var sessions: [Int32: Session] = [:]

    public init(sessionTimeoutMs: Int64) {
        precondition(sessionTimeoutMs > 0, "broker.session.timeout.ms is validated positive")
        self.sessionTimeoutMs = sessionTimeoutMs
    }

    /// Every registered broker with its session, by node id.
    public func entries(_ image: MetadataImage) -> [Entry] {
        image.sortedBrokers.map { Entry(broker: $0, session: sessions[$0.nodeId]) }
    }

    /// This node just became the active controller: every registered broker's session starts now
    /// (as Kafka does), and sessions of brokers the image no longer has are dropped.
    public mutating func becameActive(_ image: MetadataImage, nowMs: Int64) {
        sessions = Dictionary(
            uniqueKeysWithValues: image.sortedBrokers.map {
                ($0.nodeId, Session(lastHeartbeatMs: nowMs, metadataOffset: sessions[$0.nodeId]?.metadataOffset ?? -1))
            })
    }

    /// A BrokerRegistration.
    ///
    /// A new node or a new incarnation gets broker epoch `nextOffset` — the metadata-log offset
    /// its registration record gets, the first of the returned records — and starts fenced; a
    /// retried registration (same incarnation) gets its current epoch and no records. Either way
    /// its session starts now.
    /// - Parameters:
    ///   - clusterId: the cluster id the broker's log directories record ("" for none); refused
    ///     with `INCONSISTENT_CLUSTER_ID` when it differs from the image's.
    ///   - nextOffset: the offset the next proposed record will get (the leader's log end offset).
    /// - Throws: ``ControllerError``: `INCONSISTENT_CLUSTER_ID`, `INVALID_REQUEST` (negative node id).
    public mutating func register(
        _ image: MetadataImage, nodeId: Int32, clusterId: String, incarnationId: MetadataUUID,
        listeners: [BrokerRegistrationRecord.Listener], roles: BrokerRegistrationRecord.Roles, nextOffset: Int64,
        nowMs: Int64
    ) throws(ControllerError) -> ControllerDecisions.Registration {
        if !clusterId.isEmpty, let known = image.clusterId, known != clusterId {
            throw ControllerError(
                .inconsistentClusterId, "broker \(nodeId) belongs to cluster \(clusterId); this is cluster \(known)")
        }
        let registration = try ControllerDecisions.registerBroker(
            image, nodeId: nodeId, incarnationId: incarnationId, listeners: listeners, roles: roles,
            brokerEpoch: nextOffset)
        let retried = registration.records.isEmpty
        sessions[nodeId] = Session(
            lastHeartbeatMs: nowMs, metadataOffset: retried ? sessions[nodeId]?.metadataOffset ?? -1 : -1)
        return registration
    }

    /// A BrokerHeartbeat.
    ///
    /// Refused (and nothing changes, the session included) for an unregistered node or a broker
    /// epoch other than the current registration's. Otherwise the session is renewed and:
    /// `wantFence` fences an unfenced broker; `wantShutDown` moves leadership off it (a controlled
    /// shutdown: complete once nothing is left to move, when the broker is fenced and told it
    /// should shut down); a fenced broker whose `metadataOffset` is at or past `committedOffset`
    /// is unfenced (unless it asks to shut down).
    /// - Parameters:
    ///   - metadataOffset: offset of the last metadata record the broker has applied (−1: none).
    ///   - committedOffset: offset of the last committed metadata record (−1: none).
    /// - Throws: ``ControllerError``: `BROKER_ID_NOT_REGISTERED`, `STALE_BROKER_EPOCH`,
    ///   `INVALID_REQUEST` (metadata offset below −1).
    public mutating func heartbeat(
        _ image: MetadataImage, nodeId: Int32, brokerEpoch: Int64, metadataOffset: Int64, wantFence: Bool = false,
        wantShutDown: Bool = false, committedOffset: Int64, nowMs: Int64
    ) throws(ControllerError) -> HeartbeatReply {
        let broker = try ControllerDecisions.registered(image, nodeId, brokerEpoch)
        guard metadataOffset >= -1 else {
            throw ControllerError(.invalidRequest, "broker \(nodeId): metadata offset \(metadataOffset) is below -1")
        }
        let caughtUp = metadataOffset >= committedOffset
        var records: [MetadataRecord] = []
        var shouldShutDown = false
        if wantFence {
            records = try ControllerDecisions.fenceBroker(image, nodeId: nodeId)
        } else if wantShutDown {
            records =
                broker.fenced
                ? [] : try ControllerDecisions.controlledShutdown(image, nodeId: nodeId, brokerEpoch: brokerEpoch)
            if records.isEmpty {
                // Nothing left to move: fence it, so that no election picks it again before it
                // registers anew (Kafka's SHUTDOWN_NOW). Partitions only it could lead go
                // leaderless now rather than when its session would have expired.
                records = try ControllerDecisions.fenceBroker(image, nodeId: nodeId)
                shouldShutDown = true
            }
        } else if broker.fenced && caughtUp {
            records = try ControllerDecisions.unfenceBroker(
                image, nodeId: nodeId, brokerEpoch: brokerEpoch, metadataOffset: metadataOffset,
                logEndOffset: committedOffset)
        }
        sessions[nodeId] = Session(lastHeartbeatMs: nowMs, metadataOffset: metadataOffset)
        var fenced = broker.fenced
        for case .brokerFencing(let change) in records where change.nodeId == nodeId { fenced = change.fenced }
        return HeartbeatReply(isCaughtUp: caughtUp, isFenced: fenced, shouldShutDown: shouldShutDown, records: records)
    }

    /// Fences every unfenced broker whose last heartbeat is more than `broker.session.timeout.ms`
    /// before `nowMs`, in node-id order (and moves leadership off it).
    public func expireSessions(_ image: MetadataImage, nowMs: Int64) throws(ControllerError) -> [MetadataRecord] {
        try ControllerDecisions.fenceExpiredBrokers(
            image, lastHeartbeatMs: sessions.mapValues(\.lastHeartbeatMs), nowMs: nowMs,
            sessionTimeoutMs: sessionTimeoutMs)
    }

    /// When the earliest session of an unfenced broker expires (for the driver's timer); nil when
    /// no unfenced broker has a session.
    public func nextExpiryMs(_ image: MetadataImage) -> Int64? {
        image.sortedBrokers.filter { !$0.fenced }.compactMap { sessions[$0.nodeId]?.lastHeartbeatMs }.min()
            .map { $0 + sessionTimeoutMs + 1 }
    }
}
